// Package view renders the server-side HTML pages from web/templates with
// html/template (so every value is escaped for its context) and the message
// catalogs. Templates reach text only through the page's T method.
package view

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
)

// Renderer holds the parsed templates.
type Renderer struct {
	t   *template.Template
	cat *i18n.Catalog
}

// New parses every templates/*.html in fsys.
func New(fsys fs.FS, cat *i18n.Catalog) (*Renderer, error) {
	t, err := template.New("").ParseFS(fsys, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	return &Renderer{t: t, cat: cat}, nil
}

// Page is what every template receives.
type Page struct {
	Lang string
	Data map[string]any
	cat  *i18n.Catalog
}

// T returns message id in the page's language, filled from key/value pairs:
// {{.T "site.title" "Name" .Data.Name}}.
func (p Page) T(id string, kv ...any) string {
	args := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			args[k] = kv[i+1]
		}
	}
	return p.cat.T(p.Lang, id, args)
}

// TOr is T with a fallback for an id the catalogs lack, e.g. the label of
// a built-in role or, for a tenant's custom role, its own name:
// {{.TOr (printf "authz.role.%s" .Role) .Role}}.
func (p Page) TOr(id, fallback string) string {
	if s := p.cat.T(p.Lang, id, nil); s != id {
		return s
	}
	return fallback
}

// HTML renders template name with data at status. A template error is a
// 500 problem, never half a page.
func (r *Renderer) HTML(c *gin.Context, status int, name string, data map[string]any) {
	var buf bytes.Buffer
	if err := r.t.ExecuteTemplate(&buf, name, Page{Lang: httpx.Lang(c), Data: data, cat: r.cat}); err != nil {
		httpx.Fail(c, fmt.Errorf("render %s: %w", name, err))
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}
