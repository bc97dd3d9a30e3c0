package identity

import (
	"context"
	"math"
	"net"
	"net/netip"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Login throttling. Two limits work together, both kept in the tenant
// database so that every server process agrees:
//
//   - per account: MaxFailedLogins consecutive failures (wrong passwords,
//     wrong second-factor codes, wrong current passwords when changing
//     one) lock the account for LockDuration; while locked even the right
//     password is refused. A complete login resets the count;
//   - per source address: IPMaxFailures failures within IPFailureWindow
//     from one address (IPv6: one /64, what one subscriber gets) refuse
//     further attempts from it until the oldest failures age out, so one
//     address cannot guess its way through many accounts.
const (
	MaxFailedLogins = 10
	LockDuration    = 15 * time.Minute
	IPMaxFailures   = 30
	IPFailureWindow = 15 * time.Minute
)

// Errors of logging in.
var (
	// ErrLoginFailed answers an unknown address, a wrong password, a
	// disabled account and an account without a password alike.
	ErrLoginFailed = apperr.New(apperr.KindUnauthorized, "login_failed")
	// ErrAccountLocked: too many failures; Args "Until" (RFC 3339 UTC),
	// "RetryAfter" (seconds) and "Minutes" (rounded up) say when it ends.
	ErrAccountLocked = apperr.New(apperr.KindRateLimited, "account_locked")
	// ErrLoginThrottled: too many failures from the source address; Args
	// "RetryAfter" (seconds) and "Minutes" (rounded up).
	ErrLoginThrottled = apperr.New(apperr.KindRateLimited, "login_throttled")
)

func retryArgs(until, now time.Time) map[string]any {
	d := until.Sub(now)
	if d < time.Second {
		d = time.Second
	}
	return map[string]any{
		"Until":      until.UTC().Format(time.RFC3339),
		"RetryAfter": int(math.Ceil(d.Seconds())),
		"Minutes":    int(math.Ceil(d.Minutes())),
	}
}

func lockedError(until, now time.Time) error { return ErrAccountLocked.WithArgs(retryArgs(until, now)) }

// throttleSource is the key failures from sourceIP are counted under: the
// address itself for IPv4, its /64 for IPv6; "" (no throttling) when the
// edge gave no parseable address.
func throttleSource(sourceIP string) string {
	if host, _, err := net.SplitHostPort(sourceIP); err == nil {
		sourceIP = host
	}
	a, err := netip.ParseAddr(sourceIP)
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// checkThrottle refuses a login from source when it has failed too often.
func (s *Service) checkThrottle(ctx context.Context, db bun.IDB, source string, now time.Time) error {
	if source == "" {
		return nil
	}
	times, err := s.store.loginFailuresSince(ctx, db, source, now.Add(-IPFailureWindow))
	if err != nil {
		return err
	}
	if len(times) < IPMaxFailures {
		return nil
	}
	// Attempts are allowed again when enough failures have aged out that
	// fewer than the limit remain.
	until := times[len(times)-IPMaxFailures].Add(IPFailureWindow)
	return ErrLoginThrottled.WithArgs(retryArgs(until, now))
}

// failOutcome is what counting a failure did to the account.
type failOutcome int

const (
	failCounted failOutcome = iota // one more failure
	failLocked                     // this failure started a lockout
	failRefused                    // the account was (meanwhile) locked: refused, not counted
)

// countFailure records a failed attempt in one transaction: the failure
// from source (if any) for the address throttle, one more consecutive
// failure of account staffID (if any) under its row lock — so concurrent
// failures are all counted and exactly the MaxFailedLogins-th starts the
// lockout — and the entry e for the operation log, followed by staff.locked
// when the lockout starts. An account found locked is not counted: e
// becomes staff.login_refused.
func (s *Service) countFailure(ctx context.Context, db bun.IDB, staffID, source string, e auditlog.Entry) (failOutcome, time.Time, error) {
	now := s.clock()
	e.At = now
	if e.Result == "" {
		e.Result = auditlog.ResultFailed
	}
	outcome, until := failCounted, time.Time{}
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		outcome, until = failCounted, time.Time{}
		if source != "" {
			if err := s.store.insertLoginFailure(ctx, tx, source, now); err != nil {
				return err
			}
		}
		if staffID == "" {
			return audit(ctx, tx, e)
		}
		row, err := s.store.rowByID(ctx, tx, staffID, true)
		if err != nil {
			return err
		}
		if now.Before(row.LockedUntil) {
			outcome, until = failRefused, row.LockedUntil.UTC()
			e.Action, e.Result, e.Changes = "staff.login_refused", auditlog.ResultDenied, nil
			return audit(ctx, tx, e)
		}
		failed := row.FailedLogins + 1
		if failed < MaxFailedLogins {
			if err := s.store.setLoginState(ctx, tx, staffID, failed, time.Time{}); err != nil {
				return err
			}
			return audit(ctx, tx, e)
		}
		outcome, until = failLocked, now.Add(LockDuration)
		// The count starts again from zero: after the lockout, another
		// MaxFailedLogins failures lock the account again.
		if err := s.store.setLoginState(ctx, tx, staffID, 0, until); err != nil {
			return err
		}
		if err := audit(ctx, tx, e); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("locked_until", nil, until.Format(time.RFC3339))
		ch.Add("failed_logins", MaxFailedLogins, 0)
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: systemActor, Action: "staff.locked", ObjectID: staffID,
			Changes: ch, Result: auditlog.ResultDenied, SourceIP: e.SourceIP, UserAgent: e.UserAgent})
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	if outcome == failLocked {
		s.log.WarnContext(ctx, "staff account locked", "staff_id", staffID, "until", until)
	}
	return outcome, until, nil
}

// refuseLocked records a refused attempt on a locked account.
func (s *Service) refuseLocked(ctx context.Context, db bun.IDB, st Staff, source string, e auditlog.Entry) error {
	now := s.clock()
	e.At, e.Action, e.Result, e.ObjectType, e.ObjectID = now, "staff.login_refused", auditlog.ResultDenied, "staff", st.ID
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		if source != "" {
			if err := s.store.insertLoginFailure(ctx, tx, source, now); err != nil {
				return err
			}
		}
		return audit(ctx, tx, e)
	})
	if err != nil {
		return err
	}
	return lockedError(st.LockedUntil, now)
}

// reauthenticate checks the current password of a signed-in account before
// a sensitive change. A wrong one counts towards the lockout like a failed
// login and is recorded as failAction.
func (s *Service) reauthenticate(ctx context.Context, db bun.IDB, st Staff, password, failAction string) error {
	now := s.clock()
	e := auditlog.Entry{Actor: staffActor(st), Action: failAction, ObjectType: "staff", ObjectID: st.ID}
	if st.Status != StatusActive {
		return ErrSessionExpired
	}
	if st.Locked(now) {
		return s.refuseLocked(ctx, db, st, "", e)
	}
	row, err := s.store.rowByID(ctx, db, st.ID, false)
	if err != nil {
		return err
	}
	ok := false
	if row.PasswordHash != "" {
		if ok, _, err = s.verifyPassword(ctx, row.PasswordHash, password); err != nil {
			return err
		}
	}
	if ok {
		return nil
	}
	outcome, until, err := s.countFailure(ctx, db, st.ID, "", e)
	if err != nil {
		return err
	}
	if outcome != failCounted {
		return lockedError(until, s.clock())
	}
	return apperr.Invalid(apperr.Field("current_password", "password_incorrect", nil))
}
