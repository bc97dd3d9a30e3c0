package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
)

// The operator routes count and filter what the dispatcher left: the
// "failed" filter finds the rows being retried, Count sums every state, an
// address in an error never reaches the answer, and a retry whose audit
// entry cannot be written does not happen (one transaction).
func TestOperatorRoutesFilterCountAndAuditInOneTransaction(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		db := e.db(t, e.reg)
		subs := e.subs()
		rec := &recorder{fail: func(ev outbox.Event) error {
			if ev.Type == "staff.invited" {
				return errors.New("550 <hanako@example.jp>: no such user")
			}
			return nil
		}}
		subs.Subscribe("mail", "staff.invited", rec.handle)
		subs.Subscribe("mail", "reservation.created", rec.handle)
		cfg := e.config(subs)
		cfg.MaxAttempts, cfg.BaseBackoff, cfg.MaxBackoff = 2, time.Second, time.Second
		d := newDispatcher(t, cfg)

		dead := enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited"})[0]
		runOnce(t, d, e.tenant)
		failing := enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited"})[0]
		delivered := enqueue(t, db, subs, outbox.NewEvent{Type: "reservation.created"})[0]
		e.clock.Advance(time.Minute)
		runOnce(t, d, e.tenant) // dead: its second failure; failing: its first
		if got := get(t, db, dead.ID); got.Status != outbox.StatusDead {
			t.Fatalf("first event %s", got.Status)
		}
		enqueue(t, db, subs, outbox.NewEvent{Type: "reservation.created", DueAt: e.clock.Now().Add(time.Hour)})

		c, err := outbox.Count(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if c.ByStatus[outbox.StatusDead] != 1 || c.ByStatus[outbox.StatusPending] != 2 || c.Failing != 1 ||
			c.ByStatus[outbox.StatusDelivered] != 1 || c.OldestDead.IsZero() {
			t.Fatalf("counts %+v", c)
		}

		var mu sync.Mutex
		var audited []string
		auditErr := errors.New("the log is full")
		var failAudit bool
		var notified []outbox.Event
		h, err := outbox.NewHTTP(outbox.HTTPConfig{
			Open: func(_ context.Context, slug string) (outbox.Tenant, bun.IDB, func(), error) {
				if slug != e.tenant.Slug {
					return outbox.Tenant{}, nil, nil, outbox.ErrNotFound
				}
				return e.tenant, db, func() {}, nil
			},
			Audit: func(_ context.Context, tx bun.IDB, action string, before outbox.Event, to outbox.Status) error {
				mu.Lock()
				defer mu.Unlock()
				if failAudit {
					return auditErr
				}
				audited = append(audited, action+" "+before.ID+" "+string(before.Status)+"→"+string(to))
				return nil
			},
			Notify: func(_ context.Context, tenantID string, evs []outbox.Event) { notified = append(notified, evs...) },
		})
		if err != nil {
			t.Fatal(err)
		}
		gin.SetMode(gin.TestMode)
		r := gin.New()
		h.RegisterOperator(r.Group("/api/v1/platform"))
		call := func(method, path string) (int, string) {
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(method, "/api/v1/platform/tenants/salon/outbox"+path, nil))
			return w.Code, w.Body.String()
		}
		ids := func(body string) []string {
			var l struct{ Items []outbox.View }
			if err := json.Unmarshal([]byte(body), &l); err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, v := range l.Items {
				out = append(out, v.ID)
			}
			return out
		}
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"?status=failed", []string{failing.ID}},
			{"?status=dead", []string{dead.ID}},
			{"?status=delivered&type=reservation.created", []string{delivered.ID}},
			{"?status=pending&type=staff.invited", []string{failing.ID}},
			{"?limit=1&after=" + failing.ID, []string{dead.ID}},
		} {
			code, body := call("GET", c.query)
			if code != http.StatusOK || strings.Join(ids(body), ",") != strings.Join(c.want, ",") {
				t.Errorf("%s: %d %v, want %v", c.query, code, ids(body), c.want)
			}
			if strings.Contains(body, "hanako") {
				t.Errorf("%s: an address in the answer: %s", c.query, body)
			}
		}

		failAudit = true
		if code, _ := call("POST", "/"+dead.ID+"/retry"); code != http.StatusInternalServerError {
			t.Fatalf("retry without its audit entry: %d", code)
		}
		if got := get(t, db, dead.ID); got.Status != outbox.StatusDead || len(notified) != 0 {
			t.Fatalf("a retry whose audit failed changed the row: %s (notified %d)", got.Status, len(notified))
		}
		failAudit = false
		if code, body := call("POST", "/"+dead.ID+"/retry"); code != http.StatusOK {
			t.Fatalf("retry: %d %s", code, body)
		}
		if len(notified) != 1 || notified[0].ID != dead.ID || notified[0].DueAt.After(time.Now()) {
			t.Fatalf("notified %+v", notified)
		}
		if code, _ := call("POST", "/"+failing.ID+"/discard"); code != http.StatusConflict {
			t.Fatalf("discard of a pending row: %d", code)
		}
		if strings.Join(audited, ";") != outbox.ActionRetry+" "+dead.ID+" dead→pending" {
			t.Fatalf("audited %v", audited)
		}
	})
}

func TestRedactAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"550 <hanako@example.jp>: no such user": "550 <[address]>: no such user",
		"rcpt a.b+c@mail.example.co.jp, x@y.z":  "rcpt [address], [address]",
		"dial tcp 127.0.0.1:25: refused":        "dial tcp 127.0.0.1:25: refused",
	} {
		if got := outbox.RedactAddresses(in); got != want {
			t.Errorf("RedactAddresses(%q) = %q, want %q", in, got, want)
		}
	}
}
