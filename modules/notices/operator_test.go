package notices_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/notices"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// days from the test clock's start.
func days(n float64) time.Time { return start.Add(time.Duration(n * float64(24*time.Hour))) }

func TestCreateValidation(t *testing.T) {
	type tc struct {
		name       string
		call       call
		wantStatus int
		wantCode   string   // problem code, for errors
		wantFields []string // "field:code"
		wantArgs   string   // a text the first field message must contain
	}
	notice := func(fields string) string {
		return `{"title":"定期メンテナンスのお知らせ","body":"サービスを停止します。\nご了承ください。"` + fields + `}`
	}
	window := func(from, to float64) string {
		return `,"starts_at":"` + at(days(from)) + `","ends_at":"` + at(days(to)) + `"`
	}
	cases := []tc{
		{"info without a window", call{body: notice(`,"kind":"info"`)}, 201, "", nil, ""},
		{"incident now", call{body: notice(`,"kind":"incident","tenants":[]`)}, 201, "", nil, ""},
		{"maintenance 15 days ahead", call{body: notice(`,"kind":"maintenance"` + window(15, 15.2))}, 201, "", nil, ""},
		{"maintenance exactly 14 days ahead", call{body: notice(`,"kind":"maintenance"` + window(14, 14.1))}, 201, "", nil, ""},
		{"maintenance 13 days ahead", call{body: notice(`,"kind":"maintenance"` + window(13.9, 14.1))}, 400, "validation", []string{"starts_at:notice_too_soon"}, "14"},
		{"maintenance 13 days ahead, English", call{body: notice(`,"kind":"maintenance"` + window(13, 13.1)), lang: "en"}, 400, "validation", []string{"starts_at:notice_too_soon"}, "at least 14 days"},
		{"maintenance in the past", call{body: notice(`,"kind":"maintenance"` + window(-1, -0.9))}, 400, "validation", []string{"starts_at:notice_too_soon"}, "14"},
		{"urgent maintenance tomorrow", call{body: notice(`,"kind":"maintenance","urgent":true` + window(1, 1.1))}, 201, "", nil, ""},
		{"maintenance without a window", call{body: notice(`,"kind":"maintenance"`)}, 400, "validation", []string{"starts_at:required", "ends_at:required"}, ""},
		{"maintenance without an end", call{body: notice(`,"kind":"maintenance","starts_at":"` + at(days(20)) + `"`)}, 400, "validation", []string{"ends_at:required"}, ""},
		{"end of service 29 days ahead", call{body: notice(`,"kind":"end_of_service","starts_at":"` + at(days(29)) + `"`)}, 400, "validation", []string{"starts_at:notice_too_soon"}, "30"},
		{"end of service 31 days ahead", call{body: notice(`,"kind":"end_of_service","starts_at":"` + at(days(31)) + `"`)}, 201, "", nil, ""},
		{"urgent end of service", call{body: notice(`,"kind":"end_of_service","urgent":true,"starts_at":"` + at(days(3)) + `"`)}, 201, "", nil, ""},
		{"end of service without a date", call{body: notice(`,"kind":"end_of_service"`)}, 400, "validation", []string{"starts_at:required"}, ""},
		{"ends before it starts", call{body: notice(`,"kind":"maintenance"` + window(20, 19))}, 400, "validation", []string{"ends_at:notice_ends_before_start"}, ""},
		{"ends as it starts", call{body: notice(`,"kind":"info"` + window(1, 1))}, 400, "validation", []string{"ends_at:notice_ends_before_start"}, ""},
		{"urgent does not excuse a bad window", call{body: notice(`,"kind":"maintenance","urgent":true` + window(2, 1))}, 400, "validation", []string{"ends_at:notice_ends_before_start"}, ""},
		{"not RFC 3339", call{body: notice(`,"kind":"info","starts_at":"2026-12-20 10:00"`)}, 400, "validation", []string{"starts_at:notice_datetime"}, "RFC 3339"},
		{"no offset", call{body: notice(`,"kind":"info","ends_at":"2026-12-20T10:00:00"`)}, 400, "validation", []string{"ends_at:notice_datetime"}, ""},
		{"unknown kind", call{body: notice(`,"kind":"outage"`)}, 400, "validation", []string{"kind:oneof"}, "maintenance"},
		{"no kind", call{body: notice(``)}, 400, "validation", []string{"kind:required"}, ""},
		{"no title", call{body: `{"kind":"info","title":"  ","body":"x"}`}, 400, "validation", []string{"title:required"}, ""},
		{"long title", call{body: `{"kind":"info","title":"` + strings.Repeat("長", 201) + `","body":"x"}`}, 400, "validation", []string{"title:max"}, "200"},
		{"title with a line break", call{body: `{"kind":"info","title":"a\nb","body":"x"}`}, 400, "validation", []string{"title:nocontrol"}, ""},
		{"no body", call{body: `{"kind":"info","title":"t","body":"\n \n"}`}, 400, "validation", []string{"body:required"}, ""},
		{"body with a bell", call{body: `{"kind":"info","title":"t","body":"ding\u0007"}`}, 400, "validation", []string{"body:notice_control_chars"}, ""},
		{"unknown tenant", call{body: notice(`,"kind":"info","tenants":["salon-a","no-such-shop"]`)}, 400, "validation", []string{"tenants[1]:notice_tenant_unknown"}, ""},
		{"malformed tenant", call{body: notice(`,"kind":"info","tenants":["Salon A"]`)}, 400, "validation", []string{"tenants[0]:notice_tenant_unknown"}, ""},
		{"terminated tenant", call{body: notice(`,"kind":"info","tenants":["salon-gone"]`)}, 400, "validation", []string{"tenants[0]:notice_tenant_unknown"}, ""},
		{"tenant twice", call{body: notice(`,"kind":"info","tenants":["salon-a","salon-a"]`)}, 400, "validation", []string{"tenants[1]:duplicate"}, ""},
		{"everything wrong", call{body: `{"kind":"maintenance","title":"","body":"","starts_at":"soon","tenants":["nope"]}`}, 400, "validation",
			[]string{"title:required", "body:required", "starts_at:notice_datetime", "ends_at:required", "tenants[0]:notice_tenant_unknown"}, ""},
		{"malformed JSON", call{body: `{"kind":"info",`}, 400, "malformed_json", nil, ""},
		{"unknown field", call{body: notice(`,"kind":"info","audience":"all"`)}, 400, "validation", []string{"audience:unknown_field"}, ""},
		{"wrong type", call{body: notice(`,"kind":"info","urgent":"yes"`)}, 400, "validation", []string{"urgent:type"}, ""},
		{"tenants not a list", call{body: notice(`,"kind":"info","tenants":"salon-a"`)}, 400, "validation", []string{"tenants:type"}, ""},
		{"text body", call{body: `kind=info`, contentType: "text/plain"}, 415, "unsupported_media_type", nil, ""},
		{"no token", call{body: notice(`,"kind":"info"`), auth: "-"}, 401, "unauthorized", nil, ""},
		{"wrong token", call{body: notice(`,"kind":"info"`), auth: "Bearer nope"}, 401, "unauthorized", nil, ""},
	}
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		r := newServer(t, e)
		e.tenant(t, "salon-a")
		gone := e.tenant(t, "salon-gone")
		if _, err := e.tenants.Update(context.Background(), gone.Slug, tenants.UpdateParams{Status: ptr(tenants.StatusTerminated)}); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				c.call.method, c.call.url = "POST", "/api/v1/platform/notices"
				before := e.count(t)
				w := do(t, r, c.call)
				if w.Code != c.wantStatus {
					t.Fatalf("status %d, want %d; body %s", w.Code, c.wantStatus, w.Body)
				}
				if c.wantStatus == http.StatusCreated {
					v := decodeView(t, w)
					if v.ID == "" || w.Header().Get("Location") != "/api/v1/platform/notices/"+v.ID || v.Revision != 1 || v.Tenants == nil {
						t.Errorf("created %+v, Location %q", v, w.Header().Get("Location"))
					}
					if e.count(t) != before+1 {
						t.Errorf("not stored")
					}
					return
				}
				p := decodeProblem(t, w)
				if p.Code != c.wantCode {
					t.Errorf("code %q, want %q", p.Code, c.wantCode)
				}
				var fields []string
				for _, f := range p.Errors {
					fields = append(fields, f.Field+":"+f.Code)
					if f.Message == "" || strings.HasPrefix(f.Message, "field.") {
						t.Errorf("field %s has no message: %q", f.Field, f.Message)
					}
				}
				if !slices.Equal(fields, c.wantFields) {
					t.Errorf("fields %v, want %v", fields, c.wantFields)
				}
				if c.wantArgs != "" && (len(p.Errors) == 0 || !strings.Contains(p.Errors[0].Message, c.wantArgs)) {
					t.Errorf("message %+v does not say %q", p.Errors, c.wantArgs)
				}
				if e.count(t) != before {
					t.Errorf("a refused notice was stored")
				}
			})
		}
	})
}

func ptr[T any](v T) *T { return &v }

// The same rules hold for the service called directly (the CLI's path).
func TestCreateServiceRules(t *testing.T) {
	e := newEnv(t, dbtest.NewLocation(t, dbx.SQLite))
	ctx := context.Background()
	_, err := e.svc.Create(ctx, notices.CreateParams{Kind: notices.KindMaintenance, Title: "t", Body: "b",
		StartsAt: at(days(10)), EndsAt: at(days(10.1))})
	if got := fieldsOf(err); !slices.Equal(got, []string{"starts_at:notice_too_soon"}) {
		t.Fatalf("10 days ahead: %v (%v)", got, err)
	}
	n, err := e.svc.Create(ctx, notices.CreateParams{Kind: notices.KindMaintenance, Title: " t ", Body: "a\r\nb\tc",
		StartsAt: "2026-12-20T10:00:00+09:00", EndsAt: "2026-12-20T12:00:00+09:00"})
	if err != nil {
		t.Fatal(err)
	}
	if n.Title != "t" || n.Body != "a\nb    c" || !n.StartsAt.Equal(time.Date(2026, 12, 20, 1, 0, 0, 0, time.UTC)) ||
		n.StartsAt.Location() != time.UTC || !n.ForAll() || n.State(e.clock.Now()) != notices.StateUpcoming {
		t.Errorf("stored %+v", n)
	}
	got, err := e.svc.Get(ctx, n.ID)
	if err != nil || !got.StartsAt.Equal(n.StartsAt) || !got.EndsAt.Equal(n.EndsAt) || got.Body != n.Body || !got.CreatedAt.Equal(n.CreatedAt) {
		t.Errorf("read back %+v, %v; want %+v", got, err, n)
	}
}

func TestOperatorAPI(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		r := newServer(t, e)
		e.tenant(t, "salon-a")
		e.tenant(t, "salon-b")

		mnt := post(t, r, `{"kind":"maintenance","title":"サーバー移設","body":"停止します","starts_at":"`+at(days(20))+`","ends_at":"`+at(days(20.25))+`","tenants":["salon-b","salon-a"]}`)
		if !slices.Equal(mnt.Tenants, []string{"salon-a", "salon-b"}) || mnt.State != "upcoming" || mnt.Urgent {
			t.Errorf("created %+v", mnt)
		}
		inc := post(t, r, `{"kind":"incident","title":"メール遅延","body":"調査中です"}`)
		if inc.State != "active" || inc.EndsAt != nil || !inc.StartsAt.Equal(start) || len(inc.Tenants) != 0 {
			t.Errorf("incident %+v", inc)
		}
		old := post(t, r, `{"kind":"info","title":"旧機能","body":"終了しました","starts_at":"`+at(days(-10))+`","ends_at":"`+at(days(-5))+`"}`)
		if old.State != "ended" {
			t.Errorf("old %+v", old)
		}

		w := do(t, r, call{method: "GET", url: "/api/v1/platform/notices/" + mnt.ID})
		if w.Code != 200 || decodeView(t, w).Title != "サーバー移設" {
			t.Fatalf("get: %d %s", w.Code, w.Body)
		}
		for _, bad := range []string{"no-such-id", strings.Repeat("0", 32), "%27%20OR%201=1"} {
			if w := do(t, r, call{method: "GET", url: "/api/v1/platform/notices/" + bad}); w.Code != 404 || decodeProblem(t, w).Code != "notice_not_found" {
				t.Errorf("get %s: %d %s", bad, w.Code, w.Body)
			}
		}

		list := func(query string) []string {
			t.Helper()
			w := do(t, r, call{method: "GET", url: "/api/v1/platform/notices" + query})
			if w.Code != 200 {
				t.Fatalf("list %s: %d %s", query, w.Code, w.Body)
			}
			var page struct {
				Items      []noticeJSON `json:"items"`
				NextCursor string       `json:"next_cursor"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, it := range page.Items {
				ids = append(ids, it.ID)
			}
			if page.NextCursor != "" {
				ids = append(ids, "next:"+page.NextCursor)
			}
			return ids
		}
		if got := list(""); !slices.Equal(got, []string{old.ID, inc.ID, mnt.ID}) {
			t.Errorf("all, newest first: %v", got)
		}
		if got := list("?state=upcoming"); !slices.Equal(got, []string{mnt.ID}) {
			t.Errorf("upcoming: %v", got)
		}
		if got := list("?state=active"); !slices.Equal(got, []string{inc.ID}) {
			t.Errorf("active: %v", got)
		}
		if got := list("?state=ended"); !slices.Equal(got, []string{old.ID}) {
			t.Errorf("ended: %v", got)
		}
		if got := list("?limit=2"); !slices.Equal(got, []string{old.ID, inc.ID, "next:" + inc.ID}) {
			t.Errorf("page 1: %v", got)
		}
		if got := list("?limit=2&cursor=" + inc.ID); !slices.Equal(got, []string{mnt.ID}) {
			t.Errorf("page 2: %v", got)
		}
		for _, q := range []string{"?state=soon", "?limit=5000", "?limit=x", "?cursor=zzz"} {
			if w := do(t, r, call{method: "GET", url: "/api/v1/platform/notices" + q}); w.Code != 400 {
				t.Errorf("list %s: %d %s", q, w.Code, w.Body)
			}
		}

		patch := func(id, body string) (int, noticeJSON, problem) {
			t.Helper()
			w := do(t, r, call{method: "PATCH", url: "/api/v1/platform/notices/" + id, body: body})
			if w.Code == 200 {
				return w.Code, decodeView(t, w), problem{}
			}
			return w.Code, noticeJSON{}, decodeProblem(t, w)
		}
		// Later is always fine; earlier is held to the 14 days.
		code, v, p := patch(mnt.ID, `{"title":"サーバー移設（延期）","starts_at":"`+at(days(25))+`","ends_at":"`+at(days(25.25))+`"}`)
		if code != 200 || v.Title != "サーバー移設（延期）" || !v.StartsAt.Equal(days(25)) || v.Revision != 2 || !slices.Equal(v.Tenants, []string{"salon-a", "salon-b"}) {
			t.Fatalf("postpone: %d %+v %+v", code, v, p)
		}
		code, _, p = patch(mnt.ID, `{"starts_at":"`+at(days(10))+`"}`)
		if code != 400 || p.Errors[0].Field+":"+p.Errors[0].Code != "starts_at:notice_too_soon" {
			t.Fatalf("bring forward to 10 days: %d %+v", code, p)
		}
		code, _, p = patch(mnt.ID, `{"ends_at":"`+at(days(24))+`"}`)
		if code != 400 || p.Errors[0].Code != "notice_ends_before_start" {
			t.Fatalf("end before start: %d %+v", code, p)
		}
		code, v, _ = patch(mnt.ID, `{"starts_at":"`+at(days(10))+`","urgent":true}`)
		if code != 200 || !v.Urgent || v.Revision != 3 {
			t.Fatalf("urgent bring forward: %d %+v", code, v)
		}
		// Text only, even inside the 14 days now: fine.
		e.clock.Set(days(5))
		code, v, _ = patch(mnt.ID, `{"body":"停止します。\n詳細は追って。","urgent":false}`)
		if code != 200 || v.Body != "停止します。\n詳細は追って。" || v.Urgent {
			t.Fatalf("text change: %d %+v", code, v)
		}
		code, v, _ = patch(inc.ID, `{"ends_at":"`+at(days(5))+`"}`)
		if code != 200 || v.State != "ended" {
			t.Fatalf("incident resolved: %d %+v", code, v)
		}
		for _, c := range []struct{ body, field string }{
			{`{"kind":"info"}`, "kind:unknown_field"},
			{`{"tenants":[]}`, "tenants:unknown_field"},
			{`{"title":""}`, "title:required"},
			{`{"starts_at":""}`, "starts_at:required"},
			{`{"ends_at":"tomorrow"}`, "ends_at:notice_datetime"},
		} {
			before, _ := e.svc.Get(context.Background(), mnt.ID)
			code, _, p := patch(mnt.ID, c.body)
			if code != 400 || len(p.Errors) != 1 || p.Errors[0].Field+":"+p.Errors[0].Code != c.field {
				t.Errorf("patch %s: %d %+v", c.body, code, p)
			}
			if after, _ := e.svc.Get(context.Background(), mnt.ID); after.Revision != before.Revision {
				t.Errorf("refused patch %s changed the notice", c.body)
			}
		}
		if code, _, p := patch(strings.Repeat("a", 32), `{"title":"x"}`); code != 404 || p.Code != "notice_not_found" {
			t.Errorf("patch missing: %d %+v", code, p)
		}

		if w := do(t, r, call{method: "DELETE", url: "/api/v1/platform/notices/" + mnt.ID}); w.Code != 204 || w.Body.Len() != 0 {
			t.Fatalf("withdraw: %d %s", w.Code, w.Body)
		}
		w = do(t, r, call{method: "GET", url: "/api/v1/platform/notices/" + mnt.ID})
		if v := decodeView(t, w); v.State != "withdrawn" || v.WithdrawnAt == nil || !v.WithdrawnAt.Equal(days(5)) {
			t.Errorf("withdrawn: %+v", v)
		}
		if w := do(t, r, call{method: "DELETE", url: "/api/v1/platform/notices/" + mnt.ID}); w.Code != 204 {
			t.Errorf("withdraw again: %d %s", w.Code, w.Body)
		}
		if code, _, p := patch(mnt.ID, `{"title":"x"}`); code != 409 || p.Code != "notice_withdrawn" {
			t.Errorf("patch withdrawn: %d %+v", code, p)
		}
		if got := list("?state=withdrawn"); !slices.Equal(got, []string{mnt.ID}) {
			t.Errorf("withdrawn list: %v", got)
		}
		if w := do(t, r, call{method: "DELETE", url: "/api/v1/platform/notices/" + strings.Repeat("b", 32)}); w.Code != 404 {
			t.Errorf("withdraw missing: %d", w.Code)
		}
		if w := do(t, r, call{method: "DELETE", url: "/api/v1/platform/notices/" + inc.ID, auth: "-"}); w.Code != 401 {
			t.Errorf("withdraw without token: %d", w.Code)
		}
	})
}

func TestOnPublished(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		r := newServer(t, e)
		ctx := context.Background()
		e.tenant(t, "salon-a")
		e.tenant(t, "salon-b")
		e.tenant(t, "salon-c")
		if _, err := e.tenants.Update(ctx, "salon-c", tenants.UpdateParams{Status: ptr(tenants.StatusSuspended)}); err != nil {
			t.Fatal(err)
		}
		e.tenant(t, "salon-d")
		if _, err := e.tenants.Update(ctx, "salon-d", tenants.UpdateParams{Status: ptr(tenants.StatusTerminated)}); err != nil {
			t.Fatal(err)
		}

		// Information and incidents are not mailed.
		post(t, r, `{"kind":"info","title":"i","body":"b"}`)
		post(t, r, `{"kind":"incident","title":"i","body":"b"}`)
		if calls := e.hook.taken(); len(calls) != 0 {
			t.Fatalf("info and incident mailed: %+v", calls)
		}

		// Maintenance for all: every tenant that is not terminated.
		m := post(t, r, `{"kind":"maintenance","title":"m","body":"b","starts_at":"`+at(days(15))+`","ends_at":"`+at(days(15.1))+`"}`)
		calls := e.hook.taken()
		if len(calls) != 1 || calls[0].notice.ID != m.ID || !slices.Equal(calls[0].tenants, []string{"salon-a", "salon-b", "salon-c"}) {
			t.Fatalf("maintenance for all: %+v", calls)
		}
		if m.AnnouncedAt == nil || !m.AnnouncedAt.Equal(start) {
			t.Errorf("announced_at %v", m.AnnouncedAt)
		}

		// End of service for one tenant: that tenant.
		post(t, r, `{"kind":"end_of_service","title":"e","body":"b","starts_at":"`+at(days(40))+`","tenants":["salon-b"]}`)
		if calls := e.hook.taken(); len(calls) != 1 || !slices.Equal(calls[0].tenants, []string{"salon-b"}) || calls[0].notice.Kind != notices.KindEndOfService {
			t.Fatalf("end of service for one: %+v", calls)
		}

		// A failing hook leaves the notice standing and pending.
		e.hook.setFail(true)
		p := post(t, r, `{"kind":"maintenance","title":"p","body":"b","starts_at":"`+at(days(16))+`","ends_at":"`+at(days(16.1))+`","tenants":["salon-a"]}`)
		if p.AnnouncedAt != nil {
			t.Errorf("failed announcement recorded: %+v", p)
		}
		if n, err := e.svc.AnnouncePending(ctx); err != nil || n != 0 {
			t.Errorf("retry while failing: %d %v", n, err)
		}
		e.hook.setFail(false)
		e.clock.Add(time.Minute)
		if n, err := e.svc.AnnouncePending(ctx); err != nil || n != 1 {
			t.Fatalf("retry: %d %v", n, err)
		}
		if calls := e.hook.taken(); len(calls) != 1 || calls[0].notice.ID != p.ID || !slices.Equal(calls[0].tenants, []string{"salon-a"}) {
			t.Fatalf("retried: %+v", calls)
		}
		if n, err := e.svc.AnnouncePending(ctx); err != nil || n != 0 {
			t.Errorf("nothing left to retry: %d %v", n, err)
		}
		if got, _ := e.svc.Get(ctx, p.ID); !got.AnnouncedAt.Equal(start.Add(time.Minute)) {
			t.Errorf("announced_at after retry: %v", got.AnnouncedAt)
		}

		// A moved window is announced again, as a new revision; a text
		// change is not.
		if _, err := e.svc.Update(ctx, m.ID, notices.UpdateParams{Title: ptr("m2")}); err != nil {
			t.Fatal(err)
		}
		if calls := e.hook.taken(); len(calls) != 0 {
			t.Errorf("title change mailed: %+v", calls)
		}
		if _, err := e.svc.Update(ctx, m.ID, notices.UpdateParams{EndsAt: ptr(at(days(15.2)))}); err != nil {
			t.Fatal(err)
		}
		if calls := e.hook.taken(); len(calls) != 1 || calls[0].notice.Revision != 3 || !calls[0].notice.EndsAt.Equal(days(15.2)) {
			t.Errorf("window change: %+v", calls)
		}
		// Withdrawn notices are not retried.
		e.hook.setFail(true)
		if _, err := e.svc.Update(ctx, m.ID, notices.UpdateParams{EndsAt: ptr(at(days(15.3)))}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Withdraw(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		e.hook.setFail(false)
		if n, err := e.svc.AnnouncePending(ctx); err != nil || n != 0 {
			t.Errorf("withdrawn retried: %d %v", n, err)
		}
	})
}
