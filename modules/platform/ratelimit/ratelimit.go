// Package ratelimit protects the public endpoints (the booking API under
// /api/v1/public/{tenant}/ and the booking site under /t/{tenant}/) with
// token buckets: one per client address and one per tenant, each separately
// for reads (GET, HEAD) and writes (everything else).
//
// A request passes only when both its address bucket and its tenant bucket
// have a token; a refused request takes none from either. The JSON API
// answers a refusal with a 429 problem (code rate_limited) and the booking
// site with a calm "混み合っています" page; both carry Retry-After, computed
// from the bucket's own delay until the next token.
//
// The buckets are golang.org/x/time/rate limiters kept in bounded LRU tables
// (github.com/hashicorp/golang-lru/v2): memory stays bounded however many
// addresses arrive. An entry idle long enough for its bucket to be full again
// is dropped by a sweep, which loses nothing (a new bucket starts full);
// an entry evicted early by the size bound merely starts over full, which
// only ever errs towards letting a request through.
//
// IPv6 clients are grouped by their /64 network (one subscriber usually
// holds a whole /64, so per-address buckets would be trivially evaded);
// IPv4 and IPv4-mapped IPv6 addresses count alone.
//
// The client address is gin's ClientIP under the engine's trusted-proxy
// settings (httpx trusts no proxy unless configured), so X-Forwarded-For
// cannot be used to pick a fresh bucket.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Limit is one token bucket's setting: PerSecond tokens are added every
// second up to Burst. A zero PerSecond turns the bucket off (no limit).
type Limit struct {
	PerSecond float64
	Burst     int
}

// Off reports whether the limit lets everything through.
func (l Limit) Off() bool { return l.PerSecond <= 0 }

// idle is how long a bucket takes to fill up from empty: an entry unused for
// that long is equivalent to a new one and may be dropped.
func (l Limit) idle() time.Duration {
	return time.Duration(float64(l.Burst) / l.PerSecond * float64(time.Second))
}

// Default limits: a person on a phone never notices them (the site's pages
// fetch a handful of resources each), a script hammering one tenant does.
var (
	DefaultAddressRead  = Limit{PerSecond: 10, Burst: 40}
	DefaultAddressWrite = Limit{PerSecond: 1, Burst: 5}
	DefaultTenantRead   = Limit{PerSecond: 200, Burst: 400}
	DefaultTenantWrite  = Limit{PerSecond: 50, Burst: 100}
)

// DefaultMaxKeys bounds each table of buckets (there are four: address and
// tenant, read and write). An entry is about 200 bytes.
const DefaultMaxKeys = 100_000

// sweepEvery is how often a request also drops the idle entries.
const sweepEvery = time.Minute

// Config configures a Limiter. A zero Limit turns that bucket off.
type Config struct {
	AddressRead, AddressWrite Limit
	TenantRead, TenantWrite   Limit
	MaxKeys                   int                   // entries per table; 0: DefaultMaxKeys
	Now                       func() time.Time      // the clock; nil: time.Now
	Registerer                prometheus.Registerer // where the metrics go; nil: none
}

// Scope says which bucket refused a request.
type Scope string

// The scopes.
const (
	ScopeAddress Scope = "address"
	ScopeTenant  Scope = "tenant"
)

// Decision is the answer for one request.
type Decision struct {
	OK    bool
	Scope Scope         // the bucket that refused (when !OK)
	Wait  time.Duration // until that bucket has a token again (when !OK)
}

// RetryAfter is Wait in whole seconds for a Retry-After header: rounded up,
// at least 1.
func (d Decision) RetryAfter() int {
	s := int(math.Ceil(d.Wait.Seconds()))
	return max(s, 1)
}

// Limiter holds the buckets. It is safe for concurrent use.
type Limiter struct {
	now                     func() time.Time
	addrRead, addrWrite     *table[netip.Prefix]
	tenantRead, tenantWrite *table[string]
	limited                 *prometheus.CounterVec
	sweepMu                 sync.Mutex
	lastSweep               time.Time
}

// New returns a Limiter for cfg.
func New(cfg Config) (*Limiter, error) {
	for name, l := range map[string]Limit{"address read": cfg.AddressRead, "address write": cfg.AddressWrite,
		"tenant read": cfg.TenantRead, "tenant write": cfg.TenantWrite} {
		if err := l.check(); err != nil {
			return nil, fmt.Errorf("ratelimit: %s: %w", name, err)
		}
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{now: cfg.Now}
	var err error
	if l.addrRead, err = newTable[netip.Prefix](cfg.AddressRead, cfg.MaxKeys); err != nil {
		return nil, err
	}
	if l.addrWrite, err = newTable[netip.Prefix](cfg.AddressWrite, cfg.MaxKeys); err != nil {
		return nil, err
	}
	if l.tenantRead, err = newTable[string](cfg.TenantRead, cfg.MaxKeys); err != nil {
		return nil, err
	}
	if l.tenantWrite, err = newTable[string](cfg.TenantWrite, cfg.MaxKeys); err != nil {
		return nil, err
	}
	l.lastSweep = cfg.Now()
	l.limited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "yoyaku_http_rate_limited_total",
		Help: "Public requests refused by a rate limit, by the bucket that refused them (address or tenant), the route kind (api or site) and the access (read or write).",
	}, []string{"scope", "route", "access"})
	if cfg.Registerer != nil {
		keys := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "yoyaku_http_rate_limit_buckets",
			Help: "Token buckets held now (all four tables: address and tenant, read and write).",
		}, func() float64 { return float64(l.Len()) })
		for _, c := range []prometheus.Collector{l.limited, keys} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("ratelimit: metrics: %w", err)
			}
		}
	}
	return l, nil
}

func (l Limit) check() error {
	switch {
	case math.IsNaN(l.PerSecond) || math.IsInf(l.PerSecond, 0) || l.PerSecond < 0:
		return errors.New("the rate must be a number of at least 0")
	case l.PerSecond > 0 && l.Burst < 1:
		return errors.New("the burst must be at least 1")
	}
	return nil
}

// AddressKey is the bucket key of a client address: an IPv4 address alone
// (an IPv4-mapped IPv6 address counts as its IPv4 address), an IPv6 address
// by its /64 network. The zero Addr (an address that could not be parsed)
// has the zero Prefix: all such requests share one bucket.
func AddressKey(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	bits := 64
	if a.Is4() {
		bits = 32
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// Allow decides one request from addr to tenant; write is true for a
// request that changes something (POST, PUT, PATCH, DELETE).
func (l *Limiter) Allow(addr netip.Addr, tenant string, write bool) Decision {
	now := l.now()
	l.maybeSweep(now)
	at, tt := l.addrRead, l.tenantRead
	if write {
		at, tt = l.addrWrite, l.tenantWrite
	}
	ar, wait := at.reserve(AddressKey(addr), now)
	if wait > 0 {
		return Decision{Scope: ScopeAddress, Wait: wait}
	}
	if _, wait := tt.reserve(tenant, now); wait > 0 {
		// The request does not happen: give the address its token back.
		if ar != nil {
			ar.CancelAt(now)
		}
		return Decision{Scope: ScopeTenant, Wait: wait}
	}
	return Decision{OK: true}
}

// Len is the number of buckets held in all tables.
func (l *Limiter) Len() int {
	return l.addrRead.len() + l.addrWrite.len() + l.tenantRead.len() + l.tenantWrite.len()
}

// Sweep drops the buckets idle long enough to be full again.
func (l *Limiter) Sweep() {
	now := l.now()
	l.sweepMu.Lock()
	l.lastSweep = now
	l.sweepMu.Unlock()
	l.sweep(now)
}

func (l *Limiter) maybeSweep(now time.Time) {
	l.sweepMu.Lock()
	due := now.Sub(l.lastSweep) >= sweepEvery
	if due {
		l.lastSweep = now
	}
	l.sweepMu.Unlock()
	if due {
		l.sweep(now)
	}
}

func (l *Limiter) sweep(now time.Time) {
	l.addrRead.sweep(now)
	l.addrWrite.sweep(now)
	l.tenantRead.sweep(now)
	l.tenantWrite.sweep(now)
}

// table is one bounded set of buckets of one Limit, least recently used
// first.
type table[K comparable] struct {
	limit Limit
	mu    sync.Mutex
	lru   *simplelru.LRU[K, *entry] // nil when the limit is off
}

type entry struct {
	lim  *rate.Limiter
	last time.Time // last use: the bucket is full again by last + limit.idle()
}

func newTable[K comparable](l Limit, size int) (*table[K], error) {
	t := &table[K]{limit: l}
	if l.Off() {
		return t, nil
	}
	c, err := simplelru.NewLRU[K, *entry](size, nil)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	t.lru = c
	return t, nil
}

// reserve takes a token from k's bucket at now. When the bucket has none it
// takes nothing and returns how long until it has one; otherwise it returns
// the reservation, which the caller may cancel to give the token back.
func (t *table[K]) reserve(k K, now time.Time) (*rate.Reservation, time.Duration) {
	if t.lru == nil {
		return nil, 0
	}
	t.mu.Lock()
	e, ok := t.lru.Get(k)
	if !ok {
		e = &entry{lim: rate.NewLimiter(rate.Limit(t.limit.PerSecond), t.limit.Burst)}
		t.lru.Add(k, e)
	}
	e.last = now
	t.mu.Unlock()
	r := e.lim.ReserveN(now, 1)
	if !r.OK() { // cannot happen with Burst >= 1; refuse for a second rather than panic
		return nil, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, d
	}
	return r, 0
}

// sweep drops the entries unused for longer than their bucket takes to
// fill: from the least recently used, stopping at the first still in use.
func (t *table[K]) sweep(now time.Time) {
	if t.lru == nil {
		return
	}
	idle := t.limit.idle()
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		_, e, ok := t.lru.GetOldest()
		if !ok || now.Sub(e.last) <= idle {
			return
		}
		t.lru.RemoveOldest()
	}
}

func (t *table[K]) len() int {
	if t.lru == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}
