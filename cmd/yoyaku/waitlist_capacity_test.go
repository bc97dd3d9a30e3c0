package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Raising a full session's capacity (PATCH /api/v1/slots/{id}) offers the
// new seat to the first in its waitlist in the same transaction: the
// answer already counts the held seat, the entry is offered, and a guest
// outside the line finds the session full. Both engines.
func TestWaitlistOfferedOnCapacityRaise(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		x := newAPIServer(t, appWith(t, loc, map[string]string{"rate-public-address-write": "off", "rate-public-address-read": "off",
			"rate-public-tenant-write": "off", "rate-public-tenant-read": "off"})).tenant(tenants.CreateParams{Slug: "yoga-raise", Name: "ヨガ教室", TimeZone: "Asia/Tokyo",
			Options: []string{"api", "audit_log"}})
		admin := x.key("admin")
		menu := idOf(x.must(201, "POST", "/api/v1/menus", admin, `{"name":"朝ヨガ","duration_minutes":60,"capacity":1,
			"booking_mode":"timetable","price":2000,"visibility":"public","rules":{"opens_days_before":30}}`))
		day := time.Now().In(tokyoZone(t)).AddDate(0, 0, 10)
		out := x.must(201, "POST", "/api/v1/slots", admin, fmt.Sprintf(`{"menu_id":%q,"starts_at":"%sT09:00"}`, menu, day.Format("2006-01-02")))
		slot := idOf(out["slots"].([]any)[0].(map[string]any))
		pub := "/api/v1/public/yoga-raise"
		guest := func(name, email string) string {
			return fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":1,"customer":{"name":%q,"email":%q}}`, menu, slot, name, email)
		}
		x.must(201, "POST", pub+"/reservations", "", guest("佐藤 一郎", "ichiro@example.jp"))
		wl := x.must(201, "POST", pub+"/slots/"+slot+"/waitlist", "", `{"customer":{"name":"待機 花子","email":"hanako@example.jp"}}`)

		got := x.must(200, "PATCH", "/api/v1/slots/"+slot, admin, `{"capacity":2}`)
		if got["capacity"] != float64(2) || got["booked"] != float64(2) {
			t.Errorf("slot after raising: %v", got)
		}
		list := x.must(200, "GET", "/api/v1/slots/"+slot+"/waitlist", admin, "")
		items, _ := list["items"].([]any)
		if len(items) != 1 || idOf(items[0].(map[string]any)) != idOf(wl) || items[0].(map[string]any)["status"] != "offered" {
			t.Fatalf("waitlist after raising: %v", list)
		}
		if code, body := x.call("POST", pub+"/reservations", "", guest("鈴木 次郎", "jiro@example.jp")); code != 409 {
			t.Fatalf("a guest outside the line: %d %s", code, body)
		}
		// Lowering it again below what is booked and held is refused.
		if code, body := x.call("PATCH", "/api/v1/slots/"+slot, admin, `{"capacity":1}`); code != 409 {
			t.Fatalf("lowering below the hold: %d %s", code, body)
		}
	})
}
