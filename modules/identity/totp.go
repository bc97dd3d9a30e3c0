package identity

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// TOTP second factor (RFC 6238): 6 digits, 30-second steps, HMAC-SHA1 —
// what every authenticator app reads from a QR code. A code is accepted one
// step either side of now (clock drift), and only once: the last accepted
// step is stored, and a code of that step or an earlier one is refused
// (RFC 6238 §5.2), by one guarded statement so two racing requests cannot
// both use it. Ten single-use recovery codes, shown once and stored only as
// hashes, stand in for a lost phone.

const (
	totpPeriod         = 30
	totpSkew           = 1
	recoveryCodeCount  = 10
	recoveryCodeBytes  = 10 // 80 bits: 16 characters of Crockford base32
	totpQRCodeSize     = 256
	totpSecretBytes    = 20 // RFC 4226's recommended 160 bits
	sealedSecretPrefix = "gcm1:"
	plainSecretPrefix  = "plain:"
)

// Errors of two-factor sign-in.
var (
	// ErrTOTPInvalid: VerifyTOTP got a wrong, expired or already used code.
	ErrTOTPInvalid            = apperr.New(apperr.KindUnauthorized, "totp_invalid")
	ErrTwoFactorEnabled       = apperr.New(apperr.KindConflict, "two_factor_already_enabled")
	ErrTwoFactorNotEnabled    = apperr.New(apperr.KindConflict, "two_factor_not_enabled")
	ErrTwoFactorNotEnrolling  = apperr.New(apperr.KindConflict, "two_factor_enrolment_not_started")
	ErrSecondFactorNotPending = apperr.New(apperr.KindConflict, "second_factor_not_pending")
)

// Enrolment is what a staff member needs to add Yoyaku to an authenticator
// app: the QR code to scan, or the secret to type.
type Enrolment struct {
	Secret    string // base32, for typing in
	URL       string // otpauth://totp/... (what the QR code holds)
	QRCodePNG []byte // the URL as a 256×256 PNG, rendered here (no third party sees the secret)
}

// BeginEnrol starts TOTP enrolment for the account of sess: a new secret,
// kept pending until ConfirmEnrol proves the app has it. Calling it again
// replaces the pending secret. tenantSlug is shown in the app next to the
// issuer, so staff of several tenants can tell their codes apart.
func (s *Service) BeginEnrol(ctx context.Context, db bun.IDB, sess Session, tenantSlug string) (Enrolment, error) {
	st, err := s.liveSession(ctx, db, sess, false)
	if err != nil {
		return Enrolment{}, err
	}
	if st.TOTPEnabled {
		return Enrolment{}, ErrTwoFactorEnabled
	}
	issuer := s.issuer
	if tenantSlug != "" {
		issuer += " " + tenantSlug
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: st.Email, Period: totpPeriod,
		SecretSize: totpSecretBytes, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrolment{}, apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	img, err := key.Image(totpQRCodeSize, totpQRCodeSize)
	if err != nil {
		return Enrolment{}, apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrolment{}, apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	sealed, err := s.aead.seal(st.ID, key.Secret())
	if err != nil {
		return Enrolment{}, err
	}
	if err := s.store.setTOTPPending(ctx, db, st.ID, sealed); err != nil {
		return Enrolment{}, err
	}
	return Enrolment{Secret: key.Secret(), URL: key.URL(), QRCodePNG: buf.Bytes()}, nil
}

// ConfirmEnrol finishes enrolment with a code from the app: TOTP is on
// from now, sess counts as having passed its second factor, and the ten
// recovery codes are returned — the only time they are ever shown. A wrong
// code is a validation error on "code" (totp_invalid).
func (s *Service) ConfirmEnrol(ctx context.Context, db bun.IDB, sess Session, code string) ([]string, error) {
	st, err := s.liveSession(ctx, db, sess, false)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	codes, rows := newRecoveryCodes(st.ID, now)
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.store.rowByID(ctx, tx, st.ID, true)
		if err != nil {
			return err
		}
		if row.TOTPSecret != "" {
			return ErrTwoFactorEnabled
		}
		if row.TOTPPending == "" {
			return ErrTwoFactorNotEnrolling
		}
		secret, err := s.aead.open(st.ID, row.TOTPPending)
		if err != nil {
			return err
		}
		step, ok := matchTOTP(secret, code, now)
		if !ok {
			return apperr.Invalid(apperr.Field("code", "totp_invalid", nil))
		}
		if err := s.store.enableTOTP(ctx, tx, st.ID, row.TOTPPending, step, now); err != nil {
			return err
		}
		if err := s.store.insertRecoveryCodes(ctx, tx, rows); err != nil {
			return err
		}
		if err := s.store.setSessionSecondFactor(ctx, tx, sess.ID); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("two_factor", "off", "on")
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: staffActor(st), Action: "staff.2fa_enrolled", ObjectID: st.ID, Changes: ch})
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// VerifyTOTP completes the sign-in of a session waiting for its second
// factor (StageTOTP) with a current TOTP code or an unused recovery code
// (which is then used up). On success the session gets a new token, which
// it returns (the console replaces the cookie), and the full session
// lifetime. A wrong code gets ErrTOTPInvalid and counts towards the
// account's lockout and the address's throttle like a wrong password.
func (s *Service) VerifyTOTP(ctx context.Context, db bun.IDB, sess Session, code string) (string, error) {
	row, err := s.store.sessionByID(ctx, db, sess.ID)
	if err != nil {
		return "", err
	}
	now := s.clock()
	if row == nil || !now.Before(row.ExpiresAt) || !now.Before(row.IdleExpiresAt) {
		return "", ErrSessionExpired
	}
	if row.SecondFactor {
		return "", ErrSecondFactorNotPending
	}
	st, err := s.store.staffByID(ctx, db, row.StaffID)
	if err != nil {
		return "", err
	}
	if st.Status != StatusActive {
		return "", ErrSessionExpired
	}
	if !st.TOTPEnabled {
		return "", ErrTwoFactorNotEnabled
	}
	source := throttleSource(row.SourceIP)
	entry := auditlog.Entry{Actor: staffActor(st), ObjectType: "staff", ObjectID: st.ID, SourceIP: row.SourceIP, UserAgent: row.UserAgent}
	if st.Locked(now) {
		return "", s.refuseLocked(ctx, db, st, source, entry)
	}
	if err := s.checkThrottle(ctx, db, source, now); err != nil {
		return "", err
	}
	pol, err := s.GetSecuritySettings(ctx, db)
	if err != nil {
		return "", err
	}
	token, tokenHash := newOpaqueToken()
	errNoMatch := errors.New("no match")
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		cur, err := s.store.rowByID(ctx, tx, st.ID, true)
		if err != nil {
			return err
		}
		if now.Before(cur.LockedUntil) {
			st.LockedUntil = cur.LockedUntil.UTC()
			return ErrAccountLocked
		}
		e := entry
		e.At = now
		if digits := onlyDigits(code); len(digits) == 6 {
			secret, err := s.aead.open(st.ID, cur.TOTPSecret)
			if err != nil {
				return err
			}
			step, ok := matchTOTP(secret, digits, now)
			if !ok {
				return errNoMatch
			}
			if ok, err = s.store.useTOTPStep(ctx, tx, st.ID, step); err != nil {
				return err
			}
			if !ok {
				return errNoMatch // this code (or a later one) was used already
			}
			e.Action = "staff.2fa_verified"
		} else {
			hash, ok := recoveryCodeHash(code)
			if !ok {
				return errNoMatch
			}
			if ok, err = s.store.useRecoveryCode(ctx, tx, st.ID, hash, now); err != nil {
				return err
			}
			if !ok {
				return errNoMatch
			}
			left, err := s.store.recoveryCodesLeft(ctx, tx, st.ID)
			if err != nil {
				return err
			}
			var ch auditlog.Changes
			ch.Add("codes_left", left+1, left)
			e.Action, e.Changes = "staff.recovery_code_used", ch
		}
		if err := s.completeLogin(ctx, tx, st.ID, now); err != nil {
			return err
		}
		yes := true
		ok, err := s.store.rotateSessionToken(ctx, tx, row.ID, tokenHash, &yes, time.Time{})
		if err != nil {
			return err
		}
		if !ok {
			return ErrSessionExpired
		}
		if err := s.store.setSessionWindow(ctx, tx, row.ID, now, pol.SessionIdle, now.Add(pol.SessionAbsolute)); err != nil {
			return err
		}
		return audit(ctx, tx, e)
	})
	switch {
	case err == nil:
		return token, nil
	case errors.Is(err, ErrAccountLocked):
		return "", s.refuseLocked(ctx, db, st, source, entry)
	case !errors.Is(err, errNoMatch):
		return "", err
	}
	entry.Action = "staff.2fa_failed"
	outcome, until, err := s.countFailure(ctx, db, st.ID, source, entry)
	if err != nil {
		return "", err
	}
	if outcome == failRefused {
		return "", lockedError(until, s.clock())
	}
	return "", ErrTOTPInvalid
}

// Disable2FA turns TOTP off for the account of sess. It asks for the
// account's password rather than a code: the session has passed its
// second factor already, and a password still works when the phone is
// lost (the user signed in with a recovery code). A wrong password is a
// validation error on "current_password" and counts towards the lockout.
// If the tenant requires two factors, the session turns to StageEnrol.
func (s *Service) Disable2FA(ctx context.Context, db bun.IDB, sess Session, password string) error {
	st, err := s.liveSession(ctx, db, sess, true)
	if err != nil {
		return err
	}
	if !st.TOTPEnabled {
		return ErrTwoFactorNotEnabled
	}
	if err := s.reauthenticate(ctx, db, st, password, "staff.2fa_disable_failed"); err != nil {
		return err
	}
	return s.disableTOTP(ctx, db, staffActor(st), st, false)
}

// ResetTwoFactor turns TOTP off for another account (its owner lost both
// the phone and the recovery codes) and ends that account's sessions; its
// next sign-in is with the password alone, or leads to enrolment if the
// tenant requires two factors. Whether actor may do it is the caller's
// authorization to decide.
func (s *Service) ResetTwoFactor(ctx context.Context, db bun.IDB, actor Principal, staffID string) error {
	st, err := s.store.staffByID(ctx, db, staffID)
	if err != nil {
		return err
	}
	if !st.TOTPEnabled {
		return ErrTwoFactorNotEnabled
	}
	return s.disableTOTP(ctx, db, actor.Actor(), st, true)
}

func (s *Service) disableTOTP(ctx context.Context, db bun.IDB, actor auditlog.Actor, st Staff, endSessions bool) error {
	now := s.clock()
	return inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		if err := s.store.disableTOTP(ctx, tx, st.ID, now); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("two_factor", "on", "off")
		if endSessions {
			n, err := s.store.deleteSessions(ctx, tx, st.ID, "")
			if err != nil {
				return err
			}
			if n > 0 {
				ch.Add("sessions", n, 0)
			}
		}
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: actor, Action: "staff.2fa_disabled", ObjectID: st.ID, Changes: ch})
	})
}

// RegenerateRecoveryCodes replaces the recovery codes of the account of
// sess with ten new ones after checking its password; the old ones stop
// working. The new codes are shown this once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, db bun.IDB, sess Session, password string) ([]string, error) {
	st, err := s.liveSession(ctx, db, sess, true)
	if err != nil {
		return nil, err
	}
	if !st.TOTPEnabled {
		return nil, ErrTwoFactorNotEnabled
	}
	if err := s.reauthenticate(ctx, db, st, password, "staff.recovery_codes_failed"); err != nil {
		return nil, err
	}
	now := s.clock()
	codes, rows := newRecoveryCodes(st.ID, now)
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		if err := s.store.insertRecoveryCodes(ctx, tx, rows); err != nil {
			return err
		}
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: staffActor(st), Action: "staff.recovery_codes_regenerated", ObjectID: st.ID})
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// RecoveryCodesLeft returns how many unused recovery codes staffID has.
func (s *Service) RecoveryCodesLeft(ctx context.Context, db bun.IDB, staffID string) (int, error) {
	return s.store.recoveryCodesLeft(ctx, db, staffID)
}

// matchTOTP returns the time step whose code is code, looking one step
// either side of now.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	code = onlyDigits(code)
	if len(code) != 6 {
		return 0, false
	}
	step := now.Unix() / totpPeriod
	for _, c := range []int64{step, step - 1, step + 1} {
		if c < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(c), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && constantTimeEqual(want, code) {
			return c, true
		}
	}
	return 0, false
}

// onlyDigits drops the spaces and hyphens people type inside codes
// ("123 456"); any other character makes the result not all digits.
func onlyDigits(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u3000' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	for _, r := range s {
		if r < '0' || r > '9' {
			return ""
		}
	}
	return s
}

// crockford is Crockford's base32 alphabet in lower case: no i, l, o, u,
// so codes read aloud or handwritten survive.
var crockford = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newRecoveryCodes returns ten new codes as shown ("7f3k-9q2m-x8d4-a1tz")
// and their rows to store.
func newRecoveryCodes(staffID string, now time.Time) ([]string, []recoveryCodeRow) {
	codes := make([]string, 0, recoveryCodeCount)
	rows := make([]recoveryCodeRow, 0, recoveryCodeCount)
	seen := map[string]bool{}
	for len(codes) < recoveryCodeCount {
		b := make([]byte, recoveryCodeBytes)
		_, _ = rand.Read(b)
		raw := crockford.EncodeToString(b)
		hash, _ := recoveryCodeHash(raw)
		if seen[hash] {
			continue
		}
		seen[hash] = true
		codes = append(codes, raw[0:4]+"-"+raw[4:8]+"-"+raw[8:12]+"-"+raw[12:16])
		rows = append(rows, recoveryCodeRow{StaffID: staffID, CodeHash: hash, CreatedAt: now})
	}
	return codes, rows
}

// recoveryCodeHash normalises a typed recovery code (case, hyphens,
// spaces, the letters Crockford reads as digits) and returns its stored
// hash. 80 random bits need no slow hash.
func recoveryCodeHash(code string) (string, bool) {
	c := strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ', '\u3000':
			return -1
		case 'o', 'O':
			return '0'
		case 'i', 'I', 'l', 'L':
			return '1'
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
	if b, err := crockford.DecodeString(c); err != nil || len(b) != recoveryCodeBytes {
		return "", false
	}
	h := sha256.Sum256([]byte("identity/recovery-code\x00" + c))
	return hex.EncodeToString(h[:]), true
}

// secretSealer seals TOTP secrets at rest with AES-256-GCM, bound to the
// account (the staff id is the additional data, so a sealed secret copied
// to another account does not open). Without a key it stores them plain.
type secretSealer struct{ aead cipher.AEAD }

func newSecretSealer(key []byte) (secretSealer, error) {
	if len(key) == 0 {
		return secretSealer{}, nil
	}
	if len(key) != 32 {
		return secretSealer{}, fmt.Errorf("identity: SecretKey must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return secretSealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return secretSealer{}, err
	}
	return secretSealer{aead: aead}, nil
}

func (s secretSealer) seal(staffID, secret string) (string, error) {
	if s.aead == nil {
		return plainSecretPrefix + secret, nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, []byte(secret), []byte("identity/totp\x00"+staffID))
	return sealedSecretPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

var errSecretUnreadable = errors.New("identity: TOTP secret cannot be opened (wrong or missing SecretKey?)")

func (s secretSealer) open(staffID, stored string) (string, error) {
	if v, ok := strings.CutPrefix(stored, plainSecretPrefix); ok {
		return v, nil
	}
	v, ok := strings.CutPrefix(stored, sealedSecretPrefix)
	if !ok || s.aead == nil {
		return "", apperr.Wrap(apperr.KindInternal, "internal", errSecretUnreadable)
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", apperr.Wrap(apperr.KindInternal, "internal", errSecretUnreadable)
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte("identity/totp\x00"+staffID))
	if err != nil {
		return "", apperr.Wrap(apperr.KindInternal, "internal", errSecretUnreadable)
	}
	return string(plain), nil
}
