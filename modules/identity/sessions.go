package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Stage is how far a session has come through sign-in.
type Stage string

// The stages of a session. Only StageFull authorises anything; the console
// sends a session in another stage to the one page it may use.
const (
	// StageFull: signed in; the session may do what its role allows.
	StageFull Stage = "full"
	// StageTOTP: the password was right, the account has TOTP, and the code
	// (or a recovery code) has not been given yet: only VerifyTOTP and
	// Logout.
	StageTOTP Stage = "totp"
	// StageEnrol: the tenant requires two-factor sign-in and the account has
	// none yet: only BeginEnrol, ConfirmEnrol and Logout.
	StageEnrol Stage = "enrol"
)

// Session is a console session as Authenticate returns it. Its token is
// never stored or returned again; its CSRF secret stays inside (use
// CSRFToken and CheckCSRF).
type Session struct {
	ID            string
	StaffID       string
	Stage         Stage
	SourceIP      string
	UserAgent     string
	CreatedAt     time.Time
	LastSeenAt    time.Time // refreshed at most once a minute
	IdleExpiresAt time.Time // ends when idle until then
	ExpiresAt     time.Time // ends then whatever happens
	Current       bool      // ListSessions: the session asking

	csrfSecret []byte
}

// Errors of sessions.
var (
	// ErrSessionExpired: the token is unknown, or its session has ended
	// (logged out, idle or absolute timeout, account disabled, password
	// changed). The console sends the user to the login page.
	ErrSessionExpired = apperr.New(apperr.KindUnauthorized, "session_expired")
	// ErrSecondFactorRequired: the session waits for a TOTP or recovery
	// code (StageTOTP).
	ErrSecondFactorRequired = apperr.New(apperr.KindUnauthorized, "second_factor_required")
	// ErrEnrolmentRequired: the tenant requires two-factor sign-in and the
	// account must enrol first (StageEnrol).
	ErrEnrolmentRequired = apperr.New(apperr.KindForbidden, "two_factor_enrolment_required")
	// ErrCSRFInvalid is for the console to answer a form whose CSRF token
	// CheckCSRF refused.
	ErrCSRFInvalid = apperr.New(apperr.KindForbidden, "csrf_invalid")
)

// Session limits.
const (
	// PendingSessionTTL is how long a session may wait for its second
	// factor before the user must give the password again.
	PendingSessionTTL = 10 * time.Minute
	// touchEvery is how often a busy session's last-seen time is written:
	// at most once a minute, so a page full of requests costs one write.
	// The idle timeout is therefore exact to within this.
	touchEvery = time.Minute
	// maxUserAgent is how much of a User-Agent header a session keeps.
	maxUserAgent = 512
)

// Tenant settings of this module (in the tenant database's settings table).
const (
	SettingSessionIdleMinutes   = "identity.session_idle_minutes"
	SettingSessionAbsoluteHours = "identity.session_absolute_hours"
	SettingRequireTwoFactor     = "identity.require_2fa"
)

// SecuritySettings are a tenant's sign-in rules.
type SecuritySettings struct {
	SessionIdle      time.Duration
	SessionAbsolute  time.Duration
	RequireTwoFactor bool // every staff member must sign in with TOTP
}

// SecuritySettingsUpdate changes a tenant's sign-in rules; nil fields stay.
type SecuritySettingsUpdate struct {
	SessionIdleMinutes   *int  `json:"session_idle_minutes"`
	SessionAbsoluteHours *int  `json:"session_absolute_hours"`
	RequireTwoFactor     *bool `json:"require_2fa"`
}

// Bounds of the tenant-configurable timeouts.
const (
	MinSessionIdleMinutes   = 5
	MaxSessionIdleMinutes   = 24 * 60
	MinSessionAbsoluteHours = 1
	MaxSessionAbsoluteHours = 7 * 24
)

// GetSecuritySettings returns the tenant's sign-in rules: its own settings
// where set, the service's defaults elsewhere.
func (s *Service) GetSecuritySettings(ctx context.Context, db bun.IDB) (SecuritySettings, error) {
	out := SecuritySettings{SessionIdle: s.idle, SessionAbsolute: s.absolute}
	if v, ok, err := tenants.GetSetting(ctx, db, SettingSessionIdleMinutes); err != nil {
		return out, dbErr(err)
	} else if n, err := strconv.Atoi(v); ok && err == nil && n >= MinSessionIdleMinutes && n <= MaxSessionIdleMinutes {
		out.SessionIdle = time.Duration(n) * time.Minute
	}
	if v, ok, err := tenants.GetSetting(ctx, db, SettingSessionAbsoluteHours); err != nil {
		return out, dbErr(err)
	} else if n, err := strconv.Atoi(v); ok && err == nil && n >= MinSessionAbsoluteHours && n <= MaxSessionAbsoluteHours {
		out.SessionAbsolute = time.Duration(n) * time.Hour
	}
	req, err := s.requireTwoFactor(ctx, db)
	out.RequireTwoFactor = req
	return out, err
}

func (s *Service) requireTwoFactor(ctx context.Context, db bun.IDB) (bool, error) {
	v, ok, err := tenants.GetSetting(ctx, db, SettingRequireTwoFactor)
	if err != nil {
		return false, dbErr(err)
	}
	return ok && v == "true", nil
}

// UpdateSecuritySettings changes the tenant's sign-in rules and records the
// change. New timeouts apply to sessions begun afterwards; requiring two
// factors applies at once (sessions of accounts without TOTP turn to
// StageEnrol at their next request).
func (s *Service) UpdateSecuritySettings(ctx context.Context, db bun.IDB, actor Principal, u SecuritySettingsUpdate) (SecuritySettings, error) {
	var vv apperr.Validator
	if u.SessionIdleMinutes != nil {
		n := *u.SessionIdleMinutes
		vv.Check(n >= MinSessionIdleMinutes && n <= MaxSessionIdleMinutes, "session_idle_minutes", "range",
			map[string]any{"Min": MinSessionIdleMinutes, "Max": MaxSessionIdleMinutes})
	}
	if u.SessionAbsoluteHours != nil {
		n := *u.SessionAbsoluteHours
		vv.Check(n >= MinSessionAbsoluteHours && n <= MaxSessionAbsoluteHours, "session_absolute_hours", "range",
			map[string]any{"Min": MinSessionAbsoluteHours, "Max": MaxSessionAbsoluteHours})
	}
	if err := vv.Err(); err != nil {
		return SecuritySettings{}, err
	}
	now := s.clock()
	var out SecuritySettings
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		old, err := s.GetSecuritySettings(ctx, tx)
		if err != nil {
			return err
		}
		next := old
		var ch auditlog.Changes
		if u.SessionIdleMinutes != nil {
			next.SessionIdle = time.Duration(*u.SessionIdleMinutes) * time.Minute
			ch.Add("session_idle_minutes", int(old.SessionIdle/time.Minute), *u.SessionIdleMinutes)
			if err := tenants.SetSetting(ctx, tx, SettingSessionIdleMinutes, strconv.Itoa(*u.SessionIdleMinutes), now); err != nil {
				return dbErr(err)
			}
		}
		if u.SessionAbsoluteHours != nil {
			next.SessionAbsolute = time.Duration(*u.SessionAbsoluteHours) * time.Hour
			ch.Add("session_absolute_hours", int(old.SessionAbsolute/time.Hour), *u.SessionAbsoluteHours)
			if err := tenants.SetSetting(ctx, tx, SettingSessionAbsoluteHours, strconv.Itoa(*u.SessionAbsoluteHours), now); err != nil {
				return dbErr(err)
			}
		}
		if u.RequireTwoFactor != nil {
			next.RequireTwoFactor = *u.RequireTwoFactor
			ch.Add("require_2fa", old.RequireTwoFactor, *u.RequireTwoFactor)
			if err := tenants.SetSetting(ctx, tx, SettingRequireTwoFactor, strconv.FormatBool(*u.RequireTwoFactor), now); err != nil {
				return dbErr(err)
			}
		}
		out = next
		if len(ch) == 0 {
			return nil
		}
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: actor.Actor(), Action: "identity.settings_update",
			ObjectType: "settings", ObjectID: "identity", Changes: ch})
	})
	return out, err
}

// Login checks an e-mail address and password and begins a session with a
// new token, which it returns (the console sets it as the session cookie,
// replacing any earlier one). tenantSlug names the tenant in log lines;
// sourceIP (the client's address, as the edge determined it) and userAgent
// are kept with the session and in the operation log.
//
// An unknown address, a wrong password, a disabled account and one without
// a password all get ErrLoginFailed after the same work (a password hash
// is computed either way). A locked account gets ErrAccountLocked, a
// source address with too many failures ErrLoginThrottled. needsTOTP says
// that the session waits for a second factor (StageTOTP, VerifyTOTP); it
// lasts PendingSessionTTL until then.
func (s *Service) Login(ctx context.Context, db bun.IDB, tenantSlug, email, password, sourceIP, userAgent string) (token string, st Staff, needsTOTP bool, err error) {
	email = normalizeEmail(email)
	userAgent = cutString(userAgent, maxUserAgent)
	sourceIP = cleanIP(sourceIP)
	source := throttleSource(sourceIP)
	now := s.clock()
	entry := auditlog.Entry{ObjectType: "staff", SourceIP: sourceIP, UserAgent: userAgent}

	if err := s.checkThrottle(ctx, db, source, now); err != nil {
		entry.At, entry.Actor, entry.Action, entry.Result = now, auditlog.Actor{Kind: auditlog.ActorAnonymous, Name: email}, "staff.login_throttled", auditlog.ResultDenied
		if _, aerr := auditlog.Record(ctx, db, entry); aerr != nil {
			return "", Staff{}, false, dbErr(aerr)
		}
		return "", Staff{}, false, err
	}

	row, err := s.store.rowByEmail(ctx, db, email)
	if err != nil && apperr.KindOf(err) != apperr.KindNotFound {
		return "", Staff{}, false, err
	}
	if err != nil || row.Status != string(StatusActive) || row.PasswordHash == "" {
		s.spendDummyHash(ctx, password)
		entry.Action = "staff.login_failed"
		entry.Actor = auditlog.Actor{Kind: auditlog.ActorAnonymous, Name: email}
		if row != nil {
			// A known but disabled (or not yet set up) account: named in the
			// log, never in the answer.
			if st, err = s.store.toStaff(row); err != nil {
				return "", Staff{}, false, err
			}
			entry.Actor, entry.ObjectID = staffActor(st), st.ID
		}
		// Only the address's failures count: a disabled account or one
		// without a password cannot be locked out of anything.
		if _, _, err := s.countFailure(ctx, db, "", source, entry); err != nil {
			return "", Staff{}, false, err
		}
		return "", Staff{}, false, ErrLoginFailed
	}
	if st, err = s.store.toStaff(row); err != nil {
		return "", Staff{}, false, err
	}
	entry.Actor, entry.ObjectID = staffActor(st), st.ID
	if st.Locked(now) {
		return "", Staff{}, false, s.refuseLocked(ctx, db, st, source, entry)
	}

	ok, rehash, err := s.verifyPassword(ctx, row.PasswordHash, password)
	if err != nil {
		return "", Staff{}, false, err
	}
	if !ok {
		entry.Action = "staff.login_failed"
		outcome, until, err := s.countFailure(ctx, db, st.ID, source, entry)
		if err != nil {
			return "", Staff{}, false, err
		}
		if outcome == failRefused {
			return "", Staff{}, false, lockedError(until, s.clock())
		}
		// The failure that starts a lockout still answers "login failed":
		// the next attempt learns of the lockout.
		return "", Staff{}, false, ErrLoginFailed
	}

	var newHash string
	if rehash {
		if newHash, err = s.hashPassword(ctx, password); err != nil {
			return "", Staff{}, false, err
		}
	}
	now = s.clock()
	token, tokenHash := newOpaqueToken()
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		// The account may have been locked or disabled while the password
		// was being checked: decide under its row lock.
		cur, err := s.store.lockStaff(ctx, tx, st.ID)
		if err != nil {
			return err
		}
		if cur.Status != StatusActive {
			return ErrLoginFailed
		}
		if cur.Locked(now) {
			st = cur
			return ErrAccountLocked
		}
		st = cur
		if newHash != "" {
			if err := s.store.rehashPassword(ctx, tx, st.ID, newHash); err != nil {
				return err
			}
		}
		needsTOTP = st.TOTPEnabled
		if !needsTOTP {
			// A complete sign-in resets the failure count; with TOTP that
			// waits for the code, or the password alone would reset the
			// count of wrong codes.
			if err := s.completeLogin(ctx, tx, st.ID, now); err != nil {
				return err
			}
		}
		pol, err := s.GetSecuritySettings(ctx, tx)
		if err != nil {
			return err
		}
		expires := now.Add(pol.SessionAbsolute)
		if needsTOTP {
			expires = now.Add(PendingSessionTTL)
		}
		id, err := dbx.NewID()
		if err != nil {
			return err
		}
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		row := &staffSessionRow{
			ID: id, TokenHash: tokenHash, StaffID: st.ID, CSRFSecret: hex.EncodeToString(secret),
			SourceIP: sourceIP, UserAgent: userAgent, CreatedAt: now, LastSeenAt: now,
			IdleSeconds: int(pol.SessionIdle / time.Second), IdleExpiresAt: now.Add(min(pol.SessionIdle, expires.Sub(now))), ExpiresAt: expires,
		}
		if err := s.store.insertSession(ctx, tx, row); err != nil {
			return err
		}
		e := entry
		e.At, e.Action = now, "staff.login"
		if needsTOTP {
			var ch auditlog.Changes
			ch.Add("second_factor", nil, "pending")
			e.Changes = ch
		}
		return audit(ctx, tx, e)
	})
	if err != nil {
		if apperr.KindOf(err) == apperr.KindRateLimited {
			return "", Staff{}, false, s.refuseLocked(ctx, db, st, source, entry)
		}
		return "", Staff{}, false, err
	}
	s.log.InfoContext(ctx, "staff signed in", "tenant", tenantSlug, "staff_id", st.ID, "needs_totp", needsTOTP)
	if !needsTOTP {
		st.FailedLogins, st.LastLoginAt = 0, now
	}
	return token, st, needsTOTP, nil
}

// completeLogin resets the failure count and records the sign-in time.
func (s *Service) completeLogin(ctx context.Context, tx bun.IDB, staffID string, now time.Time) error {
	if err := s.store.setLoginState(ctx, tx, staffID, 0, time.Time{}); err != nil {
		return err
	}
	return s.store.setLastLogin(ctx, tx, staffID, now)
}

// Authenticate returns the principal and session of a session token, and
// notes the session's activity (at most once a minute). Unknown, ended,
// idle and expired sessions, and sessions of disabled accounts, get
// ErrSessionExpired.
//
// A session that has not finished signing in is returned with a zero
// Principal, its Session (Stage says which step is missing) and
// ErrSecondFactorRequired (StageTOTP) or ErrEnrolmentRequired (StageEnrol):
// the console sends it to that page, and nothing can be authorised with
// the zero Principal by mistake.
func (s *Service) Authenticate(ctx context.Context, db bun.IDB, token string) (Principal, Session, error) {
	if !wellFormedToken(token) {
		return Principal{}, Session{}, ErrSessionExpired
	}
	now := s.clock()
	row, err := s.store.sessionByHash(ctx, db, opaqueTokenHash(token))
	if err != nil {
		return Principal{}, Session{}, err
	}
	if row == nil {
		return Principal{}, Session{}, ErrSessionExpired
	}
	if !now.Before(row.ExpiresAt) || !now.Before(row.IdleExpiresAt) {
		// Ended: remove it now rather than at the next sweep.
		if _, err := s.store.deleteSession(ctx, db, row.ID, ""); err != nil {
			return Principal{}, Session{}, err
		}
		return Principal{}, Session{}, ErrSessionExpired
	}
	st, err := s.store.staffByID(ctx, db, row.StaffID)
	if err != nil {
		if apperr.KindOf(err) == apperr.KindNotFound {
			return Principal{}, Session{}, ErrSessionExpired
		}
		return Principal{}, Session{}, err
	}
	if st.Status != StatusActive {
		if _, err := s.store.deleteSessions(ctx, db, st.ID, ""); err != nil {
			return Principal{}, Session{}, err
		}
		return Principal{}, Session{}, ErrSessionExpired
	}
	if now.Sub(row.LastSeenAt) >= touchEvery {
		idleUntil := now.Add(time.Duration(row.IdleSeconds) * time.Second)
		if idleUntil.After(row.ExpiresAt) {
			idleUntil = row.ExpiresAt
		}
		if err := s.store.touchSession(ctx, db, row.ID, now, idleUntil); err != nil {
			return Principal{}, Session{}, err
		}
		row.LastSeenAt, row.IdleExpiresAt = now, idleUntil
	}
	sess := toSession(row)
	switch {
	case st.TOTPEnabled && !row.SecondFactor:
		sess.Stage = StageTOTP
		return Principal{}, sess, ErrSecondFactorRequired
	case !st.TOTPEnabled:
		req, err := s.requireTwoFactor(ctx, db)
		if err != nil {
			return Principal{}, Session{}, err
		}
		if req {
			sess.Stage = StageEnrol
			return Principal{}, sess, ErrEnrolmentRequired
		}
	}
	sess.Stage = StageFull
	return st.Principal(sess.ID), sess, nil
}

// liveSession re-reads session sess and its account before a change made
// through it, whatever the caller's copy says: an ended session gets
// ErrSessionExpired, one still waiting for its second factor
// ErrSecondFactorRequired, and with full, one that may only enrol
// ErrEnrolmentRequired.
func (s *Service) liveSession(ctx context.Context, db bun.IDB, sess Session, full bool) (Staff, error) {
	row, err := s.store.sessionByID(ctx, db, sess.ID)
	if err != nil {
		return Staff{}, err
	}
	now := s.clock()
	if row == nil || !now.Before(row.ExpiresAt) || !now.Before(row.IdleExpiresAt) {
		return Staff{}, ErrSessionExpired
	}
	st, err := s.store.staffByID(ctx, db, row.StaffID)
	if err != nil {
		if apperr.KindOf(err) == apperr.KindNotFound {
			return Staff{}, ErrSessionExpired
		}
		return Staff{}, err
	}
	switch {
	case st.Status != StatusActive:
		return Staff{}, ErrSessionExpired
	case st.TOTPEnabled && !row.SecondFactor:
		return Staff{}, ErrSecondFactorRequired
	case full && !st.TOTPEnabled:
		req, err := s.requireTwoFactor(ctx, db)
		if err != nil {
			return Staff{}, err
		}
		if req {
			return Staff{}, ErrEnrolmentRequired
		}
	}
	return st, nil
}

func toSession(r *staffSessionRow) Session {
	secret, _ := hex.DecodeString(r.CSRFSecret)
	return Session{
		ID: r.ID, StaffID: r.StaffID, SourceIP: r.SourceIP, UserAgent: r.UserAgent,
		CreatedAt: r.CreatedAt.UTC(), LastSeenAt: r.LastSeenAt.UTC(), IdleExpiresAt: r.IdleExpiresAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(), csrfSecret: secret,
	}
}

// Logout ends the session of token. An unknown or ended token is not an
// error: logging out twice is logging out.
func (s *Service) Logout(ctx context.Context, db bun.IDB, token string) error {
	if !wellFormedToken(token) {
		return nil
	}
	row, err := s.store.sessionByHash(ctx, db, opaqueTokenHash(token))
	if err != nil || row == nil {
		return err
	}
	st, err := s.store.staffByID(ctx, db, row.StaffID)
	if err != nil {
		return err
	}
	now := s.clock()
	return inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		ok, err := s.store.deleteSession(ctx, tx, row.ID, "")
		if err != nil || !ok {
			return err
		}
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: staffActor(st), Action: "staff.logout", ObjectID: st.ID})
	})
}

// LogoutOthers ends every session of staffID except keepSessionID (the one
// asking, "log out my other sessions") and returns how many it ended.
func (s *Service) LogoutOthers(ctx context.Context, db bun.IDB, staffID, keepSessionID string) (int, error) {
	st, err := s.store.staffByID(ctx, db, staffID)
	if err != nil {
		return 0, err
	}
	now := s.clock()
	var n int
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if n, err = s.store.deleteSessions(ctx, tx, staffID, keepSessionID); err != nil || n == 0 {
			return err
		}
		var ch auditlog.Changes
		ch.Add("sessions", n, 0)
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: staffActor(st), Action: "staff.logout_others", ObjectID: st.ID, Changes: ch})
	})
	return n, err
}

// EndSession ends one session of actor's own (from ListSessions), e.g. a
// forgotten one on another device. Another account's session is not found.
func (s *Service) EndSession(ctx context.Context, db bun.IDB, actor Principal, sessionID string) error {
	now := s.clock()
	return inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		ok, err := s.store.deleteSession(ctx, tx, sessionID, actor.ID)
		if err != nil {
			return err
		}
		if !ok {
			return ErrSessionNotFound
		}
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: actor.Actor(), Action: "staff.session_ended", ObjectID: actor.ID})
	})
}

// ErrSessionNotFound: EndSession found no such session of the account.
var ErrSessionNotFound = apperr.New(apperr.KindNotFound, "session_not_found")

// ListSessions returns the live sessions of staffID, most recently active
// first; currentID marks the one asking. Their Stage is left empty and
// they carry no CSRF secret: the list is for showing, not for acting.
func (s *Service) ListSessions(ctx context.Context, db bun.IDB, staffID, currentID string) ([]Session, error) {
	rows, err := s.store.sessionsOf(ctx, db, staffID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	out := make([]Session, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		if !now.Before(r.ExpiresAt) || !now.Before(r.IdleExpiresAt) {
			continue
		}
		sess := toSession(r)
		sess.csrfSecret = nil
		sess.Current = r.ID == currentID
		out = append(out, sess)
	}
	return out, nil
}

// Sweep removes ended sessions, links expired for a day and login failures
// older than the throttle window, and returns how many rows it removed.
// Run it from a periodic job (hourly is plenty): nothing depends on it for
// correctness, only the tables' size.
func (s *Service) Sweep(ctx context.Context, db bun.IDB) (int64, error) {
	return s.store.sweep(ctx, db, s.clock())
}

// CSRF tokens. Each session has a random 256-bit secret; a form carries
// CSRFToken(sess), which is the secret masked by a fresh one-time pad
// (pad ‖ pad⊕secret, base64url), so the token differs on every page (no
// BREACH-style recovery from compressed responses) while CheckCSRF, in
// constant time, accepts any of them for the session's life.

// CSRFToken returns a CSRF token for a form of session sess.
func CSRFToken(sess Session) string {
	n := len(sess.csrfSecret)
	if n == 0 {
		return ""
	}
	b := make([]byte, 2*n)
	_, _ = rand.Read(b[:n])
	for i := range n {
		b[n+i] = b[i] ^ sess.csrfSecret[i]
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// CheckCSRF reports whether token is a CSRF token of session sess.
func CheckCSRF(sess Session, token string) bool {
	n := len(sess.csrfSecret)
	b, err := base64.RawURLEncoding.DecodeString(token)
	if n == 0 || err != nil || len(b) != 2*n {
		return false
	}
	got := make([]byte, n)
	for i := range n {
		got[i] = b[i] ^ b[n+i]
	}
	return subtle.ConstantTimeCompare(got, sess.csrfSecret) == 1
}

// cutString shortens s to at most n bytes without splitting a character.
func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// cleanIP keeps what fits the source address column: a parseable address
// in its canonical form, or the text cut to its width.
func cleanIP(ip string) string {
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if a, err := netip.ParseAddr(ip); err == nil {
		return a.Unmap().WithZone("").String()
	}
	return cutString(ip, 45)
}
