package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// menusAPI is a real handler with a tenant and keys of three roles.
type menusAPI struct {
	*apiTenant
	admin, staff, view string
}

func newMenusAPI(t *testing.T, loc dbx.Location) *menusAPI {
	t.Helper()
	x := newAPITenant(t, loc, tenants.CreateParams{Slug: "salon-menus", Name: "Salon Menus",
		Options: []string{"api", "audit_log"}, OwnerEmail: "owner@salon-menus.example.jp"})
	return &menusAPI{apiTenant: x, admin: x.key("admin"), staff: x.key("staff"), view: x.key("viewer")}
}

func fieldCodes(body map[string]any) []string {
	var out []string
	errs, _ := body["errors"].([]any)
	for _, e := range errs {
		f, _ := e.(map[string]any)
		out = append(out, fmt.Sprint(f["field"], ":", f["code"]))
	}
	return out
}

func items(body map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := body["items"].([]any)
	for _, x := range list {
		out = append(out, x.(map[string]any))
	}
	return out
}

// The catalog through the tenant API: categories, providers, resources
// and menus created, read, changed, listed by page and deleted; every
// change in the operation log; an Idempotency-Key replays a creation.
func TestMenusAPICatalogRoundTrip(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		api := newMenusAPI(t, loc)
		cat := api.must(201, "POST", "/api/v1/categories", api.admin, `{"name":"ヘア","name_en":"Hair","position":1}`)
		sato := api.must(201, "POST", "/api/v1/providers", api.admin, `{"name":"佐藤"}`)
		if sato["active"] != true || sato["staff_id"] != nil {
			t.Fatalf("provider defaults: %v", sato)
		}
		room := api.must(201, "POST", "/api/v1/resources", api.admin, `{"name":"個室","quantity":2}`)

		body := fmt.Sprintf(`{"name":"カット","duration_minutes":60,"capacity":1,"booking_mode":"hours","price":5500,"approval_required":true,
			"category_id":%q,"options":[{"name":"トリートメント","price":2200,"extra_minutes":30}],
			"questions":[{"kind":"single_choice","label":"初めてですか","choices":["はい","いいえ"],"requirement":"required"}],
			"provider_ids":[%q],"resources":[{"resource_id":%q,"quantity":1}],
			"rules":{"opens_days_before":30,"closes_minutes_before":60,"max_per_member":1,"max_per_member_period":"week"}}`,
			cat["id"], sato["id"], room["id"])
		code, menu := api.callJSON("POST", "/api/v1/menus", api.admin, body, "Idempotency-Key", "menu-create-1")
		if code != 201 {
			t.Fatalf("create menu: %d %v", code, menu)
		}
		if code, again := api.callJSON("POST", "/api/v1/menus", api.admin, body, "Idempotency-Key", "menu-create-1"); code != 201 || again["id"] != menu["id"] {
			t.Fatalf("replayed creation: %d %v, want the same menu %v", code, again["id"], menu["id"])
		}
		id := menu["id"].(string)
		got := api.must(200, "GET", "/api/v1/menus/"+id, api.view, "")
		if got["name"] != "カット" || got["visibility"] != "public" || got["party_max"] != 1.0 || got["category_id"] != cat["id"] ||
			len(got["options"].([]any)) != 1 || len(got["questions"].([]any)) != 1 || got["approval_required"] != true {
			t.Fatalf("menu read back: %v", got)
		}
		if r := got["effective_rules"].(map[string]any); r["max_per_member_period"] != "week" || r["opens_days_before"] != 30.0 {
			t.Fatalf("effective rules: %v", r)
		}

		// PATCH changes what it names; rules null returns to the defaults.
		up := api.must(200, "PATCH", "/api/v1/menus/"+id, api.admin, `{"name":"カット（ショート）","rules":null,"price":6600}`)
		if up["name"] != "カット（ショート）" || up["rules"] != nil || up["price"] != 6600.0 || up["duration_minutes"] != 60.0 ||
			len(up["options"].([]any)) != 1 {
			t.Fatalf("after PATCH: %v", up)
		}
		api.must(200, "PUT", "/api/v1/booking-rules", api.admin, `{"opens_days_before":14,"closes_in_business_days":true,"closes_business_days":1}`)
		if r := api.must(200, "GET", "/api/v1/menus/"+id, api.view, "")["effective_rules"].(map[string]any); r["opens_days_before"] != 14.0 || r["closes_in_business_days"] != true {
			t.Fatalf("effective rules after the tenant's defaults changed: %v", r)
		}

		// Paged lists.
		for _, n := range []string{"眉カット", "ヘッドスパ"} {
			api.must(201, "POST", "/api/v1/menus", api.admin, `{"name":"`+n+`","duration_minutes":30,"capacity":1,"booking_mode":"hours","price":1100,"approval_required":false,"position":5}`)
		}
		first := api.must(200, "GET", "/api/v1/menus?limit=2", api.view, "")
		next, _ := first["next_cursor"].(string)
		if len(items(first)) != 2 || next == "" {
			t.Fatalf("first page: %v", first)
		}
		second := api.must(200, "GET", "/api/v1/menus?limit=2&cursor="+next, api.view, "")
		if len(items(second)) != 1 || second["next_cursor"] != nil {
			t.Fatalf("second page: %v", second)
		}
		if code, body := api.callJSON("GET", "/api/v1/menus?limit=1000", api.view, ""); code != 400 || !slices.Contains(fieldCodes(body), "limit:range") {
			t.Fatalf("limit 1000: %d %v", code, body)
		}

		// Categories, providers, resources: read, change, list.
		api.must(200, "PATCH", "/api/v1/categories/"+cat["id"].(string), api.admin, `{"name_en":"Hair & Spa"}`)
		if c := api.must(200, "GET", "/api/v1/categories/"+cat["id"].(string), api.view, ""); c["name_en"] != "Hair & Spa" || c["name"] != "ヘア" {
			t.Fatalf("category: %v", c)
		}
		api.must(200, "PATCH", "/api/v1/providers/"+sato["id"].(string), api.admin, `{"active":false}`)
		if ps := items(api.must(200, "GET", "/api/v1/providers", api.view, "")); len(ps) != 1 || ps[0]["active"] != false {
			t.Fatalf("providers: %v", ps)
		}
		if code, body := api.callJSON("PATCH", "/api/v1/resources/"+room["id"].(string), api.admin, `{"quantity":0}`); code != 400 || !slices.Contains(fieldCodes(body), "quantity:range") {
			t.Fatalf("resource quantity 0: %d %v", code, body)
		}
		if rs := items(api.must(200, "GET", "/api/v1/resources", api.view, "")); len(rs) != 1 || rs[0]["quantity"] != 2.0 {
			t.Fatalf("resources: %v", rs)
		}

		// A provider or resource in use is kept (409), free once the menu goes.
		for _, p := range []string{"/api/v1/providers/" + sato["id"].(string), "/api/v1/resources/" + room["id"].(string)} {
			code, body := api.callJSON("DELETE", p, api.admin, "")
			if code != 409 || !strings.HasSuffix(body["code"].(string), "_in_use") {
				t.Fatalf("DELETE %s in use: %d %v", p, code, body)
			}
		}
		if code, _ := api.callJSON("DELETE", "/api/v1/menus/"+id, api.admin, ""); code != 204 {
			t.Fatalf("archive menu: %d", code)
		}
		if a := api.must(200, "GET", "/api/v1/menus/"+id, api.view, ""); a["archived"] != true {
			t.Fatalf("archived menu: %v", a)
		}
		if n := len(items(api.must(200, "GET", "/api/v1/menus", api.view, ""))); n != 2 {
			t.Fatalf("%d menus listed after archiving, want 2", n)
		}
		if n := len(items(api.must(200, "GET", "/api/v1/menus?include_archived=true", api.view, ""))); n != 3 {
			t.Fatalf("%d menus with the archived, want 3", n)
		}
		for _, p := range []string{"/api/v1/providers/" + sato["id"].(string), "/api/v1/resources/" + room["id"].(string), "/api/v1/categories/" + cat["id"].(string)} {
			if code, body := api.callJSON("DELETE", p, api.admin, ""); code != 204 {
				t.Fatalf("DELETE %s: %d %v", p, code, body)
			}
			if code, _ := api.callJSON("GET", p, api.view, ""); code != 404 {
				t.Fatalf("GET %s after deletion: %d", p, code)
			}
		}
		if code, body := api.callJSON("GET", "/api/v1/menus/0123abcd", api.view, ""); code != 404 || body["code"] != "menu_not_found" {
			t.Fatalf("unknown menu: %d %v", code, body)
		}

		// Every change is in the operation log, with what changed.
		for action, want := range map[string]int{"menu.create": 3, "menu.update": 1, "menu.archive": 1, "category.create": 1,
			"category.update": 1, "category.delete": 1, "provider.create": 1, "provider.update": 1, "provider.delete": 1,
			"resource.create": 1, "resource.delete": 1, "booking_rules.update": 1} {
			log := api.must(200, "GET", "/api/v1/audit?action="+action, api.admin, "")
			if n := len(items(log)); n != want {
				t.Errorf("%d %s entries, want %d", n, action, want)
			}
		}
		upd := items(api.must(200, "GET", "/api/v1/audit?action=menu.update", api.admin, ""))[0]
		var fields []string
		for _, ch := range upd["changes"].([]any) {
			fields = append(fields, ch.(map[string]any)["field"].(string))
		}
		if !slices.Equal(fields, []string{"name", "price", "rules"}) {
			t.Errorf("menu.update logged %v, want name, price, rules", fields)
		}
	})
}

// Bad input is refused field by field with nothing changed; a role
// without menus edit is refused every write.
func TestMenusAPIRefusals(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		api := newMenusAPI(t, loc)
		ok := map[string]any{"name": "カット", "duration_minutes": 60, "capacity": 2, "booking_mode": "hours", "price": 5500, "approval_required": false}
		with := func(kv ...any) string {
			m := map[string]any{}
			for k, v := range ok {
				m[k] = v
			}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			b, _ := json.Marshal(m)
			return string(b)
		}
		tests := []struct {
			name, body string
			want       string // field:code
		}{
			{"zero duration", with("duration_minutes", 0), "duration_minutes:range"},
			{"negative duration", with("duration_minutes", -60), "duration_minutes:range"},
			{"duration step", with("duration_minutes", 61), "duration_minutes:catalog_step"},
			{"zero capacity", with("capacity", 0), "capacity:range"},
			{"negative capacity", with("capacity", -3), "capacity:range"},
			{"negative price", with("price", -100), "price:range"},
			{"party min over max", with("party_min", 2, "party_max", 1), "party_max:range"},
			{"unknown booking mode", with("booking_mode", "lottery"), "booking_mode:oneof"},
			{"missing name", with("name", ""), "name:required"},
			{"choice question without choices", with("questions", []any{map[string]any{"kind": "single_choice", "label": "色"}}), "questions[0].choices:min_items"},
			{"unknown provider", with("provider_ids", []any{"0123456789abcdef0123456789abcdef"}), "provider_ids[0]:catalog_unknown_reference"},
			{"unknown resource", with("resources", []any{map[string]any{"resource_id": "0123456789abcdef0123456789abcdef", "quantity": 1}}), "resources[0].resource_id:catalog_unknown_reference"},
			{"negative option minutes", with("options", []any{map[string]any{"name": "延長", "extra_minutes": -10}}), "options[0].extra_minutes:range"},
			{"bad rules", with("rules", map[string]any{"max_per_member_period": "year"}), "rules.max_per_member_period:oneof"},
			{"unknown field", with("colour", "red"), "colour:unknown_field"},
			{"wrong type", with("capacity", "two"), "capacity:type"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, body := api.callJSON("POST", "/api/v1/menus", api.admin, tt.body, "Accept-Language", "en")
				if code != 400 || body["code"] != "validation" || !slices.Contains(fieldCodes(body), tt.want) {
					t.Fatalf("%d %v, want 400 with %s", code, body, tt.want)
				}
				for _, e := range body["errors"].([]any) {
					if msg, _ := e.(map[string]any)["message"].(string); msg == "" || strings.HasPrefix(msg, "field.") {
						t.Errorf("field error without a message: %v", e)
					}
				}
			})
		}
		if n := len(items(api.must(200, "GET", "/api/v1/menus?include_archived=true", api.admin, ""))); n != 0 {
			t.Fatalf("refused menus were stored: %d", n)
		}
		if n := len(items(api.must(200, "GET", "/api/v1/audit?action=menu.", api.admin, ""))); n != 0 {
			t.Fatalf("refused menus were logged: %d", n)
		}

		// A Japanese client reads Japanese messages.
		_, body := api.callJSON("POST", "/api/v1/menus", api.admin, with("duration_minutes", 62))
		if errs := body["errors"].([]any); !strings.Contains(errs[0].(map[string]any)["message"].(string), "5分単位") {
			t.Errorf("Japanese message: %v", errs)
		}

		// A change with bad input changes nothing.
		m := api.must(201, "POST", "/api/v1/menus", api.admin, with())
		code, body := api.callJSON("PATCH", "/api/v1/menus/"+m["id"].(string), api.admin, `{"capacity":0,"name":"変更"}`)
		if code != 400 || !slices.Contains(fieldCodes(body), "capacity:range") {
			t.Fatalf("bad PATCH: %d %v", code, body)
		}
		if got := api.must(200, "GET", "/api/v1/menus/"+m["id"].(string), api.view, ""); got["name"] != "カット" || got["capacity"] != 2.0 {
			t.Fatalf("a refused PATCH changed the menu: %v", got)
		}

		// staff and viewer roles may view menus, not edit them.
		for _, key := range []string{api.staff, api.view} {
			api.must(200, "GET", "/api/v1/menus", key, "")
			for _, w := range []struct{ method, path, body string }{
				{"POST", "/api/v1/menus", with()},
				{"PATCH", "/api/v1/menus/" + m["id"].(string), `{"name":"x"}`},
				{"DELETE", "/api/v1/menus/" + m["id"].(string), ""},
				{"POST", "/api/v1/providers", `{"name":"x"}`},
				{"POST", "/api/v1/categories", `{"name":"x"}`},
				{"PUT", "/api/v1/booking-rules", `{}`},
			} {
				if code, body := api.callJSON(w.method, w.path, key, w.body); code != 403 || body["code"] != "permission_denied" {
					t.Errorf("%s %s without menus edit: %d %v", w.method, w.path, code, body)
				}
			}
		}
		if got := api.must(200, "GET", "/api/v1/menus/"+m["id"].(string), api.view, ""); got["archived"] != false || got["name"] != "カット" {
			t.Fatalf("a refused write changed the menu: %v", got)
		}
	})
}

// The public catalog lists public menus with their options and public
// questions, members-only menus as a badge, and nothing private.
func TestMenusAPIPublicCatalog(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		api := newMenusAPI(t, loc)
		cat := api.must(201, "POST", "/api/v1/categories", api.admin, `{"name":"ヨガ"}`)
		p := api.must(201, "POST", "/api/v1/providers", api.admin, `{"name":"田中"}`)
		off := api.must(201, "POST", "/api/v1/providers", api.admin, `{"name":"休職中","active":false}`)
		api.must(201, "POST", "/api/v1/menus", api.admin, fmt.Sprintf(`{"name":"朝ヨガ","description":"初心者歓迎","duration_minutes":60,
			"capacity":12,"booking_mode":"timetable","price":2000,"approval_required":false,"category_id":%q,"provider_ids":[%q,%q],
			"options":[{"name":"マット貸出","price":300}],
			"questions":[{"kind":"text","label":"ヨガ歴","requirement":"optional"},{"kind":"long_text","label":"内部メモ","requirement":"staff_only"}]}`,
			cat["id"], p["id"], off["id"]))
		api.must(201, "POST", "/api/v1/menus", api.admin, `{"name":"会員限定ヨガ","description":"秘密の説明","duration_minutes":90,"capacity":8,
			"booking_mode":"event","price":0,"approval_required":true,"visibility":"members"}`)
		api.must(201, "POST", "/api/v1/menus", api.admin, `{"name":"非公開メニュー","duration_minutes":30,"capacity":1,
			"booking_mode":"hours","price":0,"approval_required":false,"visibility":"private"}`)
		gone := api.must(201, "POST", "/api/v1/menus", api.admin, `{"name":"終了したメニュー","duration_minutes":30,"capacity":1,
			"booking_mode":"hours","price":0,"approval_required":false}`)
		api.must(204, "DELETE", "/api/v1/menus/"+gone["id"].(string), api.admin, "")

		code, raw := api.call("GET", "/api/v1/public/"+api.tn.Slug+"/menus", "", "")
		if code != 200 {
			t.Fatalf("public menus: %d %s", code, raw)
		}
		for _, secret := range []string{"非公開メニュー", "終了したメニュー", "内部メモ", "秘密の説明", "休職中", "staff_only"} {
			if strings.Contains(raw, secret) {
				t.Errorf("the public catalog shows %q:\n%s", secret, raw)
			}
		}
		var out struct {
			Categories []map[string]any `json:"categories"`
			Menus      []map[string]any `json:"menus"`
		}
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Categories) != 1 || len(out.Menus) != 2 {
			t.Fatalf("public catalog: %s", raw)
		}
		yoga, members := out.Menus[0], out.Menus[1]
		if yoga["name"] != "朝ヨガ" || yoga["members_only"] != false || yoga["price"] != 2000.0 || len(yoga["options"].([]any)) != 1 ||
			len(yoga["questions"].([]any)) != 1 || len(yoga["providers"].([]any)) != 1 || yoga["category_id"] != cat["id"] {
			t.Errorf("public menu: %v", yoga)
		}
		if members["name"] != "会員限定ヨガ" || members["members_only"] != true || members["price"] != nil || members["duration_minutes"] != nil {
			t.Errorf("members-only menu shows more than its badge: %v", members)
		}
		if code, _ := api.callJSON("GET", "/api/v1/public/no-such-tenant/menus", "", ""); code != 404 {
			t.Errorf("unknown tenant: %d", code)
		}
	})
}
