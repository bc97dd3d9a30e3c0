package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// apiServer is an app's real handler, for tests of the tenant API through
// httptest rather than a listening server.
type apiServer struct {
	t    *testing.T
	a    *app
	h    *gin.Engine
	lang string // Accept-Language of every request; "" sends none
}

// apiTenant is one tenant of an apiServer, with its API keys.
type apiTenant struct {
	*apiServer
	tn   tenants.Created
	keys map[string]string // by role
}

// newAPIServer builds a's handler (a may be changed first, e.g. its clock).
func newAPIServer(t *testing.T, a *app) *apiServer {
	t.Helper()
	h, err := a.handler("operator-token-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	return &apiServer{t: t, a: a, h: h}
}

// newAPITenant starts an app on loc with one tenant made of p.
func newAPITenant(t *testing.T, loc dbx.Location, p tenants.CreateParams) *apiTenant {
	t.Helper()
	return newAPIServer(t, appFor(t, loc)).tenant(p)
}

// tenant creates a tenant of p on the server's app.
func (s *apiServer) tenant(p tenants.CreateParams) *apiTenant {
	s.t.Helper()
	tn, err := s.a.tenants.CreateTenant(context.Background(), p)
	if err != nil {
		s.t.Fatal(err)
	}
	return &apiTenant{apiServer: s, tn: tn, keys: map[string]string{}}
}

// inDB runs fn on the tenant's database; an error fails the test.
func (x *apiTenant) inDB(fn func(db bun.IDB) error) {
	x.t.Helper()
	ctx := context.Background()
	h, err := x.a.reg.Acquire(ctx, x.tn.DB)
	if err != nil {
		x.t.Fatal(err)
	}
	defer h.Release()
	db, err := h.DB(ctx)
	if err != nil {
		x.t.Fatal(err)
	}
	if err := fn(db); err != nil {
		x.t.Fatal(err)
	}
}

// key is the tenant's API key of role, made ("<role> key") on first use.
func (x *apiTenant) key(role string) string {
	x.t.Helper()
	if k, ok := x.keys[role]; ok {
		return k
	}
	x.inDB(func(db bun.IDB) error {
		ctx := context.Background()
		key, k, err := x.a.apiKeys.CreateAPIKey(ctx, db, x.tn.ID, identity.Principal{}, role+" key", role)
		if err != nil {
			return err
		}
		x.keys[role] = key
		return x.a.assignKeyRole(ctx, db, x.tn.Tenant, k)
	})
	return x.keys[role]
}

// serve sends a request: body as JSON unless empty, key as the bearer
// token unless empty, then hdr's name, value pairs.
func (s *apiServer) serve(method, path, key, body string, hdr ...string) *httptest.ResponseRecorder {
	s.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if s.lang != "" {
		req.Header.Set("Accept-Language", s.lang)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	return w
}

// call is serve's status and body text.
func (s *apiServer) call(method, path, key, body string, hdr ...string) (int, string) {
	s.t.Helper()
	w := s.serve(method, path, key, body, hdr...)
	return w.Code, w.Body.String()
}

// callJSON is call with the body decoded as a JSON object (nil when
// empty); a body that is not JSON fails the test.
func (s *apiServer) callJSON(method, path, key, body string, hdr ...string) (int, map[string]any) {
	s.t.Helper()
	code, text := s.call(method, path, key, body, hdr...)
	var out map[string]any
	if text != "" {
		if err := json.Unmarshal([]byte(text), &out); err != nil {
			s.t.Fatalf("%s %s: not JSON (%d): %s", method, path, code, text)
		}
	}
	return code, out
}

// must is callJSON that fails the test unless the status is want.
func (s *apiServer) must(want int, method, path, key, body string) map[string]any {
	s.t.Helper()
	code, out := s.callJSON(method, path, key, body)
	if code != want {
		s.t.Fatalf("%s %s: %d, want %d\n%v", method, path, code, want, out)
	}
	return out
}
