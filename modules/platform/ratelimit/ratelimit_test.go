package ratelimit

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeClock is a clock the test moves by hand: nothing sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 10, 1, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustNew(t *testing.T, cfg Config) *Limiter {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var (
	addrA = netip.MustParseAddr("203.0.113.1")
	addrB = netip.MustParseAddr("203.0.113.2")
)

func TestAddressBucket(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{AddressRead: Limit{PerSecond: 2, Burst: 3}, Now: clk.Now})
	for i := range 3 {
		if d := l.Allow(addrA, "demo", false); !d.OK {
			t.Fatalf("request %d refused: %+v", i+1, d)
		}
	}
	d := l.Allow(addrA, "demo", false)
	if d.OK || d.Scope != ScopeAddress {
		t.Fatalf("4th request = %+v, want refused by the address bucket", d)
	}
	// 2 tokens a second: the next one is half a second away.
	if d.Wait != 500*time.Millisecond || d.RetryAfter() != 1 {
		t.Errorf("wait %v (Retry-After %d), want 500ms (1)", d.Wait, d.RetryAfter())
	}
	// A refusal takes no token: after the wait exactly one more passes.
	if d := l.Allow(addrA, "demo", false); d.OK || d.Wait != 500*time.Millisecond {
		t.Errorf("refused again: %+v, want the same 500ms wait (the refusal took nothing)", d)
	}
	if d := l.Allow(addrB, "demo", false); !d.OK {
		t.Errorf("another address was refused: %+v", d)
	}
	clk.Advance(500 * time.Millisecond)
	if d := l.Allow(addrA, "demo", false); !d.OK {
		t.Errorf("after the wait: %+v, want allowed", d)
	}
	if d := l.Allow(addrA, "demo", false); d.OK {
		t.Errorf("second after the wait: allowed, want refused")
	}
	// Writes have their own bucket (off here).
	if d := l.Allow(addrA, "demo", true); !d.OK {
		t.Errorf("a write with the write limit off was refused: %+v", d)
	}
}

func TestTenantBucketRefundsAddress(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{
		AddressWrite: Limit{PerSecond: 1, Burst: 2},
		TenantWrite:  Limit{PerSecond: 0.1, Burst: 2},
		Now:          clk.Now,
	})
	if !l.Allow(addrA, "demo", true).OK || !l.Allow(addrB, "demo", true).OK {
		t.Fatal("first writes refused")
	}
	d := l.Allow(addrA, "demo", true)
	if d.OK || d.Scope != ScopeTenant || d.Wait != 10*time.Second || d.RetryAfter() != 10 {
		t.Fatalf("third write to the tenant = %+v, want refused by the tenant bucket for 10s", d)
	}
	// Another tenant is unaffected, and addrA still has its second token:
	// the tenant's refusal gave it back.
	if d := l.Allow(addrA, "other", true); !d.OK {
		t.Errorf("write to another tenant = %+v, want allowed (the address token was refunded)", d)
	}
	if d := l.Allow(addrA, "other", true); d.OK || d.Scope != ScopeAddress {
		t.Errorf("third write from addrA = %+v, want refused by the address", d)
	}
	// Reads are not writes.
	if d := l.Allow(addrA, "demo", false); !d.OK {
		t.Errorf("a read = %+v, want allowed", d)
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		want int
	}{{time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {59500 * time.Millisecond, 60}} {
		if got := (Decision{Wait: tt.wait}).RetryAfter(); got != tt.want {
			t.Errorf("RetryAfter(%v) = %d, want %d", tt.wait, got, tt.want)
		}
	}
}

func TestAddressKey(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"203.0.113.7", "203.0.113.7/32"},
		{"::ffff:203.0.113.7", "203.0.113.7/32"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
	}
	for _, tt := range tests {
		if got := AddressKey(netip.MustParseAddr(tt.addr)).String(); got != tt.want {
			t.Errorf("AddressKey(%s) = %s, want %s", tt.addr, got, tt.want)
		}
	}
	if got := AddressKey(netip.Addr{}); got != (netip.Prefix{}) {
		t.Errorf("AddressKey(zero) = %v, want the zero prefix", got)
	}
}

func TestIPv6SharesBucketPer64(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{AddressRead: Limit{PerSecond: 1, Burst: 2}, Now: clk.Now})
	for i := range 2 {
		a := netip.MustParseAddr(fmt.Sprintf("2001:db8:0:1::%x", i+1))
		if !l.Allow(a, "demo", false).OK {
			t.Fatalf("%s refused", a)
		}
	}
	if d := l.Allow(netip.MustParseAddr("2001:db8:0:1:ffff::9"), "demo", false); d.OK {
		t.Error("a third address of the same /64 passed: the /64 should share one bucket")
	}
	if d := l.Allow(netip.MustParseAddr("2001:db8:0:2::1"), "demo", false); !d.OK {
		t.Errorf("the next /64 was refused: %+v", d)
	}
}

func TestTableIsBounded(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{AddressRead: Limit{PerSecond: 1, Burst: 1}, TenantRead: Limit{PerSecond: 100, Burst: 100000}, MaxKeys: 100, Now: clk.Now})
	for i := range 10_000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.Allow(a, fmt.Sprintf("t%d", i), false)
	}
	if n := l.addrRead.len(); n != 100 {
		t.Errorf("address table holds %d buckets, want the bound 100", n)
	}
	if n := l.tenantRead.len(); n != 100 {
		t.Errorf("tenant table holds %d buckets, want the bound 100", n)
	}
	// The most recent stay: the last address is still limited.
	last := netip.AddrFrom4([4]byte{10, 0, 0x27, 0x0f}) // 9999
	if d := l.Allow(last, "t9999", false); d.OK {
		t.Error("the most recent address lost its bucket")
	}
}

func TestSweepDropsOnlyFullBuckets(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{AddressRead: Limit{PerSecond: 1, Burst: 10}, Now: clk.Now})
	l.Allow(addrA, "", false)
	clk.Advance(5 * time.Second)
	l.Allow(addrB, "", false)
	clk.Advance(6 * time.Second) // addrA idle 11s (full again after 10s), addrB 6s
	l.Sweep()
	if n := l.Len(); n != 1 {
		t.Fatalf("after the sweep %d buckets, want 1 (addrB's)", n)
	}
	clk.Advance(5 * time.Second)
	l.Sweep()
	if n := l.Len(); n != 0 {
		t.Errorf("after the second sweep %d buckets, want 0", n)
	}
	// Requests sweep by themselves once a minute.
	l.Allow(addrA, "", false)
	clk.Advance(2 * time.Minute)
	l.Allow(addrB, "", false)
	if n := l.Len(); n != 1 {
		t.Errorf("after a minute's automatic sweep %d buckets, want 1", n)
	}
}

func TestOffLimitsHoldNothing(t *testing.T) {
	l := mustNew(t, Config{})
	for range 1000 {
		if !l.Allow(addrA, "demo", true).OK || !l.Allow(addrA, "demo", false).OK {
			t.Fatal("a limit that is off refused a request")
		}
	}
	if l.Len() != 0 {
		t.Errorf("limits that are off hold %d buckets", l.Len())
	}
}

func TestNewRejectsBadLimits(t *testing.T) {
	for _, cfg := range []Config{
		{AddressRead: Limit{PerSecond: 1, Burst: 0}},
		{TenantWrite: Limit{PerSecond: -1, Burst: 1}},
	} {
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "ratelimit:") {
			t.Errorf("New(%+v) = %v, want an error", cfg, err)
		}
	}
}

func TestConcurrentBurst(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{AddressWrite: Limit{PerSecond: 1, Burst: 5}, TenantWrite: Limit{PerSecond: 1, Burst: 50}, Now: clk.Now})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 100 {
		wg.Go(func() {
			if l.Allow(addrA, "demo", true).OK {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 5 {
		t.Errorf("%d of 100 concurrent writes passed, want exactly the burst of 5", ok)
	}
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := mustNew(t, Config{AddressRead: Limit{PerSecond: 1, Burst: 1}, Registerer: reg})
	l.limited.WithLabelValues("address", "api", "read").Inc()
	l.Allow(addrA, "demo", false)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	if got["yoyaku_http_rate_limited_total"] != 1 || got["yoyaku_http_rate_limit_buckets"] != 1 {
		t.Errorf("metrics = %v, want one refusal and one bucket", got)
	}
	if _, err := New(Config{Registerer: reg}); err == nil {
		t.Error("registering twice on one registry did not fail")
	}
}
