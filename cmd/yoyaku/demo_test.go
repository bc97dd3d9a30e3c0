package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// `serve --demo` opens on a living catalog: the salon's menus cut from
// business hours by two stylists, a yoga timetable and a seminar, all on
// the public booking API.
func TestDemoCatalog(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		r := request(t, "GET", s.base+"/api/v1/public/demo/menus", "", "")
		if r.status != 200 {
			t.Fatalf("public menus: %d %s", r.status, r.body)
		}
		var cat struct {
			Categories []struct {
				Name string `json:"name"`
			} `json:"categories"`
			Menus []struct {
				ID          string `json:"id"`
				Name        string `json:"name"`
				BookingMode string `json:"booking_mode"`
				Providers   []any  `json:"providers"`
				Options     []any  `json:"options"`
			} `json:"menus"`
		}
		if err := json.Unmarshal([]byte(r.body), &cat); err != nil {
			t.Fatalf("%v: %s", err, r.body)
		}
		modes, ids := map[string]string{}, map[string]string{}
		for _, m := range cat.Menus {
			modes[m.Name], ids[m.Name] = m.BookingMode, m.ID
			if m.Name == "カット" && (len(m.Providers) != 2 || len(m.Options) != 2) {
				t.Errorf("カット: %d providers, %d options, want 2 and 2", len(m.Providers), len(m.Options))
			}
		}
		if len(cat.Categories) != 3 || modes["カット"] != "hours" || modes["朝ヨガ（60分）"] != "timetable" || modes["はじめての確定申告セミナー"] != "event" {
			t.Fatalf("demo catalog: %s", r.body)
		}

		// Something to book at once: haircuts cut from the hours, yoga
		// sessions three mornings a week, the seminar three weeks ahead.
		zone, _ := time.LoadLocation("Asia/Tokyo")
		from := time.Now().In(zone)
		span := func(days int) string {
			return "&from=" + from.Format(time.DateOnly) + "&to=" + from.AddDate(0, 0, days).Format(time.DateOnly)
		}
		for _, c := range []struct {
			menu     string
			days     int
			min      int
			sessions bool
		}{{"カット", 14, 50, false}, {"朝ヨガ（60分）", 14, 5, true}, {"はじめての確定申告セミナー", 30, 1, true}} {
			r := request(t, "GET", s.base+"/api/v1/public/demo/availability?menu_id="+ids[c.menu]+span(c.days), "", "")
			var av struct {
				TimeZone string `json:"time_zone"`
				Slots    []struct {
					StartsAt  time.Time `json:"starts_at"`
					Remaining int       `json:"remaining"`
					SlotID    string    `json:"slot_id"`
				} `json:"slots"`
			}
			if err := json.Unmarshal([]byte(r.body), &av); err != nil || r.status != 200 {
				t.Fatalf("%s availability: %d %s", c.menu, r.status, r.body)
			}
			if len(av.Slots) < c.min || av.TimeZone != "Asia/Tokyo" {
				t.Errorf("%s: %d free slots in %d days, want at least %d: %s", c.menu, len(av.Slots), c.days, c.min, r.body)
				continue
			}
			for _, sl := range av.Slots {
				if (sl.SlotID != "") != c.sessions || sl.Remaining <= 0 {
					t.Errorf("%s: slot %+v", c.menu, sl)
				}
				if _, off := sl.StartsAt.Zone(); off != 9*3600 {
					t.Errorf("%s: %s not in the tenant's offset", c.menu, sl.StartsAt)
				}
			}
		}
	})
}
