package notify

import (
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/yoyaku-oss/yoyaku/modules/reservations"
)

// calendarPart is an iCalendar object (RFC 5545) attached to a mail:
// text/calendar; method=METHOD; charset=UTF-8.
type calendarPart struct {
	method string // REQUEST or CANCEL
	data   []byte
}

// contentType is the attachment's MIME type.
func (c calendarPart) contentType() string {
	return "text/calendar; method=" + c.method + "; charset=UTF-8"
}

// calendarContext is what an .ics needs besides the payload.
type calendarContext struct {
	host      string // the UID's right-hand side
	organizer string // the platform's sender address; "" for none
	name      string // the tenant's name: ORGANIZER's CN and LOCATION
	now       time.Time
	lang      string
}

// calendarPayload is a payload whose mail carries an .ics for eventType.
type calendarPayload interface {
	calendar(eventType string, c calendarContext) (calendarPart, bool)
}

// icsProdID names the product that made the calendar object.
const icsProdID = "-//Yoyaku//Yoyaku reservations//EN"

// calendar returns the .ics of a reservation mail: on a confirmation, a
// change and an instant (confirmed) booking a REQUEST; on a cancellation a
// CANCEL. The UID is stable (<reservation id>@<host>), so a calendar
// updates the one entry; SEQUENCE is the reservation's version, which every
// change (the cancellation included) raises, so a later message always
// wins. Received 仮予約, rejections and reminders carry none.
func (p ReservationMail) calendar(eventType string, c calendarContext) (calendarPart, bool) {
	method, status := ics.MethodRequest, ics.ObjectStatusConfirmed
	switch eventType {
	case EventReservationCreated:
		if p.Status != string(reservations.StatusConfirmed) {
			return calendarPart{}, false
		}
	case EventReservationConfirmed:
	case EventReservationChanged:
		switch p.Status {
		case string(reservations.StatusConfirmed):
		case string(reservations.StatusPending):
			status = ics.ObjectStatusTentative
		default:
			return calendarPart{}, false
		}
	case EventReservationCancelled:
		method, status = ics.MethodCancel, ics.ObjectStatusCancelled
	default:
		return calendarPart{}, false
	}
	start, end := p.times()
	if start.IsZero() || end.IsZero() || c.host == "" {
		return calendarPart{}, false
	}
	menu := p.MenuName
	if c.lang == LangEnglish && p.MenuNameEN != "" {
		menu = p.MenuNameEN
	}
	cal := ics.NewCalendarFor("Yoyaku")
	cal.SetProductId(icsProdID)
	cal.SetMethod(method)
	ev := cal.AddEvent(p.ReservationID + "@" + c.host)
	ev.SetDtStampTime(c.now.UTC())
	ev.SetStartAt(start)
	ev.SetEndAt(end)
	ev.SetSequence(p.Version)
	ev.SetSummary(menu)
	if c.name != "" {
		ev.SetLocation(c.name)
	}
	ev.SetDescription(p.Number)
	ev.SetStatus(status)
	if c.organizer != "" {
		// RFC 5546 asks for an ORGANIZER in a REQUEST or CANCEL.
		if cn := paramSafe(c.name); cn != "" {
			ev.SetOrganizer("mailto:"+c.organizer, ics.WithCN(cn))
		} else {
			ev.SetOrganizer("mailto:" + c.organizer)
		}
	}
	if addr, ok := bareAddress(p.CustomerEmail); ok && !p.copy {
		if cn := paramSafe(p.CustomerName); cn != "" {
			ev.AddAttendee("mailto:"+addr, ics.WithCN(cn))
		} else {
			ev.AddAttendee("mailto:" + addr)
		}
	}
	return calendarPart{method: string(method), data: []byte(cal.Serialize(ics.WithNewLine("\r\n")))}, true
}

// paramSafe makes s a parameter value (RFC 5545 SAFE-CHAR): one line,
// without the characters a parameter value cannot hold unquoted (the
// library backslash-escapes them, which RFC 5545 does not define for
// parameters).
func paramSafe(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if strings.ContainsRune("\",;:'\\", r) {
			return -1
		}
		return r
	}, oneLine(s)))
}
