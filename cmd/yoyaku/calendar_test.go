package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// calendarBody is a valid business calendar for PUT /api/v1/calendar.
const calendarBody = `{
  "weekly": {"tue": [{"start": "10:00", "end": "13:00"}, {"start": "14:00", "end": "19:00"}],
             "wed": [{"start": "10:00", "end": "19:00"}], "sun": [{"start": "10:00", "end": "24:00"}]},
  "holiday": [],
  "closed_dates": ["2026-12-31"],
  "special_dates": [{"date": "2026-12-28", "ranges": [{"start": "10:00", "end": "15:00"}]}]
}`

// The business calendar through the real tenant API: a viewer reads it,
// an editor saves it (audited), every bad input is a 400 with the field
// named and changes nothing; national holidays by year; a provider's
// working hours.
func TestCalendarAPI(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		api := newAPITenant(t, loc, tenants.CreateParams{Slug: "cal-shop", Name: "カレンダー店",
			TimeZone: "America/New_York", Options: []string{"api", "audit_log"}})
		api.lang = "en"
		viewer, admin := api.key("viewer"), api.key("admin")

		code, empty := api.call("GET", "/api/v1/calendar", viewer, "")
		if code != 200 || !strings.Contains(empty, `"time_zone":"America/New_York"`) || !strings.Contains(empty, `"mon":[]`) ||
			!strings.Contains(empty, `"holiday":null`) || strings.Contains(empty, "updated_at") {
			t.Fatalf("a new calendar: %d %s", code, empty)
		}
		if code, body := api.call("PUT", "/api/v1/calendar", viewer, calendarBody); code != 403 {
			t.Fatalf("a viewer saved the calendar: %d %s", code, body)
		}
		code, saved := api.call("PUT", "/api/v1/calendar", admin, calendarBody)
		if code != 200 {
			t.Fatalf("save: %d %s", code, saved)
		}
		var got struct {
			Weekly       map[string][]map[string]string `json:"weekly"`
			Holiday      *[]any                         `json:"holiday"`
			ClosedDates  []string                       `json:"closed_dates"`
			SpecialDates []struct {
				Date string `json:"date"`
			} `json:"special_dates"`
			UpdatedAt string `json:"updated_at"`
		}
		if err := json.Unmarshal([]byte(saved), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Weekly) != 7 || len(got.Weekly["tue"]) != 2 || got.Weekly["sun"][0]["end"] != "24:00" ||
			got.Holiday == nil || len(*got.Holiday) != 0 || !slices.Equal(got.ClosedDates, []string{"2026-12-31"}) ||
			len(got.SpecialDates) != 1 || got.UpdatedAt == "" {
			t.Fatalf("saved calendar: %s", saved)
		}
		_, before := api.call("GET", "/api/v1/calendar", viewer, "")

		bad := []struct {
			name, body string
			status     int
			fields     []string // field:code
		}{
			{"end before start", `{"weekly": {"mon": [{"start": "18:00", "end": "10:00"}]}}`, 400, []string{"weekly.mon[0].end:calendar_range_order"}},
			{"24:30", `{"weekly": {"mon": [{"start": "10:00", "end": "24:30"}]}}`, 400, []string{"weekly.mon[0].end:calendar_time"}},
			{"2026-02-30", `{"weekly": {}, "closed_dates": ["2026-02-30"]}`, 400, []string{"closed_dates[0]:calendar_date"}},
			{"overlap", `{"weekly": {"fri": [{"start": "10:00", "end": "14:00"}, {"start": "13:00", "end": "18:00"}]}}`, 400, []string{"weekly.fri[1].start:calendar_range_overlap"}},
			{"unknown weekday", `{"weekly": {"monday": [{"start": "10:00", "end": "18:00"}]}}`, 400, []string{"weekly.monday:unknown_field"}},
			{"too many ranges", `{"weekly": {"sat": [` + strings.Repeat(`{"start": "10:00", "end": "11:00"},`, 8) + `{"start": "12:00", "end": "13:00"}]}}`, 400, []string{"weekly.sat:max_items"}},
			{"holiday end before start", `{"weekly": {}, "holiday": [{"start": "16:00", "end": "09:00"}]}`, 400, []string{"holiday[0].end:calendar_range_order"}},
			{"special date twice", `{"weekly": {}, "closed_dates": ["2026-12-28"], "special_dates": [{"date": "2026-12-28", "ranges": [{"start": "10:00", "end": "12:00"}]}]}`, 400, []string{"special_dates[0].date:duplicate"}},
			{"special without ranges", `{"weekly": {}, "special_dates": [{"date": "2027-01-02", "ranges": []}]}`, 400, []string{"special_dates[0].ranges:min_items"}},
			{"no weekly", `{"closed_dates": []}`, 400, []string{"weekly:required"}},
			{"unknown field", `{"weekly": {}, "timezone": "Asia/Tokyo"}`, 400, []string{"timezone:unknown_field"}},
			// encoding/json names a map's entry without its key: "weekly.start".
			{"a time as a number", `{"weekly": {"mon": [{"start": 10, "end": "18:00"}]}}`, 400, []string{"weekly.start:type"}},
			{"malformed", `{"weekly": `, 400, nil},
		}
		for _, tt := range bad {
			code, body := api.call("PUT", "/api/v1/calendar", admin, tt.body)
			if code != tt.status {
				t.Errorf("%s: %d %s, want %d", tt.name, code, body, tt.status)
				continue
			}
			var p struct {
				Errors []struct{ Field, Code, Message string } `json:"errors"`
			}
			_ = json.Unmarshal([]byte(body), &p)
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field+":"+f.Code)
				if f.Message == "" || strings.HasPrefix(f.Message, "field.") {
					t.Errorf("%s: field %s has no message: %q", tt.name, f.Field, f.Message)
				}
			}
			if tt.fields != nil && !slices.Equal(fields, tt.fields) {
				t.Errorf("%s: fields %v, want %v (%s)", tt.name, fields, tt.fields, body)
			}
		}
		if _, after := api.call("GET", "/api/v1/calendar", viewer, ""); after != before {
			t.Fatalf("refused saves changed the calendar:\n%s\n%s", before, after)
		}
		code, log := api.call("GET", "/api/v1/audit?action=calendar.update", admin, "")
		if code != 200 || strings.Count(log, `"action":"calendar.update"`) != 1 || !strings.Contains(log, `"closed_dates"`) {
			t.Fatalf("audit of the save: %d %s", code, log)
		}

		// National holidays, by year.
		code, hol := api.call("GET", "/api/v1/calendar/holidays?year=2026", viewer, "")
		if code != 200 || !strings.Contains(hol, `{"date":"2026-09-22","name":"国民の休日","name_en":"Citizens' Holiday","kind":"citizens"}`) ||
			strings.Count(hol, `"date"`) != 18 {
			t.Fatalf("holidays 2026: %d %s", code, hol)
		}
		for _, y := range []string{"1947", "2100", "abc"} {
			if code, body := api.call("GET", "/api/v1/calendar/holidays?year="+y, viewer, ""); code != 400 || !strings.Contains(body, `"field":"year"`) {
				t.Errorf("year=%s: %d %s", y, code, body)
			}
		}

		// A provider's working hours: only for a provider of the catalog.
		code, body := api.call("POST", "/api/v1/providers", admin, `{"name":"佐藤"}`)
		if code != 201 {
			t.Fatalf("provider: %d %s", code, body)
		}
		var prov struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal([]byte(body), &prov)
		if code, pw := api.call("PUT", "/api/v1/calendar/providers/prov-1", admin, `{"weekly": {"tue": [{"start": "12:00", "end": "18:00"}]}}`); code != 404 ||
			!strings.Contains(pw, "calendar_provider_not_found") {
			t.Fatalf("hours of a provider the catalog lacks: %d %s", code, pw)
		}
		code, pw := api.call("PUT", "/api/v1/calendar/providers/"+prov.ID, admin,
			`{"weekly": {"tue": [{"start": "12:00", "end": "18:00"}]}, "days_off": ["2026-12-15", "2026-12-15"]}`)
		if code != 400 || !strings.Contains(pw, `"field":"days_off[1]"`) {
			t.Fatalf("duplicate day off: %d %s", code, pw)
		}
		code, pw = api.call("PUT", "/api/v1/calendar/providers/"+prov.ID, admin, `{"weekly": {"tue": [{"start": "12:00", "end": "18:00"}]}, "days_off": ["2026-12-15"]}`)
		if code != 200 || !strings.Contains(pw, `"id":"`+prov.ID+`"`) || !strings.Contains(pw, `"days_off":["2026-12-15"]`) {
			t.Fatalf("provider hours: %d %s", code, pw)
		}
		code, body = api.call("POST", "/api/v1/resources", admin, `{"name":"個室","quantity":1}`)
		if code != 201 {
			t.Fatalf("resource: %d %s", code, body)
		}
		var res struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal([]byte(body), &res)
		if code, pw = api.call("GET", "/api/v1/calendar/resources/"+res.ID, viewer, ""); code != 200 || !strings.Contains(pw, `"weekly":null`) {
			t.Fatalf("resource without hours: %d %s", code, pw)
		}
		if code, pw = api.call("GET", "/api/v1/calendar/resources/bad%20id", viewer, ""); code != 404 || !strings.Contains(pw, "calendar_resource_not_found") {
			t.Fatalf("malformed resource id: %d %s", code, pw)
		}

		// Deleting the provider from the catalog drops its hours with it.
		if code, body = api.call("DELETE", "/api/v1/providers/"+prov.ID, admin, ""); code != 204 {
			t.Fatalf("delete provider: %d %s", code, body)
		}
		if code, pw = api.call("GET", "/api/v1/calendar/providers/"+prov.ID, viewer, ""); code != 404 {
			t.Fatalf("hours of a deleted provider: %d %s", code, pw)
		}
		if code, body = api.call("GET", "/api/v1/audit?action=calendar.provider.delete", admin, ""); code != 200 || !strings.Contains(body, prov.ID) {
			t.Errorf("no operation-log entry for the dropped hours: %d %s", code, body)
		}
	})
}

// The owner sets the business hours in the console: the form keeps what
// was typed and names the wrong entries next to their fields, nothing is
// saved until all is right; the year view marks national holidays (named),
// closed and special days with letters explained by a legend; the page is
// in the navigation.
func TestCalendarConsole(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		pw, err := os.ReadFile(filepath.Join(loc.DataDir, demoOwnerFile))
		if err != nil {
			t.Fatal(err)
		}
		owner := newConsoleUser(t, s.base+"/t/demo/admin")
		owner.login(demoOwner, strings.TrimSpace(string(pw)))

		home := owner.get("/", http.StatusOK)
		if !strings.Contains(home.body, `href="/t/demo/admin/calendar"`) {
			t.Fatalf("no calendar in the navigation:\n%s", home.body)
		}
		page := owner.get("/calendar?year=2026", http.StatusOK)
		// The demo tenant's calendar: closed on Mondays, a lunch break,
		// shorter hours on holidays.
		for _, want := range []string{"営業時間・休業日", `id="weekly_mon" name="weekly_mon" value=""`, `value="10:00-13:00, 14:00-19:00"`,
			`name="holiday_mode" value="hours" checked`,
			`title="国民の休日"`, `data-date="2026-09-22"`, "2026年の祝日", "凡例", "国民の祝日"} {
			if !strings.Contains(page.body, want) {
				t.Fatalf("the calendar page lacks %q:\n%s", want, page.body)
			}
		}

		bad := url.Values{
			"weekly_mon": {"10:00-13:00, 12:00-18:00"}, "weekly_tue": {"18:00-10:00"}, "weekly_wed": {"10:00-24:30"},
			"holiday_mode": {"hours"}, "holiday": {"10:00-16:00"},
			"closed_dates": {"2026-12-31\n2026-02-30"}, "special_dates": {"2026-12-28 10:00-15:00"},
		}
		r := owner.submit("/calendar", "/calendar", bad, http.StatusBadRequest)
		for _, want := range []string{`id="weekly_mon-error"`, "2番目の時間帯", `id="weekly_tue-error"`, "終了時刻は開始時刻（18:00）より後にしてください",
			`id="weekly_wed-error"`, "2行目", `aria-invalid="true"`, `value="10:00-13:00, 12:00-18:00"`, "2026-02-30</textarea>", `value="hours" checked`} {
			if !strings.Contains(r.body, want) {
				t.Fatalf("the refused form lacks %q:\n%s", want, r.body)
			}
		}
		closed := regexp.MustCompile(`id="closed_dates"[^>]*>([^<]*)</textarea>`)
		if p := owner.get("/calendar", http.StatusOK); closed.FindString(p.body) != closed.FindString(page.body) ||
			!strings.Contains(p.body, `id="weekly_mon" name="weekly_mon" value=""`) {
			t.Fatalf("a refused form saved something:\n%s", p.body)
		}

		good := url.Values{
			"weekly_tue": {"10:00-13:00, 14:00-19:00"}, "weekly_wed": {"１０：００〜１９：００"}, "weekly_sun": {"10:00-17:00"},
			"holiday_mode": {"closed"}, "closed_dates": {"2026-12-31\r\n2027-01-02"}, "special_dates": {"2026-12-28 10:00-15:00"},
		}
		r = owner.submit("/calendar", "/calendar", good, http.StatusSeeOther)
		redirectsTo(t, "save", r, "/t/demo/admin/calendar?saved=1")
		page = owner.get("/calendar?saved=1&year=2026", http.StatusOK)
		for _, want := range []string{"営業時間を保存しました。", `value="10:00-13:00, 14:00-19:00"`, `value="10:00-19:00"`,
			`value="closed" checked`, "2026-12-31\n2027-01-02</textarea>", "2026-12-28 10:00-15:00</textarea>"} {
			if !strings.Contains(page.body, want) {
				t.Fatalf("the saved page lacks %q:\n%s", want, page.body)
			}
		}
		// The year view: 2026-12-31 (Thursday) closed, 2026-12-28 (Monday)
		// a special opening, 2026-11-23 a holiday and closed, 2026-12-29 open.
		cell := func(date string) string {
			i := strings.Index(page.body, `data-date="`+date+`"`)
			if i < 0 {
				t.Fatalf("no cell for %s", date)
			}
			start := strings.LastIndex(page.body[:i], "<td")
			end := strings.Index(page.body[i:], "</td>")
			return page.body[start : i+end]
		}
		for date, want := range map[string][]string{
			"2026-12-31": {"closed", ">休<", "休業日"},
			"2026-12-28": {"special", ">特<", "特別営業日"},
			"2026-11-23": {"hol", "closed", `title="勤労感謝の日"`, ">祝<", "勤労感謝の日 休業日"},
		} {
			c := cell(date)
			for _, w := range want {
				if !strings.Contains(c, w) {
					t.Errorf("cell %s lacks %q: %s", date, w, c)
				}
			}
		}
		if c := cell("2026-12-29"); strings.Contains(c, "closed") || strings.Contains(c, "mk") {
			t.Errorf("2026-12-29 is an open Tuesday: %s", c)
		}
	})
}
