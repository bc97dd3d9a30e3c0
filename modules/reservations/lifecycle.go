package reservations

import (
	"context"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Action is a change of state.
type Action string

// The actions.
const (
	ActionConfirm  Action = "confirm"
	ActionReject   Action = "reject"
	ActionCancel   Action = "cancel"
	ActionComplete Action = "complete"
	ActionNoShow   Action = "no_show"
)

// transition is one edge set of the state machine.
type transition struct {
	from    []Status
	to      Status
	audit   string
	event   string
	release bool // gives the capacity back
	started bool // only once the reservation has started
}

// machine is the state machine: which states an action leaves from.
var machine = map[Action]transition{
	ActionConfirm:  {from: []Status{StatusPending}, to: StatusConfirmed, audit: AuditConfirm, event: EventConfirmed},
	ActionReject:   {from: []Status{StatusPending}, to: StatusRejected, audit: AuditReject, event: EventRejected, release: true},
	ActionCancel:   {from: []Status{StatusPending, StatusConfirmed}, to: StatusCancelled, audit: AuditCancel, event: EventCancelled, release: true},
	ActionComplete: {from: []Status{StatusConfirmed}, to: StatusCompleted, audit: AuditComplete, event: EventCompleted, started: true},
	ActionNoShow:   {from: []Status{StatusConfirmed}, to: StatusNoShow, audit: AuditNoShow, event: EventNoShow, started: true},
}

// Allowed reports whether action may leave status (the state machine, for
// the console's buttons).
func Allowed(action Action, status Status) bool {
	tr, ok := machine[action]
	return ok && slices.Contains(tr.from, status)
}

// ChangeInput says who asks for a change and why.
type ChangeInput struct {
	Reason string
	// Customer: a member or guest asks (deadlines apply); otherwise staff.
	Customer bool
	// MemberID: the member asking; the reservation must be theirs.
	MemberID string
	// Token: the guest's cancel token; when set it must match.
	Token string
}

// Change applies action to reservation id: state machine, deadlines for
// customers, capacity given back on cancel and reject, version + 1, the
// operation log and the outbox event, all in one transaction.
func (s *Service) Change(ctx context.Context, db bun.IDB, t tenants.Tenant, id string, action Action, in ChangeInput) (Reservation, error) {
	_, ok := machine[action]
	if !ok {
		return Reservation{}, apperr.Invalid(apperr.Field("action", "oneof", nil))
	}
	if action != ActionCancel && in.Customer {
		return Reservation{}, ErrStatus.WithArgs(map[string]any{"Status": ""})
	}
	if len([]rune(in.Reason)) > 500 {
		return Reservation{}, apperr.Invalid(apperr.Field("reason", "max", map[string]any{"Param": 500}))
	}
	var out Reservation
	var evs []outbox.Event
	err := runTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, evs, err = s.changeIn(ctx, tx, t, id, action, in)
		return err
	})
	if err != nil {
		return Reservation{}, err
	}
	s.log.InfoContext(ctx, "reservation changed", "reservation_id", out.ID, "status", string(out.Status))
	s.after(ctx, t, evs)
	return out, nil
}

// changeIn applies action to reservation id inside tx (Change checked the
// input): it returns the reservation changed and the events to hand to the
// dispatcher after the commit. A cancelled prepaid reservation's refund is
// recorded here, in the same transaction (refundDue).
func (s *Service) changeIn(ctx context.Context, tx bun.IDB, t tenants.Tenant, id string, action Action, in ChangeInput) (out Reservation, evs []outbox.Event, err error) {
	tr := machine[action]
	zone, now := ZoneOf(t), s.clock()
	err = func() error {
		evs = nil
		rw, err := selectRow(ctx, tx, id)
		if err != nil {
			return err
		}
		r := fromRow(rw)
		if in.MemberID != "" && r.MemberID != in.MemberID {
			return ErrNotFound
		}
		if in.Token != "" && (rw.CancelTokenHash == "" || !constantEqual(rw.CancelTokenHash, hashToken(in.Token))) {
			return ErrToken
		}
		if !slices.Contains(tr.from, r.Status) {
			return ErrStatus.WithArgs(map[string]any{"Status": string(r.Status)})
		}
		if tr.started && now.Before(r.StartsAt) {
			return ErrNotStarted
		}
		m, err := s.menus.Get(ctx, tx, r.MenuID)
		if err != nil {
			return err
		}
		if in.Customer {
			deadline := r.StartsAt.Add(-time.Duration(m.Effective.CancelDeadlineMinutes) * time.Minute)
			if !now.Before(deadline) {
				return ErrDeadline.WithArgs(map[string]any{"Deadline": deadline.In(zone).Format(time.RFC3339)})
			}
		}
		old, version := r.Status, r.Version
		r.Status, r.Version, r.UpdatedAt = tr.to, r.Version+1, now
		rw.Status, rw.Version, rw.UpdatedAt, rw.HoldsCapacity = string(r.Status), r.Version, now, r.Status.Active()
		cols := []string{"status", "version", "updated_at", "holds_capacity"}
		if tr.release {
			r.CancelledAt, r.CancelledBy, r.CancelReason = &now, actorOf(ctx), in.Reason
			rw.CancelledAt, rw.CancelledBy, rw.CancelReason = &now, r.CancelledBy, in.Reason
			cols = append(cols, "cancelled_at", "cancelled_by", "cancel_reason")
		}
		ok, err := updateGuarded(ctx, tx, rw, version, cols...)
		if err != nil {
			return err
		}
		if !ok {
			return ErrChanged
		}
		if tr.release {
			if err := give(ctx, tx, r, now); err != nil {
				return err
			}
			if _, err := outbox.Cancel(ctx, tx, EventReminder, r.ID); err != nil {
				return err
			}
			// The freed seat goes to the first in the waitlist's line.
			more, err := s.offerNext(ctx, tx, t, r.SlotID, now)
			if err != nil {
				return err
			}
			evs = append(evs, more...)
		}
		var ch auditlog.Changes
		ch.Add("status", string(old), string(r.Status))
		if in.Reason != "" {
			ch.Add("reason", nil, in.Reason)
		}
		if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: tr.audit, ObjectType: "reservation", ObjectID: r.ID,
			Changes: ch}); err != nil {
			return err
		}
		e := s.payload(r, m, zone)
		e.Reason = in.Reason
		if evs, err = s.record(ctx, tx, evs, tr.event, r, e); err != nil {
			return err
		}
		if action == ActionConfirm {
			evs, err = s.remind(ctx, tx, evs, r, m, zone, now)
		}
		out = r
		return err
	}()
	if err == nil && action == ActionCancel {
		evs, err = s.refundDue(ctx, tx, evs, out, now)
	}
	return out, evs, err
}

// MoveInput is where a reservation moves to.
type MoveInput struct {
	SlotID     string    // sessions
	StartsAt   time.Time // hours menus
	ProviderID string    // 指名 for the new time; "" for any
	Customer   bool      // a member asks: the change deadline applies
	MemberID   string
	Overbook   bool // staff (owner or admin) only
}

// Move changes a reservation's time in one transaction: the old capacity
// is given back and the new one taken; when the new one is full the whole
// transaction rolls back and the reservation stays where it was.
func (s *Service) Move(ctx context.Context, db bun.IDB, t tenants.Tenant, id string, in MoveInput) (Reservation, error) {
	zone, now := ZoneOf(t), s.clock()
	cur, err := s.Get(ctx, db, id)
	if err != nil {
		return Reservation{}, err
	}
	if in.MemberID != "" && cur.MemberID != in.MemberID {
		return Reservation{}, ErrNotFound
	}
	if in.Overbook && in.Customer {
		return Reservation{}, ErrOverbookForbidden
	}
	m, err := s.menus.Get(ctx, db, cur.MenuID)
	if err != nil {
		return Reservation{}, err
	}
	var v apperr.Validator
	p, err := s.planFor(ctx, db, m, where{SlotID: in.SlotID, StartsAt: in.StartsAt, ProviderID: in.ProviderID,
		OptionIDs: cur.OptionIDs, Party: cur.PartySize}, &v)
	if err != nil {
		return Reservation{}, err
	}
	if err := v.Err(); err != nil {
		return Reservation{}, err
	}
	if in.Customer {
		if err := s.checkWindow(ctx, db, m, zone, p.start, now); err != nil {
			return Reservation{}, err
		}
	}
	if err := p.prepare(ctx, db); err != nil {
		return Reservation{}, err
	}
	var out Reservation
	var evs []outbox.Event
	err = runTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		evs = nil
		rw, err := selectRow(ctx, tx, id)
		if err != nil {
			return err
		}
		r := fromRow(rw)
		if !r.Status.Active() {
			return ErrStatus.WithArgs(map[string]any{"Status": string(r.Status)})
		}
		if in.Customer {
			deadline := r.StartsAt.Add(-time.Duration(m.Effective.ChangeDeadlineMinutes) * time.Minute)
			if !now.Before(deadline) {
				return ErrDeadline.WithArgs(map[string]any{"Deadline": deadline.In(zone).Format(time.RFC3339)})
			}
		}
		before := r
		if err := give(ctx, tx, r, now); err != nil {
			return err
		}
		provider, err := p.take(ctx, tx, in.Overbook, now)
		if err != nil {
			return err
		}
		r.SlotID, r.StartsAt, r.EndsAt, r.ProviderID = p.slotID, p.start, p.end, provider
		r.Version, r.UpdatedAt = r.Version+1, now
		r.Overbooked = r.Overbooked || in.Overbook
		if in.Customer && m.BookingMode == menus.ModeHours {
			if err := s.offered(ctx, tx, m, zone, r, r.OptionIDs, now); err != nil {
				return err
			}
		}
		rw.SlotID, rw.StartsAt, rw.EndsAt, rw.ProviderID = r.SlotID, r.StartsAt, r.EndsAt, r.ProviderID
		rw.Version, rw.UpdatedAt, rw.Overbooked = r.Version, now, r.Overbooked
		ok, err := updateGuarded(ctx, tx, rw, before.Version, "slot_id", "starts_at", "ends_at", "provider_id", "version",
			"updated_at", "overbooked")
		if err != nil {
			return err
		}
		if !ok {
			return ErrChanged
		}
		if err := occupy(ctx, tx, r); err != nil {
			return err
		}
		if before.SlotID != "" && before.SlotID != r.SlotID {
			more, err := s.offerNext(ctx, tx, t, before.SlotID, now)
			if err != nil {
				return err
			}
			evs = append(evs, more...)
		}
		var ch auditlog.Changes
		ch.Add("starts_at", before.StartsAt, r.StartsAt)
		if before.SlotID != r.SlotID {
			ch.Add("slot_id", before.SlotID, r.SlotID)
		}
		if before.ProviderID != r.ProviderID {
			ch.Add("provider_id", before.ProviderID, r.ProviderID)
		}
		if in.Overbook {
			ch.Add("overbook", nil, true)
		}
		if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: AuditMove, ObjectType: "reservation", ObjectID: r.ID,
			Changes: ch}); err != nil {
			return err
		}
		if evs, err = s.record(ctx, tx, evs, EventChanged, r, s.payload(r, m, zone)); err != nil {
			return err
		}
		if r.Status == StatusConfirmed {
			evs, err = s.remind(ctx, tx, evs, r, m, zone, now)
		}
		out = r
		return err
	})
	if err != nil {
		return Reservation{}, err
	}
	s.log.InfoContext(ctx, "reservation moved", "reservation_id", out.ID)
	s.after(ctx, t, evs)
	return out, nil
}
