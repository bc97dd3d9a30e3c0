package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/text/encoding/japanese"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// The demo tenant has members and reservations in several states, past
// and future, on the salon's hours menus (both stylists), yoga sessions
// and the seminar (pending approval); the CSV export then lists them, in
// Shift_JIS, for a key with csv and not for one without.
func TestDemoBookingsAndCSVExport(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		x := newAPITenant(t, loc, tenants.CreateParams{Slug: "demo-csv", Name: "デモ", TimeZone: "Asia/Tokyo",
			Options: []string{"api", "audit_log"}})
		zone, _ := time.LoadLocation("Asia/Tokyo")
		now := time.Now()
		start := time.Now()
		x.inDB(func(db bun.IDB) error { return x.a.seedDemo(context.Background(), db, now, zone) })
		t.Logf("seedDemo took %v", time.Since(start))
		x.inDB(func(db bun.IDB) error {
			ctx := context.Background()
			var byStatus []struct {
				Status string `bun:"status"`
				N      int    `bun:"n"`
			}
			if err := db.NewSelect().Table("reservations").ColumnExpr("status, COUNT(*) AS n").Group("status").Scan(ctx, &byStatus); err != nil {
				return err
			}
			got := map[string]int{}
			for _, s := range byStatus {
				got[s.Status] = s.N
			}
			for _, st := range []string{"confirmed", "pending", "cancelled", "completed", "no_show"} {
				if got[st] == 0 {
					t.Errorf("no %s reservation: %v", st, got)
				}
			}
			var providers, modes int
			if err := db.NewSelect().Table("reservations").ColumnExpr("COUNT(DISTINCT provider_id)").Where("mode = ?", "hours").Scan(ctx, &providers); err != nil {
				return err
			}
			if err := db.NewSelect().Table("reservations").ColumnExpr("COUNT(DISTINCT mode)").Scan(ctx, &modes); err != nil {
				return err
			}
			members, err := db.NewSelect().Table("members").Where("status = ?", "active").Count(ctx)
			if err != nil {
				return err
			}
			if providers != 2 || modes != 3 || members < 20 {
				t.Errorf("%d stylists, %d modes, %d members", providers, modes, members)
			}
			return nil
		})

		from, to := now.In(zone).AddDate(0, 0, -14).Format(time.DateOnly), now.In(zone).AddDate(0, 0, 21).Format(time.DateOnly)
		path := "/api/v1/exports/reservations.csv?encoding=shift_jis&status=completed&columns=number,customer_name,customer_phone,provider&from=" + from + "&to=" + to
		if code, body := x.call("GET", path, x.key("staff"), ""); code != 403 {
			t.Errorf("staff key: %d %s", code, body)
		}
		w := x.serve("GET", path, x.key("admin"), "")
		if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Disposition"), "reservations_") {
			t.Fatalf("export: %d %v", w.Code, w.Header())
		}
		text, err := japanese.ShiftJIS.NewDecoder().String(w.Body.String())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(text, "予約番号,お名前,電話番号,担当\r\n") || !strings.Contains(text, "髙橋 美咲") && !strings.Contains(text, "山﨑 大輔") ||
			!strings.Contains(text, ",0") || !strings.Contains(text, "佐藤 美咲") {
			t.Errorf("export:\n%s", text)
		}
		if code, body := x.call("GET", "/api/v1/exports/reservations.csv?from="+from+"&to="+to+"&columns=number,password", x.key("admin"), ""); code != 400 || !strings.Contains(body, "columns[1]") {
			t.Errorf("unknown column: %d %s", code, body)
		}
		if code, _ := x.call("GET", "/api/v1/exports/members.csv", x.key("viewer"), ""); code != 403 {
			t.Errorf("viewer members export: %d", code)
		}
		w = x.serve("GET", "/api/v1/exports/members.csv?columns=member_number,family_name,postal_code&q="+url.QueryEscape("髙橋"), x.key("owner"), "")
		if w.Code != 200 || !strings.Contains(w.Body.String(), "髙橋,150-0001") {
			t.Errorf("members export: %d %s", w.Code, w.Body.String())
		}

		// The import through the API: a bad row names its line, writes nothing.
		bad := "email,family_name,given_name,family_kana,given_kana,phone\nnew@example.jp,新井,一,アライ,ハジメ,0311112222\nbad@example.jp,新井,二,あらい,ニ,abc\n"
		code, body := x.call("POST", "/api/v1/imports/members", x.key("admin"), bad, "Content-Type", "text/csv")
		if code != 400 || !strings.Contains(body, "line[3].phone") {
			t.Errorf("bad import: %d %s", code, body)
		}
		if code, _ := x.call("POST", "/api/v1/imports/members", x.key("staff"), bad, "Content-Type", "text/csv"); code != 403 {
			t.Errorf("staff import: %d", code)
		}
		good := strings.Replace(bad, "abc", "03-3333-4444", 1)
		code, body = x.call("POST", "/api/v1/imports/members", x.key("admin"), good, "Content-Type", "text/csv")
		if code != 200 || !strings.Contains(body, `"created":2`) {
			t.Errorf("good import: %d %s", code, body)
		}
	})
}
