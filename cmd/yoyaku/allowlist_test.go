package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Once a tenant sets an allow-list, a request from elsewhere reaches
// neither the console nor the API, and each refusal is logged; an address
// inside the list gets through.
func TestAllowListRefusesAndLogs(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		a := appFor(t, loc)
		ctx := context.Background()
		tn, err := a.tenants.CreateTenant(ctx, tenants.CreateParams{Slug: "walled", Name: "Walled",
			Options: []string{"api", "audit_log"}, OwnerEmail: "owner@walled.example.jp"})
		if err != nil {
			t.Fatal(err)
		}
		hd, err := a.reg.Acquire(ctx, tn.DB)
		if err != nil {
			t.Fatal(err)
		}
		db, _ := hd.DB(ctx)
		key, k, err := a.apiKeys.CreateAPIKey(ctx, db, tn.ID, identity.Principal{}, "ops", "admin")
		if err == nil {
			err = a.assignKeyRole(ctx, db, tn.Tenant, k)
		}
		hd.Release()
		if err != nil {
			t.Fatal(err)
		}
		h, err := a.handler("operator-token-0123456789")
		if err != nil {
			t.Fatal(err)
		}
		do := func(method, path, from, body string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.RemoteAddr = from + ":40000"
			req.Header.Set("Authorization", "Bearer "+key)
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w
		}
		office, outside := "203.0.113.7", "198.51.100.9"
		// Saving a list without the saver's own address needs confirming.
		if w := do("PUT", "/api/v1/allowlist", outside, `{"entries":[{"cidr":"203.0.113.0/24","note":"本社"}]}`); w.Code != http.StatusConflict {
			t.Fatalf("lockout unconfirmed: %d %s", w.Code, w.Body)
		}
		if w := do("PUT", "/api/v1/allowlist", office, `{"entries":[{"cidr":"203.0.113.0/24","note":"本社"}]}`); w.Code != http.StatusOK {
			t.Fatalf("save: %d %s", w.Code, w.Body)
		}
		if w := do("GET", "/t/walled/admin/login", outside, ""); w.Code != http.StatusForbidden || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("console from outside: %d %s", w.Code, w.Header().Get("Content-Type"))
		}
		if w := do("GET", "/api/v1/me", outside, ""); w.Code != http.StatusForbidden {
			t.Fatalf("API from outside: %d %s", w.Code, w.Body)
		} else {
			var p struct{ Code string }
			_ = json.Unmarshal(w.Body.Bytes(), &p)
			if p.Code != "ip_not_allowed" {
				t.Fatalf("API from outside: %s", w.Body)
			}
		}
		if w := do("GET", "/t/walled/admin/login", office, ""); w.Code != http.StatusOK {
			t.Fatalf("console from the office: %d", w.Code)
		}
		if w := do("GET", "/api/v1/me", office, ""); w.Code != http.StatusOK {
			t.Fatalf("API from the office: %d %s", w.Code, w.Body)
		}
		hd, _ = a.reg.Acquire(ctx, tn.DB)
		db, _ = hd.DB(ctx)
		denied, err := auditlog.Search(ctx, db, auditlog.Filter{Action: "access.denied_ip"})
		hd.Release()
		if err != nil || len(denied) != 2 {
			t.Fatalf("refusals logged: %d, %v", len(denied), err)
		}
		for _, e := range denied {
			if e.SourceIP != outside || e.Result != auditlog.ResultDenied {
				t.Errorf("refusal entry %+v", e)
			}
		}
	})
}
