package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

const outboxToken = "operator-token-outbox-0123456789"

// flakyConsumer is a real outbox consumer whose handler fails until it is
// fixed, counting what it delivered per delivery id.
type flakyConsumer struct {
	fixed     atomic.Bool
	mu        sync.Mutex
	delivered map[string]int
}

func newFlakyConsumer(a *app) *flakyConsumer {
	f := &flakyConsumer{delivered: map[string]int{}}
	h := func(_ context.Context, _ bun.IDB, _ outbox.Tenant, e outbox.Event) error {
		if e.Type == "test.flaky" && !f.fixed.Load() {
			return errors.New("550 mailbox unavailable for hanako@example.jp")
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.delivered[e.ID]++
		return nil
	}
	a.subs.Subscribe("webhook-test", "test.flaky", h)
	a.subs.Subscribe("webhook-test", "test.ok", h)
	return f
}

func (f *flakyConsumer) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.delivered[id]
}

// outboxRig is an app with a tenant, a consumer and a dispatcher that gives
// up after two attempts, on a clock the test moves.
type outboxRig struct {
	a      *app
	tenant tenants.Tenant
	flaky  *flakyConsumer
	d      *outbox.Dispatcher
	mu     sync.Mutex
	now    time.Time
	srv    *httptest.Server
}

func newOutboxRig(t *testing.T, loc dbx.Location, slug, ownerEmail string) *outboxRig {
	t.Helper()
	r := &outboxRig{a: appFor(t, loc), now: time.Now()}
	r.flaky = newFlakyConsumer(r.a)
	ctx := context.Background()
	created, err := r.a.tenants.CreateTenant(ctx, tenants.CreateParams{Slug: slug, Name: "Dead letters", OwnerEmail: ownerEmail})
	if err != nil {
		t.Fatal(err)
	}
	r.tenant = created.Tenant
	if ownerEmail != "" {
		token := created.OwnerSetupURL[strings.LastIndex(created.OwnerSetupURL, "/")+1:]
		r.in(t, func(db bun.IDB) error {
			_, err := r.a.staff.RedeemSetup(ctx, db, token, consolePassword, slug)
			return err
		})
	}
	r.d, err = outbox.NewDispatcher(outbox.DispatcherConfig{Registry: r.a.reg, Control: r.a.control, Subs: r.a.subs,
		Tenants: func(context.Context, []string) ([]outbox.Tenant, error) { return nil, nil },
		Now:     r.clock, MaxAttempts: 2, BaseBackoff: time.Second, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h, err := r.a.handler(outboxToken)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(h)
	t.Cleanup(r.srv.Close)
	return r
}

const consolePassword = "long enough passphrase for tests 42"

func (r *outboxRig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *outboxRig) in(t *testing.T, fn func(db bun.IDB) error) {
	t.Helper()
	if err := r.a.inTenant(context.Background(), r.tenant.Slug, func(_ tenants.Tenant, db bun.IDB) error { return fn(db) }); err != nil {
		t.Fatal(err)
	}
}

// enqueue records an event of typ for the test consumer, with a payload
// of personal data that the operator must never see.
func (r *outboxRig) enqueue(t *testing.T, typ string) outbox.Event {
	t.Helper()
	var ev outbox.Event
	r.in(t, func(db bun.IDB) error {
		return db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
			evs, err := outbox.Enqueue(ctx, tx, r.a.subs, outbox.NewEvent{Type: typ, AggregateType: "member", AggregateID: "m1",
				Payload: map[string]string{"email": "hanako@example.jp", "name": "山田花子"}})
			if err == nil && len(evs) == 1 {
				ev = evs[0]
			}
			return err
		})
	})
	if ev.ID == "" {
		t.Fatalf("%s: no delivery recorded", typ)
	}
	return ev
}

// pass runs the test dispatcher once over the tenant, a minute later than
// the last pass (past any backoff).
func (r *outboxRig) pass(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	r.now = r.now.Add(time.Minute)
	r.mu.Unlock()
	if _, err := r.d.RunOnce(context.Background(), outbox.Tenant{ID: r.tenant.ID, Slug: r.tenant.Slug, Placement: r.tenant.DB}); err != nil {
		t.Fatal(err)
	}
}

func (r *outboxRig) get(t *testing.T, id string) outbox.Event {
	t.Helper()
	var e outbox.Event
	r.in(t, func(db bun.IDB) (err error) {
		e, err = outbox.Get(context.Background(), db, id)
		return err
	})
	return e
}

func (r *outboxRig) audit(t *testing.T) []auditlog.Entry {
	t.Helper()
	var es []auditlog.Entry
	r.in(t, func(db bun.IDB) (err error) {
		es, err = auditlog.Search(context.Background(), db, auditlog.Filter{Action: "outbox."})
		return err
	})
	return es
}

// api calls the operator API.
func (r *outboxRig) api(t *testing.T, method, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, r.srv.URL+"/api/v1/platform"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type outboxList struct {
	Items []outbox.View `json:"items"`
}

func problemCode(t *testing.T, body string) string {
	t.Helper()
	var p struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("not a problem: %s", body)
	}
	return p.Code
}

func listed(items []outbox.View, id string) bool {
	for _, v := range items {
		if v.ID == id {
			return true
		}
	}
	return false
}

// The operator finds a dead letter (without its payload, the address in its
// error redacted), retries it — another process's dispatcher, told only
// through the control database, delivers it exactly once after the fix —
// and discards another; a delivered event cannot be retried, the wrong
// token opens nothing, a terminated tenant is gone; each retry and discard
// is in the tenant's operation log with the operator as actor.
func TestOutboxOperatorAPI(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		r := newOutboxRig(t, loc, "dead-letters", "")
		slug := "/tenants/dead-letters/outbox"
		ok := r.enqueue(t, "test.ok")
		flaky := r.enqueue(t, "test.flaky")
		r.pass(t)
		r.pass(t)
		if got := r.get(t, flaky.ID); got.Status != outbox.StatusDead || got.Attempts != 2 {
			t.Fatalf("after two failed attempts: %s, %d attempts", got.Status, got.Attempts)
		}
		if r.flaky.count(ok.ID) != 1 {
			t.Fatal("the healthy event was not delivered")
		}

		if code, _ := r.api(t, "GET", slug+"?status=dead", "wrong-token-0123456789"); code != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d", code)
		}
		if code, _ := r.api(t, "POST", slug+"/"+flaky.ID+"/retry", ""); code != http.StatusUnauthorized {
			t.Fatalf("retry without a token: %d", code)
		}
		code, body := r.api(t, "GET", slug+"?status=dead", outboxToken)
		if code != http.StatusOK {
			t.Fatalf("list: %d %s", code, body)
		}
		for _, secret := range []string{"payload", "山田", "hanako"} {
			if strings.Contains(body, secret) {
				t.Fatalf("the list shows %q: %s", secret, body)
			}
		}
		var list outboxList
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.Items[0].ID != flaky.ID || list.Items[0].Status != outbox.StatusDead ||
			list.Items[0].Attempts != 2 || list.Items[0].Type != "test.flaky" || list.Items[0].Consumer != "webhook-test" ||
			!strings.Contains(list.Items[0].LastError, "[address]") {
			t.Fatalf("dead list: %+v", list.Items)
		}
		if code, body := r.api(t, "GET", slug+"/"+flaky.ID, outboxToken); code != http.StatusOK || strings.Contains(body, "hanako") {
			t.Fatalf("get: %d %s", code, body)
		}
		for _, c := range []struct {
			name, method, path string
			want               int
			code               string
		}{
			{"unknown status", "GET", slug + "?status=lost", 400, "validation"},
			{"limit out of range", "GET", slug + "?limit=501", 400, "validation"},
			{"unknown id", "GET", slug + "/0123456789abcdef0123456789abcdef", 404, "outbox_event_not_found"},
			{"retry of an unknown id", "POST", slug + "/0123456789abcdef0123456789abcdef/retry", 404, "outbox_event_not_found"},
			{"retry of a delivered event", "POST", slug + "/" + ok.ID + "/retry", 409, "outbox_event_not_dead"},
			{"discard of a delivered event", "POST", slug + "/" + ok.ID + "/discard", 409, "outbox_event_not_dead"},
			{"unknown tenant", "GET", "/tenants/nobody-here/outbox", 404, "tenant_not_found"},
		} {
			if code, body := r.api(t, c.method, c.path, outboxToken); code != c.want || problemCode(t, body) != c.code {
				t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.want, c.code)
			}
		}

		// Retry: pending again at once, and the tenant's due time is in the
		// control database for every process's dispatcher.
		code, body = r.api(t, "POST", slug+"/"+flaky.ID+"/retry", outboxToken)
		if code != http.StatusOK {
			t.Fatalf("retry: %d %s", code, body)
		}
		var v outbox.View
		if err := json.Unmarshal([]byte(body), &v); err != nil || v.Status != outbox.StatusPending || v.Attempts != 0 {
			t.Fatalf("retried: %+v (%v)", v, err)
		}
		if code, _ := r.api(t, "POST", slug+"/"+flaky.ID+"/retry", outboxToken); code != http.StatusConflict {
			t.Fatalf("second retry: %d", code)
		}
		r.flaky.fixed.Store(true)
		// Another process: a dispatcher of its own, never woken in-process,
		// that learns of the retry only by polling the control database.
		other, err := outbox.NewDispatcher(outbox.DispatcherConfig{Registry: r.a.reg, Control: r.a.control, Subs: r.a.subs,
			PollEvery: 50 * time.Millisecond,
			Tenants: func(ctx context.Context, ids []string) ([]outbox.Tenant, error) {
				var out []outbox.Tenant
				for _, id := range ids {
					tn, err := r.a.tenants.GetByID(ctx, id)
					if err != nil {
						return nil, err
					}
					out = append(out, outbox.Tenant{ID: tn.ID, Slug: tn.Slug, Placement: tn.DB})
				}
				return out, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = other.Run(ctx) }()
		deadline := time.Now().Add(20 * time.Second)
		for r.get(t, flaky.ID).Status != outbox.StatusDelivered && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		stop()
		<-done
		if got := r.get(t, flaky.ID); got.Status != outbox.StatusDelivered || r.flaky.count(flaky.ID) != 1 {
			t.Fatalf("after the retry: %s, delivered %d times, want delivered once", got.Status, r.flaky.count(flaky.ID))
		}
		r.pass(t)
		r.pass(t)
		if n := r.flaky.count(flaky.ID); n != 1 {
			t.Fatalf("delivered %d times, want exactly once", n)
		}

		// Discard.
		r.flaky.fixed.Store(false)
		flaky2 := r.enqueue(t, "test.flaky")
		r.pass(t)
		r.pass(t)
		if code, body := r.api(t, "POST", slug+"/"+flaky2.ID+"/discard", outboxToken); code != http.StatusOK || !strings.Contains(body, `"status":"discarded"`) {
			t.Fatalf("discard: %d %s", code, body)
		}
		code, body = r.api(t, "GET", slug+"?status=dead", outboxToken)
		list = outboxList{}
		if err := json.Unmarshal([]byte(body), &list); err != nil || code != http.StatusOK || listed(list.Items, flaky2.ID) {
			t.Fatalf("dead list after the discard: %d %s", code, body)
		}
		if code, _ := r.api(t, "POST", slug+"/"+flaky2.ID+"/retry", outboxToken); code != http.StatusConflict {
			t.Fatalf("retry of a discarded event: %d", code)
		}

		es := r.audit(t)
		if len(es) != 2 {
			t.Fatalf("%d outbox entries in the operation log, want 2: %+v", len(es), es)
		}
		want := map[string]string{outbox.ActionRetry: flaky.ID, outbox.ActionDiscard: flaky2.ID}
		for _, e := range es {
			if want[e.Action] != e.ObjectID || e.Actor.Name != "operator" || e.ObjectType != "outbox_event" {
				t.Errorf("audit entry %+v", e)
			}
		}

		if _, err := r.a.tenants.Update(context.Background(), "dead-letters", tenants.UpdateParams{Status: ptrTo(tenants.StatusTerminated)}); err != nil {
			t.Fatal(err)
		}
		if code, body := r.api(t, "GET", slug, outboxToken); code != http.StatusGone || problemCode(t, body) != "tenant_terminated" {
			t.Fatalf("terminated tenant: %d %s", code, body)
		}
	})
}

func ptrTo[T any](v T) *T { return &v }

// A staff member with settings: edit sees the dead letter on 配信の状況,
// retries it and discards another; a role that may only view settings sees
// the page without its forms and is refused a post; a form without its CSRF
// token changes nothing; every retry and discard is logged with the staff
// member as actor.
func TestOutboxConsole(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		r := newOutboxRig(t, loc, "demo", "owner@demo.example.jp")
		ctx := context.Background()
		var viewerToken string
		r.in(t, func(db bun.IDB) error {
			if _, err := r.a.authz.CreateRole(ctx, db, r.tenant.ID, "ops-viewer", authz.RoleSpec{Label: "Ops viewer",
				Levels: map[authz.Area]authz.Level{authz.AreaSettings: authz.LevelView}}); err != nil {
				return err
			}
			st, token, err := r.a.staff.Invite(ctx, db, identity.Principal{}, "viewer@demo.example.jp", "Viewer", "ops-viewer")
			if err != nil {
				return err
			}
			viewerToken = token
			return r.a.authz.Assign(ctx, db, r.tenant.ID, authz.StaffSubject(st.ID), "ops-viewer")
		})
		r.in(t, func(db bun.IDB) error {
			_, err := r.a.staff.RedeemSetup(ctx, db, viewerToken, consolePassword, "demo")
			return err
		})
		flaky := r.enqueue(t, "test.flaky")
		r.pass(t)
		r.pass(t)
		if got := r.get(t, flaky.ID); got.Status != outbox.StatusDead {
			t.Fatalf("not dead: %s", got.Status)
		}

		owner := newConsoleUser(t, r.srv.URL+"/t/demo/admin")
		owner.login("owner@demo.example.jp", consolePassword)
		page := owner.get("/outbox", http.StatusOK)
		for _, want := range []string{`href="/t/demo/admin/outbox" aria-current="page"`, "配信の状況", `id="delivery-` + flaky.ID + `"`,
			"mailbox unavailable for hanako@example.jp", "/outbox/" + flaky.ID + "/retry", "data-confirm="} {
			if !strings.Contains(page.body, want) {
				t.Fatalf("the page lacks %q:\n%s", want, page.body)
			}
		}
		if strings.Contains(page.body, "山田") {
			t.Fatal("the page shows the payload")
		}
		// No CSRF token: refused, nothing changes.
		owner.post("/outbox/"+flaky.ID+"/retry", url.Values{}, http.StatusForbidden)
		if got := r.get(t, flaky.ID); got.Status != outbox.StatusDead {
			t.Fatalf("a refused form retried it: %s", got.Status)
		}
		res := owner.post("/outbox/"+flaky.ID+"/retry", url.Values{"csrf_token": {owner.token(page)}}, http.StatusSeeOther)
		redirectsTo(t, "retry", res, "/t/demo/admin/outbox?done=retried")
		if got := r.get(t, flaky.ID); got.Status != outbox.StatusPending {
			t.Fatalf("after the console's retry: %s", got.Status)
		}
		if p := owner.get("/outbox?done=retried", http.StatusOK); !strings.Contains(p.body, "再送を予約しました") {
			t.Fatalf("no success message:\n%s", p.body)
		}

		// Fails again; discarded, with its confirmation.
		r.pass(t)
		r.pass(t)
		if got := r.get(t, flaky.ID); got.Status != outbox.StatusDead {
			t.Fatalf("not dead again: %s", got.Status)
		}
		res = owner.submit("/outbox", "/outbox/"+flaky.ID+"/discard", url.Values{}, http.StatusSeeOther)
		redirectsTo(t, "discard", res, "/t/demo/admin/outbox?done=discarded")
		p := owner.get("/outbox?done=discarded", http.StatusOK)
		if !strings.Contains(p.body, "破棄しました") || !strings.Contains(p.body, `id="outbox-dead-empty"`) {
			t.Fatalf("after the discard:\n%s", p.body)
		}
		// Acting on what is no longer dead: the page again, with why.
		if p := owner.submit("/outbox", "/outbox/"+flaky.ID+"/retry", url.Values{}, http.StatusConflict); !strings.Contains(p.body, "この配信は失敗していません") &&
			!strings.Contains(p.body, "失敗したものだけ") {
			t.Fatalf("retry of a discarded event:\n%s", p.body)
		}

		// The viewer sees, and may not act.
		flaky2 := r.enqueue(t, "test.flaky")
		r.pass(t)
		r.pass(t)
		viewer := newConsoleUser(t, r.srv.URL+"/t/demo/admin")
		viewer.login("viewer@demo.example.jp", consolePassword)
		vp := viewer.get("/outbox", http.StatusOK)
		if !strings.Contains(vp.body, `id="delivery-`+flaky2.ID+`"`) || strings.Contains(vp.body, "/outbox/"+flaky2.ID+"/retry") {
			t.Fatalf("the viewer's page:\n%s", vp.body)
		}
		viewer.post("/outbox/"+flaky2.ID+"/retry", url.Values{"csrf_token": {viewer.token(vp)}}, http.StatusForbidden)
		viewer.post("/outbox/"+flaky2.ID+"/discard", url.Values{"csrf_token": {viewer.token(vp)}}, http.StatusForbidden)
		if got := r.get(t, flaky2.ID); got.Status != outbox.StatusDead {
			t.Fatalf("the viewer changed it: %s", got.Status)
		}

		es := r.audit(t)
		if len(es) != 2 {
			t.Fatalf("%d outbox entries in the operation log, want 2: %+v", len(es), es)
		}
		for _, e := range es {
			if e.ObjectID != flaky.ID || e.Actor.Kind != auditlog.ActorStaff || e.Actor.Name != "owner@demo.example.jp" {
				t.Errorf("audit entry %+v", e)
			}
		}
	})
}
