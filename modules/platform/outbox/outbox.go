// Package outbox is the transactional outbox: a change records its events
// in the same transaction as the change itself (a table in the tenant's own
// database), and dispatchers deliver them afterwards, at least once, to the
// consumers subscribed to their type — mail, webhooks, plugins.
//
// # Recording
//
// Enqueue writes one delivery row per subscribed consumer, inside the
// caller's transaction: the change and its events commit together or not at
// all. Each row has its own id, which its consumer uses as the idempotency
// key downstream (the mail's Message-ID, a webhook header), so that a
// re-delivery after a crash is recognised as the same message. A row can be
// scheduled (DueAt in the future: reminders), replaced while pending by a
// newer event with the same Type and Key (a moved reservation's reminder),
// or cancelled (Cancel).
//
// After the commit the writer tells the dispatchers: Dispatcher.Notify
// records the tenant's next due time in the control database (RecordDue:
// dispatchers of every process poll that small table instead of every
// tenant database) and wakes the local dispatcher at once (Wake). A slow
// sweep over all tenants repairs what a crash between the commit and
// RecordDue missed.
//
// # Delivering
//
// A dispatcher claims due rows with a lease (claimed_by, lease_until) so
// that several processes on the same MySQL databases never deliver one row
// at the same time: on MySQL/MariaDB it picks rows with SELECT ... FOR
// UPDATE SKIP LOCKED in a short READ COMMITTED transaction and sets the
// lease there; on SQLite the same transaction holds the database's write
// lock, which is enough. It then delivers outside any transaction, each
// delivery first renewing its lease with a guarded update, with a deadline
// inside that lease, and records the outcome with a guarded update
// (WHERE id = ? AND claimed_by = ?). A process killed after a handler
// succeeded but before the outcome was recorded leaves a row whose lease
// runs out; another pass delivers it again, with the same id.
//
// A failure is retried with exponential backoff and full jitter; after
// MaxAttempts, or at once when the handler returns Permanent(err), the row
// is dead: List shows it to the console and the operator API, Retry sends it
// again and Discard drops it.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
)

// Status is the state of one delivery row.
type Status string

// The states. pending → delivered is the normal life; pending → dead after
// too many failures (or a permanent one); dead → pending by Retry, dead →
// discarded by Discard; pending → cancelled by Cancel or when a newer event
// with the same Type and Key replaces it.
const (
	StatusPending   Status = "pending"
	StatusDelivered Status = "delivered"
	StatusDead      Status = "dead"
	StatusDiscarded Status = "discarded"
	StatusCancelled Status = "cancelled"
)

// Valid reports whether s is one of the states.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusDelivered, StatusDead, StatusDiscarded, StatusCancelled:
		return true
	}
	return false
}

// NewEvent is what a change records, inside its own transaction.
type NewEvent struct {
	Type          string // "staff.invited", "reservation.reminder", ...
	AggregateType string // what it is about, e.g. "reservation"
	AggregateID   string // and which one
	Payload       any    // JSON-marshalled; a json.RawMessage is kept as it is
	// DueAt is when to deliver: zero is now; a future instant schedules the
	// event (reminders).
	DueAt time.Time
	// Key, when set, deduplicates: a still pending event with the same Type
	// and Key is replaced (cancelled) by this one, e.g. when a reminder is
	// re-scheduled. Cancel takes the same Type and Key.
	Key string
}

// Event is one delivery row: one event for one consumer.
type Event struct {
	// ID is this delivery's id: the consumer's idempotency key downstream
	// (mail Message-ID, webhook header). A re-delivery carries the same ID.
	ID string
	// EventID is the id of the recorded event, shared by its deliveries to
	// every consumer.
	EventID       string
	Type          string
	AggregateType string
	AggregateID   string
	Key           string
	Payload       json.RawMessage
	DueAt         time.Time // when the event is due
	NextAt        time.Time // when a dispatcher may next try it (after a backoff, or when a lease ends)
	CreatedAt     time.Time
	UpdatedAt     time.Time
	DeliveredAt   time.Time // zero unless delivered
	RequestID     string    // the request that recorded it, for the logs
	Attempts      int       // deliveries started
	Consumer      string
	Status        Status
	LastError     string
}

// Decode unmarshals the event's payload into v.
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return Permanent(fmt.Errorf("outbox: decode %s payload: %w", e.Type, err))
	}
	return nil
}

// Tenant is a tenant as the dispatcher needs it.
type Tenant struct {
	ID        string
	Slug      string
	Placement tenantdb.Placement
}

// Handler delivers one event to one consumer. Use e.ID as the idempotency
// key downstream (mail Message-ID, webhook header): the same event may be
// delivered again after a crash. Return nil when delivered; an error to
// retry later; Permanent(err) to dead-letter at once. db is the tenant's
// database (no transaction is open); ctx ends before the delivery's lease
// does, so a slow handler is cut off before another process may take the
// event over.
type Handler func(ctx context.Context, db bun.IDB, tenant Tenant, e Event) error

// Permanent marks err as not worth retrying: the event is dead-lettered at
// once (a malformed payload, a recipient that does not exist).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Subscriptions say which consumers get which event types. Register them
// once at start, before Enqueue and the dispatchers run; they are safe for
// concurrent use.
type Subscriptions struct {
	mu     sync.RWMutex
	byType map[string][]subscription // event type ("*": all) → subscriptions in order
	now    func() time.Time
}

type subscription struct {
	consumer string
	handler  Handler
}

// NewSubscriptions returns an empty set.
func NewSubscriptions() *Subscriptions {
	return &Subscriptions{byType: map[string][]subscription{}, now: time.Now}
}

// SetClock sets the clock Enqueue stamps events with (default time.Now);
// tests inject theirs here and in DispatcherConfig.Now.
func (s *Subscriptions) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

var (
	consumerRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	eventTypeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,99}$`)
)

// Subscribe has consumer receive events of eventType ("*": every type)
// through h. A consumer is a stable name ("mail", "webhooks", "plugin.crm"):
// it is stored with each delivery row. It panics on a malformed name, a nil
// handler or a second subscription of one consumer to one type, all
// programming errors found at start.
func (s *Subscriptions) Subscribe(consumer string, eventType string, h Handler) {
	if !consumerRE.MatchString(consumer) {
		panic(fmt.Sprintf("outbox: malformed consumer name %q", consumer))
	}
	if eventType != "*" && !eventTypeRE.MatchString(eventType) {
		panic(fmt.Sprintf("outbox: malformed event type %q", eventType))
	}
	if h == nil {
		panic("outbox: nil handler for " + consumer)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(s.byType[eventType], func(x subscription) bool { return x.consumer == consumer }) {
		panic(fmt.Sprintf("outbox: %s subscribes to %s twice", consumer, eventType))
	}
	s.byType[eventType] = append(s.byType[eventType], subscription{consumer, h})
}

// consumers returns the consumers of eventType, each once, in the order
// they subscribed (the type's own subscriptions first, then "*").
func (s *Subscriptions) consumers(eventType string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, list := range [][]subscription{s.byType[eventType], s.byType["*"]} {
		for _, sub := range list {
			if !slices.Contains(out, sub.consumer) {
				out = append(out, sub.consumer)
			}
		}
	}
	return out
}

// handler returns consumer's handler for eventType, or nil.
func (s *Subscriptions) handler(consumer, eventType string) Handler {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, list := range [][]subscription{s.byType[eventType], s.byType["*"]} {
		for _, sub := range list {
			if sub.consumer == consumer {
				return sub.handler
			}
		}
	}
	return nil
}

func (s *Subscriptions) clock() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.now()
}

// Filter selects delivery rows for List. Rows come newest first.
type Filter struct {
	Status   Status // empty: any
	Type     string // empty: any
	Consumer string // empty: any
	// AggregateType and AggregateID select the events about one thing.
	AggregateType, AggregateID string
	Limit                      int    // 1–500, default 50
	Before                     string // an id from the previous page: only older rows
}

// Errors.
var (
	// ErrNotFound: no delivery row has that id.
	ErrNotFound = apperr.New(apperr.KindNotFound, "outbox_event_not_found")
	// ErrNotDead: Retry and Discard act only on dead-lettered rows.
	ErrNotDead = apperr.New(apperr.KindConflict, "outbox_event_not_dead")

	errNoTx = errors.New("outbox: Enqueue must run inside the transaction of the change")
)

// Enqueue records the event for every consumer subscribed to its type (one
// delivery row per consumer) in tx, which must be the caller's transaction
// so that the change and its event commit together. The request ID is taken
// from ctx (logx.RequestID). An event no consumer subscribes to is not
// recorded (nil, nil). After the caller commits, call Dispatcher.Notify
// with the events (or RecordDue and Wake) so that they are delivered soon.
func Enqueue(ctx context.Context, tx bun.IDB, subs *Subscriptions, e NewEvent) ([]Event, error) {
	if !isTx(tx) {
		return nil, errNoTx
	}
	if err := validate(e); err != nil {
		return nil, err
	}
	consumers := subs.consumers(e.Type)
	if len(consumers) == 0 {
		return nil, nil
	}
	payload, err := json.Marshal(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("outbox: %s payload: %w", e.Type, err)
	}
	now := stamp(subs.clock())
	if e.Key != "" {
		if _, err := cancelPending(ctx, tx, e.Type, e.Key, now, "replaced by a newer event with the same key"); err != nil {
			return nil, err
		}
	}
	rows, err := newRows(ctx, e, consumers, string(payload), now)
	if err != nil {
		return nil, err
	}
	if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return nil, fmt.Errorf("outbox: record %s: %w", e.Type, err)
	}
	out := make([]Event, len(rows))
	for i := range rows {
		out[i] = fromRow(&rows[i])
	}
	return out, nil
}

func isTx(db bun.IDB) bool {
	switch db.(type) {
	case bun.Tx, *bun.Tx:
		return true
	}
	return false
}

func validate(e NewEvent) error {
	switch {
	case !eventTypeRE.MatchString(e.Type):
		return fmt.Errorf("outbox: malformed event type %q", e.Type)
	case len(e.AggregateType) > 64 || len(e.AggregateID) > 100:
		return fmt.Errorf("outbox: %s: aggregate type or id too long", e.Type)
	case len(e.Key) > 255:
		return fmt.Errorf("outbox: %s: key longer than 255 bytes", e.Type)
	}
	return nil
}

// Cancel cancels the pending events of eventType with key (a cancelled or
// moved reservation is not reminded) and returns how many delivery rows it
// cancelled. A delivery already under way is not stopped.
func Cancel(ctx context.Context, tx bun.IDB, eventType, key string) (int, error) {
	if key == "" {
		return 0, errors.New("outbox: Cancel needs a key")
	}
	return cancelPending(ctx, tx, eventType, key, stamp(time.Now()), "cancelled")
}

// Earliest returns the earliest due time of evs (zero when evs is empty):
// the time to pass to RecordDue and Wake after the commit.
func Earliest(evs []Event) time.Time {
	var t time.Time
	for _, e := range evs {
		if t.IsZero() || e.DueAt.Before(t) {
			t = e.DueAt
		}
	}
	return t
}

// stamp is t as both engines store it: UTC, microseconds.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
