package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Opaque tokens (session tokens, setup and reset links) are 256 random
// bits, given out once as base64url and stored only as their SHA-256: a
// copy of the database cannot be replayed, and a fast hash is enough for a
// secret that no one can guess (unlike a password).

const opaqueTokenBytes = 32

// newOpaqueToken returns a new token and the hash to store.
func newOpaqueToken() (token, hash string) {
	b := make([]byte, opaqueTokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, opaqueTokenHash(token)
}

// opaqueTokenHash is the stored form of token.
func opaqueTokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// wellFormedToken reports whether s can be a token this package issued, so
// that garbage is refused without a database round trip.
func wellFormedToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(opaqueTokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// TokenPurpose says what a one-time link is for.
type TokenPurpose string

// The purposes of one-time links. All three lead to the same page, where
// the staff member sets a password (RedeemSetup).
const (
	PurposeSetup  TokenPurpose = "setup"  // a new tenant's owner
	PurposeInvite TokenPurpose = "invite" // a staff member invited by another
	PurposeReset  TokenPurpose = "reset"  // a forgotten password
)

// Lifetimes of one-time links. A reset link is short-lived because it is
// asked for by whoever knows the address, not by a colleague.
const (
	SetupTokenTTL = 24 * time.Hour
	ResetTokenTTL = time.Hour
)

func (p TokenPurpose) ttl() time.Duration {
	if p == PurposeReset {
		return ResetTokenTTL
	}
	return SetupTokenTTL
}

// issueToken makes a one-time link token for staffID in tx. Earlier unused
// links of the account stop working: only the newest link counts.
func (s *Service) issueToken(ctx context.Context, tx bun.IDB, staffID string, p TokenPurpose, now time.Time) (string, error) {
	if err := s.store.revokeTokens(ctx, tx, staffID, now); err != nil {
		return "", err
	}
	token, hash := newOpaqueToken()
	row := &staffTokenRow{TokenHash: hash, StaffID: staffID, Purpose: string(p), CreatedAt: now, ExpiresAt: now.Add(p.ttl())}
	if err := s.store.insertToken(ctx, tx, row); err != nil {
		return "", err
	}
	return token, nil
}

// RedeemSetup sets the password of the account a one-time link (setup,
// invite or reset) belongs to, and uses the link up. A wrong, expired or
// used link, or one of a disabled account, gets ErrSetupTokenInvalid and
// changes nothing. Setting the password ends every session of the account
// and lifts a lockout (whoever holds the link controls the mailbox). It
// returns the account; the console then sends the user to the login page.
func (s *Service) RedeemSetup(ctx context.Context, db bun.IDB, token, newPassword, tenantSlug string) (Staff, error) {
	if !wellFormedToken(token) {
		return Staff{}, ErrSetupTokenInvalid
	}
	hash := opaqueTokenHash(token)
	now := s.clock()
	// Check the link before the (slow) password hash, so a wrong link is
	// answered at once; the consuming update below is what counts.
	tok, err := s.store.tokenByHash(ctx, db, hash)
	if err != nil {
		return Staff{}, err
	}
	if tok == nil || tok.UsedAt != nil || !now.Before(tok.ExpiresAt) {
		return Staff{}, ErrSetupTokenInvalid
	}
	st, err := s.store.staffByID(ctx, db, tok.StaffID)
	if err != nil {
		if apperr.KindOf(err) == apperr.KindNotFound {
			return Staff{}, ErrSetupTokenInvalid
		}
		return Staff{}, err
	}
	if st.Status != StatusActive {
		return Staff{}, ErrSetupTokenInvalid
	}
	if err := CheckPassword(newPassword, st.Email, tenantSlug); err != nil {
		return Staff{}, err
	}
	phc, err := s.hashPassword(ctx, newPassword)
	if err != nil {
		return Staff{}, err
	}
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		ok, err := s.store.useToken(ctx, tx, hash, now)
		if err != nil {
			return err
		}
		if !ok {
			return ErrSetupTokenInvalid // used or expired in the meantime
		}
		if err := s.store.setPassword(ctx, tx, st.ID, phc, now, true); err != nil {
			return err
		}
		if _, err := s.store.deleteSessions(ctx, tx, st.ID, ""); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("password", "", "set")
		ch.Add("link", "", tok.Purpose)
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: staffActor(st), Action: "staff.password_set", ObjectID: st.ID, Changes: ch})
	})
	if err != nil {
		return Staff{}, err
	}
	s.log.InfoContext(ctx, "staff password set", "staff_id", st.ID, "purpose", tok.Purpose)
	st.HasPassword, st.PasswordChangedAt, st.FailedLogins, st.LockedUntil = true, now, 0, time.Time{}
	return st, nil
}

// CheckSetupToken tells the console whether a link is still good before it
// shows the password form; it returns the account's e-mail address and the
// link's purpose.
func (s *Service) CheckSetupToken(ctx context.Context, db bun.IDB, token string) (email string, purpose TokenPurpose, err error) {
	if !wellFormedToken(token) {
		return "", "", ErrSetupTokenInvalid
	}
	tok, err := s.store.tokenByHash(ctx, db, opaqueTokenHash(token))
	if err != nil {
		return "", "", err
	}
	if tok == nil || tok.UsedAt != nil || !s.clock().Before(tok.ExpiresAt) {
		return "", "", ErrSetupTokenInvalid
	}
	st, err := s.store.staffByID(ctx, db, tok.StaffID)
	if err != nil || st.Status != StatusActive {
		return "", "", ErrSetupTokenInvalid
	}
	return st.Email, TokenPurpose(tok.Purpose), nil
}

// constantTimeEqual compares two strings in time independent of where they
// differ.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
