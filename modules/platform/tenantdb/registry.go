package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// Registry hands out tenant databases. Create one per process with New and
// Close it at shutdown.
type Registry struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	closed  bool
	files   map[string]*sqliteEntry // SQLite: by placement name
	pools   map[string]*bun.DB      // MySQL: by server name
	checked map[string]bool         // MySQL: placements verified up to date
	inUse   int

	stop chan struct{}
	done chan struct{}
}

type sqliteEntry struct {
	ready    chan struct{} // closed once w, r and err are set
	w, r     *bun.DB
	db       bun.IDB
	err      error
	refs     int
	lastUsed time.Time
}

// New returns a registry. It opens nothing until a tenant is used.
func New(cfg Config) (*Registry, error) {
	if cfg.Migrations == nil {
		return nil, errors.New("tenantdb: no migrations given")
	}
	switch cfg.Engine {
	case dbx.SQLite:
		if cfg.DataDir == "" {
			return nil, errors.New("tenantdb: no data dir given")
		}
		if err := os.MkdirAll(filepath.Join(cfg.DataDir, "tenants"), 0o700); err != nil {
			return nil, fmt.Errorf("tenantdb: %w", err)
		}
	case dbx.MySQL:
		if len(cfg.Servers) == 0 {
			return nil, errors.New("tenantdb: no MySQL server given")
		}
	default:
		return nil, fmt.Errorf("tenantdb: unknown engine %q", cfg.Engine)
	}
	if cfg.Readers <= 0 {
		cfg.Readers = 4
	}
	if cfg.MaxOpen <= 0 {
		cfg.MaxOpen = 512
	}
	if cfg.IdleAfter <= 0 {
		cfg.IdleAfter = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		cfg:     cfg,
		log:     cfg.Logger,
		files:   map[string]*sqliteEntry{},
		pools:   map[string]*bun.DB{},
		checked: map[string]bool{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go r.janitor()
	return r, nil
}

// Engine returns the registry's engine.
func (r *Registry) Engine() dbx.Engine { return r.cfg.Engine }

// Handle returns a lazy handle on p's database: nothing is opened until its
// DB method is called. The caller must Release it.
func (r *Registry) Handle(p Placement) *Handle { return &Handle{reg: r, p: p} }

// Acquire opens p's database now. The caller must Release the handle.
func (r *Registry) Acquire(ctx context.Context, p Placement) (*Handle, error) {
	h := r.Handle(p)
	if _, err := h.DB(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

func (r *Registry) acquire(ctx context.Context, p Placement) (bun.IDB, func(), error) {
	if !dbx.ValidDatabaseName(p.Name) {
		return nil, nil, fmt.Errorf("tenantdb: invalid database name %q", p.Name)
	}
	if r.cfg.Engine == dbx.MySQL {
		return r.acquireMySQL(ctx, p)
	}
	return r.acquireSQLite(ctx, p)
}

func (r *Registry) path(p Placement) string {
	return filepath.Join(r.cfg.DataDir, "tenants", p.Name+".db")
}

func (r *Registry) acquireSQLite(ctx context.Context, p Placement) (bun.IDB, func(), error) {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, nil, apperr.New(apperr.KindUnavailable, "shutting_down")
		}
		e, ok := r.files[p.Name]
		if !ok {
			e = &sqliteEntry{ready: make(chan struct{}), refs: 1}
			r.files[p.Name] = e
			r.inUse++
			r.mu.Unlock()
			w, rd, err := r.openSQLite(ctx, p)
			r.mu.Lock()
			e.w, e.r, e.err = w, rd, err
			if err == nil {
				e.db = &splitDB{IDB: w, reader: rd}
			}
			close(e.ready)
			if err != nil {
				// Do not cache a failure: the next request tries again, so a
				// database fixed by `yoyaku migrate` is picked up at once.
				delete(r.files, p.Name)
				e.refs--
				r.inUse--
				r.mu.Unlock()
				return nil, nil, err
			}
			r.evictLocked() // never this entry: it is held
			r.mu.Unlock()
			return e.db, r.releaser(e), nil
		}
		r.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if e.err != nil {
			return nil, nil, e.err
		}
		r.mu.Lock()
		if r.files[p.Name] != e {
			// Closed (idle, evicted or dropped) between ready and now.
			r.mu.Unlock()
			continue
		}
		e.refs++
		r.inUse++
		r.mu.Unlock()
		return e.db, r.releaser(e), nil
	}
}

func (r *Registry) releaser(e *sqliteEntry) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			e.refs--
			r.inUse--
			e.lastUsed = r.cfg.Now()
			r.mu.Unlock()
		})
	}
}

func (r *Registry) openSQLite(ctx context.Context, p Placement) (*bun.DB, *bun.DB, error) {
	path := r.path(p)
	if _, err := os.Stat(path); err != nil {
		return nil, nil, ErrMissing.WithCause(err)
	}
	w, err := dbx.OpenSQLiteWriter(ctx, path)
	if err != nil {
		return nil, nil, apperr.Wrap(apperr.KindUnavailable, "tenant_db_unavailable", err)
	}
	if err := r.verify(ctx, w, p); err != nil {
		_ = w.Close()
		return nil, nil, err
	}
	rd, err := dbx.OpenSQLiteReaders(ctx, path, r.cfg.Readers)
	if err != nil {
		_ = w.Close()
		return nil, nil, apperr.Wrap(apperr.KindUnavailable, "tenant_db_unavailable", err)
	}
	return w, rd, nil
}

// verify refuses a database that lags the binary's migrations or that
// belongs to another tenant.
func (r *Registry) verify(ctx context.Context, db bun.IDB, p Placement) error {
	pending, err := dbx.Pending(ctx, db, r.cfg.Migrations)
	if err != nil {
		return apperr.Wrap(apperr.KindUnavailable, "tenant_db_unavailable", err)
	}
	if len(pending) > 0 {
		r.log.WarnContext(ctx, "tenant database behind migrations", "tenant_id", p.TenantID, "pending", len(pending))
		return ErrBehind.WithCause(fmt.Errorf("%d migrations pending (%s); run `yoyaku migrate`", len(pending), strings.Join(pending, ", ")))
	}
	var owner string
	if err := db.NewSelect().Table("tenant_info").Column("tenant_id").Limit(1).Scan(ctx, &owner); err != nil {
		return apperr.Wrap(apperr.KindUnavailable, "tenant_db_unavailable", fmt.Errorf("read tenant_info: %w", err))
	}
	if owner != p.TenantID {
		r.log.ErrorContext(ctx, "tenant database belongs to another tenant", "tenant_id", p.TenantID, "db_name", p.Name)
		return ErrMismatch
	}
	return nil
}

// evictLocked closes idle files beyond MaxOpen, least recently used first.
func (r *Registry) evictLocked() {
	if len(r.files) <= r.cfg.MaxOpen {
		return
	}
	type cand struct {
		name string
		at   time.Time
	}
	var cands []cand
	for name, e := range r.files {
		if e.refs == 0 && e.db != nil {
			cands = append(cands, cand{name, e.lastUsed})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].at.Before(cands[j].at) })
	for _, c := range cands {
		if len(r.files) <= r.cfg.MaxOpen {
			break
		}
		r.closeEntryLocked(c.name)
	}
}

func (r *Registry) closeEntryLocked(name string) {
	e := r.files[name]
	delete(r.files, name)
	if e != nil && e.w != nil {
		_ = e.r.Close()
		_ = e.w.Close()
	}
}

func (r *Registry) janitor() {
	defer close(r.done)
	t := time.NewTicker(max(r.cfg.IdleAfter/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.CloseIdle()
		}
	}
}

// CloseIdle closes the SQLite files nobody has used for IdleAfter.
func (r *Registry) CloseIdle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	cut := r.cfg.Now().Add(-r.cfg.IdleAfter)
	for name, e := range r.files {
		if e.refs == 0 && e.db != nil && !e.lastUsed.After(cut) {
			r.closeEntryLocked(name)
		}
	}
}

func (r *Registry) pool(ctx context.Context, server string) (*bun.DB, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, apperr.New(apperr.KindUnavailable, "shutting_down")
	}
	if db, ok := r.pools[server]; ok {
		return db, nil
	}
	dsn, ok := r.cfg.Servers[server]
	if !ok {
		return nil, fmt.Errorf("tenantdb: unknown database server %q", server)
	}
	db, err := dbx.OpenMySQL(ctx, dsn, "", dbx.MySQLOptions{MaxOpenConns: r.cfg.MaxConns})
	if err != nil {
		return nil, apperr.Wrap(apperr.KindUnavailable, "tenant_db_unavailable", err)
	}
	r.pools[server] = db
	return db, nil
}

func (r *Registry) acquireMySQL(ctx context.Context, p Placement) (bun.IDB, func(), error) {
	pool, err := r.pool(ctx, p.Server)
	if err != nil {
		return nil, nil, err
	}
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, nil, apperr.Wrap(apperr.KindUnavailable, "tenant_db_unavailable", err)
	}
	if err := dbx.UseMySQLDatabase(ctx, conn, p.Name); err != nil {
		_ = conn.Close()
		if dbx.IsUnknownDatabase(err) {
			return nil, nil, ErrMissing.WithCause(err)
		}
		return nil, nil, apperr.Wrap(apperr.KindUnavailable, "tenant_db_unavailable", err)
	}
	key := p.Server + "/" + p.Name
	r.mu.Lock()
	ok := r.checked[key]
	r.mu.Unlock()
	if !ok {
		if err := r.verify(ctx, conn, p); err != nil {
			_ = conn.Close()
			return nil, nil, err
		}
		r.mu.Lock()
		r.checked[key] = true
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.inUse++
	r.mu.Unlock()
	var once sync.Once
	return &conn, func() {
		once.Do(func() {
			_ = conn.Close()
			r.mu.Lock()
			r.inUse--
			r.mu.Unlock()
		})
	}, nil
}

// dedicated opens a short-lived pool on p's database for provisioning and
// migrating; bun's migrator needs a *bun.DB of its own.
func (r *Registry) dedicated(ctx context.Context, p Placement, create bool) (*bun.DB, error) {
	if r.cfg.Engine == dbx.SQLite {
		if !create {
			if _, err := os.Stat(r.path(p)); err != nil {
				return nil, ErrMissing.WithCause(err)
			}
		}
		return dbx.OpenSQLiteWriter(ctx, r.path(p))
	}
	dsn, ok := r.cfg.Servers[p.Server]
	if !ok {
		return nil, fmt.Errorf("tenantdb: unknown database server %q", p.Server)
	}
	return dbx.OpenMySQL(ctx, dsn, p.Name, dbx.MySQLOptions{MaxOpenConns: 2})
}

// Provision creates p's database, migrates it and records its tenant. If any
// step fails, what was made is removed again: no half-made database remains.
func (r *Registry) Provision(ctx context.Context, p Placement) (err error) {
	if !dbx.ValidDatabaseName(p.Name) {
		return fmt.Errorf("tenantdb: invalid database name %q", p.Name)
	}
	if r.cfg.Engine == dbx.SQLite {
		if _, statErr := os.Stat(r.path(p)); statErr == nil {
			return fmt.Errorf("tenantdb: database file %s already exists", r.path(p))
		}
	} else {
		pool, perr := r.pool(ctx, p.Server)
		if perr != nil {
			return perr
		}
		if cerr := dbx.CreateMySQLDatabase(ctx, pool, p.Name, false); cerr != nil {
			return cerr
		}
	}
	defer func() {
		if err != nil {
			if derr := r.remove(context.WithoutCancel(ctx), p); derr != nil {
				r.log.ErrorContext(ctx, "cleaning up a failed provisioning", "tenant_id", p.TenantID, "err", derr)
			}
		}
	}()
	db, err := r.dedicated(ctx, p, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err = dbx.Migrate(ctx, db, r.cfg.Migrations); err != nil {
		return err
	}
	_, err = db.NewInsert().TableExpr("tenant_info").
		Model(&map[string]any{"tenant_id": p.TenantID, "created_at": r.cfg.Now().UTC()}).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("record tenant_info: %w", err)
	}
	return nil
}

// Migrate applies p's pending migrations and returns the versions applied.
func (r *Registry) Migrate(ctx context.Context, p Placement) ([]string, error) {
	db, err := r.dedicated(ctx, p, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	applied, err := dbx.Migrate(ctx, db, r.cfg.Migrations)
	if len(applied) > 0 {
		r.forget(p)
	}
	return applied, err
}

// Pending returns p's pending migrations.
func (r *Registry) Pending(ctx context.Context, p Placement) ([]string, error) {
	db, err := r.dedicated(ctx, p, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return dbx.Pending(ctx, db, r.cfg.Migrations)
}

func (r *Registry) forget(p Placement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.checked, p.Server+"/"+p.Name)
	if e, ok := r.files[p.Name]; ok && e.refs == 0 && e.db != nil {
		r.closeEntryLocked(p.Name)
	}
}

// Drop deletes p's database for good: the file (and its WAL) or the MySQL
// database. Used when a tenant's contract ends and to undo provisioning.
func (r *Registry) Drop(ctx context.Context, p Placement) error {
	if !dbx.ValidDatabaseName(p.Name) {
		return fmt.Errorf("tenantdb: invalid database name %q", p.Name)
	}
	return r.remove(ctx, p)
}

func (r *Registry) remove(ctx context.Context, p Placement) error {
	r.mu.Lock()
	delete(r.checked, p.Server+"/"+p.Name)
	if e, ok := r.files[p.Name]; ok && e.db != nil {
		r.closeEntryLocked(p.Name)
	}
	r.mu.Unlock()
	if r.cfg.Engine == dbx.SQLite {
		var errs []error
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			if err := os.Remove(r.path(p) + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	pool, err := r.pool(ctx, p.Server)
	if err != nil {
		return err
	}
	return dbx.DropMySQLDatabase(ctx, pool, p.Name)
}

// Exists reports whether p's database exists.
func (r *Registry) Exists(ctx context.Context, p Placement) (bool, error) {
	if r.cfg.Engine == dbx.SQLite {
		_, err := os.Stat(r.path(p))
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	pool, err := r.pool(ctx, p.Server)
	if err != nil {
		return false, err
	}
	var n int
	err = pool.NewRaw("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", p.Name).Scan(ctx, &n)
	return n > 0, err
}

// Ping checks that every MySQL server holding tenants answers.
func (r *Registry) Ping(ctx context.Context) error {
	if r.cfg.Engine != dbx.MySQL {
		return nil
	}
	for name := range r.cfg.Servers {
		pool, err := r.pool(ctx, name)
		if err != nil {
			return err
		}
		if err := pool.PingContext(ctx); err != nil {
			return fmt.Errorf("tenant database server %s: %w", name, err)
		}
	}
	return nil
}

// Stats returns the registry's numbers for metrics.
func (r *Registry) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{OpenTenants: 0, InUse: r.inUse, Pools: map[string]PoolStats{}}
	for _, e := range r.files {
		if e.db != nil {
			s.OpenTenants++
		}
	}
	for name, db := range r.pools {
		st := db.Stats()
		s.Pools[name] = PoolStats{Open: st.OpenConnections, InUse: st.InUse, Idle: st.Idle,
			Max: st.MaxOpenConnections, WaitCount: st.WaitCount, WaitDuration: st.WaitDuration}
	}
	return s
}

// Close closes every open database. Handles acquired before keep working
// until released only on MySQL; call Close after the HTTP server has drained.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.stop)
	var errs []error
	for name := range r.files {
		r.closeEntryLocked(name)
	}
	for name, db := range r.pools {
		errs = append(errs, db.Close())
		delete(r.pools, name)
	}
	r.mu.Unlock()
	<-r.done
	return errors.Join(errs...)
}

// splitDB sends selects made outside a transaction to the reader pool and
// everything else to the single writer, so readers never wait for a writer
// and a write can never land on a read-only connection.
type splitDB struct {
	bun.IDB // the writer
	reader  *bun.DB
}

func (s *splitDB) NewSelect() *bun.SelectQuery { return s.reader.NewSelect() }

var _ bun.IDB = (*splitDB)(nil)
