package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Members through the tenant API: staff create (no mail), read, search by
// every field, change, withdraw; a duplicate address is 409; field errors
// in Japanese and English; a viewer key may read but not write (403);
// attribute definitions with required and staff-only values.
func TestMembersAPI(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		api := newAPITenant(t, loc, tenants.CreateParams{Slug: "member-shop", Name: "会員ショップ",
			Options: []string{"api", "audit_log"}, OwnerEmail: "owner@member-shop.example.jp"})
		admin, viewer := api.key("admin"), api.key("viewer")

		attr := api.must(201, "POST", "/api/v1/member-attributes", admin,
			`{"label_ja":"会員種別","kind":"choice","requirement":"required","choices":["一般","学生"]}`)
		memo := api.must(201, "POST", "/api/v1/member-attributes", admin, `{"label_ja":"メモ","kind":"text","requirement":"staff_only"}`)
		if code, _ := api.callJSON("POST", "/api/v1/member-attributes", viewer, `{"label_ja":"x","kind":"text","requirement":"optional"}`); code != 403 {
			t.Fatalf("viewer defines an attribute: %d", code)
		}

		hanako := api.must(201, "POST", "/api/v1/members", admin, fmt.Sprintf(`{"email":"Hanako@Example.jp","family_name":"山田","given_name":"花子",
			"family_kana":"ﾔﾏﾀﾞ","given_kana":"はなこ","phone":"090-1234-5678","postal_code":"1500001","prefecture":13,
			"address1":"渋谷区神宮前1-2-3","attributes":{%q:"学生",%q:"常連"}}`, attr["id"], memo["id"]))
		if hanako["number"] != "M0000001" || hanako["status"] != "active" || hanako["email"] != "hanako@example.jp" ||
			hanako["family_kana"] != "ヤマダ" || hanako["given_kana"] != "ハナコ" || hanako["postal_code"] != "150-0001" ||
			hanako["prefecture"] != 13.0 || hanako["prefecture_name"] != "東京都" {
			t.Fatalf("created %v", hanako)
		}
		id := hanako["id"].(string)
		taro := api.must(201, "POST", "/api/v1/members", admin, `{"email":"taro@example.jp","family_name":"佐藤","given_name":"太郎",
			"family_kana":"サトウ","given_kana":"タロウ","phone":"03-1111-2222","prefecture":"大阪"}`)
		if taro["number"] != "M0000002" || taro["prefecture"] != 27.0 {
			t.Fatalf("second member %v", taro)
		}
		// Staff creation sends no mail unless asked.
		var events int
		api.inDB(func(db bun.IDB) error {
			n, err := db.NewSelect().Table("outbox").Where("event_type = ?", "member.verify").Count(t.Context())
			events = int(n)
			return err
		})
		if events != 0 {
			t.Errorf("%d verification events for staff-made members", events)
		}

		// Duplicate address: 409 with its code.
		code, dup := api.callJSON("POST", "/api/v1/members", admin, `{"email":"HANAKO@example.jp","family_name":"山田","given_name":"次郎","family_kana":"ヤマダ","given_kana":"ジロウ"}`)
		if code != 409 || dup["code"] != "member_email_taken" {
			t.Fatalf("duplicate e-mail: %d %v", code, dup)
		}
		// Field errors, in Japanese by default and in English when asked.
		bad := `{"email":"x@example.jp","family_name":"山田","given_name":"花子","family_kana":"山田","given_kana":"ハナコ","postal_code":"12-345","prefecture":"48","phone":"12"}`
		code, prob := api.callJSON("POST", "/api/v1/members", admin, bad)
		if code != 400 || !slices.Equal(fieldCodes(prob), []string{"family_kana:kana", "phone:phone", "postal_code:postal_code", "prefecture:prefecture"}) {
			t.Fatalf("bad profile: %d %v", code, fieldCodes(prob))
		}
		if msg := prob["errors"].([]any)[0].(map[string]any)["message"]; msg != "全角カタカナで入力してください" {
			t.Errorf("kana message %q", msg)
		}
		code, prob = api.callJSON("POST", "/api/v1/members", admin, bad, "Accept-Language", "en")
		if msg := prob["errors"].([]any)[0].(map[string]any)["message"]; code != 400 || !strings.Contains(msg.(string), "katakana") {
			t.Errorf("English kana message %q", msg)
		}

		// Search by each field (the viewer may read).
		search := func(q string) []string {
			t.Helper()
			body := api.must(200, "GET", "/api/v1/members?q="+q, viewer, "")
			var out []string
			for _, m := range items(body) {
				out = append(out, m["number"].(string))
			}
			return out
		}
		for q, want := range map[string][]string{
			"%E5%B1%B1%E7%94%B0":          {"M0000001"}, // 山田
			"%EF%BD%BB%EF%BE%84%EF%BD%B3": {"M0000002"}, // ｻﾄｳ
			"%E3%81%AF%E3%81%AA%E3%81%93": {"M0000001"}, // はなこ
			"TARO%40":                     {"M0000002"},
			"0312":                        nil,
			"03-1111":                     {"M0000002"},
			"09012345678":                 {"M0000001"},
			"m0000001":                    {"M0000001"},
			"example.jp":                  {"M0000001", "M0000002"},
		} {
			if got := search(q); !slices.Equal(got, want) {
				t.Errorf("search %q: %v, want %v", q, got, want)
			}
		}
		if body := api.must(200, "GET", "/api/v1/members?limit=1", viewer, ""); body["next_cursor"] != "M0000001" || len(items(body)) != 1 {
			t.Errorf("first page %v", body)
		}

		// Viewer: no writes.
		for _, c := range [][3]string{{"POST", "/api/v1/members", `{"email":"v@example.jp"}`}, {"PATCH", "/api/v1/members/" + id, `{"phone":"0311112222"}`},
			{"DELETE", "/api/v1/members/" + id, ""}} {
			if code, body := api.callJSON(c[0], c[1], viewer, c[2]); code != 403 || body["code"] != "permission_denied" {
				t.Errorf("viewer %s %s: %d %v", c[0], c[1], code, body)
			}
		}

		// Change, then withdraw (audited, anonymised, number kept).
		got := api.must(200, "PATCH", "/api/v1/members/"+id, admin, `{"postal_code":"100-0001","status":"disabled"}`)
		if got["postal_code"] != "100-0001" || got["status"] != "disabled" || got["family_name"] != "山田" {
			t.Fatalf("patched %v", got)
		}
		w := api.must(200, "DELETE", "/api/v1/members/"+id, admin, "")
		if w["status"] != "withdrawn" || w["number"] != "M0000001" || w["email"] != "" || w["family_name"] != "" || len(w["attributes"].(map[string]any)) != 0 {
			t.Fatalf("withdrawn %v", w)
		}
		if code, body := api.callJSON("DELETE", "/api/v1/members/"+id, admin, ""); code != 409 || body["code"] != "member_withdrawn" {
			t.Errorf("second withdrawal %d %v", code, body)
		}
		audit := api.must(200, "GET", "/api/v1/audit?object=member:"+id, admin, "")
		var actions []string
		for _, e := range items(audit) {
			actions = append(actions, e["action"].(string))
			if s := fmt.Sprint(e["changes"]); strings.Contains(s, "山田") || strings.Contains(s, "hanako") {
				t.Errorf("personal data in the operation log: %s", s)
			}
		}
		if !slices.Contains(actions, "member.withdraw") || !slices.Contains(actions, "member.create") || !slices.Contains(actions, "member.update") {
			t.Errorf("audit actions %v", actions)
		}
		if code, body := api.callJSON("GET", "/api/v1/members/nope", viewer, ""); code != 404 || body["code"] != "member_not_found" {
			t.Errorf("unknown member %d %v", code, body)
		}
	})
}
