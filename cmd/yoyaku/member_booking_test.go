package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// A signed-in member books with their saved profile over the public API,
// lists and cancels their own reservations (cancel refused after the
// deadline), a move to a full session fails and keeps the booking, the
// per-member limit holds, and the my page shows the booking with a cancel
// button; the waitlist is joined and accepted over HTTP. Both engines.
func TestMemberBookingAndWaitlistHTTP(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		x := newAPIServer(t, appWith(t, loc, map[string]string{"rate-public-address-write": "off", "rate-public-address-read": "off",
			"rate-public-tenant-write": "off", "rate-public-tenant-read": "off"})).tenant(tenants.CreateParams{Slug: "yoga-members", Name: "ヨガ教室", TimeZone: "Asia/Tokyo",
			Options: []string{"api", "audit_log"}})
		admin := x.key("admin")
		menu := idOf(x.must(201, "POST", "/api/v1/menus", admin, `{"name":"朝ヨガ","duration_minutes":60,"capacity":1,
			"booking_mode":"timetable","price":2000,"visibility":"public",
			"rules":{"opens_days_before":30,"cancel_deadline_minutes":60,"change_deadline_minutes":60,"max_per_member":2,"max_per_member_period":"month"}}`))
		day := time.Now().In(tokyoZone(t)).AddDate(0, 0, 10)
		session := func(hhmm string) string {
			body := fmt.Sprintf(`{"menu_id":%q,"starts_at":"%sT%s"}`, menu, day.Format("2006-01-02"), hhmm)
			out := x.must(201, "POST", "/api/v1/slots", admin, body)
			slots, _ := out["slots"].([]any)
			if len(slots) != 1 {
				t.Fatalf("slots: %v", out)
			}
			return idOf(slots[0].(map[string]any))
		}
		s1, s2, s3 := session("09:00"), session("11:00"), session("13:00")

		var token string
		x.inDB(func(db bun.IDB) error {
			ctx := context.Background()
			_, err := x.a.members.Create(ctx, db, "yoga-members", members.CreateInput{Email: "hanako@example.jp",
				Password: "correct horse battery", Profile: members.ProfileInput{FamilyName: "山田", GivenName: "花子",
					FamilyKana: "ヤマダ", GivenKana: "ハナコ", Phone: "090-1234-5678"}}, "")
			if err != nil {
				return err
			}
			token, _, err = x.a.members.Login(ctx, db, "hanako@example.jp", "correct horse battery", "192.0.2.1", "test")
			return err
		})
		cookie := "yoyaku_member=" + token
		pub := "/api/v1/public/yoga-members"
		book := func(slot string) (int, map[string]any) {
			return x.callJSON("POST", pub+"/reservations", "", fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":1}`, menu, slot),
				"Cookie", cookie)
		}
		code, r1 := book(s1)
		if code != 201 || r1["member_id"] == "" || r1["customer"].(map[string]any)["name"] != "山田 花子" {
			t.Fatalf("member booking: %d %v", code, r1)
		}
		// A guest without a name or address is still refused.
		if code, _ := x.call("POST", pub+"/reservations", "", fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":1}`, menu, s2)); code != 400 {
			t.Fatalf("guest without customer: %d", code)
		}
		// s2 is taken by a guest: full.
		guestR := x.must(201, "POST", pub+"/reservations", "", fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":1,
			"customer":{"name":"佐藤 一郎","email":"ichiro@example.jp"}}`, menu, s2))
		if code, body := x.call("POST", pub+"/me/reservations/"+idOf(r1)+"/move", "", fmt.Sprintf(`{"slot_id":%q}`, s2),
			"Cookie", cookie); code != 409 || !strings.Contains(body, "slot_full") {
			t.Fatalf("move to a full session: %d %s", code, body)
		}
		code, list := x.callJSON("GET", pub+"/me/reservations", "", "", "Cookie", cookie)
		up, _ := list["upcoming"].([]any)
		if code != 200 || len(up) != 1 || idOf(up[0].(map[string]any)) != idOf(r1) {
			t.Fatalf("my reservations after the failed move: %d %v", code, list)
		}
		// Per-member limit: 2 a month.
		if code, _ := book(s3); code != 201 {
			t.Fatalf("second booking: %d", code)
		}
		if code, body := x.call("POST", "/api/v1/public/yoga-members/reservations", "",
			fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":1}`, menu, session("15:00")), "Cookie", cookie); code != 409 || !strings.Contains(body, "member_limit_reached") {
			t.Fatalf("third booking: %d %s", code, body)
		}
		if code, _ := x.call("GET", pub+"/me/reservations", "", ""); code != 401 {
			t.Fatalf("without a session: %d", code)
		}
		// The my page lists it with a cancel button.
		w := x.serve("GET", "/t/yoga-members/mypage", "", "", "Cookie", cookie)
		if w.Code != 200 || !strings.Contains(w.Body.String(), idOf(r1)+"/cancel") || !strings.Contains(w.Body.String(), "朝ヨガ") {
			t.Fatalf("my page: %d %s", w.Code, w.Body.String())
		}
		// Waitlist: the member joins s2 (full), the guest cancels, the
		// member accepts the held seat.
		code, wl := x.callJSON("POST", pub+"/slots/"+s2+"/waitlist", "", "", "Cookie", cookie)
		if code != 201 || wl["status"] != "waiting" || wl["position"] != float64(1) {
			t.Fatalf("join: %d %v", code, wl)
		}
		if code, body := x.call("POST", pub+"/slots/"+menu+"/waitlist", "", `{"customer":{"name":"a","email":"a@example.jp"}}`); code != 400 && code != 404 {
			t.Fatalf("menu id as a session: %d %s", code, body)
		}
		code, staff := x.callJSON("GET", "/api/v1/slots/"+s2+"/waitlist", admin, "")
		if items, _ := staff["items"].([]any); code != 200 || len(items) != 1 {
			t.Fatalf("staff list: %d %v", code, staff)
		}
		// The member cancels r1 (under the limit again); the guest's
		// cancellation holds s2's seat for the member, who accepts it.
		if code, body := x.call("POST", pub+"/me/reservations/"+idOf(r1)+"/cancel", "", "", "Cookie", cookie); code != 200 {
			t.Fatalf("member cancel: %d %s", code, body)
		}
		if code, body := x.call("POST", pub+"/me/reservations/"+idOf(r1)+"/cancel", "", "", "Cookie", cookie); code != 409 {
			t.Fatalf("cancel twice: %d %s", code, body)
		}
		x.must(200, "POST", "/api/v1/reservations/"+idOf(guestR)+"/cancel", admin, "")
		code, got := x.callJSON("POST", pub+"/waitlist/"+idOf(wl)+"/accept", "", "", "Cookie", cookie)
		if code != 201 || got["slot_id"] != s2 || got["status"] != "confirmed" {
			t.Fatalf("accept: %d %v", code, got)
		}
		if code, body := x.call("POST", pub+"/reservations", "", fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":1,
			"customer":{"name":"佐藤 一郎","email":"ichiro@example.jp"}}`, menu, s2)); code != 409 {
			t.Fatalf("s2 after accept: %d %s", code, body)
		}
	})
}

func tokyoZone(t *testing.T) *time.Location {
	t.Helper()
	z, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return z
}
