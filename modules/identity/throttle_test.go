package identity

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
)

// Many concurrent wrong passwords: every failure is counted (none lost to
// a race), exactly the tenth starts the lockout, and the rest are refused.
func TestConcurrentFailuresLockExactlyAtTheTenth(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		const attempts = 24
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[string]int{}
		start := make(chan struct{})
		for i := range attempts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// One address each: this is about the account's count.
				ip := fmt.Sprintf("192.0.2.%d", i+1)
				_, _, _, err := e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", "not-the-password", ip, testUA)
				var ae *apperr.Error
				code := "?"
				if err != nil {
					code = err.Error()
					if errors.As(err, &ae) {
						code = ae.Code
					}
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if codes["login_failed"] != MaxFailedLogins || codes["account_locked"] != attempts-MaxFailedLogins || len(codes) != 2 {
			t.Fatalf("answers %v: want %d login_failed and %d account_locked", codes, MaxFailedLogins, attempts-MaxFailedLogins)
		}
		if n := e.countEntries("staff.login_failed"); n != MaxFailedLogins {
			t.Errorf("staff.login_failed entries: %d", n)
		}
		if n := e.countEntries("staff.locked"); n != 1 {
			t.Errorf("staff.locked entries: %d", n)
		}
		if n := e.countEntries("staff.login_refused"); n != attempts-MaxFailedLogins {
			t.Errorf("staff.login_refused entries: %d", n)
		}
		st, err := e.svc.GetStaff(e.ctx, db, owner.ID)
		if err != nil || !st.Locked(e.clock.Now()) || st.FailedLogins != 0 {
			t.Fatalf("staff %+v %v", st, err)
		}
	})
}

// Fewer concurrent failures than the limit: all counted, no lockout.
func TestConcurrentFailuresAreAllCounted(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		var wg sync.WaitGroup
		for i := range MaxFailedLogins - 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, _, err := e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", "not-the-password", fmt.Sprintf("192.0.2.%d", i+1), testUA)
				if !errors.Is(err, ErrLoginFailed) {
					t.Errorf("login: %v", err)
				}
			}()
		}
		wg.Wait()
		st, _ := e.svc.GetStaff(e.ctx, db, owner.ID)
		if st.FailedLogins != MaxFailedLogins-1 || st.Locked(e.clock.Now()) {
			t.Fatalf("after %d concurrent failures: %+v", MaxFailedLogins-1, st)
		}
	})
}
