package notify

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
)

// ReminderOffset is how long before a start a reminder goes out. Days are
// counted in the tenant's calendar — the same wall-clock time N days
// earlier, also across a daylight-saving change — and Hours as elapsed
// time on top, as people mean "the day before at the same time" and
// "3 hours before".
type ReminderOffset struct {
	Days  int
	Hours int
}

// ReminderDue returns when the reminder of something starting at start
// goes out, for a tenant in loc.
func ReminderDue(start time.Time, loc *time.Location, off ReminderOffset) time.Time {
	t := start.In(loc).AddDate(0, 0, -off.Days)
	return t.Add(-time.Duration(off.Hours) * time.Hour).UTC()
}

// ScheduleReminder records, in tx (the transaction of the booking or the
// change), the reminder event of target due at ReminderDue. The target's id
// is the event's key, so scheduling again — a moved reservation — replaces
// the pending reminder instead of adding one: each reminder is sent once.
func ScheduleReminder(ctx context.Context, tx bun.IDB, subs *outbox.Subscriptions, eventType, aggregateType, targetID string,
	start time.Time, loc *time.Location, off ReminderOffset, payload any) ([]outbox.Event, error) {
	return outbox.Enqueue(ctx, tx, subs, outbox.NewEvent{
		Type: eventType, AggregateType: aggregateType, AggregateID: targetID, Key: targetID,
		Payload: payload, DueAt: ReminderDue(start, loc, off),
	})
}

// CancelReminder cancels the pending reminder of target (a cancelled
// reservation is not reminded).
func CancelReminder(ctx context.Context, tx bun.IDB, eventType, targetID string) (int, error) {
	return outbox.Cancel(ctx, tx, eventType, targetID)
}
