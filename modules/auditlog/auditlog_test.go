package auditlog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func migrated(t *testing.T, db *bun.DB) {
	t.Helper()
	if _, err := dbx.Migrate(context.Background(), db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
}

func record(t *testing.T, db bun.IDB, e auditlog.Entry) auditlog.Entry {
	t.Helper()
	out, err := auditlog.Record(context.Background(), db, e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func staff(id string) auditlog.Actor {
	return auditlog.Actor{Kind: auditlog.ActorStaff, ID: id, Name: id + "@example.jp", Role: "owner"}
}

func TestChainVerifiesAndNamesTheTamperedEntry(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		ctx := auditlog.WithRequest(context.Background(), auditlog.Request{
			Actor: staff("s1"), SourceIP: "203.0.113.9", UserAgent: "Mozilla/5.0", RequestID: "req-0001"})
		var changes auditlog.Changes
		changes.Add("name", "カット", "カット＆カラー")
		changes.Add("price", 4000, 4000) // unchanged: not recorded
		changes.Add("password_hash", "old", "new")
		for i := 1; i <= 5; i++ {
			e, err := auditlog.Record(ctx, db, auditlog.Entry{Action: "menu.update", ObjectType: "menu", ObjectID: fmt.Sprint(i), Changes: changes})
			if err != nil {
				t.Fatal(err)
			}
			if e.Seq != int64(i) || e.Actor.ID != "s1" || e.SourceIP != "203.0.113.9" || e.RequestID != "req-0001" || e.Result != auditlog.ResultOK {
				t.Fatalf("entry %+v", e)
			}
		}
		rep, err := auditlog.Verify(ctx, db)
		if err != nil || !rep.OK() || rep.Checked != 5 {
			t.Fatalf("untouched log: %+v %v", rep, err)
		}
		got, err := auditlog.Search(ctx, db, auditlog.Filter{ObjectID: "3"})
		if err != nil || len(got) != 1 {
			t.Fatalf("search: %v %v", got, err)
		}
		if len(got[0].Changes) != 2 || got[0].Changes[0].Field != "name" || string(got[0].Changes[1].New) != `"[redacted]"` {
			t.Fatalf("changes %+v", got[0].Changes)
		}
		if strings.Contains(fmt.Sprint(got[0].Changes), "new") {
			t.Fatalf("a secret reached the log: %s", got[0].Changes)
		}

		// Someone edits entry 3 in the database.
		if _, err := db.NewUpdate().TableExpr("audit_entries").Set("actor_name = ?", "someone-else").Where("seq = 3").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err = auditlog.Verify(ctx, db)
		if err != nil || rep.OK() || rep.BrokenSeq != 3 {
			t.Fatalf("tampered log: %+v %v", rep, err)
		}
	})
}

func TestRemovedEntriesAreDetected(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		ctx := context.Background()
		for i := range 4 {
			record(t, db, auditlog.Entry{Action: "staff.login", Actor: staff(fmt.Sprint(i))})
		}
		if _, err := db.NewDelete().TableExpr("audit_entries").Where("seq = 2").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if rep, _ := auditlog.Verify(ctx, db); rep.BrokenSeq != 2 || !strings.Contains(rep.Reason, "missing") {
			t.Fatalf("a removed middle entry: %+v", rep)
		}
	})
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		ctx := context.Background()
		for i := range 4 {
			record(t, db, auditlog.Entry{Action: "staff.login", Actor: staff(fmt.Sprint(i))})
		}
		if _, err := db.NewDelete().TableExpr("audit_entries").Where("seq = 4").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if rep, _ := auditlog.Verify(ctx, db); rep.BrokenSeq != 4 {
			t.Fatalf("a removed last entry: %+v", rep)
		}
	})
}

func TestAppendNeedsATransactionAndRollsBackWithIt(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		ctx := context.Background()
		if _, err := auditlog.Append(ctx, db, auditlog.Entry{Action: "x.y"}); err == nil {
			t.Fatal("Append outside a transaction was accepted")
		}
		boom := fmt.Errorf("the change failed")
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: "menu.create"}); err != nil {
				return err
			}
			return boom
		})
		if err != boom {
			t.Fatal(err)
		}
		if got, _ := auditlog.Search(ctx, db, auditlog.Filter{}); len(got) != 0 {
			t.Fatalf("the entry of a rolled-back change remains: %v", got)
		}
		e := record(t, db, auditlog.Entry{Action: "menu.create"})
		if e.Seq != 1 {
			t.Fatalf("seq after a rollback = %d, want 1 (no gap)", e.Seq)
		}
	})
}

// Many writers at once still make one unbroken chain.
func TestConcurrentAppends(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		ctx := context.Background()
		const workers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					_, err := auditlog.Record(ctx, db, auditlog.Entry{Action: "reservation.create", ObjectID: fmt.Sprintf("%d-%d", w, i)})
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		rep, err := auditlog.Verify(ctx, db)
		if err != nil || !rep.OK() || rep.Checked != workers*each {
			t.Fatalf("after concurrent appends: %+v %v", rep, err)
		}
	})
}

func TestPurgeKeepsTheChainVerifiable(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		ctx := context.Background()
		old := time.Now().Add(-400 * 24 * time.Hour)
		for i := range 3 {
			record(t, db, auditlog.Entry{Action: "old.thing", At: old.Add(time.Duration(i) * time.Hour)})
		}
		for range 2 {
			record(t, db, auditlog.Entry{Action: "new.thing"})
		}
		n, err := auditlog.Purge(ctx, db, time.Now().Add(-395*24*time.Hour))
		if err != nil || n != 3 {
			t.Fatalf("purged %d, %v", n, err)
		}
		rep, err := auditlog.Verify(ctx, db)
		if err != nil || !rep.OK() || rep.Checked != 2 || rep.FirstSeq != 4 {
			t.Fatalf("after purge: %+v %v", rep, err)
		}
		record(t, db, auditlog.Entry{Action: "newer.thing"})
		if rep, _ := auditlog.Verify(ctx, db); !rep.OK() || rep.LastSeq != 6 {
			t.Fatalf("after purge and append: %+v", rep)
		}
		got, _ := auditlog.Search(ctx, db, auditlog.Filter{Action: "new."})
		if len(got) != 2 || got[0].Seq != 5 || got[1].Action != "new.thing" {
			b, _ := json.Marshal(got)
			t.Fatalf("prefix search: %s", b)
		}
	})
}
