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

var csrfInputRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// The my page's 日時を変更: the page lists the menu's other free sessions
// (not the full one), a move to a session that filled meanwhile is
// refused with a message and the booking kept, a free one moves it and the
// my page says so; past the change deadline the page says it can no
// longer be changed. The my page's cancel needs its confirmation box.
// Both engines.
func TestMyPageChangeAndCancelConfirmHTTP(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		x := newAPIServer(t, appWith(t, loc, map[string]string{"rate-public-address-write": "off", "rate-public-address-read": "off",
			"rate-public-tenant-write": "off", "rate-public-tenant-read": "off"})).tenant(tenants.CreateParams{Slug: "yoga-change", Name: "ヨガ教室", TimeZone: "Asia/Tokyo",
			Options: []string{"api", "audit_log"}})
		admin := x.key("admin")
		menu := idOf(x.must(201, "POST", "/api/v1/menus", admin, `{"name":"朝ヨガ","duration_minutes":60,"capacity":1,
			"booking_mode":"timetable","price":2000,"visibility":"public",
			"rules":{"opens_days_before":30,"cancel_deadline_minutes":60,"change_deadline_minutes":60}}`))
		day := time.Now().In(tokyoZone(t)).AddDate(0, 0, 5)
		session := func(hhmm string) string {
			out := x.must(201, "POST", "/api/v1/slots", admin, fmt.Sprintf(`{"menu_id":%q,"starts_at":"%sT%s"}`, menu, day.Format("2006-01-02"), hhmm))
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
			_, err := x.a.members.Create(ctx, db, "yoga-change", members.CreateInput{Email: "hanako@example.jp",
				Password: "correct horse battery", Profile: members.ProfileInput{FamilyName: "山田", GivenName: "花子",
					FamilyKana: "ヤマダ", GivenKana: "ハナコ", Phone: "090-1234-5678"}}, "")
			if err != nil {
				return err
			}
			token, _, err = x.a.members.Login(ctx, db, "hanako@example.jp", "correct horse battery", "192.0.2.1", "test")
			return err
		})
		cookie := "yoyaku_member=" + token
		pub := "/api/v1/public/yoga-change"
		code, booked := x.callJSON("POST", pub+"/reservations", "", fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":1}`, menu, s1), "Cookie", cookie)
		if code != 201 {
			t.Fatalf("member booking: %d %v", code, booked)
		}
		r1 := idOf(booked)
		slotOf := func() string {
			return x.must(200, "GET", "/api/v1/reservations/"+r1, admin, "")["slot_id"].(string)
		}
		page := func(path string) string {
			w := x.serve("GET", path, "", "", "Cookie", cookie, "Accept-Language", "ja")
			if w.Code != 200 {
				t.Fatalf("GET %s: %d %s", path, w.Code, w.Body.String())
			}
			return w.Body.String()
		}
		post := func(path string, form url.Values) (int, string, string) {
			w := x.serve("POST", path, "", form.Encode(), "Cookie", cookie, "Accept-Language", "ja",
				"Content-Type", "application/x-www-form-urlencoded")
			return w.Code, w.Header().Get("Location"), w.Body.String()
		}
		my := page("/t/yoga-change/mypage")
		change := "/t/yoga-change/my/reservations/" + r1 + "/change"
		if !strings.Contains(my, `href="`+change+`"`) || !strings.Contains(my, "日時を変更") || !strings.Contains(my, `name="confirm"`) {
			t.Fatalf("my page without the change link or the confirm box: %s", my)
		}
		m := csrfInputRE.FindStringSubmatch(my)
		if m == nil {
			t.Fatal("no csrf token on the my page")
		}
		csrf := m[1]
		// The cancel button alone does nothing.
		if code, loc, _ := post("/t/yoga-change/my/reservations/"+r1+"/cancel", url.Values{"csrf_token": {csrf}}); code != 303 ||
			!strings.Contains(loc, "done=cancel_unconfirmed") {
			t.Fatalf("unconfirmed cancel: %d %s", code, loc)
		}
		if !strings.Contains(page("/t/yoga-change/mypage?done=cancel_unconfirmed"), "チェックを入れて") {
			t.Error("no message for an unconfirmed cancel")
		}

		// The page offers s2 and s3 (free), not s1 (its own).
		cp := page(change)
		if !strings.Contains(cp, `value="slot:`+s2+`"`) || !strings.Contains(cp, `value="slot:`+s3+`"`) || strings.Contains(cp, `value="slot:`+s1+`"`) {
			t.Fatalf("change page: %s", cp)
		}
		// s2 fills between viewing and submitting: refused, kept.
		x.must(201, "POST", pub+"/reservations", "", fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":1,
			"customer":{"name":"佐藤 一郎","email":"ichiro@example.jp"}}`, menu, s2))
		code, _, body := post(change, url.Values{"csrf_token": {csrf}, "to": {"slot:" + s2}})
		if code != 409 || !strings.Contains(body, "満席になりました") || strings.Contains(body, `value="slot:`+s2+`"`) {
			t.Fatalf("move to a full session: %d %s", code, body)
		}
		if got := slotOf(); got != s1 {
			t.Fatalf("after the refused move the booking is on %s, want %s", got, s1)
		}
		// Without the CSRF token: nothing moves.
		if code, loc, _ := post(change, url.Values{"to": {"slot:" + s3}}); code != 303 || !strings.Contains(loc, "done=csrf") || slotOf() != s1 {
			t.Fatalf("move without csrf: %d %s", code, loc)
		}
		code, where, _ := post(change, url.Values{"csrf_token": {csrf}, "to": {"slot:" + s3}})
		if code != 303 || where != "/t/yoga-change/mypage?done=moved#reservations" {
			t.Fatalf("move: %d %s", code, where)
		}
		if got := slotOf(); got != s3 {
			t.Fatalf("after the move the booking is on %s, want %s", got, s3)
		}
		if !strings.Contains(page("/t/yoga-change/mypage?done=moved"), "予約の日時を変更しました。") {
			t.Error("no moved message")
		}
		// Past the change deadline (now ten days before the start).
		x.must(200, "PATCH", "/api/v1/menus/"+menu, admin, `{"rules":{"change_deadline_minutes":14400}}`)
		if my := page("/t/yoga-change/mypage"); strings.Contains(my, `href="`+change+`"`) {
			t.Error("the change link stays past the deadline")
		}
		if cp := page(change); !strings.Contains(cp, "変更期限を過ぎた") || strings.Contains(cp, `name="to"`) {
			t.Fatalf("change page past the deadline: %s", cp)
		}
		code, _, body = post(change, url.Values{"csrf_token": {csrf}, "to": {"slot:" + s1}})
		if code != 409 || !strings.Contains(body, "変更期限を過ぎた") || slotOf() != s3 {
			t.Fatalf("move past the deadline: %d %s", code, body)
		}
		// Another member's (or a guest's) reservation is not found; a
		// visitor without a session is sent to log in.
		if w := x.serve("GET", change, "", ""); w.Code != 303 || !strings.Contains(w.Header().Get("Location"), "/login?next=") {
			t.Fatalf("without a session: %d %s", w.Code, w.Header().Get("Location"))
		}
	})
}
