// Package reservations books time: a seat of a timetable or event session,
// or a start time of an hours menu with a provider (担当) and resources
// (設備), and keeps each reservation through its life — pending (仮予約),
// confirmed, rejected, cancelled, completed, no-show — and its moves.
//
// # The booking invariant
//
// Capacity is never exceeded and no exclusive provider or resource is
// double-booked, under any concurrency, on SQLite and MySQL/MariaDB. No
// code here reads what is free and then writes: each hold is one guarded
// statement whose rows-affected count says whether it held.
//
//   - A session seat: UPDATE timetable_slots SET booked = booked + ? WHERE
//     id = ? AND closed = ? AND booked + ? <= capacity. No row: the session
//     is full (slot_full), closed (slot_closed) or gone.
//   - An hours booking holds capacity cells: rows of capacity_cells
//     (owner_kind, owner_id, cell_start) on a 5-minute grid in UTC (Unix
//     seconds), one per owner and five minutes of [start, end). Owners are
//     the menu (its seats: capacity = the menu's capacity, n = the party),
//     the provider who serves (capacity 1) and each resource (capacity =
//     its quantity, n = what the menu needs). Missing cells are inserted
//     with used = 0 (INSERT … ON CONFLICT DO NOTHING / INSERT IGNORE) in a
//     short statement of their own before the transaction — an empty cell
//     means nothing, and keeping that insert out of the booking's
//     transaction spares InnoDB the shared-then-exclusive lock upgrade that
//     makes concurrent INSERT IGNORE + UPDATE deadlock. Inside the
//     transaction one UPDATE per owner — SET used = used + ? WHERE
//     owner_kind = ? AND owner_id = ? AND cell_start IN (…) AND used + ? <=
//     ? — must change exactly as many rows as there are cells, or the
//     transaction rolls back (slot_full, or provider_unavailable for a
//     named provider).
//   - Owners are taken in one order — the menu, then the provider, then
//     resources by id; cells ascending inside each statement — and the
//     whole transaction is retried a few times on a MySQL deadlock (1213),
//     a lock-wait timeout (1205) or SQLite busy.
//   - 指名なし (no provider asked for): the menu's active providers are
//     tried in a fair order (fewest active reservations that day, then id),
//     each attempt inside a SAVEPOINT; the first whose guarded update holds
//     serves.
//   - Cancelling, rejecting or moving gives back exactly what was held
//     (the same statements with used - ?), guarded by the reservation's
//     own status change (UPDATE … WHERE id = ? AND version = ?), so nothing
//     is given back twice.
//   - An admin (owner or admin role) may overbook on purpose: the guard's
//     bound is then dropped for that one booking (a session's capacity is
//     raised to the seats booked, since its CHECK forbids booked above
//     capacity), and the operation log records "overbook".
//
// Whether a start is offered at all (business hours, the provider's hours,
// blocks, the booking window) is asked of timeslots' availability inside
// the booking's transaction for public bookings; that check is a courtesy,
// not the line: the guard is. Staff bookings skip it (staff decide, as for
// sessions on closed days), never the guard. The calendar's occupancy
// (timeslots.Occupy, Release) is written in the same transaction so that
// availability sees every booking.
//
// # Idempotency
//
// The HTTP edge's idempotency middleware answers a retried request with
// the first answer. Behind it, a reservation made with an Idempotency-Key
// stores a hash of (scope, key) under a unique index: a retry that slips
// past the middleware (its first attempt's process died after the commit)
// finds the reservation instead of making a second one.
//
// # Prices
//
// Timetable and event menus are priced per person: (menu price + options)
// × party. Hours menus are priced per booking: menu price + options,
// whatever the party (a private room for four is one booking).
//
// Every change is written with its operation-log entry (auditlog.Append)
// and its outbox event in one transaction, and bumps the reservation's
// version (the .ics SEQUENCE).
package reservations

import (
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Status is where a reservation is in its life.
type Status string

// The states. pending → confirmed | rejected | cancelled; confirmed →
// cancelled | completed | no_show. Rejected and cancelled reservations
// hold no capacity.
const (
	StatusPending   Status = "pending"
	StatusConfirmed Status = "confirmed"
	StatusRejected  Status = "rejected"
	StatusCancelled Status = "cancelled"
	StatusCompleted Status = "completed"
	StatusNoShow    Status = "no_show"
)

// Statuses lists the states (a new slice each call).
func Statuses() []Status {
	return []Status{StatusPending, StatusConfirmed, StatusRejected, StatusCancelled, StatusCompleted, StatusNoShow}
}

// Active reports whether a reservation in s holds its time.
func (s Status) Active() bool { return s == StatusPending || s == StatusConfirmed }

// Source is where a reservation came from.
type Source string

// The sources.
const (
	SourcePublic Source = "public" // the booking site or the public API (a guest or a member)
	SourceStaff  Source = "staff"  // the console
	SourceAPI    Source = "api"    // the tenant API (an API key)
)

// Staff reports whether the source is the tenant's own staff (console or
// API key), who may bypass members' rules but never capacity.
func (s Source) Staff() bool { return s == SourceStaff || s == SourceAPI }

// Customer is who the reservation is for, as given when booking.
type Customer struct {
	Name  string
	Kana  string
	Email string
	Phone string
}

// ResourceUse is units of a resource a reservation holds.
type ResourceUse struct {
	ResourceID string `json:"resource_id"`
	Quantity   int    `json:"quantity"`
}

// Reservation is one booking.
type Reservation struct {
	ID         string // 32-hex uuid v7
	Number     string // human-readable, unique: R + yymmdd + 5 characters
	MenuID     string
	Mode       menus.BookingMode
	SlotID     string    // sessions only
	StartsAt   time.Time // UTC
	EndsAt     time.Time // UTC
	PartySize  int
	ProviderID string // the provider who serves ("" when none)
	Resources  []ResourceUse
	OptionIDs  []string
	Answers    map[string]any // question id → string, or []string for multiple choice
	Price      int64
	Status     Status
	Overbooked bool
	Customer   Customer
	MemberID   string
	Lang       string
	Source     Source
	SourceIP   string
	UserAgent  string
	CreatedBy  string // the actor, as "kind:id"
	Version    int
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// CancelledAt, CancelledBy, CancelReason: set when cancelled or rejected.
	CancelledAt  *time.Time
	CancelledBy  string
	CancelReason string
}

// Errors of the engine.
var (
	ErrNotFound = apperr.New(apperr.KindNotFound, "reservation_not_found")
	// ErrSlotFull: not enough seats, units or free cells left (409).
	ErrSlotFull = apperr.New(apperr.KindConflict, "slot_full")
	// ErrSlotClosed: the session takes no bookings (409).
	ErrSlotClosed = apperr.New(apperr.KindConflict, "slot_closed")
	// ErrSlotUnavailable: the start is not offered — outside business or
	// the provider's hours, blocked, or not on the grid (409).
	ErrSlotUnavailable = apperr.New(apperr.KindConflict, "slot_unavailable")
	// ErrProviderUnavailable: the provider asked for is taken then (409).
	ErrProviderUnavailable = apperr.New(apperr.KindConflict, "provider_unavailable")
	// ErrWindow: booking for that start has not opened or has closed (409).
	ErrWindow = apperr.New(apperr.KindConflict, "booking_window_closed")
	// ErrMemberLimit: the member has MaxPerMember reservations in the period (409).
	ErrMemberLimit = apperr.New(apperr.KindConflict, "member_limit_reached")
	// ErrStatus: the reservation's state does not allow the action (409).
	ErrStatus = apperr.New(apperr.KindConflict, "reservation_status")
	// ErrChanged: the reservation changed meanwhile; read it again (409).
	ErrChanged = apperr.New(apperr.KindConflict, "reservation_changed")
	// ErrDeadline: a customer's cancel or change deadline has passed (409).
	ErrDeadline = apperr.New(apperr.KindConflict, "reservation_deadline_passed")
	// ErrNotStarted: complete and no-show wait for the start (409).
	ErrNotStarted = apperr.New(apperr.KindConflict, "reservation_not_started")
	// ErrToken: the guest's cancel token does not match (403).
	ErrToken = apperr.New(apperr.KindForbidden, "reservation_token_invalid")
	// ErrOverbookForbidden: only owners and admins may overbook (403).
	ErrOverbookForbidden = apperr.New(apperr.KindForbidden, "overbook_forbidden")
)

// Operation-log actions.
const (
	AuditCreate   = "reservation.create"
	AuditConfirm  = "reservation.confirm"
	AuditReject   = "reservation.reject"
	AuditCancel   = "reservation.cancel"
	AuditComplete = "reservation.complete"
	AuditNoShow   = "reservation.no_show"
	AuditMove     = "reservation.move"
)

// Outbox event types.
const (
	EventCreated   = "reservation.created"
	EventConfirmed = "reservation.confirmed"
	EventRejected  = "reservation.rejected"
	EventCancelled = "reservation.cancelled"
	EventChanged   = "reservation.changed"
	EventCompleted = "reservation.completed"
	EventNoShow    = "reservation.no_show"
	EventReminder  = "reservation.reminder"
)

// EventTypes lists the event types the module records (a new slice each
// call), for consumers to subscribe to.
func EventTypes() []string {
	return []string{EventCreated, EventConfirmed, EventRejected, EventCancelled, EventChanged, EventCompleted, EventNoShow,
		EventReminder}
}

// Event is the payload of every reservation event: what a mail needs.
type Event struct {
	ReservationID string `json:"reservation_id"`
	Number        string `json:"number"`
	Status        string `json:"status"`
	Version       int    `json:"version"`
	MenuID        string `json:"menu_id"`
	MenuName      string `json:"menu_name"`
	MenuNameEN    string `json:"menu_name_en,omitempty"`
	StartsAt      string `json:"starts_at"` // RFC 3339 with the tenant's offset
	EndsAt        string `json:"ends_at"`
	TimeZone      string `json:"time_zone"`
	PartySize     int    `json:"party_size"`
	Price         int64  `json:"price"`
	CustomerName  string `json:"customer_name"`
	CustomerEmail string `json:"customer_email"`
	MemberID      string `json:"member_id,omitempty"`
	Lang          string `json:"lang"`
	// CancelToken is the guest's secret cancel link token, on
	// reservation.created only (the mail carries the link; only its hash
	// is stored with the reservation).
	CancelToken string `json:"cancel_token,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// Limits.
const (
	MaxPage        = 100
	DefaultPage    = 50
	MaxAnswerText  = 1000
	MaxAnswerLong  = 5000
	CellMinutes    = 5
	maxTxAttempts  = 12
	DefaultRemind  = 24 * time.Hour
	numberAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ" // no 0/O, 1/I
	numberRandLen  = 5
)
