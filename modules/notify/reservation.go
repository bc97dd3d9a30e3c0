package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/reservations"
)

// The reservation mails. Their payload is the event the reservations module
// records (reservations.Event), read as it is: notify comes after
// reservations in the module order, so it imports that exported type
// rather than keeping a copy that could drift from what is written.
const (
	// EventReservationCreated: the booking was received — a 仮予約 waiting
	// for approval, or, for menus without approval, a confirmed booking
	// (one template; its .Pending variable tells which).
	EventReservationCreated = reservations.EventCreated
	// EventReservationConfirmed: staff approved a 仮予約.
	EventReservationConfirmed = reservations.EventConfirmed
	// EventReservationRejected: staff declined a 仮予約.
	EventReservationRejected = reservations.EventRejected
	// EventReservationChanged: the reservation moved to another time.
	EventReservationChanged = reservations.EventChanged
	// EventReservationCancelled: cancelled by the customer or by staff.
	EventReservationCancelled = reservations.EventCancelled
	// EventReservationReminder: the reminder before the start.
	EventReservationReminder = reservations.EventReminder
)

// ReservationMail is the payload of the reservation mails: the
// reservations module's event. A booking without an e-mail address (staff
// booked it for someone who gave none) has no customer mail; only the
// tenant's copies, when asked for, go out.
type ReservationMail struct {
	reservations.Event
	// ProviderName is read at send time (ReservationLookup); the event
	// carries the provider's id only in the reservation.
	ProviderName string `json:"-"`
	// copy: rendered for the tenant's contact addresses — without the
	// guest's cancel link, which is the guest's credential.
	copy bool
}

// ReservationState is what Deliver reads of a reservation when it sends:
// whether a reminder still applies, and the provider's name.
type ReservationState struct {
	Status       string
	StartsAt     time.Time
	ProviderName string
}

// ReservationLookup reads reservation id in the tenant's database; ok is
// false when there is no such reservation.
type ReservationLookup func(ctx context.Context, db bun.IDB, id string) (state ReservationState, ok bool, err error)

// reservationDef is the eventDef of a reservation mail. Reservation mails
// may be copied to the tenant's contacts (without the guest's link).
func reservationDef() eventDef {
	return eventDef{copyable: true, optionalRecipient: true, decode: decodeReservation, sample: sampleReservation}
}

func decodeReservation(raw json.RawMessage, _ *validator.Validate) (payload, error) {
	var p ReservationMail
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	var bad []string
	if p.ReservationID == "" || len(p.ReservationID) > 64 || strings.ContainsAny(p.ReservationID, "@ \r\n<>") {
		bad = append(bad, "reservation_id")
	}
	if p.Number == "" {
		bad = append(bad, "number")
	}
	if _, err := time.Parse(time.RFC3339, p.StartsAt); err != nil {
		bad = append(bad, "starts_at")
	}
	if _, err := time.Parse(time.RFC3339, p.EndsAt); err != nil {
		bad = append(bad, "ends_at")
	}
	if p.CustomerEmail != "" {
		if _, ok := bareAddress(p.CustomerEmail); !ok {
			bad = append(bad, "customer_email")
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("invalid fields: %s", strings.Join(bad, ", "))
	}
	return p, nil
}

func sampleReservation(lang string) payload {
	start := sampleTime
	return ReservationMail{Event: reservations.Event{
		ReservationID: "0193a4c2b7d97f3e8a1b2c3d4e5f6071", Number: "R261210ABCDE", Status: string(reservations.StatusConfirmed),
		Version: 1, MenuID: "0193a4c2b7d97f3e8a1b2c3d4e5f6072", MenuName: "朝ヨガ 60分", MenuNameEN: "Morning yoga (60 min)",
		StartsAt: start.Format(time.RFC3339), EndsAt: start.Add(time.Hour).Format(time.RFC3339), TimeZone: "Asia/Tokyo",
		PartySize: 2, Price: 6000, CustomerName: sampleName(lang, "予約 花子", "Hanako Yoyaku"),
		CustomerEmail: "hanako@example.jp", Lang: lang, CancelToken: "SAMPLE",
	}, ProviderName: sampleName(lang, "佐藤", "Sato")}
}

func (p ReservationMail) recipient() string { return p.CustomerEmail }
func (p ReservationMail) language() string  { return p.Lang }

// copyPayload is a payload rendered apart for the tenant's copies.
type copyPayload interface{ forCopy() payload }

// forCopy is p as the tenant's copy: the guest's cancel link left out.
func (p ReservationMail) forCopy() payload {
	p.copy = true
	return p
}

func (p ReservationMail) times() (time.Time, time.Time) {
	s, _ := time.Parse(time.RFC3339, p.StartsAt)
	e, _ := time.Parse(time.RFC3339, p.EndsAt)
	return s.UTC(), e.UTC()
}

func (p ReservationMail) vars(rc renderContext) map[string]any {
	start, end := p.times()
	menu := p.MenuName
	if rc.lang == LangEnglish && p.MenuNameEN != "" {
		menu = p.MenuNameEN
	}
	site := ""
	if rc.siteURL != "" && rc.tenant.Slug != "" {
		site = strings.TrimRight(rc.siteURL, "/") + "/t/" + url.PathEscape(rc.tenant.Slug)
	}
	cancelURL, myPage := "", ""
	if site != "" {
		if p.MemberID != "" {
			myPage = site + "/mypage"
		}
		if p.CancelToken != "" && !p.copy {
			cancelURL = site + "/reservations/" + url.PathEscape(p.ReservationID) + "/cancel?token=" + url.QueryEscape(p.CancelToken)
		}
	}
	manage := cancelURL
	if manage == "" {
		manage = myPage
	}
	return withTenant(rc, map[string]any{
		"CustomerName": p.CustomerName, "Number": p.Number, "MenuName": menu,
		"StartsAt": formatTime(start, rc), "EndsAt": formatTime(end, rc), "When": formatSpan(start, end, rc),
		"PartySize": p.PartySize, "ProviderName": p.ProviderName, "Price": formatPrice(p.Price, rc.lang),
		"Status": p.Status, "StatusLabel": statusLabel(p.Status, rc.lang),
		"Pending": p.Status == string(reservations.StatusPending), "Member": p.MemberID != "",
		"SiteURL": site, "CancelURL": cancelURL, "MyPageURL": myPage, "ManageURL": manage, "Reason": p.Reason,
	})
}

// formatSpan writes a start and end the way the UI does, the end as a time
// only when both fall on one day: "2026年12月10日(木) 10:00〜11:00 (JST)",
// "Thu, 10 Dec 2026 10:00–11:00 (JST)".
func formatSpan(start, end time.Time, rc renderContext) string {
	if start.IsZero() {
		return ""
	}
	s, e := start.In(rc.loc), end.In(rc.loc)
	if end.IsZero() || s.Year() != e.Year() || s.YearDay() != e.YearDay() {
		return formatTime(start, rc) + " – " + formatTime(end, rc)
	}
	zone := " (" + s.Format("MST") + ")"
	if rc.lang == LangEnglish {
		return s.Format("Mon, 2 Jan 2006 15:04") + "–" + e.Format("15:04") + zone
	}
	return fmt.Sprintf("%d年%d月%d日(%s) %s〜%s", s.Year(), s.Month(), s.Day(), weekdaysJa[s.Weekday()], s.Format("15:04"),
		e.Format("15:04")) + zone
}

// formatPrice writes yen: "6,000円", "¥6,000".
func formatPrice(yen int64, lang string) string {
	neg := yen < 0
	if neg {
		yen = -yen
	}
	digits := strconv.FormatInt(yen, 10)
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	s := b.String()
	if neg {
		s = "-" + s
	}
	if lang == LangEnglish {
		return "¥" + s
	}
	return s + "円"
}

// statusLabel names a reservation status in lang.
func statusLabel(status, lang string) string {
	labels := map[string][2]string{
		"pending":   {"仮予約（承認待ち）", "Pending approval"},
		"confirmed": {"予約確定", "Confirmed"},
		"rejected":  {"お受けできませんでした", "Declined"},
		"cancelled": {"キャンセル済み", "Cancelled"},
		"completed": {"ご利用済み", "Completed"},
		"no_show":   {"ご来店なし", "No-show"},
	}
	l, ok := labels[status]
	if !ok {
		return status
	}
	if lang == LangEnglish {
		return l[1]
	}
	return l[0]
}

// stale reports whether the mail of a reservation event should not go out
// any more: a reminder whose reservation was cancelled, rejected, moved or
// deleted meanwhile (outbox.Cancel drops pending ones; this catches one
// already leased, or recorded before a change that could not cancel it).
// It also reads the provider's name into p.
func (s *Service) stale(ctx context.Context, db bun.IDB, eventType string, p *ReservationMail) (bool, error) {
	if s.lookup == nil {
		return false, nil
	}
	st, ok, err := s.lookup(ctx, db, p.ReservationID)
	if err != nil {
		return false, err
	}
	if ok {
		p.ProviderName = st.ProviderName
	}
	if eventType != EventReservationReminder {
		return false, nil
	}
	if !ok {
		return true, nil
	}
	start, _ := p.times()
	active := st.Status == string(reservations.StatusPending) || st.Status == string(reservations.StatusConfirmed)
	return !active || !st.StartsAt.Equal(start), nil
}
