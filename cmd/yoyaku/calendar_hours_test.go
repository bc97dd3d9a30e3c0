package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// The owner sets a stylist's own working hours and days off in the
// console, from the providers page: a wrong entry is named at its field
// and nothing is saved; a right one is saved and shown; an unknown
// provider is a 404 page.
func TestProviderHoursConsole(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		pw, err := os.ReadFile(filepath.Join(loc.DataDir, demoOwnerFile))
		if err != nil {
			t.Fatal(err)
		}
		r := request(t, "GET", s.base+"/api/v1/public/demo/menus", "", "")
		var cat struct {
			Menus []struct {
				Name      string `json:"name"`
				Providers []struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"providers"`
			} `json:"menus"`
		}
		if err := json.Unmarshal([]byte(r.body), &cat); err != nil || len(cat.Menus) == 0 || len(cat.Menus[0].Providers) == 0 {
			t.Fatalf("demo providers: %v %s", err, r.body)
		}
		prov := cat.Menus[0].Providers[0]

		owner := newConsoleUser(t, s.base+"/t/demo/admin")
		owner.login(demoOwner, strings.TrimSpace(string(pw)))
		path := "/calendar/providers/" + prov.ID
		if list := owner.get("/providers", http.StatusOK); !strings.Contains(list.body, `href="/t/demo/admin`+path+`"`) {
			t.Fatalf("the providers page does not link the hours:\n%s", list.body)
		}
		page := owner.get(path, http.StatusOK)
		for _, want := range []string{prov.Name, `name="hours_mode" value="business" checked`, `id="weekly_mon"`} {
			if !strings.Contains(page.body, want) {
				t.Fatalf("the hours page lacks %q:\n%s", want, page.body)
			}
		}

		bad := url.Values{"hours_mode": {"own"}, "weekly_tue": {"10:00-24:30"}, "days_off": {"2026-12-15\n2026-02-30"}}
		res := owner.submit(path, path, bad, http.StatusBadRequest)
		for _, want := range []string{`id="weekly_tue-error"`, `id="days-off-error"`, "2行目", `value="10:00-24:30"`, `value="own" checked`} {
			if !strings.Contains(res.body, want) {
				t.Fatalf("the refused form lacks %q:\n%s", want, res.body)
			}
		}
		if again := owner.get(path, http.StatusOK); !strings.Contains(again.body, `value="business" checked`) {
			t.Fatal("a refused form saved something")
		}

		good := url.Values{"hours_mode": {"own"}, "weekly_tue": {"12:00-19:00"}, "weekly_sat": {"10:00-13:00, 14:00-18:00"}, "days_off": {"2026-12-15"}}
		res = owner.submit(path, path, good, http.StatusSeeOther)
		redirectsTo(t, "save", res, "/t/demo/admin"+path+"?saved=1")
		saved := owner.get(path+"?saved=1", http.StatusOK)
		for _, want := range []string{"保存しました。", `value="own" checked`, `value="12:00-19:00"`, `value="10:00-13:00, 14:00-18:00"`, "2026-12-15</textarea>"} {
			if !strings.Contains(saved.body, want) {
				t.Fatalf("the saved page lacks %q:\n%s", want, saved.body)
			}
		}
		owner.get("/calendar/providers/0123456789abcdef0123456789abcdef", http.StatusNotFound)

		// The start-time grid of hours menus, on the calendar page.
		if cal := owner.get("/calendar", http.StatusOK); !strings.Contains(cal.body, `id="slot_unit_minutes" name="slot_unit_minutes" value="30"`) {
			t.Fatalf("the calendar page lacks the slot unit (30 by default):\n%s", cal.body)
		}
		res = owner.submit("/calendar", "/calendar/settings", url.Values{"slot_unit_minutes": {"7"}}, http.StatusBadRequest)
		if !strings.Contains(res.body, `id="slot-unit-error"`) || !strings.Contains(res.body, "5分単位で入力してください") || !strings.Contains(res.body, `value="7"`) {
			t.Fatalf("a slot unit of 7 minutes:\n%s", res.body)
		}
		res = owner.submit("/calendar", "/calendar/settings", url.Values{"slot_unit_minutes": {"１５"}}, http.StatusSeeOther)
		redirectsTo(t, "slot unit", res, "/t/demo/admin/calendar?unit_saved=1#settings")
		if cal := owner.get("/calendar?unit_saved=1", http.StatusOK); !strings.Contains(cal.body, `name="slot_unit_minutes" value="15"`) ||
			!strings.Contains(cal.body, "予約枠の刻みを保存しました。") {
			t.Fatalf("the saved slot unit:\n%s", cal.body)
		}
	})
}
