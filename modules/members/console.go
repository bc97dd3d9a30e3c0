package members

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// RegisterConsole adds the member pages to g, the console's group of
// signed-in staff: the list with search, a status filter and paging, all
// in the URL (/members?q=&status=&after=), and a page per member with its
// details, an edit form, disable/enable and withdrawal (confirmed by a
// checkbox). Reading needs members: view; every post members: edit and
// the form's CSRF token.
func (h *HTTP) RegisterConsole(g *gin.RouterGroup) {
	sh := h.cfg.Console
	view, edit := sh.Need(authz.AreaMembers, authz.ActionView), sh.Need(authz.AreaMembers, authz.ActionEdit)
	g.GET("/members", view, h.consoleList)
	g.GET("/members/:id", view, h.consoleDetail)
	g.POST("/members/:id", sh.CSRF, edit, h.consoleSave)
	g.POST("/members/:id/status", sh.CSRF, edit, h.consoleStatus)
	g.POST("/members/:id/withdraw", sh.CSRF, edit, h.consoleWithdraw)
}

type consoleReq struct {
	db      bun.IDB
	tenant  tenants.Tenant
	base    string
	canEdit bool
}

func (h *HTTP) consoleReq(c *gin.Context) (consoleReq, bool) {
	ctx := c.Request.Context()
	t, _ := tenants.FromContext(ctx)
	p, _ := identity.PrincipalFrom(ctx)
	db, err := tenantdb.From(ctx)
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return consoleReq{}, false
	}
	can := false
	if h.cfg.Perms != nil {
		if can, err = h.cfg.Perms.Can(ctx, db, t.ID, p.Subject(), authz.AreaMembers, authz.ActionEdit); err != nil {
			h.cfg.Console.Fail(c, err)
			return consoleReq{}, false
		}
	}
	return consoleReq{db: db, tenant: t, base: "/t/" + t.Slug + "/admin", canEdit: can}, true
}

type memberRowView struct {
	ID, Number, Name, Kana, Email, Phone, Status, StatusLabel, Created string
}

func (h *HTTP) when(c *gin.Context, r consoleReq, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	loc, err := time.LoadLocation(r.tenant.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	t = t.In(loc)
	if httpx.Lang(c) == "en" {
		return t.Format("2 Jan 2006 15:04")
	}
	return t.Format("2006年1月2日 15:04")
}

func (h *HTTP) consoleList(c *gin.Context) {
	r, ok := h.consoleReq(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	p := ListParams{Q: c.Query("q"), After: c.Query("after"), Limit: 50}
	status := c.Query("status")
	if status != "" {
		p.Statuses = []Status{Status(status)}
	}
	data := map[string]any{"Q": p.Q, "Status": status}
	ms, next, err := h.cfg.Service.List(ctx, r.db, p)
	if err != nil {
		if apperr.KindOf(err) != apperr.KindInvalid {
			h.cfg.Console.Fail(c, err)
			return
		}
		_, _, data["Error"] = problemOf(c, err)
	}
	count, _ := h.cfg.Service.Count(ctx, r.db, ListParams{Q: p.Q, Statuses: p.Statuses})
	rows := make([]memberRowView, 0, len(ms))
	for _, m := range ms {
		rows = append(rows, memberRowView{ID: m.ID, Number: m.Number, Name: m.Profile.Name(), Kana: m.Profile.Kana(), Email: m.Email,
			Phone: m.Profile.Phone, Status: string(m.Status), StatusLabel: tr(c, "members.status."+string(m.Status), nil),
			Created: h.when(c, r, m.CreatedAt)})
	}
	var statuses []optionView
	for _, s := range Statuses() {
		statuses = append(statuses, optionView{Value: string(s), Label: tr(c, "members.status."+string(s), nil), Selected: string(s) == status})
	}
	q := url.Values{}
	if p.Q != "" {
		q.Set("q", p.Q)
	}
	if status != "" {
		q.Set("status", status)
	}
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("after", next)
		data["NextURL"] = r.base + "/members?" + nq.Encode()
	}
	if p.After != "" {
		data["FirstURL"] = r.base + "/members?" + q.Encode()
	}
	data["Rows"] = rows
	data["Count"] = count
	data["Statuses"] = statuses
	h.cfg.Console.Page(c, http.StatusOK, "console_members.html", "members.console.title", data)
}

func (h *HTTP) consoleDetailPage(c *gin.Context, r consoleReq, status int, m Member, in *ProfileInput, vals map[string]string, email string, err error) {
	ctx := c.Request.Context()
	defs, derr := h.cfg.Service.Attributes(ctx, r.db)
	if derr != nil {
		h.cfg.Console.Fail(c, derr)
		return
	}
	if in == nil {
		x := InputOf(m.Profile)
		in, vals, email = &x, m.Attributes, m.Email
	}
	data := map[string]any{"Member": m, "CanEdit": r.canEdit && m.Status != StatusWithdrawn, "Email": email,
		"StatusLabel": tr(c, "members.status."+string(m.Status), nil), "Created": h.when(c, r, m.CreatedAt),
		"LastLogin": h.when(c, r, m.LastLoginAt), "Withdrawn": m.Status == StatusWithdrawn,
		"Disabled": m.Status == StatusDisabled, "Active": m.Status == StatusActive}
	errs, first := map[string]string{}, ""
	if err != nil {
		var summary string
		errs, first, summary = problemOf(c, err)
		data["Error"] = summary
	}
	data["EmailError"] = errs["email"]
	data["Fields"] = profileFields(c, *in, defs, vals, errs, first, true)
	switch c.Query("done") {
	case "saved":
		data["Flash"] = tr(c, "members.console.saved", nil)
	case "withdrawn":
		data["Flash"] = tr(c, "members.console.withdrawn", nil)
	}
	h.cfg.Console.Page(c, status, "console_member.html", "members.console.detail", data)
}

func (h *HTTP) consoleDetail(c *gin.Context) {
	r, ok := h.consoleReq(c)
	if !ok {
		return
	}
	m, err := h.cfg.Service.Get(c.Request.Context(), r.db, c.Param("id"))
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	h.consoleDetailPage(c, r, http.StatusOK, m, nil, nil, "", nil)
}

func (h *HTTP) consoleSave(c *gin.Context) {
	r, ok := h.consoleReq(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	m, err := h.cfg.Service.Get(ctx, r.db, c.Param("id"))
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	defs, err := h.cfg.Service.Attributes(ctx, r.db)
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	in, vals := profileInputOf(c, defs)
	email := c.PostForm("email")
	_, err = h.cfg.Service.Update(ctx, r.db, m.ID, Patch{Email: &email, Profile: patchOf(in), Attributes: vals})
	if err != nil {
		if st := httpx.StatusOf(apperr.KindOf(err)); st >= 500 || errors.Is(err, ErrWithdrawn) {
			h.cfg.Console.Fail(c, err)
			return
		}
		h.consoleDetailPage(c, r, httpx.StatusOf(apperr.KindOf(err)), m, &in, vals, email, err)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/members/"+m.ID+"?done=saved")
}

func (h *HTTP) consoleStatus(c *gin.Context) {
	r, ok := h.consoleReq(c)
	if !ok {
		return
	}
	st := Status(c.PostForm("status"))
	if _, err := h.cfg.Service.Update(c.Request.Context(), r.db, c.Param("id"), Patch{Status: &st}); err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/members/"+c.Param("id")+"?done=saved")
}

func (h *HTTP) consoleWithdraw(c *gin.Context) {
	r, ok := h.consoleReq(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	m, err := h.cfg.Service.Get(ctx, r.db, c.Param("id"))
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	if c.PostForm("confirm") != "1" {
		h.consoleDetailPage(c, r, http.StatusBadRequest, m, nil, nil, "", apperr.Invalid(apperr.Field("confirm", "required", nil)))
		return
	}
	if _, err := h.cfg.Service.Withdraw(ctx, r.db, m.ID, staffActor(c)); err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/members/"+m.ID+"?done=withdrawn")
}
