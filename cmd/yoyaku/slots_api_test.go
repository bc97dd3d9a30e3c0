package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// slotsAPI is a real handler with a tenant in tz, keys of two roles and a
// way into the tenant's database (inDB, to play the part of reservations).
type slotsAPI struct{ *menusAPI }

func newSlotsAPI(t *testing.T, loc dbx.Location, tz string) *slotsAPI {
	t.Helper()
	x := newAPITenant(t, loc, tenants.CreateParams{Slug: "yoga-slots", Name: "ヨガ教室", TimeZone: tz,
		Options: []string{"api", "audit_log"}})
	return &slotsAPI{&menusAPI{apiTenant: x, admin: x.key("admin"), view: x.key("viewer")}}
}

// raw sends a request in English and returns the status, headers and body text.
func (s *slotsAPI) raw(method, path, key, body string, hdr ...string) (int, http.Header, string) {
	s.t.Helper()
	w := s.serve(method, path, key, body, append([]string{"Accept-Language", "en"}, hdr...)...)
	return w.Code, w.Header(), w.Body.String()
}

func (s *slotsAPI) slotCount() int {
	s.t.Helper()
	n := 0
	s.inDB(func(db bun.IDB) error {
		c, err := db.NewSelect().Table("timetable_slots").Count(context.Background())
		n = int(c)
		return err
	})
	return n
}

func idOf(m map[string]any) string { id, _ := m["id"].(string); return id }

// Timetable sessions through the real tenant API: a weekly series and a
// one-off event created (the series replayed by its Idempotency-Key),
// listed by dates and read; every bad input a 400 (or 409) with the field
// named and nothing made; capacity never below booked; a booked session
// not deleted; a series' future free sessions deleted; all of it audited.
func TestSlotsAPI(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		api := newSlotsAPI(t, loc, "Asia/Tokyo")
		admin, viewer := api.admin, api.view
		yoga := idOf(api.must(201, "POST", "/api/v1/menus", admin,
			`{"name":"朝ヨガ","duration_minutes":60,"capacity":12,"booking_mode":"timetable","price":2000,"approval_required":false}`))
		seminar := idOf(api.must(201, "POST", "/api/v1/menus", admin,
			`{"name":"セミナー","duration_minutes":90,"capacity":30,"booking_mode":"event","price":0,"approval_required":false}`))
		cut := idOf(api.must(201, "POST", "/api/v1/menus", admin,
			`{"name":"カット","duration_minutes":60,"capacity":1,"booking_mode":"hours","price":5000,"approval_required":false}`))

		// A viewer may look, not create.
		series := fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-12-07T10:00","recurrence":{"freq":"weekly","weekdays":["mon","wed"],"until":"2026-12-31"}}`, yoga)
		if code, _, body := api.raw("POST", "/api/v1/slots", viewer, series); code != 403 {
			t.Fatalf("a viewer created sessions: %d %s", code, body)
		}
		code, hdr, body := api.raw("POST", "/api/v1/slots", admin, series, "Idempotency-Key", "series-1")
		if code != 201 {
			t.Fatalf("create series: %d %s", code, body)
		}
		var created struct {
			Series *struct {
				ID         string `json:"id"`
				StartTime  string `json:"start_time"`
				TimeZone   string `json:"time_zone"`
				Recurrence struct {
					Weekdays []string `json:"weekdays"`
					Until    string   `json:"until"`
				} `json:"recurrence"`
			} `json:"series"`
			Slots []struct {
				ID        string  `json:"id"`
				StartsAt  string  `json:"starts_at"`
				EndsAt    string  `json:"ends_at"`
				Capacity  int     `json:"capacity"`
				Remaining int     `json:"remaining"`
				SeriesID  *string `json:"series_id"`
			} `json:"slots"`
		}
		if err := json.Unmarshal([]byte(body), &created); err != nil {
			t.Fatal(err)
		}
		// Mon 7, Wed 9, 14, 16, 21, 23, 28, 30 December.
		if created.Series == nil || len(created.Slots) != 8 || created.Series.StartTime != "10:00" || created.Series.TimeZone != "Asia/Tokyo" ||
			!slices.Equal(created.Series.Recurrence.Weekdays, []string{"mon", "wed"}) || created.Series.Recurrence.Until != "2026-12-31" ||
			hdr.Get("Location") != "/api/v1/slot-series/"+created.Series.ID {
			t.Fatalf("created series: %s (Location %q)", body, hdr.Get("Location"))
		}
		if s := created.Slots[0]; s.StartsAt != "2026-12-07T10:00:00+09:00" || s.EndsAt != "2026-12-07T11:00:00+09:00" || s.Capacity != 12 ||
			s.Remaining != 12 || s.SeriesID == nil || *s.SeriesID != created.Series.ID || created.Slots[7].StartsAt != "2026-12-30T10:00:00+09:00" {
			t.Fatalf("first and last session: %+v %+v", s, created.Slots[7])
		}
		// The same key and body: the same answer, nothing more made.
		if code, _, again := api.raw("POST", "/api/v1/slots", admin, series, "Idempotency-Key", "series-1"); code != 201 || again != body {
			t.Fatalf("replay: %d %s", code, again)
		}
		if n := api.slotCount(); n != 8 {
			t.Fatalf("%d sessions after a replay", n)
		}
		// A one-off event in RFC 3339, with its own capacity.
		code, hdr, body = api.raw("POST", "/api/v1/slots", admin, fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-12-12T05:00:00Z","capacity":20}`, seminar))
		if code != 201 || !strings.Contains(body, `"series":null`) || !strings.Contains(body, `"starts_at":"2026-12-12T14:00:00+09:00"`) ||
			!strings.Contains(body, `"ends_at":"2026-12-12T15:30:00+09:00"`) || !strings.HasPrefix(hdr.Get("Location"), "/api/v1/slots/") {
			t.Fatalf("one-off: %d %s", code, body)
		}
		eventID := strings.TrimPrefix(hdr.Get("Location"), "/api/v1/slots/")

		// Listing: by dates in the tenant's zone, a menu, pages.
		list := api.must(200, "GET", "/api/v1/slots?from=2026-12-07&to=2026-12-13", viewer, "")
		if got := items(list); len(got) != 3 || list["time_zone"] != "Asia/Tokyo" || got[2]["id"] != eventID {
			t.Fatalf("the week: %v", list)
		}
		page := api.must(200, "GET", "/api/v1/slots?from=2026-12-01&to=2026-12-31&menu_id="+yoga+"&limit=5", viewer, "")
		next, _ := page["next_cursor"].(string)
		rest := api.must(200, "GET", "/api/v1/slots?from=2026-12-01&to=2026-12-31&menu_id="+yoga+"&limit=5&cursor="+next, viewer, "")
		if len(items(page)) != 5 || next == "" || len(items(rest)) != 3 || rest["next_cursor"] != nil {
			t.Fatalf("pages: %v then %v", page, rest)
		}
		for _, tt := range []struct{ q, field string }{
			{"from=2026-12-01&to=2027-03-15", "to:slot_range_too_long"},
			{"from=2026-12-10&to=2026-12-01", "to:slot_range_order"},
			{"from=2026-02-30", "from:calendar_date"},
			{"limit=500", "limit:range"},
		} {
			code, p := api.callJSON("GET", "/api/v1/slots?"+tt.q, viewer, "")
			if code != 400 || !slices.Equal(fieldCodes(p), []string{tt.field}) {
				t.Errorf("list ?%s: %d %v", tt.q, code, p)
			}
		}
		api.must(200, "GET", "/api/v1/slots/"+eventID, viewer, "")
		if code, p := api.callJSON("GET", "/api/v1/slots/0123456789abcdef0123456789abcdef", viewer, ""); code != 404 || p["code"] != "slot_not_found" {
			t.Fatalf("unknown session: %d %v", code, p)
		}
		ser := api.must(200, "GET", "/api/v1/slot-series/"+created.Series.ID, viewer, "")
		if sl, _ := ser["slots"].([]any); len(sl) != 8 || ser["start_time"] != "10:00" {
			t.Fatalf("series: %v", ser)
		}

		// Bad input: 400 (or 409) with the fields named; nothing made.
		before := api.slotCount()
		bad := []struct {
			name, body string
			fields     []string
		}{
			{"end before start", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-12-07T10:00","recurrence":{"freq":"weekly","weekdays":["mon"],"until":"2026-12-01"}}`, yoga), []string{"recurrence.until:slot_until_before_start"}},
			{"2026-02-30", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-02-30T10:00"}`, seminar), []string{"starts_at:slot_datetime"}},
			{"24:30", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-12-20T24:30"}`, seminar), []string{"starts_at:slot_datetime"}},
			{"zero capacity", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-12-20T10:00","capacity":0}`, seminar), []string{"capacity:range"}},
			{"negative capacity", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-12-20T10:00","capacity":-1}`, seminar), []string{"capacity:range"}},
			{"unknown menu", `{"menu_id":"0123456789abcdef0123456789abcdef","starts_at":"2026-12-20T10:00"}`, []string{"menu_id:catalog_unknown_reference"}},
			{"hours menu", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-12-20T10:00"}`, cut), []string{"menu_id:slot_menu_mode"}},
			{"recurrence for an event", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-12-20T10:00","recurrence":{"freq":"weekly","weekdays":["sun"],"until":"2027-01-31"}}`, seminar), []string{"recurrence:slot_recurrence_not_allowed"}},
			{"10-year until", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-12-20T10:00","recurrence":{"freq":"monthly","nth":2,"weekday":"wed","until":"2036-12-31"}}`, yoga), []string{"recurrence.until:slot_too_far"}},
			{"no start", fmt.Sprintf(`{"menu_id":%q}`, yoga), []string{"starts_at:required"}},
			{"unknown field", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-12-20T10:00","ends_at":"2026-12-20T11:00"}`, yoga), []string{"ends_at:unknown_field"}},
			{"capacity as text", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-12-20T10:00","capacity":"ten"}`, yoga), []string{"capacity:type"}},
		}
		for _, tt := range bad {
			code, p := api.callJSON("POST", "/api/v1/slots", admin, tt.body, "Accept-Language", "ja")
			if code != 400 || !slices.Equal(fieldCodes(p), tt.fields) {
				t.Errorf("%s: %d %v, want 400 %v", tt.name, code, p, tt.fields)
				continue
			}
			for _, e := range p["errors"].([]any) {
				if msg, _ := e.(map[string]any)["message"].(string); msg == "" || strings.HasPrefix(msg, "field.") {
					t.Errorf("%s: no message for %v", tt.name, e)
				}
			}
		}
		if n := api.slotCount(); n != before {
			t.Fatalf("refused input made %d sessions", n-before)
		}

		// Capacity below booked: 409, nothing changes. Reservations take
		// seats with their guarded statement; here it is played directly.
		s0 := created.Slots[0].ID
		api.inDB(func(db bun.IDB) error {
			res, err := db.NewUpdate().Table("timetable_slots").Set("booked = booked + ?", 7).
				Where("id = ? AND closed = ? AND booked + ? <= capacity", s0, false, 7).Exec(context.Background())
			if n, _ := res.RowsAffected(); err == nil && n != 1 {
				return fmt.Errorf("booking refused")
			}
			return err
		})
		code, p := api.callJSON("PATCH", "/api/v1/slots/"+s0, admin, `{"capacity":6,"closed":true}`)
		if code != 409 || p["code"] != "slot_capacity_below_booked" || !strings.Contains(fmt.Sprint(p["detail"]), "7") {
			t.Fatalf("capacity below booked: %d %v", code, p)
		}
		if got := api.must(200, "GET", "/api/v1/slots/"+s0, viewer, ""); got["capacity"] != 12.0 || got["closed"] != false || got["booked"] != 7.0 {
			t.Fatalf("after the refusal: %v", got)
		}
		if got := api.must(200, "PATCH", "/api/v1/slots/"+s0, admin, `{"capacity":7,"closed":true}`); got["capacity"] != 7.0 || got["closed"] != true || got["remaining"] != 0.0 {
			t.Fatalf("to booked and closed: %v", got)
		}
		if got := api.must(200, "PATCH", "/api/v1/slots/"+s0, admin, `{"closed":false}`); got["closed"] != false || got["remaining"] != 0.0 {
			t.Fatalf("reopened: %v", got)
		}
		if code, p := api.callJSON("PATCH", "/api/v1/slots/"+s0, viewer, `{"closed":true}`); code != 403 {
			t.Fatalf("a viewer closed a session: %d %v", code, p)
		}

		// A booked session stays; a free one goes.
		if code, p := api.callJSON("DELETE", "/api/v1/slots/"+s0, admin, ""); code != 409 || p["code"] != "slot_booked" {
			t.Fatalf("delete booked: %d %v", code, p)
		}
		if code, _, body := api.raw("DELETE", "/api/v1/slots/"+eventID, admin, ""); code != 204 {
			t.Fatalf("delete free: %d %s", code, body)
		}
		if code, _ := api.callJSON("GET", "/api/v1/slots/"+eventID, viewer, ""); code != 404 {
			t.Fatalf("a deleted session: %d", code)
		}
		// The series' future free sessions go, the booked one stays.
		del := api.must(200, "DELETE", "/api/v1/slot-series/"+created.Series.ID, admin, "")
		if d, _ := del["deleted"].([]any); len(d) != 7 || fmt.Sprint(del["kept"]) != "["+s0+"]" {
			t.Fatalf("series deletion: %v", del)
		}

		// Every change is in the operation log.
		for action, want := range map[string]int{"slot.series.create": 1, "slot.create": 1, "slot.update": 2, "slot.delete": 1, "slot.series.delete": 1} {
			code, _, log := api.raw("GET", "/api/v1/audit?action="+action, admin, "")
			if code != 200 || strings.Count(log, `"action":"`+action+`"`) != want {
				t.Errorf("audit %s: %d %s", action, code, log)
			}
		}
	})
}
