package notices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
)

// Component is a part of the service the status page reports on.
type Component string

// The components, in the order the status page lists them.
const (
	ComponentAPI     Component = "api"          // the REST API
	ComponentSite    Component = "booking_site" // booking sites and consoles
	ComponentMail    Component = "mail"         // mail delivery
	ComponentPlugins Component = "plugins"      // integrations (plugins)
)

// Components lists every component.
var Components = []Component{ComponentAPI, ComponentSite, ComponentMail, ComponentPlugins}

// Health is a component's state now.
type Health string

// The healths. A component whose last check is older than StaleAfter (no
// process has checked it) is unknown, not operational.
const (
	HealthOperational Health = "operational"
	HealthOutage      Health = "outage"
	HealthUnknown     Health = "unknown"
)

// Overall sums the status page up in one word.
type Overall string

// The overall states, most serious first.
const (
	OverallOutage      Overall = "outage"      // a component fails its checks
	OverallDegraded    Overall = "degraded"    // an incident is open
	OverallMaintenance Overall = "maintenance" // a maintenance window is open
	OverallOperational Overall = "operational"
	OverallUnknown     Overall = "unknown" // nothing has been checked yet
)

// What the status page covers.
const (
	HistoryDays            = 90              // days of availability kept and shown
	MaintenanceHorizonDays = 30              // maintenance shown this far ahead
	StaleAfter             = 5 * time.Minute // a check older than this says nothing
)

// Status is what the status page shows at At.
type Status struct {
	Overall     Overall
	At          time.Time
	Components  []ComponentStatus
	Incidents   []Notice // open incidents addressed to every tenant, oldest first
	Maintenance []Notice // open or upcoming maintenance addressed to every tenant, soonest first
}

// ComponentStatus is one component's state and history.
type ComponentStatus struct {
	Component Component
	Health    Health
	CheckedAt time.Time // zero: never checked
	Since     time.Time // when its checks last turned from passing to failing or back
	Days      []Day     // HistoryDays days, oldest first, ending today
}

// Availability is the share of checked minutes that passed over the
// component's days, in percent; false when no minute was checked.
func (c ComponentStatus) Availability() (float64, bool) {
	ok, total := 0, 0
	for _, d := range c.Days {
		ok += d.OKMinutes
		total += d.TotalMinutes
	}
	return percent(ok, total)
}

// Day is a component's availability on one calendar day of the status
// zone.
type Day struct {
	Date         string // YYYY-MM-DD
	OKMinutes    int    // minutes whose check passed
	TotalMinutes int    // minutes counted: checked, or missed while no process checked
}

// Availability is the day's share of passing minutes in percent; false
// when the day has no minute counted.
func (d Day) Availability() (float64, bool) { return percent(d.OKMinutes, d.TotalMinutes) }

// percent rounds down to two decimals: 99.999% shows as 99.99, never as a
// 100 it was not.
func percent(ok, total int) (float64, bool) {
	if total <= 0 {
		return 0, false
	}
	return math.Floor(float64(ok)*10000/float64(total)) / 100, true
}

func (s *Service) day(t time.Time) string { return t.In(s.zone).Format(time.DateOnly) }

// historyDates returns the HistoryDays dates ending with now's, oldest first.
func (s *Service) historyDates(now time.Time) []string {
	t := now.In(s.zone)
	// Noon keeps AddDate clear of daylight-saving edges.
	noon := time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, s.zone)
	out := make([]string, 0, HistoryDays)
	for i := HistoryDays - 1; i >= 0; i-- {
		out = append(out, noon.AddDate(0, 0, -i).Format(time.DateOnly))
	}
	return out
}

// Status returns what the status page shows now. It holds no tenant data:
// only notices addressed to every tenant appear.
func (s *Service) Status(ctx context.Context) (Status, error) {
	now := s.now()
	dates := s.historyDates(now)
	rows, err := s.store.days(ctx, s.db, dates[0])
	if err != nil {
		return Status{}, err
	}
	comps, err := s.store.components(ctx, s.db)
	if err != nil {
		return Status{}, err
	}
	public, err := s.store.public(ctx, s.db, now, now.Add(MaintenanceHorizonDays*24*time.Hour))
	if err != nil {
		return Status{}, err
	}
	st := Status{At: now}
	byDay := map[Component]map[string]dayRow{}
	for _, r := range rows {
		c := Component(r.Component)
		if byDay[c] == nil {
			byDay[c] = map[string]dayRow{}
		}
		byDay[c][r.Day] = r
	}
	latest := map[Component]componentRow{}
	for _, r := range comps {
		latest[Component(r.Component)] = r
	}
	anyKnown, anyOutage := false, false
	for _, c := range Components {
		cs := ComponentStatus{Component: c, Health: HealthUnknown, Days: make([]Day, 0, len(dates))}
		if r, ok := latest[c]; ok {
			cs.CheckedAt, cs.Since = utc(r.CheckedAt), utc(r.ChangedAt)
			if now.Sub(r.CheckedAt) <= StaleAfter {
				cs.Health = HealthOutage
				if r.OK {
					cs.Health = HealthOperational
				}
			}
		}
		anyKnown = anyKnown || cs.Health != HealthUnknown
		anyOutage = anyOutage || cs.Health == HealthOutage
		for _, d := range dates {
			r := byDay[c][d]
			cs.Days = append(cs.Days, Day{Date: d, OKMinutes: r.OKMinutes, TotalMinutes: r.TotalMinutes})
		}
		st.Components = append(st.Components, cs)
	}
	inWindow := false
	for _, n := range public {
		switch n.Kind {
		case KindIncident:
			if !now.Before(n.StartsAt) {
				st.Incidents = append(st.Incidents, n)
			}
		case KindMaintenance:
			st.Maintenance = append(st.Maintenance, n)
			inWindow = inWindow || n.State(now) == StateActive
		}
	}
	switch {
	case anyOutage:
		st.Overall = OverallOutage
	case len(st.Incidents) > 0:
		st.Overall = OverallDegraded
	case inWindow:
		st.Overall = OverallMaintenance
	case anyKnown:
		st.Overall = OverallOperational
	default:
		st.Overall = OverallUnknown
	}
	return st, nil
}

// CheckFunc checks one component: nil means it works. It must return by
// the context's deadline.
type CheckFunc func(ctx context.Context) error

// CheckerConfig tunes a Checker.
type CheckerConfig struct {
	Timeout time.Duration // per check (default 20s)
	// After is the clock's timer (default time.After); tests inject one
	// that moves their clock instead of waiting.
	After  func(time.Duration) <-chan time.Time
	Logger *slog.Logger // default: the service's
}

// Checker runs the registered checks every minute and records their
// results in the control database, so that every process serving the
// status page agrees. Each minute of each component is counted once,
// whichever process checks it first; minutes in which no process checked
// (none was running) count as unavailable, because then nothing served.
type Checker struct {
	svc     *Service
	timeout time.Duration
	after   func(time.Duration) <-chan time.Time
	log     *slog.Logger

	mu     sync.Mutex
	checks map[Component]CheckFunc
	purged string // the day whose purge of old days has run
}

// NewChecker returns a checker recording into the service's database, on
// the service's clock and zone.
func (s *Service) NewChecker(cfg CheckerConfig) *Checker {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.Logger == nil {
		cfg.Logger = s.log
	}
	return &Checker{svc: s, timeout: cfg.Timeout, after: cfg.After, log: cfg.Logger, checks: map[Component]CheckFunc{}}
}

// Register sets the check of component c, replacing any before it.
func (k *Checker) Register(c Component, fn CheckFunc) error {
	known := false
	for _, x := range Components {
		known = known || x == c
	}
	if !known || fn == nil {
		return fmt.Errorf("notices: cannot register a check for component %q", c)
	}
	k.mu.Lock()
	k.checks[c] = fn
	k.mu.Unlock()
	return nil
}

// Run checks at once and then at the start of every minute until ctx ends.
func (k *Checker) Run(ctx context.Context) {
	for {
		if err := k.CheckOnce(ctx); err != nil && ctx.Err() == nil {
			k.log.ErrorContext(ctx, "recording status checks", "err", err)
		}
		now := k.svc.now()
		wait := now.Truncate(time.Minute).Add(time.Minute).Sub(now)
		select {
		case <-ctx.Done():
			return
		case <-k.after(wait):
		}
	}
}

// CheckOnce runs every registered check now, side by side, and records
// the results.
func (k *Checker) CheckOnce(ctx context.Context) error {
	k.mu.Lock()
	checks := make(map[Component]CheckFunc, len(k.checks))
	for c, fn := range k.checks {
		checks[c] = fn
	}
	k.mu.Unlock()
	now := k.svc.now()
	results := make(map[Component]error, len(checks))
	var rmu sync.Mutex
	var wg sync.WaitGroup
	for c, fn := range checks {
		wg.Go(func() {
			err := k.run(ctx, fn)
			rmu.Lock()
			results[c] = err
			rmu.Unlock()
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err() // a check cut short by shutdown says nothing
	}
	var errs []error
	for _, c := range Components {
		err, ok := results[c]
		if !ok {
			continue
		}
		if err != nil {
			k.log.WarnContext(ctx, "status check failed", "component", string(c), "err", err)
		}
		if rerr := k.record(ctx, c, err == nil, now); rerr != nil {
			errs = append(errs, rerr)
		}
	}
	k.mu.Lock()
	purged := k.purged
	k.mu.Unlock()
	if today := k.svc.day(now); today != purged {
		first := k.svc.historyDates(now)[0]
		if _, err := k.svc.store.purgeDays(ctx, k.svc.db, first); err != nil {
			errs = append(errs, err)
		} else {
			k.mu.Lock()
			k.purged = today
			k.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// run calls one check with the timeout; a panic is a failure, not a crash.
func (k *Checker) run(ctx context.Context, fn CheckFunc) (err error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("check panicked: %v", v)
		}
	}()
	return fn(ctx)
}

// record counts minute now of component c as passing (ok) or not, unless
// another process counted it already, and counts the minutes since the
// last counted one, which no process checked, as not passing.
func (k *Checker) record(ctx context.Context, c Component, ok bool, now time.Time) error {
	s := k.svc
	minute := now.Unix() / 60
	okMin := 0
	if ok {
		okMin = 1
	}
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		prev, found, err := s.store.component(ctx, tx, c)
		if err != nil {
			return err
		}
		row := componentRow{Component: string(c), OK: ok, CheckedAt: utc(now), ChangedAt: utc(now), LastMinute: minute}
		if !found {
			inserted, err := s.store.insertComponent(ctx, tx, row)
			if err != nil || !inserted {
				return err
			}
			return s.store.addMinutes(ctx, tx, c, s.day(now), okMin, 1)
		}
		if prev.LastMinute >= minute {
			return nil // counted by another process
		}
		if prev.OK == ok {
			row.ChangedAt = utc(prev.ChangedAt)
		}
		claimed, err := s.store.claimMinute(ctx, tx, row, prev.LastMinute)
		if err != nil || !claimed {
			return err
		}
		for day, n := range s.gap(prev.LastMinute, minute) {
			if err := s.store.addMinutes(ctx, tx, c, day, 0, n); err != nil {
				return err
			}
		}
		return s.store.addMinutes(ctx, tx, c, s.day(now), okMin, 1)
	})
}

// gap returns the minutes strictly between minutes from and to (Unix
// minutes) by calendar day; only the last HistoryDays+1 days of a longer
// gap matter.
func (s *Service) gap(from, to int64) map[string]int {
	out := map[string]int{}
	start := from + 1
	if limit := to - int64(HistoryDays+1)*24*60; start < limit {
		start = limit
	}
	for start < to {
		t := time.Unix(start*60, 0).In(s.zone)
		next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, s.zone).Unix() / 60
		end := min(to, next)
		out[t.Format(time.DateOnly)] += int(end - start)
		start = end
	}
	return out
}

// The status page's own problem: the control database cannot be read and
// no earlier answer is at hand.
var errStatusUnavailable = apperr.New(apperr.KindUnavailable, "status_unavailable")

// StatusCacheTTL is how long the status page and its JSON may be cached,
// by clients and shared caches alike.
const StatusCacheTTL = 30 * time.Second

// RegisterStatus adds the public status page to r: GET /status (HTML,
// Japanese or English) and GET /status.json. Both may be cached for 30
// seconds and show no tenant's data.
func (h *HTTP) RegisterStatus(r gin.IRoutes) {
	r.GET("/status", h.statusPage)
	r.GET("/status.json", h.statusJSON)
}

// snapshot returns the status, answered from a short in-process cache so a
// burst of visitors costs the control database one read; when the database
// cannot be read, the last answer is served rather than none.
func (h *HTTP) snapshot(ctx context.Context) (Status, error) {
	now := h.svc.now()
	h.mu.Lock()
	last, exp := h.last, h.lastExp
	h.mu.Unlock()
	if !last.At.IsZero() && now.Before(exp) {
		return last, nil
	}
	st, err := h.svc.Status(ctx)
	if err != nil {
		if !last.At.IsZero() && now.Sub(last.At) < 15*time.Minute {
			h.svc.log.WarnContext(ctx, "status page served from its last answer", "err", err)
			return last, nil
		}
		return Status{}, errStatusUnavailable.WithCause(err)
	}
	h.mu.Lock()
	h.last, h.lastExp = st, now.Add(h.statusTTL)
	h.mu.Unlock()
	return st, nil
}

func cacheable(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age="+strconv.Itoa(int(StatusCacheTTL/time.Second)))
}

// statusJSON is GET /status.json. Its fields are codes, not text, so it is
// the same in every language.
type statusJSON struct {
	Status      Overall            `json:"status"`
	UpdatedAt   time.Time          `json:"updated_at"`
	Components  []componentJSON    `json:"components"`
	Incidents   []publicNoticeJSON `json:"incidents"`
	Maintenance []publicNoticeJSON `json:"maintenance"`
}

type componentJSON struct {
	ID           Component  `json:"id"`
	Status       Health     `json:"status"`
	CheckedAt    *time.Time `json:"checked_at"`
	Since        *time.Time `json:"since"`
	Availability *float64   `json:"availability_90d"`
	Days         []dayJSON  `json:"days"`
}

type dayJSON struct {
	Date         string   `json:"date"`
	Availability *float64 `json:"availability"`
	OKMinutes    int      `json:"ok_minutes"`
	TotalMinutes int      `json:"total_minutes"`
}

// publicNoticeJSON is a notice as anyone may read it.
type publicNoticeJSON struct {
	ID       string     `json:"id"`
	Kind     Kind       `json:"kind"`
	Title    string     `json:"title"`
	Body     string     `json:"body"`
	StartsAt time.Time  `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at"`
	State    State      `json:"state"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func percentPtr(p float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &p
}

func toStatusJSON(st Status) statusJSON {
	out := statusJSON{Status: st.Overall, UpdatedAt: utc(st.At), Components: []componentJSON{},
		Incidents: []publicNoticeJSON{}, Maintenance: []publicNoticeJSON{}}
	for _, c := range st.Components {
		cj := componentJSON{ID: c.Component, Status: c.Health, CheckedAt: timePtr(c.CheckedAt),
			Since: timePtr(c.Since), Availability: percentPtr(c.Availability()), Days: make([]dayJSON, 0, len(c.Days))}
		for _, d := range c.Days {
			cj.Days = append(cj.Days, dayJSON{Date: d.Date, Availability: percentPtr(d.Availability()),
				OKMinutes: d.OKMinutes, TotalMinutes: d.TotalMinutes})
		}
		out.Components = append(out.Components, cj)
	}
	pub := func(n Notice) publicNoticeJSON {
		return publicNoticeJSON{ID: n.ID, Kind: n.Kind, Title: n.Title, Body: n.Body, StartsAt: n.StartsAt,
			EndsAt: timePtr(n.EndsAt), State: n.State(st.At)}
	}
	for _, n := range st.Incidents {
		out.Incidents = append(out.Incidents, pub(n))
	}
	for _, n := range st.Maintenance {
		out.Maintenance = append(out.Maintenance, pub(n))
	}
	return out
}

func (h *HTTP) statusJSON(c *gin.Context) {
	st, err := h.snapshot(c.Request.Context())
	if err != nil {
		c.Header("Retry-After", "30")
		httpx.Fail(c, err)
		return
	}
	cacheable(c)
	c.JSON(http.StatusOK, toStatusJSON(st))
}

// The colours of the availability bars; every bar also carries its text
// (a <title>), so nothing is told by colour alone.
const (
	fillFull    = "#1a7f37" // 99.9% and above
	fillPartial = "#9a6700" // 99% and above
	fillDown    = "#b42318"
	fillNoData  = "#d0d7de"
)

// statusView is what status.html receives.
type statusView struct {
	Overall     Overall
	Updated     string
	Components  []componentView
	Incidents   []noticeView
	Maintenance []noticeView
}

type componentView struct {
	ID           Component
	Name         string
	Health       Health
	HealthText   string
	Since        string
	Availability string // "" when there is no data
	Summary      string // the bars' text alternative
	Bars         []barView
}

type barView struct {
	X     int
	Fill  string
	Label string
}

// The bars' geometry in the SVG's own units (it scales to the page).
const (
	barWidth = 4
	barGap   = 1
)

func (h *HTTP) statusPage(c *gin.Context) {
	st, err := h.snapshot(c.Request.Context())
	lang := httpx.Lang(c)
	cat := httpx.Catalog(c)
	if err != nil {
		p := httpx.ProblemFor(c, err)
		httpx.Logger(c).ErrorContext(c.Request.Context(), "status page failed", "err", err)
		c.Header("Retry-After", "30")
		c.Header("Cache-Control", "no-store")
		h.views.HTML(c, p.Status, "site_error.html", map[string]any{
			"Title": p.Title, "Body": p.Detail, "RequestID": logx.RequestID(c.Request.Context()),
		})
		return
	}
	zone := h.svc.zone
	when := func(t time.Time) string { return formatWhen(t, zone, lang) + " " + t.In(zone).Format("MST") }
	v := statusView{Overall: st.Overall, Updated: when(st.At)}
	for _, cs := range st.Components {
		cv := componentView{ID: cs.Component, Health: cs.Health,
			Name:       cat.T(lang, "statuspage.component."+string(cs.Component), nil),
			HealthText: cat.T(lang, "statuspage.health."+string(cs.Health), nil)}
		if !cs.Since.IsZero() && cs.Health != HealthUnknown {
			cv.Since = cat.T(lang, "statuspage.since", map[string]any{"At": when(cs.Since)})
		}
		if p, ok := cs.Availability(); ok {
			cv.Availability = formatPercent(p)
			cv.Summary = cat.T(lang, "statuspage.availability", map[string]any{"Days": HistoryDays, "Percent": cv.Availability})
		} else {
			cv.Summary = cat.T(lang, "statuspage.no_data", map[string]any{"Days": HistoryDays})
		}
		for i, d := range cs.Days {
			b := barView{X: i * (barWidth + barGap), Fill: fillNoData}
			date := formatDate(d.Date, lang)
			if p, ok := d.Availability(); ok {
				switch {
				case p >= 99.9:
					b.Fill = fillFull
				case p >= 99:
					b.Fill = fillPartial
				default:
					b.Fill = fillDown
				}
				b.Label = cat.T(lang, "statuspage.day", map[string]any{"Date": date, "Percent": formatPercent(p)})
			} else {
				b.Label = cat.T(lang, "statuspage.day_no_data", map[string]any{"Date": date})
			}
			cv.Bars = append(cv.Bars, b)
		}
		v.Components = append(v.Components, cv)
	}
	for _, n := range st.Incidents {
		v.Incidents = append(v.Incidents, toNoticeView(cat, lang, zone, n, st.At, true))
	}
	for _, n := range st.Maintenance {
		v.Maintenance = append(v.Maintenance, toNoticeView(cat, lang, zone, n, st.At, true))
	}
	cacheable(c)
	// The language may come from the cookie as well as the header.
	c.Header("Vary", "Accept-Language, Cookie")
	h.views.HTML(c, http.StatusOK, "status.html", map[string]any{
		"Status": v, "Width": HistoryDays*(barWidth+barGap) - barGap, "BarWidth": barWidth,
		"HistoryDays": HistoryDays, "HorizonDays": MaintenanceHorizonDays,
	})
}

// formatPercent writes a percentage with at most two decimals and no
// trailing zeros: 100, 99.9, 99.95.
func formatPercent(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// formatDate writes a YYYY-MM-DD date as people read it: 2026年12月10日(木),
// Thu, 10 Dec 2026.
func formatDate(date, lang string) string {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return date
	}
	if lang == "en" {
		return t.Format("Mon, 2 Jan 2006")
	}
	return t.Format("2006年1月2日") + "(" + jaWeekdays[t.Weekday()] + ")"
}
