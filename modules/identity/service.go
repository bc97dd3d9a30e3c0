package identity

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Config wires a Service. Zero fields take the defaults.
type Config struct {
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default: discard

	// Password is the argon2id cost of new password hashes (default
	// DefaultPasswordParams(); fields left zero take theirs). Stored hashes carry their own parameters, so
	// raising the cost later upgrades each hash at its owner's next login.
	Password PasswordParams
	// MaxConcurrentHashes bounds the argon2id computations running at once
	// (default 4): each holds Password.Memory, so a burst of logins cannot
	// exhaust the server's memory; the others wait their turn.
	MaxConcurrentHashes int

	// SessionIdle and SessionAbsolute are the session timeouts of tenants
	// that have not set their own (defaults 30 minutes and 12 hours).
	SessionIdle     time.Duration
	SessionAbsolute time.Duration

	// SecretKey, when set (32 bytes), seals TOTP secrets at rest with
	// AES-256-GCM, so a copy of a tenant database alone does not yield
	// working second factors. Without it secrets are stored as they are;
	// secrets stored unsealed still open after a key is configured.
	SecretKey []byte
	// Issuer names the service in authenticator apps (default "Yoyaku"); the
	// tenant's slug is appended.
	Issuer string
}

// Service manages staff accounts, their passwords, console sessions and
// TOTP second factors in a tenant database. Every method takes the tenant's
// database (tenantdb.From at the edge) and runs its changes, with their
// operation-log entries, in one transaction. It is safe for concurrent use.
type Service struct {
	now      func() time.Time
	log      *slog.Logger
	params   PasswordParams
	hashSem  chan struct{}
	idle     time.Duration
	absolute time.Duration
	aead     secretSealer
	issuer   string
	store    staffStore

	dummyHash string // a hash of nothing, verified for unknown users
}

// Defaults of Config.
const (
	DefaultSessionIdle     = 30 * time.Minute
	DefaultSessionAbsolute = 12 * time.Hour
	defaultConcurrency     = 4
)

// NewService returns an identity service. It fails only for a SecretKey of
// the wrong size. It computes one password hash, so it takes as long as a
// login.
func NewService(cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Password = cfg.Password.withDefaults()
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = defaultConcurrency
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionAbsolute <= 0 {
		cfg.SessionAbsolute = DefaultSessionAbsolute
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "Yoyaku"
	}
	sealer, err := newSecretSealer(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	s := &Service{
		now: cfg.Now, log: cfg.Logger, params: cfg.Password,
		hashSem: make(chan struct{}, cfg.MaxConcurrentHashes),
		idle:    cfg.SessionIdle, absolute: cfg.SessionAbsolute,
		aead: sealer, issuer: cfg.Issuer,
	}
	// Made now, with the current cost, so that the first unknown address
	// takes no longer to refuse than the next.
	if s.dummyHash, err = s.hashPassword(context.Background(), "no account has this password"); err != nil {
		return nil, err
	}
	return s, nil
}

// clock returns the current instant in UTC at the precision both engines
// store, so that what is written compares equal to what is read back.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// inTx runs fn in a transaction of db.
func inTx(ctx context.Context, db bun.IDB, fn func(ctx context.Context, tx bun.Tx) error) error {
	return db.RunInTx(ctx, nil, fn)
}

// staffActor is st as the operation log records it.
func staffActor(st Staff) auditlog.Actor {
	return auditlog.Actor{Kind: auditlog.ActorStaff, ID: st.ID, Name: st.Email, Role: st.Role}
}

// systemActor is the platform acting on its own (tenant provisioning).
var systemActor = auditlog.Actor{Kind: auditlog.ActorSystem, Name: "system"}

// audit appends one entry about staff member st in tx.
func audit(ctx context.Context, tx bun.IDB, e auditlog.Entry) error {
	if e.ObjectType == "" {
		e.ObjectType = "staff"
	}
	if _, err := auditlog.Append(ctx, tx, e); err != nil {
		return apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	return nil
}

// dbErr wraps an unexpected database failure.
func dbErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return apperr.Wrap(apperr.KindInternal, "internal", err)
}
