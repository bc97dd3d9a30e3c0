package main

import (
	"encoding/json"
	"testing"

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
				Name        string `json:"name"`
				BookingMode string `json:"booking_mode"`
				Providers   []any  `json:"providers"`
				Options     []any  `json:"options"`
			} `json:"menus"`
		}
		if err := json.Unmarshal([]byte(r.body), &cat); err != nil {
			t.Fatalf("%v: %s", err, r.body)
		}
		modes := map[string]string{}
		for _, m := range cat.Menus {
			modes[m.Name] = m.BookingMode
			if m.Name == "カット" && (len(m.Providers) != 2 || len(m.Options) != 2) {
				t.Errorf("カット: %d providers, %d options, want 2 and 2", len(m.Providers), len(m.Options))
			}
		}
		if len(cat.Categories) != 3 || modes["カット"] != "hours" || modes["朝ヨガ（60分）"] != "timetable" || modes["はじめての確定申告セミナー"] != "event" {
			t.Fatalf("demo catalog: %s", r.body)
		}
	})
}
