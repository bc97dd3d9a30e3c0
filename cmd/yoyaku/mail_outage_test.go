package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/notify"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// With the mail server down, invitations stay pending in the outbox; once
// it is back, each arrives exactly once; and delivering an already sent
// event again (a process killed before it marked the delivery) sends
// nothing more.
func TestMailSurvivesAnSMTPOutage(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mp := mailtest.New(t)
		a := appWith(t, loc, map[string]string{"smtp-url": mp.SMTPURL(), "mail-from": "no-reply@yoyaku.example.jp"})
		ctx := context.Background()
		tn, err := a.tenants.CreateTenant(ctx, tenants.CreateParams{Slug: "outage", Name: "Outage", Options: []string{"api"}})
		if err != nil {
			t.Fatal(err)
		}
		var key string
		if err := a.inTenant(ctx, "outage", func(_ tenants.Tenant, db bun.IDB) error {
			var k identity.APIKey
			var err error
			if key, k, err = a.apiKeys.CreateAPIKey(ctx, db, tn.ID, identity.Principal{}, "ops", "admin"); err != nil {
				return err
			}
			return a.assignKeyRole(ctx, db, tn.Tenant, k)
		}); err != nil {
			t.Fatal(err)
		}
		h, err := a.handler("operator-token-0123456789")
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		now := time.Now()
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		d, err := outbox.NewDispatcher(outbox.DispatcherConfig{Registry: a.reg, Control: a.control, Subs: a.subs,
			Tenants: func(context.Context, []string) ([]outbox.Tenant, error) { return nil, nil },
			Now:     clock, BaseBackoff: time.Second, MaxBackoff: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		target := outbox.Tenant{ID: tn.ID, Slug: tn.Slug, Placement: tn.DB}

		if err := mp.Stop(); err != nil {
			t.Fatal(err)
		}
		invitees := []string{"a@outage.example.jp", "b@outage.example.jp", "c@outage.example.jp"}
		for _, who := range invitees {
			req := httptest.NewRequest("POST", "/api/v1/staff", strings.NewReader(`{"email":"`+who+`","role":"staff"}`))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusCreated {
				t.Fatalf("invite %s: %d %s", who, w.Code, w.Body)
			}
		}
		if n, _ := d.RunOnce(ctx, target); n != 0 {
			t.Fatalf("delivered %d with the mail server down", n)
		}
		var pending []outbox.Event
		_ = a.inTenant(ctx, "outage", func(_ tenants.Tenant, db bun.IDB) error {
			pending, err = outbox.List(ctx, db, outbox.Filter{Status: outbox.StatusPending, Type: "staff.invited"})
			return err
		})
		if len(pending) != 3 {
			t.Fatalf("%d invitations pending while the server is down, want 3", len(pending))
		}

		if err := mp.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		delivered := 0
		for i := 0; i < 10 && delivered < 3; i++ {
			mu.Lock()
			now = now.Add(2 * time.Minute) // past any backoff
			mu.Unlock()
			n, err := d.RunOnce(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			delivered += n
		}
		if delivered != 3 {
			t.Fatalf("delivered %d after the server came back, want 3", delivered)
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		for _, who := range invitees {
			got, err := mp.Client().WaitTo(wctx, who, 1)
			if err != nil || len(got) != 1 {
				t.Fatalf("%s received %d mails (%v), want 1", who, len(got), err)
			}
		}
		// A process that died after sending but before marking the
		// delivery: the outbox delivers the same event again.
		_ = a.inTenant(ctx, "outage", func(t2 tenants.Tenant, db bun.IDB) error {
			return a.mail.Deliver(ctx, db, notify.TenantInfoOf(t2), pending[0].ID, pending[0].Type, pending[0].Payload)
		})
		all, err := mp.Client().Messages(wctx)
		if err != nil || len(all) != 3 {
			t.Fatalf("%d mails in all after a repeated delivery (%v), want 3", len(all), err)
		}
		// Each Message-ID is derived from its event, so a resend would be
		// recognisable; three events, three distinct ids.
		events := map[string]bool{}
		for _, e := range pending {
			events[e.ID] = true
		}
		seen := map[string]bool{}
		for _, m := range all {
			id, _, _ := strings.Cut(m.MessageID, "@")
			if !events[id] || seen[id] {
				t.Fatalf("Message-ID %q is not one event's own", m.MessageID)
			}
			seen[id] = true
		}
	})
}
