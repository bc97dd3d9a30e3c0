package tenants

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/web"
)

const token = "operator-token-for-tests"

// newServer wires the routes the way cmd/yoyaku does.
func newServer(t *testing.T, e *env) *gin.Engine {
	t.Helper()
	cat, err := i18n.Load(web.FS, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	views, err := view.New(web.FS, cat)
	if err != nil {
		t.Fatal(err)
	}
	r, err := httpx.New(httpx.Options{Catalog: cat, MaxBodyBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHTTP(e.svc, views)
	h.RegisterOperator(r.Group("/api/v1/platform", httpx.RequireToken(token)))
	h.RegisterPublic(r.Group("/api/v1/public/:tenant", h.APITenant()))
	// The booking site itself is the reservations module's; a page that
	// names the tenant is enough to test the site middleware.
	r.Group("/t/:tenant", h.SiteTenant()).GET("/", func(c *gin.Context) {
		t, _ := FromContext(c.Request.Context())
		c.String(http.StatusOK, t.Name)
	})
	return r
}

type call struct {
	method, url, body string
	auth              string // "" → the operator token; "-" → none
	contentType       string // "" → application/json
	lang              string
}

func do(t *testing.T, r http.Handler, c call) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req := httptest.NewRequest(c.method, c.url, body)
	switch c.auth {
	case "":
		req.Header.Set("Authorization", "Bearer "+token)
	case "-":
	default:
		req.Header.Set("Authorization", c.auth)
	}
	if c.body != "" {
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

type problem struct {
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Title     string `json:"title"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field, Code, Message string
	} `json:"errors"`
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q, body %s", ct, w.Body)
	}
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.RequestID == "" || p.Title == "" {
		t.Errorf("problem lacks request_id or title: %s", w.Body)
	}
	return p
}

func TestOperatorAPI(t *testing.T) {
	cases := []struct {
		name       string
		call       call
		wantStatus int
		wantCode   string   // problem code, for errors
		wantFields []string // "field:code"
		wantSlug   string   // for successes
	}{
		{"create", call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"hair-salon","name":"ヘアサロン","contact_emails":["owner@salon.example.jp"],"options":["api"]}`}, 201, "", nil, "hair-salon"},
		{"no token", call{method: "GET", url: "/api/v1/platform/tenants", auth: "-"}, 401, "unauthorized", nil, ""},
		{"wrong token", call{method: "GET", url: "/api/v1/platform/tenants", auth: "Bearer nope"}, 401, "unauthorized", nil, ""},
		{"basic auth", call{method: "GET", url: "/api/v1/platform/tenants", auth: "Basic " + token}, 401, "unauthorized", nil, ""},
		{"create without token", call{method: "POST", url: "/api/v1/platform/tenants", auth: "-", body: `{"slug":"sneaky","name":"x"}`}, 401, "unauthorized", nil, ""},
		{"duplicate slug", call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"hair-salon","name":"again"}`}, 409, "slug_taken", nil, ""},
		{"malformed json", call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"x",`}, 400, "malformed_json", nil, ""},
		{"not an object", call{method: "POST", url: "/api/v1/platform/tenants", body: `["slug"]`}, 400, "malformed_json", nil, ""},
		{"unknown field", call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"newshop","name":"x","owner":"me"}`}, 400, "validation", []string{"owner:unknown_field"}, ""},
		{"wrong type", call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"newshop","name":42}`}, 400, "validation", []string{"name:type"}, ""},
		{"text body", call{method: "POST", url: "/api/v1/platform/tenants", body: `slug=newshop`, contentType: "text/plain"}, 415, "unsupported_media_type", nil, ""},
		{"too large", call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"newshop","name":"` + strings.Repeat("x", 5000) + `"}`}, 413, "body_too_large", nil, ""},
		{"invalid slug", call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"No Spaces","name":"x"}`}, 400, "validation", []string{"slug:slug"}, ""},
		{"invalid zone", call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"newshop","name":"x","time_zone":"JST"}`}, 400, "validation", []string{"time_zone:iana_tz"}, ""},
		{"invalid locale", call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"newshop","name":"x","locale":"zh"}`}, 400, "validation", []string{"locale:oneof"}, ""},
		{"invalid email", call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"newshop","name":"x","contact_emails":["@example.jp"]}`}, 400, "validation", []string{"contact_emails[0]:email"}, ""},
		{"everything wrong", call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"admin","name":"","time_zone":"x","locale":"x","contact_emails":["x"]}`}, 400, "validation",
			[]string{"slug:slug_reserved", "name:required", "time_zone:iana_tz", "locale:oneof", "contact_emails[0]:email"}, ""},
		{"get", call{method: "GET", url: "/api/v1/platform/tenants/hair-salon"}, 200, "", nil, "hair-salon"},
		{"get missing", call{method: "GET", url: "/api/v1/platform/tenants/no-such-shop"}, 404, "tenant_not_found", nil, ""},
		{"get invalid slug", call{method: "GET", url: "/api/v1/platform/tenants/%E3%81%82"}, 404, "tenant_not_found", nil, ""},
		{"patch", call{method: "PATCH", url: "/api/v1/platform/tenants/hair-salon", body: `{"name":"ヘアサロン本店","options":["wareki"]}`}, 200, "", nil, "hair-salon"},
		{"patch unknown field", call{method: "PATCH", url: "/api/v1/platform/tenants/hair-salon", body: `{"slug":"renamed"}`}, 400, "validation", []string{"slug:unknown_field"}, ""},
		{"patch bad status", call{method: "PATCH", url: "/api/v1/platform/tenants/hair-salon", body: `{"status":"deleted"}`}, 400, "validation", []string{"status:oneof"}, ""},
		{"patch missing", call{method: "PATCH", url: "/api/v1/platform/tenants/no-such-shop", body: `{"name":"x"}`}, 404, "tenant_not_found", nil, ""},
		{"list bad status", call{method: "GET", url: "/api/v1/platform/tenants?status=zombie"}, 400, "validation", []string{"status:oneof"}, ""},
		{"list bad limit", call{method: "GET", url: "/api/v1/platform/tenants?limit=5000"}, 400, "validation", []string{"limit:range"}, ""},
		{"delete is not allowed", call{method: "DELETE", url: "/api/v1/platform/tenants/hair-salon"}, 405, "method_not_allowed", nil, ""},
	}
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc, nil)
		r := newServer(t, e)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := e.count(t)
				w := do(t, r, c.call)
				if w.Code != c.wantStatus {
					t.Fatalf("status %d, want %d; body %s", w.Code, c.wantStatus, w.Body)
				}
				if c.wantStatus >= 400 {
					p := decodeProblem(t, w)
					if p.Code != c.wantCode || p.Status != c.wantStatus {
						t.Errorf("problem %+v, want code %s", p, c.wantCode)
					}
					var fields []string
					for _, f := range p.Errors {
						fields = append(fields, f.Field+":"+f.Code)
						if f.Message == "" {
							t.Errorf("field %s has no message", f.Field)
						}
					}
					if !slices.Equal(fields, c.wantFields) {
						t.Errorf("fields %v, want %v", fields, c.wantFields)
					}
					if c.call.method != "GET" && e.count(t) != before {
						t.Errorf("a refused request changed the tenant count")
					}
					return
				}
				var got View
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
					t.Fatal(err)
				}
				if got.Slug != c.wantSlug || got.ID == "" || got.ContactEmails == nil || got.Options == nil {
					t.Errorf("tenant %+v", got)
				}
			})
		}
		// The patch above landed.
		w := do(t, r, call{method: "GET", url: "/api/v1/platform/tenants/hair-salon"})
		var got View
		_ = json.Unmarshal(w.Body.Bytes(), &got)
		if got.Name != "ヘアサロン本店" || !slices.Equal(got.Options, []string{"wareki"}) || got.TimeZone != "Asia/Tokyo" {
			t.Errorf("after patch: %+v", got)
		}
	})
}

func TestListPages(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc, nil)
		r := newServer(t, e)
		for _, s := range []string{"shop-c", "shop-a", "shop-b"} {
			if w := do(t, r, call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"` + s + `","name":"` + s + `"}`}); w.Code != 201 {
				t.Fatalf("create %s: %d %s", s, w.Code, w.Body)
			}
		}
		var seen []string
		url := "/api/v1/platform/tenants?limit=2"
		for range 3 {
			w := do(t, r, call{method: "GET", url: url})
			var page listResponse
			if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			for _, it := range page.Items {
				seen = append(seen, it.Slug)
			}
			if page.NextCursor == "" {
				break
			}
			url = "/api/v1/platform/tenants?limit=2&cursor=" + page.NextCursor
		}
		if !slices.Equal(seen, []string{"shop-a", "shop-b", "shop-c"}) {
			t.Fatalf("paged through %v", seen)
		}
	})
}

func TestMessagesFollowAcceptLanguage(t *testing.T) {
	e := newEnv(t, dbtest.NewLocation(t, dbx.SQLite), nil)
	r := newServer(t, e)
	cat, _ := i18n.Load(web.FS, "i18n")
	for _, lang := range []string{"ja", "en"} {
		w := do(t, r, call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"status","name":""}`, lang: lang})
		p := decodeProblem(t, w)
		if w.Header().Get("Content-Language") != lang {
			t.Errorf("Content-Language %q, want %q", w.Header().Get("Content-Language"), lang)
		}
		if p.Title != cat.T(lang, "problem.validation.title", nil) {
			t.Errorf("%s title %q", lang, p.Title)
		}
		if len(p.Errors) != 2 || p.Errors[0].Message != cat.T(lang, "field.slug_reserved", nil) || p.Errors[1].Message != cat.T(lang, "field.required", nil) {
			t.Errorf("%s field messages %+v", lang, p.Errors)
		}
	}
}

func TestSuspendedTenantIsRefusedOnSiteAndAPI(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc, nil)
		r := newServer(t, e)
		if w := do(t, r, call{method: "POST", url: "/api/v1/platform/tenants", body: `{"slug":"yoga-studio","name":"ヨガスタジオ"}`}); w.Code != 201 {
			t.Fatalf("create: %d %s", w.Code, w.Body)
		}
		db, err := e.reg.Acquire(context.Background(), mustGet(t, e, "yoga-studio").DB)
		if err != nil {
			t.Fatal(err)
		}
		idb, _ := db.DB(context.Background())
		if err := SetSetting(context.Background(), idb, SettingWelcome, "<b>ようこそ</b>", e.svc.now()); err != nil {
			t.Fatal(err)
		}
		db.Release()

		w := do(t, r, call{method: "GET", url: "/api/v1/public/yoga-studio", auth: "-"})
		var pub publicJSON
		if err := json.Unmarshal(w.Body.Bytes(), &pub); w.Code != 200 || err != nil || pub.Name != "ヨガスタジオ" || pub.TimeZone != "Asia/Tokyo" || pub.Welcome != "<b>ようこそ</b>" {
			t.Fatalf("public info: %d %s", w.Code, w.Body)
		}
		w = do(t, r, call{method: "GET", url: "/t/yoga-studio/", auth: "-"})
		if w.Code != 200 || !strings.Contains(w.Body.String(), "ヨガスタジオ") {
			t.Fatalf("site: %d %s", w.Code, w.Body)
		}

		if w := do(t, r, call{method: "PATCH", url: "/api/v1/platform/tenants/yoga-studio", body: `{"status":"suspended"}`}); w.Code != 200 {
			t.Fatalf("suspend: %d %s", w.Code, w.Body)
		}
		w = do(t, r, call{method: "GET", url: "/api/v1/public/yoga-studio", auth: "-", lang: "en"})
		if w.Code != 403 || decodeProblem(t, w).Code != "tenant_suspended" {
			t.Fatalf("suspended API: %d %s", w.Code, w.Body)
		}
		w = do(t, r, call{method: "GET", url: "/t/yoga-studio/", auth: "-"})
		if w.Code != 403 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("suspended site: %d %s %s", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		cat, _ := i18n.Load(web.FS, "i18n")
		if want := cat.T("ja", "site.suspended.body", map[string]any{"Name": "ヨガスタジオ"}); !strings.Contains(w.Body.String(), want) {
			t.Errorf("suspended page does not say so: %s", w.Body)
		}

		if w := do(t, r, call{method: "PATCH", url: "/api/v1/platform/tenants/yoga-studio", body: `{"status":"active"}`}); w.Code != 200 {
			t.Fatalf("resume: %d %s", w.Code, w.Body)
		}
		if w := do(t, r, call{method: "GET", url: "/api/v1/public/yoga-studio", auth: "-"}); w.Code != 200 {
			t.Fatalf("resumed API: %d %s", w.Code, w.Body)
		}

		if w := do(t, r, call{method: "PATCH", url: "/api/v1/platform/tenants/yoga-studio", body: `{"status":"terminated"}`}); w.Code != 200 {
			t.Fatalf("terminate: %d %s", w.Code, w.Body)
		}
		if w := do(t, r, call{method: "GET", url: "/api/v1/public/yoga-studio", auth: "-"}); w.Code != 410 || decodeProblem(t, w).Code != "tenant_terminated" {
			t.Fatalf("terminated API: %d %s", w.Code, w.Body)
		}
		if w := do(t, r, call{method: "GET", url: "/t/no-such-site/", auth: "-"}); w.Code != 404 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("unknown site: %d %s", w.Code, w.Body)
		}
		if w := do(t, r, call{method: "GET", url: "/api/v1/public/no-such-site", auth: "-"}); w.Code != 404 || decodeProblem(t, w).Code != "tenant_not_found" {
			t.Fatalf("unknown public: %d %s", w.Code, w.Body)
		}
	})
}

func mustGet(t *testing.T, e *env, slug string) Tenant {
	t.Helper()
	tn, err := e.svc.Get(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// A tenant database behind the binary's migrations answers 503 with a
// clear code rather than serving a schema the code does not expect.
func TestBehindDatabaseAnswers503(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc, nil)
		tn, err := e.svc.Create(context.Background(), CreateParams{Slug: "lagging", Name: "Lagging"})
		if err != nil {
			t.Fatal(err)
		}
		newer := newEnv(t, loc, withExtraMigration(t, loc))
		r := newServer(t, newer)
		w := do(t, r, call{method: "GET", url: "/api/v1/public/lagging", auth: "-"})
		if w.Code != 503 || decodeProblem(t, w).Code != "tenant_db_behind" {
			t.Fatalf("behind: %d %s", w.Code, w.Body)
		}
		if _, err := newer.reg.Migrate(context.Background(), tn.DB); err != nil {
			t.Fatal(err)
		}
		if w := do(t, r, call{method: "GET", url: "/api/v1/public/lagging", auth: "-"}); w.Code != 200 {
			t.Fatalf("after migrate: %d %s", w.Code, w.Body)
		}
	})
}

// withExtraMigration is the tenant migrations of a newer binary: the real
// ones plus one more.
func withExtraMigration(t *testing.T, loc dbx.Location) fs.FS {
	t.Helper()
	base := migrations.Tenant(string(loc.Engine))
	m := fstest.MapFS{"29990101000000_newer.up.sql": {Data: []byte("CREATE TABLE newer (id INTEGER NOT NULL PRIMARY KEY)")}}
	entries, err := fs.ReadDir(base, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		b, err := fs.ReadFile(base, en.Name())
		if err != nil {
			t.Fatal(err)
		}
		m[en.Name()] = &fstest.MapFile{Data: b}
	}
	return m
}
