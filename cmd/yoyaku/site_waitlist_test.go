package main

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// On the booking site a full session's day view offers 「キャンセル待ちに
// 登録」: a guest joins with a name and an e-mail address (a bad address
// is asked again, the name kept), a signed-in member with one click; a
// second join is refused calmly. SQLite.
func TestSiteWaitlistJoin(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		if loc.Engine != dbx.SQLite {
			t.Skip("the engine paths are covered by the waitlist tests")
		}
		x := newAPIServer(t, appWith(t, loc, map[string]string{"rate-public-address-write": "off", "rate-public-address-read": "off",
			"rate-public-tenant-write": "off", "rate-public-tenant-read": "off"})).tenant(tenants.CreateParams{Slug: "yoga-wait", Name: "ヨガ教室", TimeZone: "Asia/Tokyo",
			Options: []string{"api"}})
		admin := x.key("admin")
		menu := idOf(x.must(201, "POST", "/api/v1/menus", admin, `{"name":"朝ヨガ","duration_minutes":60,"capacity":1,
			"booking_mode":"timetable","price":2000,"visibility":"public","rules":{"opens_days_before":30}}`))
		day := time.Now().In(tokyoZone(t)).AddDate(0, 0, 10).Format("2006-01-02")
		out := x.must(201, "POST", "/api/v1/slots", admin, fmt.Sprintf(`{"menu_id":%q,"starts_at":"%sT09:00"}`, menu, day))
		slot := idOf(out["slots"].([]any)[0].(map[string]any))
		x.must(201, "POST", "/api/v1/public/yoga-wait/reservations", "", fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":1,
			"customer":{"name":"佐藤 一郎","email":"ichiro@example.jp"}}`, menu, slot))

		w := x.serve("GET", "/t/yoga-wait/book/"+menu+"?date="+day, "", "")
		href := "/t/yoga-wait/book/" + menu + "/waitlist?slot=" + slot
		if w.Code != 200 || !strings.Contains(w.Body.String(), "満席") || !strings.Contains(w.Body.String(), href) ||
			!strings.Contains(w.Body.String(), "キャンセル待ちに登録") {
			t.Fatalf("day view: %d\n%s", w.Code, w.Body.String())
		}
		w = x.serve("GET", href, "", "")
		csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(w.Body.String())
		if w.Code != 200 || csrf == nil || !strings.Contains(w.Body.String(), "メールアドレス") {
			t.Fatalf("waitlist page: %d\n%s", w.Code, w.Body.String())
		}
		cookie := ""
		for _, c := range w.Result().Cookies() {
			if c.Name == "yoyaku_book_csrf" {
				cookie = c.Name + "=" + c.Value
			}
		}
		post := func(form url.Values, extra string) (int, string) {
			form.Set("csrf_token", csrf[1])
			form.Set("slot", slot)
			c := cookie
			if extra != "" {
				c += "; " + extra
			}
			w := x.serve("POST", "/t/yoga-wait/book/"+menu+"/waitlist", "", form.Encode(),
				"Content-Type", "application/x-www-form-urlencoded", "Cookie", c)
			return w.Code, w.Body.String()
		}
		if code, body := post(url.Values{"name": {"待機 花子"}, "email": {"not-an-address"}}, ""); code != 422 ||
			!strings.Contains(body, "name@example.jp") || !strings.Contains(body, `value="待機 花子"`) {
			t.Fatalf("bad address: %d\n%s", code, body)
		}
		if code, body := post(url.Values{"name": {"待機 花子"}, "email": {"hanako@example.jp"}}, ""); code != 201 ||
			!strings.Contains(body, "1番目") {
			t.Fatalf("guest join: %d\n%s", code, body)
		}
		if code, body := post(url.Values{"name": {"待機 花子"}, "email": {"hanako@example.jp"}}, ""); code != 409 ||
			!strings.Contains(body, "登録済み") {
			t.Fatalf("join twice: %d\n%s", code, body)
		}
		var token string
		x.inDB(func(db bun.IDB) error {
			ctx := context.Background()
			_, err := x.a.members.Create(ctx, db, "yoga-wait", members.CreateInput{Email: "jiro@example.jp",
				Password: "correct horse battery", Profile: members.ProfileInput{FamilyName: "鈴木", GivenName: "次郎",
					FamilyKana: "スズキ", GivenKana: "ジロウ", Phone: "090-1234-5678"}}, "")
			if err != nil {
				return err
			}
			token, _, err = x.a.members.Login(ctx, db, "jiro@example.jp", "correct horse battery", "192.0.2.1", "test")
			return err
		})
		w = x.serve("GET", href, "", "", "Cookie", "yoyaku_member="+token)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "鈴木 次郎 様として登録します") || strings.Contains(w.Body.String(), `name="email"`) {
			t.Fatalf("member's waitlist page: %d\n%s", w.Code, w.Body.String())
		}
		if code, body := post(url.Values{}, "yoyaku_member="+token); code != 201 || !strings.Contains(body, "2番目") {
			t.Fatalf("member join: %d\n%s", code, body)
		}
		list := x.must(200, "GET", "/api/v1/slots/"+slot+"/waitlist", admin, "")
		if items, _ := list["items"].([]any); len(items) != 2 {
			t.Fatalf("staff list: %v", list)
		}
	})
}
