package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// The tenant API acts with its key's role: a viewer key reads what a viewer
// may read and is refused every write route, whatever the route.
func TestTenantAPIRoles(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		api := newAPITenant(t, loc, tenants.CreateParams{Slug: "api-shop", Name: "API Shop",
			Options: []string{"api", "audit_log"}, OwnerEmail: "owner@api-shop.example.jp"})
		viewer, admin := api.key("viewer"), api.key("admin")

		// Every write route of the tenant API, found from the router itself
		// so that a route added later is covered too.
		writes := 0
		for _, r := range api.h.Routes() {
			if !strings.HasPrefix(r.Path, "/api/v1/") || strings.HasPrefix(r.Path, "/api/v1/public/") ||
				strings.HasPrefix(r.Path, "/api/v1/platform/") || strings.HasPrefix(r.Path, "/api/v1/webhooks/") || r.Method == http.MethodGet {
				continue
			}
			writes++
			path := strings.ReplaceAll(r.Path, ":id", "0123abcd")
			code, body := api.callJSON(r.Method, path, viewer, `{}`)
			if code != http.StatusForbidden || body["code"] != "permission_denied" {
				t.Errorf("viewer key %s %s: %d %v, want 403 permission_denied", r.Method, r.Path, code, body)
			}
		}
		if writes < 4 {
			t.Fatalf("found %d write routes; the route scan is broken", writes)
		}

		if code, me := api.callJSON("GET", "/api/v1/me", viewer, ""); code != 200 || me["role"] != "viewer" {
			t.Fatalf("viewer /me: %d %v", code, me)
		} else if perms, _ := me["permissions"].(map[string]any); perms["reservations"] != "view" || perms["staff"] != "none" {
			t.Fatalf("viewer permissions %v", perms)
		}
		if code, _ := api.callJSON("GET", "/api/v1/staff", viewer, ""); code != 403 {
			t.Fatalf("viewer lists staff: %d", code)
		}
		if code, _ := api.callJSON("GET", "/api/v1/me", "", ""); code != 401 {
			t.Fatalf("no key: %d", code)
		}
		if code, body := api.callJSON("GET", "/api/v1/me", "yk_"+api.tn.ID+"_notarealsecretnotarealsecretnotarealsecret1", ""); code != 401 || body["code"] != "api_key_invalid" {
			t.Fatalf("wrong key: %d %v", code, body)
		}

		code, inv := api.callJSON("POST", "/api/v1/staff", admin, `{"email":"taro@api-shop.example.jp","display_name":"Taro","role":"staff"}`)
		if code != 201 || !strings.Contains(inv["setup_url"].(string), "/t/api-shop/admin/setup/") {
			t.Fatalf("admin invites: %d %v", code, inv)
		}
		if code, body := api.callJSON("POST", "/api/v1/staff", admin, `{"email":"boss@api-shop.example.jp","role":"owner"}`); code != 403 {
			t.Fatalf("an admin key appointed an owner: %d %v", code, body)
		}
		code, log := api.callJSON("GET", "/api/v1/audit?action=access.denied", admin, "")
		if code != 200 {
			t.Fatalf("audit: %d %v", code, log)
		}
		if items, _ := log["items"].([]any); len(items) < writes {
			t.Fatalf("%d refusals logged, want at least %d", len(items), writes)
		}
		if code, log = api.callJSON("GET", "/api/v1/audit?action=staff.invited", admin, ""); code != 200 || len(log["items"].([]any)) != 1 {
			t.Fatalf("invitation not logged: %d %v", code, log)
		}
	})
}
