package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// An invitation made through the tenant API reaches the invitee by mail:
// written to the outbox with the invitation, delivered by serve's
// dispatcher through a real SMTP server, the Japanese subject intact.
func TestInvitationIsMailed(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mp := mailtest.Shared(t)
		// Prepare the tenant and an admin key before serve starts.
		a := appFor(t, loc)
		ctx := context.Background()
		tn, err := a.tenants.CreateTenant(ctx, tenants.CreateParams{Slug: "mail-shop", Name: "メール商店", Options: []string{"api"}})
		if err != nil {
			t.Fatal(err)
		}
		var key string
		err = a.inTenant(ctx, "mail-shop", func(_ tenants.Tenant, db bun.IDB) error {
			var k identity.APIKey
			var err error
			key, k, err = a.apiKeys.CreateAPIKey(ctx, db, tn.ID, identity.Principal{}, "ops", "admin")
			if err == nil {
				err = a.assignKeyRole(ctx, db, tn.Tenant, k)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = a.Close()

		s := startServe(t, noEnv, append(locFlags(loc), "--smtp-url", mp.SMTPURL(), "--mail-from", "no-reply@yoyaku.example.jp",
			"serve", "--addr", "127.0.0.1:0")...)
		invitee := "hanako+" + string(loc.Engine) + "@mail-shop.example.jp"
		resp := request(t, "POST", s.base+"/api/v1/staff", key, `{"email":"`+invitee+`","display_name":"花子","role":"staff"}`)
		if resp.status != 201 {
			t.Fatalf("invite: %d %s", resp.status, resp.body)
		}
		var inv struct {
			SetupURL string `json:"setup_url"`
		}
		_ = json.Unmarshal([]byte(resp.body), &inv)

		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		got, err := mp.Client().WaitTo(wctx, invitee, 1)
		if err != nil {
			t.Fatalf("no invitation mail: %v\nserve log:\n%s", err, s.stderr)
		}
		msg, err := mp.Client().Message(wctx, got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg.Text, inv.SetupURL) || msg.Subject == "" || !strings.ContainsAny(msg.Subject, "招待メール商店") {
			t.Fatalf("invitation mail: subject %q\n%s", msg.Subject, msg.Text)
		}
		if len(got) != 1 {
			t.Fatalf("%d invitation mails, want exactly 1", len(got))
		}
	})
}
