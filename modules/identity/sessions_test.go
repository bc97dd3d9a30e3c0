package identity

import (
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
)

func TestLoginSameErrorForUnknownAndWrong(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		disabled := e.invited(owner, "gone@example.jp", "staff")
		if _, err := e.svc.DisableStaff(e.ctx, db, owner.Principal(""), disabled.ID); err != nil {
			t.Fatal(err)
		}
		cases := []struct{ email, password string }{
			{"nobody@example.jp", testPassword},
			{"owner@example.jp", "wrong-password-here"},
			{"owner@example.jp", ""},
			{"gone@example.jp", testPassword},
			{"", ""},
		}
		var msgs []string
		for _, c := range cases {
			tok, st, totp, err := e.svc.Login(e.ctx, db, testSlug, c.email, c.password, testIP, testUA)
			ae := wantCode(t, err, "login_failed")
			if tok != "" || st.ID != "" || totp || ae.Args != nil {
				t.Fatalf("%s: a failed login leaked %q %+v %v %v", c.email, tok, st, totp, ae.Args)
			}
			msgs = append(msgs, err.Error())
		}
		for _, m := range msgs[1:] {
			if m != msgs[0] {
				t.Fatalf("answers differ: %q", msgs)
			}
		}
		failed := e.entries("staff.login_failed")
		if len(failed) != len(cases) {
			t.Fatalf("%d staff.login_failed entries, want %d", len(failed), len(cases))
		}
		unknown := failed[len(failed)-1]
		if unknown.Actor.Kind != auditlog.ActorAnonymous || unknown.Actor.Name != "nobody@example.jp" || unknown.Result != auditlog.ResultFailed ||
			unknown.SourceIP != testIP || unknown.UserAgent != testUA {
			t.Fatalf("entry for an unknown address %+v", unknown)
		}
		wrong := failed[len(failed)-2]
		if wrong.Actor.ID != owner.ID || wrong.ObjectID != owner.ID {
			t.Fatalf("entry for a wrong password %+v", wrong)
		}
		for _, en := range failed {
			if strings.Contains(fmtEntry(en), "wrong-password-here") || strings.Contains(fmtEntry(en), testPassword) {
				t.Fatal("a password reached the log")
			}
		}

		tok, st, needsTOTP, err := e.svc.Login(e.ctx, db, testSlug, "Owner@Example.jp", testPassword, testIP, testUA)
		if err != nil || tok == "" || st.ID != owner.ID || needsTOTP {
			t.Fatalf("Login = %q %+v %v %v", tok, st, needsTOTP, err)
		}
		ok := e.entries("staff.login")
		if len(ok) != 1 || ok[0].Actor.ID != owner.ID || ok[0].Result != auditlog.ResultOK {
			t.Fatalf("staff.login %+v", ok)
		}
	})
}

func TestLockoutAfterTenFailures(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		start := e.clock.Now()
		for i := 1; i <= 20; i++ {
			// Spread over addresses so the address throttle stays out of it.
			ip := "192.0.2." + string(rune('0'+i%10))
			_, _, _, err := e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", "not-the-password", ip, testUA)
			if i <= MaxFailedLogins {
				wantCode(t, err, "login_failed")
				continue
			}
			ae := wantCode(t, err, "account_locked")
			if ae.Args["Until"] != start.Add(LockDuration).Format(time.RFC3339) || ae.Args["Minutes"] != 15 {
				t.Fatalf("lock args %v", ae.Args)
			}
		}
		// The right password is refused while the lock lasts.
		e.clock.Advance(LockDuration - time.Second)
		_, _, _, err := e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", testPassword, testIP, testUA)
		ae := wantCode(t, err, "account_locked")
		if ae.Args["RetryAfter"] != 1 {
			t.Fatalf("retry after %v", ae.Args)
		}
		st, _ := e.svc.GetStaff(e.ctx, db, owner.ID)
		if !st.Locked(e.clock.Now()) || st.FailedLogins != 0 {
			t.Fatalf("staff %+v", st)
		}
		e.clock.Advance(time.Second)
		e.login("owner@example.jp")

		if n := e.countEntries("staff.login_failed"); n != MaxFailedLogins {
			t.Errorf("staff.login_failed entries: %d, want %d", n, MaxFailedLogins)
		}
		locked := e.entries("staff.locked")
		if len(locked) != 1 || locked[0].ObjectID != owner.ID || locked[0].Result != auditlog.ResultDenied {
			t.Fatalf("staff.locked %+v", locked)
		}
		refused := e.entries("staff.login_refused")
		if len(refused) != 11 || refused[0].Result != auditlog.ResultDenied {
			t.Fatalf("staff.login_refused: %d entries, want 11 (10 wrong + 1 right password)", len(refused))
		}
		// The lockout comes after the tenth failure in the log.
		all := e.entries("staff.")
		var order []string
		for i := len(all) - 1; i >= 0; i-- {
			switch all[i].Action {
			case "staff.login_failed", "staff.locked", "staff.login_refused":
				order = append(order, all[i].Action)
			}
		}
		if order[MaxFailedLogins-1] != "staff.login_failed" || order[MaxFailedLogins] != "staff.locked" || order[MaxFailedLogins+1] != "staff.login_refused" {
			t.Fatalf("order %v", order)
		}
		// A success reset the count: nine more failures do not lock.
		for range MaxFailedLogins - 1 {
			_, _, _, err := e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", "not-the-password", otherIP, testUA)
			wantCode(t, err, "login_failed")
		}
		e.login("owner@example.jp")
	})
}

func TestAddressThrottle(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		e.owner("owner@example.jp")
		start := e.clock.Now()
		for i := range IPMaxFailures {
			// Many accounts, one address: each account stays far from its
			// own lockout.
			email := "guess" + string(rune('a'+i%26)) + "@example.jp"
			_, _, _, err := e.svc.Login(e.ctx, db, testSlug, email, "whatever-it-is", testIP, testUA)
			wantCode(t, err, "login_failed")
			e.clock.Advance(10 * time.Second)
		}
		_, _, _, err := e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", testPassword, testIP, testUA)
		ae := wantCode(t, err, "login_throttled")
		// Allowed again when the first failure is IPFailureWindow old.
		wantRetry := int(start.Add(IPFailureWindow).Sub(e.clock.Now()) / time.Second)
		if ae.Args["RetryAfter"] != wantRetry {
			t.Fatalf("retry after %v, want %d", ae.Args, wantRetry)
		}
		// IPv4-mapped form of the same address is the same address.
		_, _, _, err = e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", testPassword, "::ffff:"+testIP, testUA)
		wantCode(t, err, "login_throttled")
		// Another address is unaffected.
		if _, _, _, err := e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", testPassword, otherIP, testUA); err != nil {
			t.Fatal(err)
		}
		if n := e.countEntries("staff.login_throttled"); n != 2 {
			t.Fatalf("staff.login_throttled entries: %d", n)
		}
		e.clock.Advance(time.Duration(wantRetry) * time.Second)
		e.login("owner@example.jp")

		// IPv6: one /64 is one source.
		for i := range IPMaxFailures {
			ip := "2001:db8:1:2::" + string(rune('a'+i%6))
			_, _, _, err := e.svc.Login(e.ctx, db, testSlug, "x@example.jp", "whatever-it-is", ip, testUA)
			wantCode(t, err, "login_failed")
		}
		_, _, _, err = e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", testPassword, "2001:db8:1:2:ffff::1", testUA)
		wantCode(t, err, "login_throttled")
		if _, _, _, err := e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", testPassword, "2001:db8:1:3::1", testUA); err != nil {
			t.Fatalf("another /64: %v", err)
		}
	})
}

func TestThrottleSource(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":             "203.0.113.7",
		"203.0.113.7:4431":        "203.0.113.7",
		"::ffff:203.0.113.7":      "203.0.113.7",
		"2001:db8::1":             "2001:db8::/64",
		"[2001:db8:0:0:1::2]:443": "2001:db8::/64",
		"fe80::1%eth0":            "fe80::/64",
		"":                        "",
		"unknown":                 "",
	} {
		if got := throttleSource(in); got != want {
			t.Errorf("throttleSource(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionIdleAndAbsoluteTimeouts(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		e.owner("owner@example.jp")

		// Idle: each use moves the deadline on.
		tok := e.login("owner@example.jp")
		for range 3 {
			e.clock.Advance(DefaultSessionIdle - time.Minute)
			e.auth(tok)
		}
		e.clock.Advance(DefaultSessionIdle)
		_, _, err := e.svc.Authenticate(e.ctx, db, tok)
		wantCode(t, err, "session_expired")
		_, _, err = e.svc.Authenticate(e.ctx, db, tok)
		wantCode(t, err, "session_expired")

		// Absolute: busy or not, it ends after 12 hours.
		tok = e.login("owner@example.jp")
		begun := e.clock.Now()
		for e.clock.Now().Before(begun.Add(DefaultSessionAbsolute - 20*time.Minute)) {
			e.clock.Advance(20 * time.Minute)
			e.auth(tok)
		}
		e.clock.Advance(20 * time.Minute)
		_, _, err = e.svc.Authenticate(e.ctx, db, tok)
		wantCode(t, err, "session_expired")

		// Tenant settings: 10 minutes idle, 1 hour absolute.
		idle, abs := 10, 1
		owner, _ := e.svc.GetStaffByEmail(e.ctx, db, "owner@example.jp")
		set, err := e.svc.UpdateSecuritySettings(e.ctx, db, owner.Principal(""), SecuritySettingsUpdate{SessionIdleMinutes: &idle, SessionAbsoluteHours: &abs})
		if err != nil || set.SessionIdle != 10*time.Minute || set.SessionAbsolute != time.Hour {
			t.Fatalf("UpdateSecuritySettings = %+v %v", set, err)
		}
		tok = e.login("owner@example.jp")
		e.clock.Advance(9 * time.Minute)
		_, sess := e.auth(tok)
		if !sess.ExpiresAt.Equal(e.clock.Now().Add(51*time.Minute)) || !sess.IdleExpiresAt.Equal(e.clock.Now().Add(10*time.Minute)) {
			t.Fatalf("session %+v at %v", sess, e.clock.Now())
		}
		e.clock.Advance(10 * time.Minute)
		_, _, err = e.svc.Authenticate(e.ctx, db, tok)
		wantCode(t, err, "session_expired")

		bad := 2
		_, err = e.svc.UpdateSecuritySettings(e.ctx, db, owner.Principal(""), SecuritySettingsUpdate{SessionIdleMinutes: &bad})
		wantField(t, err, "session_idle_minutes", "range")
		upd := e.entries("identity.settings_update")
		if len(upd) != 1 || len(upd[0].Changes) != 2 || string(upd[0].Changes[0].Old) != "30" || string(upd[0].Changes[0].New) != "10" {
			t.Fatalf("settings entries %+v", upd)
		}
	})
}

func TestLastSeenWrittenAtMostOnceAMinute(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		e.owner("owner@example.jp")
		tok := e.login("owner@example.jp")
		_, first := e.auth(tok)
		e.clock.Advance(30 * time.Second)
		_, s2 := e.auth(tok)
		if !s2.LastSeenAt.Equal(first.LastSeenAt) {
			t.Fatalf("last seen written after 30 s: %v → %v", first.LastSeenAt, s2.LastSeenAt)
		}
		e.clock.Advance(30 * time.Second)
		_, s3 := e.auth(tok)
		if !s3.LastSeenAt.Equal(e.clock.Now()) {
			t.Fatalf("last seen %v, want %v", s3.LastSeenAt, e.clock.Now())
		}
	})
}

func TestNewTokenAtEachLoginAndLogout(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		a, b := e.login("owner@example.jp"), e.login("owner@example.jp")
		if a == b {
			t.Fatal("two logins got one token")
		}
		pa, sa := e.auth(a)
		_, sb := e.auth(b)
		if sa.ID == sb.ID || pa.SessionID != sa.ID || sa.Stage != StageFull || sa.SourceIP != testIP || sa.UserAgent != testUA {
			t.Fatalf("sessions %+v %+v principal %+v", sa, sb, pa)
		}
		// Only the token's hash is stored.
		var hashes []string
		if err := db.NewSelect().Table("staff_sessions").Column("token_hash").Scan(e.ctx, &hashes); err != nil {
			t.Fatal(err)
		}
		for _, h := range hashes {
			if h == a || h == b {
				t.Fatal("a session token is stored as it is")
			}
		}
		if err := e.svc.Logout(e.ctx, db, a); err != nil {
			t.Fatal(err)
		}
		_, _, err := e.svc.Authenticate(e.ctx, db, a)
		wantCode(t, err, "session_expired")
		e.auth(b)
		if err := e.svc.Logout(e.ctx, db, a); err != nil {
			t.Fatalf("second logout: %v", err)
		}
		if err := e.svc.Logout(e.ctx, db, "garbage"); err != nil {
			t.Fatalf("logout of garbage: %v", err)
		}
		out := e.entries("staff.logout")
		if len(out) != 1 || out[0].ObjectID != owner.ID {
			t.Fatalf("staff.logout %+v", out)
		}
	})
}

func TestLogoutOthers(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		other := e.invited(owner, "staff@example.jp", "staff")
		mine, a, b := e.login("owner@example.jp"), e.login("owner@example.jp"), e.login("owner@example.jp")
		colleague := e.login("staff@example.jp")
		p, sess := e.auth(mine)

		list, err := e.svc.ListSessions(e.ctx, db, owner.ID, sess.ID)
		if err != nil || len(list) != 3 {
			t.Fatalf("ListSessions = %d %v", len(list), err)
		}
		current := 0
		for _, s := range list {
			if s.Current {
				current++
			}
			if CSRFToken(s) != "" {
				t.Fatal("a listed session carries its CSRF secret")
			}
		}
		if current != 1 {
			t.Fatalf("%d current sessions", current)
		}

		n, err := e.svc.LogoutOthers(e.ctx, db, p.ID, sess.ID)
		if err != nil || n != 2 {
			t.Fatalf("LogoutOthers = %d %v", n, err)
		}
		for _, tok := range []string{a, b} {
			_, _, err := e.svc.Authenticate(e.ctx, db, tok)
			wantCode(t, err, "session_expired")
		}
		e.auth(mine)
		e.auth(colleague)
		if got := e.entries("staff.logout_others"); len(got) != 1 || string(got[0].Changes[0].Old) != "2" {
			t.Fatalf("staff.logout_others %+v", got)
		}

		// Ending one session by id: only one's own.
		_, csess := e.auth(colleague)
		wantCode(t, e.svc.EndSession(e.ctx, db, p, csess.ID), "session_not_found")
		if err := e.svc.EndSession(e.ctx, db, other.Principal(csess.ID), csess.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.Authenticate(e.ctx, db, colleague)
		wantCode(t, err, "session_expired")
	})
}

func TestCSRF(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		e.owner("owner@example.jp")
		_, s1 := e.auth(e.login("owner@example.jp"))
		_, s2 := e.auth(e.login("owner@example.jp"))
		t1, t2 := CSRFToken(s1), CSRFToken(s1)
		if t1 == "" || t1 == t2 {
			t.Fatalf("tokens %q %q: want fresh masks", t1, t2)
		}
		if !CheckCSRF(s1, t1) || !CheckCSRF(s1, t2) {
			t.Fatal("a session's own token refused")
		}
		if CheckCSRF(s2, t1) {
			t.Fatal("another session's token accepted")
		}
		tampered := []byte(t1)
		tampered[10] ^= 1
		for _, bad := range []string{"", "x", string(tampered), t1[:len(t1)-1]} {
			if CheckCSRF(s1, bad) {
				t.Fatalf("token %q accepted", bad)
			}
		}
		// The secret survives across requests.
		_, again := e.auth(e.login("owner@example.jp"))
		if CheckCSRF(again, t1) {
			t.Fatal("a new session accepted an old session's token")
		}
		if CheckCSRF(Session{}, t1) || CSRFToken(Session{}) != "" {
			t.Fatal("the zero session has CSRF tokens")
		}
	})
}

func TestSweep(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		e.owner("owner@example.jp")
		e.login("owner@example.jp")
		_, _, _, _ = e.svc.Login(e.ctx, db, testSlug, "x@example.jp", "whatever-it-is", testIP, testUA)
		e.clock.Advance(48 * time.Hour)
		n, err := e.svc.Sweep(e.ctx, db)
		if err != nil || n != 3 { // a session, a used setup link, a failure
			t.Fatalf("Sweep = %d %v", n, err)
		}
	})
}
