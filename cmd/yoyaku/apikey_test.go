package main

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

var keyRE = regexp.MustCompile(`(?m)^(yk_[0-9a-f]{32}_[A-Za-z0-9]+)$`)

// `yoyaku apikey create` prints a key once; the key works on the tenant API
// with its role, and an unknown role is refused.
func TestAPIKeyCLI(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mustCLI(t, append(locFlags(loc), "tenant", "create", "cli-keys", "--name", "CLI Keys", "--option", "api")...)
		out := mustCLI(t, append(locFlags(loc), "apikey", "create", "--tenant", "cli-keys", "--role", "viewer", "--name", "report bot")...)
		m := keyRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no key printed:\n%s", out)
		}
		code, _, stderr := cli(t, noEnv, append(locFlags(loc), "apikey", "create", "--tenant", "cli-keys", "--role", "superuser")...)
		if code != 1 {
			t.Fatalf("unknown role: exit %d", code)
		}
		assertOneLineError(t, stderr, "Role not found")

		a := appFor(t, loc)
		h, err := a.handler("operator-token-0123456789")
		if err != nil {
			t.Fatal(err)
		}
		tn, _ := a.tenants.Get(t.Context(), "cli-keys")
		hd, _ := a.reg.Acquire(t.Context(), tn.DB)
		db, _ := hd.DB(t.Context())
		keys, err := a.apiKeys.ListAPIKeys(t.Context(), db)
		hd.Release()
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys after one good and one refused creation: %d %v", len(keys), err)
		}
		req := httptest.NewRequest("GET", "/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+m[1])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"role":"viewer"`) || !strings.Contains(w.Body.String(), `"key_name":"report bot"`) {
			t.Fatalf("the printed key: %d %s", w.Code, w.Body)
		}
	})
}
