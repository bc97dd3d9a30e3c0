package reservations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/web"
)

// server is the module's real HTTP handler on an httptest server: the
// tenant and (for the tenant API) an admin API key's principal are put in
// the context as the tenant and API key middleware would.
func server(t *testing.T, e *env, db *bun.DB) *httptest.Server {
	t.Helper()
	cat, err := i18n.Load(web.FS, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	r, err := httpx.New(httpx.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	withTenant := func(c *gin.Context) {
		c.Request = c.Request.WithContext(tenants.WithTenant(c.Request.Context(), e.tenant))
	}
	asAdmin := func(c *gin.Context) {
		c.Request = c.Request.WithContext(identity.WithPrincipal(c.Request.Context(),
			identity.Principal{Kind: identity.PrincipalAPIKey, ID: "k1", Name: "key", Role: authz.RoleAdmin}))
	}
	allow := func(authz.Area, authz.Action) gin.HandlerFunc { return func(c *gin.Context) { c.Next() } }
	h := reservations.NewHTTP(reservations.HTTPConfig{Service: e.svc, APINeed: allow,
		DB: func(context.Context) (bun.IDB, error) { return db, nil }})
	h.RegisterPublic(r.Group("/api/v1/public/:tenant", withTenant))
	h.RegisterAPI(r.Group("/api/v1", withTenant, asAdmin))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Language", "en")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return res.StatusCode, m
}

func httpRace(n int, fn func(i int) (int, map[string]any)) map[string]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	out := map[string]int{}
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, m := fn(i)
			k := fmt.Sprint(st)
			if c, ok := m["code"].(string); ok {
				k += " " + c
			}
			mu.Lock()
			out[k]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func TestHTTPRaceLastSeats(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		srv := server(t, e, db)
		// 15 of 20 seats booked by staff: 5 left.
		st, m := post(t, srv.URL+"/api/v1/reservations", "", fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":15,"customer":{"name":"団体"}}`, e.yoga, e.session))
		if st != 201 {
			t.Fatalf("staff booking: %d %v", st, m)
		}
		got := httpRace(200, func(i int) (int, map[string]any) {
			return post(t, srv.URL+"/api/v1/public/salon/reservations", "", fmt.Sprintf(
				`{"menu_id":%q,"slot_id":%q,"party_size":1,"customer":{"name":"客 %d","kana":"キャク","email":"c%d@example.jp","phone":"0312345678"}}`,
				e.yoga, e.session, i, i))
		})
		if got["201"] != 5 || got["409 slot_full"] != 195 {
			t.Fatalf("outcomes %v, want 5 × 201 and 195 × 409 slot_full", got)
		}
		if b := e.slotBooked(t, e.session); b != 20 {
			t.Fatalf("booked %d", b)
		}
	})
}

func TestHTTPRaceExclusiveProvider(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		srv := server(t, e, db)
		got := httpRace(100, func(i int) (int, map[string]any) {
			return post(t, srv.URL+"/api/v1/public/salon/reservations", "", fmt.Sprintf(
				`{"menu_id":%q,"starts_at":"2026-01-14T10:00:00+09:00","party_size":1,"provider_id":%q,"customer":{"name":"客","email":"c%d@example.jp"}}`,
				e.solo, e.aya, i))
		})
		if got["201"] != 1 || got["409 provider_unavailable"] != 99 {
			t.Fatalf("outcomes %v, want 1 × 201 and 99 × 409 provider_unavailable", got)
		}
	})
}

func TestHTTPIdempotencyKey(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		srv := server(t, e, db)
		body := fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":2,"customer":{"name":"客","email":"c@example.jp"}}`, e.yoga, e.session)
		url := srv.URL + "/api/v1/public/salon/reservations"
		// Concurrent duplicates: one books, the others wait (409
		// idempotency_in_progress) or replay the first answer.
		got := httpRace(20, func(int) (int, map[string]any) { return post(t, url, "same-key", body) })
		if got["201"] < 1 || got["201"]+got["409 idempotency_in_progress"] != 20 {
			t.Fatalf("outcomes %v", got)
		}
		st1, first := post(t, url, "same-key", body)
		st2, again := post(t, url, "same-key", body)
		if st1 != 201 || st2 != 201 || first["id"] != again["id"] || first["number"] == nil {
			t.Fatalf("retries: %d %v / %d %v", st1, first, st2, again)
		}
		if st, m := post(t, url, "same-key", strings.Replace(body, `"party_size":2`, `"party_size":3`, 1)); st != 422 {
			t.Fatalf("same key, other body: %d %v", st, m)
		}
		if n := e.count(t, "reservations", ""); n != 1 {
			t.Fatalf("%d reservations for one key", n)
		}
		if b := e.slotBooked(t, e.session); b != 2 {
			t.Fatalf("booked %d", b)
		}
		// The guest's token cancels through the public API.
		id, tok := first["id"].(string), first["cancel_token"].(string)
		if st, m := post(t, url+"/"+id+"/cancel", "", `{"token":"nope"}`); st != 403 || m["code"] != "reservation_token_invalid" {
			t.Fatalf("wrong token: %d %v", st, m)
		}
		if st, m := post(t, url+"/"+id+"/cancel", "", fmt.Sprintf(`{"token":%q}`, tok)); st != 200 || m["status"] != "cancelled" {
			t.Fatalf("token cancel: %d %v", st, m)
		}
		if b := e.slotBooked(t, e.session); b != 0 {
			t.Fatalf("booked %d after cancel", b)
		}
	})
}

func TestHTTPTenantAPI(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		srv := server(t, e, db)
		base := srv.URL + "/api/v1/reservations"
		tests := []struct {
			name, body string
			want       int
			code       string
		}{
			{"no party", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-01-14T10:00","customer":{"name":"a"}}`, e.solo), 400, "validation"},
			{"bad time", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-02-30T10:00","party_size":1,"customer":{"name":"a"}}`, e.solo), 400, "validation"},
			{"unknown field", fmt.Sprintf(`{"menu_id":%q,"nope":1}`, e.solo), 400, ""},
			{"civil time in the tenant's zone", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-01-14T10:00","party_size":1,"customer":{"name":"a"}}`, e.solo), 201, ""},
			{"taken", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-01-14T10:30:00+09:00","party_size":1,"customer":{"name":"a"}}`, e.solo), 409, "slot_full"},
			{"admin overbook", fmt.Sprintf(`{"menu_id":%q,"starts_at":"2026-01-14T10:30:00+09:00","party_size":1,"customer":{"name":"a"},"overbook":true}`, e.solo), 201, ""},
		}
		var id string
		for _, tt := range tests {
			st, m := post(t, base, "", tt.body)
			if st != tt.want || (tt.code != "" && m["code"] != tt.code) {
				t.Errorf("%s: %d %v, want %d %s", tt.name, st, m, tt.want, tt.code)
			}
			if st == 201 && id == "" {
				id = m["id"].(string)
				if m["starts_at"] != "2026-01-14T10:00:00+09:00" || m["ends_at"] != "2026-01-14T11:00:00+09:00" {
					t.Errorf("times: %v – %v", m["starts_at"], m["ends_at"])
				}
			}
		}
		if st, m := post(t, base+"/"+id+"/move", "", `{"starts_at":"2026-01-14T15:00:00+09:00"}`); st != 200 || m["version"] != float64(2) {
			t.Fatalf("move: %d %v", st, m)
		}
		if st, m := post(t, base+"/"+id+"/confirm", "", ""); st != 409 || m["code"] != "reservation_status" {
			t.Fatalf("confirm a confirmed one: %d %v", st, m)
		}
		if st, m := post(t, base+"/"+id+"/cancel", "k-cancel", `{"reason":"電話で"}`); st != 200 || m["status"] != "cancelled" {
			t.Fatalf("cancel: %d %v", st, m)
		}
		res, err := http.Get(base + "?from=2026-01-14&to=2026-01-14&status=cancelled")
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Items []map[string]any `json:"items"`
		}
		_ = json.NewDecoder(res.Body).Decode(&list)
		res.Body.Close()
		if res.StatusCode != 200 || len(list.Items) != 1 || list.Items[0]["id"] != id {
			t.Fatalf("list: %d %v", res.StatusCode, list)
		}
	})
}
