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

// The member cookie is scoped to /t/{tenant}/, so the member's JSON
// endpoints are served under /t/{tenant}/api/me/... too, where a browser
// sends it; writes there need X-Requested-With (the CSRF guard). SQLite.
func TestMemberAPIUnderSite(t *testing.T) {
	loc := dbtest.NewLocation(t, dbx.SQLite)
	x := newAPIServer(t, appWith(t, loc, map[string]string{"rate-public-address-write": "off", "rate-public-address-read": "off",
		"rate-public-tenant-write": "off", "rate-public-tenant-read": "off"})).tenant(tenants.CreateParams{Slug: "yoga-me", Name: "ヨガ教室", TimeZone: "Asia/Tokyo",
		Options: []string{"api"}})
	admin := x.key("admin")
	menu := idOf(x.must(201, "POST", "/api/v1/menus", admin, `{"name":"朝ヨガ","duration_minutes":60,"capacity":3,
		"booking_mode":"timetable","price":2000,"visibility":"public","rules":{"opens_days_before":30,"cancel_deadline_minutes":60}}`))
	day := time.Now().In(tokyoZone(t)).AddDate(0, 0, 10).Format("2006-01-02")
	out := x.must(201, "POST", "/api/v1/slots", admin, fmt.Sprintf(`{"menu_id":%q,"starts_at":"%sT09:00"}`, menu, day))
	slot := idOf(out["slots"].([]any)[0].(map[string]any))
	var token string
	x.inDB(func(db bun.IDB) error {
		ctx := context.Background()
		_, err := x.a.members.Create(ctx, db, "yoga-me", members.CreateInput{Email: "hanako@example.jp",
			Password: "correct horse battery", Profile: members.ProfileInput{FamilyName: "山田", GivenName: "花子",
				FamilyKana: "ヤマダ", GivenKana: "ハナコ", Phone: "090-1234-5678"}}, "")
		if err != nil {
			return err
		}
		token, _, err = x.a.members.Login(ctx, db, "hanako@example.jp", "correct horse battery", "192.0.2.1", "test")
		return err
	})
	cookie := "yoyaku_member=" + token
	var list map[string]any
	code, r := x.callJSON("POST", "/api/v1/public/yoga-me/reservations", "", fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":1}`, menu, slot),
		"Cookie", cookie)
	if code != 201 {
		t.Fatalf("book: %d %v", code, r)
	}
	code, list = x.callJSON("GET", "/t/yoga-me/api/me/reservations", "", "", "Cookie", cookie)
	if up, _ := list["upcoming"].([]any); code != 200 || len(up) != 1 {
		t.Fatalf("list under the site: %d %v", code, list)
	}
	if code, _ := x.call("GET", "/t/yoga-me/api/me/reservations", "", ""); code != 401 {
		t.Fatalf("without the cookie: %d", code)
	}
	cancel := "/t/yoga-me/api/me/reservations/" + idOf(r) + "/cancel"
	if code, body := x.call("POST", cancel, "", "", "Cookie", cookie); code != 403 || !strings.Contains(body, "member_csrf_invalid") {
		t.Fatalf("cancel without X-Requested-With: %d %s", code, body)
	}
	if code, body := x.call("POST", cancel, "", "", "Cookie", cookie, "X-Requested-With", "fetch"); code != 200 {
		t.Fatalf("cancel: %d %s", code, body)
	}
}
