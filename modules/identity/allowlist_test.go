package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
)

func TestParseAllowListCIDR(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" for refused
	}{
		{"203.0.113.0/24", "203.0.113.0/24"},
		{"203.0.113.77/24", "203.0.113.0/24"}, // host bits cleared
		{"198.51.100.7", "198.51.100.7/32"},   // a bare address is /32
		{"  10.1.2.3  ", "10.1.2.3/32"},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"2001:DB8:0:0:0:0:0:1", "2001:db8::1/128"}, // a bare address is /128, lower case, compressed
		{"2001:db8:abcd:12::1/48", "2001:db8:abcd::/48"},
		{"::1", "::1/128"},
		{"::/0", "::/0"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},     // IPv4-mapped becomes IPv4
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"}, // and so does its prefix
		{"", ""},
		{"garbage", ""},
		{"10.0.0", ""},
		{"10.0.0.256", ""},
		{"010.0.0.1", ""}, // leading zeros are ambiguous (octal?)
		{"10.0.0.0/33", ""},
		{"10.0.0.0/-1", ""},
		{"10.0.0.0/", ""},
		{"/24", ""},
		{"10.0.0.0/8/8", ""},
		{"10.0.0.0 /8", ""},
		{"2001:db8::/129", ""},
		{"2001:db8:::1", ""},
		{"fe80::1%eth0", ""},
		{"fe80::1%eth0/64", ""},
		{"::ffff:192.0.2.0/90", ""},
		{"203.0.113.0-203.0.113.255", ""},
		{"*", ""},
		{"localhost", ""},
	}
	for _, c := range cases {
		p, ok := identity.ParseAllowListCIDR(c.in)
		got := ""
		if ok {
			got = p.String()
		}
		if got != c.want {
			t.Errorf("ParseAllowListCIDR(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestAllowListMatching(t *testing.T) {
	list := identity.AllowList{Entries: []identity.AllowListEntry{
		{CIDR: "203.0.113.0/24", Note: "本社"}, {CIDR: "2001:db8::/32"}, {CIDR: "198.51.100.7/32", Note: "VPN"},
	}}
	cases := []struct {
		ip   string
		want bool
	}{
		{"203.0.113.0", true},
		{"203.0.113.255", true},
		{"203.0.112.255", false},
		{"203.0.114.0", false},
		{"198.51.100.7", true},
		{"198.51.100.8", false},
		{"2001:db8::1", true},
		{"2001:db8:ffff:ffff::1", true},
		{"2001:db9::1", false},
		{"::ffff:203.0.113.9", true}, // a dual-stack socket's IPv4 client
		{"fe80::1%eth0", false},
		{"::1", false},
		{"not-an-ip", false},
		{"", false},
	}
	for _, c := range cases {
		if got := list.Allows(c.ip); got != c.want {
			t.Errorf("Allows(%q) = %v, want %v", c.ip, got, c.want)
		}
	}
	for _, ip := range []string{"203.0.113.1", "2001:db9::1", "garbage", ""} {
		if !(identity.AllowList{}).Allows(ip) {
			t.Errorf("the empty list refuses %q", ip)
		}
	}
}

func TestAllowListValidation(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		akMigrated(t, db)
		ctx := context.Background()
		svc := identity.NewAllowListService(identity.AllowListConfig{})
		entries := []identity.AllowListEntry{
			{CIDR: "203.0.113.0/24", Note: strings.Repeat("長", 201)},
			{CIDR: "203.0.113.0/33"},
			{CIDR: "10.0.0.1"},
			{CIDR: " 10.0.0.1/32", Note: "a\tb"}, // the same network as the one before
			{CIDR: " "},
			{CIDR: "::ffff:10.0.0.1"}, // the same again
		}
		_, err := svc.Save(ctx, db, akOwner, entries, "", true)
		want := []string{"notes[0]:max", "cidrs[1]:cidr", "cidrs[3]:duplicate", "notes[3]:nocontrol", "cidrs[4]:required", "cidrs[5]:duplicate"}
		if got := akFieldsOf(err); !slices.Equal(got, want) {
			t.Fatalf("fields %v, want %v (%v)", got, want, err)
		}
		many := make([]identity.AllowListEntry, identity.AllowListMaxEntries+1)
		for i := range many {
			many[i].CIDR = fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
		}
		if _, err := svc.Save(ctx, db, akOwner, many, "", true); !slices.Equal(akFieldsOf(err), []string{"cidrs:max_items"}) {
			t.Fatalf("too many entries: %v", err)
		}
		if l, _ := svc.Get(ctx, db); len(l.Entries) != 0 {
			t.Fatalf("a refused list was saved: %+v", l)
		}
	})
}

func TestAllowListSaveAndLockout(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		akMigrated(t, db)
		ctx := context.Background()
		svc := identity.NewAllowListService(identity.AllowListConfig{})
		office := []identity.AllowListEntry{{CIDR: "203.0.113.9/24", Note: " 本社 "}, {CIDR: "2001:db8::1"}}

		// Saving from outside the new list needs a confirmation.
		_, err := svc.Save(ctx, db, akOwner, office, "198.51.100.1", false)
		if !errors.Is(err, identity.ErrAllowListLockout) || apperr.KindOf(err) != apperr.KindConflict || akCodeOf(err) != "allowlist_lockout" {
			t.Fatalf("lockout: %v", err)
		}
		if l, _ := svc.Get(ctx, db); len(l.Entries) != 0 || !l.UpdatedAt.IsZero() {
			t.Fatalf("a refused list was saved: %+v", l)
		}
		if got := akEntries(t, db, identity.AuditAllowListUpdate); len(got) != 0 {
			t.Fatalf("a refused save was logged: %+v", got)
		}

		// From inside: saved, normalised, logged.
		l, err := svc.Save(ctx, db, akOwner, office, "203.0.113.50", false)
		if err != nil {
			t.Fatal(err)
		}
		want := []identity.AllowListEntry{{CIDR: "203.0.113.0/24", Note: "本社"}, {CIDR: "2001:db8::1/128"}}
		if !slices.Equal(l.Entries, want) || l.UpdatedBy != akOwner.Name || l.UpdatedAt.IsZero() {
			t.Fatalf("saved %+v", l)
		}
		if got, _ := svc.Get(ctx, db); !slices.Equal(got.Entries, want) || !got.UpdatedAt.Equal(l.UpdatedAt) {
			t.Fatalf("read back %+v", got)
		}
		// IPv6 client inside the list.
		if _, err := svc.Save(ctx, db, akOwner, append(want, identity.AllowListEntry{CIDR: "192.0.2.0/24"}), "2001:db8::1", false); err != nil {
			t.Fatal(err)
		}
		// Confirmed: the saver shuts themselves out knowingly.
		if _, err := svc.Save(ctx, db, akOwner, want[:1], "2001:db8::1", true); err != nil {
			t.Fatal(err)
		}
		// The same list again changes and logs nothing.
		if _, err := svc.Save(ctx, db, akOwner, want[:1], "203.0.113.1", false); err != nil {
			t.Fatal(err)
		}
		// Emptying the list never locks anyone out; the CLI has no address.
		if _, err := svc.Save(ctx, db, identity.Principal{}, nil, "198.51.100.1", false); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Save(ctx, db, identity.Principal{}, want, "", false); err != nil {
			t.Fatal(err)
		}

		got := akEntries(t, db, identity.AuditAllowListUpdate)
		if len(got) != 5 {
			t.Fatalf("%d allowlist.update entries, want 5: %+v", len(got), got)
		}
		first := got[len(got)-1]
		if first.Actor.ID != akOwner.ID || len(first.Changes) != 1 || first.Changes[0].Field != "entries" ||
			string(first.Changes[0].Old) != `[]` || !strings.Contains(string(first.Changes[0].New), `"203.0.113.0/24"`) {
			t.Fatalf("first update entry %+v", first)
		}
		if got[1].Actor.Kind != auditlog.ActorSystem || string(got[1].Changes[0].New) != `[]` {
			t.Fatalf("emptying entry %+v", got[1])
		}
		if rep, err := auditlog.Verify(ctx, db); err != nil || !rep.OK() {
			t.Fatalf("audit chain %+v %v", rep, err)
		}
	})
}

// Two services stand for two processes on one database: what one saves,
// the other enforces at its next check, whatever it had cached.
func TestAllowListCacheFollowsOtherProcesses(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		akMigrated(t, db)
		ctx := context.Background()
		one := identity.NewAllowListService(identity.AllowListConfig{})
		two := identity.NewAllowListService(identity.AllowListConfig{})
		check := func(svc *identity.AllowListService, ip string, want bool) {
			t.Helper()
			got, err := svc.Allowed(ctx, db, ip)
			if err != nil || got != want {
				t.Fatalf("Allowed(%s) = %v, %v; want %v", ip, got, err, want)
			}
		}
		check(one, "198.51.100.1", true) // empty list
		if _, err := two.Save(ctx, db, akOwner, []identity.AllowListEntry{{CIDR: "203.0.113.0/24"}}, "", false); err != nil {
			t.Fatal(err)
		}
		check(one, "198.51.100.1", false)
		check(one, "203.0.113.1", true)
		if _, err := two.Save(ctx, db, akOwner, []identity.AllowListEntry{{CIDR: "198.51.100.0/24"}}, "", false); err != nil {
			t.Fatal(err)
		}
		check(one, "203.0.113.1", false)
		check(one, "198.51.100.1", true)
		if _, err := one.Save(ctx, db, akOwner, nil, "", false); err != nil {
			t.Fatal(err)
		}
		check(two, "203.0.113.1", true)
		check(two, "garbage", true)
	})
}

// Saves and checks at once keep the list, the log and the cache coherent.
func TestAllowListConcurrentSaves(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		akMigrated(t, db)
		ctx := context.Background()
		svc := identity.NewAllowListService(identity.AllowListConfig{})
		lists := [][]identity.AllowListEntry{
			{{CIDR: "203.0.113.0/24"}},
			{{CIDR: "198.51.100.0/24"}, {CIDR: "2001:db8::/32"}},
			{{CIDR: "192.0.2.0/24"}},
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 6 {
			wg.Go(func() {
				if _, err := svc.Save(ctx, db, akOwner, lists[i%3], "", false); err != nil {
					errs <- err
				}
			})
			wg.Go(func() {
				if _, err := svc.Allowed(ctx, db, "203.0.113.1"); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		l, err := svc.Get(ctx, db)
		if err != nil || !slices.ContainsFunc(lists, func(x []identity.AllowListEntry) bool { return slices.Equal(x, l.Entries) }) {
			t.Fatalf("final list %+v %v", l, err)
		}
		fresh := identity.NewAllowListService(identity.AllowListConfig{})
		for _, ip := range []string{"203.0.113.1", "198.51.100.1", "192.0.2.1"} {
			a, _ := svc.Allowed(ctx, db, ip)
			b, _ := fresh.Allowed(ctx, db, ip)
			if a != b || a != l.Allows(ip) {
				t.Fatalf("%s: cached %v, fresh %v, list %v", ip, a, b, l.Allows(ip))
			}
		}
		// Every entry's old list is the previous entry's new list.
		got := akEntries(t, db, identity.AuditAllowListUpdate)
		for i := 0; i+1 < len(got); i++ {
			if string(got[i].Changes[0].Old) != string(got[i+1].Changes[0].New) {
				t.Fatalf("entry %d's old list is not entry %d's new one", got[i].Seq, got[i+1].Seq)
			}
		}
	})
}

func TestAllowListEnforceLogsRefusals(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		akMigrated(t, db)
		svc := identity.NewAllowListService(identity.AllowListConfig{DeniedAuditPerMinute: 2})
		ctx := context.Background()
		if _, err := svc.Save(ctx, db, akOwner, []identity.AllowListEntry{{CIDR: "203.0.113.0/24"}}, "", false); err != nil {
			t.Fatal(err)
		}
		rctx := auditlog.WithRequest(ctx, auditlog.Request{UserAgent: "curl/8", RequestID: "req-allow-0001"})
		if err := svc.Enforce(rctx, db, "203.0.113.4"); err != nil {
			t.Fatalf("inside: %v", err)
		}
		for range 3 {
			if err := svc.Enforce(rctx, db, "::ffff:198.51.100.9"); !errors.Is(err, identity.ErrIPNotAllowed) {
				t.Fatalf("outside: %v", err)
			}
		}
		got := akEntries(t, db, identity.AuditAccessDeniedIP)
		if len(got) != 2 { // the cap: 2 a minute
			t.Fatalf("%d access.denied_ip entries, want 2", len(got))
		}
		e := got[0]
		if e.Result != auditlog.ResultDenied || e.SourceIP != "198.51.100.9" || e.Actor.Kind != auditlog.ActorAnonymous ||
			e.UserAgent != "curl/8" || e.RequestID != "req-allow-0001" {
			t.Fatalf("denied entry %+v", e)
		}
	})
}

// The tenant API and the console refuse an outside address with 403 and log
// it; an inside address passes.
func TestAllowListMiddleware(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := akNewEnv(t, loc)
		// The console: the tenant's database comes from the tenant
		// middleware (here a stand-in for tenants.HTTP.SiteTenant).
		site := func(c *gin.Context) {
			h := e.reg.Handle(e.tenant(c.Param("tenant")).DB)
			defer h.Release()
			c.Request = c.Request.WithContext(tenantdb.WithHandle(c.Request.Context(), h))
			c.Next()
		}
		e.router.GET("/t/:tenant/admin/login", site, e.allow.RequireAllowedIP(nil), func(c *gin.Context) { c.String(http.StatusOK, "login") })

		ctx := context.Background()
		dbA := e.db(t, "salon-a")
		office := []identity.AllowListEntry{{CIDR: "203.0.113.0/24", Note: "本社"}, {CIDR: "2001:db8::/32", Note: "VPN"}}
		if _, err := e.allow.Save(ctx, dbA, akOwner, office, "203.0.113.10", false); err != nil {
			t.Fatal(err)
		}
		keyA, kA := e.newKey(t, "salon-a", "viewer")
		keyB, _ := e.newKey(t, "salon-b", "viewer")

		cases := []struct {
			name       string
			call       akCall
			wantStatus int
			wantCode   string
		}{
			{"inside, IPv4", akCall{auth: "Bearer " + keyA, remote: "203.0.113.5"}, 200, ""},
			{"inside, IPv6", akCall{auth: "Bearer " + keyA, remote: "2001:db8:1::5"}, 200, ""},
			{"outside, IPv4", akCall{auth: "Bearer " + keyA, remote: "198.51.100.7"}, 403, "ip_not_allowed"},
			{"outside, IPv6", akCall{auth: "Bearer " + keyA, remote: "2001:db9::1"}, 403, "ip_not_allowed"},
			{"outside with a wrong key", akCall{auth: "Bearer " + keyA[:len(keyA)-1] + "0", remote: "198.51.100.7"}, 401, "api_key_invalid"},
			{"another tenant has no list", akCall{auth: "Bearer " + keyB, remote: "198.51.100.7"}, 200, ""},
		}
		var deniedIDs []string
		for _, c := range cases {
			w := e.do(t, c.call)
			if w.Code != c.wantStatus {
				t.Fatalf("%s: status %d, want %d: %s", c.name, w.Code, c.wantStatus, w.Body)
			}
			p, _ := akDecode(t, w)
			if c.wantStatus != 200 && p.Code != c.wantCode {
				t.Fatalf("%s: code %s, want %s", c.name, p.Code, c.wantCode)
			}
			if c.wantCode == "ip_not_allowed" {
				deniedIDs = append(deniedIDs, w.Header().Get("X-Request-ID"))
			}
		}
		got := akEntries(t, dbA, identity.AuditAccessDeniedIP)
		if len(got) != 2 {
			t.Fatalf("%d access.denied_ip entries, want 2: %+v", len(got), got)
		}
		slices.Reverse(got)
		for i, want := range []string{"198.51.100.7", "2001:db9::1"} {
			en := got[i]
			if en.SourceIP != want || en.Result != auditlog.ResultDenied || en.Actor.Kind != auditlog.ActorAPIKey ||
				en.Actor.ID != kA.ID || en.RequestID != deniedIDs[i] || en.UserAgent != "integration-test/1.0" {
				t.Fatalf("denied entry %d: %+v", i, en)
			}
		}
		if got := akEntries(t, e.db(t, "salon-b"), identity.AuditAccessDeniedIP); len(got) != 0 {
			t.Fatalf("tenant B logged refusals: %+v", got)
		}

		// The console.
		for _, c := range []struct {
			tenant, remote string
			want           int
		}{
			{"salon-a", "198.51.100.7", 403},
			{"salon-a", "203.0.113.200", 200},
			{"salon-b", "198.51.100.7", 200},
		} {
			req := httptest.NewRequest(http.MethodGet, "/t/"+c.tenant+"/admin/login", nil)
			req.RemoteAddr = c.remote + ":5555"
			w := httptest.NewRecorder()
			e.router.ServeHTTP(w, req)
			if w.Code != c.want {
				t.Fatalf("console %s from %s: %d, want %d: %s", c.tenant, c.remote, w.Code, c.want, w.Body)
			}
			if c.want == 403 {
				var p akProblem
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code != "ip_not_allowed" {
					t.Fatalf("console refusal %s %v", w.Body, err)
				}
			}
		}
		got = akEntries(t, dbA, identity.AuditAccessDeniedIP)
		if len(got) != 3 || got[0].Actor.Kind != auditlog.ActorAnonymous || got[0].SourceIP != "198.51.100.7" {
			t.Fatalf("console refusal entry %+v", got)
		}
		if rep, err := auditlog.Verify(ctx, dbA); err != nil || !rep.OK() {
			t.Fatalf("audit chain %+v %v", rep, err)
		}
	})
}
