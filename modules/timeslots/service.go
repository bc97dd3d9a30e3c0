package timeslots

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Errors of the calendar.
var (
	ErrProviderNotFound = apperr.New(apperr.KindNotFound, "calendar_provider_not_found")
	ErrResourceNotFound = apperr.New(apperr.KindNotFound, "calendar_resource_not_found")
)

// Audit actions of the calendar.
const (
	AuditCalendarUpdate = "calendar.update"
	AuditProviderUpdate = "calendar.provider.update"
	AuditResourceUpdate = "calendar.resource.update"
	AuditProviderDelete = "calendar.provider.delete"
	AuditResourceDelete = "calendar.resource.delete"
)

// ExistsFunc reports whether the provider or resource id exists in the
// tenant whose database db is.
type ExistsFunc func(ctx context.Context, db bun.IDB, id string) (bool, error)

// Config wires the service.
type Config struct {
	Logger *slog.Logger
	Now    func() time.Time
	// ProviderExists and ResourceExists check ids of the menus module
	// (cmd/yoyaku hands them in, so this module does not import menus).
	// When nil, any well-formed id is taken.
	ProviderExists ExistsFunc
	ResourceExists ExistsFunc
	// Menus is the catalog timetable sessions are checked against (the
	// menus module's *Service); creating or re-assigning sessions needs it.
	Menus MenuCatalog
	// OnSeatsFreed runs inside UpdateSlot's transaction when a session
	// gains free seats (its capacity raised, or reopened), after the
	// guarded update: the reservations module offers them to the
	// session's waitlist there (cmd/yoyaku hands it in; this module comes
	// before reservations). The returned func, when not nil, runs after
	// the commit (to wake the outbox dispatcher).
	OnSeatsFreed func(ctx context.Context, tx bun.IDB, slotID string) (after func(), err error)
	// BlockGuard, when set, makes provider and resource blocks take their
	// capacity under the booking guard (see BlockGuard).
	BlockGuard BlockGuard
}

// Service keeps the business calendars of tenants.
type Service struct {
	log        *slog.Logger
	now        func() time.Time
	providers  ExistsFunc
	resources  ExistsFunc
	menus      MenuCatalog
	freed      func(ctx context.Context, tx bun.IDB, slotID string) (func(), error)
	blockGuard BlockGuard
}

// NewService returns the calendar service.
func NewService(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{log: cfg.Logger, now: cfg.Now, providers: cfg.ProviderExists, resources: cfg.ResourceExists,
		menus: cfg.Menus, freed: cfg.OnSeatsFreed, blockGuard: cfg.BlockGuard}
}

// RangeInput is a range as a client writes it: "HH:MM" times.
type RangeInput struct {
	Start string
	End   string
}

// SpecialDateInput is a special date as a client writes it.
type SpecialDateInput struct {
	Date   string
	Ranges []RangeInput
}

// BusinessHoursInput is a whole business calendar as a client writes it;
// SaveBusinessHours validates it. Weekly is keyed "mon".."sun" (a missing
// day is closed); a nil Holiday lets holidays keep their weekday's hours.
type BusinessHoursInput struct {
	Weekly       map[string][]RangeInput
	Holiday      *[]RangeInput
	ClosedDates  []string
	SpecialDates []SpecialDateInput
}

// WorkingHoursInput is a provider's or resource's calendar as a client
// writes it. A nil Weekly means no hours of its own (it works whenever the
// business is open); a non-nil one gives its hours, a missing day off.
type WorkingHoursInput struct {
	Weekly  map[string][]RangeInput
	DaysOff []string
}

// validRanges checks the ranges of one day at path and returns them
// sorted; errors go to v with paths like "weekly.mon[0].end".
func validRanges(v *apperr.Validator, path string, in []RangeInput) []Range {
	if len(in) > MaxRangesPerDay {
		v.Add(path, "max_items", map[string]any{"Param": MaxRangesPerDay})
		return nil
	}
	type indexed struct {
		r Range
		i int
	}
	var ok []indexed
	for i, ri := range in {
		at := path + "[" + strconv.Itoa(i) + "]"
		s, sok := ParseMinute(ri.Start)
		if sok && s >= EndOfDay {
			sok = false
		}
		e, eok := ParseMinute(ri.End)
		switch {
		case ri.Start == "":
			v.Add(at+".start", "required", nil)
		case !sok:
			v.Add(at+".start", "calendar_time", nil)
		}
		switch {
		case ri.End == "":
			v.Add(at+".end", "required", nil)
		case !eok:
			v.Add(at+".end", "calendar_time", nil)
		}
		if sok && eok {
			if e <= s {
				v.Add(at+".end", "calendar_range_order", map[string]any{"Start": s.String()})
				continue
			}
			ok = append(ok, indexed{Range{s, e}, i})
		}
	}
	slices.SortStableFunc(ok, func(a, b indexed) int { return int(a.r.Start - b.r.Start) })
	out := make([]Range, 0, len(ok))
	for k, x := range ok {
		if k > 0 && x.r.Start < ok[k-1].r.End {
			v.Add(path+"["+strconv.Itoa(max(x.i, ok[k-1].i))+"].start", "calendar_range_overlap",
				map[string]any{"Other": ok[k-1].r.String()})
			continue
		}
		out = append(out, x.r)
	}
	if len(out) != len(in) {
		return nil // invalid anyway
	}
	return out
}

// validDate checks a calendar date at path.
func validDate(v *apperr.Validator, path, s string) (Date, bool) {
	if s == "" {
		v.Add(path, "required", nil)
		return Date{}, false
	}
	d, err := ParseDate(s)
	if err != nil || d.Year < MinCalendarYear || d.Year > MaxCalendarYear {
		v.Add(path, "calendar_date", map[string]any{"Min": MinCalendarYear, "Max": MaxCalendarYear})
		return Date{}, false
	}
	return d, true
}

// validWeekly checks weekly hours keyed by weekday.
func validWeekly(v *apperr.Validator, path string, in map[string][]RangeInput) Weekly {
	var w Weekly
	for _, key := range slices.Sorted(maps.Keys(in)) {
		wd, ok := weekdayOf(key)
		if !ok {
			v.Add(path+"."+key, "unknown_field", nil)
			continue
		}
		w[wd] = validRanges(v, path+"."+key, in[key])
	}
	return w
}

// validDates checks a list of dates at path: well-formed, no repeats, at
// most limit; returned sorted.
func validDates(v *apperr.Validator, path string, in []string, limit int, seen map[Date]string) []Date {
	if len(in) > limit {
		v.Add(path, "max_items", map[string]any{"Param": limit})
		return nil
	}
	out := make([]Date, 0, len(in))
	for i, s := range in {
		at := path + "[" + strconv.Itoa(i) + "]"
		d, ok := validDate(v, at, s)
		if !ok {
			continue
		}
		if _, dup := seen[d]; dup {
			v.Add(at, "duplicate", nil)
			continue
		}
		seen[d] = at
		out = append(out, d)
	}
	slices.SortFunc(out, Date.Compare)
	return out
}

// validate turns a business calendar input into business hours, or field
// errors.
func (in BusinessHoursInput) validate() (BusinessHours, error) {
	var v apperr.Validator
	bh := BusinessHours{Weekly: validWeekly(&v, "weekly", in.Weekly)}
	if in.Holiday != nil {
		bh.HolidayHours = true
		bh.Holiday = validRanges(&v, "holiday", *in.Holiday)
	}
	seen := map[Date]string{}
	bh.Closed = validDates(&v, "closed_dates", in.ClosedDates, MaxClosedDates, seen)
	if len(in.SpecialDates) > MaxSpecialDates {
		v.Add("special_dates", "max_items", map[string]any{"Param": MaxSpecialDates})
	} else {
		for i, sd := range in.SpecialDates {
			at := "special_dates[" + strconv.Itoa(i) + "]"
			d, ok := validDate(&v, at+".date", sd.Date)
			if ok {
				if _, dup := seen[d]; dup {
					v.Add(at+".date", "duplicate", nil)
					ok = false
				}
				seen[d] = at
			}
			if len(sd.Ranges) == 0 {
				v.Add(at+".ranges", "min_items", map[string]any{"Param": 1})
				continue
			}
			rs := validRanges(&v, at+".ranges", sd.Ranges)
			if ok {
				bh.Special = append(bh.Special, SpecialDate{Date: d, Ranges: rs})
			}
		}
		slices.SortFunc(bh.Special, func(a, b SpecialDate) int { return a.Date.Compare(b.Date) })
	}
	if err := v.Err(); err != nil {
		return BusinessHours{}, err
	}
	return bh, nil
}

func (in WorkingHoursInput) validate() (WorkingHours, error) {
	var v apperr.Validator
	var wh WorkingHours
	if in.Weekly != nil {
		wh.Custom = true
		wh.Weekly = validWeekly(&v, "weekly", in.Weekly)
	}
	wh.DaysOff = validDates(&v, "days_off", in.DaysOff, MaxDaysOff, map[Date]string{})
	if err := v.Err(); err != nil {
		return WorkingHours{}, err
	}
	return wh, nil
}

// actorName is who saves, for the calendar's "updated by".
func actorName(ctx context.Context) string {
	if r, ok := auditlog.RequestFrom(ctx); ok && r.Actor.Name != "" {
		return cutRunes(r.Actor.Name, 255)
	}
	return "system"
}

func cutRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// BusinessHours returns the tenant's business calendar (all closed, with
// holidays keeping their weekday's hours, until one is saved).
func (s *Service) BusinessHours(ctx context.Context, db bun.IDB) (BusinessHours, error) {
	st, err := loadOwners(ctx, db, []Owner{Business()})
	if err != nil {
		return BusinessHours{}, err
	}
	return toBusinessHours(st[0]), nil
}

func toBusinessHours(st stored) BusinessHours {
	bh := BusinessHours{Weekly: st.weekly, HolidayHours: st.holidays, Holiday: st.holiday, Closed: st.closed,
		UpdatedAt: st.at, UpdatedBy: st.by}
	for _, d := range slices.SortedFunc(maps.Keys(st.special), Date.Compare) {
		bh.Special = append(bh.Special, SpecialDate{Date: d, Ranges: st.special[d]})
	}
	return bh
}

func fromBusinessHours(bh BusinessHours) stored {
	st := stored{owner: Business(), custom: true, holidays: bh.HolidayHours, weekly: bh.Weekly, holiday: bh.Holiday,
		closed: bh.Closed, special: map[Date][]Range{}}
	for _, sd := range bh.Special {
		st.special[sd.Date] = sd.Ranges
	}
	return st
}

// SaveBusinessHours validates in and replaces the tenant's business
// calendar with it, writing an audit entry (calendar.update, before →
// after) in the same transaction. Saving what is already there changes and
// logs nothing.
func (s *Service) SaveBusinessHours(ctx context.Context, db bun.IDB, in BusinessHoursInput) (BusinessHours, error) {
	bh, err := in.validate()
	if err != nil {
		return BusinessHours{}, err
	}
	now, by := s.stamp(), actorName(ctx)
	var out BusinessHours
	changed := false
	if err := ensureOwner(ctx, db, Business(), now); err != nil {
		return BusinessHours{}, err
	}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := lockOwner(ctx, tx, Business()); err != nil {
			return err
		}
		st, err := loadOwners(ctx, tx, []Owner{Business()})
		if err != nil {
			return err
		}
		old := toBusinessHours(st[0])
		var ch auditlog.Changes
		oj, nj := toCalendarJSON(old), toCalendarJSON(bh)
		ch.Add("weekly", oj.Weekly, nj.Weekly)
		ch.Add("holiday", oj.Holiday, nj.Holiday)
		ch.Add("closed_dates", oj.ClosedDates, nj.ClosedDates)
		ch.Add("special_dates", oj.SpecialDates, nj.SpecialDates)
		if len(ch) == 0 && old.UpdatedBy != "" { // saved before and unchanged
			out = old
			return nil
		}
		next := fromBusinessHours(bh)
		next.at, next.by = now, by
		if err := saveOwner(ctx, tx, next); err != nil {
			return err
		}
		if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: AuditCalendarUpdate, ObjectType: "calendar",
			ObjectID: string(OwnerBusiness), Changes: ch}); err != nil {
			return err
		}
		out = toBusinessHours(next)
		changed = true
		return nil
	})
	if err != nil {
		return BusinessHours{}, err
	}
	if changed {
		s.log.InfoContext(ctx, "business calendar saved", "closed_dates", len(out.Closed), "special_dates", len(out.Special))
	}
	return out, nil
}

var ownerIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// checkOwner makes sure o names an existing provider or resource.
func (s *Service) checkOwner(ctx context.Context, db bun.IDB, o Owner) error {
	var exists ExistsFunc
	var notFound error
	switch o.Kind {
	case OwnerProvider:
		exists, notFound = s.providers, ErrProviderNotFound
	case OwnerResource:
		exists, notFound = s.resources, ErrResourceNotFound
	default:
		return apperr.New(apperr.KindInternal, "internal")
	}
	if !ownerIDRE.MatchString(o.ID) {
		return notFound
	}
	if exists == nil {
		return nil
	}
	ok, err := exists(ctx, db, o.ID)
	if err != nil {
		return err
	}
	if !ok {
		return notFound
	}
	return nil
}

// WorkingHours returns the own calendar of a provider or resource (no
// hours of its own and no days off until one is saved).
func (s *Service) WorkingHours(ctx context.Context, db bun.IDB, o Owner) (WorkingHours, error) {
	if err := s.checkOwner(ctx, db, o); err != nil {
		return WorkingHours{}, err
	}
	st, err := loadOwners(ctx, db, []Owner{o})
	if err != nil {
		return WorkingHours{}, err
	}
	return toWorkingHours(st[0]), nil
}

func toWorkingHours(st stored) WorkingHours {
	return WorkingHours{Owner: st.owner, Custom: st.custom, Weekly: st.weekly, DaysOff: st.closed, UpdatedAt: st.at, UpdatedBy: st.by}
}

// SaveWorkingHours validates in and replaces the calendar of provider or
// resource o with it, audited (calendar.provider.update or
// calendar.resource.update) in the same transaction.
func (s *Service) SaveWorkingHours(ctx context.Context, db bun.IDB, o Owner, in WorkingHoursInput) (WorkingHours, error) {
	if err := s.checkOwner(ctx, db, o); err != nil {
		return WorkingHours{}, err
	}
	wh, err := in.validate()
	if err != nil {
		return WorkingHours{}, err
	}
	wh.Owner = o
	now, by := s.stamp(), actorName(ctx)
	var out WorkingHours
	if err := ensureOwner(ctx, db, o, now); err != nil {
		return WorkingHours{}, err
	}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := lockOwner(ctx, tx, o); err != nil {
			return err
		}
		st, err := loadOwners(ctx, tx, []Owner{o})
		if err != nil {
			return err
		}
		old := toWorkingHours(st[0])
		var ch auditlog.Changes
		oj, nj := toWorkingJSON(old), toWorkingJSON(wh)
		ch.Add("weekly", oj.Weekly, nj.Weekly)
		ch.Add("days_off", oj.DaysOff, nj.DaysOff)
		if len(ch) == 0 && old.UpdatedBy != "" {
			out = old
			return nil
		}
		next := stored{owner: o, custom: wh.Custom, weekly: wh.Weekly, closed: wh.DaysOff, at: now, by: by}
		if err := saveOwner(ctx, tx, next); err != nil {
			return err
		}
		action := AuditProviderUpdate
		if o.Kind == OwnerResource {
			action = AuditResourceUpdate
		}
		if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: action, ObjectType: string(o.Kind), ObjectID: o.ID,
			Changes: ch}); err != nil {
			return err
		}
		out = toWorkingHours(next)
		return nil
	})
	if err != nil {
		return WorkingHours{}, err
	}
	return out, nil
}

// DeleteWorkingHours removes the calendar of a provider or resource, for
// when the menus module deletes it (cmd/yoyaku calls it in that deletion's
// transaction). Removing one that has none is not an error; a removal is
// audited.
func (s *Service) DeleteWorkingHours(ctx context.Context, tx bun.IDB, o Owner) error {
	if o.Kind != OwnerProvider && o.Kind != OwnerResource {
		return apperr.New(apperr.KindInternal, "internal")
	}
	removed, err := deleteOwner(ctx, tx, o)
	if err != nil || !removed {
		return err
	}
	action := AuditProviderDelete
	if o.Kind == OwnerResource {
		action = AuditResourceDelete
	}
	_, err = auditlog.Append(ctx, tx, auditlog.Entry{Action: action, ObjectType: string(o.Kind), ObjectID: o.ID})
	return err
}

// Load reads the calendar of the tenant whose database db is, in zone,
// with the providers and resources of owners, prepared for the days from
// through to (other days work too, a little slower). This is the one read
// an availability computation needs.
func (s *Service) Load(ctx context.Context, db bun.IDB, zone *time.Location, from, to Date, owners ...Owner) (*Calendar, error) {
	all := []Owner{Business()}
	for _, o := range owners {
		if o.Kind != OwnerBusiness && !slices.Contains(all, o) {
			all = append(all, o)
		}
	}
	st, err := loadOwners(ctx, db, all)
	if err != nil {
		return nil, err
	}
	whs := make([]WorkingHours, 0, len(st)-1)
	for _, x := range st[1:] {
		whs = append(whs, toWorkingHours(x))
	}
	var years []int
	for y := from.Year; y <= to.Year && y-from.Year < 3; y++ {
		years = append(years, y)
	}
	return NewCalendar(zone, toBusinessHours(st[0]), whs, years...), nil
}

// OpenRanges returns the open ranges of owner on day, in civil time of the
// tenant's zone: the business's hours for OwnerBusiness, cut to the
// owner's working hours and days off for a provider or resource.
func (s *Service) OpenRanges(ctx context.Context, db bun.IDB, zone *time.Location, day Date, o Owner) ([]Range, error) {
	c, err := s.Load(ctx, db, zone, day, day, o)
	if err != nil {
		return nil, err
	}
	return c.OpenRanges(day, o), nil
}

// Open is OpenRanges as instants (see Span for daylight-saving days).
func (s *Service) Open(ctx context.Context, db bun.IDB, zone *time.Location, day Date, o Owner) ([]Span, error) {
	c, err := s.Load(ctx, db, zone, day, day, o)
	if err != nil {
		return nil, err
	}
	return c.Open(day, o), nil
}
