package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// calendarOf returns the decoded text/calendar part of a raw message and
// its method parameter ("" when there is none).
func calendarOf(t *testing.T, raw []byte) (string, string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var body, method string
	var walk func(ct, cte string, r io.Reader)
	walk = func(ct, cte string, r io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(r, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err != nil {
					return
				}
				walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			}
		}
		if mt != "text/calendar" {
			return
		}
		b, _ := io.ReadAll(r)
		if strings.EqualFold(cte, "base64") {
			b, _ = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
		}
		body, method = string(b), params["method"]
	}
	walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	return body, method
}

var cancelFormRE = regexp.MustCompile(`name="(csrf_token|token)" value="([^"]*)"`)

// A guest books a demo yoga session through the public API; the
// confirmation arrives (Japanese subject encoded, number, time, .ics);
// following its cancel link and confirming on the page cancels the
// booking (seat freed), a cancellation mail with METHOD:CANCEL arrives,
// and the booking's reminder is cancelled, never to be sent.
func TestReservationMailAndCancelPage(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mp := mailtest.Shared(t)
		s := startServe(t, noEnv, append(locFlags(loc), "--smtp-url", mp.SMTPURL(), "--mail-from", "no-reply@yoyaku.example.jp",
			"serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		var cat struct {
			Menus []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"menus"`
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
		type slot struct {
			StartsAt  time.Time `json:"starts_at"`
			Remaining int       `json:"remaining"`
			SlotID    string    `json:"slot_id"`
		}
		slots := func() []slot {
			var av struct {
				Slots []slot `json:"slots"`
			}
			r := request(t, "GET", s.base+"/api/v1/public/demo/availability?menu_id="+yoga+"&from="+now.Format(time.DateOnly)+
				"&to="+now.AddDate(0, 0, 14).Format(time.DateOnly), "", "")
			if err := json.Unmarshal([]byte(r.body), &av); err != nil {
				t.Fatalf("%v: %s", err, r.body)
			}
			return av.Slots
		}
		var pick slot
		for _, sl := range slots() {
			if sl.StartsAt.After(now.Add(72 * time.Hour)) { // the reminder is due later; the cancel deadline far
				pick = sl
				break
			}
		}
		if pick.SlotID == "" {
			t.Fatal("no yoga session three days ahead")
		}
		guest := "guest+" + string(loc.Engine) + "-" + time.Now().Format("150405.000000") + "@example.com"
		r := request(t, "POST", s.base+"/api/v1/public/demo/reservations", "",
			`{"menu_id":"`+yoga+`","slot_id":"`+pick.SlotID+`","party_size":1,"customer":{"name":"予約 花子","email":"`+guest+`"}}`)
		if r.status != 201 {
			t.Fatalf("book: %d %s", r.status, r.body)
		}
		var booked struct {
			ID, Number, Status string
		}
		_ = json.Unmarshal([]byte(r.body), &booked)

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl := mp.Client()
		got, err := cl.WaitTo(ctx, guest, 1)
		if err != nil {
			t.Fatalf("no confirmation: %v\n%s", err, s.stderr)
		}
		msg, _ := cl.Message(ctx, got[0].ID)
		raw, _ := cl.Raw(ctx, got[0].ID)
		if !strings.Contains(msg.Subject, "ご予約を承りました") || !strings.Contains(msg.Subject, booked.Number) {
			t.Errorf("subject %q", msg.Subject)
		}
		if !regexp.MustCompile(`(?mi)^Subject:\s+=\?UTF-8\?[BQ]\?`).Match(raw) {
			t.Errorf("the subject is not RFC 2047 encoded")
		}
		when := pick.StartsAt.In(zone).Format("15:04")
		if !strings.Contains(msg.Text, booked.Number) || !strings.Contains(msg.Text, when) || !strings.Contains(msg.Text, "朝ヨガ") {
			t.Errorf("confirmation text lacks number, time %s or menu:\n%s", when, msg.Text)
		}
		ics, method := calendarOf(t, raw)
		if method != "REQUEST" || !strings.Contains(ics, "UID:"+booked.ID+"@") || !strings.Contains(ics, "SEQUENCE:1\r\n") {
			t.Errorf("confirmation .ics (%s):\n%s", method, ics)
		}

		// The link: its path and token on this server (serve's public URL
		// here is the listen address as configured, port 0).
		link := regexp.MustCompile(`https?://\S+/reservations/\S+/cancel\?token=\S+`).FindString(msg.Text)
		u, err := url.Parse(link)
		if err != nil || link == "" {
			t.Fatalf("no cancel link in:\n%s", msg.Text)
		}
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		page := u.Path + "?" + u.RawQuery
		resp, err := hc.Get(s.base + page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), booked.Number) || !strings.Contains(string(body), "予約をキャンセルする") {
			t.Fatalf("cancel page %d:\n%s", resp.StatusCode, body)
		}
		form := url.Values{}
		for _, m := range cancelFormRE.FindAllStringSubmatch(string(body), -1) {
			form.Set(m[1], m[2])
		}
		// Without the CSRF token: refused, nothing cancelled.
		resp, _ = http.PostForm(s.base+u.Path, url.Values{"token": {form.Get("token")}})
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("cancel without CSRF: %d", resp.StatusCode)
		}
		resp, err = hc.PostForm(s.base+u.Path, form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "キャンセルしました") {
			t.Fatalf("cancel: %d\n%s", resp.StatusCode, body)
		}
		// The link is used up: a calm page, not a second cancellation.
		resp, _ = hc.Get(s.base + page)
		resp.Body.Close()
		if resp.StatusCode != http.StatusGone {
			t.Errorf("used link: %d", resp.StatusCode)
		}
		resp, _ = hc.Get(s.base + u.Path + "?token=wrong")
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("wrong token: %d", resp.StatusCode)
		}

		for _, sl := range slots() {
			if sl.SlotID == pick.SlotID && sl.Remaining != pick.Remaining {
				t.Errorf("seat not freed: %d left, was %d", sl.Remaining, pick.Remaining)
			}
		}
		got, err = cl.WaitTo(ctx, guest, 2)
		if err != nil {
			t.Fatalf("no cancellation mail: %v", err)
		}
		var cancelMail mailtest.Summary
		for _, g := range got {
			if strings.Contains(g.Subject, "キャンセル") {
				cancelMail = g
			}
		}
		raw, _ = cl.Raw(ctx, cancelMail.ID)
		ics, method = calendarOf(t, raw)
		if method != "CANCEL" || !strings.Contains(ics, "METHOD:CANCEL\r\n") || !strings.Contains(ics, "STATUS:CANCELLED\r\n") ||
			!strings.Contains(ics, "UID:"+booked.ID+"@") {
			t.Errorf("cancellation .ics (%s):\n%s", method, ics)
		}

		// The reminder was cancelled with the booking: never to be sent.
		a := appFor(t, loc)
		defer a.Close()
		err = a.inTenant(context.Background(), "demo", func(_ tenants.Tenant, db bun.IDB) error {
			var st []string
			err := db.NewSelect().Table("outbox").Column("status").Where("event_type = ? AND dedup_key = ?", "reservation.reminder", booked.ID).
				Scan(context.Background(), &st)
			if err == nil && len(st) == 0 {
				t.Error("no reminder was scheduled")
			}
			for _, x := range st {
				if x != "cancelled" {
					t.Errorf("reminder states %v, want cancelled", st)
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
