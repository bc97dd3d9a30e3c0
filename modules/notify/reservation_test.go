package notify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/notify"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
)

// part is one leaf of a MIME message.
type part struct {
	mediaType string
	params    map[string]string
	body      []byte
}

// leaves walks a raw message's MIME tree and returns its leaf parts,
// decoded from base64 or quoted-printable.
func leaves(t *testing.T, raw string) []part {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var out []part
	var walk func(ct, cte string, body io.Reader)
	walk = func(ct, cte string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("Content-Type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			}
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		if strings.EqualFold(cte, "base64") {
			b, err = io.ReadAll(base64Decoder(b))
			if err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, part{mediaType: mt, params: params, body: b})
	}
	walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	return out
}

func reservationEvent(to string, status reservations.Status, version int) reservations.Event {
	start := time.Date(2026, 12, 10, 1, 0, 0, 0, time.UTC).In(time.FixedZone("JST", 9*3600))
	return reservations.Event{ReservationID: "0193a4c2b7d97f3e8a1b2c3d4e5f60aa", Number: "R261127K7M2Q", Status: string(status),
		Version: version, MenuID: "m1", MenuName: "朝ヨガ", MenuNameEN: "Morning yoga", StartsAt: start.Format(time.RFC3339),
		EndsAt: start.Add(45 * time.Minute).Format(time.RFC3339), TimeZone: "Asia/Tokyo", PartySize: 1, Price: 2500,
		CustomerName: "予約 花子", CustomerEmail: to, Lang: "ja", CancelToken: "tok-abc"}
}

// The confirmation arrives with its text, its HTML and a text/calendar
// part whose UID and SEQUENCE name the reservation and its version; the
// tenant's copy has neither the guest's link nor an .ics.
func TestReservationMailArrives(t *testing.T) {
	mp := mailtest.Shared(t)
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, mp, func(c *notify.Config) {
			c.SiteURL = "https://yoyaku.example.jp/"
			c.Reservations = func(context.Context, bun.IDB, string) (notify.ReservationState, bool, error) {
				return notify.ReservationState{Status: "confirmed", ProviderName: "佐藤"}, true, nil
			}
		})
		contact := unique("front")
		e.tenant.ContactEmails = []string{contact}
		if _, err := e.svc.UpdateSettings(e.ctx, e.db, notify.SettingsParams{CopyEvents: []string{notify.EventReservationCreated}}); err != nil {
			t.Fatal(err)
		}
		to, id := unique("guest"), newEventID()
		if err := e.deliver(id, notify.EventReservationCreated, reservationEvent(to, reservations.StatusConfirmed, 1)); err != nil {
			t.Fatal(err)
		}
		s := e.waitTo(to, 1)[0]
		if s.Subject != "【サロン花見】ご予約を承りました（R261127K7M2Q）" {
			t.Errorf("subject %q", s.Subject)
		}
		m, raw := e.message(s.ID)
		cancel := "https://yoyaku.example.jp/t/salon-hanami/reservations/0193a4c2b7d97f3e8a1b2c3d4e5f60aa/cancel?token=tok-abc"
		for _, w := range []string{"R261127K7M2Q", "朝ヨガ", "2026年12月10日(木) 10:00〜10:45 (JST)", "佐藤", "2,500円", cancel} {
			if !strings.Contains(m.Text, w) {
				t.Errorf("text lacks %q:\n%s", w, m.Text)
			}
		}
		if !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(cancel, "&", "&amp;")+`"`) {
			t.Errorf("HTML lacks the cancel button:\n%s", m.HTML)
		}
		var kinds []string
		var cal part
		for _, p := range leaves(t, raw) {
			kinds = append(kinds, p.mediaType)
			if p.mediaType == "text/calendar" {
				cal = p
			}
		}
		if strings.Join(kinds, ",") != "text/plain,text/html,text/calendar" {
			t.Fatalf("parts %v, want text, HTML and the calendar", kinds)
		}
		if cal.params["method"] != "REQUEST" || !strings.EqualFold(cal.params["charset"], "UTF-8") {
			t.Errorf("calendar params %v", cal.params)
		}
		c, err := ics.ParseCalendar(bytes.NewReader(cal.body))
		if err != nil {
			t.Fatal(err)
		}
		evs := c.Events()
		if len(evs) != 1 || evs[0].Id() != "0193a4c2b7d97f3e8a1b2c3d4e5f60aa@"+idHost {
			t.Fatalf("events %+v", evs)
		}
		if seq := evs[0].GetProperty(ics.ComponentPropertySequence); seq == nil || seq.Value != "1" {
			t.Errorf("SEQUENCE %+v", seq)
		}

		cs := e.waitTo(contact, 1)[0]
		_, craw := e.message(cs.ID)
		cm, _ := e.message(cs.ID)
		if strings.Contains(cm.Text, "token=") || strings.Contains(cm.HTML, "token=") || strings.Contains(craw, "text/calendar") {
			t.Errorf("the copy carries the guest's link or an .ics:\n%s", cm.Text)
		}

		// A cancellation: METHOD:CANCEL with a higher SEQUENCE.
		to2, id2 := unique("guest"), newEventID()
		ce := reservationEvent(to2, reservations.StatusCancelled, 2)
		ce.CancelToken = ""
		if err := e.deliver(id2, notify.EventReservationCancelled, ce); err != nil {
			t.Fatal(err)
		}
		_, raw2 := e.message(e.waitTo(to2, 1)[0].ID)
		for _, p := range leaves(t, raw2) {
			if p.mediaType == "text/calendar" {
				cal = p
			}
		}
		if cal.params["method"] != "CANCEL" || !strings.Contains(string(cal.body), "METHOD:CANCEL\r\n") ||
			!strings.Contains(string(cal.body), "SEQUENCE:2\r\n") || !strings.Contains(string(cal.body), "STATUS:CANCELLED\r\n") {
			t.Errorf("cancellation calendar %v:\n%s", cal.params, cal.body)
		}
	})
}

// A reminder whose reservation was cancelled or moved meanwhile is not
// sent; a staff booking without an address sends nothing and succeeds.
func TestReservationReminderSkipped(t *testing.T) {
	mp := mailtest.Shared(t)
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		state := notify.ReservationState{Status: "cancelled"}
		e := newEnv(t, db, mp, func(c *notify.Config) {
			c.Reservations = func(context.Context, bun.IDB, string) (notify.ReservationState, bool, error) { return state, true, nil }
		})
		ev := func(to string) reservations.Event {
			x := reservationEvent(to, reservations.StatusConfirmed, 2)
			x.CancelToken = ""
			return x
		}
		start := time.Date(2026, 12, 10, 1, 0, 0, 0, time.UTC)
		for _, c := range []struct {
			name  string
			state notify.ReservationState
			sent  int
		}{
			{"cancelled", notify.ReservationState{Status: "cancelled", StartsAt: start}, 0},
			{"moved", notify.ReservationState{Status: "confirmed", StartsAt: start.Add(time.Hour)}, 0},
			{"due", notify.ReservationState{Status: "confirmed", StartsAt: start}, 1},
		} {
			state = c.state
			to, id := unique("guest"), newEventID()
			if err := e.deliver(id, notify.EventReservationReminder, ev(to)); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if c.sent == 1 {
				if s := e.waitTo(to, 1); !strings.Contains(s[0].Subject, "ご予約日時のお知らせ") {
					t.Errorf("reminder subject %q", s[0].Subject)
				}
			} else if n := len(e.settle(to)); n != 0 || len(e.deliveries(id)) != 0 {
				t.Errorf("%s: %d reminders sent", c.name, n)
			}
		}
		if err := e.deliver(newEventID(), notify.EventReservationConfirmed, ev("")); err != nil {
			t.Errorf("a booking without an address: %v", err)
		}
	})
}

func base64Decoder(b []byte) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, bytes.NewReader(bytes.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, b)))
}
