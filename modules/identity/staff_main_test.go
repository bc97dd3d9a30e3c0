package identity

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// TestMain is the package's only one: every test file of package identity
// shares it.
func TestMain(m *testing.M) { dbtest.Main(m) }

// fakeClock is a settable clock for timeouts and lockouts.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	testSlug     = "salon-hanami"
	testPassword = "sakura-zebra-umbrella-42"
	otherIP      = "198.51.100.20"
	testIP       = "203.0.113.7"
	testUA       = "Mozilla/5.0 (test)"
)

// env is one engine's fixture: a migrated tenant database, a service on a
// fake clock, and a context carrying a request (as the edge would).
type env struct {
	t     *testing.T
	db    *bun.DB
	svc   *Service
	clock *fakeClock
	ctx   context.Context
}

func newEnv(t *testing.T, db *bun.DB, mods ...func(*Config)) *env {
	t.Helper()
	if _, err := dbx.Migrate(context.Background(), db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	cfg := Config{Now: clock.Now, Password: TestPasswordParams()}
	for _, m := range mods {
		m(&cfg)
	}
	svc, err := NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := auditlog.WithRequest(context.Background(), auditlog.Request{SourceIP: testIP, UserAgent: testUA, RequestID: "req-test"})
	return &env{t: t, db: db, svc: svc, clock: clock, ctx: ctx}
}

// owner makes the tenant's owner with testPassword and returns it.
func (e *env) owner(email string) Staff {
	e.t.Helper()
	st, token, err := e.svc.CreateOwner(e.ctx, e.db, email, "オーナー")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.RedeemSetup(e.ctx, e.db, token, testPassword, testSlug); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// invited makes a staff account with role and testPassword.
func (e *env) invited(inviter Staff, email, role string) Staff {
	e.t.Helper()
	st, token, err := e.svc.Invite(e.ctx, e.db, inviter.Principal(""), email, "スタッフ", role)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.RedeemSetup(e.ctx, e.db, token, testPassword, testSlug); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// login signs in with testPassword from testIP and returns the token.
func (e *env) login(email string) string {
	e.t.Helper()
	token, _, _, err := e.svc.Login(e.ctx, e.db, testSlug, email, testPassword, testIP, testUA)
	if err != nil {
		e.t.Fatalf("login %s: %v", email, err)
	}
	return token
}

// auth authenticates token and fails the test on error.
func (e *env) auth(token string) (Principal, Session) {
	e.t.Helper()
	p, sess, err := e.svc.Authenticate(e.ctx, e.db, token)
	if err != nil {
		e.t.Fatalf("authenticate: %v", err)
	}
	return p, sess
}

// entries returns the operation log entries with action, newest first.
func (e *env) entries(action string) []auditlog.Entry {
	e.t.Helper()
	got, err := auditlog.Search(e.ctx, e.db, auditlog.Filter{Action: action, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func (e *env) countEntries(action string) int { return len(e.entries(action)) }

// wantCode fails unless err is an *apperr.Error with code.
func wantCode(t *testing.T, err error, code string) *apperr.Error {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("error = %v, want code %q", err, code)
	}
	return ae
}

// wantField fails unless err is a validation error with field and code.
func wantField(t *testing.T, err error, field, code string) {
	t.Helper()
	ae := wantCode(t, err, "validation")
	for _, f := range ae.Fields {
		if f.Field == field && f.Code == code {
			return
		}
	}
	t.Fatalf("fields %+v, want %s: %s", ae.Fields, field, code)
}
