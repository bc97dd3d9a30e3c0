// Package tenantdb is the tenant registry: it hands out the database of one
// tenant, and only that tenant, to the code serving a request.
//
// Every tenant has its own database. On SQLite that is a file,
// DATA_DIR/tenants/<name>.db, opened lazily with one writer connection and a
// small reader pool, and closed again when idle so that 10,000 tenants do not
// mean 10,000 open files. On MySQL/MariaDB the tenants placed on one server
// share one bounded connection pool: a request takes one connection and
// selects its tenant's database on it (USE), so the number of connections
// does not grow with the number of tenants.
//
// Handlers never pick a database: the tenant middleware resolves the tenant
// from the URL or the credentials, puts a lazily acquired Handle into the
// request context, and handlers take it from there. A database whose
// migrations lag the binary is refused (ErrBehind) until `yoyaku migrate`
// has run, and a database whose tenant_info names another tenant is refused
// too, so a wrong placement cannot leak one tenant's data to another.
package tenantdb

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// Placement says where a tenant's database lives.
type Placement struct {
	TenantID string // the tenant's id, recorded in its database's tenant_info
	Server   string // MySQL: the server's name in Config.Servers; SQLite: unused
	Name     string // the database name (MySQL) or file base name (SQLite)
}

// DefaultServer is the name of the server given by YOYAKU_MYSQL_DSN.
const DefaultServer = "default"

// Config configures a Registry.
type Config struct {
	Engine     dbx.Engine
	DataDir    string            // SQLite: tenant files live in DataDir/tenants
	Servers    map[string]string // MySQL: server name → server DSN
	MaxConns   int               // MySQL: connections per server pool (default 64)
	Readers    int               // SQLite: reader connections per open tenant (default 4)
	MaxOpen    int               // SQLite: open tenant files kept at most (default 512)
	IdleAfter  time.Duration     // SQLite: close a tenant file idle this long (default 5m)
	Migrations fs.FS             // tenant migrations for Engine
	Logger     *slog.Logger
	Now        func() time.Time
}

// Errors the registry returns.
var (
	// ErrBehind: the tenant database lacks migrations this binary needs.
	ErrBehind = apperr.New(apperr.KindUnavailable, "tenant_db_behind")
	// ErrMismatch: the database found at a placement belongs to another tenant.
	ErrMismatch = apperr.New(apperr.KindInternal, "tenant_db_mismatch")
	// ErrMissing: no database exists at the placement.
	ErrMissing = apperr.New(apperr.KindUnavailable, "tenant_db_missing")
	// ErrNoHandle: a handler asked for a tenant database outside a tenant route.
	ErrNoHandle = apperr.New(apperr.KindInternal, "tenant_db_no_handle")
)

// Stats describes the registry for metrics.
type Stats struct {
	OpenTenants int // SQLite: tenant files open now
	InUse       int // handles held by requests now
	Pools       map[string]PoolStats
}

// PoolStats are a MySQL server pool's numbers.
type PoolStats struct {
	Open, InUse, Idle, Max int
	WaitCount              int64
	WaitDuration           time.Duration
}

// Handle is one request's access to one tenant database. It acquires the
// database on first use and gives it back on Release. It is not safe for
// concurrent use: one request, one handle.
type Handle struct {
	reg     *Registry
	p       Placement
	db      bun.IDB
	release func()
	err     error
}

// DB returns the tenant's database. Selects outside a transaction may go to
// a reader connection; everything else, and all of RunInTx, goes to the
// writer.
func (h *Handle) DB(ctx context.Context) (bun.IDB, error) {
	if h == nil {
		return nil, ErrNoHandle
	}
	if h.db != nil || h.err != nil {
		return h.db, h.err
	}
	h.db, h.release, h.err = h.reg.acquire(ctx, h.p)
	return h.db, h.err
}

// Placement returns where the handle's database lives.
func (h *Handle) Placement() Placement { return h.p }

// Release gives the database back. It is safe to call more than once and on
// a handle that never acquired.
func (h *Handle) Release() {
	if h != nil && h.release != nil {
		h.release()
		h.release = nil
		h.db = nil
	}
}

type ctxKey struct{}

// WithHandle returns ctx carrying h.
func WithHandle(ctx context.Context, h *Handle) context.Context {
	return context.WithValue(ctx, ctxKey{}, h)
}

// From returns the tenant database of the request that ctx belongs to. It is
// the only way handlers and services reach a tenant database.
func From(ctx context.Context) (bun.IDB, error) {
	h, _ := ctx.Value(ctxKey{}).(*Handle)
	if h == nil {
		return nil, ErrNoHandle
	}
	return h.DB(ctx)
}

// HandleFrom returns the handle in ctx, or nil.
func HandleFrom(ctx context.Context) *Handle {
	h, _ := ctx.Value(ctxKey{}).(*Handle)
	return h
}

// IsBehind reports whether err says a tenant database needs migrating.
func IsBehind(err error) bool { return errors.Is(err, ErrBehind) }
