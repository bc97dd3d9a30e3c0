package outbox

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
)

// DispatcherConfig configures a Dispatcher. Registry, Control, Subs and
// Tenants are required; the rest have defaults.
type DispatcherConfig struct {
	Registry *tenantdb.Registry
	Control  *bun.DB
	Subs     *Subscriptions
	// Tenants resolves tenant ids to the tenants whose events are
	// delivered (active and suspended ones); ids it does not return are
	// skipped and their due times forgotten.
	Tenants func(ctx context.Context, ids []string) ([]Tenant, error)
	// AllTenants lists every such tenant for the slow sweep; nil: no sweep.
	AllTenants func(ctx context.Context) ([]Tenant, error)

	Now        func() time.Time // default time.Now
	Logger     *slog.Logger     // default: discard
	Registerer prometheus.Registerer

	MaxAttempts int           // deliveries started before a row is dead (default 10)
	BaseBackoff time.Duration // first retry within this (default 30s), doubling per attempt
	MaxBackoff  time.Duration // cap of the backoff (default 6h)
	Lease       time.Duration // how long a claim keeps others off a row (default 2m)
	Batch       int           // rows claimed at once (default 50)
	SweepEvery  time.Duration // the slow sweep over AllTenants (default 10m)
	PollEvery   time.Duration // how often the control database's due table is read (default 5s)
	Workers     int           // tenants served at once (default 4)
}

// Defaults.
const (
	DefaultMaxAttempts = 10
	DefaultBaseBackoff = 30 * time.Second
	DefaultMaxBackoff  = 6 * time.Hour
	DefaultLease       = 2 * time.Minute
	DefaultBatch       = 50
	DefaultSweepEvery  = 10 * time.Minute
	DefaultPollEvery   = 5 * time.Second
	DefaultWorkers     = 4

	// batchesPerPass bounds one pass over a tenant, so that one busy tenant
	// does not starve the others; what is left is due at once and is picked
	// up by the next poll.
	batchesPerPass = 20
	// pollLimit is how many due tenants one poll takes at most.
	pollLimit = 200
	// retryTenantAfter is when a tenant whose database failed is tried again.
	retryTenantAfter = time.Minute
	// bookkeeping bounds the database writes that follow a delivery or a
	// pass, which run even when the dispatcher is stopping.
	bookkeeping = 10 * time.Second
)

// Dispatcher delivers the due events of all tenants. Several dispatchers,
// in one process or many, may serve the same databases.
type Dispatcher struct {
	cfg     DispatcherConfig
	log     *slog.Logger
	name    string // this dispatcher in claim tokens
	seq     atomic.Uint64
	metrics *metrics
	running atomic.Bool

	mu    sync.Mutex
	wakes map[string]time.Time // tenant id → earliest due time given to Wake
	wake  chan struct{}        // cap 1: Wake tells Run to look at wakes
	queue *passQueue
}

// OldestPendingAge is how long the oldest due, undelivered delivery of any
// tenant has waited since its due time (0: none), as of the last pass or
// sweep over each tenant: a backlog that grows means deliveries are stuck
// (the status page's mail check reads it).
func (d *Dispatcher) OldestPendingAge() time.Duration {
	_, _, _, oldest := d.metrics.totals()
	if oldest.IsZero() {
		return 0
	}
	return max(0, d.cfg.Now().Sub(oldest))
}

// NewDispatcher checks cfg, fills in defaults and registers the metrics.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	switch {
	case cfg.Registry == nil:
		return nil, errors.New("outbox: no tenant registry given")
	case cfg.Control == nil:
		return nil, errors.New("outbox: no control database given")
	case cfg.Subs == nil:
		return nil, errors.New("outbox: no subscriptions given")
	case cfg.Tenants == nil:
		return nil, errors.New("outbox: no tenant resolver given")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&cfg.MaxAttempts, DefaultMaxAttempts)
	setDefault(&cfg.BaseBackoff, DefaultBaseBackoff)
	setDefault(&cfg.MaxBackoff, DefaultMaxBackoff)
	setDefault(&cfg.Lease, DefaultLease)
	setDefault(&cfg.Batch, DefaultBatch)
	setDefault(&cfg.SweepEvery, DefaultSweepEvery)
	setDefault(&cfg.PollEvery, DefaultPollEvery)
	setDefault(&cfg.Workers, DefaultWorkers)
	if cfg.Lease < 4*time.Second {
		return nil, errors.New("outbox: lease shorter than 4s")
	}
	b := make([]byte, 6)
	_, _ = crand.Read(b)
	d := &Dispatcher{
		cfg:   cfg,
		log:   cfg.Logger,
		name:  hex.EncodeToString(b),
		wakes: map[string]time.Time{},
		wake:  make(chan struct{}, 1),
		queue: newPassQueue(),
	}
	m, err := newMetrics(cfg.Registerer, d.now)
	if err != nil {
		return nil, fmt.Errorf("outbox: metrics: %w", err)
	}
	d.metrics = m
	return d, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

func (d *Dispatcher) now() time.Time { return stamp(d.cfg.Now()) }

// token names one claim: unique per claim, so that a late finish of an old
// claim can never touch a row a newer claim holds, even in this process.
func (d *Dispatcher) token() string {
	return d.name + "/" + strconv.FormatUint(d.seq.Add(1), 36)
}

// Wake asks for tenantID's events due at due (zero: now) to be delivered
// then, by this process, without waiting for the next poll. Call it after a
// commit that enqueued events (Notify does, with RecordDue). It never
// blocks; before Run starts, wakes are kept for it.
func (d *Dispatcher) Wake(tenantID string, due time.Time) {
	if due.IsZero() {
		due = d.cfg.Now()
	}
	d.mu.Lock()
	if cur, ok := d.wakes[tenantID]; !ok || due.Before(cur) {
		d.wakes[tenantID] = due
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Notify is what a writer calls after committing events of tenantID: it
// records their earliest due time in the control database (for the
// dispatchers of every process) and wakes this one. An error means only
// that the slow sweep, not the next poll, will find the events.
func (d *Dispatcher) Notify(ctx context.Context, tenantID string, evs []Event) error {
	due := Earliest(evs)
	if due.IsZero() {
		return nil
	}
	d.Wake(tenantID, due)
	if err := RecordDue(ctx, d.cfg.Control, tenantID, due); err != nil {
		d.log.ErrorContext(ctx, "outbox: recording a due time", "tenant_id", tenantID, "err", err)
		return err
	}
	return nil
}

// Run delivers events until ctx ends: it polls the control database's due
// table every PollEvery, serves Wake calls, and sweeps all tenants every
// SweepEvery (and once at start). When ctx ends it lets the deliveries under
// way finish and record their outcome, gives back what it claimed but did
// not start, and returns nil. Stop Run before closing the registry.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("outbox: dispatcher already running")
	}
	defer d.running.Store(false)
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Go(func() { d.work(ctx) })
	}
	if d.cfg.AllTenants != nil {
		wg.Go(func() { d.sweepLoop(ctx) })
	}
	d.schedule(ctx)
	wg.Wait()
	return nil
}

// schedule turns polls and wakes into passes for the workers.
func (d *Dispatcher) schedule(ctx context.Context) {
	poll := time.NewTicker(d.cfg.PollEvery)
	defer poll.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	d.poll(ctx)
	for {
		wait := d.dueWakes(ctx)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			d.poll(ctx)
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// dueWakes queues passes for the wakes that are due and returns how long
// until the next one.
func (d *Dispatcher) dueWakes(ctx context.Context) time.Duration {
	now := d.cfg.Now()
	wait := time.Hour
	var ids []string
	d.mu.Lock()
	for id, due := range d.wakes {
		if !due.After(now) {
			ids = append(ids, id)
			delete(d.wakes, id)
		} else {
			wait = min(wait, due.Sub(now))
		}
	}
	d.mu.Unlock()
	if len(ids) > 0 {
		ts, err := d.cfg.Tenants(ctx, ids)
		if err != nil {
			if ctx.Err() == nil {
				d.log.ErrorContext(ctx, "outbox: resolving woken tenants", "err", err)
			}
			return wait // their due times are in the control database too
		}
		for _, t := range ts {
			d.queue.push(t)
		}
	}
	return wait
}

// poll claims the tenants whose due time has come in the control database
// and queues a pass over each.
func (d *Dispatcher) poll(ctx context.Context) {
	now := d.now()
	rows, err := dueTenants(ctx, d.cfg.Control, now, pollLimit)
	if err != nil {
		if ctx.Err() == nil {
			d.log.ErrorContext(ctx, "outbox: polling due tenants", "err", err)
		}
		return
	}
	var ids []string
	for _, r := range rows {
		ok, err := claimTenant(ctx, d.cfg.Control, r.TenantID, now, now.Add(d.cfg.Lease))
		if err != nil {
			if ctx.Err() == nil {
				d.log.ErrorContext(ctx, "outbox: claiming a due tenant", "tenant_id", r.TenantID, "err", err)
			}
			continue
		}
		if ok {
			ids = append(ids, r.TenantID)
		}
	}
	if len(ids) == 0 {
		return
	}
	ts, err := d.cfg.Tenants(ctx, ids)
	if err != nil {
		// The claims end with the lease: the tenants come due again then.
		if ctx.Err() == nil {
			d.log.ErrorContext(ctx, "outbox: resolving due tenants", "err", err)
		}
		return
	}
	found := map[string]bool{}
	for _, t := range ts {
		found[t.ID] = true
		d.queue.push(t)
	}
	for _, id := range ids {
		if !found[id] {
			// Terminated or unknown: nothing of it will be delivered.
			if err := clearDue(ctx, d.cfg.Control, id); err != nil {
				d.log.ErrorContext(ctx, "outbox: forgetting a gone tenant", "tenant_id", id, "err", err)
			}
			d.metrics.forget(id)
		}
	}
}

// work runs queued passes until ctx ends.
func (d *Dispatcher) work(ctx context.Context) {
	for {
		t, ok := d.queue.pop(ctx)
		if !ok {
			return
		}
		if _, err := d.pass(ctx, t); err != nil && ctx.Err() == nil {
			d.log.ErrorContext(ctx, "outbox: pass over a tenant", "tenant_id", t.ID, "err", err)
		}
		d.queue.done(t.ID)
	}
}

// RunOnce makes one pass over tenant: it delivers what is due (up to
// batchesPerPass batches), then records the tenant's next due time in the
// control database. For tests and the CLI; Run does the same for every
// tenant that comes due.
func (d *Dispatcher) RunOnce(ctx context.Context, tenant Tenant) (delivered int, err error) {
	return d.pass(ctx, tenant)
}

// pass is one pass over tenant t.
func (d *Dispatcher) pass(ctx context.Context, t Tenant) (delivered int, err error) {
	now := d.now()
	// Keep other pollers off the tenant while this pass runs (a no-op when
	// the poll that queued the pass has claimed it already).
	if _, err := claimTenant(ctx, d.cfg.Control, t.ID, now, now.Add(d.cfg.Lease)); err != nil {
		return 0, err
	}
	h, err := d.cfg.Registry.Acquire(ctx, t.Placement)
	if err != nil {
		d.retryTenantLater(ctx, t, err)
		return 0, err
	}
	defer h.Release()
	db, err := h.DB(ctx)
	if err != nil {
		d.retryTenantLater(ctx, t, err)
		return 0, err
	}
	for range batchesPerPass {
		n, full, err := d.batch(ctx, db, t)
		delivered += n
		if err != nil {
			d.retryTenantLater(ctx, t, err)
			return delivered, err
		}
		if !full || ctx.Err() != nil {
			break
		}
	}
	return delivered, d.settle(ctx, db, t)
}

// settle records the tenant's next due time after a pass: clear first,
// then read, then record (see clearDue for why this order).
func (d *Dispatcher) settle(ctx context.Context, db bun.IDB, t Tenant) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	if err := clearDue(ctx, d.cfg.Control, t.ID); err != nil {
		return err
	}
	s, err := readStats(ctx, db, d.now())
	if err != nil {
		d.retryTenantLater(ctx, t, err)
		return err
	}
	d.metrics.set(t.ID, s)
	if s.Next.IsZero() {
		return nil
	}
	return RecordDue(ctx, d.cfg.Control, t.ID, s.Next)
}

// retryTenantLater makes sure a tenant whose pass failed is tried again.
func (d *Dispatcher) retryTenantLater(ctx context.Context, t Tenant, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	if errors.Is(cause, context.Canceled) {
		// Stopping: the tenant is due at once for whoever runs next.
		_ = RecordDue(ctx, d.cfg.Control, t.ID, d.now())
		return
	}
	if err := RecordDue(ctx, d.cfg.Control, t.ID, d.now().Add(retryTenantAfter)); err != nil {
		d.log.ErrorContext(ctx, "outbox: recording a due time", "tenant_id", t.ID, "err", err)
	}
}

// batch claims up to Batch rows and delivers them one by one. full says
// that the claim was full, so more may be due.
func (d *Dispatcher) batch(ctx context.Context, db bun.IDB, t Tenant) (delivered int, full bool, err error) {
	now := d.now()
	token := d.token()
	rows, err := claim(ctx, db, token, now, now.Add(d.cfg.Lease), d.cfg.Batch)
	if err != nil {
		return 0, false, err
	}
	for i := range rows {
		if ctx.Err() != nil {
			ids := make([]string, 0, len(rows)-i)
			for _, r := range rows[i:] {
				ids = append(ids, r.ID)
			}
			bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
			err := release(bctx, db, token, ids, d.now())
			cancel()
			return delivered, false, errors.Join(ctx.Err(), err)
		}
		ok, err := d.deliver(ctx, db, t, &rows[i])
		if err != nil {
			return delivered, false, err
		}
		if ok {
			delivered++
		}
	}
	return delivered, len(rows) == d.cfg.Batch, nil
}

// deliver starts one claimed row, calls its handler and records the
// outcome. It reports whether the row was delivered; an error means the
// database failed (the row's lease then runs out and it is tried again).
func (d *Dispatcher) deliver(ctx context.Context, db bun.IDB, t Tenant, r *row) (bool, error) {
	// The handler and the bookkeeping run to the end even when Run stops:
	// an interrupted delivery would only be sent again.
	bctx := context.WithoutCancel(ctx)
	now := d.now()
	if r.Attempts >= d.cfg.MaxAttempts {
		// Its last attempt started and never finished (the process died,
		// perhaps because of this very event).
		ok, err := markFailed(bctx, db, r, now, time.Time{}, "the last attempt did not finish before its lease ended")
		if ok {
			d.metrics.deadLetter(r)
			d.log.ErrorContext(ctx, "outbox: event dead-lettered", "tenant_id", t.ID, "event_id", r.ID,
				"type", r.EventType, "consumer", r.Consumer, "attempts", r.Attempts)
		}
		return false, err
	}
	leaseEnd := time.Now().Add(d.cfg.Lease)
	if ok, err := start(bctx, db, r, now, now.Add(d.cfg.Lease)); err != nil || !ok {
		return false, err
	}
	e := fromRow(r)
	// End the handler well inside its lease, so that no other dispatcher
	// can take the row over while it runs (a quarter of the lease is left
	// for the outcome to be recorded and for clock skew between hosts).
	hctx, cancel := context.WithDeadline(bctx, leaseEnd.Add(-d.cfg.Lease/4))
	hctx = logx.WithFields(hctx, &logx.Fields{RequestID: e.RequestID, Tenant: t.Slug})
	herr := d.call(hctx, db, t, e)
	cancel()

	bctx, cancel = context.WithTimeout(bctx, bookkeeping)
	defer cancel()
	now = d.now()
	if herr == nil {
		ok, err := markDelivered(bctx, db, r, now)
		if err != nil {
			return false, err
		}
		if !ok {
			d.log.WarnContext(ctx, "outbox: delivered after losing the lease", "tenant_id", t.ID, "event_id", r.ID)
		}
		d.metrics.delivered.WithLabelValues(r.Consumer, r.EventType).Inc()
		return true, nil
	}
	d.metrics.failures.WithLabelValues(r.Consumer, r.EventType).Inc()
	var next time.Time // zero: dead
	if !IsPermanent(herr) && r.Attempts < d.cfg.MaxAttempts {
		next = now.Add(d.backoff(r.Attempts))
	}
	ok, err := markFailed(bctx, db, r, now, next, herr.Error())
	if err != nil {
		return false, err
	}
	switch {
	case !ok:
		d.log.WarnContext(ctx, "outbox: delivery failed after losing the lease", "tenant_id", t.ID, "event_id", r.ID)
	case next.IsZero():
		d.metrics.deadLetter(r)
		d.log.ErrorContext(ctx, "outbox: event dead-lettered", "tenant_id", t.ID, "event_id", r.ID,
			"type", r.EventType, "consumer", r.Consumer, "attempts", r.Attempts, "permanent", IsPermanent(herr), "err", redact(herr))
	default:
		d.log.WarnContext(ctx, "outbox: delivery failed", "tenant_id", t.ID, "event_id", r.ID,
			"type", r.EventType, "consumer", r.Consumer, "attempts", r.Attempts, "next_at", next, "err", redact(herr))
	}
	return false, nil
}

// call runs the consumer's handler, turning a panic into an error.
func (d *Dispatcher) call(ctx context.Context, db bun.IDB, t Tenant, e Event) (err error) {
	h := d.cfg.Subs.handler(e.Consumer, e.Type)
	if h == nil {
		// Another version of the binary recorded it (a rolling deploy):
		// retry, a process that knows the consumer will take it.
		return fmt.Errorf("outbox: no handler of %s for %s in this process", e.Consumer, e.Type)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("outbox: handler panicked: %v", p)
		}
	}()
	return h(ctx, db, t, e)
}

// backoff is the wait before the retry that follows attempt n (1-based):
// exponential (BaseBackoff·2ⁿ⁻¹, capped at MaxBackoff) with full jitter,
// plus a second so that a failed row never comes back within the same
// pass.
func (d *Dispatcher) backoff(n int) time.Duration {
	ceiling := d.cfg.BaseBackoff
	for i := 1; i < n && ceiling < d.cfg.MaxBackoff; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, d.cfg.MaxBackoff)
	return time.Duration(rand.Int64N(int64(ceiling))) + time.Second
}

// sweepLoop runs the sweep at start and every SweepEvery.
func (d *Dispatcher) sweepLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := d.Sweep(ctx); err != nil && ctx.Err() == nil {
			d.log.ErrorContext(ctx, "outbox: sweep", "err", err)
		}
		t.Reset(d.cfg.SweepEvery)
	}
}

// Sweep reads every tenant's outbox (AllTenants) and records its next due
// time in the control database, catching events whose RecordDue a crash
// prevented; it also refreshes the metrics of every tenant. Run calls it
// every SweepEvery.
func (d *Dispatcher) Sweep(ctx context.Context) error {
	if d.cfg.AllTenants == nil {
		return nil
	}
	ts, err := d.cfg.AllTenants(ctx)
	if err != nil {
		return err
	}
	var errs []error
	seen := make(map[string]bool, len(ts))
	for _, t := range ts {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		seen[t.ID] = true
		if err := d.sweepTenant(ctx, t); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t.ID, err))
		}
	}
	d.metrics.keep(seen)
	return errors.Join(errs...)
}

func (d *Dispatcher) sweepTenant(ctx context.Context, t Tenant) error {
	h, err := d.cfg.Registry.Acquire(ctx, t.Placement)
	if err != nil {
		return err
	}
	defer h.Release()
	db, err := h.DB(ctx)
	if err != nil {
		return err
	}
	s, err := readStats(ctx, db, d.now())
	if err != nil {
		return err
	}
	d.metrics.set(t.ID, s)
	if s.Next.IsZero() {
		return nil
	}
	return RecordDue(ctx, d.cfg.Control, t.ID, s.Next)
}

// emailRE finds e-mail addresses, which handlers' errors (an SMTP server's
// "550 <user@example.com>: no such user") may carry: personal data stays
// out of the logs (the tenant sees the full error in its console).
var emailRE = regexp.MustCompile(`[^\s<>()\[\]@,;:"]+@[^\s<>()\[\]@,;:"]+`)

func redact(err error) string { return emailRE.ReplaceAllString(err.Error(), "[address]") }

// passQueue holds the tenants waiting for a pass. A tenant is queued once;
// one that comes due again while its pass runs gets one more pass after.
type passQueue struct {
	mu      sync.Mutex
	order   []Tenant
	queued  map[string]bool
	running map[string]bool
	again   map[string]Tenant
	signal  chan struct{}
}

func newPassQueue() *passQueue {
	return &passQueue{queued: map[string]bool{}, running: map[string]bool{}, again: map[string]Tenant{},
		signal: make(chan struct{}, 1)}
}

func (q *passQueue) push(t Tenant) {
	q.mu.Lock()
	switch {
	case q.running[t.ID]:
		q.again[t.ID] = t
	case !q.queued[t.ID]:
		q.queued[t.ID] = true
		q.order = append(q.order, t)
	}
	q.mu.Unlock()
	q.notify()
}

func (q *passQueue) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *passQueue) pop(ctx context.Context) (Tenant, bool) {
	for {
		if ctx.Err() != nil {
			return Tenant{}, false
		}
		q.mu.Lock()
		if len(q.order) > 0 {
			t := q.order[0]
			q.order = q.order[1:]
			delete(q.queued, t.ID)
			q.running[t.ID] = true
			more := len(q.order) > 0
			q.mu.Unlock()
			if more {
				q.notify() // another worker may take the next one
			}
			return t, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return Tenant{}, false
		case <-q.signal:
		}
	}
}

func (q *passQueue) done(id string) {
	q.mu.Lock()
	delete(q.running, id)
	t, again := q.again[id]
	if again {
		delete(q.again, id)
		q.queued[id] = true
		q.order = append(q.order, t)
	}
	q.mu.Unlock()
	if again {
		q.notify()
	}
}
