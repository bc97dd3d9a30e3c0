package integrations

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// Guard is a permission check as middleware: identity's API.Need for the
// tenant API, Console.Need for the console.
type Guard func(area authz.Area, action authz.Action) gin.HandlerFunc

// ConsoleShell is what the plugins page needs of the staff console
// (identity.Console provides it).
type ConsoleShell struct {
	Page func(c *gin.Context, status int, name, titleKey string, data map[string]any)
	CSRF gin.HandlerFunc
	Fail func(c *gin.Context, err error)
	Need Guard
}

// Permissions answers whether the signed-in role may edit (platform/authz).
type Permissions interface {
	Can(ctx context.Context, db bun.IDB, tenantID, subject string, area authz.Area, action authz.Action) (bool, error)
}

// HTTP serves the operator's plugin list, the tenant API of plugin settings
// and the console's plugins page.
type HTTP struct {
	host    *Host
	apiNeed Guard
	console ConsoleShell
	perms   Permissions
}

// NewHTTP returns the HTTP side of h.
func NewHTTP(h *Host, apiNeed Guard, console ConsoleShell, perms Permissions) *HTTP {
	return &HTTP{host: h, apiNeed: apiNeed, console: console, perms: perms}
}

// Nav is the console's navigation entry of the plugins page, for
// identity.ConsoleConfig.Nav.
func Nav() identity.NavEntry {
	return identity.NavEntry{Area: authz.AreaSettings, Path: "/plugins", Label: "integrations.nav"}
}

// ---- operator ----

// StatusJSON is a plugin as the operator sees it (API and CLI).
type StatusJSON struct {
	ID           string   `json:"id"`
	Name         textJSON `json:"name"`
	Version      string   `json:"version"`
	Capabilities []string `json:"capabilities"`
	State        State    `json:"state"`
	Since        string   `json:"since"`
	Restarts     int      `json:"restarts"`
	LastError    string   `json:"last_error,omitempty"`
	PID          int      `json:"pid,omitempty"`
}

type textJSON struct {
	Ja string `json:"ja"`
	En string `json:"en"`
}

// StatusView converts a Status for the operator.
func StatusView(s Status) StatusJSON {
	caps := s.Capabilities
	if caps == nil {
		caps = []string{}
	}
	return StatusJSON{ID: s.ID, Name: textJSON(s.Name), Version: s.Version, Capabilities: caps, State: s.State,
		Since: s.Since.UTC().Format(time.RFC3339), Restarts: s.Restarts, LastError: s.LastError, PID: s.PID}
}

// RegisterOperator adds GET /plugins to the operator API group
// ("/api/v1/platform").
func (x *HTTP) RegisterOperator(g *gin.RouterGroup) {
	g.GET("/plugins", func(c *gin.Context) {
		out := []StatusJSON{}
		for _, s := range x.host.Plugins() {
			out = append(out, StatusView(s))
		}
		c.JSON(http.StatusOK, gin.H{"plugins": out})
	})
}

// ---- tenant API ----

// tenantPluginJSON is an installed plugin as a tenant sees it. Secret
// settings say only whether a value is set.
type tenantPluginJSON struct {
	ID           string              `json:"id"`
	Name         textJSON            `json:"name"`
	Version      string              `json:"version"`
	Capabilities []string            `json:"capabilities"`
	State        State               `json:"state"`
	Enabled      bool                `json:"enabled"`
	Settings     []settingJSON       `json:"settings"`
	Values       map[string]string   `json:"values"`
	Secrets      map[string]secretJS `json:"secrets"`
}

type secretJS struct {
	Set bool `json:"set"`
}

type settingJSON struct {
	Key      string       `json:"key"`
	Label    textJSON     `json:"label"`
	Type     string       `json:"type"`
	Required bool         `json:"required"`
	Choices  []choiceJSON `json:"choices,omitempty"`
	Help     *textJSON    `json:"help,omitempty"`
}

type choiceJSON struct {
	Value string   `json:"value"`
	Label textJSON `json:"label"`
}

func toTenantPluginJSON(tp TenantPlugin) tenantPluginJSON {
	out := tenantPluginJSON{ID: tp.ID, Name: textJSON(tp.Name), Version: tp.Version, Capabilities: tp.Capabilities,
		State: tp.State, Enabled: tp.Enabled, Settings: []settingJSON{}, Values: map[string]string{}, Secrets: map[string]secretJS{}}
	if out.Capabilities == nil {
		out.Capabilities = []string{}
	}
	for _, s := range tp.Settings {
		sj := settingJSON{Key: s.Key, Label: textJSON(s.Label), Type: string(s.Type), Required: s.Required}
		for _, ch := range s.Choices {
			sj.Choices = append(sj.Choices, choiceJSON{Value: ch.Value, Label: textJSON(ch.Label)})
		}
		if !s.Help.IsZero() {
			h := textJSON(s.Help)
			sj.Help = &h
		}
		out.Settings = append(out.Settings, sj)
		if s.Type == manifest.TypeSecret {
			out.Secrets[s.Key] = secretJS{Set: tp.SecretsSet[s.Key]}
		} else if v, ok := tp.Values[s.Key]; ok {
			out.Values[s.Key] = v
		}
	}
	return out
}

// enableRequest is PUT /plugins/{id}: a secret left out or empty keeps its
// stored value.
type enableRequest struct {
	Settings map[string]string `json:"settings"`
}

// RegisterAPI adds the tenant API of plugin settings to g ("/api/v1" after
// the API key middleware): reading needs settings: view, changing settings:
// edit.
func (x *HTTP) RegisterAPI(g *gin.RouterGroup) {
	view, edit := x.apiNeed(authz.AreaSettings, authz.ActionView), x.apiNeed(authz.AreaSettings, authz.ActionEdit)
	g.GET("/plugins", view, x.listAPI)
	g.GET("/plugins/:id", view, x.getAPI)
	g.PUT("/plugins/:id", edit, x.putAPI)
	g.DELETE("/plugins/:id", edit, x.deleteAPI)
}

func (x *HTTP) listAPI(c *gin.Context) {
	db, err := tenantdb.From(c.Request.Context())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	list, err := x.host.TenantPlugins(c.Request.Context(), db)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := []tenantPluginJSON{}
	for _, tp := range list {
		out = append(out, toTenantPluginJSON(tp))
	}
	c.JSON(http.StatusOK, gin.H{"plugins": out})
}

func (x *HTTP) getAPI(c *gin.Context) {
	db, err := tenantdb.From(c.Request.Context())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	tp, err := x.host.TenantPlugin(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toTenantPluginJSON(tp))
}

func (x *HTTP) putAPI(c *gin.Context) {
	ctx := c.Request.Context()
	db, err := tenantdb.From(ctx)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var req enableRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	t, _ := tenants.FromContext(ctx)
	tp, err := x.host.Enable(ctx, db, t.ID, c.Param("id"), req.Settings)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toTenantPluginJSON(tp))
}

func (x *HTTP) deleteAPI(c *gin.Context) {
	db, err := tenantdb.From(c.Request.Context())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if err := x.host.Disable(c.Request.Context(), db, c.Param("id")); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// ---- console ----

// RegisterConsole adds the plugins page to g, the console group of
// signed-in staff ("/t/:tenant/admin"): reading needs settings: view, every
// post its CSRF token and settings: edit.
func (x *HTTP) RegisterConsole(g *gin.RouterGroup) {
	sh := x.console
	view, edit := sh.Need(authz.AreaSettings, authz.ActionView), sh.Need(authz.AreaSettings, authz.ActionEdit)
	g.GET("/plugins", view, x.consolePage)
	g.POST("/plugins/:id", sh.CSRF, edit, x.consoleSave)
}

// formField is one input of a plugin's settings form.
type formField struct {
	Key, Type, Label, Help, Value, Error string
	Required, Set, Checked               bool
	Choices                              []formChoice
}

type formChoice struct {
	Value, Label string
	Selected     bool
}

type formPlugin struct {
	ID, Name, Version, State, LastError, Error string
	Capabilities                               []string
	Enabled, Refused                           bool
	Fields                                     []formField
}

func pick(lang string, t manifest.Text) string {
	if lang == "en" && t.En != "" {
		return t.En
	}
	if t.Ja != "" {
		return t.Ja
	}
	return t.En
}

// toForm builds a plugin's form; typed (after a refused post) replaces the
// stored values, errs are the fields' messages by key.
func toForm(lang string, tp TenantPlugin, typed map[string]string, errs map[string]string) formPlugin {
	f := formPlugin{ID: tp.ID, Name: pick(lang, tp.Name), Version: tp.Version, State: string(tp.State), LastError: tp.LastError,
		Capabilities: tp.Capabilities, Enabled: tp.Enabled, Refused: tp.State == StateRefused}
	if f.Name == "" {
		f.Name = tp.ID
	}
	for _, s := range tp.Settings {
		v := tp.Values[s.Key]
		if typed != nil {
			v = typed[s.Key]
		}
		ff := formField{Key: s.Key, Type: string(s.Type), Label: pick(lang, s.Label), Help: pick(lang, s.Help), Required: s.Required,
			Set: tp.SecretsSet[s.Key], Error: errs[s.Key]}
		switch s.Type {
		case manifest.TypeSecret:
			// never shown again: the input is always empty
		case manifest.TypeBool:
			ff.Checked = v == "true"
		case manifest.TypeChoice:
			for _, ch := range s.Choices {
				ff.Choices = append(ff.Choices, formChoice{Value: ch.Value, Label: pick(lang, ch.Label), Selected: ch.Value == v})
			}
		default:
			ff.Value = v
		}
		f.Fields = append(f.Fields, ff)
	}
	return f
}

func (x *HTTP) consolePage(c *gin.Context) {
	data := map[string]any{}
	switch c.Query("done") {
	case "saved":
		data["Flash"] = httpx.Catalog(c).T(httpx.Lang(c), "integrations.saved", nil)
	case "disabled":
		data["Flash"] = httpx.Catalog(c).T(httpx.Lang(c), "integrations.disabled_done", nil)
	}
	x.render(c, http.StatusOK, "", nil, nil, data)
}

// render shows the page; for plugin failedID, typed and errs replace the
// stored values.
func (x *HTTP) render(c *gin.Context, status int, failedID string, typed, errs map[string]string, data map[string]any) {
	ctx := c.Request.Context()
	db, err := tenantdb.From(ctx)
	if err != nil {
		x.console.Fail(c, err)
		return
	}
	list, err := x.host.TenantPlugins(ctx, db)
	if err != nil {
		x.console.Fail(c, err)
		return
	}
	lang := httpx.Lang(c)
	var forms []formPlugin
	for _, tp := range list {
		if tp.ID == failedID {
			f := toForm(lang, tp, typed, errs)
			f.Error = errs[""]
			forms = append(forms, f)
			continue
		}
		forms = append(forms, toForm(lang, tp, nil, nil))
	}
	can := false
	if x.perms != nil {
		t, _ := tenants.FromContext(ctx)
		p, _ := identity.PrincipalFrom(ctx)
		if can, err = x.perms.Can(ctx, db, t.ID, p.Subject(), authz.AreaSettings, authz.ActionEdit); err != nil {
			x.console.Fail(c, err)
			return
		}
	}
	data["Plugins"] = forms
	data["CanEdit"] = can
	x.console.Page(c, status, "console_plugins.html", "integrations.title", data)
}

func (x *HTTP) consoleSave(c *gin.Context) {
	ctx := c.Request.Context()
	db, err := tenantdb.From(ctx)
	if err != nil {
		x.console.Fail(c, err)
		return
	}
	id := c.Param("id")
	base := c.Request.URL.Path[:len(c.Request.URL.Path)-len("/plugins/"+id)]
	if c.PostForm("enabled") != "on" {
		if err := x.host.Disable(ctx, db, id); err != nil {
			x.console.Fail(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, base+"/plugins?done=disabled#plugin-"+url.PathEscape(id))
		return
	}
	tp, err := x.host.TenantPlugin(ctx, db, id)
	if err != nil {
		x.console.Fail(c, err)
		return
	}
	values := map[string]string{}
	for _, s := range tp.Settings {
		v := c.PostForm("setting." + s.Key)
		if s.Type == manifest.TypeBool {
			v = "false"
			if c.PostForm("setting."+s.Key) == "true" {
				v = "true"
			}
		}
		if v != "" {
			values[s.Key] = v
		}
	}
	t, _ := tenants.FromContext(ctx)
	if _, err := x.host.Enable(ctx, db, t.ID, id, values); err != nil {
		p := httpx.ProblemFor(c, err)
		if p.Status >= 500 && p.Code != "plugin_unavailable" {
			x.console.Fail(c, err)
			return
		}
		errs := map[string]string{"": p.Title}
		for _, fe := range p.Errors {
			key := fe.Field
			if len(key) > len("settings.") && key[:len("settings.")] == "settings." {
				key = key[len("settings."):]
			}
			errs[key] = fe.Message
		}
		typed := map[string]string{}
		for k, v := range values {
			if k != "" {
				typed[k] = v
			}
		}
		x.render(c, p.Status, id, typed, errs, map[string]any{})
		return
	}
	c.Redirect(http.StatusSeeOther, base+"/plugins?done=saved#plugin-"+url.PathEscape(id))
}
