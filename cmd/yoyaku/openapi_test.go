package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/config"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/web"
)

const openAPIToken = "operator-token-1234567890"

// openAPIEngine builds the HTTP handler as serve does, on SQLite in a temp
// dir: the route set does not depend on the engine.
func openAPIEngine(t *testing.T) *gin.Engine {
	t.Helper()
	raw := map[string]string{}
	for _, v := range config.Vars {
		raw[v.Flag] = v.Default
	}
	raw["data-dir"] = t.TempDir()
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(t.Context(), cfg, newLogger(cfg, io.Discard), migrateNow)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	h, err := a.handler(openAPIToken)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// openAPIDoc is as much of the document as the test reads.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]schemaDoc `json:"schemas"`
	} `json:"components"`
}

type schemaDoc struct {
	Ref        string               `json:"$ref"`
	Properties map[string]schemaDoc `json:"properties"`
	Examples   []json.RawMessage    `json:"examples"`
	Enum       []string             `json:"enum"`
}

func loadOpenAPI(t *testing.T) ([]byte, openAPIDoc, any) {
	t.Helper()
	b, err := fs.ReadFile(web.FS, "openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("web/openapi.json is not JSON: %v", err)
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	return b, doc, tree
}

// documented says which routes the OpenAPI document must describe: the JSON
// API and the probes, not the HTML pages or static files.
func documented(path string) bool {
	return strings.HasPrefix(path, "/api/") || path == "/healthz" || path == "/readyz" || path == "/metrics"
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// openAPIPath turns gin's "/a/:b" into OpenAPI's "/a/{b}".
func openAPIPath(ginPath string) string { return ginParam.ReplaceAllString(ginPath, "{$1}") }

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	_, doc, tree := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	engine := openAPIEngine(t)

	served := map[string]bool{} // "GET /api/v1/public/{tenant}"
	for _, r := range engine.Routes() {
		served[r.Method+" "+openAPIPath(r.Path)] = true
		if !documented(r.Path) {
			continue
		}
		p := openAPIPath(r.Path)
		if _, ok := doc.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s is not in web/openapi.json (as %s %s)", r.Method, r.Path, strings.ToLower(r.Method), p)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(doc.Paths)) {
		n := 0
		for key := range doc.Paths[p] {
			if !slices.Contains(httpMethods, key) {
				continue
			}
			n++
			if !served[strings.ToUpper(key)+" "+p] {
				t.Errorf("web/openapi.json documents %s %s, which no route serves", strings.ToUpper(key), p)
			}
		}
		if n == 0 {
			t.Errorf("web/openapi.json: path %s has no operation", p)
		}
	}

	if got := doc.Components.Schemas["Option"].Enum; !slices.Equal(got, tenants.Options) {
		t.Errorf("web/openapi.json: schema Option enum = %v, want tenants.Options %v", got, tenants.Options)
	}

	// Every reference resolves.
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, ok := resolvePointer(tree, ref); !ok {
					t.Errorf("web/openapi.json: %s: $ref %q does not resolve", at, ref)
				}
			}
			for k, e := range v {
				walk(at+"/"+k, e)
			}
		case []any:
			for _, e := range v {
				walk(at+"/[]", e)
			}
		}
	}
	walk("#", tree)
}

// resolvePointer follows a local reference ("#/components/schemas/X").
func resolvePointer(tree any, ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	cur := tree
	for _, seg := range strings.Split(rest, "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func TestOpenAPIServed(t *testing.T) {
	want, _, _ := loadOpenAPI(t)
	engine := openAPIEngine(t)
	w := httptest.NewRecorder()
	engine.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.json: %d, want 200\n%s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if !bytes.Equal(w.Body.Bytes(), want) {
		t.Errorf("served document differs from web/openapi.json (%d bytes served, %d in the file)", w.Body.Len(), len(want))
	}
}

// TestOpenAPIBodiesAccepted sends a body holding every property of the
// request schemas, each with its first example, and expects it accepted:
// the document names no field the API would refuse as unknown, and its
// examples are valid. The answers must carry exactly the properties the
// response schemas name.
func TestOpenAPIBodiesAccepted(t *testing.T) {
	_, doc, _ := loadOpenAPI(t)
	engine := openAPIEngine(t)
	schemas := doc.Components.Schemas

	// body builds a JSON object of every property of schema name but skip.
	body := func(name string, skip ...string) (string, map[string]any) {
		t.Helper()
		s, ok := schemas[name]
		if !ok || len(s.Properties) == 0 {
			t.Fatalf("web/openapi.json: schema %s missing or without properties", name)
		}
		obj := map[string]any{}
		for prop, ps := range s.Properties {
			if slices.Contains(skip, prop) {
				continue
			}
			ex := ps.Examples
			if len(ex) == 0 && ps.Ref != "" {
				ex = schemas[strings.TrimPrefix(ps.Ref, "#/components/schemas/")].Examples
			}
			if len(ex) == 0 {
				t.Fatalf("web/openapi.json: %s.%s has no example to send", name, prop)
			}
			obj[prop] = ex[0]
		}
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		var generic map[string]any
		_ = json.Unmarshal(b, &generic)
		return string(b), generic
	}
	send := func(method, path, reqBody string) (int, map[string]any, string) {
		t.Helper()
		var rd io.Reader
		if reqBody != "" {
			rd = strings.NewReader(reqBody)
		}
		req := httptest.NewRequest(method, path, rd)
		req.Header.Set("Authorization", "Bearer "+openAPIToken)
		if reqBody != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		engine.ServeHTTP(w, req)
		var got map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &got)
		return w.Code, got, w.Body.String()
	}
	// sameKeys checks that an answer has exactly the properties of schema name.
	sameKeys := func(what string, got map[string]any, name string) {
		t.Helper()
		want := slices.Sorted(maps.Keys(schemas[name].Properties))
		if have := slices.Sorted(maps.Keys(got)); !slices.Equal(have, want) {
			t.Errorf("%s answered fields %v, schema %s names %v", what, have, name, want)
		}
	}
	// echoes checks that the answer holds what was sent.
	echoes := func(what string, got, sent map[string]any) {
		t.Helper()
		for k, v := range sent {
			a, _ := json.Marshal(got[k])
			b, _ := json.Marshal(v)
			if !bytes.Equal(a, b) {
				t.Errorf("%s: %s = %s, sent %s", what, k, a, b)
			}
		}
	}

	create, sent := body("TenantCreate")
	code, got, raw := send(http.MethodPost, "/api/v1/platform/tenants", create)
	if code != http.StatusCreated {
		t.Fatalf("POST /api/v1/platform/tenants with every TenantCreate property %s: %d, want 201\n%s", create, code, raw)
	}
	sameKeys("POST /api/v1/platform/tenants", got, "TenantCreated")
	delete(sent, "owner_email") // answered as owner_setup_url, not echoed
	echoes("POST /api/v1/platform/tenants", got, sent)
	slug, _ := got["slug"].(string)

	update, sent := body("TenantUpdate", "status")
	code, got, raw = send(http.MethodPatch, "/api/v1/platform/tenants/"+slug, update)
	if code != http.StatusOK {
		t.Fatalf("PATCH /api/v1/platform/tenants/%s with every TenantUpdate property but status %s: %d, want 200\n%s", slug, update, code, raw)
	}
	sameKeys("PATCH /api/v1/platform/tenants/{slug}", got, "Tenant")
	echoes("PATCH /api/v1/platform/tenants/{slug}", got, sent)

	code, got, raw = send(http.MethodGet, "/api/v1/platform/tenants?limit=1", "")
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/platform/tenants: %d\n%s", code, raw)
	}
	sameKeys("GET /api/v1/platform/tenants?limit=1", got, "TenantList") // a full page has next_cursor

	code, got, raw = send(http.MethodGet, "/api/v1/public/"+slug, "")
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/public/%s: %d\n%s", slug, code, raw)
	}
	sameKeys("GET /api/v1/public/{tenant}", got, "PublicTenant")

	code, got, raw = send(http.MethodPost, "/api/v1/platform/tenants", `{"slug":"shop-two","name":"x","nope":1}`)
	if code != http.StatusBadRequest {
		t.Fatalf("POST with an unknown field: %d, want 400\n%s", code, raw)
	}
	sameKeys("a validation problem", got, "Problem")
}
