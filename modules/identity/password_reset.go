package identity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/validate"
)

// ResetLink is a one-time password-reset link issued for an account, for
// the caller to mail to it (the staff.password_reset event).
type ResetLink struct {
	Staff     Staff // the account; zero when no link was issued
	Token     string
	ExpiresAt time.Time
}

// Issued reports whether a link was issued (the address has an active
// account).
func (rl ResetLink) Issued() bool { return rl.Token != "" }

// Throttles of the forgot-password form. Whoever knows an address can ask
// for a reset, so requests are limited per address (a mailbox cannot be
// flooded) and per source address (one client cannot walk through many
// addresses). Every request counts, whether the address has an account or
// not, so the throttle itself tells nothing either. The counts live in the
// table of the login throttle under keys of their own, and its sweep
// removes rows older than IPFailureWindow: the window cannot be longer.
const (
	ResetMaxPerAddress  = 3
	ResetMaxPerSource   = 10
	ResetThrottleWindow = IPFailureWindow
)

// ErrResetThrottled: too many reset requests for the address or from the
// client; Args "RetryAfter" (seconds) and "Minutes" (rounded up).
var ErrResetThrottled = apperr.New(apperr.KindRateLimited, "password_reset_throttled")

// forgotParams is what the forgot-password form sends.
type forgotParams struct {
	Email string `json:"email" validate:"required,max=254,email"`
}

// ForgotPassword is the forgot-password form's request: for the active
// account with email it issues a reset link (valid ResetTokenTTL; earlier
// links stop working) and returns it with the account, for the caller to
// mail in the same transaction; for an unknown or disabled address it
// returns a zero ResetLink and no error, so the caller answers alike. A
// malformed address is a validation error on "email". Past
// ResetMaxPerAddress requests for the address, or ResetMaxPerSource from
// sourceIP (IPv6: its /64), within ResetThrottleWindow, it refuses with
// ErrResetThrottled, for known and unknown addresses alike.
func (s *Service) ForgotPassword(ctx context.Context, db bun.IDB, email, sourceIP string) (ResetLink, error) {
	p := forgotParams{Email: normalizeEmail(email)}
	if err := validate.Struct(staffValidator, &p); err != nil {
		return ResetLink{}, err
	}
	now := s.clock()
	keys := []resetLimit{{resetAddressKey(p.Email), ResetMaxPerAddress}}
	if src := throttleSource(sourceIP); src != "" {
		keys = append(keys, resetLimit{"reset:" + src, ResetMaxPerSource})
	}
	var out ResetLink
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		for _, k := range keys {
			times, err := s.store.loginFailuresSince(ctx, tx, k.key, now.Add(-ResetThrottleWindow))
			if err != nil {
				return err
			}
			if len(times) >= k.max {
				until := times[len(times)-k.max].Add(ResetThrottleWindow)
				return ErrResetThrottled.WithArgs(retryArgs(until, now))
			}
		}
		for _, k := range keys {
			if err := s.store.insertLoginFailure(ctx, tx, k.key, now); err != nil {
				return err
			}
		}
		var err error
		out, err = s.requestReset(ctx, tx, p.Email, now)
		return err
	})
	if err != nil {
		return ResetLink{}, err
	}
	return out, nil
}

// resetLimit is one throttle of reset requests: its key in the throttle's
// table and how many requests it allows per window.
type resetLimit struct {
	key string
	max int
}

// resetAddressKey is the throttle key of requests for email: a hash, so
// that the throttle's table holds no addresses, cut to fit its column.
func resetAddressKey(email string) string {
	h := sha256.Sum256([]byte("identity/reset-throttle\x00" + strings.ToLower(email)))
	return "reset@" + hex.EncodeToString(h[:16])
}

// SendPasswordReset issues a reset link for another account, on an
// administrator's request from the staff page (the member forgot their
// password and asked a colleague), for the caller to mail to the account.
// Earlier links stop working. A disabled account gets ErrStaffDisabled.
// Whether actor may do it is the caller's authorization to decide.
func (s *Service) SendPasswordReset(ctx context.Context, db bun.IDB, actor Principal, staffID string) (ResetLink, error) {
	now := s.clock()
	var out ResetLink
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		st, err := s.store.lockStaff(ctx, tx, staffID)
		if err != nil {
			return err
		}
		if st.Status != StatusActive {
			return ErrStaffDisabled
		}
		token, err := s.issueToken(ctx, tx, st.ID, PurposeReset, now)
		if err != nil {
			return err
		}
		out = ResetLink{Staff: st, Token: token, ExpiresAt: now.Add(ResetTokenTTL)}
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: actor.Actor(), Action: "staff.password_reset_sent", ObjectID: st.ID})
	})
	if err != nil {
		return ResetLink{}, err
	}
	return out, nil
}
