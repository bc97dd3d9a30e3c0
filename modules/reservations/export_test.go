package reservations_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/text/encoding/japanese"

	"github.com/yoyaku-oss/yoyaku/modules/platform/csvx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
	"github.com/yoyaku-oss/yoyaku/web"
)

func catalog(t testing.TB) *i18n.Catalog {
	t.Helper()
	cat, err := i18n.Load(web.FS, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// decode reads an exported file back: BOM or Shift_JIS, CRLF, every row.
func decode(t *testing.T, b []byte, enc csvx.Encoding) [][]string {
	t.Helper()
	switch enc {
	case csvx.UTF8BOM:
		if !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
			t.Fatalf("no BOM: %q", b[:min(len(b), 16)])
		}
		b = b[3:]
	case csvx.ShiftJIS:
		var err error
		if b, err = japanese.ShiftJIS.NewDecoder().Bytes(b); err != nil {
			t.Fatal(err)
		}
	}
	if n, crlf := bytes.Count(b, []byte("\n")), bytes.Count(b, []byte("\r\n")); n == 0 || n != crlf {
		t.Fatalf("line ends: %d LF, %d CRLF", n, crlf)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestExportReservations(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		cat := catalog(t)
		customers := []reservations.Customer{
			{Name: "髙橋 﨑子", Kana: "タカハシ サキコ", Email: "takahashi@example.jp", Phone: "090-1234-5678"},
			{Name: "=HYPERLINK(\"http://evil.example\",\"x\")", Kana: "イービル", Email: "e@example.jp", Phone: "0312345678"},
			{Name: "渡辺 🍣", Kana: "ワタナベ", Email: "w@example.jp", Phone: "08000000000"},
		}
		for i, c := range customers {
			in := e.cutInput(at(fmt.Sprintf("%02d:00", 10+i)), i)
			in.Customer = c
			in.SourceIP = "192.0.2.1"
			if _, err := e.svc.Book(e.ctx, db, e.tenant, in); err != nil {
				t.Fatal(err)
			}
		}
		day := at("00:00")
		for _, enc := range []csvx.Encoding{csvx.UTF8BOM, csvx.ShiftJIS} {
			t.Run(string(enc), func(t *testing.T) {
				x, err := e.svc.NewExport(e.ctx, db, e.tenant, cat, reservations.ExportParams{From: day, To: day.AddDate(0, 0, 1),
					Encoding: enc, Columns: []string{"number,customer_name,customer_phone,starts_at,menu,provider,status,source_ip"}})
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				res, err := x.Write(e.ctx, &buf)
				if err != nil {
					t.Fatal(err)
				}
				rows := decode(t, buf.Bytes(), enc)
				if len(rows) != 4 || res.Rows != 3 {
					t.Fatalf("%d rows (%d): %q", len(rows), res.Rows, rows)
				}
				if strings.Join(rows[0], ",") != "予約番号,お名前,電話番号,開始日時,メニュー,担当,状態,予約元IPアドレス" {
					t.Errorf("header %q", rows[0])
				}
				if rows[1][1] != "髙橋 﨑子" || rows[1][2] != "090-1234-5678" || rows[1][3] != "2026-01-14 10:00" ||
					rows[1][4] != "カット" || rows[1][6] != "確定" || rows[1][7] != "192.0.2.1" {
					t.Errorf("row 1 %q", rows[1])
				}
				if rows[2][1] != "'=HYPERLINK(\"http://evil.example\",\"x\")" || rows[2][2] != "0312345678" {
					t.Errorf("formula not neutralised or zero lost: %q", rows[2])
				}
				want := "渡辺 🍣"
				if enc == csvx.ShiftJIS {
					want = "渡辺 〓"
					if res.Replaced != 1 {
						t.Errorf("replaced %d, want 1", res.Replaced)
					}
				}
				if rows[3][1] != want {
					t.Errorf("row 3 %q, want %q", rows[3][1], want)
				}
			})
		}
		// The operation log has each export, without customers' data.
		var entries []struct {
			Action  string `bun:"action"`
			Changes string `bun:"changes"`
		}
		if err := db.NewSelect().Table("audit_entries").Column("action", "changes").Where("action = ?", reservations.AuditExport).Scan(e.ctx, &entries); err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Fatalf("%d export entries", len(entries))
		}
		for _, en := range entries {
			for _, w := range []string{`"rows"`, `"columns"`, `"encoding"`, `"replaced"`, `"from"`} {
				if !strings.Contains(en.Changes, w) {
					t.Errorf("entry lacks %s: %s", w, en.Changes)
				}
			}
			if strings.Contains(en.Changes, "髙橋") || strings.Contains(en.Changes, "example.jp") {
				t.Errorf("personal data in the log: %s", en.Changes)
			}
		}

		// Refused before anything is written.
		for name, p := range map[string]reservations.ExportParams{
			"no period":    {},
			"too long":     {From: day, To: day.AddDate(2, 0, 0)},
			"bad column":   {From: day, To: day.AddDate(0, 0, 1), Columns: []string{"number,password"}},
			"bad status":   {From: day, To: day.AddDate(0, 0, 1), Status: "lost"},
			"to not after": {From: day, To: day},
		} {
			if _, err := e.svc.NewExport(e.ctx, db, e.tenant, cat, p); code(err) != "validation" {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

// exportRow is a reservation row as the bulk fixture writes it.
type exportRow struct {
	bun.BaseModel `bun:"table:reservations"`

	ID            string    `bun:"id,pk"`
	Number        string    `bun:"number"`
	MenuID        string    `bun:"menu_id"`
	Mode          string    `bun:"mode"`
	StartsAt      time.Time `bun:"starts_at"`
	EndsAt        time.Time `bun:"ends_at"`
	PartySize     int       `bun:"party_size"`
	Resources     string    `bun:"resources"`
	OptionIDs     string    `bun:"option_ids"`
	Answers       string    `bun:"answers"`
	Price         int64     `bun:"price"`
	Status        string    `bun:"status"`
	HoldsCapacity bool      `bun:"holds_capacity"`
	CustomerName  string    `bun:"customer_name"`
	CustomerKana  string    `bun:"customer_kana"`
	CustomerEmail string    `bun:"customer_email"`
	CustomerPhone string    `bun:"customer_phone"`
	Lang          string    `bun:"lang"`
	Source        string    `bun:"source"`
	SourceIP      string    `bun:"source_ip"`
	UserAgent     string    `bun:"user_agent"`
	CreatedBy     string    `bun:"created_by"`
	Version       int       `bun:"version"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
	CancelledBy   string    `bun:"cancelled_by"`
	CancelReason  string    `bun:"cancel_reason"`
}

// heapWriter discards what it is given and samples the live heap at each
// flush-sized write.
type heapWriter struct {
	n, writes int
	peak      uint64
}

func (w *heapWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	w.writes++
	if w.writes%16 == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.peak = max(w.peak, ms.HeapAlloc)
	}
	return len(p), nil
}

// 100,000 reservations stream through in bounded memory: the heap never
// holds more than a few pages of rows, far less than the file.
func TestExportStreams100k(t *testing.T) {
	if testing.Short() {
		t.Skip("bulk fixture")
	}
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		const total, batch = 100000, 1000
		base := at("00:00").UTC()
		rows := make([]exportRow, batch)
		for i := 0; i < total; i += batch {
			for j := range rows {
				n := i + j
				start := base.Add(time.Duration(n) * time.Minute)
				rows[j] = exportRow{ID: fmt.Sprintf("%032x", n+1), Number: fmt.Sprintf("RB%08d", n), MenuID: e.cut, Mode: "hours",
					StartsAt: start, EndsAt: start.Add(time.Hour), PartySize: 1, Resources: "[]", OptionIDs: "[]", Answers: "{}",
					Price: 5000, Status: "confirmed", CustomerName: "髙橋 花子", CustomerKana: "タカハシ ハナコ",
					CustomerEmail: "bulk@example.jp", CustomerPhone: "09012345678", Lang: "ja", Source: "staff",
					CreatedBy: "system:", Version: 1, CreatedAt: base, UpdatedAt: base}
			}
			if _, err := db.NewInsert().Model(&rows).Exec(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
		x, err := e.svc.NewExport(e.ctx, db, e.tenant, catalog(t), reservations.ExportParams{From: base, To: base.AddDate(0, 3, 0),
			Encoding: csvx.ShiftJIS})
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w := &heapWriter{}
		res, err := x.Write(e.ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != total {
			t.Fatalf("%d rows", res.Rows)
		}
		grew := int64(w.peak) - int64(ms.HeapAlloc)
		t.Logf("%d rows, %d bytes, heap grew at most %d KiB", res.Rows, w.n, grew>>10)
		if grew > 48<<20 || grew > int64(w.n) {
			t.Errorf("heap grew %d bytes for a %d-byte file", grew, w.n)
		}
	})
}
