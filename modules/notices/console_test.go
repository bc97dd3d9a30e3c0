package notices_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/notices"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

func titles(list []notices.TenantNotice) []string {
	var out []string
	for _, n := range list {
		mark := ""
		if !n.Read {
			mark = "*"
		}
		out = append(out, mark+n.Title)
	}
	return out
}

// A tenant's staff see the notices addressed to every tenant and to their
// tenant — current, upcoming, and ended less than 30 days ago — newest
// first, each unread until that staff member reads it.
func TestForTenant(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		ctx := context.Background()
		a := e.tenant(t, "salon-a")
		b := e.tenant(t, "salon-b")
		mk := func(p notices.CreateParams) notices.Notice {
			t.Helper()
			n, err := e.svc.Create(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		mk(notices.CreateParams{Kind: notices.KindInfo, Title: "long ago", Body: "b", StartsAt: at(days(-60)), EndsAt: at(days(-31))})
		mk(notices.CreateParams{Kind: notices.KindInfo, Title: "recently ended", Body: "b", StartsAt: at(days(-40)), EndsAt: at(days(-29))})
		forA := mk(notices.CreateParams{Kind: notices.KindIncident, Title: "only A", Body: "b", Tenants: []string{"salon-a"}})
		all := mk(notices.CreateParams{Kind: notices.KindMaintenance, Title: "everyone", Body: "b", StartsAt: at(days(20)), EndsAt: at(days(20.1))})
		gone := mk(notices.CreateParams{Kind: notices.KindInfo, Title: "withdrawn", Body: "b"})
		if _, err := e.svc.Withdraw(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		forB := mk(notices.CreateParams{Kind: notices.KindInfo, Title: "only B", Body: "b", Tenants: []string{"salon-b"}})

		see := func(tn tenants.Tenant, staff string) ([]string, int) {
			t.Helper()
			var got []string
			var unread int
			e.tenantDB(t, tn, func(db bun.IDB) {
				list, n, err := e.svc.ForTenant(ctx, db, tn, staff)
				if err != nil {
					t.Fatal(err)
				}
				got, unread = titles(list), n
				if c, err := e.svc.UnreadCount(ctx, db, tn, staff); err != nil || c != n {
					t.Errorf("UnreadCount %d %v, ForTenant says %d", c, err, n)
				}
			})
			return got, unread
		}
		if got, n := see(a, "staff-1"); !slices.Equal(got, []string{"*everyone", "*only A", "*recently ended"}) || n != 3 {
			t.Errorf("A sees %v (%d unread)", got, n)
		}
		if got, n := see(b, "staff-1"); !slices.Equal(got, []string{"*only B", "*everyone", "*recently ended"}) || n != 3 {
			t.Errorf("B sees %v (%d unread)", got, n)
		}

		// Reading is per staff member, and per tenant database.
		e.tenantDB(t, a, func(db bun.IDB) {
			if err := e.svc.MarkRead(ctx, db, a, "staff-1", all.ID); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.MarkRead(ctx, db, a, "staff-1", all.ID); err != nil {
				t.Errorf("marking twice: %v", err)
			}
			// Not shown to A: not A's to mark.
			for _, id := range []string{forB.ID, gone.ID, "nonsense"} {
				if err := e.svc.MarkRead(ctx, db, a, "staff-1", id); !errors.Is(err, notices.ErrNotFound) {
					t.Errorf("mark %s read in A: %v", id, err)
				}
			}
		})
		if got, n := see(a, "staff-1"); !slices.Equal(got, []string{"everyone", "*only A", "*recently ended"}) || n != 2 {
			t.Errorf("A, staff-1 after reading: %v (%d)", got, n)
		}
		if got, n := see(a, "staff-2"); !slices.Equal(got, []string{"*everyone", "*only A", "*recently ended"}) || n != 3 {
			t.Errorf("A, staff-2: %v (%d)", got, n)
		}
		if got, _ := see(b, "staff-1"); !slices.Equal(got, []string{"*only B", "*everyone", "*recently ended"}) {
			t.Errorf("B, staff-1 (same id, other tenant): %v", got)
		}
		e.tenantDB(t, a, func(db bun.IDB) {
			if n, err := e.svc.MarkAllRead(ctx, db, a, "staff-2"); err != nil || n != 3 {
				t.Errorf("mark all: %d %v", n, err)
			}
		})
		if got, n := see(a, "staff-2"); !slices.Equal(got, []string{"everyone", "only A", "recently ended"}) || n != 0 {
			t.Errorf("A, staff-2 after all: %v (%d)", got, n)
		}

		// Two days on, "recently ended" is past the 30 days; a withdrawn
		// notice leaves at once.
		e.clock.Add(48 * time.Hour)
		if _, err := e.svc.Withdraw(ctx, forA.ID); err != nil {
			t.Fatal(err)
		}
		if got, n := see(a, "staff-1"); !slices.Equal(got, []string{"everyone"}) || n != 0 {
			t.Errorf("A later: %v (%d)", got, n)
		}
	})
}

// Another process's changes reach a console within CacheTTL.
func TestForTenantSeesOtherProcesses(t *testing.T) {
	e := newEnv(t, dbtest.NewLocation(t, dbx.SQLite))
	ctx := context.Background()
	a := e.tenant(t, "salon-a")
	other := notices.NewService(notices.Config{Control: e.control, Tenants: e.tenants, Now: e.clock.Now})
	count := func() int {
		var n int
		e.tenantDB(t, a, func(db bun.IDB) {
			var err error
			if n, err = e.svc.UnreadCount(ctx, db, a, "s"); err != nil {
				t.Fatal(err)
			}
		})
		return n
	}
	if count() != 0 {
		t.Fatal("a notice out of nowhere")
	}
	if _, err := other.Create(ctx, notices.CreateParams{Kind: notices.KindInfo, Title: "t", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	if count() != 0 {
		t.Error("the cache was not used")
	}
	e.clock.Add(6 * time.Second) // past the default CacheTTL
	if count() != 1 {
		t.Error("another process's notice not seen after CacheTTL")
	}
}

var (
	badgeRE = regexp.MustCompile(`<strong class="badge">([^<]*)</strong>`)
	formRE  = regexp.MustCompile(`<form method="post" action="/t/salon-a/admin/notices/([0-9a-f]{32})/read">\s*<input type="hidden" name="csrf_token" value="([^"]*)">`)
)

func TestConsolePage(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		r := newServer(t, e)
		e.tenant(t, "salon-a")
		e.tenant(t, "salon-b")
		mnt := post(t, r, `{"kind":"maintenance","title":"定期メンテナンス","body":"12月20日未明に停止します。\n\n<b>ご注意</b>ください。","starts_at":"2026-12-20T01:00:00+09:00","ends_at":"2026-12-20T05:00:00+09:00"}`)
		post(t, r, `{"kind":"info","title":"B様へのお知らせ","body":"b","tenants":["salon-b"]}`)
		post(t, r, `{"kind":"info","title":"新機能","body":"CSV出力を追加しました。","tenants":["salon-a"]}`)

		page := func(staff, lang string) string {
			t.Helper()
			w := do(t, r, call{method: "GET", url: "/t/salon-a/admin/notices", auth: "-", staff: staff, lang: lang})
			if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("page: %d %s", w.Code, w.Body)
			}
			return w.Body.String()
		}
		body := page("staff-1", "")
		for _, want := range []string{
			"<h1>お知らせ</h1>", "定期メンテナンス", "新機能", "[メンテナンス]",
			"2026年12月20日(日) 01:00 〜 2026年12月20日(日) 05:00",    // the tenant's zone, Tokyo
			"12月20日未明に停止します。", "&lt;b&gt;ご注意&lt;/b&gt;ください。", // escaped, paragraphs kept
			e.cat.T("ja", "notices.unread_count", map[string]any{"Count": 2}),
			`<span class="count">2</span>`, // the bell
		} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Contains(body, "B様へのお知らせ") {
			t.Error("tenant A's console shows a notice addressed to tenant B")
		}
		if got := badgeRE.FindAllStringSubmatch(body, -1); len(got) != 2 || got[0][1] != "未読" {
			t.Errorf("badges %v", got)
		}
		forms := formRE.FindAllStringSubmatch(body, -1)
		if len(forms) != 2 || forms[1][1] != mnt.ID || forms[0][2] != csrfFor("staff-1") {
			t.Fatalf("mark-read forms %v", forms)
		}
		if strings.Index(body, "新機能") > strings.Index(body, "定期メンテナンス") {
			t.Error("not newest first")
		}

		// English from the catalogs.
		en := page("staff-1", "en")
		for _, want := range []string{"<h1>Notices</h1>", "[Maintenance]", "Sun, 20 Dec 2026 01:00 – Sun, 20 Dec 2026 05:00",
			`<strong class="badge">Unread</strong>`, e.cat.T("en", "notices.mark_read", nil)} {
			if !strings.Contains(en, want) {
				t.Errorf("English page lacks %q", want)
			}
		}

		readURL := "/t/salon-a/admin/notices/" + mnt.ID + "/read"
		// No session: to the login page; forged or missing token: refused,
		// nothing recorded.
		if w := do(t, r, call{method: "POST", url: readURL, auth: "-", form: url.Values{"csrf_token": {csrfFor("staff-1")}}}); w.Code != http.StatusSeeOther {
			t.Errorf("no session: %d", w.Code)
		}
		for _, tok := range []string{"", "forged", csrfFor("staff-2")} {
			w := do(t, r, call{method: "POST", url: readURL, auth: "-", staff: "staff-1", form: url.Values{"csrf_token": {tok}}})
			if w.Code != http.StatusForbidden {
				t.Errorf("token %q: %d", tok, w.Code)
			}
		}
		if got := badgeRE.FindAllString(page("staff-1", ""), -1); len(got) != 2 {
			t.Fatalf("a refused post marked a notice read: %v", got)
		}

		w := do(t, r, call{method: "POST", url: readURL, auth: "-", staff: "staff-1", form: url.Values{"csrf_token": {csrfFor("staff-1")}}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/t/salon-a/admin/notices?done=read" {
			t.Fatalf("mark read: %d %q", w.Code, w.Header().Get("Location"))
		}
		w = do(t, r, call{method: "GET", url: w.Header().Get("Location"), auth: "-", staff: "staff-1"})
		body = w.Body.String()
		if !strings.Contains(body, e.cat.T("ja", "notices.done_read", nil)) || len(badgeRE.FindAllString(body, -1)) != 1 ||
			!strings.Contains(body, `<span class="count">1</span>`) || len(formRE.FindAllString(body, -1)) != 1 {
			t.Errorf("after reading one: %s", body)
		}
		// Staff member 2 has read nothing.
		if got := badgeRE.FindAllString(page("staff-2", ""), -1); len(got) != 2 {
			t.Errorf("staff-2 badges %v", got)
		}

		// B's notice cannot be marked from A's console.
		var bID string
		list, _ := e.svc.List(context.Background(), notices.ListParams{})
		for _, n := range list {
			if n.Title == "B様へのお知らせ" {
				bID = n.ID
			}
		}
		w = do(t, r, call{method: "POST", url: "/t/salon-a/admin/notices/" + bID + "/read", auth: "-", staff: "staff-1", form: url.Values{"csrf_token": {csrfFor("staff-1")}}})
		if w.Code != http.StatusNotFound {
			t.Errorf("marking another tenant's notice: %d", w.Code)
		}

		w = do(t, r, call{method: "POST", url: "/t/salon-a/admin/notices/read-all", auth: "-", staff: "staff-1", form: url.Values{"csrf_token": {csrfFor("staff-1")}}})
		if w.Code != http.StatusSeeOther {
			t.Fatalf("read all: %d %s", w.Code, w.Body)
		}
		body = page("staff-1", "")
		if len(badgeRE.FindAllString(body, -1)) != 0 || strings.Contains(body, `class="count"`) || !strings.Contains(body, e.cat.T("ja", "notices.all_read", nil)) {
			t.Errorf("after reading all: %s", body)
		}

		// A console with nothing to show says so.
		w = do(t, r, call{method: "GET", url: "/t/salon-b/admin/notices", auth: "-", staff: "staff-9"})
		if !strings.Contains(w.Body.String(), "B様へのお知らせ") {
			t.Errorf("B's console: %s", w.Body)
		}
		// A year on, the maintenance is long over; the open-ended
		// information stands until the operator ends or withdraws it.
		e.clock.Set(days(400))
		if body := page("staff-1", ""); strings.Contains(body, "定期メンテナンス") || !strings.Contains(body, "新機能") {
			t.Errorf("a year on: %s", body)
		}
		list, _ = e.svc.List(context.Background(), notices.ListParams{})
		for _, n := range list {
			if _, err := e.svc.Withdraw(context.Background(), n.ID); err != nil {
				t.Fatal(err)
			}
		}
		if body := page("staff-1", ""); !strings.Contains(body, e.cat.T("ja", "notices.empty", nil)) {
			t.Errorf("nothing to show: %s", body)
		}
	})
}
