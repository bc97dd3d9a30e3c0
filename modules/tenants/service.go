package tenants

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/validate"
)

// Config wires a Service.
type Config struct {
	Control  *bun.DB            // the control database
	Registry *tenantdb.Registry // tenant databases
	Location dbx.Location       // names tenant databases
	Logger   *slog.Logger
	Now      func() time.Time
	CacheTTL time.Duration // how long Resolve trusts what it read (default 2s)
	// Provision, when set, finishes each new tenant (e.g. its owner).
	Provision Provisioner
}

// Service manages tenants. It is safe for concurrent use.
type Service struct {
	db    *bun.DB
	reg   *tenantdb.Registry
	loc   dbx.Location
	log   *slog.Logger
	now   func() time.Time
	ttl   time.Duration
	store store
	prov  Provisioner

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	t   Tenant
	err error
	exp time.Time
}

// NewService returns a tenant service.
func NewService(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 2 * time.Second
	}
	return &Service{db: cfg.Control, reg: cfg.Registry, loc: cfg.Location, log: cfg.Logger,
		now: cfg.Now, ttl: cfg.CacheTTL, cache: map[string]cached{}, prov: cfg.Provision}
}

var v = validate.New()

func (s *Service) validateCreate(p *CreateParams) error {
	p.Slug = strings.TrimSpace(p.Slug)
	p.Name = strings.TrimSpace(p.Name)
	p.TimeZone = strings.TrimSpace(p.TimeZone)
	p.Locale = strings.TrimSpace(p.Locale)
	if p.TimeZone == "" {
		p.TimeZone = DefaultTimeZone
	}
	if p.Locale == "" {
		p.Locale = DefaultLocale
	}
	p.ContactEmails = normEmails(p.ContactEmails)
	p.Options = normOptions(p.Options)
	var fields []apperr.FieldError
	if p.Slug != "" && !ValidSlug(p.Slug) {
		fields = append(fields, apperr.Field("slug", "slug", nil))
	} else if ReservedSlug(p.Slug) {
		fields = append(fields, apperr.Field("slug", "slug_reserved", nil))
	}
	if err := validate.Struct(v, p); err != nil {
		fields = append(fields, err.(*apperr.Error).Fields...)
	}
	var vv apperr.Validator
	checkLists(&vv, p.ContactEmails, p.Options)
	if err := vv.Err(); err != nil {
		fields = append(fields, err.(*apperr.Error).Fields...)
	}
	if len(fields) > 0 {
		return apperr.Invalid(fields...)
	}
	return nil
}

func checkLists(vv *apperr.Validator, emails, options []string) {
	seen := map[string]bool{}
	for i, e := range emails {
		k := strings.ToLower(e)
		if seen[k] {
			vv.Add(fmt.Sprintf("contact_emails[%d]", i), "duplicate", nil)
		}
		seen[k] = true
	}
	known := strings.Join(Options, ", ")
	for i, o := range options {
		vv.Check(slices.Contains(Options, o), fmt.Sprintf("options[%d]", i), "option", map[string]any{"Param": known})
	}
}

// Create validates p, records the tenant and provisions its database. If
// provisioning fails, the record and whatever part of the database was made
// are removed again: either the tenant exists whole or not at all.
func (s *Service) Create(ctx context.Context, p CreateParams) (Tenant, error) {
	c, err := s.CreateTenant(ctx, p)
	return c.Tenant, err
}

// CreateTenant is Create that also returns what provisioning handed back,
// such as the owner's one-time setup link.
func (s *Service) CreateTenant(ctx context.Context, p CreateParams) (Created, error) {
	var out Created
	if err := s.validateCreate(&p); err != nil {
		return out, err
	}
	u, err := uuid.NewV7()
	if err != nil {
		return out, err
	}
	id := hex.EncodeToString(u[:])
	now := s.now().UTC()
	t := Tenant{
		ID: id, Slug: p.Slug, Name: p.Name, TimeZone: p.TimeZone, Locale: p.Locale,
		Status: statusProvisioning, ContactEmails: p.ContactEmails, Options: p.Options,
		CreatedAt: now, UpdatedAt: now, StatusChangedAt: now,
		DB: tenantdb.Placement{TenantID: id, Name: s.loc.TenantDatabase(id)},
	}
	if s.loc.Engine == dbx.MySQL {
		t.DB.Server = tenantdb.DefaultServer
	}
	// The row goes in first: its unique slug settles a race between two
	// creations of one slug before any database is made.
	if err := s.store.insert(ctx, s.db, t); err != nil {
		return out, err
	}
	undo := func(cause error) error {
		bg := context.WithoutCancel(ctx)
		if derr := s.reg.Drop(bg, t.DB); derr != nil {
			s.log.ErrorContext(ctx, "removing a half-provisioned tenant database", "tenant_id", id, "err", derr)
		}
		if derr := s.store.delete(bg, s.db, id); derr != nil {
			s.log.ErrorContext(ctx, "removing a half-provisioned tenant record", "tenant_id", id, "err", derr)
		}
		return apperr.Wrap(apperr.KindUnavailable, "tenant_db_unavailable", cause)
	}
	if err := s.reg.Provision(ctx, t.DB); err != nil {
		return out, undo(err)
	}
	if s.prov != nil {
		h, err := s.reg.Acquire(ctx, t.DB)
		if err != nil {
			return out, undo(err)
		}
		db, _ := h.DB(ctx)
		out.Provisioned, err = s.prov(ctx, t, db, p)
		h.Release()
		if err != nil {
			if apperr.KindOf(err) == apperr.KindInvalid || apperr.KindOf(err) == apperr.KindConflict {
				_ = undo(err)
				return out, err
			}
			return out, undo(err)
		}
	}
	if err := s.store.setStatus(ctx, s.db, id, statusProvisioning, StatusActive, now); err != nil {
		return out, undo(err)
	}
	t.Status = StatusActive
	s.forget(t)
	s.log.InfoContext(ctx, "tenant created", "tenant_id", id, "slug", t.Slug)
	out.Tenant = t
	return out, nil
}

// Get returns the tenant with slug, whatever its status.
func (s *Service) Get(ctx context.Context, slug string) (Tenant, error) {
	if !ValidSlug(slug) {
		return Tenant{}, ErrNotFound
	}
	t, err := s.store.bySlug(ctx, s.db, slug)
	if err != nil {
		return Tenant{}, err
	}
	if t.Status == statusProvisioning {
		return Tenant{}, ErrNotFound
	}
	return t, nil
}

// GetByID returns the tenant with id, whatever its status.
func (s *Service) GetByID(ctx context.Context, id string) (Tenant, error) {
	t, err := s.store.byID(ctx, s.db, id)
	if err != nil {
		return Tenant{}, err
	}
	if t.Status == statusProvisioning {
		return Tenant{}, ErrNotFound
	}
	return t, nil
}

// List returns tenants ordered by slug. p.Status "all" includes terminated
// tenants; empty means active and suspended.
func (s *Service) List(ctx context.Context, p ListParams) ([]Tenant, error) {
	var vv apperr.Validator
	switch p.Status {
	case "", "all", StatusActive, StatusSuspended, StatusTerminated:
	default:
		vv.Add("status", "oneof", map[string]any{"Param": "active suspended terminated all"})
	}
	if p.Limit == 0 {
		p.Limit = 100
	}
	vv.Check(p.Limit >= 1 && p.Limit <= 1000, "limit", "range", map[string]any{"Min": 1, "Max": 1000})
	if err := vv.Err(); err != nil {
		return nil, err
	}
	return s.store.list(ctx, s.db, p)
}

// Update applies p to the tenant with slug. Status changes: active ↔
// suspended, and either to terminated, which deletes the tenant's database
// for good and cannot be undone. Asking to terminate a terminated tenant
// again retries the deletion of its database.
func (s *Service) Update(ctx context.Context, slug string, p UpdateParams) (Tenant, error) {
	if err := validateUpdate(&p); err != nil {
		return Tenant{}, err
	}
	t, err := s.Get(ctx, slug)
	if err != nil {
		return Tenant{}, err
	}
	defer s.forget(t)
	if t.Status == StatusTerminated {
		if p.Status != nil && *p.Status == StatusTerminated && p.Name == nil && p.TimeZone == nil &&
			p.Locale == nil && p.ContactEmails == nil && p.Options == nil {
			return t, s.dropDatabase(ctx, t)
		}
		return Tenant{}, ErrTerminatedFinal
	}
	now := s.now().UTC()
	changed := false
	set := func(dst *string, src *string) {
		if src != nil && *src != *dst {
			*dst, changed = *src, true
		}
	}
	set(&t.Name, p.Name)
	set(&t.TimeZone, p.TimeZone)
	set(&t.Locale, p.Locale)
	if p.ContactEmails != nil && !slices.Equal(t.ContactEmails, *p.ContactEmails) {
		t.ContactEmails, changed = *p.ContactEmails, true
	}
	if p.Options != nil && !slices.Equal(t.Options, *p.Options) {
		t.Options, changed = *p.Options, true
	}
	if p.Status != nil && *p.Status != t.Status {
		t.Status, t.StatusChangedAt, changed = *p.Status, now, true
	}
	if !changed {
		return t, nil
	}
	t.UpdatedAt = now
	if err := s.store.update(ctx, s.db, t); err != nil {
		return Tenant{}, err
	}
	s.log.InfoContext(ctx, "tenant updated", "tenant_id", t.ID, "status", string(t.Status))
	if t.Status == StatusTerminated {
		s.forget(t)
		return t, s.dropDatabase(ctx, t)
	}
	return t, nil
}

func (s *Service) dropDatabase(ctx context.Context, t Tenant) error {
	if err := s.reg.Drop(ctx, t.DB); err != nil {
		s.log.ErrorContext(ctx, "deleting a terminated tenant's database", "tenant_id", t.ID, "err", err)
		return apperr.Wrap(apperr.KindUnavailable, "tenant_db_unavailable", err)
	}
	s.log.InfoContext(ctx, "terminated tenant's database deleted", "tenant_id", t.ID)
	return nil
}

func validateUpdate(p *UpdateParams) error {
	trim := func(s *string) {
		if s != nil {
			*s = strings.TrimSpace(*s)
		}
	}
	trim(p.Name)
	trim(p.TimeZone)
	trim(p.Locale)
	if p.ContactEmails != nil {
		e := normEmails(*p.ContactEmails)
		p.ContactEmails = &e
	}
	if p.Options != nil {
		o := normOptions(*p.Options)
		p.Options = &o
	}
	var fields []apperr.FieldError
	if err := validate.Struct(v, p); err != nil {
		fields = append(fields, err.(*apperr.Error).Fields...)
	}
	if p.Name != nil && *p.Name == "" {
		fields = append(fields, apperr.Field("name", "required", nil))
	}
	var vv apperr.Validator
	var emails, options []string
	if p.ContactEmails != nil {
		emails = *p.ContactEmails
	}
	if p.Options != nil {
		options = *p.Options
	}
	checkLists(&vv, emails, options)
	if err := vv.Err(); err != nil {
		fields = append(fields, err.(*apperr.Error).Fields...)
	}
	if len(fields) > 0 {
		return apperr.Invalid(fields...)
	}
	return nil
}

// Resolve returns the tenant serving slug for a request: an error when it
// does not exist, is suspended or terminated. Answers are cached briefly
// (CacheTTL) so a busy booking page does not read the control database per
// request; changes made through this Service are seen at once, changes made
// by another process within CacheTTL.
func (s *Service) Resolve(ctx context.Context, slug string) (Tenant, error) {
	return s.resolve(ctx, slug, func() (Tenant, error) { return s.Get(ctx, slug) })
}

// ResolveByID is Resolve for a tenant named by its id (an API key names
// its tenant so), with the same short cache.
func (s *Service) ResolveByID(ctx context.Context, id string) (Tenant, error) {
	return s.resolve(ctx, idKey(id), func() (Tenant, error) { return s.GetByID(ctx, id) })
}

func idKey(id string) string { return "#" + id } // slugs never start with '#'

func (s *Service) resolve(ctx context.Context, key string, get func() (Tenant, error)) (Tenant, error) {
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if !ok || now.After(c.exp) {
		t, err := get()
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Tenant{}, err // a database failure is not cached
		}
		c = cached{t: t, err: err, exp: now.Add(s.ttl)}
		s.mu.Lock()
		if len(s.cache) > 50000 {
			clear(s.cache)
		}
		s.cache[key] = c
		s.mu.Unlock()
	}
	if c.err != nil {
		return Tenant{}, c.err
	}
	switch c.t.Status {
	case StatusSuspended:
		return c.t, ErrSuspended
	case StatusTerminated:
		return c.t, ErrTerminated
	}
	return c.t, nil
}

// forget drops what Resolve and ResolveByID cached of a tenant.
func (s *Service) forget(t Tenant) {
	s.mu.Lock()
	delete(s.cache, t.Slug)
	delete(s.cache, idKey(t.ID))
	s.mu.Unlock()
}

// MigrateAll applies pending migrations to every tenant database that is
// not terminated, calling report after each. It goes on past a failing
// tenant and returns all failures joined.
func (s *Service) MigrateAll(ctx context.Context, report func(t Tenant, applied []string, err error)) error {
	var errs []error
	after := ""
	for {
		page, err := s.store.list(ctx, s.db, ListParams{After: after, Limit: 500})
		if err != nil {
			return err
		}
		for _, t := range page {
			applied, err := s.reg.Migrate(ctx, t.DB)
			if report != nil {
				report(t, applied, err)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("tenant %s: %w", t.Slug, err))
			}
		}
		if len(page) < 500 {
			return errors.Join(errs...)
		}
		after = page[len(page)-1].Slug
	}
}

// RecoverProvisioning removes tenants left half-made by a process that died
// while provisioning them (older than grace): their databases and records.
func (s *Service) RecoverProvisioning(ctx context.Context, grace time.Duration) (int, error) {
	stale, err := s.store.staleProvisioning(ctx, s.db, s.now().Add(-grace))
	if err != nil {
		return 0, err
	}
	for _, t := range stale {
		if err := s.reg.Drop(ctx, t.DB); err != nil {
			return 0, err
		}
		if err := s.store.delete(ctx, s.db, t.ID); err != nil {
			return 0, err
		}
		s.log.WarnContext(ctx, "removed a half-provisioned tenant", "tenant_id", t.ID, "slug", t.Slug)
	}
	return len(stale), nil
}
