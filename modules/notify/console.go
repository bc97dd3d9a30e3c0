package notify

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// ConsoleShell is what the mail pages need of the staff console
// (identity.Console provides each part); declared here so this module does
// not reach into the console's internals.
type ConsoleShell struct {
	// Page renders template name inside the console's shell, setting
	// data["Title"] from titleKey, data["CSRF"] and data["Base"].
	Page func(c *gin.Context, status int, name, titleKey string, data map[string]any)
	// CSRF refuses a form post without the session's token (middleware).
	CSRF gin.HandlerFunc
	// Fail shows an error as a console page.
	Fail func(c *gin.Context, err error)
	// Need refuses a request whose role does not allow action in area
	// (middleware, after the session).
	Need func(area authz.Area, action authz.Action) gin.HandlerFunc
}

// ConsoleConfig wires the mail pages of the console.
type ConsoleConfig struct {
	Service *Service
	Shell   ConsoleShell
	// Perms answers whether the signed-in role may edit mail, so that a
	// role that may only look is not shown forms it cannot send. The
	// routes are guarded by Shell.Need either way.
	Perms Permissions
}

// Permissions is what the mail pages ask of the authorization policy
// (platform/authz implements it).
type Permissions interface {
	Can(ctx context.Context, db bun.IDB, tenantID, subject string, area authz.Area, action authz.Action) (bool, error)
}

// Console serves the console's mail pages: the templates and settings
// (/mail), a template's editor with preview and test send
// (/mail/templates/{type}/{lang}) and the record of sent mail
// (/mail/deliveries).
type Console struct {
	svc   *Service
	shell ConsoleShell
	perms Permissions
}

// NewConsole returns the mail pages.
func NewConsole(cfg ConsoleConfig) *Console {
	return &Console{svc: cfg.Service, shell: cfg.Shell, perms: cfg.Perms}
}

// deliveriesPerPage is the length of a page of the sent-mail list. The
// service returns at most 1000 records, so the list pages through the
// newest 1000.
const (
	deliveriesPerPage = 50
	deliveriesMax     = 1000
)

// Register adds the mail pages to g, the console's group of signed-in
// staff ("/t/:tenant/admin" after the session middleware). Reading needs
// mail view; every change (and a test send) needs mail edit. A preview
// changes nothing, so view is enough for it.
func (k *Console) Register(g *gin.RouterGroup) {
	view := k.shell.Need(authz.AreaMail, authz.ActionView)
	edit := k.shell.Need(authz.AreaMail, authz.ActionEdit)
	g.GET("/mail", view, k.overview)
	g.POST("/mail/settings", k.shell.CSRF, edit, k.saveSettings)
	g.GET("/mail/deliveries", view, k.deliveries)
	g.GET("/mail/templates/:type/:lang", view, k.editor)
	g.POST("/mail/templates/:type/:lang", k.shell.CSRF, edit, k.saveTemplate)
	g.POST("/mail/templates/:type/:lang/preview", k.shell.CSRF, view, k.preview)
	g.POST("/mail/templates/:type/:lang/reset", k.shell.CSRF, edit, k.resetTemplate)
	g.POST("/mail/templates/:type/:lang/test", k.shell.CSRF, edit, k.sendTest)
}

// consoleReq is what every handler needs about its request.
type consoleReq struct {
	tenant tenants.Tenant
	db     bun.IDB
	who    identity.Principal
	base   string // /t/{slug}/admin
	lang   string // of the page
	cat    *i18n.Catalog
}

func (k *Console) req(c *gin.Context) (consoleReq, bool) {
	ctx := c.Request.Context()
	t, ok := tenants.FromContext(ctx)
	p, pok := identity.PrincipalFrom(ctx)
	if !ok || !pok || p.Kind != identity.PrincipalStaff || p.ID == "" {
		k.shell.Fail(c, identity.ErrForbidden)
		return consoleReq{}, false
	}
	db, err := tenantdb.From(ctx)
	if err != nil {
		k.shell.Fail(c, err)
		return consoleReq{}, false
	}
	return consoleReq{tenant: t, db: db, who: p, base: "/t/" + t.Slug + "/admin",
		lang: httpx.Lang(c), cat: httpx.Catalog(c)}, true
}

func (r consoleReq) t(id string, args map[string]any) string { return r.cat.T(r.lang, id, args) }

// label is the catalog's text for id, or fallback when it has none (an
// event type added without its label still shows, by its name).
func (r consoleReq) label(id, fallback string) string {
	if s := r.cat.T(r.lang, id, nil); s != id {
		return s
	}
	return fallback
}

func (r consoleReq) eventLabel(typ string) string { return r.label("notify.event."+typ, typ) }
func (r consoleReq) langLabel(lang string) string { return r.label("notify.lang."+lang, lang) }

// when writes an instant in the tenant's zone as the console does:
// 2026年12月10日(木) 10:00, Thu, 10 Dec 2026 10:00.
func (r consoleReq) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(zone(r.tenant.TimeZone))
	if r.lang == i18n.English {
		return t.Format("Mon, 2 Jan 2006 15:04")
	}
	return t.Format("2006年1月2日") + "(" + weekdaysJa[t.Weekday()] + ") " + t.Format("15:04")
}

func (r consoleReq) zoneName() string {
	if r.tenant.TimeZone != "" {
		return r.tenant.TimeZone
	}
	return tenants.DefaultTimeZone
}

// canEdit reports whether the signed-in role may change mail; a failure to
// tell shows the page without its forms (the routes check again).
func (k *Console) canEdit(c *gin.Context, r consoleReq) bool {
	if k.perms == nil {
		return false
	}
	ok, err := k.perms.Can(c.Request.Context(), r.db, r.tenant.ID, r.who.Subject(), authz.AreaMail, authz.ActionEdit)
	if err != nil {
		httpx.Logger(c).WarnContext(c.Request.Context(), "checking mail edit permission", "err", err)
		return false
	}
	return ok
}

// formErrors turns a refusal into per-field messages (under the form's
// field names) and a summary.
func formErrors(c *gin.Context, err error) (map[string]string, string) {
	p := httpx.ProblemFor(c, err)
	fields := map[string]string{}
	for _, f := range p.Errors {
		name := f.Field
		if i := strings.IndexByte(name, '['); i > 0 { // copy_events[2] → copy_events
			name = name[:i]
		}
		if _, seen := fields[name]; !seen {
			fields[name] = f.Message
		}
	}
	summary := p.Title
	if len(p.Errors) == 0 && p.Detail != "" {
		summary = p.Title + " " + p.Detail
	}
	return fields, summary
}

// refused answers a refused form: the page again with the errors (4xx) or the
// console's error page (not found, 5xx).
func (k *Console) refused(c *gin.Context, err error, again func(status int, fields map[string]string, summary string)) {
	status := httpx.StatusOf(apperr.KindOf(err))
	if status == http.StatusNotFound || status == http.StatusForbidden || status >= 500 && !isMailFailure(err) {
		k.shell.Fail(c, err)
		return
	}
	fields, summary := formErrors(c, err)
	again(status, fields, summary)
}

// isMailFailure: the SMTP server is missing, away or refusing — said on
// the editor, next to the typed draft, rather than on an error page.
func isMailFailure(err error) bool {
	return errors.Is(err, ErrNotConfigured) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRejected)
}

// ---- /mail: templates and settings ----

type templateCell struct {
	Lang, LangLabel string
	Custom          bool
	Updated         string
	URL             string
	Subject         string
}

type templateGroup struct {
	Type, Label string
	Copyable    bool
	Cells       []templateCell
}

type copyOption struct {
	Type, Label string
	Checked     bool
}

type settingsForm struct {
	SenderName, ReplyTo string
	Copies              []copyOption
}

func (k *Console) overview(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	st, err := k.svc.Settings(c.Request.Context(), r.db)
	if err != nil {
		k.shell.Fail(c, err)
		return
	}
	data := map[string]any{}
	switch c.Query("done") {
	case "settings":
		data["Flash"] = r.t("notify.console.settings_saved", nil)
	}
	k.overviewPage(c, r, http.StatusOK, settingsForm{SenderName: st.SenderName, ReplyTo: st.ReplyTo, Copies: k.copyOptions(r, st.CopyEvents)}, data)
}

func (k *Console) copyOptions(r consoleReq, checked []string) []copyOption {
	var out []copyOption
	for _, et := range EventTypes() {
		if et.Copyable {
			out = append(out, copyOption{Type: et.Type, Label: r.eventLabel(et.Type), Checked: slices.Contains(checked, et.Type)})
		}
	}
	return out
}

func (k *Console) overviewPage(c *gin.Context, r consoleReq, status int, form settingsForm, data map[string]any) {
	list, err := k.svc.Templates(c.Request.Context(), r.db)
	if err != nil {
		k.shell.Fail(c, err)
		return
	}
	copyable := map[string]bool{}
	for _, et := range EventTypes() {
		copyable[et.Type] = et.Copyable
	}
	var groups []templateGroup
	for _, tp := range list {
		if len(groups) == 0 || groups[len(groups)-1].Type != tp.EventType {
			groups = append(groups, templateGroup{Type: tp.EventType, Label: r.eventLabel(tp.EventType), Copyable: copyable[tp.EventType]})
		}
		g := &groups[len(groups)-1]
		g.Cells = append(g.Cells, templateCell{
			Lang: tp.Lang, LangLabel: r.langLabel(tp.Lang), Custom: tp.Custom, Updated: r.when(tp.UpdatedAt),
			URL: r.base + "/mail/templates/" + url.PathEscape(tp.EventType) + "/" + tp.Lang, Subject: tp.Subject,
		})
	}
	data["Groups"] = groups
	data["Form"] = form
	data["TenantName"] = r.tenant.Name
	data["Contacts"] = r.tenant.ContactEmails
	data["CanEdit"] = k.canEdit(c, r)
	k.shell.Page(c, status, "console_mail.html", "notify.console.title", data)
}

func (k *Console) saveSettings(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	p := SettingsParams{SenderName: c.PostForm("sender_name"), ReplyTo: c.PostForm("reply_to"), CopyEvents: c.PostFormArray("copy_events")}
	if p.CopyEvents == nil {
		p.CopyEvents = []string{}
	}
	if _, err := k.svc.UpdateSettings(c.Request.Context(), r.db, p); err != nil {
		k.refused(c, err, func(status int, fields map[string]string, summary string) {
			form := settingsForm{SenderName: p.SenderName, ReplyTo: p.ReplyTo, Copies: k.copyOptions(r, p.CopyEvents)}
			k.overviewPage(c, r, status, form, map[string]any{"Fields": fields, "Error": summary})
		})
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/mail?done=settings")
}

// ---- /mail/templates/{type}/{lang}: the editor ----

type variable struct {
	Code, Help string
}

type previewView struct {
	Subject, Text, HTML string
}

// editorState is what the editor shows beyond the template itself.
type editorState struct {
	form    TemplateContent // what is in the fields
	to      string          // the test address
	preview *Rendered
	fields  map[string]string
	summary string
	flash   string
	sent    string // the outcome of a test send, shown by its button
}

func (k *Console) typeLang(c *gin.Context) (string, string) { return c.Param("type"), c.Param("lang") }

func (k *Console) editor(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	typ, lang := k.typeLang(c)
	tp, err := k.svc.Template(c.Request.Context(), r.db, typ, lang)
	if err != nil {
		k.shell.Fail(c, err)
		return
	}
	st := editorState{form: tp.TemplateContent, to: r.who.Name}
	switch c.Query("done") {
	case "saved":
		st.flash = r.t("notify.console.saved", nil)
	case "reset":
		st.flash = r.t("notify.console.reset_done", nil)
	}
	k.editorPage(c, r, http.StatusOK, tp, st)
}

// draft reads the editor's fields.
func draft(c *gin.Context) TemplateContent {
	return TemplateContent{Subject: c.PostForm("subject"), Text: c.PostForm("body_text"), HTML: c.PostForm("body_html")}
}

func (k *Console) editorPage(c *gin.Context, r consoleReq, status int, tp Template, st editorState) {
	var vars []variable
	for _, et := range EventTypes() {
		if et.Type == tp.EventType {
			for _, v := range et.Variables {
				vars = append(vars, variable{Code: "{{." + v + "}}", Help: r.label("notify.var."+v, "")})
			}
		}
	}
	base := r.base + "/mail/templates/" + url.PathEscape(tp.EventType) + "/" + tp.Lang
	data := map[string]any{
		"Type": tp.EventType, "TypeLabel": r.eventLabel(tp.EventType), "Lang": tp.Lang, "LangLabel": r.langLabel(tp.Lang),
		"Custom": tp.Custom, "Updated": r.when(tp.UpdatedAt), "Form": st.form, "To": st.to,
		"Variables": vars, "Action": base, "Fields": st.fields, "Error": st.summary,
		"CanEdit": k.canEdit(c, r),
	}
	if st.flash != "" {
		data["Flash"] = st.flash
	}
	if st.sent != "" {
		data["TestSent"] = st.sent
	}
	if st.preview != nil {
		data["Preview"] = previewView{Subject: st.preview.Subject, Text: st.preview.Text, HTML: st.preview.HTML}
		if st.preview.HTML != "" {
			// The HTML part is shown in an iframe with an empty sandbox and
			// srcdoc: no script runs, it has an origin of its own and cannot
			// navigate or submit the console. A srcdoc document inherits the
			// page's policy, whose style-src would strip the inline styles
			// that mails are made of; so this one answer allows inline
			// styles. The console's own markup has none that data can reach
			// (html/template escapes every value), and scripts stay 'self'.
			c.Header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "+
				"object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'")
		}
	}
	title := r.t("notify.console.editor_title", map[string]any{"Type": r.eventLabel(tp.EventType), "Lang": r.langLabel(tp.Lang)})
	data["Heading"] = title
	k.shell.Page(c, status, "console_mail_edit.html", "notify.console.editor", data)
}

// current loads the template the editor is about, or ends the request.
func (k *Console) current(c *gin.Context, r consoleReq) (Template, bool) {
	typ, lang := k.typeLang(c)
	tp, err := k.svc.Template(c.Request.Context(), r.db, typ, lang)
	if err != nil {
		k.shell.Fail(c, err)
		return Template{}, false
	}
	return tp, true
}

func (k *Console) saveTemplate(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	tp, ok := k.current(c, r)
	if !ok {
		return
	}
	d := draft(c)
	if _, err := k.svc.SaveTemplate(c.Request.Context(), r.db, tp.EventType, tp.Lang, d); err != nil {
		k.refused(c, err, func(status int, fields map[string]string, summary string) {
			k.editorPage(c, r, status, tp, editorState{form: d, to: c.PostForm("to"), fields: fields, summary: summary})
		})
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/mail/templates/"+url.PathEscape(tp.EventType)+"/"+tp.Lang+"?done=saved")
}

func (k *Console) preview(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	tp, ok := k.current(c, r)
	if !ok {
		return
	}
	d := draft(c)
	st := editorState{form: d, to: c.PostForm("to")}
	out, err := k.svc.Preview(c.Request.Context(), r.db, TenantInfoOf(r.tenant), tp.EventType, tp.Lang, &d)
	if err != nil {
		k.refused(c, err, func(status int, fields map[string]string, summary string) {
			st.fields, st.summary = fields, summary
			k.editorPage(c, r, status, tp, st)
		})
		return
	}
	st.preview = &out
	st.flash = r.t("notify.console.preview_done", nil)
	k.editorPage(c, r, http.StatusOK, tp, st)
}

func (k *Console) resetTemplate(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	tp, ok := k.current(c, r)
	if !ok {
		return
	}
	if _, err := k.svc.ResetTemplate(c.Request.Context(), r.db, tp.EventType, tp.Lang); err != nil {
		k.shell.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/mail/templates/"+url.PathEscape(tp.EventType)+"/"+tp.Lang+"?done=reset")
}

// sendTest sends the draft in the editor (saved or not) with sample data
// to the address given, the signed-in member's by default. The service
// sends it at once, not through the outbox, so the page can say whether
// the mail server took it. The send is written to the operation log (to
// whom, of which template, how it ended).
func (k *Console) sendTest(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	tp, ok := k.current(c, r)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	d := draft(c)
	to := strings.TrimSpace(c.PostForm("to"))
	st := editorState{form: d, to: to}
	sent, err := k.svc.SendTest(ctx, r.db, TenantInfoOf(r.tenant), TestParams{
		To: to, EventType: tp.EventType, Lang: tp.Lang, Draft: &d, RequestedBy: r.who.Name,
	})
	if sent.EventID != "" { // a send was tried (and recorded)
		k.auditTest(c, r, tp, to, sent, err)
	}
	if err != nil {
		k.refused(c, err, func(status int, fields map[string]string, summary string) {
			st.fields, st.summary = fields, summary
			k.editorPage(c, r, status, tp, st)
		})
		return
	}
	st.sent = r.t("notify.console.test_sent", map[string]any{"To": to, "MessageID": sent.MessageID})
	k.editorPage(c, r, http.StatusOK, tp, st)
}

func (k *Console) auditTest(c *gin.Context, r consoleReq, tp Template, to string, sent Delivery, sendErr error) {
	var ch auditlog.Changes
	ch.Add("to", "", to)
	ch.Add("message_id", "", sent.MessageID)
	e := auditlog.Entry{Action: "mail_template.test", ObjectType: "mail_template", ObjectID: tp.EventType + "/" + tp.Lang,
		Changes: ch, Result: auditlog.ResultOK}
	if sendErr != nil {
		e.Result = auditlog.ResultFailed
	}
	if _, err := auditlog.Record(c.Request.Context(), r.db, e); err != nil {
		httpx.Logger(c).ErrorContext(c.Request.Context(), "test mail not written to the operation log", "event_type", tp.EventType, "err", err)
	}
}

// ---- /mail/deliveries: the sent-mail list ----

type deliveryView struct {
	When       string
	Recipient  string
	Copy       bool
	EventLabel string
	LangLabel  string
	Status     string
	StatusText string
	MessageID  string
	Attempts   int
	Error      string
}

type statusOption struct {
	Value, Label string
	Selected     bool
}

func (k *Console) deliveries(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	status := DeliveryStatus(c.Query("status"))
	if status != StatusSent && status != StatusFailed {
		status = "" // an unknown filter shows everything, as the empty one does
	}
	page, err := strconv.Atoi(c.DefaultQuery("page", "1"))
	if err != nil || page < 1 {
		page = 1
	}
	page = min(page, deliveriesMax/deliveriesPerPage)
	list, err := k.svc.Deliveries(c.Request.Context(), r.db, DeliveryFilter{Status: status, Limit: min(page*deliveriesPerPage+1, deliveriesMax)})
	if err != nil {
		k.shell.Fail(c, err)
		return
	}
	from := (page - 1) * deliveriesPerPage
	more := len(list) > page*deliveriesPerPage
	rows := []deliveryView{}
	if from < len(list) {
		for _, d := range list[from:min(len(list), page*deliveriesPerPage)] {
			when := d.SentAt
			if when.IsZero() {
				when = d.UpdatedAt
			}
			rows = append(rows, deliveryView{
				When: r.when(when), Recipient: d.Recipient, Copy: d.Copy, EventLabel: r.eventLabel(d.EventType),
				LangLabel: r.langLabel(d.Lang), Status: string(d.Status), StatusText: r.label("notify.status."+string(d.Status), string(d.Status)),
				MessageID: d.MessageID, Attempts: d.Attempts, Error: d.Error,
			})
		}
	}
	link := func(p int) string {
		q := url.Values{}
		if status != "" {
			q.Set("status", string(status))
		}
		if p > 1 {
			q.Set("page", strconv.Itoa(p))
		}
		if len(q) == 0 {
			return r.base + "/mail/deliveries"
		}
		return r.base + "/mail/deliveries?" + q.Encode()
	}
	data := map[string]any{
		"Rows": rows, "Page": page, "Zone": r.zoneName(),
		"Statuses": []statusOption{
			{Value: "", Label: r.t("notify.console.status_all", nil), Selected: status == ""},
			{Value: string(StatusSent), Label: r.t("notify.status.sent", nil), Selected: status == StatusSent},
			{Value: string(StatusFailed), Label: r.t("notify.status.failed", nil), Selected: status == StatusFailed},
		},
	}
	if page > 1 {
		data["Prev"] = link(page - 1)
	}
	if more && page < deliveriesMax/deliveriesPerPage {
		data["Next"] = link(page + 1)
	}
	if more && page == deliveriesMax/deliveriesPerPage {
		data["Capped"] = true
	}
	k.shell.Page(c, http.StatusOK, "console_mail_deliveries.html", "notify.console.deliveries_title", data)
}
