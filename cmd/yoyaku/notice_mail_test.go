package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/notices"
	"github.com/yoyaku-oss/yoyaku/modules/notify"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// A maintenance notice posted through the operator API reaches the contact
// addresses of the tenants it addresses, once each, in the tenant's
// language; a change of its window mails them again as an update; an
// information notice is not mailed, and a tenant it does not address gets
// nothing.
func TestMaintenanceNoticeIsMailedToContacts(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mp := mailtest.Shared(t)
		tag := string(loc.Engine) + "-" + randSuffix(t)
		ownerJa, billingJa := "owner-"+tag+"@salon.example.jp", "billing-"+tag+"@salon.example.jp"
		ownerEn, other := "owner-"+tag+"@studio.example.com", "owner-"+tag+"@other.example.jp"
		a := appFor(t, loc)
		ctx := context.Background()
		for _, p := range []tenants.CreateParams{
			{Slug: "salon", Name: "サロン花見", ContactEmails: []string{ownerJa, billingJa}},
			{Slug: "studio", Name: "Studio Sakura", Locale: "en", ContactEmails: []string{ownerEn}},
			{Slug: "other", Name: "他店", ContactEmails: []string{other}},
		} {
			if _, err := a.tenants.CreateTenant(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		_ = a.Close()

		const token = "operator-token-0123456789"
		s := startServe(t, func(k string) string {
			if k == "YOYAKU_OPERATOR_TOKEN" {
				return token
			}
			return ""
		}, append(locFlags(loc), "--smtp-url", mp.SMTPURL(), "--mail-from", "no-reply@yoyaku.example.jp",
			"serve", "--addr", "127.0.0.1:0")...)

		starts := time.Now().Add(20 * 24 * time.Hour).UTC().Truncate(time.Hour)
		r := request(t, "POST", s.base+"/api/v1/platform/notices", token,
			`{"kind":"info","title":"新機能のお知らせ","body":"CSV の列が増えました。","tenants":["salon"]}`)
		if r.status != 201 {
			t.Fatalf("post info: %d %s", r.status, r.body)
		}
		r = request(t, "POST", s.base+"/api/v1/platform/notices", token,
			`{"kind":"maintenance","title":"定期メンテナンス","body":"データベースを更新します。","starts_at":"`+
				starts.Format(time.RFC3339)+`","ends_at":"`+starts.Add(2*time.Hour).Format(time.RFC3339)+`","tenants":["salon","studio"]}`)
		if r.status != 201 {
			t.Fatalf("post maintenance: %d %s", r.status, r.body)
		}
		var n struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal([]byte(r.body), &n)

		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cl := mp.Client()
		for _, addr := range []string{ownerJa, billingJa, ownerEn} {
			if _, err := cl.WaitTo(wctx, addr, 1); err != nil {
				t.Fatalf("no notice mail to a contact: %v\nserve log:\n%s", err, s.stderr)
			}
		}
		jaMsgs, _ := cl.MessagesTo(wctx, ownerJa)
		if len(jaMsgs) != 1 || jaMsgs[0].Subject != "【Yoyaku】メンテナンス: 定期メンテナンス" || jaMsgs[0].From.Name != "Yoyaku" {
			t.Fatalf("Japanese contact got %+v", jaMsgs)
		}
		m, err := cl.Message(wctx, jaMsgs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		wantStart := starts.In(time.FixedZone("JST", 9*3600)).Format("1月2日")
		if !strings.Contains(m.Text, "サロン花見 ご担当者様") || !strings.Contains(m.Text, "データベースを更新します。") || !strings.Contains(m.Text, wantStart) {
			t.Errorf("Japanese notice mail:\n%s", m.Text)
		}
		enMsgs, _ := cl.MessagesTo(wctx, ownerEn)
		if len(enMsgs) != 1 || enMsgs[0].Subject != "[Yoyaku] Maintenance: 定期メンテナンス" {
			t.Errorf("English contact got %+v", enMsgs)
		}

		// A new window: an update to the same contacts.
		r = request(t, "PATCH", s.base+"/api/v1/platform/notices/"+n.ID, token,
			`{"ends_at":"`+starts.Add(3*time.Hour).Format(time.RFC3339)+`"}`)
		if r.status != 200 {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
		got, err := cl.WaitTo(wctx, ownerJa, 2)
		if err != nil {
			t.Fatalf("no update mail: %v", err)
		}
		if !strings.HasPrefix(got[0].Subject, "【Yoyaku】（更新）") && !strings.HasPrefix(got[1].Subject, "【Yoyaku】（更新）") {
			t.Errorf("update subjects %q, %q", got[0].Subject, got[1].Subject)
		}

		// Give stray mails a moment, then count: once per address and
		// revision, nothing for the information notice or the other tenant.
		time.Sleep(500 * time.Millisecond)
		for addr, want := range map[string]int{ownerJa: 2, billingJa: 2, ownerEn: 2, other: 0} {
			if got, _ := cl.MessagesTo(wctx, addr); len(got) != want {
				t.Errorf("%d mails to %s's contact, want %d", len(got), strings.SplitN(addr, "@", 2)[1], want)
			}
		}
	})
}

// Announcing one revision twice (a retry after a partial failure, or two
// processes at once) records its mails once.
func TestNoticeAnnouncementIsIdempotent(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		a := appFor(t, loc)
		ctx := context.Background()
		tn, err := a.tenants.CreateTenant(ctx, tenants.CreateParams{Slug: "twice", Name: "二度", ContactEmails: []string{"a@twice.example.jp", "b@twice.example.jp"}})
		if err != nil {
			t.Fatal(err)
		}
		n := notices.Notice{ID: "0193a4c2b7d97f3e8a1b2c3d4e5f6071", Kind: notices.KindMaintenance, Title: "停止", Body: "停止します。",
			StartsAt: time.Now().Add(30 * 24 * time.Hour), EndsAt: time.Now().Add(30*24*time.Hour + time.Hour), Revision: 1}
		count := func() int {
			var evs []outbox.Event
			if err := a.inTenant(ctx, "twice", func(_ tenants.Tenant, db bun.IDB) error {
				evs, err = outbox.List(ctx, db, outbox.Filter{Type: notify.EventNoticePublished, Status: outbox.StatusPending})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		for range 2 {
			if err := a.announceNotice(ctx, n, []tenants.Tenant{tn.Tenant}); err != nil {
				t.Fatal(err)
			}
		}
		if got := count(); got != 2 {
			t.Fatalf("%d pending notice mails after announcing twice, want 2 (one per contact)", got)
		}
		// Revision 2 replaces what revision 1 has not yet sent.
		n.Revision = 2
		if err := a.announceNotice(ctx, n, []tenants.Tenant{tn.Tenant}); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != 2 {
			t.Fatalf("%d pending notice mails after revision 2, want 2", got)
		}
	})
}

// randSuffix tells apart the addresses of tests sharing one mail server.
func randSuffix(t *testing.T) string {
	t.Helper()
	return strings.ToLower(rand.Text()[:10])
}
