package identity

// The IP allow-list limits the console and the tenant API of a tenant to
// the networks it lists (IPv4 and IPv6 CIDRs); an empty list lets everyone
// in. It lives in the tenant database: the entries in ip_allowlist, and in
// the one row of ip_allowlist_state a version that every save replaces
// with a fresh random token ("" while the list is empty).
//
// Caching. Allowed runs on every request, so parsed lists are cached per
// process, keyed by that version token. Each check reads the one-row state
// table (a primary-key read on the connection the request holds anyway) and
// parses the entries again only when the token changed. We chose this over
// a TTL: a tightened list is a security change and must bind on every
// server at the next request, not seconds later, and the version read costs
// far less than the API key lookup beside it. Tokens are random, never
// reused, and unique across tenants, so one cache serves all tenants and a
// stale entry can never be taken for a current one.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
)

// Limits of an allow-list.
const (
	AllowListMaxEntries = 200
	allowListMaxNote    = 200
	allowListCacheMax   = 10000 // parsed lists kept per process
)

// The actions the allow-list writes to the operation log.
const (
	AuditAllowListUpdate = "allowlist.update"
	AuditAccessDeniedIP  = "access.denied_ip"
)

// Errors about the allow-list.
var (
	// ErrAllowListLockout: the new list would shut out the address saving
	// it; saving again with confirmation goes ahead.
	ErrAllowListLockout = apperr.New(apperr.KindConflict, "allowlist_lockout")
	// ErrIPNotAllowed: the request comes from outside the tenant's list.
	ErrIPNotAllowed = apperr.New(apperr.KindForbidden, "ip_not_allowed")
)

// AllowListEntry is one network of an allow-list.
type AllowListEntry struct {
	CIDR string `json:"cidr"` // normalised: "203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"
	Note string `json:"note"` // what the network is, for people ("本社", "VPN")
}

// AllowList is a tenant's allow-list.
type AllowList struct {
	Entries   []AllowListEntry // empty: everyone is allowed
	UpdatedAt time.Time        // zero: never saved
	UpdatedBy string           // name of who saved it last
}

// Allows reports whether ip (as gin's ClientIP gives it) may pass l.
func (l AllowList) Allows(ip string) bool {
	prefixes := make([]netip.Prefix, 0, len(l.Entries))
	for _, e := range l.Entries {
		if p, ok := ParseAllowListCIDR(e.CIDR); ok {
			prefixes = append(prefixes, p)
		}
	}
	return allowListMatch(prefixes, ip)
}

// ParseAllowListCIDR reads one allow-list entry: a CIDR ("10.0.0.0/8",
// "2001:db8::/32") or a bare address, meaning /32 or /128. The result is
// normalised: host bits cleared, IPv4-mapped IPv6 turned into IPv4. Zones,
// leading zeros and anything else are refused.
func ParseAllowListCIDR(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" { // a zone means nothing off the link
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		bits := p.Bits() - 96
		if bits < 0 {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), bits)
	}
	return p.Masked(), true
}

// allowListAddr reads a client address; IPv4-mapped IPv6 becomes IPv4 and
// a zone is dropped, so that it matches the entries as they are stored.
func allowListAddr(ip string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func allowListMatch(prefixes []netip.Prefix, ip string) bool {
	if len(prefixes) == 0 {
		return true
	}
	a, ok := allowListAddr(ip)
	if !ok {
		return false
	}
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// AllowListConfig configures an AllowListService.
type AllowListConfig struct {
	Logger *slog.Logger
	Now    func() time.Time
	// DeniedAuditPerMinute caps the access.denied_ip entries one process
	// writes per tenant and minute (default 30; negative: no cap). Refused
	// requests need no credential, so without a cap anyone could grow a
	// tenant's hash-chained log without bound; past the cap refusals are
	// still refused, and counted in the process log.
	DeniedAuditPerMinute int
}

// AllowListService reads, saves and enforces tenants' allow-lists. It is
// safe for concurrent use; one serves every tenant.
type AllowListService struct {
	log      *slog.Logger
	now      func() time.Time
	throttle *allowListThrottle

	mu    sync.Mutex
	cache map[string][]netip.Prefix // by version token
}

// NewAllowListService returns an allow-list service.
func NewAllowListService(cfg AllowListConfig) *AllowListService {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DeniedAuditPerMinute == 0 {
		cfg.DeniedAuditPerMinute = 30
	}
	return &AllowListService{
		log: cfg.Logger, now: cfg.Now,
		throttle: newAllowListThrottle(cfg.DeniedAuditPerMinute),
		cache:    map[string][]netip.Prefix{},
	}
}

// Get returns the tenant's allow-list.
func (s *AllowListService) Get(ctx context.Context, db bun.IDB) (AllowList, error) {
	var st allowListStateRow
	if err := db.NewSelect().Model(&st).Where("id = 1").Scan(ctx); err != nil {
		return AllowList{}, fmt.Errorf("identity: read allow-list: %w", err)
	}
	entries, err := allowListLoad(ctx, db)
	if err != nil {
		return AllowList{}, err
	}
	l := AllowList{Entries: entries, UpdatedBy: st.UpdatedBy}
	if !st.UpdatedAt.IsZero() {
		l.UpdatedAt = st.UpdatedAt.Time.UTC()
	}
	return l, nil
}

// NormalizeAllowList validates entries and returns them normalised
// (trimmed, CIDRs in canonical form). Errors name the fields "cidrs[i]"
// and "notes[i]", and "cidrs" for the whole list.
func NormalizeAllowList(entries []AllowListEntry) ([]AllowListEntry, error) {
	var vv apperr.Validator
	vv.Check(len(entries) <= AllowListMaxEntries, "cidrs", "max_items", map[string]any{"Param": AllowListMaxEntries})
	out := make([]AllowListEntry, 0, len(entries))
	seen := map[netip.Prefix]bool{}
	for i, e := range entries {
		cidr, note := strings.TrimSpace(e.CIDR), strings.TrimSpace(e.Note)
		field := fmt.Sprintf("cidrs[%d]", i)
		switch p, ok := ParseAllowListCIDR(cidr); {
		case cidr == "":
			vv.Add(field, "required", nil)
		case !ok:
			vv.Add(field, "cidr", nil)
		case seen[p]:
			vv.Add(field, "duplicate", nil)
		default:
			seen[p] = true
			cidr = p.String()
		}
		noteField := fmt.Sprintf("notes[%d]", i)
		vv.Check(len([]rune(note)) <= allowListMaxNote, noteField, "max", map[string]any{"Param": allowListMaxNote})
		vv.Check(!allowListHasControl(note), noteField, "nocontrol", nil)
		out = append(out, AllowListEntry{CIDR: cidr, Note: note})
	}
	if err := vv.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func allowListHasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// Save replaces the tenant's allow-list with entries. clientIP is the
// address of whoever saves it: when the new list is not empty and would
// not let clientIP in, Save refuses with ErrAllowListLockout unless
// confirmLockout is set (the console asks first). An empty clientIP (the
// CLI, which has no address) skips that check. The change is logged
// (allowlist.update, old → new) in its transaction; saving the same list
// again changes and logs nothing.
func (s *AllowListService) Save(ctx context.Context, db bun.IDB, actor Principal, entries []AllowListEntry, clientIP string, confirmLockout bool) (AllowList, error) {
	norm, err := NormalizeAllowList(entries)
	if err != nil {
		return AllowList{}, err
	}
	prefixes := allowListPrefixes(norm)
	if clientIP != "" && len(norm) > 0 && !confirmLockout && !allowListMatch(prefixes, clientIP) {
		return AllowList{}, ErrAllowListLockout.WithArgs(map[string]any{"IP": clientIP})
	}
	version := ""
	if len(norm) > 0 {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return AllowList{}, err
		}
		version = hex.EncodeToString(b)
	}
	by := actor.Name
	if by == "" {
		by = "system"
	}
	by = apiKeyCut(by, 255)
	now := s.now().UTC().Truncate(time.Microsecond)
	var out AllowList
	changed := false
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// Lock the state row first (on MySQL until commit; on SQLite the
		// transaction holds the write lock): concurrent saves queue, and
		// each reads the list the previous one left.
		if _, err := tx.NewUpdate().Model((*allowListStateRow)(nil)).Set("version = version").Where("id = 1").Exec(ctx); err != nil {
			return fmt.Errorf("identity: lock allow-list: %w", err)
		}
		var st allowListStateRow
		if err := tx.NewSelect().Model(&st).Where("id = 1").Scan(ctx); err != nil {
			return fmt.Errorf("identity: read allow-list: %w", err)
		}
		old, err := allowListLoad(ctx, tx)
		if err != nil {
			return err
		}
		if allowListEqual(old, norm) {
			out = AllowList{Entries: old, UpdatedBy: st.UpdatedBy}
			if !st.UpdatedAt.IsZero() {
				out.UpdatedAt = st.UpdatedAt.Time.UTC()
			}
			return nil
		}
		if _, err := tx.NewDelete().Model((*allowListRow)(nil)).Where("1 = 1").Exec(ctx); err != nil {
			return fmt.Errorf("identity: save allow-list: %w", err)
		}
		if len(norm) > 0 {
			rows := make([]allowListRow, 0, len(norm))
			for i, e := range norm {
				rows = append(rows, allowListRow{Pos: i + 1, CIDR: e.CIDR, Note: e.Note})
			}
			if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
				return fmt.Errorf("identity: save allow-list: %w", err)
			}
		}
		if _, err := tx.NewUpdate().Model((*allowListStateRow)(nil)).Set("version = ?", version).
			Set("updated_at = ?", now).Set("updated_by = ?", by).Where("id = 1").Exec(ctx); err != nil {
			return fmt.Errorf("identity: save allow-list: %w", err)
		}
		var ch auditlog.Changes
		ch.Add("entries", old, norm)
		if _, err := auditlog.Append(ctx, tx, auditlog.Entry{
			Actor: apiKeyActor(actor), Action: AuditAllowListUpdate, ObjectType: "ip_allowlist", Changes: ch,
		}); err != nil {
			return err
		}
		out, changed = AllowList{Entries: norm, UpdatedAt: now, UpdatedBy: by}, true
		return nil
	})
	if err != nil {
		return AllowList{}, err
	}
	if changed {
		s.remember(version, prefixes)
		s.log.InfoContext(ctx, "ip allow-list saved", "entries", len(norm))
	}
	return out, nil
}

// Allowed reports whether ip may use the tenant whose database db is. An
// empty list allows everyone; an address that does not parse passes only
// an empty list. See the file comment for how it caches.
func (s *AllowListService) Allowed(ctx context.Context, db bun.IDB, ip string) (bool, error) {
	prefixes, err := s.current(ctx, db)
	if err != nil {
		return false, err
	}
	return allowListMatch(prefixes, ip), nil
}

func (s *AllowListService) current(ctx context.Context, db bun.IDB) ([]netip.Prefix, error) {
	for range 3 {
		version, err := allowListVersion(ctx, db)
		if err != nil {
			return nil, err
		}
		if version == "" {
			return nil, nil
		}
		s.mu.Lock()
		prefixes, ok := s.cache[version]
		s.mu.Unlock()
		if ok {
			return prefixes, nil
		}
		entries, err := allowListLoad(ctx, db)
		if err != nil {
			return nil, err
		}
		// The entries and the version are two reads: keep what was read only
		// if no save came between them.
		again, err := allowListVersion(ctx, db)
		if err != nil {
			return nil, err
		}
		if again == version {
			prefixes = allowListPrefixes(entries)
			s.remember(version, prefixes)
			return prefixes, nil
		}
	}
	return nil, apperr.Wrap(apperr.KindUnavailable, "tenant_db_unavailable", errors.New("identity: the allow-list keeps changing while read"))
}

func (s *AllowListService) remember(version string, prefixes []netip.Prefix) {
	if version == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= allowListCacheMax {
		clear(s.cache)
	}
	s.cache[version] = prefixes
}

// Enforce refuses ip with ErrIPNotAllowed when the tenant's allow-list
// does not let it in, and records the refusal (access.denied_ip, result
// denied, with the source address) in a transaction of its own, so that it
// stays logged whatever the request does next. The actor, user agent and
// request id come from the context (auditlog.WithRequest); without an
// actor the entry names an anonymous one.
func (s *AllowListService) Enforce(ctx context.Context, db bun.IDB, ip string) error {
	ok, err := s.Allowed(ctx, db, ip)
	if err != nil || ok {
		return err
	}
	src := allowListSource(ip)
	tenant := ""
	if h := tenantdb.HandleFrom(ctx); h != nil {
		tenant = h.Placement().TenantID
	}
	if !s.throttle.allow(tenant, s.now()) {
		s.log.WarnContext(ctx, "request refused by the ip allow-list, not logged to the audit log (cap reached)", "tenant_id", tenant)
		return ErrIPNotAllowed
	}
	e := auditlog.Entry{Action: AuditAccessDeniedIP, Result: auditlog.ResultDenied, ObjectType: "ip_allowlist", SourceIP: src}
	if r, ok := auditlog.RequestFrom(ctx); !ok || r.Actor.Kind == "" {
		e.Actor = auditlog.Actor{Kind: auditlog.ActorAnonymous}
	}
	if _, err := auditlog.Record(ctx, db, e); err != nil {
		// The refusal stands; the failure to log it is the operator's to see.
		s.log.ErrorContext(ctx, "logging a request refused by the ip allow-list", "tenant_id", tenant, "err", err)
	}
	return ErrIPNotAllowed
}

// allowListSource is ip as the operation log stores it: canonical, and
// never longer than its column.
func allowListSource(ip string) string {
	if a, ok := allowListAddr(ip); ok {
		ip = a.String()
	}
	return apiKeyCut(ip, 45)
}

// allowListThrottle counts audit entries per tenant in fixed one-minute
// windows.
type allowListThrottle struct {
	limit int

	mu     sync.Mutex
	start  time.Time
	counts map[string]int
}

func newAllowListThrottle(limit int) *allowListThrottle {
	return &allowListThrottle{limit: limit, counts: map[string]int{}}
}

func (t *allowListThrottle) allow(tenant string, now time.Time) bool {
	if t.limit < 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Sub(t.start) >= time.Minute || now.Before(t.start) {
		t.start = now
		clear(t.counts)
	}
	if t.counts[tenant] >= t.limit {
		return false
	}
	t.counts[tenant]++
	return true
}

func allowListPrefixes(entries []AllowListEntry) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		if p, ok := ParseAllowListCIDR(e.CIDR); ok {
			out = append(out, p)
		}
	}
	return out
}

func allowListEqual(a, b []AllowListEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// allowListRow is a row of the tenant database's ip_allowlist table.
type allowListRow struct {
	bun.BaseModel `bun:"table:ip_allowlist"`

	Pos  int    `bun:"pos,pk"`
	CIDR string `bun:"cidr"`
	Note string `bun:"note"`
}

// allowListStateRow is the one row of ip_allowlist_state.
type allowListStateRow struct {
	bun.BaseModel `bun:"table:ip_allowlist_state"`

	ID        int          `bun:"id,pk"`
	Version   string       `bun:"version"`
	UpdatedAt bun.NullTime `bun:"updated_at"`
	UpdatedBy string       `bun:"updated_by"`
}

func allowListVersion(ctx context.Context, db bun.IDB) (string, error) {
	var v string
	err := db.NewSelect().Model((*allowListStateRow)(nil)).Column("version").Where("id = 1").Scan(ctx, &v)
	if err != nil {
		return "", fmt.Errorf("identity: read allow-list version: %w", err)
	}
	return v, nil
}

func allowListLoad(ctx context.Context, db bun.IDB) ([]AllowListEntry, error) {
	var rows []allowListRow
	err := db.NewSelect().Model(&rows).OrderExpr("pos ASC").Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("identity: read allow-list: %w", err)
	}
	out := make([]AllowListEntry, 0, len(rows))
	for _, r := range rows {
		out = append(out, AllowListEntry{CIDR: r.CIDR, Note: r.Note})
	}
	return out, nil
}
