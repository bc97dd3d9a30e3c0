package outbox

// The outbox's HTTP surface: the operator API over one tenant's deliveries
// (GET /api/v1/platform/tenants/{slug}/outbox, .../{id}, POST .../retry and
// .../discard) and the console's 配信の状況 page (/t/{tenant}/admin/outbox).
//
// It lives here, next to the rows it shows, because what it needs to know
// is the outbox's own: which rows are failing, how they are counted, how an
// error is stripped of addresses. What it needs of the modules above
// platform (the tenant directory, the operation log, the console's shell and
// permission check) it is handed as functions by cmd/yoyaku, so this package
// still imports no module.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
)

// StatusFailing is not a stored state but a filter: pending rows whose last
// attempt failed (retrying with backoff, or retried by hand and not yet
// tried again).
const StatusFailing Status = "failed"

// Audit actions of the dead-letter operations.
const (
	ActionRetry   = "outbox.retry"
	ActionDiscard = "outbox.discard"
)

// ConsoleShell is what the console page needs of the staff console
// (identity.Console provides it, cmd/yoyaku wires it).
type ConsoleShell struct {
	// Page renders template name inside the console's shell, setting
	// data["Title"] from titleKey, data["CSRF"] and data["Base"].
	Page func(c *gin.Context, status int, name, titleKey string, data map[string]any)
	// CSRF refuses a form post without the session's token (middleware).
	CSRF gin.HandlerFunc
	// Fail shows an error as a console page.
	Fail func(c *gin.Context, err error)
	// Need refuses a request the signed-in role does not allow.
	Need func(area authz.Area, action authz.Action) gin.HandlerFunc
	// Can reports whether the signed-in role may act in area, to show the
	// forms only to those who may use them (Need still guards the posts).
	Can func(ctx context.Context, area authz.Area, action authz.Action) (bool, error)
	// Tenant returns the console request's tenant and its time zone.
	Tenant func(ctx context.Context) (Tenant, *time.Location, bool)
}

// HTTPConfig wires the HTTP side.
type HTTPConfig struct {
	// Open resolves the :slug of an operator route to the tenant and its
	// database; release is called when the request is done. An unknown
	// tenant is a not-found error, a terminated one gone (410).
	Open func(ctx context.Context, slug string) (t Tenant, db bun.IDB, release func(), err error)
	// Audit appends the operation-log entry of a retry or discard to tx,
	// the transaction of the change; the actor comes from ctx (the
	// console's session, or the operator routes' middleware). before is
	// the row as it was, to its new status.
	Audit func(ctx context.Context, tx bun.IDB, action string, before Event, to Status) error
	// Notify tells the dispatchers, after a retry commits, that the events
	// are due (Dispatcher.Notify: the due time in the control database, so
	// that a dispatcher of any process takes it at its next poll, and a
	// wake of this process's).
	Notify func(ctx context.Context, tenantID string, evs []Event)
	// Console is needed by RegisterConsole only.
	Console ConsoleShell
}

// HTTP serves the outbox's operator API and console page.
type HTTP struct{ cfg HTTPConfig }

// NewHTTP returns the HTTP side of the outbox. Audit is required: every
// retry and discard is written to the tenant's operation log.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	if cfg.Audit == nil {
		return nil, errors.New("outbox: HTTP needs an Audit function")
	}
	if cfg.Notify == nil {
		cfg.Notify = func(context.Context, string, []Event) {}
	}
	return &HTTP{cfg: cfg}, nil
}

// View is a delivery row as the operator API shows it: never the payload,
// which may hold personal data, and the last error with e-mail addresses
// replaced by "[address]".
type View struct {
	ID            string     `json:"id"`
	EventID       string     `json:"event_id"`
	Type          string     `json:"type"`
	Consumer      string     `json:"consumer"`
	AggregateType string     `json:"aggregate_type"`
	AggregateID   string     `json:"aggregate_id"`
	Status        Status     `json:"status"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error"`
	DueAt         time.Time  `json:"due_at"`
	NextAt        *time.Time `json:"next_at"` // pending rows only
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
	RequestID     string     `json:"request_id"`
}

// ToView converts a row for the operator.
func ToView(e Event) View {
	v := View{ID: e.ID, EventID: e.EventID, Type: e.Type, Consumer: e.Consumer,
		AggregateType: e.AggregateType, AggregateID: e.AggregateID, Status: e.Status, Attempts: e.Attempts,
		LastError: RedactAddresses(e.LastError), DueAt: e.DueAt, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		RequestID: e.RequestID}
	if e.Status == StatusPending && !e.NextAt.IsZero() {
		v.NextAt = &e.NextAt
	}
	if !e.DeliveredAt.IsZero() {
		v.DeliveredAt = &e.DeliveredAt
	}
	return v
}

// RedactAddresses replaces the e-mail addresses in s (an SMTP server's
// "550 <user@example.com>: no such user") by "[address]". The dispatcher
// keeps them out of its logs the same way; the row itself keeps the full
// error for the tenant's own console.
func RedactAddresses(s string) string { return emailRE.ReplaceAllString(s, "[address]") }

type listResponse struct {
	Items     []View `json:"items"`
	NextAfter string `json:"next_after,omitempty"`
}

// RegisterOperator adds the outbox routes of the operator API to g
// ("/api/v1/platform", which must already require the operator token).
func (h *HTTP) RegisterOperator(g *gin.RouterGroup) {
	g.GET("/tenants/:slug/outbox", h.operatorList)
	g.GET("/tenants/:slug/outbox/:id", h.operatorGet)
	g.POST("/tenants/:slug/outbox/:id/retry", h.operatorAct(ActionRetry))
	g.POST("/tenants/:slug/outbox/:id/discard", h.operatorAct(ActionDiscard))
}

// operatorTenant opens the route's tenant, or answers the problem.
func (h *HTTP) operatorTenant(c *gin.Context) (Tenant, bun.IDB, func(), bool) {
	t, db, release, err := h.cfg.Open(c.Request.Context(), c.Param("slug"))
	if err != nil {
		httpx.Fail(c, err)
		return Tenant{}, nil, nil, false
	}
	return t, db, release, true
}

// listQuery reads the list's query parameters.
func listQuery(c *gin.Context) (Filter, bool, error) {
	f := Filter{Status: Status(c.Query("status")), Type: c.Query("type"), Before: c.Query("after")}
	failing := f.Status == StatusFailing
	if failing {
		f.Status = ""
	}
	var v apperr.Validator
	if f.Status != "" && !f.Status.Valid() {
		v.Add("status", "oneof", map[string]any{"Param": "pending failed dead delivered discarded cancelled"})
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			v.Add("limit", "range", map[string]any{"Min": 1, "Max": 500})
		}
		f.Limit = n
	}
	return f, failing, v.Err()
}

func (h *HTTP) operatorList(c *gin.Context) {
	f, failing, err := listQuery(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	_, db, release, ok := h.operatorTenant(c)
	if !ok {
		return
	}
	defer release()
	evs, err := listEvents(c.Request.Context(), db, f, failing)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	resp := listResponse{Items: make([]View, 0, len(evs))}
	for _, e := range evs {
		resp.Items = append(resp.Items, ToView(e))
	}
	if limit := orDefault(f.Limit, 50); len(evs) == limit {
		resp.NextAfter = evs[len(evs)-1].ID
	}
	c.JSON(http.StatusOK, resp)
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func (h *HTTP) operatorGet(c *gin.Context) {
	_, db, release, ok := h.operatorTenant(c)
	if !ok {
		return
	}
	defer release()
	e, err := Get(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ToView(e))
}

func (h *HTTP) operatorAct(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		t, db, release, ok := h.operatorTenant(c)
		if !ok {
			return
		}
		defer release()
		e, err := h.act(c.Request.Context(), db, t.ID, c.Param("id"), action)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, ToView(e))
	}
}

// act retries or discards dead row id, with its operation-log entry in the
// same transaction, and after a retry tells the dispatchers. It returns the
// row as it is now.
func (h *HTTP) act(ctx context.Context, db bun.IDB, tenantID, id, action string) (Event, error) {
	to, op := StatusPending, Retry
	if action == ActionDiscard {
		to, op = StatusDiscarded, Discard
	}
	var after Event
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		before, err := Get(ctx, tx, id)
		if err != nil {
			return err
		}
		if before.Status != StatusDead {
			return ErrNotDead.WithArgs(map[string]any{"Status": string(before.Status)})
		}
		if err := op(ctx, tx, id); err != nil {
			return err
		}
		if err := h.cfg.Audit(ctx, tx, action, before, to); err != nil {
			return fmt.Errorf("outbox: audit %s: %w", action, err)
		}
		after, err = Get(ctx, tx, id)
		return err
	})
	if err != nil {
		return Event{}, err
	}
	if action == ActionRetry {
		// Due again from NextAt (now), whatever it was first due at.
		due := after
		due.DueAt = after.NextAt
		h.cfg.Notify(ctx, tenantID, []Event{due})
	}
	return after, nil
}

// listEvents is List with one more filter: failing selects the pending
// rows whose last attempt failed.
func listEvents(ctx context.Context, db bun.IDB, f Filter, failing bool) ([]Event, error) {
	if !failing {
		return List(ctx, db, f)
	}
	f.Limit = min(orDefault(f.Limit, 50), 500)
	q := db.NewSelect().Model((*row)(nil)).Where("status = ? AND last_error <> ''", StatusPending)
	if f.Type != "" {
		q = q.Where("event_type = ?", f.Type)
	}
	if f.Consumer != "" {
		q = q.Where("consumer = ?", f.Consumer)
	}
	if f.Before != "" {
		q = q.Where("id < ?", f.Before)
	}
	var rows []row
	if err := q.OrderExpr("id DESC").Limit(int64(f.Limit)).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("outbox: list failing: %w", err)
	}
	out := make([]Event, len(rows))
	for i := range rows {
		out[i] = fromRow(&rows[i])
	}
	return out, nil
}

// Counts are a tenant's delivery rows by status; Failing counts the pending
// rows whose last attempt failed (they are in Pending too).
type Counts struct {
	ByStatus map[Status]int
	Failing  int
	// OldestDead is when the oldest dead row was recorded; zero when none.
	OldestDead time.Time
}

// Count counts a tenant's delivery rows by status.
func Count(ctx context.Context, db bun.IDB) (Counts, error) {
	var groups []struct {
		Status  string    `bun:"status"`
		N       int       `bun:"n"`
		Failing int       `bun:"failing"`
		Oldest  time.Time `bun:"oldest"`
	}
	err := db.NewSelect().Model((*row)(nil)).Column("status").
		ColumnExpr("COUNT(*) AS n").
		ColumnExpr("SUM(CASE WHEN last_error <> '' THEN 1 ELSE 0 END) AS failing").
		ColumnExpr("MIN(created_at) AS oldest").
		Group("status").Scan(ctx, &groups)
	if err != nil {
		return Counts{}, fmt.Errorf("outbox: count: %w", err)
	}
	out := Counts{ByStatus: map[Status]int{}}
	for _, g := range groups {
		out.ByStatus[Status(g.Status)] = g.N
		switch Status(g.Status) {
		case StatusPending:
			out.Failing = g.Failing
		case StatusDead:
			out.OldestDead = g.Oldest.UTC()
		}
	}
	return out, nil
}

// consoleLimit is how many rows of each list the console page shows.
const consoleLimit = 100

// RegisterConsole adds the 配信の状況 page to g, the console's group of
// signed-in staff ("/t/:tenant/admin"): GET /outbox needs settings:
// view, the retry and discard forms settings: edit and their CSRF token.
func (h *HTTP) RegisterConsole(g *gin.RouterGroup) {
	k := h.cfg.Console
	g.GET("/outbox", k.Need(authz.AreaSettings, authz.ActionView), h.consolePage)
	g.POST("/outbox/:id/retry", k.CSRF, k.Need(authz.AreaSettings, authz.ActionEdit), h.consoleAct(ActionRetry))
	g.POST("/outbox/:id/discard", k.CSRF, k.Need(authz.AreaSettings, authz.ActionEdit), h.consoleAct(ActionDiscard))
}

// consoleRow is a delivery row as the page shows it.
type consoleRow struct {
	ID, Type, TypeLabel, Consumer, ConsumerLabel, Status, LastError string
	Attempts                                                        int
	Created, Due, Next, Updated                                     string
	Dead                                                            bool
}

// consoleSection is one list of the page (dead letters, failing rows).
type consoleSection struct {
	Key, Heading, Help, Empty string // catalog keys but Key
	Rows                      []consoleRow
	More                      bool // more rows than the page shows
	Dead                      bool // rows with retry and discard forms
}

type countItem struct {
	Status, Label string
	N             int
}

func (h *HTTP) consolePage(c *gin.Context) {
	h.renderConsole(c, http.StatusOK, flashFor(httpx.Catalog(c), httpx.Lang(c), c.Query("done")), nil)
}

// renderConsole shows the page; flash is a success message, fail an error
// to explain above the lists (answered with status).
func (h *HTTP) renderConsole(c *gin.Context, status int, flash string, fail error) {
	ctx := c.Request.Context()
	k := h.cfg.Console
	_, zone, ok := k.Tenant(ctx)
	db, err := tenantdb.From(ctx)
	if !ok || err != nil {
		k.Fail(c, errors.Join(errors.New("outbox: console request without its tenant"), err))
		return
	}
	counts, err := Count(ctx, db)
	if err != nil {
		k.Fail(c, err)
		return
	}
	dead, err := List(ctx, db, Filter{Status: StatusDead, Limit: consoleLimit})
	if err != nil {
		k.Fail(c, err)
		return
	}
	failing, err := listEvents(ctx, db, Filter{Limit: consoleLimit}, true)
	if err != nil {
		k.Fail(c, err)
		return
	}
	cat, lang := httpx.Catalog(c), httpx.Lang(c)
	rows := func(evs []Event) []consoleRow {
		out := make([]consoleRow, 0, len(evs))
		for _, e := range evs {
			out = append(out, toConsoleRow(cat, lang, zone, e))
		}
		return out
	}
	var items []countItem
	for _, s := range []Status{StatusPending, StatusFailing, StatusDead, StatusDelivered, StatusDiscarded, StatusCancelled} {
		n := counts.ByStatus[s]
		if s == StatusFailing {
			n = counts.Failing
		}
		items = append(items, countItem{Status: string(s), Label: cat.T(lang, "outbox.status."+string(s), nil), N: n})
	}
	canEdit, err := k.Can(ctx, authz.AreaSettings, authz.ActionEdit)
	if err != nil {
		k.Fail(c, err)
		return
	}
	data := map[string]any{
		"Counts": items, "Limit": consoleLimit, "Zone": zone.String(), "Flash": flash, "CanEdit": canEdit,
		"Sections": []consoleSection{
			{Key: "dead", Heading: "outbox.dead.heading", Help: "outbox.dead.help", Empty: "outbox.dead.empty",
				Rows: rows(dead), More: counts.ByStatus[StatusDead] > len(dead), Dead: true},
			{Key: "failing", Heading: "outbox.failing.heading", Help: "outbox.failing.help", Empty: "outbox.failing.empty",
				Rows: rows(failing), More: counts.Failing > len(failing)},
		},
	}
	if fail != nil {
		p := httpx.ProblemFor(c, fail)
		msg := p.Detail
		if msg == "" {
			msg = p.Title
		}
		data["Error"] = msg
		status = p.Status
	}
	k.Page(c, status, "console_outbox.html", "outbox.title", data)
}

func toConsoleRow(cat *i18n.Catalog, lang string, zone *time.Location, e Event) consoleRow {
	label := func(prefixes []string, s string) string {
		for _, p := range prefixes {
			if cat.Has(p + s) {
				return cat.T(lang, p+s, nil)
			}
		}
		return s
	}
	r := consoleRow{ID: e.ID, Type: e.Type, Consumer: e.Consumer, Status: string(e.Status),
		TypeLabel:     label([]string{"outbox.type.", "notify.event."}, e.Type),
		ConsumerLabel: label([]string{"outbox.consumer."}, e.Consumer),
		LastError:     e.LastError, Attempts: e.Attempts, Dead: e.Status == StatusDead,
		Created: formatWhen(e.CreatedAt, zone, lang), Due: formatWhen(e.DueAt, zone, lang),
		Updated: formatWhen(e.UpdatedAt, zone, lang)}
	if e.Status == StatusPending {
		r.Next = formatWhen(e.NextAt, zone, lang)
	}
	return r
}

func (h *HTTP) consoleAct(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		k := h.cfg.Console
		t, _, ok := k.Tenant(ctx)
		db, err := tenantdb.From(ctx)
		if !ok || err != nil {
			k.Fail(c, errors.Join(errors.New("outbox: console request without its tenant"), err))
			return
		}
		if _, err := h.act(ctx, db, t.ID, c.Param("id"), action); err != nil {
			switch apperr.KindOf(err) {
			case apperr.KindNotFound, apperr.KindConflict:
				// Someone else acted first: show the page as it is now.
				h.renderConsole(c, 0, "", err)
			default:
				k.Fail(c, err)
			}
			return
		}
		done := "retried"
		if action == ActionDiscard {
			done = "discarded"
		}
		c.Redirect(http.StatusSeeOther, "/t/"+t.Slug+"/admin/outbox?done="+done)
	}
}

var jaWeekdays = [...]string{"日", "月", "火", "水", "木", "金", "土"}

// formatWhen writes an instant in zone as people read it: 2026年12月10日(木)
// 10:00 in Japanese, Thu, 10 Dec 2026 10:00 in English.
func formatWhen(t time.Time, zone *time.Location, lang string) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(zone)
	if lang == i18n.English {
		return t.Format("Mon, 2 Jan 2006 15:04")
	}
	return t.Format("2006年1月2日") + "(" + jaWeekdays[t.Weekday()] + ") " + t.Format("15:04")
}

// flashFor is the success message for ?done=.
func flashFor(cat *i18n.Catalog, lang, done string) string {
	switch done {
	case "retried":
		return cat.T(lang, "outbox.done.retried", nil)
	case "discarded":
		return cat.T(lang, "outbox.done.discarded", nil)
	}
	return ""
}
