package menus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// RegisterConsole adds the catalog pages to g, the console's group of
// signed-in staff ("/t/:tenant/admin"): menus (list, new, edit with
// options, questions, providers, resources and rules), the default rules,
// categories, providers and resources. Reading needs menus: view; every
// post needs the form's CSRF token and menus: edit. A saved form redirects
// (303) to its page with ?done=; a refused one is shown again as typed,
// each error next to its field.
func (h *HTTP) RegisterConsole(g *gin.RouterGroup) {
	sh := h.cfg.Console
	view, edit := sh.Need(authz.AreaMenus, authz.ActionView), sh.Need(authz.AreaMenus, authz.ActionEdit)
	g.GET("/menus", view, h.menusPage)
	g.GET("/menus/new", edit, h.newMenuPage)
	g.POST("/menus/new", sh.CSRF, edit, h.createMenuForm)
	g.GET("/menus/rules", view, h.rulesPage)
	g.POST("/menus/rules", sh.CSRF, edit, h.saveRulesForm)
	g.GET("/menus/:id", view, h.editMenuPage)
	g.POST("/menus/:id", sh.CSRF, edit, h.saveMenuForm)
	g.POST("/menus/:id/archive", sh.CSRF, edit, h.archiveMenuForm)
	g.POST("/menus/:id/restore", sh.CSRF, edit, h.restoreMenuForm)

	g.GET("/categories", view, h.categoriesPage)
	g.POST("/categories", sh.CSRF, edit, h.createCategoryForm)
	g.POST("/categories/:id", sh.CSRF, edit, h.updateCategoryForm)
	g.POST("/categories/:id/delete", sh.CSRF, edit, h.deleteCategoryForm)

	g.GET("/providers", view, h.providersPage)
	g.POST("/providers", sh.CSRF, edit, h.createProviderForm)
	g.POST("/providers/:id", sh.CSRF, edit, h.updateProviderForm)
	g.POST("/providers/:id/delete", sh.CSRF, edit, h.deleteProviderForm)

	g.GET("/resources", view, h.resourcesPage)
	g.POST("/resources", sh.CSRF, edit, h.createResourceForm)
	g.POST("/resources/:id", sh.CSRF, edit, h.updateResourceForm)
	g.POST("/resources/:id/delete", sh.CSRF, edit, h.deleteResourceForm)
}

// consolePage is what every console handler needs about its request.
type consolePage struct {
	db      bun.IDB
	base    string // /t/{slug}/admin
	canEdit bool
}

// pageOf reads the request; a failure has been answered.
func (h *HTTP) pageOf(c *gin.Context) (consolePage, bool) {
	ctx := c.Request.Context()
	t, _ := tenants.FromContext(ctx)
	p, _ := identity.PrincipalFrom(ctx)
	db, err := tenantdb.From(ctx)
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return consolePage{}, false
	}
	can := false
	if h.cfg.Perms != nil {
		if can, err = h.cfg.Perms.Can(ctx, db, t.ID, p.Subject(), authz.AreaMenus, authz.ActionEdit); err != nil {
			h.cfg.Console.Fail(c, err)
			return consolePage{}, false
		}
	}
	return consolePage{db: db, base: "/t/" + t.Slug + "/admin", canEdit: can}, true
}

func t(c *gin.Context, id string, args map[string]any) string {
	return httpx.Catalog(c).T(httpx.Lang(c), id, args)
}

// flash is the message of a ?done= redirect (a known one only).
func flash(c *gin.Context) string {
	switch d := c.Query("done"); d {
	case "created", "saved", "archived", "restored", "deleted":
		return t(c, "menus.flash."+d, nil)
	}
	return ""
}

// formErrors turns an error into messages by field and a summary.
func formErrors(c *gin.Context, err error) (map[string]string, string) {
	p := httpx.ProblemFor(c, err)
	fields := map[string]string{}
	for _, f := range p.Errors {
		if _, seen := fields[f.Field]; !seen {
			fields[f.Field] = f.Message
		}
	}
	summary := p.Title
	if p.Detail != "" && len(p.Errors) == 0 {
		summary += " " + p.Detail
	}
	return fields, summary
}

func statusOf(err error) int { return httpx.StatusOf(apperr.KindOf(err)) }

// numbers parses form numbers, collecting "catalog_integer" errors.
type numbers struct{ v apperr.Validator }

// int reads an integer; blank is 0.
func (n *numbers) int(field, raw string) int {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return 0
	}
	x, err := strconv.Atoi(strings.ReplaceAll(raw, ",", ""))
	if err != nil {
		n.v.Add(field, "catalog_integer", nil)
		return 0
	}
	return x
}

func (n *numbers) err() error { return n.v.Err() }

// yen formats an amount with thousands separators.
func yen(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ---- The menu list ----

type menuRowView struct {
	ID, Name, Category, Mode, Visibility, Duration, Price string
	Capacity                                              int
	Archived, Approval                                    bool
}

func (h *HTTP) menusPage(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	archived := c.Query("archived") == "1"
	ms, _, err := h.cfg.Service.List(ctx, p.db, ListParams{IncludeArchived: archived})
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	cats, _, err := h.cfg.Service.ListCategories(ctx, p.db, PageParams{})
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	names := map[string]string{}
	for _, x := range cats {
		names[x.ID] = x.NameJA
	}
	rows := make([]menuRowView, 0, len(ms))
	for _, m := range ms {
		cat := names[m.CategoryID]
		if cat == "" {
			cat = t(c, "menus.uncategorised", nil)
		}
		rows = append(rows, menuRowView{ID: m.ID, Name: m.NameJA, Category: cat,
			Mode: t(c, "menus.mode."+string(m.BookingMode), nil), Visibility: t(c, "menus.visibility."+string(m.Visibility), nil),
			Duration: t(c, "menus.minutes", map[string]any{"N": m.DurationMinutes}),
			Price:    t(c, "menus.yen", map[string]any{"N": yen(m.Price)}), Capacity: m.Capacity,
			Archived: m.Archived(), Approval: m.ApprovalRequired})
	}
	h.cfg.Console.Page(c, http.StatusOK, "console_menus.html", "menus.list.title", map[string]any{
		"Menus": rows, "ShowArchived": archived, "CanEdit": p.canEdit, "Flash": flash(c),
	})
}

// ---- The menu form ----

// fv is one form field as typed, with its error.
type fv struct{ Value, Error string }

type optionView struct {
	Index                            int
	ID                               string
	Name, NameEN, Price, ExtraMinute fv
}

type questionView struct {
	Index                                      int
	ID                                         string
	Kind, Label, LabelEN, Choices, Requirement fv
}

type choiceView struct {
	Value, Label string
	Selected     bool
}

type providerChoice struct {
	ID, Name        string
	Active, Checked bool
}

type resourceChoice struct {
	ID, Name string
	Quantity int
	Need     fv
}

type rulesView struct {
	OpensDaysBefore, ClosesMinutesBefore, ClosesBusinessDays   fv
	CancelDeadlineMinutes, ChangeDeadlineMinutes, MaxPerMember fv
	Period                                                     fv
	ClosesInBusinessDays                                       bool
	Periods                                                    []choiceView
}

type menuView struct {
	ID, Name                                     string // the saved name, for the heading
	Archived                                     bool
	NameJA, NameEN, DescriptionJA, DescriptionEN fv
	CategoryID, Duration, Price, Capacity        fv
	PartyMin, PartyMax, Mode, Visibility, Pos    fv
	Approval                                     bool
	Categories, Modes, Visibilities              []choiceView
	Options                                      []optionView
	Questions                                    []questionView
	Kinds, Requirements                          []choiceView
	Providers                                    []providerChoice
	ProvidersError                               string
	Resources                                    []resourceChoice
	RulesDefault                                 bool
	Rules                                        rulesView
}

// blankRows is how many empty option and question rows a form offers.
const blankRows = 2

func choices[T ~string](c *gin.Context, prefix string, all []T, selected string) []choiceView {
	out := make([]choiceView, len(all))
	for i, a := range all {
		out[i] = choiceView{Value: string(a), Label: t(c, prefix+string(a), nil), Selected: string(a) == selected}
	}
	return out
}

func num(n int) string { return strconv.Itoa(n) }

func rulesViewOf(c *gin.Context, r Rules) rulesView {
	return rulesView{OpensDaysBefore: fv{Value: num(r.OpensDaysBefore)}, ClosesMinutesBefore: fv{Value: num(r.ClosesMinutesBefore)},
		ClosesBusinessDays: fv{Value: num(r.ClosesBusinessDays)}, CancelDeadlineMinutes: fv{Value: num(r.CancelDeadlineMinutes)},
		ChangeDeadlineMinutes: fv{Value: num(r.ChangeDeadlineMinutes)}, MaxPerMember: fv{Value: num(r.MaxPerMember)},
		Period: fv{Value: string(r.MaxPerMemberPeriod)}, ClosesInBusinessDays: r.ClosesInBusinessDays,
		Periods: choices(c, "menus.period.", Periods(), string(r.MaxPerMemberPeriod))}
}

// menuViewOf shows in as a form (def: the rules shown when in has none).
func (h *HTTP) menuViewOf(c *gin.Context, p consolePage, in MenuInput, def Rules) (menuView, error) {
	ctx := c.Request.Context()
	v := menuView{NameJA: fv{Value: in.NameJA}, NameEN: fv{Value: in.NameEN}, DescriptionJA: fv{Value: in.DescriptionJA},
		DescriptionEN: fv{Value: in.DescriptionEN}, CategoryID: fv{Value: in.CategoryID},
		Duration: fv{Value: num(in.DurationMinutes)}, Price: fv{Value: strconv.FormatInt(in.Price, 10)},
		Capacity: fv{Value: num(in.Capacity)}, PartyMin: fv{Value: num(in.PartyMin)}, PartyMax: fv{Value: num(in.PartyMax)},
		Mode: fv{Value: string(in.BookingMode)}, Visibility: fv{Value: string(in.Visibility)}, Pos: fv{Value: num(in.Position)},
		Approval: in.ApprovalRequired, RulesDefault: in.Rules == nil}
	if in.DurationMinutes == 0 {
		v.Duration.Value = ""
	}
	if in.PartyMax == 0 {
		v.PartyMax.Value = ""
	}
	cats, _, err := h.cfg.Service.ListCategories(ctx, p.db, PageParams{})
	if err != nil {
		return v, err
	}
	v.Categories = []choiceView{{Value: "", Label: t(c, "menus.uncategorised", nil), Selected: in.CategoryID == ""}}
	for _, x := range cats {
		v.Categories = append(v.Categories, choiceView{Value: x.ID, Label: x.NameJA, Selected: x.ID == in.CategoryID})
	}
	v.Modes = choices(c, "menus.mode.", BookingModes(), string(in.BookingMode))
	v.Visibilities = choices(c, "menus.visibility.", Visibilities(), string(in.Visibility))
	v.Kinds = choices(c, "menus.kind.", QuestionKinds(), "")
	v.Requirements = choices(c, "menus.req.", Requirements(), "")
	for i, o := range in.Options {
		v.Options = append(v.Options, optionView{Index: i, ID: o.ID, Name: fv{Value: o.NameJA}, NameEN: fv{Value: o.NameEN},
			Price: fv{Value: strconv.FormatInt(o.Price, 10)}, ExtraMinute: fv{Value: num(o.ExtraMinutes)}})
	}
	for i := range blankRows {
		v.Options = append(v.Options, optionView{Index: len(in.Options) + i})
	}
	for i, q := range in.Questions {
		v.Questions = append(v.Questions, questionView{Index: i, ID: q.ID, Kind: fv{Value: string(q.Kind)}, Label: fv{Value: q.LabelJA},
			LabelEN: fv{Value: q.LabelEN}, Choices: fv{Value: strings.Join(q.Choices, "\n")}, Requirement: fv{Value: string(q.Requirement)}})
	}
	for i := range blankRows {
		v.Questions = append(v.Questions, questionView{Index: len(in.Questions) + i, Kind: fv{Value: string(KindText)}, Requirement: fv{Value: string(Optional)}})
	}
	provs, _, err := h.cfg.Service.ListProviders(ctx, p.db, PageParams{})
	if err != nil {
		return v, err
	}
	for _, x := range provs {
		v.Providers = append(v.Providers, providerChoice{ID: x.ID, Name: x.Name, Active: x.Active, Checked: slices.Contains(in.ProviderIDs, x.ID)})
	}
	res, _, err := h.cfg.Service.ListResources(ctx, p.db, PageParams{})
	if err != nil {
		return v, err
	}
	need := map[string]int{}
	for _, r := range in.Resources {
		need[r.ResourceID] = r.Quantity
	}
	for _, x := range res {
		v.Resources = append(v.Resources, resourceChoice{ID: x.ID, Name: x.Name, Quantity: x.Quantity, Need: fv{Value: num(need[x.ID])}})
	}
	rules := def
	if in.Rules != nil {
		rules = *in.Rules
	}
	v.Rules = rulesViewOf(c, rules)
	return v, nil
}

// withErrors attaches field messages to the form's fields.
func (v *menuView) withErrors(fields map[string]string) {
	set := func(f *fv, key string) {
		if m, ok := fields[key]; ok {
			f.Error = m
		}
	}
	set(&v.NameJA, "name")
	set(&v.NameEN, "name_en")
	set(&v.DescriptionJA, "description")
	set(&v.DescriptionEN, "description_en")
	set(&v.CategoryID, "category_id")
	set(&v.Duration, "duration_minutes")
	set(&v.Price, "price")
	set(&v.Capacity, "capacity")
	set(&v.PartyMin, "party_min")
	set(&v.PartyMax, "party_max")
	set(&v.Mode, "booking_mode")
	set(&v.Visibility, "visibility")
	set(&v.Pos, "position")
	for i := range v.Options {
		o := &v.Options[i]
		f := fmt.Sprintf("options[%d].", o.Index)
		set(&o.Name, f+"name")
		set(&o.NameEN, f+"name_en")
		set(&o.Price, f+"price")
		set(&o.ExtraMinute, f+"extra_minutes")
		if m, ok := fields[f+"id"]; ok && o.Name.Error == "" {
			o.Name.Error = m
		}
	}
	for i := range v.Questions {
		q := &v.Questions[i]
		f := fmt.Sprintf("questions[%d].", q.Index)
		set(&q.Kind, f+"kind")
		set(&q.Label, f+"label")
		set(&q.LabelEN, f+"label_en")
		set(&q.Requirement, f+"requirement")
		set(&q.Choices, f+"choices")
		for k, m := range fields {
			if strings.HasPrefix(k, f+"choices[") && q.Choices.Error == "" {
				q.Choices.Error = m
			}
		}
	}
	for k, m := range fields {
		if strings.HasPrefix(k, "provider_ids") && v.ProvidersError == "" {
			v.ProvidersError = m
		}
	}
	for i := range v.Resources {
		r := &v.Resources[i]
		if m, ok := fields["resource_qty_"+r.ID]; ok {
			r.Need.Error = m
			continue
		}
		// Needs are posted in the resources' order, zeros left out.
		if idx, ok := needIndex(v.Resources, r.ID); ok {
			for _, k := range []string{fmt.Sprintf("resources[%d].quantity", idx), fmt.Sprintf("resources[%d].resource_id", idx)} {
				if m, ok := fields[k]; ok && r.Need.Error == "" {
					r.Need.Error = m
				}
			}
		}
	}
	rp := "rules."
	set(&v.Rules.OpensDaysBefore, rp+"opens_days_before")
	set(&v.Rules.ClosesMinutesBefore, rp+"closes_minutes_before")
	set(&v.Rules.ClosesBusinessDays, rp+"closes_business_days")
	set(&v.Rules.CancelDeadlineMinutes, rp+"cancel_deadline_minutes")
	set(&v.Rules.ChangeDeadlineMinutes, rp+"change_deadline_minutes")
	set(&v.Rules.MaxPerMember, rp+"max_per_member")
	set(&v.Rules.Period, rp+"max_per_member_period")
}

// needIndex is the position of resource id among the needs posted (those
// with a quantity other than 0).
func needIndex(rs []resourceChoice, id string) (int, bool) {
	i := 0
	for _, r := range rs {
		if r.Need.Value == "0" || r.Need.Value == "" {
			continue
		}
		if r.ID == id {
			return i, true
		}
		i++
	}
	return 0, false
}

// typedOptions are the option numbers as typed, row by kept row, so that a
// refused form shows them as they were.
type typedOptions struct{ price, minutes []string }

// menuInputOf reads the posted menu form. Option and question rows
// without a name are left out (that is how a row is deleted).
func menuInputOf(c *gin.Context) (MenuInput, typedOptions, error) {
	var typed typedOptions
	var n numbers
	in := MenuInput{NameJA: c.PostForm("name"), NameEN: c.PostForm("name_en"), DescriptionJA: c.PostForm("description"),
		DescriptionEN: c.PostForm("description_en"), CategoryID: c.PostForm("category_id"),
		DurationMinutes: n.int("duration_minutes", c.PostForm("duration_minutes")),
		Price:           int64(n.int("price", c.PostForm("price"))),
		Capacity:        n.int("capacity", c.PostForm("capacity")), PartyMin: n.int("party_min", c.PostForm("party_min")),
		PartyMax: n.int("party_max", c.PostForm("party_max")), BookingMode: BookingMode(c.PostForm("booking_mode")),
		ApprovalRequired: c.PostForm("approval_required") == "1", Visibility: Visibility(c.PostForm("visibility")),
		Position: n.int("position", c.PostForm("position"))}
	ids, names, namesEN := c.PostFormArray("option_id"), c.PostFormArray("option_name"), c.PostFormArray("option_name_en")
	prices, minutes := c.PostFormArray("option_price"), c.PostFormArray("option_extra_minutes")
	at := func(xs []string, i int) string {
		if i < len(xs) {
			return xs[i]
		}
		return ""
	}
	for i := range names {
		if strings.TrimSpace(names[i]) == "" {
			continue
		}
		f := fmt.Sprintf("options[%d].", len(in.Options))
		in.Options = append(in.Options, OptionInput{ID: at(ids, i), NameJA: names[i], NameEN: at(namesEN, i),
			Price: int64(n.int(f+"price", at(prices, i))), ExtraMinutes: n.int(f+"extra_minutes", at(minutes, i))})
		typed.price, typed.minutes = append(typed.price, at(prices, i)), append(typed.minutes, at(minutes, i))
	}
	qids, kinds, labels := c.PostFormArray("question_id"), c.PostFormArray("question_kind"), c.PostFormArray("question_label")
	labelsEN, chs, reqs := c.PostFormArray("question_label_en"), c.PostFormArray("question_choices"), c.PostFormArray("question_requirement")
	for i := range labels {
		if strings.TrimSpace(labels[i]) == "" {
			continue
		}
		var list []string
		for _, line := range strings.Split(at(chs, i), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				list = append(list, line)
			}
		}
		in.Questions = append(in.Questions, QuestionInput{ID: at(qids, i), Kind: QuestionKind(at(kinds, i)), LabelJA: labels[i],
			LabelEN: at(labelsEN, i), Choices: list, Requirement: Requirement(at(reqs, i))})
	}
	in.ProviderIDs = c.PostFormArray("provider_id")
	for _, id := range c.PostFormArray("resource_id") {
		q := n.int("resource_qty_"+id, c.PostForm("resource_qty_"+id))
		if q != 0 {
			in.Resources = append(in.Resources, ResourceNeed{ResourceID: id, Quantity: q})
		}
	}
	if c.PostForm("rules_default") != "1" {
		r := rulesOf(c, &n, "rules.")
		in.Rules = &r
	}
	return in, typed, n.err()
}

// rulesOf reads the rules fields of a form.
func rulesOf(c *gin.Context, n *numbers, prefix string) Rules {
	return Rules{OpensDaysBefore: n.int(prefix+"opens_days_before", c.PostForm("opens_days_before")),
		ClosesMinutesBefore:   n.int(prefix+"closes_minutes_before", c.PostForm("closes_minutes_before")),
		ClosesInBusinessDays:  c.PostForm("closes_in_business_days") == "1",
		ClosesBusinessDays:    n.int(prefix+"closes_business_days", c.PostForm("closes_business_days")),
		CancelDeadlineMinutes: n.int(prefix+"cancel_deadline_minutes", c.PostForm("cancel_deadline_minutes")),
		ChangeDeadlineMinutes: n.int(prefix+"change_deadline_minutes", c.PostForm("change_deadline_minutes")),
		MaxPerMember:          n.int(prefix+"max_per_member", c.PostForm("max_per_member")),
		MaxPerMemberPeriod:    Period(c.PostForm("max_per_member_period"))}
}

// keepTyped puts the raw text of number fields back into the form, so a
// non-number is shown as typed rather than as 0.
func keepTyped(c *gin.Context, v *menuView, typed typedOptions) {
	for i := range v.Options {
		if i < len(typed.price) {
			v.Options[i].Price.Value, v.Options[i].ExtraMinute.Value = typed.price[i], typed.minutes[i]
		}
	}
	v.Duration.Value, v.Price.Value = c.PostForm("duration_minutes"), c.PostForm("price")
	v.Capacity.Value, v.PartyMin.Value = c.PostForm("capacity"), c.PostForm("party_min")
	v.PartyMax.Value, v.Pos.Value = c.PostForm("party_max"), c.PostForm("position")
	for i := range v.Resources {
		r := &v.Resources[i]
		if raw, ok := c.GetPostForm("resource_qty_" + r.ID); ok {
			r.Need.Value = raw
		}
	}
	if c.PostForm("rules_default") != "1" {
		rv := &v.Rules
		rv.OpensDaysBefore.Value, rv.ClosesMinutesBefore.Value = c.PostForm("opens_days_before"), c.PostForm("closes_minutes_before")
		rv.ClosesBusinessDays.Value, rv.CancelDeadlineMinutes.Value = c.PostForm("closes_business_days"), c.PostForm("cancel_deadline_minutes")
		rv.ChangeDeadlineMinutes.Value, rv.MaxPerMember.Value = c.PostForm("change_deadline_minutes"), c.PostForm("max_per_member")
	}
}

func (h *HTTP) renderMenuForm(c *gin.Context, p consolePage, status int, titleKey string, v menuView, errMsg string) {
	h.cfg.Console.Page(c, status, "console_menus_edit.html", titleKey, map[string]any{
		"Form": v, "Basics": labelled(c, v.Basics()), "Selects": labelledSelects(c, v.Selects()),
		"RuleInputs": labelled(c, v.Rules.Inputs()), "Period": labelledSelects(c, []selectView{v.Rules.PeriodSelect()})[0],
		"Rules": v.Rules, "CanEdit": p.canEdit, "Error": errMsg, "Flash": flash(c),
	})
}

func (h *HTTP) newMenuPage(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	def, err := h.cfg.Service.TenantRules(c.Request.Context(), p.db)
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	in := MenuInput{Capacity: 1, PartyMin: 1, BookingMode: ModeHours, Visibility: VisibilityPublic}
	v, err := h.menuViewOf(c, p, in, def)
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	h.renderMenuForm(c, p, http.StatusOK, "menus.edit.title_new", v, "")
}

// refused shows the menu form again as typed, with the errors of err.
func (h *HTTP) refused(c *gin.Context, p consolePage, titleKey string, in MenuInput, typed typedOptions, saved *Menu, err error) {
	var ae *apperr.Error
	if !errors.As(err, &ae) || (ae.Kind != apperr.KindInvalid) {
		h.cfg.Console.Fail(c, err)
		return
	}
	def, derr := h.cfg.Service.TenantRules(c.Request.Context(), p.db)
	if derr != nil {
		h.cfg.Console.Fail(c, derr)
		return
	}
	v, verr := h.menuViewOf(c, p, in, def)
	if verr != nil {
		h.cfg.Console.Fail(c, verr)
		return
	}
	if saved != nil {
		v.ID, v.Name, v.Archived = saved.ID, saved.NameJA, saved.Archived()
	}
	keepTyped(c, &v, typed)
	fields, summary := formErrors(c, err)
	v.withErrors(fields)
	h.renderMenuForm(c, p, statusOf(err), titleKey, v, summary)
}

func (h *HTTP) createMenuForm(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	in, typed, err := menuInputOf(c)
	if err == nil {
		var m Menu
		if m, err = h.cfg.Service.CreateMenu(c.Request.Context(), p.db, in); err == nil {
			c.Redirect(http.StatusSeeOther, p.base+"/menus/"+m.ID+"?done=created")
			return
		}
	}
	h.refused(c, p, "menus.edit.title_new", in, typed, nil, err)
}

func (h *HTTP) editMenuPage(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	m, err := h.cfg.Service.Get(c.Request.Context(), p.db, c.Param("id"))
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	v, err := h.menuViewOf(c, p, InputOf(m), m.Effective)
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	v.ID, v.Name, v.Archived = m.ID, m.NameJA, m.Archived()
	h.renderMenuForm(c, p, http.StatusOK, "menus.edit.title", v, "")
}

func (h *HTTP) saveMenuForm(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	saved, err := h.cfg.Service.Get(ctx, p.db, c.Param("id"))
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	in, typed, err := menuInputOf(c)
	if err == nil {
		patch := MenuPatch{CategoryID: &in.CategoryID, NameJA: &in.NameJA, NameEN: &in.NameEN, DescriptionJA: &in.DescriptionJA,
			DescriptionEN: &in.DescriptionEN, DurationMinutes: &in.DurationMinutes, Price: &in.Price, Capacity: &in.Capacity,
			PartyMin: &in.PartyMin, PartyMax: &in.PartyMax, BookingMode: &in.BookingMode, ApprovalRequired: &in.ApprovalRequired,
			Visibility: &in.Visibility, Position: &in.Position, Options: &in.Options, Questions: &in.Questions,
			ProviderIDs: &in.ProviderIDs, Resources: &in.Resources, SetRules: true, Rules: in.Rules}
		if _, err = h.cfg.Service.UpdateMenu(ctx, p.db, saved.ID, patch); err == nil {
			c.Redirect(http.StatusSeeOther, p.base+"/menus/"+saved.ID+"?done=saved")
			return
		}
	}
	h.refused(c, p, "menus.edit.title", in, typed, &saved, err)
}

func (h *HTTP) archiveMenuForm(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	m, err := h.cfg.Service.ArchiveMenu(c.Request.Context(), p.db, c.Param("id"))
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, p.base+"/menus/"+m.ID+"?done=archived")
}

func (h *HTTP) restoreMenuForm(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	no := false
	m, err := h.cfg.Service.UpdateMenu(c.Request.Context(), p.db, c.Param("id"), MenuPatch{Archived: &no})
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, p.base+"/menus/"+m.ID+"?done=restored")
}

// ---- Default rules ----

func (h *HTTP) rulesPage(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	r, err := h.cfg.Service.TenantRules(c.Request.Context(), p.db)
	if err != nil {
		h.cfg.Console.Fail(c, err)
		return
	}
	h.cfg.Console.Page(c, http.StatusOK, "console_menus_rules.html", "menus.rules_page.title", map[string]any{
		"Rules": rulesViewOf(c, r), "RuleInputs": labelled(c, rulesViewOf(c, r).Inputs()),
		"Period": labelledSelects(c, []selectView{rulesViewOf(c, r).PeriodSelect()})[0], "CanEdit": p.canEdit, "Flash": flash(c),
	})
}

func (h *HTTP) saveRulesForm(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	var n numbers
	r := rulesOf(c, &n, "")
	err := n.err()
	if err == nil {
		if _, err = h.cfg.Service.SetTenantRules(c.Request.Context(), p.db, r); err == nil {
			c.Redirect(http.StatusSeeOther, p.base+"/menus/rules?done=saved")
			return
		}
	}
	if apperr.KindOf(err) != apperr.KindInvalid {
		h.cfg.Console.Fail(c, err)
		return
	}
	v := rulesViewOf(c, r)
	v.OpensDaysBefore.Value, v.ClosesMinutesBefore.Value = c.PostForm("opens_days_before"), c.PostForm("closes_minutes_before")
	v.ClosesBusinessDays.Value, v.CancelDeadlineMinutes.Value = c.PostForm("closes_business_days"), c.PostForm("cancel_deadline_minutes")
	v.ChangeDeadlineMinutes.Value, v.MaxPerMember.Value = c.PostForm("change_deadline_minutes"), c.PostForm("max_per_member")
	fields, summary := formErrors(c, err)
	mv := menuView{Rules: v}
	prefixed := make(map[string]string, len(fields))
	for k, m := range fields {
		prefixed["rules."+k] = m
	}
	mv.withErrors(prefixed)
	h.cfg.Console.Page(c, statusOf(err), "console_menus_rules.html", "menus.rules_page.title", map[string]any{
		"Rules": mv.Rules, "RuleInputs": labelled(c, mv.Rules.Inputs()),
		"Period": labelledSelects(c, []selectView{mv.Rules.PeriodSelect()})[0], "CanEdit": p.canEdit, "Error": summary,
	})
}

// ---- Categories, providers, resources: one form per row ----

// itemView is a row of the categories, providers or resources page.
type itemView struct {
	ID                               string
	Label                            string // the saved name, for confirmations
	Name, NameEN, Position, Quantity fv
	Active                           bool
}

// itemForm is the form of one row of a list page, ready to render.
type itemForm struct {
	ID, Action, Prefix string // Prefix makes the input ids unique
	Label              string // the saved name, for the legend and confirmations
	Inputs             []inputView
	HasActive, Active  bool
	DeleteAction       string
	DeleteConfirm      string
	SaveLabel          string // "save", or "add" for the new row's form
}

// formOf builds the form of row r of kind ("categories", "providers",
// "resources").
func formOf(c *gin.Context, base, kind string, r itemView) itemForm {
	prefix := kind + "-" + r.ID
	f := itemForm{ID: r.ID, Action: base + "/" + kind + "/" + r.ID, Prefix: prefix, Label: r.Label, Active: r.Active,
		HasActive: kind != "categories"}
	if r.ID == "" {
		prefix = kind + "-new"
		f.Action, f.Prefix = base+"/"+kind, prefix
	} else {
		f.DeleteAction = f.Action + "/delete"
		f.DeleteConfirm = t(c, "menus.delete_confirm", map[string]any{"Name": r.Label})
	}
	switch kind {
	case "categories":
		f.Inputs = []inputView{
			inputOf(prefix+"-name", "name", "menus.field.name_ja", "text", r.Name, 200, true),
			inputOf(prefix+"-name-en", "name_en", "menus.field.name_en_short", "text", r.NameEN, 200, false),
		}
	case "providers":
		f.Inputs = []inputView{inputOf(prefix+"-name", "name", "menus.field.person_name", "text", r.Name, 200, true)}
	case "resources":
		f.Inputs = []inputView{
			inputOf(prefix+"-name", "name", "menus.field.person_name", "text", r.Name, 200, true),
			inputOf(prefix+"-quantity", "quantity", "menus.field.quantity", "number", r.Quantity, 0, true),
		}
	}
	f.Inputs = append(f.Inputs, inputOf(prefix+"-position", "position", "menus.field.position", "number", r.Position, 0, false))
	f.Inputs = labelled(c, f.Inputs)
	f.SaveLabel = t(c, "menus.save", nil)
	if r.ID == "" {
		f.SaveLabel = t(c, "menus.create", nil)
	}
	return f
}

// listPage shows one of the plain lists (categories, providers,
// resources), each row its own form: rows lists them. After a refused form,
// err says why and failed (an id, or "new") is its row, shown as typed with
// its fields' errors.
func (h *HTTP) listPage(c *gin.Context, kind, tmpl, titleKey string, rows func(*gin.Context, bun.IDB) ([]itemView, error), status int, failed string, err error) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	if err != nil && apperr.KindOf(err) == apperr.KindInternal {
		h.cfg.Console.Fail(c, err)
		return
	}
	items, lerr := rows(c, p.db)
	if lerr != nil {
		h.cfg.Console.Fail(c, lerr)
		return
	}
	var fields map[string]string
	summary := ""
	if err != nil {
		fields, summary = formErrors(c, err)
		status = statusOf(err)
	}
	blank := itemView{Active: true, Position: fv{Value: "0"}, Quantity: fv{Value: "1"}}
	typed := itemView{ID: failed, Name: fv{Value: c.PostForm("name")}, NameEN: fv{Value: c.PostForm("name_en")},
		Position: fv{Value: c.PostForm("position")}, Quantity: fv{Value: c.PostForm("quantity")}, Active: c.PostForm("active") == "1"}
	typed.Name.Error, typed.NameEN.Error = fields["name"], fields["name_en"]
	typed.Position.Error, typed.Quantity.Error = fields["position"], fields["quantity"]
	form := func(r itemView) itemForm { return formOf(c, p.base, kind, r) }
	forms := make([]itemForm, 0, len(items))
	for _, r := range items {
		if r.ID == failed {
			typed.Label = r.Label
			r = typed
		}
		forms = append(forms, form(r))
	}
	if failed == "new" {
		blank = typed
		blank.ID = ""
	}
	h.cfg.Console.Page(c, status, tmpl, titleKey, map[string]any{
		"Items": forms, "New": form(blank), "CanEdit": p.canEdit, "Flash": flash(c), "Error": summary,
	})
}

// deleteItemForm deletes the row :id of a plain list and goes back to the
// list (path, under the console's base). With inUse set, a conflict (the
// row is still used) is shown on the list page instead of as an error.
func (h *HTTP) deleteItemForm(c *gin.Context, del func(context.Context, bun.IDB, string) error, path string,
	inUse func(c *gin.Context, status int, failed string, err error)) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	if err := del(c.Request.Context(), p.db, c.Param("id")); err != nil {
		if inUse != nil && apperr.KindOf(err) == apperr.KindConflict {
			inUse(c, 0, "", err)
			return
		}
		h.cfg.Console.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, p.base+path+"?done=deleted")
}

func (h *HTTP) categoryRows(c *gin.Context, db bun.IDB) ([]itemView, error) {
	cats, _, err := h.cfg.Service.ListCategories(c.Request.Context(), db, PageParams{})
	rows := make([]itemView, 0, len(cats))
	for _, x := range cats {
		rows = append(rows, itemView{ID: x.ID, Label: x.NameJA, Name: fv{Value: x.NameJA}, NameEN: fv{Value: x.NameEN}, Position: fv{Value: num(x.Position)}})
	}
	return rows, err
}

func (h *HTTP) categoriesPage(c *gin.Context) { h.categoriesResult(c, http.StatusOK, "", nil) }

// categoriesResult shows the categories page, or after a refused form
// (failed: the row) the same page with its errors.
func (h *HTTP) categoriesResult(c *gin.Context, status int, failed string, err error) {
	h.listPage(c, "categories", "console_menus_categories.html", "menus.categories.title", h.categoryRows, status, failed, err)
}

func (h *HTTP) createCategoryForm(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	var n numbers
	in := CategoryInput{NameJA: c.PostForm("name"), NameEN: c.PostForm("name_en"), Position: n.int("position", c.PostForm("position"))}
	err := n.err()
	if err == nil {
		if _, err = h.cfg.Service.CreateCategory(c.Request.Context(), p.db, in); err == nil {
			c.Redirect(http.StatusSeeOther, p.base+"/categories?done=created")
			return
		}
	}
	h.categoriesResult(c, 0, "new", err)
}

func (h *HTTP) updateCategoryForm(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	var n numbers
	name, nameEN, pos := c.PostForm("name"), c.PostForm("name_en"), n.int("position", c.PostForm("position"))
	err := n.err()
	if err == nil {
		if _, err = h.cfg.Service.UpdateCategory(c.Request.Context(), p.db, c.Param("id"),
			CategoryPatch{NameJA: &name, NameEN: &nameEN, Position: &pos}); err == nil {
			c.Redirect(http.StatusSeeOther, p.base+"/categories?done=saved")
			return
		}
	}
	h.categoriesResult(c, 0, c.Param("id"), err)
}

func (h *HTTP) deleteCategoryForm(c *gin.Context) {
	h.deleteItemForm(c, h.cfg.Service.DeleteCategory, "/categories", nil)
}

func (h *HTTP) providersPage(c *gin.Context) { h.providersResult(c, http.StatusOK, "", nil) }

func (h *HTTP) providersResult(c *gin.Context, status int, failed string, err error) {
	h.listPage(c, "providers", "console_providers.html", "menus.providers_page.title", h.providerRows, status, failed, err)
}

func (h *HTTP) providerRows(c *gin.Context, db bun.IDB) ([]itemView, error) {
	ps, _, err := h.cfg.Service.ListProviders(c.Request.Context(), db, PageParams{})
	rows := make([]itemView, 0, len(ps))
	for _, x := range ps {
		rows = append(rows, itemView{ID: x.ID, Label: x.Name, Name: fv{Value: x.Name}, Position: fv{Value: num(x.Position)}, Active: x.Active})
	}
	return rows, err
}

func (h *HTTP) createProviderForm(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	var n numbers
	in := ProviderInput{Name: c.PostForm("name"), Active: c.PostForm("active") == "1", Position: n.int("position", c.PostForm("position"))}
	err := n.err()
	if err == nil {
		if _, err = h.cfg.Service.CreateProvider(c.Request.Context(), p.db, in); err == nil {
			c.Redirect(http.StatusSeeOther, p.base+"/providers?done=created")
			return
		}
	}
	h.providersResult(c, 0, "new", err)
}

func (h *HTTP) updateProviderForm(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	var n numbers
	name, active, pos := c.PostForm("name"), c.PostForm("active") == "1", n.int("position", c.PostForm("position"))
	err := n.err()
	if err == nil {
		if _, err = h.cfg.Service.UpdateProvider(c.Request.Context(), p.db, c.Param("id"),
			ProviderPatch{Name: &name, Active: &active, Position: &pos}); err == nil {
			c.Redirect(http.StatusSeeOther, p.base+"/providers?done=saved")
			return
		}
	}
	h.providersResult(c, 0, c.Param("id"), err)
}

func (h *HTTP) deleteProviderForm(c *gin.Context) {
	h.deleteItemForm(c, h.cfg.Service.DeleteProvider, "/providers", h.providersResult)
}

func (h *HTTP) resourcesPage(c *gin.Context) { h.resourcesResult(c, http.StatusOK, "", nil) }

func (h *HTTP) resourcesResult(c *gin.Context, status int, failed string, err error) {
	h.listPage(c, "resources", "console_resources.html", "menus.resources_page.title", h.resourceRows, status, failed, err)
}

func (h *HTTP) resourceRows(c *gin.Context, db bun.IDB) ([]itemView, error) {
	rs, _, err := h.cfg.Service.ListResources(c.Request.Context(), db, PageParams{})
	rows := make([]itemView, 0, len(rs))
	for _, x := range rs {
		rows = append(rows, itemView{ID: x.ID, Label: x.Name, Name: fv{Value: x.Name}, Quantity: fv{Value: num(x.Quantity)},
			Position: fv{Value: num(x.Position)}, Active: x.Active})
	}
	return rows, err
}

func (h *HTTP) createResourceForm(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	var n numbers
	in := ResourceInput{Name: c.PostForm("name"), Quantity: n.int("quantity", c.PostForm("quantity")),
		Active: c.PostForm("active") == "1", Position: n.int("position", c.PostForm("position"))}
	err := n.err()
	if err == nil {
		if _, err = h.cfg.Service.CreateResource(c.Request.Context(), p.db, in); err == nil {
			c.Redirect(http.StatusSeeOther, p.base+"/resources?done=created")
			return
		}
	}
	h.resourcesResult(c, 0, "new", err)
}

func (h *HTTP) updateResourceForm(c *gin.Context) {
	p, ok := h.pageOf(c)
	if !ok {
		return
	}
	var n numbers
	name, qty := c.PostForm("name"), n.int("quantity", c.PostForm("quantity"))
	active, pos := c.PostForm("active") == "1", n.int("position", c.PostForm("position"))
	err := n.err()
	if err == nil {
		if _, err = h.cfg.Service.UpdateResource(c.Request.Context(), p.db, c.Param("id"),
			ResourcePatch{Name: &name, Quantity: &qty, Active: &active, Position: &pos}); err == nil {
			c.Redirect(http.StatusSeeOther, p.base+"/resources?done=saved")
			return
		}
	}
	h.resourcesResult(c, 0, c.Param("id"), err)
}

func (h *HTTP) deleteResourceForm(c *gin.Context) {
	h.deleteItemForm(c, h.cfg.Service.DeleteResource, "/resources", h.resourcesResult)
}

// ---- What the templates range over ----

// inputView is one labelled input of a form: Label is a catalog key
// until labelled translates it; Kind is "text", "number" or "textarea".
type inputView struct {
	ID, Name, Label, Kind, Value, Error, Hint string
	Max                                       int // maxlength of text
	Required                                  bool
}

// selectView is one labelled select of a form.
type selectView struct {
	ID, Name, Label, Error string
	Options                []choiceView
}

func inputOf(id, name, label, kind string, f fv, max int, required bool) inputView {
	return inputView{ID: id, Name: name, Label: label, Kind: kind, Value: f.Value, Error: f.Error, Max: max, Required: required}
}

// Basics are the menu's own fields, in form order.
func (v menuView) Basics() []inputView {
	return []inputView{
		inputOf("m-name", "name", "menus.field.name", "text", v.NameJA, 200, true),
		inputOf("m-name-en", "name_en", "menus.field.name_en", "text", v.NameEN, 200, false),
		inputOf("m-description", "description", "menus.field.description", "textarea", v.DescriptionJA, 5000, false),
		inputOf("m-description-en", "description_en", "menus.field.description_en", "textarea", v.DescriptionEN, 5000, false),
		inputOf("m-duration", "duration_minutes", "menus.field.duration", "number", v.Duration, 0, true),
		inputOf("m-price", "price", "menus.field.price", "number", v.Price, 0, true),
		inputOf("m-capacity", "capacity", "menus.field.capacity", "number", v.Capacity, 0, true),
		inputOf("m-party-min", "party_min", "menus.field.party_min", "number", v.PartyMin, 0, false),
		inputOf("m-party-max", "party_max", "menus.field.party_max", "number", v.PartyMax, 0, false),
		inputOf("m-position", "position", "menus.field.position", "number", v.Pos, 0, false),
	}
}

// Selects are the menu's choices, in form order.
func (v menuView) Selects() []selectView {
	return []selectView{
		{ID: "m-category", Name: "category_id", Label: "menus.field.category", Error: v.CategoryID.Error, Options: v.Categories},
		{ID: "m-mode", Name: "booking_mode", Label: "menus.field.booking_mode", Error: v.Mode.Error, Options: v.Modes},
		{ID: "m-visibility", Name: "visibility", Label: "menus.field.visibility", Error: v.Visibility.Error, Options: v.Visibilities},
	}
}

// Inputs are the numbers of the rules, in form order.
func (r rulesView) Inputs() []inputView {
	return []inputView{
		inputOf("r-opens", "opens_days_before", "menus.rules.opens_days_before", "number", r.OpensDaysBefore, 0, true),
		inputOf("r-closes", "closes_minutes_before", "menus.rules.closes_minutes_before", "number", r.ClosesMinutesBefore, 0, true),
		inputOf("r-closes-days", "closes_business_days", "menus.rules.closes_business_days", "number", r.ClosesBusinessDays, 0, false),
		inputOf("r-cancel", "cancel_deadline_minutes", "menus.rules.cancel_deadline_minutes", "number", r.CancelDeadlineMinutes, 0, true),
		inputOf("r-change", "change_deadline_minutes", "menus.rules.change_deadline_minutes", "number", r.ChangeDeadlineMinutes, 0, true),
		inputOf("r-max", "max_per_member", "menus.rules.max_per_member", "number", r.MaxPerMember, 0, true),
	}
}

// PeriodSelect is the period of the per-member limit.
func (r rulesView) PeriodSelect() selectView {
	return selectView{ID: "r-period", Name: "max_per_member_period", Label: "menus.rules.max_per_member_period", Error: r.Period.Error, Options: r.Periods}
}

// labelled translates the labels of inputs for the request's language.
func labelled(c *gin.Context, xs []inputView) []inputView {
	for i := range xs {
		xs[i].Label = t(c, xs[i].Label, nil)
	}
	return xs
}

func labelledSelects(c *gin.Context, xs []selectView) []selectView {
	for i := range xs {
		xs[i].Label = t(c, xs[i].Label, nil)
	}
	return xs
}
