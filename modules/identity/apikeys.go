package identity

// API keys authenticate integrators on the tenant API (/api/v1/...). A key
// reads yk_<tenant-id>_<secret>: the tenant id (32 hex digits) tells the
// server which tenant database to open before it looks the key up, and the
// secret is 43 base62 characters (256 random bits). Only the SHA-256 of the
// whole key is stored: a key has enough entropy that a slow password hash
// would buy nothing, and hashing the whole string binds the secret to its
// tenant, so a secret presented under another tenant's id matches nothing,
// even in a database restored to the wrong place.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/validate"
)

// The form of an API key.
const (
	APIKeyScheme    = "yk_" // every key starts with it, so scanners and people recognise one
	apiKeyTenantLen = 32    // hex digits of a tenant id
	apiKeySecretLen = 43    // base62 characters: 43 × log2(62) ≈ 256 bits
	apiKeyHintLen   = 6     // characters of the secret kept to recognise a key in lists
	apiKeyBase62    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// APIKeyLastUsedEvery is how stale an API key's last-used time may be: it
// is written at most once per key per interval, not on every request.
const APIKeyLastUsedEvery = time.Minute

// The actions API keys write to the operation log.
const (
	AuditAPIKeyCreate     = "apikey.create"
	AuditAPIKeyRevoke     = "apikey.revoke"
	AuditAPIKeyAuthFailed = "apikey.auth_failed"
)

// Errors about API keys.
var (
	// ErrAPIKeyInvalid answers a key that is malformed, unknown, revoked or
	// presented under the wrong tenant: one answer for all, so a caller
	// learns nothing about which.
	ErrAPIKeyInvalid = apperr.New(apperr.KindUnauthorized, "api_key_invalid")
	// ErrAPIKeyNotFound: no key with that id in this tenant.
	ErrAPIKeyNotFound = apperr.New(apperr.KindNotFound, "api_key_not_found")
)

// APIKey is a tenant API key as staff see it: never its secret.
type APIKey struct {
	ID            string
	Name          string
	Role          string    // the role it acts with (Casbin subject "apikey:<id>")
	Prefix        string    // "yk_…_AbCdEf": recognisable, useless to an attacker
	CreatedBy     string    // the creator's subject ("staff:<id>"), or "system" (the CLI)
	CreatedByName string    // the creator's name at the time
	CreatedAt     time.Time // UTC
	LastUsedAt    time.Time // zero: never used; at most APIKeyLastUsedEvery old
	RevokedAt     time.Time // zero: active
}

// Revoked reports whether the key was revoked.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// Principal is the key as the authenticated party of a request.
func (k APIKey) Principal() Principal {
	return Principal{Kind: PrincipalAPIKey, ID: k.ID, Name: k.Name, Role: k.Role}
}

// ParseAPIKey splits a key into its tenant id and secret; ok is false when
// s does not have the form of a key. It says nothing about whether the key
// exists.
func ParseAPIKey(s string) (tenantID, secret string, ok bool) {
	rest, found := strings.CutPrefix(s, APIKeyScheme)
	if !found || len(rest) != apiKeyTenantLen+1+apiKeySecretLen || rest[apiKeyTenantLen] != '_' {
		return "", "", false
	}
	tenantID, secret = rest[:apiKeyTenantLen], rest[apiKeyTenantLen+1:]
	if !apiKeyIsHex(tenantID) || !apiKeyIsBase62(secret) {
		return "", "", false
	}
	return tenantID, secret, true
}

func apiKeyIsHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

func apiKeyIsBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(apiKeyBase62, rune(s[i])) {
			return false
		}
	}
	return true
}

// apiKeyNewSecret draws apiKeySecretLen uniform base62 characters
// (rejection sampling: bytes ≥ 248 would bias the alphabet).
func apiKeyNewSecret() (string, error) {
	out := make([]byte, 0, apiKeySecretLen)
	buf := make([]byte, 64)
	for len(out) < apiKeySecretLen {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if b < 248 && len(out) < apiKeySecretLen {
				out = append(out, apiKeyBase62[b%62])
			}
		}
	}
	return string(out), nil
}

func apiKeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func apiKeyDisplay(hint string) string { return APIKeyScheme + "…_" + hint }

// APIKeyConfig configures an APIKeyService.
type APIKeyConfig struct {
	Logger *slog.Logger
	Now    func() time.Time
	// ValidRole, when set, refuses roles it does not know (the integrator
	// passes the role check of platform/authz); nil accepts any role name.
	ValidRole func(role string) bool
}

// APIKeyService creates, lists, revokes and authenticates API keys. Its
// functions take the tenant database; it holds no per-tenant state and is
// safe for concurrent use.
type APIKeyService struct {
	log       *slog.Logger
	now       func() time.Time
	validRole func(string) bool
	v         *validator.Validate
}

// NewAPIKeyService returns an API key service.
func NewAPIKeyService(cfg APIKeyConfig) *APIKeyService {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &APIKeyService{log: cfg.Logger, now: cfg.Now, validRole: cfg.ValidRole, v: validate.New()}
}

// apiKeyParams are the inputs of a new key, validated like a request body.
type apiKeyParams struct {
	Name string `json:"name" validate:"required,max=100,nocontrol"`
	Role string `json:"role" validate:"required,max=64,nocontrol"`
}

// CreateAPIKey makes a key for tenant tenantID (the id of the tenant whose
// database db is) acting with role, and returns the key itself, which is
// shown once and cannot be recovered, and its record. The creation is
// logged (apikey.create) without the secret.
func (s *APIKeyService) CreateAPIKey(ctx context.Context, db bun.IDB, tenantID string, creator Principal, name, role string) (string, APIKey, error) {
	p := apiKeyParams{Name: strings.TrimSpace(name), Role: strings.TrimSpace(role)}
	var fields []apperr.FieldError
	if err := validate.Struct(s.v, p); err != nil {
		var ae *apperr.Error
		if !errors.As(err, &ae) {
			return "", APIKey{}, err
		}
		fields = append(fields, ae.Fields...)
	}
	if p.Role != "" && s.validRole != nil && !s.validRole(p.Role) {
		fields = append(fields, apperr.Field("role", "apikey_role", map[string]any{"Role": p.Role}))
	}
	if len(fields) > 0 {
		return "", APIKey{}, apperr.Invalid(fields...)
	}
	if len(tenantID) != apiKeyTenantLen || !apiKeyIsHex(tenantID) {
		return "", APIKey{}, fmt.Errorf("identity: create API key: malformed tenant id %q", tenantID)
	}
	secret, err := apiKeyNewSecret()
	if err != nil {
		return "", APIKey{}, fmt.Errorf("identity: create API key: %w", err)
	}
	u, err := uuid.NewV7()
	if err != nil {
		return "", APIKey{}, fmt.Errorf("identity: create API key: %w", err)
	}
	key := APIKeyScheme + tenantID + "_" + secret
	k := APIKey{
		ID: hex.EncodeToString(u[:]), Name: p.Name, Role: p.Role, Prefix: apiKeyDisplay(secret[:apiKeyHintLen]),
		CreatedBy: "system", CreatedByName: apiKeyCut(creator.Name, 255),
		CreatedAt: s.now().UTC().Truncate(time.Microsecond),
	}
	if creator.Kind != "" {
		k.CreatedBy = creator.Subject()
	}
	row := apiKeyToRow(k, secret[:apiKeyHintLen], apiKeyHash(key))
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			if dbx.IsDuplicateKey(err) { // two equal 256-bit secrets: never, but never silently
				return fmt.Errorf("identity: create API key: duplicate: %w", err)
			}
			return fmt.Errorf("identity: create API key: %w", err)
		}
		var ch auditlog.Changes
		ch.Add("name", nil, k.Name)
		ch.Add("role", nil, k.Role)
		ch.Add("prefix", nil, k.Prefix)
		_, err := auditlog.Append(ctx, tx, auditlog.Entry{
			Actor: apiKeyActor(creator), Action: AuditAPIKeyCreate, ObjectType: "api_key", ObjectID: k.ID, Changes: ch,
		})
		return err
	})
	if err != nil {
		return "", APIKey{}, err
	}
	s.log.InfoContext(ctx, "api key created", "api_key_id", k.ID, "role", k.Role)
	return key, k, nil
}

// ListAPIKeys returns the tenant's keys, revoked ones included, newest first.
func (s *APIKeyService) ListAPIKeys(ctx context.Context, db bun.IDB) ([]APIKey, error) {
	var rows []apiKeyRow
	err := db.NewSelect().Model(&rows).OrderExpr("created_at DESC, id DESC").Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("identity: list API keys: %w", err)
	}
	out := make([]APIKey, 0, len(rows))
	for i := range rows {
		out = append(out, apiKeyFromRow(&rows[i]))
	}
	return out, nil
}

// GetAPIKey returns the key with id.
func (s *APIKeyService) GetAPIKey(ctx context.Context, db bun.IDB, id string) (APIKey, error) {
	if len(id) != 32 || !apiKeyIsHex(id) {
		return APIKey{}, ErrAPIKeyNotFound
	}
	var row apiKeyRow
	err := db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, ErrAPIKeyNotFound
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("identity: read API key: %w", err)
	}
	return apiKeyFromRow(&row), nil
}

// RevokeAPIKey revokes the key with id at once: no request authenticates
// with it after RevokeAPIKey returns. Revoking a revoked key changes
// nothing and succeeds; the first revocation is logged (apikey.revoke).
func (s *APIKeyService) RevokeAPIKey(ctx context.Context, db bun.IDB, actor Principal, id string) (APIKey, error) {
	if len(id) != 32 || !apiKeyIsHex(id) {
		return APIKey{}, ErrAPIKeyNotFound
	}
	var out APIKey
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		now := s.now().UTC().Truncate(time.Microsecond)
		// One guarded statement: of two concurrent revocations one wins,
		// and the winner alone writes the log entry.
		res, err := tx.NewUpdate().Model((*apiKeyRow)(nil)).Set("revoked_at = ?", now).
			Where("id = ?", id).Where("revoked_at IS NULL").Exec(ctx)
		if err != nil {
			return fmt.Errorf("identity: revoke API key: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("identity: revoke API key: %w", err)
		}
		var row apiKeyRow
		err = tx.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrAPIKeyNotFound
		}
		if err != nil {
			return fmt.Errorf("identity: revoke API key: %w", err)
		}
		out = apiKeyFromRow(&row)
		if n == 0 {
			return nil // revoked already
		}
		var ch auditlog.Changes
		ch.Add("revoked_at", nil, out.RevokedAt)
		_, err = auditlog.Append(ctx, tx, auditlog.Entry{
			Actor: apiKeyActor(actor), Action: AuditAPIKeyRevoke, ObjectType: "api_key", ObjectID: id, Changes: ch,
		})
		return err
	})
	if err != nil {
		return APIKey{}, err
	}
	s.log.InfoContext(ctx, "api key revoked", "api_key_id", id)
	return out, nil
}

// AuthenticateAPIKey returns the principal of key in the tenant database
// db. A malformed, unknown or revoked key, or one presented under another
// tenant's id, is ErrAPIKeyInvalid. The key's last-used time is brought up
// to date at most once per APIKeyLastUsedEvery.
func (s *APIKeyService) AuthenticateAPIKey(ctx context.Context, db bun.IDB, key string) (Principal, error) {
	if _, _, ok := ParseAPIKey(key); !ok {
		return Principal{}, ErrAPIKeyInvalid
	}
	var row apiKeyRow
	err := db.NewSelect().Model(&row).Where("key_hash = ?", apiKeyHash(key)).Where("revoked_at IS NULL").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrAPIKeyInvalid
	}
	if err != nil {
		return Principal{}, fmt.Errorf("identity: authenticate API key: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	cut := now.Add(-APIKeyLastUsedEvery)
	if row.LastUsedAt.IsZero() || row.LastUsedAt.Time.Before(cut) {
		// Guarded, so that of the requests of one minute a single one
		// writes. A failure here must not refuse a valid key: it is logged.
		_, err := db.NewUpdate().Model((*apiKeyRow)(nil)).Set("last_used_at = ?", now).
			Where("id = ?", row.ID).Where("(last_used_at IS NULL OR last_used_at < ?)", cut).Exec(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "recording an API key's last use", "api_key_id", row.ID, "err", err)
		}
	}
	return apiKeyFromRow(&row).Principal(), nil
}

// apiKeyActor is who the log names for p; a zero principal (the CLI) is
// left blank so that auditlog fills it from the request or as the system.
func apiKeyActor(p Principal) auditlog.Actor {
	if p.Kind == "" {
		return auditlog.Actor{}
	}
	return p.Actor()
}

func apiKeyCut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// apiKeyRow is a row of the tenant database's api_keys table.
type apiKeyRow struct {
	bun.BaseModel `bun:"table:api_keys"`

	ID            string       `bun:"id,pk"`
	Name          string       `bun:"name"`
	Role          string       `bun:"role"`
	Prefix        string       `bun:"prefix"`   // the secret's first characters
	KeyHash       string       `bun:"key_hash"` // SHA-256 of the whole key, hex
	CreatedBy     string       `bun:"created_by"`
	CreatedByName string       `bun:"created_by_name"`
	CreatedAt     time.Time    `bun:"created_at"`
	LastUsedAt    bun.NullTime `bun:"last_used_at"`
	RevokedAt     bun.NullTime `bun:"revoked_at"`
}

func apiKeyToRow(k APIKey, hint, hash string) *apiKeyRow {
	return &apiKeyRow{
		ID: k.ID, Name: k.Name, Role: k.Role, Prefix: hint, KeyHash: hash,
		CreatedBy: k.CreatedBy, CreatedByName: k.CreatedByName, CreatedAt: k.CreatedAt,
	}
}

func apiKeyFromRow(r *apiKeyRow) APIKey {
	k := APIKey{
		ID: r.ID, Name: r.Name, Role: r.Role, Prefix: apiKeyDisplay(r.Prefix),
		CreatedBy: r.CreatedBy, CreatedByName: r.CreatedByName, CreatedAt: r.CreatedAt.UTC(),
	}
	if !r.LastUsedAt.IsZero() {
		k.LastUsedAt = r.LastUsedAt.Time.UTC()
	}
	if !r.RevokedAt.IsZero() {
		k.RevokedAt = r.RevokedAt.Time.UTC()
	}
	return k
}
