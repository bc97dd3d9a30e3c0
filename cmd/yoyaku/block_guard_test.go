package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Blocks over the API take the provider's capacity under the booking
// guard (the app wires timeslots' BlockGuard to reservations): a block
// over a booked time is 409 block_conflict and changes nothing; a staff
// booking into a block is refused; deleting the block gives the time
// back. Both engines.
func TestBlockGuardHTTP(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		x := newAPIServer(t, appWith(t, loc, nil)).tenant(tenants.CreateParams{Slug: "salon-block", Name: "サロン", TimeZone: "Asia/Tokyo",
			Options: []string{"api", "audit_log"}})
		admin := x.key("admin")
		aya := idOf(x.must(201, "POST", "/api/v1/providers", admin, `{"name":"綾"}`))
		menu := idOf(x.must(201, "POST", "/api/v1/menus", admin, fmt.Sprintf(`{"name":"カット","duration_minutes":60,"capacity":1,
			"booking_mode":"hours","price":5000,"approval_required":false,"provider_ids":[%q]}`, aya)))
		day := time.Now().In(tokyoZone(t)).AddDate(0, 0, 7).Format("2006-01-02")
		when := func(hhmm string) string { return day + "T" + hhmm + ":00+09:00" }
		book := func(hhmm string) (int, string) {
			return x.call("POST", "/api/v1/reservations", admin, fmt.Sprintf(`{"menu_id":%q,"starts_at":%q,"provider_id":%q,"party_size":1,
				"customer":{"name":"山田 花子","email":"hanako@example.jp"}}`, menu, when(hhmm), aya))
		}
		block := func(from, to string) (int, string) {
			return x.call("POST", "/api/v1/blocks", admin, fmt.Sprintf(`{"starts_at":%q,"ends_at":%q,"provider_id":%q,"reason":"研修"}`,
				when(from), when(to), aya), "Accept-Language", "ja")
		}
		if code, body := book("10:00"); code != 201 {
			t.Fatalf("staff booking: %d %s", code, body)
		}
		if code, body := block("10:30", "11:30"); code != 409 || !strings.Contains(body, `"block_conflict"`) ||
			!strings.Contains(body, "すでに予約があります") {
			t.Fatalf("block over the booking: %d %s", code, body)
		}
		list := x.must(200, "GET", "/api/v1/blocks?from="+day+"&to="+day, admin, "")
		if items, _ := list["items"].([]any); len(items) != 0 {
			t.Fatalf("blocks after the refused one: %v", list)
		}
		code, body := block("13:00", "14:00")
		if code != 201 {
			t.Fatalf("block: %d %s", code, body)
		}
		id := body[strings.Index(body, `"id":"`)+6:]
		id = id[:strings.Index(id, `"`)]
		if code, body := book("13:00"); code != 409 || !strings.Contains(body, "provider_unavailable") {
			t.Fatalf("staff booking into the block: %d %s", code, body)
		}
		x.must(204, "DELETE", "/api/v1/blocks/"+id, admin, "")
		if code, body := book("13:00"); code != 201 {
			t.Fatalf("booking after the block's deletion: %d %s", code, body)
		}
	})
}
