package notices

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
	"github.com/yoyaku-oss/yoyaku/modules/platform/validate"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Config wires a Service.
type Config struct {
	Control *bun.DB   // the control database
	Tenants Directory // resolves the tenants a notice addresses
	Logger  *slog.Logger
	Now     func() time.Time
	// OnPublished, when set, is told of each maintenance and end-of-service
	// notice after it is stored (see PublishedHook).
	OnPublished PublishedHook
	// CacheTTL is how long the consoles trust the list of standing notices
	// they read (default 5s). Changes made through this Service are seen
	// at once; changes made by another process within CacheTTL.
	CacheTTL time.Duration
	// StatusZone is the zone whose calendar days the status page counts
	// availability in (default Asia/Tokyo).
	StatusZone *time.Location
}

// Service manages notices and the status page's data. It is safe for
// concurrent use.
type Service struct {
	db    *bun.DB
	dir   Directory
	log   *slog.Logger
	now   func() time.Time
	hook  PublishedHook
	ttl   time.Duration
	zone  *time.Location
	store store

	mu   sync.Mutex
	live *liveSet
}

// liveSet is the cached list of notices the consoles may show.
type liveSet struct {
	notices []Notice            // newest first
	targets map[string][]string // notice id → tenant ids; absent: every tenant
	exp     time.Time
}

// NewService returns a notice service.
func NewService(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 5 * time.Second
	}
	if cfg.StatusZone == nil {
		cfg.StatusZone = tokyo()
	}
	return &Service{db: cfg.Control, dir: cfg.Tenants, log: cfg.Logger, now: cfg.Now,
		hook: cfg.OnPublished, ttl: cfg.CacheTTL, zone: cfg.StatusZone}
}

// tokyo is the default zone; a binary without the zone database (no
// time/tzdata, no system zoneinfo) falls back to its fixed offset, which
// has had no daylight saving since 1951.
func tokyo() *time.Location {
	if loc, err := time.LoadLocation(tenants.DefaultTimeZone); err == nil {
		return loc
	}
	return time.FixedZone("JST", 9*3600)
}

var v = validate.New()

// parseInstant reads an RFC 3339 instant of field into dst.
func parseInstant(vv *apperr.Validator, field, s string, dst *time.Time) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		vv.Add(field, "notice_datetime", nil)
		return
	}
	*dst = utc(t)
}

// normBody keeps a body's line breaks as "\n" (tabs become spaces) and
// reports whether other control characters remain, which are refused.
func normBody(body string) (string, bool) {
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")
	body = strings.ReplaceAll(body, "\t", "    ")
	body = strings.TrimSpace(body)
	return body, strings.ContainsFunc(body, func(r rune) bool { return (r < 0x20 && r != '\n') || r == 0x7f })
}

// checkRules applies the rules that span fields to a notice about to be
// stored: the window, and the lead time the service promises for planned
// stops and the end of the service. earlier says StartsAt is new or moved
// earlier, the only changes the lead time applies to.
func checkRules(vv *apperr.Validator, n Notice, earlier bool, now time.Time) {
	if !n.EndsAt.IsZero() && !n.StartsAt.IsZero() && !n.EndsAt.After(n.StartsAt) {
		vv.Add("ends_at", "notice_ends_before_start", nil)
	}
	if n.Urgent || !earlier || n.StartsAt.IsZero() {
		return
	}
	lead := 0
	switch n.Kind {
	case KindMaintenance:
		lead = MaintenanceLeadDays
	case KindEndOfService:
		lead = EndOfServiceLeadDays
	}
	if lead > 0 && n.StartsAt.Before(now.Add(time.Duration(lead)*24*time.Hour)) {
		vv.Add("starts_at", "notice_too_soon", map[string]any{"Days": lead})
	}
}

// Create validates p, stores the notice and, for maintenance and
// end-of-service notices, hands it to OnPublished. A failing hook does not
// undo the notice: it stays pending (AnnouncedAt zero) and AnnouncePending
// tries again.
func (s *Service) Create(ctx context.Context, p CreateParams) (Notice, error) {
	now := s.now()
	p.Kind = Kind(strings.TrimSpace(string(p.Kind)))
	p.Title = strings.TrimSpace(p.Title)
	var vv apperr.Validator
	body, control := normBody(p.Body)
	p.Body = body
	if err := validate.Struct(v, &p); err != nil {
		for _, f := range err.(*apperr.Error).Fields {
			vv.Add(f.Field, f.Code, f.Args)
		}
	}
	vv.Check(!control, "body", "notice_control_chars", nil)
	n := Notice{Kind: p.Kind, Title: p.Title, Body: p.Body, Urgent: p.Urgent, Revision: 1,
		CreatedAt: utc(now), UpdatedAt: utc(now)}
	parseInstant(&vv, "starts_at", p.StartsAt, &n.StartsAt)
	parseInstant(&vv, "ends_at", p.EndsAt, &n.EndsAt)
	if strings.TrimSpace(p.StartsAt) == "" {
		switch p.Kind {
		case KindMaintenance, KindEndOfService:
			vv.Add("starts_at", "required", nil)
		default:
			n.StartsAt = utc(now)
		}
	}
	if p.Kind == KindMaintenance && strings.TrimSpace(p.EndsAt) == "" {
		vv.Add("ends_at", "required", nil)
	}
	checkRules(&vv, n, true, now)
	addressed, err := s.resolveTenants(ctx, &vv, p.Tenants)
	if err != nil {
		return Notice{}, err
	}
	if err := vv.Err(); err != nil {
		return Notice{}, err
	}
	for _, t := range addressed {
		n.Tenants = append(n.Tenants, t.Slug)
	}
	slices.Sort(n.Tenants)
	u, err := uuid.NewV7()
	if err != nil {
		return Notice{}, err
	}
	n.ID = hex.EncodeToString(u[:])
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return s.store.insert(ctx, tx, n, addressed)
	})
	if err != nil {
		return Notice{}, err
	}
	s.forget()
	s.log.InfoContext(ctx, "notice posted", "notice_id", n.ID, "kind", string(n.Kind),
		"tenants", len(addressed), "urgent", n.Urgent)
	return s.announce(ctx, n, nil, addressed), nil
}

// resolveTenants looks up the slugs a notice addresses. Unknown, malformed
// and terminated tenants are field errors, as are repeats.
func (s *Service) resolveTenants(ctx context.Context, vv *apperr.Validator, slugs []string) ([]tenants.Tenant, error) {
	if len(slugs) > 1000 {
		return nil, nil // reported by the max rule
	}
	var out []tenants.Tenant
	seen := map[string]bool{}
	for i, slug := range slugs {
		field := fmt.Sprintf("tenants[%d]", i)
		slug = strings.TrimSpace(slug)
		if seen[slug] {
			vv.Add(field, "duplicate", nil)
			continue
		}
		seen[slug] = true
		t, err := s.dir.Get(ctx, slug)
		switch {
		case errors.Is(err, tenants.ErrNotFound):
			vv.Add(field, "notice_tenant_unknown", nil)
			continue
		case err != nil:
			return nil, err
		case t.Status == tenants.StatusTerminated:
			vv.Add(field, "notice_tenant_unknown", nil)
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// Get returns the notice with id, withdrawn or not.
func (s *Service) Get(ctx context.Context, id string) (Notice, error) {
	if !validID(id) {
		return Notice{}, ErrNotFound
	}
	return s.store.byID(ctx, s.db, id)
}

// validID reports whether id can be a notice id (32 lowercase hex digits),
// so that junk never reaches a query.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// List returns notices newest first, for the operator.
func (s *Service) List(ctx context.Context, p ListParams) ([]Notice, error) {
	var vv apperr.Validator
	switch p.State {
	case "", StateUpcoming, StateActive, StateEnded, StateWithdrawn:
	default:
		vv.Add("state", "oneof", map[string]any{"Param": "upcoming active ended withdrawn"})
	}
	if p.Limit == 0 {
		p.Limit = 100
	}
	vv.Check(p.Limit >= 1 && p.Limit <= 1000, "limit", "range", map[string]any{"Min": 1, "Max": 1000})
	vv.Check(p.After == "" || validID(p.After), "cursor", "invalid", nil)
	if err := vv.Err(); err != nil {
		return nil, err
	}
	return s.store.list(ctx, s.db, p, s.now())
}

// Update changes the title, body, window or urgency of a standing notice.
// Moving a maintenance or end-of-service notice earlier is held to the same
// lead time as posting it; moving it later, or changing only its text, is
// not. A changed window of a mailed kind is announced again.
func (s *Service) Update(ctx context.Context, id string, p UpdateParams) (Notice, error) {
	var vv apperr.Validator
	if p.Title != nil {
		t := strings.TrimSpace(*p.Title)
		p.Title = &t
		vv.Check(t != "", "title", "required", nil)
	}
	if p.Body != nil {
		b, control := normBody(*p.Body)
		p.Body = &b
		vv.Check(b != "", "body", "required", nil)
		vv.Check(!control, "body", "notice_control_chars", nil)
	}
	if err := validate.Struct(v, &p); err != nil {
		for _, f := range err.(*apperr.Error).Fields {
			vv.Add(f.Field, f.Code, f.Args)
		}
	}
	var starts, ends time.Time
	if p.StartsAt != nil {
		parseInstant(&vv, "starts_at", *p.StartsAt, &starts)
		vv.Check(strings.TrimSpace(*p.StartsAt) != "", "starts_at", "required", nil)
	}
	if p.EndsAt != nil {
		parseInstant(&vv, "ends_at", *p.EndsAt, &ends)
		vv.Check(strings.TrimSpace(*p.EndsAt) != "", "ends_at", "required", nil)
	}
	if err := vv.Err(); err != nil {
		return Notice{}, err
	}
	n, err := s.Get(ctx, id)
	if err != nil {
		return Notice{}, err
	}
	if !n.WithdrawnAt.IsZero() {
		return Notice{}, ErrWithdrawn
	}
	prev := n
	if p.Title != nil {
		n.Title = *p.Title
	}
	if p.Body != nil {
		n.Body = *p.Body
	}
	if p.StartsAt != nil {
		n.StartsAt = starts
	}
	if p.EndsAt != nil {
		n.EndsAt = ends
	}
	if p.Urgent != nil {
		n.Urgent = *p.Urgent
	}
	now := s.now()
	checkRules(&vv, n, n.StartsAt.Before(prev.StartsAt), now)
	if err := vv.Err(); err != nil {
		return Notice{}, err
	}
	windowMoved := !n.StartsAt.Equal(prev.StartsAt) || !n.EndsAt.Equal(prev.EndsAt)
	if n.Title == prev.Title && n.Body == prev.Body && !windowMoved && n.Urgent == prev.Urgent {
		return n, nil
	}
	n.Revision, n.UpdatedAt = prev.Revision+1, utc(now)
	if windowMoved && n.Kind.Mailed() {
		n.AnnouncedAt = time.Time{} // the tenants are told of the new window
	}
	if err := s.store.update(ctx, s.db, n, prev.Revision); err != nil {
		return Notice{}, err
	}
	s.forget()
	s.log.InfoContext(ctx, "notice changed", "notice_id", n.ID, "revision", n.Revision, "window_moved", windowMoved)
	if windowMoved && n.Kind.Mailed() {
		targets, err := s.store.targetIDs(ctx, s.db, n.ID)
		if err != nil {
			s.log.ErrorContext(ctx, "announcing a changed notice", "notice_id", n.ID, "err", err)
			return n, nil
		}
		n = s.announce(ctx, n, targets, nil)
	}
	return n, nil
}

// Withdraw takes a notice back: it leaves the consoles and the status page
// at once. Withdrawing a withdrawn notice changes nothing.
func (s *Service) Withdraw(ctx context.Context, id string) (Notice, error) {
	n, err := s.Get(ctx, id)
	if err != nil {
		return Notice{}, err
	}
	if !n.WithdrawnAt.IsZero() {
		return n, nil
	}
	if _, err := s.store.withdraw(ctx, s.db, id, s.now()); err != nil {
		return Notice{}, err
	}
	s.forget()
	s.log.InfoContext(ctx, "notice withdrawn", "notice_id", id)
	return s.Get(ctx, id)
}

// announce hands a notice of a mailed kind to OnPublished and records the
// success; a failure is logged and left for AnnouncePending. The tenants a
// targeted notice addresses are looked up by tenantIDs unless the caller
// has them at hand (resolved).
func (s *Service) announce(ctx context.Context, n Notice, tenantIDs []string, resolved []tenants.Tenant) Notice {
	if !n.Kind.Mailed() || s.hook == nil {
		return n
	}
	// The notice is stored: telling the tenants must not depend on the
	// client that posted it staying connected.
	ctx = context.WithoutCancel(ctx)
	addressed := resolved
	var err error
	if n.ForAll() || addressed == nil {
		addressed, err = s.addressed(ctx, n, tenantIDs)
	}
	if err == nil {
		err = s.hook(ctx, n, addressed)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "announcing a notice to tenant contacts failed; it stays pending",
			"notice_id", n.ID, "revision", n.Revision, "err", err)
		return n
	}
	at := utc(s.now())
	if err := s.store.setAnnounced(ctx, s.db, n.ID, n.Revision, at); err != nil {
		s.log.ErrorContext(ctx, "recording a notice as announced", "notice_id", n.ID, "err", err)
		return n
	}
	n.AnnouncedAt = at
	s.log.InfoContext(ctx, "notice announced to tenant contacts", "notice_id", n.ID, "revision", n.Revision,
		"tenants", len(addressed))
	return n
}

// addressed lists the tenants a notice addresses that can still be
// reached: every active and suspended tenant for a notice to all.
func (s *Service) addressed(ctx context.Context, n Notice, tenantIDs []string) ([]tenants.Tenant, error) {
	var out []tenants.Tenant
	if n.ForAll() {
		after := ""
		for {
			page, err := s.dir.List(ctx, tenants.ListParams{After: after, Limit: 1000})
			if err != nil {
				return nil, err
			}
			out = append(out, page...)
			if len(page) < 1000 {
				return out, nil
			}
			after = page[len(page)-1].Slug
		}
	}
	for _, id := range tenantIDs {
		t, err := s.dir.GetByID(ctx, id)
		if errors.Is(err, tenants.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if t.Status != tenants.StatusTerminated {
			out = append(out, t)
		}
	}
	return out, nil
}

// AnnouncePending retries OnPublished for standing maintenance and
// end-of-service notices whose announcement failed (or whose process died
// before recording it), and returns how many it announced. Run it every few
// minutes.
func (s *Service) AnnouncePending(ctx context.Context) (int, error) {
	if s.hook == nil {
		return 0, nil
	}
	ns, targets, err := s.store.pending(ctx, s.db)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, n := range ns {
		if n = s.announce(ctx, n, targets[n.ID], nil); !n.AnnouncedAt.IsZero() {
			done++
		}
	}
	return done, nil
}

func (s *Service) forget() {
	s.mu.Lock()
	s.live = nil
	s.mu.Unlock()
}

// liveNotices returns the standing notices that ended less than
// PastNoticeDays ago, from the cache when it is fresh.
func (s *Service) liveNotices(ctx context.Context, now time.Time) (*liveSet, error) {
	s.mu.Lock()
	l := s.live
	s.mu.Unlock()
	if l != nil && now.Before(l.exp) {
		return l, nil
	}
	// The cutoff reaches back a little further than the consoles show, so
	// that a cached set stays complete for its whole lifetime.
	ns, targets, err := s.store.live(ctx, s.db, now.Add(-PastNoticeDays*24*time.Hour-s.ttl))
	if err != nil {
		return nil, err
	}
	l = &liveSet{notices: ns, targets: targets, exp: now.Add(s.ttl)}
	s.mu.Lock()
	s.live = l
	s.mu.Unlock()
	return l, nil
}

// visible returns the notices the consoles of tenant t show at now, newest
// first: addressed to every tenant or to t, current or upcoming, or ended
// less than PastNoticeDays ago.
func (s *Service) visible(ctx context.Context, t tenants.Tenant, now time.Time) ([]Notice, error) {
	l, err := s.liveNotices(ctx, now)
	if err != nil {
		return nil, err
	}
	cutoff := now.Add(-PastNoticeDays * 24 * time.Hour)
	var out []Notice
	for _, n := range l.notices {
		if !n.ForAll() && !slices.Contains(l.targets[n.ID], t.ID) {
			continue
		}
		if !n.EndsAt.IsZero() && !n.EndsAt.After(cutoff) {
			continue
		}
		out = append(out, n)
	}
	// Newest first by the service's clock; ids (time-ordered) break ties.
	slices.SortStableFunc(out, func(a, b Notice) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

// ForTenant returns the notices the console of tenant t shows to the staff
// member staffID, newest first, each with whether they have read it, and
// how many they have not. tenantDB is t's own database, where reading is
// recorded.
func (s *Service) ForTenant(ctx context.Context, tenantDB bun.IDB, t tenants.Tenant, staffID string) ([]TenantNotice, int, error) {
	ns, err := s.visible(ctx, t, s.now())
	if err != nil {
		return nil, 0, err
	}
	ids := make([]string, 0, len(ns))
	for _, n := range ns {
		ids = append(ids, n.ID)
	}
	reads, err := s.store.reads(ctx, tenantDB, staffID, ids)
	if err != nil {
		return nil, 0, err
	}
	out := make([]TenantNotice, 0, len(ns))
	unread := 0
	for _, n := range ns {
		at, ok := reads[n.ID]
		if !ok {
			unread++
		}
		out = append(out, TenantNotice{Notice: n, Read: ok, ReadAt: at})
	}
	return out, unread, nil
}

// UnreadCount is how many of the notices ForTenant shows staffID has not
// read: the number on the console's お知らせ bell.
func (s *Service) UnreadCount(ctx context.Context, tenantDB bun.IDB, t tenants.Tenant, staffID string) (int, error) {
	_, n, err := s.ForTenant(ctx, tenantDB, t, staffID)
	return n, err
}

// MarkRead records that staffID has read notice id, which must be one the
// console of t shows. Marking it again changes nothing.
func (s *Service) MarkRead(ctx context.Context, tenantDB bun.IDB, t tenants.Tenant, staffID, id string) error {
	ns, err := s.visible(ctx, t, s.now())
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(ns, func(n Notice) bool { return n.ID == id }) {
		return ErrNotFound
	}
	return s.store.markRead(ctx, tenantDB, staffID, []string{id}, s.now())
}

// MarkAllRead records that staffID has read every notice the console of t
// shows now, and returns how many were unread.
func (s *Service) MarkAllRead(ctx context.Context, tenantDB bun.IDB, t tenants.Tenant, staffID string) (int, error) {
	list, _, err := s.ForTenant(ctx, tenantDB, t, staffID)
	if err != nil {
		return 0, err
	}
	var ids []string
	for _, n := range list {
		if !n.Read {
			ids = append(ids, n.ID)
		}
	}
	return len(ids), s.store.markRead(ctx, tenantDB, staffID, ids, s.now())
}
