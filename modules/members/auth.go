package members

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"math"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
)

// Sign-in of members follows the staff console's rules (identity): the
// same lockout (identity.MaxFailedLogins consecutive failures lock the
// account for identity.LockDuration), the same per-address throttle
// (identity.IPMaxFailures within identity.IPFailureWindow, IPv6 by /64),
// the same hashing and the tenant's session timeouts
// (identity.SecuritySettings). The counts live in the members' own tables:
// a member's guesses never lock a staff account out, nor the reverse.

// Session is a member's booking-site session. Its token is never stored;
// its CSRF secret stays inside (CSRFToken, CheckCSRF).
type Session struct {
	ID            string
	MemberID      string
	CreatedAt     time.Time
	IdleExpiresAt time.Time
	ExpiresAt     time.Time

	csrfSecret []byte
}

const (
	opaqueTokenBytes = 32
	touchEvery       = time.Minute
	maxUserAgent     = 512
)

func newOpaqueToken() (token, hash string) {
	b := make([]byte, opaqueTokenBytes)
	_, _ = rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, tokenHash(token)
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func wellFormedToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(opaqueTokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

func retryArgs(until, now time.Time) map[string]any {
	d := max(until.Sub(now), time.Second)
	return map[string]any{
		"Until":      until.UTC().Format(time.RFC3339),
		"RetryAfter": int(math.Ceil(d.Seconds())),
		"Minutes":    int(math.Ceil(d.Minutes())),
	}
}

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

func cleanIP(ip string) string {
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if a, err := netip.ParseAddr(ip); err == nil {
		return a.Unmap().WithZone("").String()
	}
	return cutString(ip, 45)
}

// issueToken makes a single-use link token for memberID; earlier unused
// links of the same purpose stop working.
func (s *Service) issueToken(ctx context.Context, tx bun.IDB, memberID, purpose string, now time.Time) (string, error) {
	if err := s.store.revokeTokens(ctx, tx, memberID, purpose, now); err != nil {
		return "", err
	}
	ttl := VerifyTokenTTL
	if purpose == purposeReset {
		ttl = ResetTokenTTL
	}
	token, hash := newOpaqueToken()
	err := s.store.insertToken(ctx, tx, &tokenRow{TokenHash: hash, MemberID: memberID, Purpose: purpose, CreatedAt: now, ExpiresAt: now.Add(ttl)})
	return token, err
}

// liveToken returns the member of a live token of purpose.
func (s *Service) liveToken(ctx context.Context, db bun.IDB, token, purpose string) (Member, error) {
	if !wellFormedToken(token) {
		return Member{}, ErrTokenInvalid
	}
	tok, err := s.store.tokenByHash(ctx, db, tokenHash(token))
	if err != nil {
		return Member{}, err
	}
	if tok == nil || tok.Purpose != purpose || tok.UsedAt != nil || !s.clock().Before(tok.ExpiresAt) {
		return Member{}, ErrTokenInvalid
	}
	r, err := s.store.rowByID(ctx, db, tok.MemberID, false)
	if err != nil {
		if apperr.KindOf(err) == apperr.KindNotFound {
			return Member{}, ErrTokenInvalid
		}
		return Member{}, err
	}
	m := fromMemberRow(r)
	if m.Status == StatusWithdrawn || m.Status == StatusDisabled {
		return Member{}, ErrTokenInvalid
	}
	return m, nil
}

// Verify redeems a verification link: the pending account becomes active.
// A wrong, expired or used link gets ErrTokenInvalid.
func (s *Service) Verify(ctx context.Context, db bun.IDB, token string) (Member, error) {
	m, err := s.liveToken(ctx, db, token, purposeVerify)
	if err != nil {
		return Member{}, err
	}
	now := s.clock()
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		ok, err := s.store.useToken(ctx, tx, tokenHash(token), purposeVerify, now)
		if err != nil {
			return err
		}
		if !ok {
			return ErrTokenInvalid
		}
		if err := s.store.activate(ctx, tx, m.ID, now); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("status", string(m.Status), string(StatusActive))
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: memberActor(m), Action: "member.verify", ObjectID: m.ID, Changes: ch})
	})
	if err != nil {
		return Member{}, err
	}
	if m.Status == StatusPending {
		m.Status, m.EmailVerifiedAt = StatusActive, now
	}
	return m, nil
}

// CheckResetToken tells whether a reset link is live and returns its
// member (for the page that asks for the new password).
func (s *Service) CheckResetToken(ctx context.Context, db bun.IDB, token string) (Member, error) {
	return s.liveToken(ctx, db, token, purposeReset)
}

// Throttles of the forgot-password form (as identity's).
const (
	ResetMaxPerAddress = 3
	ResetMaxPerSource  = 10
)

// ForgotPassword is the site's forgot-password form: for an address with a
// pending or active account it issues a reset link (linkBase + "/reset/" +
// token, valid ResetTokenTTL) and enqueues its mail; for any other
// well-formed address it does nothing. Either way it returns nil, so the
// page answers alike; only the mailbox learns the difference. Requests are
// throttled per address and per source address, counted whether or not
// the address has an account (ErrResetThrottled).
func (s *Service) ForgotPassword(ctx context.Context, db bun.IDB, email, sourceIP, linkBase, lang string) error {
	email = normalizeEmail(email)
	var v apperr.Validator
	checkEmail(&v, "email", email)
	if err := v.Err(); err != nil {
		return err
	}
	now := s.clock()
	h := sha256.Sum256([]byte("members/reset-throttle\x00" + email))
	keys := []struct {
		key string
		max int
	}{{"reset@" + hex.EncodeToString(h[:16]), ResetMaxPerAddress}}
	if src := identity.ThrottleSource(sourceIP); src != "" {
		keys = append(keys, struct {
			key string
			max int
		}{"reset:" + src, ResetMaxPerSource})
	}
	var evs []outbox.Event
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		for _, k := range keys {
			times, err := s.store.failuresSince(ctx, tx, k.key, now.Add(-identity.IPFailureWindow))
			if err != nil {
				return err
			}
			if len(times) >= k.max {
				return ErrResetThrottled.WithArgs(retryArgs(times[len(times)-k.max].Add(identity.IPFailureWindow), now))
			}
		}
		for _, k := range keys {
			if err := s.store.insertFailure(ctx, tx, k.key, now); err != nil {
				return err
			}
		}
		r, err := s.store.rowByEmail(ctx, tx, email)
		if apperr.KindOf(err) == apperr.KindNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		m := fromMemberRow(r)
		if m.Status != StatusActive && m.Status != StatusPending {
			return nil
		}
		token, err := s.issueToken(ctx, tx, m.ID, purposeReset, now)
		if err != nil {
			return err
		}
		if err := audit(ctx, tx, auditlog.Entry{At: now, Actor: memberActor(m), Action: "member.password_reset_requested", ObjectID: m.ID}); err != nil {
			return err
		}
		evs, err = s.enqueue(ctx, tx, EventMemberPasswordReset, m, resetPayload{Email: m.Email, Name: m.Profile.Name(),
			ResetURL: strings.TrimRight(linkBase, "/") + "/reset/" + token, ExpiresAt: now.Add(ResetTokenTTL), Lang: mailLang(lang)})
		return err
	})
	if err != nil {
		return err
	}
	s.wake(ctx, evs)
	return nil
}

// ResetPassword sets a new password through a reset link, once. It ends
// every session of the member and lifts a lockout; a pending account
// becomes active (holding the link proves the mailbox, as the
// verification link would).
func (s *Service) ResetPassword(ctx context.Context, db bun.IDB, tenantSlug, token, password string) (Member, error) {
	m, err := s.liveToken(ctx, db, token, purposeReset)
	if err != nil {
		return Member{}, err
	}
	if err := identity.CheckPassword(password, m.Email, tenantSlug); err != nil {
		return m, err // the page shows the form again, for m's address
	}
	phc, err := s.pw.HashPassword(ctx, password)
	if err != nil {
		return Member{}, err
	}
	now := s.clock()
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		ok, err := s.store.useToken(ctx, tx, tokenHash(token), purposeReset, now)
		if err != nil {
			return err
		}
		if !ok {
			return ErrTokenInvalid
		}
		if err := s.store.setPassword(ctx, tx, m.ID, phc, now); err != nil {
			return err
		}
		if err := s.store.activate(ctx, tx, m.ID, now); err != nil {
			return err
		}
		if err := s.store.deleteSessions(ctx, tx, m.ID); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("password", "", "set")
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: memberActor(m), Action: "member.password_reset", ObjectID: m.ID, Changes: ch})
	})
	if err != nil {
		return Member{}, err
	}
	return m, nil
}

// Login checks a member's address and password and begins a session,
// whose token it returns (the site sets it as the cookie). An unknown
// address, a wrong password, and an account that is not active (pending
// verification, disabled, withdrawn) all get ErrLoginFailed after the same
// work; a locked account gets ErrAccountLocked, a source address with too
// many failures ErrLoginThrottled.
func (s *Service) Login(ctx context.Context, db bun.IDB, email, password, sourceIP, userAgent string) (string, Member, error) {
	email = normalizeEmail(email)
	sourceIP = cleanIP(sourceIP)
	userAgent = cutString(userAgent, maxUserAgent)
	source := identity.ThrottleSource(sourceIP)
	now := s.clock()
	entry := auditlog.Entry{ObjectType: "member", SourceIP: sourceIP, UserAgent: userAgent}
	anon := auditlog.Actor{Kind: auditlog.ActorAnonymous}

	if source != "" {
		times, err := s.store.failuresSince(ctx, db, source, now.Add(-identity.IPFailureWindow))
		if err != nil {
			return "", Member{}, err
		}
		if len(times) >= identity.IPMaxFailures {
			until := times[len(times)-identity.IPMaxFailures].Add(identity.IPFailureWindow)
			e := entry
			e.At, e.Actor, e.Action, e.Result = now, anon, "member.login_throttled", auditlog.ResultDenied
			if _, err := auditlog.Record(ctx, db, e); err != nil {
				return "", Member{}, dbErr(err)
			}
			return "", Member{}, ErrLoginThrottled.WithArgs(retryArgs(until, now))
		}
	}

	r, err := s.store.rowByEmail(ctx, db, email)
	if err != nil && apperr.KindOf(err) != apperr.KindNotFound {
		return "", Member{}, err
	}
	if err != nil || r.Status != string(StatusActive) || r.PasswordHash == "" {
		s.pw.SpendDummyHash(ctx, password)
		e := entry
		e.Action, e.Actor = "member.login_failed", anon
		if r != nil {
			m := fromMemberRow(r)
			e.Actor, e.ObjectID = memberActor(m), m.ID
		}
		if _, _, err := s.countFailure(ctx, db, "", source, e); err != nil {
			return "", Member{}, err
		}
		return "", Member{}, ErrLoginFailed
	}
	m := fromMemberRow(r)
	entry.Actor, entry.ObjectID = memberActor(m), m.ID
	if m.Locked(now) {
		return "", Member{}, s.refuseLocked(ctx, db, m, source, entry)
	}
	ok, rehash, err := s.pw.VerifyPassword(ctx, r.PasswordHash, password)
	if err != nil {
		return "", Member{}, err
	}
	if !ok {
		e := entry
		e.Action = "member.login_failed"
		refused, until, err := s.countFailure(ctx, db, m.ID, source, e)
		if err != nil {
			return "", Member{}, err
		}
		if refused {
			return "", Member{}, ErrAccountLocked.WithArgs(retryArgs(until, s.clock()))
		}
		return "", Member{}, ErrLoginFailed
	}
	newHash := ""
	if rehash {
		if newHash, err = s.pw.HashPassword(ctx, password); err != nil {
			return "", Member{}, err
		}
	}
	pol, err := s.pw.GetSecuritySettings(ctx, db)
	if err != nil {
		return "", Member{}, err
	}
	now = s.clock()
	token, hash := newOpaqueToken()
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		cur, err := s.store.rowByID(ctx, tx, m.ID, true)
		if err != nil {
			return err
		}
		if cur.Status != string(StatusActive) {
			return ErrLoginFailed
		}
		if now.Before(cur.LockedUntil) {
			m.LockedUntil = cur.LockedUntil.UTC()
			return ErrAccountLocked.WithArgs(retryArgs(cur.LockedUntil, now))
		}
		if newHash != "" {
			if err := s.store.rehash(ctx, tx, m.ID, newHash); err != nil {
				return err
			}
		}
		if err := s.store.setLastLogin(ctx, tx, m.ID, now); err != nil {
			return err
		}
		id, err := dbx.NewID()
		if err != nil {
			return err
		}
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		expires := now.Add(pol.SessionAbsolute)
		if err := s.store.insertSession(ctx, tx, &sessionRow{ID: id, TokenHash: hash, MemberID: m.ID,
			CSRFSecret: hex.EncodeToString(secret), SourceIP: sourceIP, UserAgent: userAgent, CreatedAt: now, LastSeenAt: now,
			IdleSeconds: int(pol.SessionIdle / time.Second), IdleExpiresAt: now.Add(min(pol.SessionIdle, expires.Sub(now))),
			ExpiresAt: expires}); err != nil {
			return err
		}
		e := entry
		e.At, e.Action = now, "member.login"
		return audit(ctx, tx, e)
	})
	if err != nil {
		return "", Member{}, err
	}
	s.log.InfoContext(ctx, "member signed in", "member_id", m.ID)
	m.FailedLogins, m.LastLoginAt = 0, now
	return token, m, nil
}

// countFailure records a failed attempt in one transaction: the failure
// of source (if any), one more consecutive failure of memberID (if any)
// under its row lock, the entry e and, when this failure starts a lockout,
// member.locked. refused says the account was already locked.
func (s *Service) countFailure(ctx context.Context, db bun.IDB, memberID, source string, e auditlog.Entry) (refused bool, until time.Time, err error) {
	now := s.clock()
	e.At = now
	if e.Result == "" {
		e.Result = auditlog.ResultFailed
	}
	locked := false
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		refused, locked, until = false, false, time.Time{}
		if source != "" {
			if err := s.store.insertFailure(ctx, tx, source, now); err != nil {
				return err
			}
		}
		if memberID == "" {
			return audit(ctx, tx, e)
		}
		r, err := s.store.rowByID(ctx, tx, memberID, true)
		if err != nil {
			return err
		}
		if now.Before(r.LockedUntil) {
			refused, until = true, r.LockedUntil.UTC()
			e.Action, e.Result, e.Changes = "member.login_refused", auditlog.ResultDenied, nil
			return audit(ctx, tx, e)
		}
		failed := r.FailedLogins + 1
		if failed < identity.MaxFailedLogins {
			if err := s.store.setLoginState(ctx, tx, memberID, failed, time.Time{}); err != nil {
				return err
			}
			return audit(ctx, tx, e)
		}
		locked, until = true, now.Add(identity.LockDuration)
		if err := s.store.setLoginState(ctx, tx, memberID, 0, until); err != nil {
			return err
		}
		if err := audit(ctx, tx, e); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("locked_until", nil, until.Format(time.RFC3339))
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: auditlog.Actor{Kind: auditlog.ActorSystem, Name: "system"},
			Action: "member.locked", ObjectType: "member", ObjectID: memberID, Changes: ch, Result: auditlog.ResultDenied,
			SourceIP: e.SourceIP, UserAgent: e.UserAgent})
	})
	if err == nil && locked {
		s.log.WarnContext(ctx, "member account locked", "member_id", memberID, "until", until)
	}
	return refused, until, err
}

func (s *Service) refuseLocked(ctx context.Context, db bun.IDB, m Member, source string, e auditlog.Entry) error {
	now := s.clock()
	e.At, e.Action, e.Result = now, "member.login_refused", auditlog.ResultDenied
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		if source != "" {
			if err := s.store.insertFailure(ctx, tx, source, now); err != nil {
				return err
			}
		}
		return audit(ctx, tx, e)
	})
	if err != nil {
		return err
	}
	return ErrAccountLocked.WithArgs(retryArgs(m.LockedUntil, now))
}

// Authenticate returns the member and session of a session token, and
// notes the session's activity (at most once a minute). Unknown, ended,
// idle and expired sessions, and sessions of accounts no longer active,
// get ErrSessionExpired.
func (s *Service) Authenticate(ctx context.Context, db bun.IDB, token string) (Member, Session, error) {
	if !wellFormedToken(token) {
		return Member{}, Session{}, ErrSessionExpired
	}
	now := s.clock()
	row, err := s.store.sessionByHash(ctx, db, tokenHash(token))
	if err != nil {
		return Member{}, Session{}, err
	}
	if row == nil {
		return Member{}, Session{}, ErrSessionExpired
	}
	if !now.Before(row.ExpiresAt) || !now.Before(row.IdleExpiresAt) {
		if err := s.store.deleteSession(ctx, db, row.ID); err != nil {
			return Member{}, Session{}, err
		}
		return Member{}, Session{}, ErrSessionExpired
	}
	m, err := s.Get(ctx, db, row.MemberID)
	if err != nil {
		if apperr.KindOf(err) == apperr.KindNotFound {
			return Member{}, Session{}, ErrSessionExpired
		}
		return Member{}, Session{}, err
	}
	if m.Status != StatusActive {
		if err := s.store.deleteSessions(ctx, db, m.ID); err != nil {
			return Member{}, Session{}, err
		}
		return Member{}, Session{}, ErrSessionExpired
	}
	if now.Sub(row.LastSeenAt) >= touchEvery {
		idleUntil := now.Add(time.Duration(row.IdleSeconds) * time.Second)
		if idleUntil.After(row.ExpiresAt) {
			idleUntil = row.ExpiresAt
		}
		if err := s.store.touchSession(ctx, db, row.ID, now, idleUntil); err != nil {
			return Member{}, Session{}, err
		}
		row.IdleExpiresAt = idleUntil
	}
	secret, _ := hex.DecodeString(row.CSRFSecret)
	return m, Session{ID: row.ID, MemberID: row.MemberID, CreatedAt: row.CreatedAt.UTC(),
		IdleExpiresAt: row.IdleExpiresAt.UTC(), ExpiresAt: row.ExpiresAt.UTC(), csrfSecret: secret}, nil
}

// Logout ends the session of token; an unknown token is not an error.
func (s *Service) Logout(ctx context.Context, db bun.IDB, token string) error {
	if !wellFormedToken(token) {
		return nil
	}
	row, err := s.store.sessionByHash(ctx, db, tokenHash(token))
	if err != nil || row == nil {
		return err
	}
	r, err := s.store.rowByID(ctx, db, row.MemberID, false)
	if err != nil {
		return err
	}
	now := s.clock()
	return inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		if err := s.store.deleteSession(ctx, tx, row.ID); err != nil {
			return err
		}
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: memberActor(fromMemberRow(r)), Action: "member.logout", ObjectID: row.MemberID})
	})
}

// CSRFToken returns a CSRF token for a form of session sess: the secret
// masked by a fresh one-time pad, so it differs on every page.
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
