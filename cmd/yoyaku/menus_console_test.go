package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

var (
	menuLinkRE  = regexp.MustCompile(`/t/demo/admin/menus/([0-9a-f]{32})\?done=created`)
	providerRE  = regexp.MustCompile(`<section class="catalog-item" id="providers-([0-9a-f]{32})">`)
	resourceRE  = regexp.MustCompile(`<section class="catalog-item" id="resources-([0-9a-f]{32})">`)
	categoryRE  = regexp.MustCompile(`<section class="catalog-item" id="categories-([0-9a-f]{32})">`)
	fieldErrRE  = regexp.MustCompile(`<p class="field-error" id="([^"]+)">`)
	invalidIDRE = regexp.MustCompile(`id="([^"]+)"[^>]*aria-invalid="true" aria-describedby="([^"]+)"`)
)

// mustContain fails unless body holds every want.
func mustContain(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, body)
		}
	}
}

// The owner builds a catalog in the console: a provider, a resource and a
// category; a menu refused with every error next to its field and the typed
// input kept, then saved with an option, a question, the provider, the
// resource and its own rules; edited; the provider refused deletion while
// the menu uses it; the menu archived. A staff member may look, not change.
func TestConsoleMenus(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		pw, err := os.ReadFile(filepath.Join(loc.DataDir, demoOwnerFile))
		if err != nil {
			t.Fatal(err)
		}
		admin := s.base + "/t/demo/admin"
		owner := newConsoleUser(t, admin)
		owner.login(demoOwner, strings.TrimSpace(string(pw)))

		home := owner.get("/", http.StatusOK)
		mustContain(t, "the navigation", home.body, `href="/t/demo/admin/menus"`, `href="/t/demo/admin/providers"`,
			`href="/t/demo/admin/resources"`, `href="/t/demo/admin/categories"`)

		// Providers, resources, categories: a form per row.
		redirectsTo(t, "add a provider", owner.submit("/providers", "/providers", url.Values{"name": {"佐藤 花子"}, "active": {"1"}}, http.StatusSeeOther), "/t/demo/admin/providers?done=created")
		bad := owner.submit("/resources", "/resources", url.Values{"name": {"個室"}, "quantity": {"0"}}, http.StatusBadRequest)
		mustContain(t, "a refused resource", bad.body, `id="resources-new-quantity-error"`, `value="個室"`)
		redirectsTo(t, "add a resource", owner.submit("/resources", "/resources", url.Values{"name": {"個室"}, "quantity": {"2"}, "active": {"1"}}, http.StatusSeeOther), "/t/demo/admin/resources?done=created")
		redirectsTo(t, "add a category", owner.submit("/categories", "/categories", url.Values{"name": {"ヘア"}}, http.StatusSeeOther), "/t/demo/admin/categories?done=created")
		provID := providerRE.FindStringSubmatch(owner.get("/providers", http.StatusOK).body)[1]
		resID := resourceRE.FindStringSubmatch(owner.get("/resources", http.StatusOK).body)[1]
		catID := categoryRE.FindStringSubmatch(owner.get("/categories", http.StatusOK).body)[1]

		// A menu with mistakes comes back as typed, each error by its field.
		form := url.Values{
			"name": {"カット&ブロー"}, "duration_minutes": {"62"}, "price": {"5500"}, "capacity": {"0"},
			"booking_mode": {"hours"}, "visibility": {"public"}, "category_id": {catID},
			"option_id": {"", ""}, "option_name": {"トリートメント", ""}, "option_name_en": {"", ""},
			"option_price": {"abc", ""}, "option_extra_minutes": {"30", ""},
			"question_id": {"", ""}, "question_label": {"ご希望の色", ""}, "question_label_en": {"", ""},
			"question_kind": {"single_choice", "text"}, "question_choices": {"", ""}, "question_requirement": {"required", "optional"},
			"provider_id": {provID}, "resource_id": {resID}, "resource_qty_" + resID: {"1"},
			"rules_default": {"1"},
		}
		bad = owner.submit("/menus/new", "/menus/new", form, http.StatusBadRequest)
		mustContain(t, "the refused menu", bad.body, `value="カット&amp;ブロー"`, `value="abc"`, `value="62"`, "ご希望の色",
			`id="opt-0-price-error"`, `role="alert"`)
		errIDs := map[string]bool{}
		for _, m := range fieldErrRE.FindAllStringSubmatch(bad.body, -1) {
			errIDs[m[1]] = true
		}
		for _, m := range invalidIDRE.FindAllStringSubmatch(bad.body, -1) {
			if !errIDs[m[2]] {
				t.Errorf("%s points at %s, which is not on the page", m[1], m[2])
			}
		}
		// The non-number came first; fixed, the service's own checks answer.
		form.Set("option_price", "2200")
		form["option_price"] = []string{"2200", ""}
		bad = owner.submit("/menus/new", "/menus/new", form, http.StatusBadRequest)
		mustContain(t, "the menu refused by the service", bad.body, `id="m-duration-error"`, `id="m-capacity-error"`,
			`id="q-0-choices-error"`, "5分単位", `checked> 佐藤 花子`)
		if m := menuLinkRE.FindString(owner.get("/menus", http.StatusOK).body); m != "" {
			t.Fatal("a refused menu was saved")
		}

		// Fixed, it is saved with everything.
		form.Set("duration_minutes", "60")
		form.Set("capacity", "1")
		form["question_choices"] = []string{"黒\nブラウン", ""}
		form.Del("rules_default")
		for k, v := range map[string]string{"opens_days_before": "30", "closes_minutes_before": "60", "closes_business_days": "0",
			"cancel_deadline_minutes": "1440", "change_deadline_minutes": "1440", "max_per_member": "2", "max_per_member_period": "month"} {
			form.Set(k, v)
		}
		r := owner.submit("/menus/new", "/menus/new", form, http.StatusSeeOther)
		m := menuLinkRE.FindStringSubmatch(r.header.Get("Location"))
		if m == nil {
			t.Fatalf("saved menu leads to %q", r.header.Get("Location"))
		}
		id := m[1]
		page := owner.get("/menus/"+id+"?done=created", http.StatusOK)
		mustContain(t, "the saved menu", page.body, "追加しました。", `value="カット&amp;ブロー"`, `value="トリートメント"`,
			`value="2200"`, "黒\nブラウン", `value="30"`, `name="resource_qty_`+resID+`" id="res-`+resID+`" min="0" max="2" inputmode="numeric" value="1"`)
		list := owner.get("/menus", http.StatusOK)
		mustContain(t, "the menu list", list.body, "カット&amp;ブロー", "ヘア", "60分", "5,500円")

		// Edit: rename, drop the option (its name cleared).
		edit := owner.get("/menus/"+id, http.StatusOK)
		optID := regexp.MustCompile(`name="option_id" value="([0-9a-f]{32})"`).FindStringSubmatch(edit.body)[1]
		qID := regexp.MustCompile(`name="question_id" value="([0-9a-f]{32})"`).FindStringSubmatch(edit.body)[1]
		form.Set("name", "カット")
		form["option_id"] = []string{optID, ""}
		form["option_name"] = []string{"", ""}
		form["question_id"] = []string{qID, ""}
		redirectsTo(t, "save the menu", owner.submit("/menus/"+id, "/menus/"+id, form, http.StatusSeeOther), "/t/demo/admin/menus/"+id+"?done=saved")
		page = owner.get("/menus/"+id, http.StatusOK)
		if strings.Contains(page.body, "トリートメント") || !strings.Contains(page.body, `value="カット"`) || !strings.Contains(page.body, `value="`+qID+`"`) {
			t.Fatalf("the edit was not saved as sent:\n%s", page.body)
		}

		// The provider is in use: deleting it is refused with the reason.
		inUse := owner.submit("/providers", "/providers/"+provID+"/delete", url.Values{}, http.StatusConflict)
		mustContain(t, "deleting a provider in use", inUse.body, "この担当者はメニューで使われています", "佐藤 花子")

		// A form without its CSRF token changes nothing.
		if r := owner.post("/menus/"+id+"/archive", url.Values{}, http.StatusForbidden); strings.Contains(r.body, "アーカイブしました") {
			t.Fatal("archived without a CSRF token")
		}
		redirectsTo(t, "archive", owner.submit("/menus/"+id, "/menus/"+id+"/archive", url.Values{}, http.StatusSeeOther), "/t/demo/admin/menus/"+id+"?done=archived")
		mustContain(t, "the archived menu", owner.get("/menus/"+id, http.StatusOK).body, `id="archived-badge"`, "アーカイブから戻す")
		if strings.Contains(owner.get("/menus", http.StatusOK).body, "/menus/"+id+`"`) {
			t.Error("an archived menu is listed")
		}
		redirectsTo(t, "delete the provider", owner.submit("/providers", "/providers/"+provID+"/delete", url.Values{}, http.StatusSeeOther), "/t/demo/admin/providers?done=deleted")

		// Default rules.
		bad = owner.submit("/menus/rules", "/menus/rules", url.Values{"opens_days_before": {"-1"}, "closes_minutes_before": {"0"},
			"cancel_deadline_minutes": {"0"}, "change_deadline_minutes": {"0"}, "max_per_member": {"0"}, "max_per_member_period": {"year"}}, http.StatusBadRequest)
		mustContain(t, "refused default rules", bad.body, `id="r-opens-error"`, `id="r-period-error"`, `value="-1"`)
		redirectsTo(t, "default rules", owner.submit("/menus/rules", "/menus/rules", url.Values{"opens_days_before": {"45"}, "closes_minutes_before": {"0"},
			"cancel_deadline_minutes": {"0"}, "change_deadline_minutes": {"0"}, "max_per_member": {"0"}, "max_per_member_period": {"month"}}, http.StatusSeeOther),
			"/t/demo/admin/menus/rules?done=saved")
		mustContain(t, "saved default rules", owner.get("/menus/rules", http.StatusOK).body, `value="45"`)

		// A staff member sees the catalog read-only and may not change it.
		const staffEmail, staffPassword = "uketsuke@demo.example.jp", "hoshi-kaze-mori-tsuki-271"
		inv := owner.submit("/staff", "/staff/invite", url.Values{"email": {staffEmail}, "name": {"受付"}, "role": {"staff"}}, http.StatusOK)
		link := inviteLinkRE.FindStringSubmatch(inv.body)
		if link == nil {
			t.Fatalf("no invitation link:\n%s", inv.body)
		}
		setup := strings.TrimPrefix(link[1], "/t/demo/admin")
		st := newConsoleUser(t, admin)
		redirectsTo(t, "set the password", st.submit(setup, setup, url.Values{"password": {staffPassword}}, http.StatusSeeOther), "/t/demo/admin/login?set=1")
		st.login(staffEmail, staffPassword)
		view := st.get("/menus/"+id, http.StatusOK)
		mustContain(t, "the read-only menu", view.body, `id="read-only"`, "<fieldset disabled")
		if strings.Contains(view.body, `id="save-menu"`) {
			t.Error("a staff member is offered to save")
		}
		st.get("/menus/new", http.StatusForbidden)
		st.submit("/menus/"+id, "/menus/"+id, form, http.StatusForbidden)
		st.submit("/categories", "/categories", url.Values{"name": {"勝手なカテゴリ"}}, http.StatusForbidden)
		if strings.Contains(owner.get("/categories", http.StatusOK).body, "勝手なカテゴリ") {
			t.Error("a refused category was saved")
		}
	})
}
