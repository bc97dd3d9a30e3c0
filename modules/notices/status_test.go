package notices_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/notices"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

var tokyo = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		panic(err)
	}
	return loc
}()

func jst(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, tokyo)
}

// day returns a component's day from a status.
func dayOf(t *testing.T, st notices.Status, c notices.Component, date string) notices.Day {
	t.Helper()
	for _, cs := range st.Components {
		if cs.Component != c {
			continue
		}
		for _, d := range cs.Days {
			if d.Date == date {
				return d
			}
		}
		t.Fatalf("%s has no day %s", c, date)
	}
	t.Fatalf("no component %s", c)
	return notices.Day{}
}

func component(st notices.Status, c notices.Component) notices.ComponentStatus {
	for _, cs := range st.Components {
		if cs.Component == c {
			return cs
		}
	}
	return notices.ComponentStatus{}
}

func TestAvailabilityOverDays(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		ctx := context.Background()
		var apiOK atomic.Bool
		apiOK.Store(true)
		apiCheck := func(context.Context) error {
			if !apiOK.Load() {
				return errors.New("API down")
			}
			return nil
		}
		k := e.svc.NewChecker(notices.CheckerConfig{})
		if err := k.Register(notices.ComponentAPI, apiCheck); err != nil {
			t.Fatal(err)
		}
		if err := k.Register(notices.ComponentMail, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if err := k.Register("database", apiCheck); err == nil {
			t.Error("a check for an unknown component was accepted")
		}
		// Another process checking the same components.
		other := e.svc.NewChecker(notices.CheckerConfig{})
		_ = other.Register(notices.ComponentAPI, apiCheck)
		_ = other.Register(notices.ComponentMail, func(context.Context) error { return nil })

		checkAt := func(k *notices.Checker, t0 time.Time) {
			t.Helper()
			e.clock.Set(t0)
			if err := k.CheckOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		status := func() notices.Status {
			t.Helper()
			st, err := e.svc.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}

		// 29 November, 23:50–23:59 in Tokyo: ten good minutes.
		for i := range 10 {
			checkAt(k, jst(2026, 11, 29, 23, 50+i, 10))
		}
		// 30 November 00:05: the five minutes nobody checked count as down.
		checkAt(k, jst(2026, 11, 30, 0, 5, 20))
		apiOK.Store(false)
		checkAt(k, jst(2026, 11, 30, 0, 6, 10))
		if st := status(); component(st, notices.ComponentAPI).Health != notices.HealthOutage || st.Overall != notices.OverallOutage {
			t.Errorf("API failing: %+v", component(st, notices.ComponentAPI))
		}
		// The same minute again, now passing: already counted.
		apiOK.Store(true)
		checkAt(k, jst(2026, 11, 30, 0, 6, 40))
		// 00:07 checked by both processes: counted once.
		checkAt(other, jst(2026, 11, 30, 0, 7, 5))
		checkAt(k, jst(2026, 11, 30, 0, 7, 6))

		e.clock.Set(jst(2026, 11, 30, 0, 7, 30))
		st := status()
		api := component(st, notices.ComponentAPI)
		if len(api.Days) != notices.HistoryDays || api.Days[89].Date != "2026-11-30" || api.Days[0].Date != "2026-09-02" {
			t.Fatalf("days %d, from %s to %s", len(api.Days), api.Days[0].Date, api.Days[len(api.Days)-1].Date)
		}
		if d := dayOf(t, st, notices.ComponentAPI, "2026-11-29"); d.OKMinutes != 10 || d.TotalMinutes != 10 {
			t.Errorf("API 29 Nov %+v", d)
		}
		if d := dayOf(t, st, notices.ComponentAPI, "2026-11-30"); d.OKMinutes != 2 || d.TotalMinutes != 8 {
			t.Errorf("API 30 Nov %+v", d)
		}
		if p, ok := dayOf(t, st, notices.ComponentAPI, "2026-11-30").Availability(); !ok || p != 25 {
			t.Errorf("API 30 Nov availability %v %v", p, ok)
		}
		if p, ok := api.Availability(); !ok || p != 66.66 { // 12 of 18, rounded down
			t.Errorf("API 90 days %v %v", p, ok)
		}
		if api.Health != notices.HealthOperational || !api.Since.Equal(jst(2026, 11, 30, 0, 7, 5)) || !api.CheckedAt.Equal(jst(2026, 11, 30, 0, 7, 5)) {
			t.Errorf("API now %+v", api)
		}
		if d := dayOf(t, st, notices.ComponentMail, "2026-11-30"); d.OKMinutes != 3 || d.TotalMinutes != 8 {
			t.Errorf("mail 30 Nov %+v", d)
		}
		site := component(st, notices.ComponentSite)
		if _, ok := site.Availability(); ok || site.Health != notices.HealthUnknown || !site.CheckedAt.IsZero() {
			t.Errorf("unchecked component %+v", site)
		}
		if st.Overall != notices.OverallOperational {
			t.Errorf("overall %s", st.Overall)
		}

		// A gap over midnight is split by day: 30 November fills up to
		// exactly 1,440 minutes.
		checkAt(k, jst(2026, 12, 1, 0, 2, 0))
		st = status()
		if d := dayOf(t, st, notices.ComponentAPI, "2026-11-30"); d.OKMinutes != 2 || d.TotalMinutes != 1440 {
			t.Errorf("API 30 Nov after the gap %+v", d)
		}
		if d := dayOf(t, st, notices.ComponentAPI, "2026-12-01"); d.OKMinutes != 1 || d.TotalMinutes != 3 {
			t.Errorf("API 1 Dec %+v", d)
		}
		if len(component(st, notices.ComponentAPI).Days) != 90 || component(st, notices.ComponentAPI).Days[89].Date != "2026-12-01" {
			t.Error("the window did not move on")
		}

		// Six minutes without a check: nothing is known.
		e.clock.Set(jst(2026, 12, 1, 0, 8, 1))
		if st := status(); component(st, notices.ComponentAPI).Health != notices.HealthUnknown || st.Overall != notices.OverallUnknown {
			t.Errorf("stale: %s %s", component(st, notices.ComponentAPI).Health, st.Overall)
		}

		// Only 90 days are kept.
		for _, d := range []string{"2026-08-01", "2026-09-02", "2026-09-03"} {
			if _, err := e.control.ExecContext(ctx, "INSERT INTO status_days (component, day, ok_minutes, total_minutes) VALUES (?, ?, ?, ?)",
				"plugins", d, 1, 1); err != nil {
				t.Fatal(err)
			}
		}
		fresh := e.svc.NewChecker(notices.CheckerConfig{})
		checkAt(fresh, jst(2026, 12, 1, 0, 9, 0))
		var kept []string
		if err := e.control.NewSelect().Table("status_days").Column("day").Where("component = ?", "plugins").OrderExpr("day").Scan(ctx, &kept); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(kept, []string{"2026-09-03"}) {
			t.Errorf("kept %v, want only the last 90 days (from 2026-09-03)", kept)
		}
	})
}

// A gap longer than the history is counted for the days shown only.
func TestLongGap(t *testing.T) {
	e := newEnv(t, dbtest.NewLocation(t, dbx.SQLite))
	ctx := context.Background()
	k := e.svc.NewChecker(notices.CheckerConfig{})
	_ = k.Register(notices.ComponentAPI, func(context.Context) error { return nil })
	e.clock.Set(jst(2025, 1, 1, 12, 0, 0))
	if err := k.CheckOnce(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(jst(2026, 12, 1, 12, 0, 0))
	if err := k.CheckOnce(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := e.svc.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	api := component(st, notices.ComponentAPI)
	if p, ok := api.Availability(); !ok || p != 0 {
		t.Errorf("after a year without checks: %v %v", p, ok)
	}
	if d := api.Days[0]; d.TotalMinutes != 1440 || d.OKMinutes != 0 {
		t.Errorf("oldest day %+v", d)
	}
	if d := api.Days[89]; d.TotalMinutes != 721 || d.OKMinutes != 1 {
		t.Errorf("today %+v", d)
	}
	var n int
	if err := e.control.NewSelect().Table("status_days").ColumnExpr("COUNT(*)").Scan(ctx, &n); err != nil || n > 92 {
		t.Errorf("%d day rows (%v): storage must stay bounded", n, err)
	}
}

func TestCheckerRun(t *testing.T) {
	e := newEnv(t, dbtest.NewLocation(t, dbx.SQLite))
	e.clock.Set(jst(2026, 12, 1, 12, 0, 30))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var waits []time.Duration
	after := func(d time.Duration) <-chan time.Time {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		e.clock.Add(d)
		if len(waits) == 5 {
			cancel()
		}
		ch := make(chan time.Time, 1)
		ch <- e.clock.Now()
		return ch
	}
	k := e.svc.NewChecker(notices.CheckerConfig{After: after, Timeout: 50 * time.Millisecond})
	_ = k.Register(notices.ComponentAPI, func(context.Context) error { return nil })
	_ = k.Register(notices.ComponentPlugins, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	_ = k.Register(notices.ComponentMail, func(context.Context) error { panic("boom") })
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop when its context ended")
	}
	mu.Lock()
	if len(waits) < 5 || waits[0] != 30*time.Second || waits[1] != time.Minute {
		t.Errorf("waits %v: Run must wake at the start of each minute", waits)
	}
	mu.Unlock()
	st, err := e.svc.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := dayOf(t, st, notices.ComponentAPI, "2026-12-01"); d.TotalMinutes != 5 || d.OKMinutes != 5 {
		t.Errorf("API %+v: one count per minute, no gaps", d)
	}
	for _, c := range []notices.Component{notices.ComponentPlugins, notices.ComponentMail} {
		if d := dayOf(t, st, c, "2026-12-01"); d.TotalMinutes != 5 || d.OKMinutes != 0 {
			t.Errorf("%s (hangs or panics) %+v", c, d)
		}
	}
}

func TestStatusPage(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		r := newServer(t, e)
		ctx := context.Background()
		e.tenant(t, "salon-a")
		post(t, r, `{"kind":"incident","title":"メール配信の遅延","body":"確認中です。\n復旧までお待ちください。"}`)
		post(t, r, `{"kind":"incident","title":"A社だけの障害","body":"b","tenants":["salon-a"]}`)
		post(t, r, `{"kind":"maintenance","title":"A社だけのメンテナンス","body":"b","tenants":["salon-a"],"starts_at":"`+at(days(15))+`","ends_at":"`+at(days(15.1))+`"}`)
		mnt := post(t, r, `{"kind":"maintenance","title":"定期メンテナンス","body":"停止します","starts_at":"2026-12-20T01:00:00+09:00","ends_at":"2026-12-20T05:00:00+09:00"}`)
		post(t, r, `{"kind":"maintenance","title":"遠い先のメンテナンス","body":"b","starts_at":"`+at(days(40))+`","ends_at":"`+at(days(40.1))+`"}`)
		old := post(t, r, `{"kind":"incident","title":"復旧済みの障害","body":"b","starts_at":"`+at(days(-2))+`","ends_at":"`+at(days(-1))+`"}`)
		gone := post(t, r, `{"kind":"incident","title":"取り下げた障害","body":"b"}`)
		if w := do(t, r, call{method: "DELETE", url: "/api/v1/platform/notices/" + gone.ID}); w.Code != 204 {
			t.Fatal(w.Code)
		}
		_ = old
		k := e.svc.NewChecker(notices.CheckerConfig{})
		_ = k.Register(notices.ComponentAPI, func(context.Context) error { return nil })
		if err := k.CheckOnce(ctx); err != nil {
			t.Fatal(err)
		}

		for _, lang := range []string{"ja", "en"} {
			w := do(t, r, call{method: "GET", url: "/status", auth: "-", lang: lang})
			if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("%s: %d %s", lang, w.Code, w.Body)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "public, max-age=30" {
				t.Errorf("Cache-Control %q", cc)
			}
			body := w.Body.String()
			for _, want := range []string{
				`<html lang="` + lang + `">`,
				e.cat.T(lang, "statuspage.title", nil),
				e.cat.T(lang, "statuspage.overall.degraded", nil),
				e.cat.T(lang, "statuspage.incidents", nil),
				e.cat.T(lang, "statuspage.maintenance", map[string]any{"Days": 30}),
				e.cat.T(lang, "statuspage.axis", map[string]any{"Days": 90}),
				"メール配信の遅延", "確認中です。<br>復旧までお待ちください。",
				"定期メンテナンス",
				e.cat.T(lang, "statuspage.component.booking_site", nil) + ": " + e.cat.T(lang, "statuspage.health.unknown", nil),
				e.cat.T(lang, "statuspage.component.api", nil) + ": " + e.cat.T(lang, "statuspage.health.operational", nil),
				e.cat.T(lang, "statuspage.availability", map[string]any{"Days": 90, "Percent": "100"}),
				e.cat.T(lang, "statuspage.no_data", map[string]any{"Days": 90}),
			} {
				if !strings.Contains(body, want) {
					t.Errorf("%s page lacks %q", lang, want)
				}
			}
			for _, never := range []string{"A社だけ", "遠い先", "取り下げた", "復旧済みの障害", "salon-a"} {
				if strings.Contains(body, never) {
					t.Errorf("%s page shows %q", lang, never)
				}
			}
			if n := strings.Count(body, "<rect "); n != 4*90 {
				t.Errorf("%d bars, want 90 per component", n)
			}
		}
		ja := do(t, r, call{method: "GET", url: "/status", auth: "-", lang: "ja"}).Body.String()
		for _, want := range []string{"2026年12月20日(日) 01:00 JST 〜 2026年12月20日(日) 05:00 JST", "2026年12月1日(火): 稼働率 100%"} {
			if !strings.Contains(ja, want) {
				t.Errorf("Japanese page lacks %q", want)
			}
		}
		en := do(t, r, call{method: "GET", url: "/status", auth: "-", lang: "en"}).Body.String()
		for _, want := range []string{"Sun, 20 Dec 2026 01:00 JST – Sun, 20 Dec 2026 05:00 JST", "Tue, 1 Dec 2026: 100% available"} {
			if !strings.Contains(en, want) {
				t.Errorf("English page lacks %q", want)
			}
		}

		w := do(t, r, call{method: "GET", url: "/status.json", auth: "-"})
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") || w.Header().Get("Cache-Control") != "public, max-age=30" {
			t.Fatalf("json: %d %v", w.Code, w.Header())
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if keys := slices.Sorted(maps.Keys(doc)); !slices.Equal(keys, []string{"components", "incidents", "maintenance", "status", "updated_at"}) {
			t.Errorf("keys %v", keys)
		}
		var sj struct {
			Status     string `json:"status"`
			UpdatedAt  time.Time
			Components []map[string]json.RawMessage `json:"components"`
			Incidents  []map[string]json.RawMessage `json:"incidents"`
			Maint      []map[string]json.RawMessage `json:"maintenance"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &sj); err != nil {
			t.Fatal(err)
		}
		if sj.Status != "degraded" || len(sj.Components) != 4 || len(sj.Incidents) != 1 || len(sj.Maint) != 1 {
			t.Fatalf("json %s", w.Body)
		}
		var ids []string
		for _, c := range sj.Components {
			var id string
			_ = json.Unmarshal(c["id"], &id)
			ids = append(ids, id)
			if keys := slices.Sorted(maps.Keys(c)); !slices.Equal(keys, []string{"availability_90d", "checked_at", "days", "id", "since", "status"}) {
				t.Errorf("component keys %v", keys)
			}
			var ds []map[string]any
			_ = json.Unmarshal(c["days"], &ds)
			if len(ds) != 90 || ds[89]["date"] != "2026-12-01" || len(ds[0]) != 4 {
				t.Errorf("%s days: %d, last %v", id, len(ds), ds[len(ds)-1])
			}
		}
		if !slices.Equal(ids, []string{"api", "booking_site", "mail", "plugins"}) {
			t.Errorf("component ids %v", ids)
		}
		if string(sj.Components[0]["status"]) != `"operational"` || string(sj.Components[0]["availability_90d"]) != "100" ||
			string(sj.Components[1]["availability_90d"]) != "null" || string(sj.Components[1]["checked_at"]) != "null" {
			t.Errorf("components %s", w.Body)
		}
		if keys := slices.Sorted(maps.Keys(sj.Incidents[0])); !slices.Equal(keys, []string{"body", "ends_at", "id", "kind", "starts_at", "state", "title"}) {
			t.Errorf("incident keys %v", keys)
		}
		if string(sj.Maint[0]["id"]) != `"`+mnt.ID+`"` || string(sj.Maint[0]["state"]) != `"upcoming"` {
			t.Errorf("maintenance %v", sj.Maint[0])
		}
		if strings.Contains(w.Body.String(), "salon-a") || strings.Contains(w.Body.String(), "A社") {
			t.Error("the public status names a tenant")
		}

		// In the maintenance window, with no incident open.
		for _, n := range must(e.svc.List(ctx, notices.ListParams{State: notices.StateActive})) {
			if n.Kind == notices.KindIncident {
				if _, err := e.svc.Withdraw(ctx, n.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		e.clock.Set(jst(2026, 12, 20, 2, 0, 0))
		w = do(t, r, call{method: "GET", url: "/status.json", auth: "-"})
		if err := json.Unmarshal(w.Body.Bytes(), &sj); err != nil || sj.Status != "maintenance" || len(sj.Incidents) != 0 || string(sj.Maint[0]["state"]) != `"active"` {
			t.Errorf("in the window: %s", w.Body)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A status page that cannot read the control database serves its last
// answer for a while; with none, it answers 503.
func TestStatusWithoutDatabase(t *testing.T) {
	e := newEnv(t, dbtest.NewLocation(t, dbx.SQLite))
	r := newServer(t, e)
	fresh := newServer(t, e)
	if w := do(t, r, call{method: "GET", url: "/status.json", auth: "-"}); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	_ = e.control.Close()
	if w := do(t, r, call{method: "GET", url: "/status", auth: "-"}); w.Code != 200 {
		t.Errorf("with an earlier answer: %d", w.Code)
	}
	w := do(t, fresh, call{method: "GET", url: "/status.json", auth: "-"})
	if w.Code != http.StatusServiceUnavailable || decodeProblem(t, w).Code != "status_unavailable" || w.Header().Get("Retry-After") == "" {
		t.Errorf("without: %d %s", w.Code, w.Body)
	}
	w = do(t, fresh, call{method: "GET", url: "/status", auth: "-", lang: "en"})
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), e.cat.T("en", "problem.status_unavailable.title", nil)) {
		t.Errorf("page without: %d %s", w.Code, w.Body)
	}
}
