package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// availAPI is the real handler with tenants in New York and London, keys
// of two roles each, and the calendar's clock at 2026-01-10 so that both
// daylight-saving changes of 2026 lie ahead.
type availAPI struct {
	*apiServer
	tenants map[string]availTenant // by slug
}

type availTenant struct{ admin, viewer string }

var availNow = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

func newAvailAPI(t *testing.T, loc dbx.Location) *availAPI {
	t.Helper()
	a := appFor(t, loc)
	// The calendar as wireCatalog makes it, on a fixed clock.
	a.slots = timeslots.NewService(timeslots.Config{Logger: a.log, Menus: a.menus, Now: func() time.Time { return availNow }})
	out := &availAPI{apiServer: newAPIServer(t, a), tenants: map[string]availTenant{}}
	out.lang = "en"
	for slug, zone := range map[string]string{"ny-salon": "America/New_York", "london-salon": "Europe/London"} {
		tn := out.tenant(tenants.CreateParams{Slug: slug, Name: slug, TimeZone: zone, Options: []string{"api", "audit_log"}})
		out.tenants[slug] = availTenant{admin: tn.key("admin"), viewer: tn.key("viewer")}
	}
	return out
}

type availAnswer struct {
	MenuID   string `json:"menu_id"`
	TimeZone string `json:"time_zone"`
	Slots    []struct {
		StartsAt  string  `json:"starts_at"`
		EndsAt    string  `json:"ends_at"`
		Remaining int     `json:"remaining"`
		SlotID    *string `json:"slot_id"`
	} `json:"slots"`
}

func (x *availAPI) avail(path, key string) availAnswer {
	x.t.Helper()
	code, body := x.call("GET", path, key, "")
	if code != 200 {
		x.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	var a availAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		x.t.Fatal(err)
	}
	for _, s := range a.Slots {
		if strings.HasSuffix(s.StartsAt, "Z") {
			x.t.Fatalf("%s: %s written as UTC, not with the tenant's offset", path, s.StartsAt)
		}
	}
	return a
}

func starts(a availAnswer) []string {
	var out []string
	for _, s := range a.Slots {
		out = append(out, s.StartsAt)
	}
	return out
}

const availRules = `"rules":{"opens_days_before":730,"closes_minutes_before":0,"closes_in_business_days":false,"closes_business_days":0,` +
	`"cancel_deadline_minutes":0,"change_deadline_minutes":0,"max_per_member":0,"max_per_member_period":"month"}`

// setUp gives slug every day open 00:00–04:00 and 10:00–12:00 and an hours
// menu of 60 minutes (2 seats), a private one, and a timetable menu; it
// returns their ids.
func (x *availAPI) setUp(slug string) (hours, private, yoga string) {
	k := x.tenants[slug].admin
	day := `[{"start":"00:00","end":"04:00"},{"start":"10:00","end":"12:00"}]`
	x.must(200, "PUT", "/api/v1/calendar", k, fmt.Sprintf(`{"weekly":{"mon":%[1]s,"tue":%[1]s,"wed":%[1]s,"thu":%[1]s,"fri":%[1]s,"sat":%[1]s,"sun":%[1]s}}`, day))
	menu := func(name, mode, vis string) string {
		m := x.must(201, "POST", "/api/v1/menus", k, fmt.Sprintf(`{"name":%q,"duration_minutes":60,"capacity":2,"booking_mode":%q,`+
			`"price":3000,"approval_required":false,"visibility":%q,%s}`, name, mode, vis, availRules))
		return m["id"].(string)
	}
	return menu("カット", "hours", "public"), menu("スタッフ用", "hours", "private"), menu("ヨガ", "timetable", "public")
}

// Availability through the real server: the public answer's shape, RFC
// 3339 times with the tenant's offsets across both 2026 daylight-saving
// changes in New York and London (each local time once, none the clocks
// skip), sessions with their ids, and the staff's view of a private menu.
func TestAvailabilityAPI(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		x := newAvailAPI(t, loc)
		cut, private, yoga := x.setUp("ny-salon")
		ny := x.tenants["ny-salon"]

		q := func(menu, from, to string) string {
			return fmt.Sprintf("/api/v1/public/ny-salon/availability?menu_id=%s&from=%s&to=%s", menu, from, to)
		}
		spring := x.avail(q(cut, "2026-03-08", "2026-03-08"), "")
		if spring.MenuID != cut || spring.TimeZone != "America/New_York" {
			t.Fatalf("answer %+v", spring)
		}
		want := []string{"2026-03-08T00:00:00-05:00", "2026-03-08T00:30:00-05:00", "2026-03-08T01:00:00-05:00", "2026-03-08T01:30:00-05:00",
			"2026-03-08T03:00:00-04:00", "2026-03-08T10:00:00-04:00", "2026-03-08T10:30:00-04:00", "2026-03-08T11:00:00-04:00"}
		if got := starts(spring); !slices.Equal(got, want) {
			t.Fatalf("New York, 8 March:\n%v\nwant\n%v", got, want)
		}
		if s := spring.Slots[3]; s.EndsAt != "2026-03-08T03:30:00-04:00" || s.Remaining != 2 || s.SlotID != nil {
			t.Fatalf("01:30 EST + 60 min: %+v", s)
		}
		fall := starts(x.avail(q(cut, "2026-11-01", "2026-11-01"), ""))
		want = []string{"2026-11-01T00:00:00-04:00", "2026-11-01T00:30:00-04:00", "2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00",
			"2026-11-01T02:00:00-05:00", "2026-11-01T02:30:00-05:00", "2026-11-01T03:00:00-05:00",
			"2026-11-01T10:00:00-05:00", "2026-11-01T10:30:00-05:00", "2026-11-01T11:00:00-05:00"}
		if !slices.Equal(fall, want) {
			t.Fatalf("New York, 1 November:\n%v\nwant\n%v", fall, want)
		}

		// London: 01:00 GMT → 02:00 BST on 29 March, back on 25 October.
		lcut, _, _ := x.setUp("london-salon")
		lq := func(day string) []string {
			return starts(x.avail(fmt.Sprintf("/api/v1/public/london-salon/availability?menu_id=%s&from=%s&to=%s", lcut, day, day), ""))
		}
		if got := lq("2026-03-29"); !slices.Equal(got[:5], []string{"2026-03-29T00:00:00+00:00", "2026-03-29T00:30:00+00:00",
			"2026-03-29T02:00:00+01:00", "2026-03-29T02:30:00+01:00", "2026-03-29T03:00:00+01:00"}) {
			t.Fatalf("London, 29 March: %v", got)
		}
		if got := lq("2026-10-25"); !slices.Equal(got[:7], []string{"2026-10-25T00:00:00+01:00", "2026-10-25T00:30:00+01:00",
			"2026-10-25T01:00:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-25T02:00:00+00:00", "2026-10-25T02:30:00+00:00",
			"2026-10-25T03:00:00+00:00"}) {
			t.Fatalf("London, 25 October: %v", got)
		}

		// A session of the timetable menu: listed with its id.
		x.must(201, "POST", "/api/v1/slots", ny.admin, fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-03-09T19:00"}`, yoga))
		sess := x.avail(q(yoga, "2026-03-01", "2026-03-31"), "")
		if len(sess.Slots) != 1 || sess.Slots[0].StartsAt != "2026-03-09T19:00:00-04:00" || sess.Slots[0].SlotID == nil || sess.Slots[0].Remaining != 2 {
			t.Fatalf("sessions: %+v", sess)
		}

		// A private menu: not found for the public, there for staff.
		if code, body := x.call("GET", q(private, "2026-03-08", "2026-03-08"), "", ""); code != 404 || !strings.Contains(body, `"menu_not_found"`) {
			t.Fatalf("a private menu for the public: %d %s", code, body)
		}
		staff := x.avail(fmt.Sprintf("/api/v1/availability?menu_id=%s&from=2026-03-08&to=2026-03-08", private), ny.viewer)
		if len(staff.Slots) != 8 {
			t.Fatalf("a private menu for staff: %+v", staff)
		}

		// A block of the whole business takes its time off the answer.
		b := x.must(201, "POST", "/api/v1/blocks", ny.admin, `{"starts_at":"2026-03-08T10:00:00-04:00","ends_at":"2026-03-08T12:00:00-04:00","reason":"棚卸し"}`)
		if b["starts_at"] != "2026-03-08T10:00:00-04:00" || b["provider_id"] != nil || b["reason"] != "棚卸し" {
			t.Fatalf("block %v", b)
		}
		if got := starts(x.avail(q(cut, "2026-03-08", "2026-03-08"), "")); len(got) != 5 {
			t.Fatalf("with the block: %v", got)
		}
		list := x.must(200, "GET", "/api/v1/blocks?from=2026-03-08&to=2026-03-08", ny.viewer, "")
		if items, _ := list["items"].([]any); len(items) != 1 {
			t.Fatalf("blocks: %v", list)
		}
		if code, _ := x.call("DELETE", "/api/v1/blocks/"+b["id"].(string), ny.viewer, ""); code != 403 {
			t.Fatalf("a viewer deleted a block: %d", code)
		}
		x.must(204, "DELETE", "/api/v1/blocks/"+b["id"].(string), ny.admin, "")
		if code, body := x.call("DELETE", "/api/v1/blocks/"+b["id"].(string), ny.admin, ""); code != 404 || !strings.Contains(body, `"block_not_found"`) {
			t.Fatalf("deleted twice: %d %s", code, body)
		}

		// The slot unit: 30 by default; 60 makes the grid hourly.
		if s := x.must(200, "GET", "/api/v1/calendar/settings", ny.viewer, ""); s["slot_unit_minutes"] != float64(30) {
			t.Fatalf("settings %v", s)
		}
		if code, _ := x.call("PUT", "/api/v1/calendar/settings", ny.viewer, `{"slot_unit_minutes":60}`); code != 403 {
			t.Fatalf("a viewer changed the settings: %d", code)
		}
		x.must(200, "PUT", "/api/v1/calendar/settings", ny.admin, `{"slot_unit_minutes":60}`)
		if got := starts(x.avail(q(cut, "2026-03-08", "2026-03-08"), "")); len(got) != 5 || got[1] != "2026-03-08T01:00:00-05:00" || got[2] != "2026-03-08T03:00:00-04:00" {
			t.Fatalf("hourly: %v", got)
		}
	})
}

// Bad questions through the real server: each a 400 with the field named,
// or a 404.
func TestAvailabilityAPIBadInput(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		x := newAvailAPI(t, loc)
		cut, private, _ := x.setUp("ny-salon")
		ny := x.tenants["ny-salon"]
		pub := "/api/v1/public/ny-salon/availability?"
		tests := []struct {
			name, path, key string
			status          int
			want            []string // field:code, or the problem's code
		}{
			{"2026-02-30", pub + "menu_id=" + cut + "&from=2026-02-30&to=2026-03-02", "", 400, []string{"from:calendar_date"}},
			{"from after to", pub + "menu_id=" + cut + "&from=2026-03-10&to=2026-03-09", "", 400, []string{"to:availability_to_before_from"}},
			{"ten years", pub + "menu_id=" + cut + "&from=2026-01-01&to=2035-12-31", "", 400, []string{"to:availability_range_too_long"}},
			{"93 days", pub + "menu_id=" + cut + "&from=2026-03-01&to=2026-06-01", "", 400, []string{"to:availability_range_too_long"}},
			{"nothing", pub, "", 400, []string{"menu_id:required", "from:required", "to:required"}},
			{"a date as a word", pub + "menu_id=" + cut + "&from=today&to=2026-03-02", "", 400, []string{"from:calendar_date"}},
			{"party not a number", pub + "menu_id=" + cut + "&from=2026-03-01&to=2026-03-02&party=two", "", 400, []string{"party:range"}},
			{"party above the menu's", pub + "menu_id=" + cut + "&from=2026-03-01&to=2026-03-02&party=3", "", 400, []string{"party:range"}},
			{"unknown option", pub + "menu_id=" + cut + "&from=2026-03-01&to=2026-03-02&options=nope", "", 400, []string{"options[0]:catalog_unknown_reference"}},
			{"unknown provider", pub + "menu_id=" + cut + "&from=2026-03-01&to=2026-03-02&provider_id=nobody", "", 400, []string{"provider_id:catalog_unknown_reference"}},
			{"unknown menu", pub + "menu_id=0123456789abcdef0123456789abcdef&from=2026-03-01&to=2026-03-02", "", 404, []string{"menu_not_found"}},
			{"private menu", pub + "menu_id=" + private + "&from=2026-03-01&to=2026-03-02", "", 404, []string{"menu_not_found"}},
			{"unknown tenant", "/api/v1/public/nowhere/availability?menu_id=" + cut + "&from=2026-03-01&to=2026-03-02", "", 404, []string{"tenant_not_found"}},
			{"staff: ten years", "/api/v1/availability?menu_id=" + cut + "&from=2026-01-01&to=2035-12-31", ny.viewer, 400, []string{"to:availability_range_too_long"}},
			{"staff: no key", "/api/v1/availability?menu_id=" + cut + "&from=2026-01-01&to=2026-01-02", "", 401, []string{"unauthorized"}},
			{"blocks: ten years", "/api/v1/blocks?from=2026-01-01&to=2035-12-31", ny.viewer, 400, []string{"to:availability_range_too_long"}},
		}
		for _, tt := range tests {
			code, body := x.call("GET", tt.path, tt.key, "")
			if code != tt.status {
				t.Errorf("%s: %d %s, want %d", tt.name, code, body, tt.status)
				continue
			}
			var p struct {
				Code   string                         `json:"code"`
				Errors []struct{ Field, Code string } `json:"errors"`
			}
			_ = json.Unmarshal([]byte(body), &p)
			var got []string
			for _, f := range p.Errors {
				got = append(got, f.Field+":"+f.Code)
			}
			if code != 400 {
				got = []string{p.Code}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: %v, want %v (%s)", tt.name, got, tt.want, body)
			}
		}

		// Blocks: a bad body changes nothing.
		for _, body := range []string{
			`{"starts_at":"2026-03-08T10:00:00-04:00","ends_at":"2026-03-08T09:00:00-04:00"}`,
			`{"starts_at":"2026-03-08 10:00","ends_at":"2026-03-08T12:00:00-04:00","provider_id":"nobody"}`,
			`{"starts_at":"2026-03-01T00:00:00-05:00","ends_at":"2026-04-15T00:00:00-04:00"}`,
			`{"starts_at":"2026-03-08T10:00:00-04:00","ends_at":"2026-03-08T12:00:00-04:00","room":"1"}`,
		} {
			if code, out := x.call("POST", "/api/v1/blocks", ny.admin, body); code != 400 || !strings.Contains(out, `"errors"`) {
				t.Errorf("block %s: %d %s", body, code, out)
			}
		}
		if list := x.must(200, "GET", "/api/v1/blocks?from=2026-03-01&to=2026-03-31", ny.viewer, ""); len(list["items"].([]any)) != 0 {
			t.Errorf("refused blocks were kept: %v", list)
		}
		if code, out := x.call("PUT", "/api/v1/calendar/settings", ny.admin, `{"slot_unit_minutes":7}`); code != 400 || !strings.Contains(out, `"catalog_step"`) {
			t.Errorf("unit 7: %d %s", code, out)
		}
	})
}
