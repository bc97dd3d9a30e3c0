package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/notices"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
)

// The status page's mail component follows the SMTP server: operational
// while it answers, failing once it does not, and unknown on an instance
// that has no mail server at all.
func TestStatusChecksMail(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mp := mailtest.New(t)
		s := startServe(t, noEnv, append(locFlags(loc), "--smtp-url", mp.SMTPURL(), "--mail-from", "no-reply@yoyaku.example.jp",
			"serve", "--addr", "127.0.0.1:0", "--migrate")...)
		mailHealth := func() notices.Health {
			r := request(t, "GET", s.base+"/status.json", "", "")
			var st struct {
				Components []struct {
					ID     notices.Component `json:"id"`
					Status notices.Health    `json:"status"`
				} `json:"components"`
			}
			if err := json.Unmarshal([]byte(r.body), &st); err != nil {
				t.Fatalf("status.json: %v %s", err, r.body)
			}
			for _, c := range st.Components {
				if c.ID == notices.ComponentMail {
					return c.Status
				}
			}
			t.Fatalf("status.json lacks the mail component: %s", r.body)
			return ""
		}
		deadline := time.Now().Add(30 * time.Second)
		for mailHealth() != notices.HealthOperational {
			if time.Now().After(deadline) {
				t.Fatalf("mail never operational on the status page; serve log:\n%s", s.stderr)
			}
			time.Sleep(500 * time.Millisecond)
		}

		// The check itself, without waiting a minute for the next round.
		a := appWith(t, loc, map[string]string{"smtp-url": mp.SMTPURL(), "mail-from": "no-reply@yoyaku.example.jp"})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.mailCheck(ctx); err != nil {
			t.Fatalf("mail check with the server up: %v", err)
		}
		if err := mp.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := a.mailCheck(ctx); err == nil {
			t.Fatal("mail check passes with the SMTP server down")
		}
	})
}
