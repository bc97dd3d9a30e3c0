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
	yogaOptionRE  = regexp.MustCompile(`<option value="([0-9a-f]{32})"[^>]*>朝ヨガ（60分）`)
	providerOptRE = regexp.MustCompile(`<option value="([0-9a-f]{32})"[^>]*>(山本 彩（ヨガ講師）)</option>`)
	slotLinkRE    = regexp.MustCompile(`href="/t/demo/admin/timetable/slots/([0-9a-f]{32})\?week=2026-12-07"><span class="tt-time">06:15–07:15</span>`)
	weekCountRE   = regexp.MustCompile(`この週のセッション: (\d+)件`)
)

// The owner adds a weekly yoga class in the console: a form with mistakes
// comes back as typed with each error at its field and nothing made; the
// fixed form makes the series, seen in the week view (shareable by
// ?week=, with the previous and next weeks linked); a session is closed
// (marked in words, not colour only) and, once confirmed, deleted.
func TestTimetableConsole(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		pw, err := os.ReadFile(filepath.Join(loc.DataDir, demoOwnerFile))
		if err != nil {
			t.Fatal(err)
		}
		owner := newConsoleUser(t, s.base+"/t/demo/admin")
		owner.login(demoOwner, strings.TrimSpace(string(pw)))

		home := owner.get("/", http.StatusOK)
		mustContain(t, "the navigation", home.body, `href="/t/demo/admin/timetable"`, "時間割")

		week := owner.get("/timetable?week=2026-12-09", http.StatusOK) // a Wednesday: its week shows
		mustContain(t, "the week", week.body, "2026年12月7日(月) 〜 2026年12月13日(日)",
			`href="?week=2026-11-30#week"`, `href="?week=2026-12-14#week"`, `name="menu_id"`, "毎月", "第2")
		yoga := yogaOptionRE.FindStringSubmatch(week.body)
		prov := providerOptRE.FindStringSubmatch(week.body)
		if yoga == nil || prov == nil {
			t.Fatalf("the form offers no yoga menu or provider:\n%s", week.body)
		}
		if strings.Contains(week.body, "カット（") {
			t.Fatal("the form offers an hours menu")
		}

		// Mistakes: each at its field, the input kept, nothing made.
		form := url.Values{"menu_id": {yoga[1]}, "date": {"2026-02-30"}, "time": {"10:00"}, "capacity": {"0"},
			"provider_id": {prov[1]}, "freq": {"weekly"}, "until": {"2036-12-31"}, "nth": {"2"}, "weekday": {"wed"}}
		bad := owner.submit("/timetable", "/timetable", form, http.StatusBadRequest)
		mustContain(t, "the refused form", bad.body, `role="alert"`, `id="tt-date-error"`, `id="tt-capacity-error"`,
			`id="tt-weekdays-error"`, `id="tt-until-error"`, `value="2026-02-30"`, `value="0"`, `value="2036-12-31"`,
			`value="weekly" checked`, `value="`+yoga[1]+`" selected`, "1〜10000の範囲で指定してください")
		count := func(body string) string {
			m := weekCountRE.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no count of the week's sessions:\n%s", body)
			}
			return m[1]
		}
		demo := count(week.body) // the demo tenant's own sessions
		if got := count(owner.get("/timetable?week=2026-12-07", http.StatusOK).body); got != demo {
			t.Fatalf("a refused form made sessions: %s, was %s", got, demo)
		}

		// Fixed: Mondays and Wednesdays at 06:15 until the end of January.
		form.Set("date", "2026-12-07")
		form.Set("time", "06:15")
		form.Set("capacity", "")
		form["weekdays"] = []string{"mon", "wed"}
		form.Set("until", "2027-01-31")
		r := owner.submit("/timetable", "/timetable", form, http.StatusSeeOther)
		redirectsTo(t, "add the series", r, "/t/demo/admin/timetable?week=2026-12-07&done=created&n=16")
		week = owner.get("/timetable?week=2026-12-07&done=created&n=16", http.StatusOK)
		mustContain(t, "the week with the series", week.body, "セッションを16件追加しました。",
			"06:15–07:15</span> <span class=\"tt-menu\">朝ヨガ（60分）</span>", "予約 0/12", prov[2])
		ids := slotLinkRE.FindAllStringSubmatch(week.body, -1)
		if len(ids) != 2 {
			t.Fatalf("%d sessions in the week:\n%s", len(ids), week.body)
		}
		withSeries := count(week.body)
		next := owner.get("/timetable?week=2026-12-14", http.StatusOK)
		mustContain(t, "the next week", next.body, "06:15–07:15", "2026年12月14日(月)")

		// One session: a wrong capacity is kept and named; then it is closed.
		id := ids[0][1]
		page := owner.get("/timetable/slots/"+id, http.StatusOK)
		mustContain(t, "the session", page.body, "2026年12月7日(月) 06:15–07:15", "毎週 月曜日・水曜日 06:15 2027年1月31日(日)まで", "受付中")
		badCap := owner.submit("/timetable/slots/"+id, "/timetable/slots/"+id, url.Values{"action": {"capacity"}, "capacity": {"abc"}}, http.StatusBadRequest)
		mustContain(t, "a wrong capacity", badCap.body, `id="tt-capacity-error"`, `value="abc"`, `aria-invalid="true"`)
		redirectsTo(t, "close", owner.submit("/timetable/slots/"+id, "/timetable/slots/"+id, url.Values{"action": {"close"}}, http.StatusSeeOther),
			"/t/demo/admin/timetable/slots/"+id+"?done=saved")
		mustContain(t, "the closed session", owner.get("/timetable/slots/"+id, http.StatusOK).body, "受付停止", "受付を再開する")
		mustContain(t, "the week with a closed session", owner.get("/timetable?week=2026-12-07", http.StatusOK).body,
			`class="tt-slot closed"`, `<span class="tt-badge tt-closed">受付停止</span>`)

		// Deleting needs the box ticked.
		noTick := owner.submit("/timetable/slots/"+id, "/timetable/slots/"+id+"/delete", url.Values{}, http.StatusBadRequest)
		mustContain(t, "a delete without confirmation", noTick.body, `id="tt-delete-error"`, "確認のチェック")
		redirectsTo(t, "delete", owner.submit("/timetable/slots/"+id, "/timetable/slots/"+id+"/delete", url.Values{"confirm": {"1"}}, http.StatusSeeOther),
			"/t/demo/admin/timetable?week=2026-12-07&done=deleted")
		after := count(owner.get("/timetable?week=2026-12-07", http.StatusOK).body)
		if after == withSeries || len(slotLinkRE.FindAllString(owner.get("/timetable?week=2026-12-07", http.StatusOK).body, -1)) != 1 {
			t.Fatalf("after a deletion the week has %s sessions (%s before)", after, withSeries)
		}
		owner.get("/timetable/slots/"+id, http.StatusNotFound)

		// A form without its CSRF token changes nothing.
		owner.post("/timetable/slots/"+ids[1][1]+"/delete", url.Values{"confirm": {"1"}}, http.StatusForbidden)
		if got := count(owner.get("/timetable?week=2026-12-07", http.StatusOK).body); got != after {
			t.Fatalf("a forged post changed the week: %s sessions, was %s", got, after)
		}
	})
}
