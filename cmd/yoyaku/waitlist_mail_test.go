package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
)

// A guest joins a full demo yoga session's waitlist; a cancellation holds
// the seat for them, the offer mail arrives with the accept link, and the
// booking site's accept page (GET shows the session, the POST with its
// CSRF token books) turns the hold into a reservation. Both engines.
func TestWaitlistOfferMailAndAcceptPage(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mp := mailtest.Shared(t)
		s := startServe(t, envOf(map[string]string{"YOYAKU_RATE_PUBLIC_ADDRESS_WRITE": "off", "YOYAKU_RATE_PUBLIC_ADDRESS_READ": "off",
			"YOYAKU_RATE_PUBLIC_TENANT_WRITE": "off", "YOYAKU_RATE_PUBLIC_TENANT_READ": "off"}),
			append(locFlags(loc), "--smtp-url", mp.SMTPURL(), "--mail-from", "no-reply@yoyaku.example.jp",
				"serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		var cat struct {
			Menus []struct{ ID, Name string } `json:"menus"`
		}
		_ = json.Unmarshal([]byte(request(t, "GET", s.base+"/api/v1/public/demo/menus", "", "").body), &cat)
		yoga := ""
		for _, m := range cat.Menus {
			if m.Name == "朝ヨガ（60分）" {
				yoga = m.ID
			}
		}
		zone, _ := time.LoadLocation("Asia/Tokyo")
		now := time.Now().In(zone)
		var av struct {
			Slots []struct {
				StartsAt  time.Time `json:"starts_at"`
				Remaining int       `json:"remaining"`
				SlotID    string    `json:"slot_id"`
			} `json:"slots"`
		}
		r := request(t, "GET", s.base+"/api/v1/public/demo/availability?menu_id="+yoga+"&from="+now.Format(time.DateOnly)+
			"&to="+now.AddDate(0, 0, 14).Format(time.DateOnly), "", "")
		if err := json.Unmarshal([]byte(r.body), &av); err != nil {
			t.Fatalf("%v: %s", err, r.body)
		}
		slotID, left := "", 0
		for _, sl := range av.Slots {
			if sl.StartsAt.After(now.Add(72*time.Hour)) && sl.Remaining > 0 && sl.Remaining <= 30 {
				slotID, left = sl.SlotID, sl.Remaining
				break
			}
		}
		if slotID == "" {
			t.Fatal("no yoga session three days ahead")
		}
		tag := string(loc.Engine) + "-" + time.Now().Format("150405.000000")
		// Fill the session, one seat a booking.
		var first struct {
			ID          string `json:"id"`
			CancelToken string `json:"cancel_token"`
		}
		for i := range left {
			r := request(t, "POST", s.base+"/api/v1/public/demo/reservations", "", fmt.Sprintf(
				`{"menu_id":%q,"slot_id":%q,"party_size":1,"customer":{"name":"満席 太郎","email":"fill%d+%s@example.com"}}`, yoga, slotID, i, tag))
			if r.status != 201 {
				t.Fatalf("fill %d: %d %s", i, r.status, r.body)
			}
			if i == 0 {
				_ = json.Unmarshal([]byte(r.body), &first)
			}
		}
		waiter := "waiter+" + tag + "@example.com"
		r = request(t, "POST", s.base+"/api/v1/public/demo/slots/"+slotID+"/waitlist", "",
			`{"customer":{"name":"待機 花子","email":"`+waiter+`"}}`)
		if r.status != 201 {
			t.Fatalf("join: %d %s", r.status, r.body)
		}
		r = request(t, "POST", s.base+"/api/v1/public/demo/reservations/"+first.ID+"/cancel", "", `{"token":"`+first.CancelToken+`"}`)
		if r.status != 200 {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl := mp.Client()
		got, err := cl.WaitTo(ctx, waiter, 1)
		if err != nil {
			t.Fatalf("no offer mail: %v\n%s", err, s.stderr)
		}
		msg, _ := cl.Message(ctx, got[0].ID)
		if !strings.Contains(msg.Subject, "キャンセル待ちのお席をお取り置きしました") || !strings.Contains(msg.Text, "待機 花子 様") ||
			!strings.Contains(msg.Text, "朝ヨガ") {
			t.Errorf("offer mail %q:\n%s", msg.Subject, msg.Text)
		}
		link := regexp.MustCompile(`https?://\S+/waitlist/\S+/accept\?token=\S+`).FindString(msg.Text)
		u, err := url.Parse(link)
		if err != nil || link == "" {
			t.Fatalf("no accept link in:\n%s", msg.Text)
		}
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		resp, err := hc.Get(s.base + u.Path + "?" + u.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "この回を予約する") || !strings.Contains(string(body), "朝ヨガ") {
			t.Fatalf("accept page %d:\n%s", resp.StatusCode, body)
		}
		form := url.Values{}
		for _, m := range cancelFormRE.FindAllStringSubmatch(string(body), -1) {
			form.Set(m[1], m[2])
		}
		// Without the CSRF cookie: refused.
		resp, _ = http.PostForm(s.base+u.Path, form)
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("accept without the CSRF cookie: %d", resp.StatusCode)
		}
		resp, _ = hc.Get(s.base + u.Path + "?token=wrong")
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("wrong token: %d", resp.StatusCode)
		}
		resp, err = hc.PostForm(s.base+u.Path, form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "ご予約を承りました") || !strings.Contains(string(body), "予約確定") {
			t.Fatalf("accept: %d\n%s", resp.StatusCode, body)
		}
		// The booking's own confirmation follows.
		got, err = cl.WaitTo(ctx, waiter, 2)
		if err != nil {
			t.Fatalf("no confirmation after accepting: %v", err)
		}
		confirmed := false
		for _, g := range got {
			confirmed = confirmed || strings.Contains(g.Subject, "ご予約を承りました")
		}
		if !confirmed {
			t.Errorf("mails to the waiter: %+v", got)
		}
		// The link is used up: a calm page, not a second booking.
		resp, _ = hc.PostForm(s.base+u.Path, form)
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "使えなくなっています") {
			t.Errorf("second accept: %d\n%s", resp.StatusCode, body)
		}
	})
}
