package notify

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"

	"github.com/yoyaku-oss/yoyaku/modules/reservations"
	"github.com/yoyaku-oss/yoyaku/web"
)

var reservationTypes = []string{EventReservationCreated, EventReservationConfirmed, EventReservationRejected,
	EventReservationChanged, EventReservationCancelled, EventReservationReminder}

// Every reservation mail renders in Japanese and English from the sample,
// with the number, the menu, the time in the tenant's zone, the party, the
// provider and the price.
func TestReservationTemplatesRender(t *testing.T) {
	sub, err := fs.Sub(web.FS, "mail")
	if err != nil {
		t.Fatal(err)
	}
	d, err := loadDefaults(sub)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		LangJapanese: {"予約 花子 様", "R261210ABCDE", "朝ヨガ 60分", "2026年12月10日(木) 10:00〜11:00 (JST)", "2名", "佐藤", "6,000円", "サンプル予約店"},
		LangEnglish:  {"Dear Hanako Yoyaku,", "R261210ABCDE", "Morning yoga (60 min)", "Thu, 10 Dec 2026 10:00–11:00 (JST)", "Sato", "¥6,000"},
	}
	subjects := map[string]string{
		EventReservationCreated + "/ja":   "【サンプル予約店】ご予約を承りました（R261210ABCDE）",
		EventReservationCreated + "/en":   "[サンプル予約店] Your booking is confirmed (R261210ABCDE)",
		EventReservationCancelled + "/ja": "【サンプル予約店】ご予約をキャンセルしました（R261210ABCDE）",
		EventReservationReminder + "/en":  "[サンプル予約店] Reminder of your booking (R261210ABCDE)",
	}
	cancelURL := "https://yoyaku.example.jp/t/sample/reservations/0193a4c2b7d97f3e8a1b2c3d4e5f6071/cancel?token=SAMPLE"
	for _, typ := range reservationTypes {
		for _, lang := range Langs {
			c, ok := d[typ+"/"+lang]
			if !ok || c.HTML == "" {
				t.Fatalf("%s/%s: no default with an HTML part", typ, lang)
			}
			r, err := renderContent(c, events[typ].sample(lang).vars(sampleContext(lang)))
			if err != nil {
				t.Fatalf("%s/%s: %v", typ, lang, err)
			}
			if w, ok := subjects[typ+"/"+lang]; ok && r.Subject != w {
				t.Errorf("%s/%s subject %q, want %q", typ, lang, r.Subject, w)
			}
			for _, w := range want[lang] {
				if !strings.Contains(r.Text, w) || !strings.Contains(r.HTML, w) {
					t.Errorf("%s/%s lacks %q:\n%s", typ, lang, w, r.Text)
				}
			}
			hasCancel := strings.Contains(r.Text, cancelURL)
			if wantCancel := typ != EventReservationRejected && typ != EventReservationCancelled; hasCancel != wantCancel {
				t.Errorf("%s/%s: cancel link shown %v, want %v", typ, lang, hasCancel, wantCancel)
			}
		}
	}

	// A 仮予約 says so; a member gets the my page instead of a link; a
	// copy never carries the guest's link.
	p := sampleReservation(LangJapanese).(ReservationMail)
	p.Status = string(reservations.StatusPending)
	r, err := renderContent(d[EventReservationCreated+"/ja"], p.vars(sampleContext(LangJapanese)))
	if err != nil || r.Subject != "【サンプル予約店】仮予約を受け付けました（R261210ABCDE）" || !strings.Contains(r.Text, "仮予約（承認待ち）") {
		t.Errorf("pending: %q %v\n%s", r.Subject, err, r.Text)
	}
	p.MemberID, p.CancelToken = "m1", ""
	r, _ = renderContent(d[EventReservationCreated+"/ja"], p.vars(sampleContext(LangJapanese)))
	if !strings.Contains(r.Text, "https://yoyaku.example.jp/t/sample/mypage") {
		t.Errorf("member: no my page link:\n%s", r.Text)
	}
	cp := sampleReservation(LangJapanese).(ReservationMail).forCopy()
	r, _ = renderContent(d[EventReservationCreated+"/ja"], cp.vars(sampleContext(LangJapanese)))
	if strings.Contains(r.Text, "token=") || strings.Contains(r.HTML, "token=") {
		t.Errorf("a copy carries the guest's cancel link:\n%s", r.Text)
	}
}

func TestFormatPriceAndSpan(t *testing.T) {
	for in, want := range map[int64]string{0: "0円", 999: "999円", 1000: "1,000円", 1234567: "1,234,567円"} {
		if got := formatPrice(in, LangJapanese); got != want {
			t.Errorf("formatPrice(%d) = %q, want %q", in, got, want)
		}
	}
	if got := formatPrice(6000, LangEnglish); got != "¥6,000" {
		t.Errorf("en price %q", got)
	}
	rc := sampleContext(LangJapanese)
	start := time.Date(2026, 12, 10, 14, 30, 0, 0, time.UTC) // 23:30 JST
	if got := formatSpan(start, start.Add(time.Hour), rc); got != "2026年12月10日(木) 23:30 JST – 2026年12月11日(金) 00:30 JST" {
		t.Errorf("span over midnight %q", got)
	}
}

func sampleICS(t *testing.T, typ string, mod func(*ReservationMail)) (calendarPart, string) {
	t.Helper()
	p := sampleReservation(LangJapanese).(ReservationMail)
	if mod != nil {
		mod(&p)
	}
	part, ok := p.calendar(typ, calendarContext{host: "yoyaku.example.jp", organizer: "no-reply@example.jp", name: "サンプル予約店",
		now: time.Date(2026, 11, 27, 3, 4, 5, 0, time.UTC), lang: LangJapanese})
	if !ok {
		t.Fatalf("%s: no calendar", typ)
	}
	return part, string(part.data)
}

// unfold undoes RFC 5545 line folding.
func unfold(s string) string { return strings.ReplaceAll(s, "\r\n ", "") }

func TestICSRequest(t *testing.T) {
	part, s := sampleICS(t, EventReservationConfirmed, func(p *ReservationMail) { p.Version = 3 })
	if part.method != "REQUEST" || part.contentType() != "text/calendar; method=REQUEST; charset=UTF-8" {
		t.Errorf("method %q type %q", part.method, part.contentType())
	}
	if !strings.HasSuffix(s, "END:VCALENDAR\r\n") || strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") {
		t.Errorf("lines must end in CRLF only:\n%q", s)
	}
	u := unfold(s)
	for _, want := range []string{"BEGIN:VCALENDAR\r\n", "VERSION:2.0\r\n", "PRODID:" + icsProdID + "\r\n", "METHOD:REQUEST\r\n",
		"UID:0193a4c2b7d97f3e8a1b2c3d4e5f6071@yoyaku.example.jp\r\n", "SEQUENCE:3\r\n", "DTSTAMP:20261127T030405Z\r\n",
		"DTSTART:20261210T010000Z\r\n", "DTEND:20261210T020000Z\r\n", "SUMMARY:朝ヨガ 60分\r\n", "LOCATION:サンプル予約店\r\n",
		"DESCRIPTION:R261210ABCDE\r\n", "STATUS:CONFIRMED\r\n", "ORGANIZER;CN=サンプル予約店:mailto:no-reply@example.jp\r\n"} {
		if !strings.Contains(u, want) {
			t.Errorf("lacks %q:\n%s", want, s)
		}
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(part.data))
	if err != nil {
		t.Fatal(err)
	}
	ev := cal.Events()
	if len(ev) != 1 || ev[0].Id() != "0193a4c2b7d97f3e8a1b2c3d4e5f6071@yoyaku.example.jp" {
		t.Fatalf("parsed events %+v", ev)
	}
	if st, err := ev[0].GetStartAt(); err != nil || !st.Equal(time.Date(2026, 12, 10, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("start %v %v", st, err)
	}
}

// Long values fold at 75 octets without splitting a UTF-8 character, and
// , ; \ and line breaks are escaped.
func TestICSFoldingAndEscaping(t *testing.T) {
	long := strings.Repeat("朝ヨガ・瞑想クラス", 12) + ", 初心者; 上級\\者\n2行目"
	part, s := sampleICS(t, EventReservationChanged, func(p *ReservationMail) { p.MenuName = long })
	for _, line := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line of %d octets: %q", len(line), line)
		}
		if !utf8.ValidString(line) {
			t.Errorf("a fold split a character: %q", line)
		}
	}
	if !strings.Contains(s, "\r\n ") {
		t.Error("no folded line")
	}
	want := "SUMMARY:" + strings.Repeat("朝ヨガ・瞑想クラス", 12) + `\, 初心者\; 上級\\者\n2行目` + "\r\n"
	if !strings.Contains(unfold(s), want) {
		t.Errorf("escaped summary missing:\n%s", s)
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(part.data))
	if err != nil {
		t.Fatal(err)
	}
	if got := cal.Events()[0].GetProperty(ics.ComponentPropertySummary).Value; got != long {
		t.Errorf("summary read back %q, want %q", got, long)
	}
}

// A cancellation is METHOD:CANCEL, STATUS:CANCELLED, the same UID and a
// higher SEQUENCE; pending bookings, rejections and reminders carry none.
func TestICSCancelAndNone(t *testing.T) {
	_, req := sampleICS(t, EventReservationConfirmed, func(p *ReservationMail) { p.Version = 2 })
	part, s := sampleICS(t, EventReservationCancelled, func(p *ReservationMail) {
		p.Version, p.Status = 3, string(reservations.StatusCancelled)
	})
	if part.method != "CANCEL" || part.contentType() != "text/calendar; method=CANCEL; charset=UTF-8" {
		t.Errorf("method %q", part.method)
	}
	for _, want := range []string{"METHOD:CANCEL\r\n", "STATUS:CANCELLED\r\n", "SEQUENCE:3\r\n",
		"UID:0193a4c2b7d97f3e8a1b2c3d4e5f6071@yoyaku.example.jp\r\n"} {
		if !strings.Contains(unfold(s), want) {
			t.Errorf("cancel lacks %q:\n%s", want, s)
		}
	}
	if !strings.Contains(req, "SEQUENCE:2\r\n") {
		t.Errorf("request:\n%s", req)
	}
	p := sampleReservation(LangJapanese).(ReservationMail)
	c := calendarContext{host: "h", now: time.Now()}
	for _, typ := range []string{EventReservationRejected, EventReservationReminder} {
		if _, ok := p.calendar(typ, c); ok {
			t.Errorf("%s carries an .ics", typ)
		}
	}
	p.Status = string(reservations.StatusPending)
	if _, ok := p.calendar(EventReservationCreated, c); ok {
		t.Error("a 仮予約 carries an .ics")
	}
	if _, ok := p.calendar(EventReservationChanged, c); !ok {
		t.Error("a moved 仮予約 has no tentative .ics")
	}
}
