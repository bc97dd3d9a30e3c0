package identity_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/web"
)

// The helpers of these tests carry an ak (API key) or al (allow-list)
// prefix: the staff tests of this package live beside them.

const (
	akTenantA = "0190a1b2c3d4e5f60718293a4b5c6d7e"
	akTenantB = "0190ffeeddccbbaa9988776655443322"
)

var akOwner = identity.Principal{Kind: identity.PrincipalStaff, ID: "0190staff0001", Name: "owner@salon.example.jp", Role: "owner"}

func akMigrated(t *testing.T, db *bun.DB) {
	t.Helper()
	if _, err := dbx.Migrate(context.Background(), db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
}

// akClock is a settable clock.
type akClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *akClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *akClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func akCodeOf(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func akFieldsOf(err error) []string {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return nil
	}
	var out []string
	for _, f := range ae.Fields {
		out = append(out, f.Field+":"+f.Code)
	}
	return out
}

func akEntries(t *testing.T, db bun.IDB, action string) []auditlog.Entry {
	t.Helper()
	got, err := auditlog.Search(context.Background(), db, auditlog.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestParseAPIKey(t *testing.T) {
	secret := strings.Repeat("aZ9", 14) + "x" // 43 base62 characters
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"valid", "yk_" + akTenantA + "_" + secret, true},
		{"empty", "", false},
		{"no scheme", akTenantA + "_" + secret, false},
		{"other scheme", "sk_" + akTenantA + "_" + secret, false},
		{"upper-case tenant", "yk_" + strings.ToUpper(akTenantA) + "_" + secret, false},
		{"short tenant", "yk_" + akTenantA[:31] + "_" + secret + "x", false},
		{"short secret", "yk_" + akTenantA + "_" + secret[:42], false},
		{"long secret", "yk_" + akTenantA + "_" + secret + "x", false},
		{"no separator", "yk_" + akTenantA + "x" + secret, false},
		{"dash in secret", "yk_" + akTenantA + "_" + secret[:42] + "-", false},
		{"underscore in secret", "yk_" + akTenantA + "_" + secret[:42] + "_", false},
		{"space", "yk_" + akTenantA + "_" + secret[:42] + " ", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tenant, sec, ok := identity.ParseAPIKey(c.in)
			if ok != c.ok {
				t.Fatalf("ParseAPIKey(%q) ok = %v, want %v", c.in, ok, c.ok)
			}
			if ok && (tenant != akTenantA || sec != secret) {
				t.Fatalf("ParseAPIKey(%q) = %q, %q", c.in, tenant, sec)
			}
			if !ok && (tenant != "" || sec != "") {
				t.Fatalf("a refused key returned parts %q, %q", tenant, sec)
			}
		})
	}
}

func TestAPIKeyLifecycle(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		akMigrated(t, db)
		ctx := context.Background()
		clock := &akClock{t: time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)}
		svc := identity.NewAPIKeyService(identity.APIKeyConfig{Now: clock.Now})

		key, k, err := svc.CreateAPIKey(ctx, db, akTenantA, akOwner, "  予約連携 ", "viewer")
		if err != nil {
			t.Fatal(err)
		}
		tenant, secret, ok := identity.ParseAPIKey(key)
		if !ok || tenant != akTenantA {
			t.Fatalf("created key %q does not parse to its tenant", key)
		}
		if k.Name != "予約連携" || k.Role != "viewer" || k.Prefix != "yk_…_"+secret[:6] || k.CreatedBy != "staff:"+akOwner.ID ||
			k.CreatedByName != akOwner.Name || !k.CreatedAt.Equal(clock.Now()) || !k.LastUsedAt.IsZero() || k.Revoked() {
			t.Fatalf("created %+v", k)
		}
		key2, k2, err := svc.CreateAPIKey(ctx, db, akTenantA, identity.Principal{}, "cli", "admin")
		if err != nil || key2 == key || k2.CreatedBy != "system" {
			t.Fatalf("second key %q %+v %v", key2, k2, err)
		}

		list, err := svc.ListAPIKeys(ctx, db)
		if err != nil || len(list) != 2 {
			t.Fatalf("list %+v %v", list, err)
		}
		if list[1] != k {
			t.Fatalf("listed %+v, created %+v", list[1], k)
		}

		p, err := svc.AuthenticateAPIKey(ctx, db, key)
		if err != nil {
			t.Fatal(err)
		}
		want := identity.Principal{Kind: identity.PrincipalAPIKey, ID: k.ID, Name: "予約連携", Role: "viewer"}
		if !slices.Equal(p.MenuIDs, want.MenuIDs) || p.Kind != want.Kind || p.ID != want.ID || p.Name != want.Name || p.Role != want.Role {
			t.Fatalf("principal %+v, want %+v", p, want)
		}
		if p.Subject() != "apikey:"+k.ID {
			t.Fatalf("subject %q", p.Subject())
		}

		created := akEntries(t, db, identity.AuditAPIKeyCreate)
		if len(created) != 2 {
			t.Fatalf("apikey.create entries: %+v", created)
		}
		e := created[1]
		if e.Actor.Kind != auditlog.ActorStaff || e.Actor.ID != akOwner.ID || e.ObjectType != "api_key" || e.ObjectID != k.ID {
			t.Fatalf("create entry %+v", e)
		}
		if created[0].Actor.Kind != auditlog.ActorSystem {
			t.Fatalf("a key made by the CLI is logged as %+v", created[0].Actor)
		}
		if b, _ := json.Marshal(e.Changes); !strings.Contains(string(b), "viewer") || strings.Contains(string(b), secret) {
			t.Fatalf("create changes %s", b)
		}

		clock.Add(time.Hour)
		revoked, err := svc.RevokeAPIKey(ctx, db, akOwner, k.ID)
		if err != nil || !revoked.RevokedAt.Equal(clock.Now()) {
			t.Fatalf("revoke: %+v %v", revoked, err)
		}
		if _, err := svc.AuthenticateAPIKey(ctx, db, key); !errors.Is(err, identity.ErrAPIKeyInvalid) {
			t.Fatalf("a revoked key authenticates: %v", err)
		}
		if _, err := svc.AuthenticateAPIKey(ctx, db, key2); err != nil {
			t.Fatalf("revoking one key revoked another: %v", err)
		}
		again, err := svc.RevokeAPIKey(ctx, db, akOwner, k.ID)
		if err != nil || !again.RevokedAt.Equal(revoked.RevokedAt) {
			t.Fatalf("revoking again: %+v %v", again, err)
		}
		if got := akEntries(t, db, identity.AuditAPIKeyRevoke); len(got) != 1 || got[0].ObjectID != k.ID || got[0].Actor.ID != akOwner.ID {
			t.Fatalf("apikey.revoke entries: %+v", got)
		}
		for _, id := range []string{"", "nope", strings.Repeat("0", 32), k.ID[:31] + "'"} {
			if _, err := svc.RevokeAPIKey(ctx, db, akOwner, id); !errors.Is(err, identity.ErrAPIKeyNotFound) {
				t.Fatalf("revoke %q: %v", id, err)
			}
		}
		got, err := svc.GetAPIKey(ctx, db, k.ID)
		if err != nil || !got.Revoked() {
			t.Fatalf("get revoked key: %+v %v", got, err)
		}
		if list, _ := svc.ListAPIKeys(ctx, db); len(list) != 2 || !list[1].Revoked() || list[0].Revoked() {
			t.Fatalf("list after revoke %+v", list)
		}
		for _, bad := range []string{"", "yk_", key + "x", strings.Replace(key, "yk_", "YK_", 1)} {
			if _, err := svc.AuthenticateAPIKey(ctx, db, bad); !errors.Is(err, identity.ErrAPIKeyInvalid) {
				t.Fatalf("authenticate %q: %v", bad, err)
			}
		}
		if rep, err := auditlog.Verify(ctx, db); err != nil || !rep.OK() {
			t.Fatalf("audit chain %+v %v", rep, err)
		}
	})
}

func TestAPIKeyValidation(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		akMigrated(t, db)
		ctx := context.Background()
		svc := identity.NewAPIKeyService(identity.APIKeyConfig{
			ValidRole: func(r string) bool { return slices.Contains([]string{"owner", "admin", "staff", "viewer"}, r) },
		})
		cases := []struct {
			name, keyName, role string
			want                []string
		}{
			{"empty", "", " ", []string{"name:required", "role:required"}},
			{"long name", strings.Repeat("名", 101), "viewer", []string{"name:max"}},
			{"line break", "a\nb", "viewer", []string{"name:nocontrol"}},
			{"unknown role", "x", "superuser", []string{"role:apikey_role"}},
		}
		for _, c := range cases {
			_, _, err := svc.CreateAPIKey(ctx, db, akTenantA, akOwner, c.keyName, c.role)
			if got := akFieldsOf(err); !slices.Equal(got, c.want) {
				t.Errorf("%s: fields %v, want %v (%v)", c.name, got, c.want, err)
			}
		}
		if _, _, err := svc.CreateAPIKey(ctx, db, "not-a-tenant", akOwner, "x", "viewer"); err == nil || apperr.KindOf(err) != apperr.KindInternal {
			t.Errorf("a malformed tenant id: %v", err)
		}
		if list, _ := svc.ListAPIKeys(ctx, db); len(list) != 0 {
			t.Errorf("refused keys were stored: %+v", list)
		}
		if got := akEntries(t, db, "apikey."); len(got) != 0 {
			t.Errorf("refused keys were logged: %+v", got)
		}
	})
}

// Neither the key nor its secret reaches the database: not the key table,
// not the operation log.
func TestAPIKeySecretIsNeverStored(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		akMigrated(t, db)
		ctx := context.Background()
		svc := identity.NewAPIKeyService(identity.APIKeyConfig{})
		var secrets []string
		for i := range 3 {
			key, k, err := svc.CreateAPIKey(ctx, db, akTenantA, akOwner, fmt.Sprint("key ", i), "viewer")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.AuthenticateAPIKey(ctx, db, key); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if _, err := svc.RevokeAPIKey(ctx, db, akOwner, k.ID); err != nil {
					t.Fatal(err)
				}
			}
			_, secret, _ := identity.ParseAPIKey(key)
			secrets = append(secrets, key, secret, secret[6:])
		}
		for _, table := range []string{"api_keys", "audit_entries"} {
			var rows []map[string]any
			if err := db.NewSelect().TableExpr(table).Scan(ctx, &rows); err != nil {
				t.Fatal(err)
			}
			if len(rows) < 3 {
				t.Fatalf("%s: %d rows", table, len(rows))
			}
			for _, row := range rows {
				for col, v := range row {
					s := fmt.Sprintf("%s", v)
					for _, sec := range secrets {
						if strings.Contains(s, sec) {
							t.Errorf("%s.%s holds a secret: %q", table, col, s)
						}
					}
				}
			}
		}
	})
}

// A key belongs to the tenant named in it: its secret under another
// tenant's id matches nothing, in either tenant's database.
func TestAPIKeyOfAnotherTenantFails(t *testing.T) {
	for _, eng := range dbtest.Engines {
		t.Run(string(eng), func(t *testing.T) {
			dbA, dbB := dbtest.NewDB(t, eng), dbtest.NewDB(t, eng)
			akMigrated(t, dbA)
			akMigrated(t, dbB)
			ctx := context.Background()
			svc := identity.NewAPIKeyService(identity.APIKeyConfig{})
			keyA, _, err := svc.CreateAPIKey(ctx, dbA, akTenantA, akOwner, "a", "viewer")
			if err != nil {
				t.Fatal(err)
			}
			keyB, _, err := svc.CreateAPIKey(ctx, dbB, akTenantB, akOwner, "b", "viewer")
			if err != nil {
				t.Fatal(err)
			}
			_, secretA, _ := identity.ParseAPIKey(keyA)
			forged := "yk_" + akTenantB + "_" + secretA
			for _, c := range []struct {
				name string
				db   bun.IDB
				key  string
			}{
				{"A's secret under B's id, in B", dbB, forged},
				{"A's secret under B's id, in A", dbA, forged},
				{"A's key in B", dbB, keyA},
				{"B's key in A", dbA, keyB},
			} {
				if _, err := svc.AuthenticateAPIKey(ctx, c.db, c.key); !errors.Is(err, identity.ErrAPIKeyInvalid) {
					t.Errorf("%s: %v", c.name, err)
				}
			}
			if _, err := svc.AuthenticateAPIKey(ctx, dbA, keyA); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAPIKeyLastUsedIsWrittenAtMostOnceAMinute(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		akMigrated(t, db)
		ctx := context.Background()
		t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
		clock := &akClock{t: t0}
		svc := identity.NewAPIKeyService(identity.APIKeyConfig{Now: clock.Now})
		key, k, err := svc.CreateAPIKey(ctx, db, akTenantA, akOwner, "a", "viewer")
		if err != nil {
			t.Fatal(err)
		}
		lastUsed := func() time.Time {
			t.Helper()
			got, err := svc.GetAPIKey(ctx, db, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.LastUsedAt
		}
		steps := []struct {
			advance time.Duration
			want    time.Time
		}{
			{10 * time.Second, t0.Add(10 * time.Second)}, // first use
			{30 * time.Second, t0.Add(10 * time.Second)}, // 30 s later: not written
			{29 * time.Second, t0.Add(10 * time.Second)}, // 59 s after the last write
			{2 * time.Second, t0.Add(71 * time.Second)},  // 61 s: written
			{time.Hour, t0.Add(time.Hour + 71*time.Second)},
		}
		for i, s := range steps {
			clock.Add(s.advance)
			if _, err := svc.AuthenticateAPIKey(ctx, db, key); err != nil {
				t.Fatal(err)
			}
			if got := lastUsed(); !got.Equal(s.want) {
				t.Fatalf("step %d: last used %v, want %v", i, got, s.want)
			}
		}
	})
}

// Revocation races use: once RevokeAPIKey has returned, no authentication
// that starts afterwards succeeds, and of concurrent revocations exactly one
// is logged.
func TestAPIKeyConcurrentRevocationAndUse(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		akMigrated(t, db)
		ctx := context.Background()
		svc := identity.NewAPIKeyService(identity.APIKeyConfig{})
		key, k, err := svc.CreateAPIKey(ctx, db, akTenantA, akOwner, "racy", "viewer")
		if err != nil {
			t.Fatal(err)
		}
		var revoked, stop atomic.Bool
		var before, lateSuccesses, failures atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for range 8 {
			wg.Go(func() {
				for !stop.Load() {
					after := revoked.Load()
					_, err := svc.AuthenticateAPIKey(ctx, db, key)
					switch {
					case err == nil && after:
						lateSuccesses.Add(1)
					case err == nil:
						before.Add(1)
					case errors.Is(err, identity.ErrAPIKeyInvalid):
						failures.Add(1)
					default:
						select {
						case errs <- err:
						default:
						}
						return
					}
				}
			})
		}
		// Let the users run for a moment, then revoke from several places.
		for before.Load() < 20 {
			time.Sleep(time.Millisecond)
		}
		var rw sync.WaitGroup
		for range 4 {
			rw.Go(func() {
				if _, err := svc.RevokeAPIKey(ctx, db, akOwner, k.ID); err != nil {
					errs <- err
				}
			})
		}
		rw.Wait()
		revoked.Store(true)
		for failures.Load() < 20 {
			time.Sleep(time.Millisecond)
		}
		stop.Store(true)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := lateSuccesses.Load(); n != 0 {
			t.Fatalf("%d authentications after the revocation succeeded", n)
		}
		if got := akEntries(t, db, identity.AuditAPIKeyRevoke); len(got) != 1 {
			t.Fatalf("%d apikey.revoke entries, want 1", len(got))
		}
	})
}

// akEnv is a tenant API on a real registry: tenants by id, each with its
// own provisioned database.
type akEnv struct {
	reg     *tenantdb.Registry
	tenants map[string]tenants.Tenant
	keys    *identity.APIKeyService
	allow   *identity.AllowListService
	router  *gin.Engine
}

type akTenantCtxKey struct{}

func akNewEnv(t *testing.T, loc dbx.Location) *akEnv {
	t.Helper()
	ctx := context.Background()
	cfg := tenantdb.Config{Engine: loc.Engine, DataDir: loc.DataDir, Migrations: migrations.Tenant(string(loc.Engine))}
	if loc.Engine == dbx.MySQL {
		cfg.Servers = map[string]string{tenantdb.DefaultServer: loc.MySQLDSN}
	}
	reg, err := tenantdb.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	e := &akEnv{reg: reg, tenants: map[string]tenants.Tenant{},
		keys:  identity.NewAPIKeyService(identity.APIKeyConfig{}),
		allow: identity.NewAllowListService(identity.AllowListConfig{}),
	}
	add := func(slug string, status tenants.Status, options ...string) {
		u := uuid.Must(uuid.NewV7())
		id := hex.EncodeToString(u[:])
		p := tenantdb.Placement{TenantID: id, Name: loc.TenantDatabase(id)}
		if loc.Engine == dbx.MySQL {
			p.Server = tenantdb.DefaultServer
		}
		if status != tenants.StatusTerminated {
			if err := reg.Provision(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		e.tenants[slug] = tenants.Tenant{ID: id, Slug: slug, Name: slug, Status: status, Options: options, DB: p}
	}
	add("salon-a", tenants.StatusActive, "api")
	add("salon-b", tenants.StatusActive, "api")
	add("paused", tenants.StatusSuspended, "api")
	add("closed", tenants.StatusTerminated, "api")
	add("no-api", tenants.StatusActive)

	cat, err := i18n.Load(web.FS, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	r, err := httpx.New(httpx.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	api := r.Group("/api/v1", identity.APIKeyAuth(identity.APIKeyAuthConfig{
		Tenant: func(_ context.Context, id string) (tenants.Tenant, error) {
			for _, t := range e.tenants {
				if t.ID == id {
					return t, nil
				}
			}
			return tenants.Tenant{}, tenants.ErrNotFound
		},
		WithTenant: func(ctx context.Context, t tenants.Tenant) context.Context {
			return context.WithValue(ctx, akTenantCtxKey{}, t)
		},
		Registry:  reg,
		Keys:      e.keys,
		AllowList: e.allow,
		Option:    "api",
	}))
	api.GET("/whoami", akWhoami)
	e.router = r
	return e
}

// akWhoami answers what the middleware put into the context.
func akWhoami(c *gin.Context) {
	ctx := c.Request.Context()
	p, _ := identity.PrincipalFrom(ctx)
	req, _ := auditlog.RequestFrom(ctx)
	t, _ := ctx.Value(akTenantCtxKey{}).(tenants.Tenant)
	db, err := tenantdb.From(ctx)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var owner string
	if err := db.NewSelect().Table("tenant_info").Column("tenant_id").Scan(ctx, &owner); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, map[string]string{
		"subject": p.Subject(), "role": p.Role, "tenant": t.Slug, "db_tenant": owner,
		"actor": req.Actor.ID, "source_ip": req.SourceIP, "user_agent": req.UserAgent, "request_id": req.RequestID,
	})
}

func (e *akEnv) tenant(slug string) tenants.Tenant { return e.tenants[slug] }

// db returns slug's database for the test's own reads and writes.
func (e *akEnv) db(t *testing.T, slug string) bun.IDB {
	t.Helper()
	h, err := e.reg.Acquire(context.Background(), e.tenants[slug].DB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Release)
	db, _ := h.DB(context.Background())
	return db
}

func (e *akEnv) newKey(t *testing.T, slug, role string) (string, identity.APIKey) {
	t.Helper()
	key, k, err := e.keys.CreateAPIKey(context.Background(), e.db(t, slug), e.tenants[slug].ID, akOwner, slug+" key", role)
	if err != nil {
		t.Fatal(err)
	}
	return key, k
}

type akCall struct {
	auth   string // the Authorization header; "" for none
	remote string // the client address; "" for 192.0.2.10
}

func (e *akEnv) do(t *testing.T, c akCall) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil)
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	req.Header.Set("User-Agent", "integration-test/1.0")
	req.Header.Set("Accept-Language", "en")
	remote := c.remote
	if remote == "" {
		remote = "192.0.2.10"
	}
	if strings.Contains(remote, ":") {
		remote = "[" + remote + "]"
	}
	req.RemoteAddr = remote + ":40000"
	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, req)
	return w
}

type akProblem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Title  string `json:"title"`
}

func akDecode(t *testing.T, w *httptest.ResponseRecorder) (akProblem, map[string]string) {
	t.Helper()
	if w.Code != http.StatusOK {
		var p akProblem
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Fatalf("status %d with content type %q: %s", w.Code, ct, w.Body)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		return p, nil
	}
	var out map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return akProblem{Status: 200}, out
}

func TestAPIKeyAuthMiddleware(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := akNewEnv(t, loc)
		keyA, kA := e.newKey(t, "salon-a", "viewer")
		keyB, kB := e.newKey(t, "salon-b", "admin")
		keyPaused, _ := e.newKey(t, "paused", "viewer")
		keyNoAPI, _ := e.newKey(t, "no-api", "viewer")
		keyOld, kOld := e.newKey(t, "salon-a", "admin")
		if _, err := e.keys.RevokeAPIKey(context.Background(), e.db(t, "salon-a"), akOwner, kOld.ID); err != nil {
			t.Fatal(err)
		}
		_, secretA, _ := identity.ParseAPIKey(keyA)
		closedKey := "yk_" + e.tenant("closed").ID + "_" + secretA
		unknownTenant := "yk_" + strings.Repeat("ab", 16) + "_" + secretA

		cases := []struct {
			name        string
			call        akCall
			wantStatus  int
			wantCode    string
			wantSubject string
			wantTenant  string
		}{
			{"no credential", akCall{}, 401, "unauthorized", "", ""},
			{"basic auth", akCall{auth: "Basic " + keyA}, 401, "unauthorized", "", ""},
			{"not a key", akCall{auth: "Bearer operator-token"}, 401, "api_key_invalid", "", ""},
			{"valid key of A", akCall{auth: "Bearer " + keyA}, 200, "", "apikey:" + kA.ID, "salon-a"},
			{"lower-case scheme", akCall{auth: "bearer " + keyA}, 200, "", "apikey:" + kA.ID, "salon-a"},
			{"valid key of B", akCall{auth: "Bearer " + keyB}, 200, "", "apikey:" + kB.ID, "salon-b"},
			{"A's secret under B's id", akCall{auth: "Bearer yk_" + e.tenant("salon-b").ID + "_" + secretA}, 401, "api_key_invalid", "", ""},
			{"unknown tenant", akCall{auth: "Bearer " + unknownTenant}, 401, "api_key_invalid", "", ""},
			{"revoked key", akCall{auth: "Bearer " + keyOld}, 401, "api_key_invalid", "", ""},
			{"suspended tenant", akCall{auth: "Bearer " + keyPaused}, 403, "tenant_suspended", "", ""},
			{"suspended tenant, wrong key", akCall{auth: "Bearer yk_" + e.tenant("paused").ID + "_" + secretA}, 401, "api_key_invalid", "", ""},
			{"terminated tenant", akCall{auth: "Bearer " + closedKey}, 410, "tenant_terminated", "", ""},
			{"tenant without the API option", akCall{auth: "Bearer " + keyNoAPI}, 403, "api_not_enabled", "", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				w := e.do(t, c.call)
				if w.Code != c.wantStatus {
					t.Fatalf("status %d, want %d: %s", w.Code, c.wantStatus, w.Body)
				}
				p, body := akDecode(t, w)
				if c.wantStatus != 200 {
					if p.Code != c.wantCode || p.Title == "" {
						t.Fatalf("problem %+v, want code %s", p, c.wantCode)
					}
					if c.wantStatus == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
						t.Fatalf("401 without WWW-Authenticate: Bearer: %q", w.Header().Get("WWW-Authenticate"))
					}
					return
				}
				tenant := e.tenant(c.wantTenant)
				if body["subject"] != c.wantSubject || body["tenant"] != c.wantTenant || body["db_tenant"] != tenant.ID {
					t.Fatalf("whoami %v", body)
				}
				if body["source_ip"] != "192.0.2.10" || body["user_agent"] != "integration-test/1.0" ||
					body["request_id"] != w.Header().Get(httpx.HeaderRequestID) || body["actor"] != strings.TrimPrefix(c.wantSubject, "apikey:") {
					t.Fatalf("audit request facts %v (request id %s)", body, w.Header().Get(httpx.HeaderRequestID))
				}
			})
		}

		// The valid key's use was recorded; the revoked key's attempt was logged.
		ctx := context.Background()
		got, err := e.keys.GetAPIKey(ctx, e.db(t, "salon-a"), kA.ID)
		if err != nil || got.LastUsedAt.IsZero() {
			t.Fatalf("last used of a used key: %+v %v", got, err)
		}
		failed := akEntries(t, e.db(t, "salon-a"), identity.AuditAPIKeyAuthFailed)
		if len(failed) != 1 || failed[0].Result != auditlog.ResultFailed || failed[0].SourceIP != "192.0.2.10" ||
			failed[0].ObjectID != kOld.Prefix || failed[0].Actor.Kind != auditlog.ActorAnonymous {
			t.Fatalf("apikey.auth_failed entries in A: %+v", failed)
		}
		// A's forged key was tried against B: B's log has it, A's does not twice.
		if got := akEntries(t, e.db(t, "salon-b"), identity.AuditAPIKeyAuthFailed); len(got) != 1 {
			t.Fatalf("apikey.auth_failed entries in B: %+v", got)
		}
	})
}
