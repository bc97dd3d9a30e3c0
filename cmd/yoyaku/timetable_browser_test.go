package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/yoyaku-oss/yoyaku/modules/platform/browsertest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// menuURLRE reads the new menu's id from the page the menu form lands on.
var menuURLRE = regexp.MustCompile(`/t/demo/admin/menus/([0-9a-f]{32})\?done=created$`)

// The owner, in a desktop browser, adds a timetable menu through the menu
// form, then a weekly series of sessions for it (Wednesdays and Fridays
// at 19:00 for four weeks) through the timetable's form; the week view
// shows the sessions by time and name, and the booking site's
// availability answers exactly those sessions, with every seat free.
func TestTimetableBrowser(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		pw, err := os.ReadFile(filepath.Join(loc.DataDir, demoOwnerFile))
		if err != nil {
			t.Fatal(err)
		}
		admin := s.base + "/t/demo/admin"
		ctx := browsertest.New(t, browsertest.Desktop)
		text := func(what, sel string) string {
			t.Helper()
			return browsertest.Get(t, ctx, what, chromedp.Text(chromedp.CSS(sel)))
		}
		// An option's words (innerText is empty for a closed select's options).
		optionText := func(what, sel string) string {
			t.Helper()
			return strings.TrimSpace(browsertest.Get(t, ctx, what, chromedp.TextContent(chromedp.CSS(sel))))
		}
		value := func(what, sel string) string {
			t.Helper()
			return browsertest.Get(t, ctx, what, chromedp.Value(chromedp.CSS(sel)))
		}
		browsertest.Do(t, ctx, "log in",
			chromedp.Navigate(admin+"/"),
			chromedp.WaitVisible(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), demoOwner),
			chromedp.SendKeys(chromedp.CSS("#password"), strings.TrimSpace(string(pw))),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS(".bell")), // the console's home, signed in
		)

		// The menu: typed into the form as a person would.
		const name = "ピラティス入門"
		browsertest.Do(t, ctx, "open the new menu form",
			chromedp.Navigate(admin+"/menus/new"),
			chromedp.WaitVisible(chromedp.CSS("#m-name")),
		)
		if got := text("the form's heading", "main h1"); got != "メニューを追加" {
			t.Fatalf("menu form heading %q", got)
		}
		browsertest.Do(t, ctx, "fill in the menu",
			chromedp.SendKeys(chromedp.CSS("#m-name"), name),
			chromedp.Clear(chromedp.CSS("#m-duration")),
			chromedp.SendKeys(chromedp.CSS("#m-duration"), "45"),
			chromedp.Clear(chromedp.CSS("#m-price")),
			chromedp.SendKeys(chromedp.CSS("#m-price"), "2500"),
			chromedp.Clear(chromedp.CSS("#m-capacity")),
			chromedp.SendKeys(chromedp.CSS("#m-capacity"), "8"),
			chromedp.SetValue(chromedp.CSS("#m-mode"), "timetable"),
			chromedp.SetValue(chromedp.CSS("#m-visibility"), "public"),
		)
		for _, f := range []struct{ sel, want string }{
			{"#m-name", name}, {"#m-duration", "45"}, {"#m-price", "2500"}, {"#m-capacity", "8"},
			{"#m-mode", "timetable"}, {"#m-visibility", "public"},
		} {
			if got := value("the field "+f.sel, f.sel); got != f.want {
				t.Fatalf("%s holds %q, want %q", f.sel, got, f.want)
			}
		}
		// What a person sees chosen, in words.
		if got := optionText("the chosen booking mode", "#m-mode option:checked"); got != "時間割（定期開催）" {
			t.Fatalf("booking mode shows %q", got)
		}
		if got := optionText("the chosen visibility", "#m-visibility option:checked"); got != "公開" {
			t.Fatalf("visibility shows %q", got)
		}
		browsertest.Screenshot(t, ctx, "menu-form")
		browsertest.Do(t, ctx, "add the menu",
			chromedp.Click(chromedp.CSS("#save-menu")),
			chromedp.WaitVisible(chromedp.CSS("main .flash")),
		)
		where := browsertest.Get(t, ctx, "the page after adding", chromedp.Location())
		m := menuURLRE.FindStringSubmatch(where)
		if m == nil {
			t.Fatalf("adding the menu landed on %s", where)
		}
		menuID := m[1]
		if got := text("the flash", "main .flash"); got != "追加しました。" {
			t.Fatalf("flash after adding the menu %q", got)
		}
		if got := text("the saved menu's heading", "main h1"); got != "メニューの編集: "+name {
			t.Fatalf("saved menu heading %q", got)
		}

		// The sessions: from the first Wednesday after today, Wednesdays
		// and Fridays at 19:00, until four weeks later (a Tuesday).
		now := time.Now().In(tokyo)
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, tokyo)
		start := today.AddDate(0, 0, 1)
		for start.Weekday() != time.Wednesday {
			start = start.AddDate(0, 0, 1)
		}
		until := start.AddDate(0, 0, 27)
		var want []time.Time
		for d := start; !d.After(until); d = d.AddDate(0, 0, 1) {
			if wd := d.Weekday(); wd == time.Wednesday || wd == time.Friday {
				want = append(want, time.Date(d.Year(), d.Month(), d.Day(), 19, 0, 0, 0, tokyo))
			}
		}
		if len(want) != 8 {
			t.Fatalf("the recurrence should make 8 sessions, computed %d", len(want))
		}
		const day = "2006-01-02"

		browsertest.Do(t, ctx, "open the timetable from the navigation",
			chromedp.Click(chromedp.CSS(`nav#nav a[href$="/admin/timetable"]`)),
			chromedp.WaitVisible(chromedp.CSS("#tt-menu")),
		)
		if got := text("the heading", "main h1"); got != "時間割（セッション）" {
			t.Fatalf("timetable heading %q", got)
		}
		option := `#tt-menu option[value="` + menuID + `"]`
		if got := optionText("the new menu in the form", option); got != name+"（時間割・45分・定員8）" {
			t.Fatalf("the menu is offered as %q", got)
		}
		browsertest.Do(t, ctx, "fill in the weekly series",
			chromedp.SetValue(chromedp.CSS("#tt-menu"), menuID),
			chromedp.SetValue(chromedp.CSS("#tt-date"), start.Format(day)),
			chromedp.SetValue(chromedp.CSS("#tt-time"), "19:00"),
			chromedp.Click(chromedp.CSS(`input[name=freq][value=weekly]`)),
			chromedp.Click(chromedp.CSS(`input[name=weekdays][value=wed]`)),
			chromedp.Click(chromedp.CSS(`input[name=weekdays][value=fri]`)),
			chromedp.SetValue(chromedp.CSS("#tt-until"), until.Format(day)),
		)
		checked := browsertest.Get(t, ctx, "the chosen repeat and weekdays", chromedp.Evaluate[string](
			`[...document.querySelectorAll('input[name=freq]:checked, input[name=weekdays]:checked')].map(e => e.closest('label').textContent.trim()).join(',')`))
		if checked != "毎週,水曜日,金曜日" {
			t.Fatalf("chosen in the form: %q", checked)
		}
		if got := optionText("the chosen menu", "#tt-menu option:checked"); got != name+"（時間割・45分・定員8）" {
			t.Fatalf("chosen menu shows %q", got)
		}
		browsertest.Do(t, ctx, "add the series",
			chromedp.Click(chromedp.CSS(`form.tt-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("main .flash")),
			chromedp.WaitVisible(chromedp.CSS("#week .tt-slot")),
		)
		if got := text("the flash", "main .flash"); got != "セッションを8件追加しました。" {
			t.Fatalf("flash after adding the series %q", got)
		}
		where = browsertest.Get(t, ctx, "the page after adding the series", chromedp.Location())
		if !strings.Contains(where, "/admin/timetable?week=") {
			t.Fatalf("adding the series landed on %s", where)
		}

		// The week view, the first week and the next: this menu's
		// sessions on Wednesday and Friday, at 19:00–19:45, all seats free.
		sessionsOf := func(what string) map[string][]string {
			t.Helper()
			var got map[string][]string
			js := `(() => { const out = {};
  document.querySelectorAll('#week section.tt-day').forEach(d => {
    out[d.querySelector('h3').id.replace('day-', '')] = [...d.querySelectorAll('li.tt-slot')]
      .filter(li => li.querySelector('.tt-menu').textContent.trim() === ` + strconv.Quote(name) + `)
      .map(li => li.querySelector('.tt-time').textContent.trim() + ' ' + li.querySelector('.tt-seats').textContent.trim());
  });
  return JSON.stringify(out); })()`
			raw := browsertest.Get(t, ctx, what, chromedp.Evaluate[string](js))
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return got
		}
		checkWeek := func(what string, monday time.Time) {
			t.Helper()
			got := sessionsOf(what)
			if len(got) != 7 {
				t.Fatalf("%s: %d days shown: %v", what, len(got), got)
			}
			for i := range 7 {
				d := monday.AddDate(0, 0, i)
				var wantHere []string
				if wd := d.Weekday(); (wd == time.Wednesday || wd == time.Friday) && !d.Before(start) && !d.After(until) {
					wantHere = []string{"19:00–19:45 予約 0/8"}
				}
				if strings.Join(got[d.Format(day)], "|") != strings.Join(wantHere, "|") {
					t.Fatalf("%s: on %s the week shows %v, want %v", what, d.Format(day), got[d.Format(day)], wantHere)
				}
			}
		}
		monday := start.AddDate(0, 0, -2)
		if got := text("the week's title", "#week-title"); !strings.HasPrefix(got, monday.Format("2006年1月2日")+"(月) 〜 ") {
			t.Fatalf("the week shown is %q, want the one of %s", got, monday.Format(day))
		}
		checkWeek("the first week", monday)
		// A session as a person reads it: its time next to the menu's name.
		if got := text("Wednesday's session", `#week section[aria-labelledby="day-`+start.Format(day)+`"] li.tt-slot a`); !strings.Contains(got, "19:00–19:45 "+name) {
			t.Fatalf("Wednesday's session reads %q", got)
		}
		if got := text("Wednesday's heading", "#day-"+start.Format(day)); !strings.HasPrefix(got, start.Format("2006年1月2日")+"(水)") {
			t.Fatalf("Wednesday is headed %q", got)
		}
		browsertest.Screenshot(t, ctx, "week-view")
		next := monday.AddDate(0, 0, 7)
		browsertest.Do(t, ctx, "go to the next week",
			chromedp.Click(chromedp.CSS(`#week a[rel=next]`)),
			chromedp.WaitVisible(chromedp.CSS(`#day-`+next.Format(day))),
		)
		checkWeek("the next week", next)

		// The booking site's availability for the next five weeks.
		from, to := today, today.AddDate(0, 0, 34)
		q := url.Values{"menu_id": {menuID}, "from": {from.Format(day)}, "to": {to.Format(day)}}
		r := request(t, "GET", s.base+"/api/v1/public/demo/availability?"+q.Encode(), "", "")
		if r.status != 200 {
			t.Fatalf("availability: %d %s", r.status, r.body)
		}
		var a struct {
			MenuID   string `json:"menu_id"`
			TimeZone string `json:"time_zone"`
			Slots    []struct {
				StartsAt  string `json:"starts_at"`
				EndsAt    string `json:"ends_at"`
				Remaining int    `json:"remaining"`
				SlotID    string `json:"slot_id"`
			} `json:"slots"`
		}
		if err := json.Unmarshal([]byte(r.body), &a); err != nil {
			t.Fatalf("availability: %v\n%s", err, r.body)
		}
		if a.MenuID != menuID || a.TimeZone != "Asia/Tokyo" {
			t.Fatalf("availability of %q in %q", a.MenuID, a.TimeZone)
		}
		if len(a.Slots) != len(want) {
			t.Fatalf("availability answers %d sessions, want %d:\n%s", len(a.Slots), len(want), r.body)
		}
		ids := map[string]bool{}
		for i, sl := range a.Slots {
			starts := want[i].Format("2006-01-02T15:04:05+09:00")
			ends := want[i].Add(45 * time.Minute).Format("2006-01-02T15:04:05+09:00")
			if sl.StartsAt != starts || sl.EndsAt != ends || sl.Remaining != 8 || sl.SlotID == "" || ids[sl.SlotID] {
				t.Fatalf("session %d: %+v, want %s–%s with 8 seats and a slot id of its own", i, sl, starts, ends)
			}
			ids[sl.SlotID] = true
			at, err := time.Parse(time.RFC3339, sl.StartsAt)
			if err != nil {
				t.Fatal(err)
			}
			if wd := at.In(tokyo).Weekday(); wd != time.Wednesday && wd != time.Friday {
				t.Fatalf("session %d on a %s", i, wd)
			}
		}
	})
}
