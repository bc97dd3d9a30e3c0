package csvx_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/text/encoding/japanese"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/csvx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/web"
)

var members = csvx.Columns{
	{Key: "member_number", Label: "t.member_number"},
	{Key: "name", Label: "t.name"},
	{Key: "kana", Label: "t.kana"},
	{Key: "phone", Label: "t.phone"},
	{Key: "note", Label: "t.note"},
}

func catalog(t *testing.T) *i18n.Catalog {
	t.Helper()
	fsys := fstest.MapFS{
		"i18n/ja/t.json": {Data: []byte(`{"t.member_number":"会員番号","t.name":"氏名","t.kana":"フリガナ","t.phone":"電話番号","t.note":"メモ"}`)},
		"i18n/en/t.json": {Data: []byte(`{"t.member_number":"Member number","t.name":"Name","t.kana":"Kana","t.phone":"Phone","t.note":"Note"}`)},
	}
	cat, err := i18n.Load(fsys, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// rows are the awkward values every export must survive.
var rows = [][]string{
	{"0012", "髙橋 一郎", "タカハシ イチロウ", "090-1234-5678", "普通のメモ"},
	{"0013", "山﨑 花子", "ヤマサキ ハナコ", "+81-90-0000-0000", "=SUM(A1:A9)"},
	{"0014", "O'Brien, Jr.", "オブライエン", "-5", `彼は "はい" と言った`},
	{"0015", "@admin", "", "\t=1+2", "一行目\n二行目"}, // written CRLF, read back LF
	{"0016", "'=already quoted", "''", "'", "10:00〜12:00"},
}

func write(t *testing.T, enc csvx.Encoding, header []string, rows [][]string) ([]byte, *csvx.Writer) {
	t.Helper()
	var buf bytes.Buffer
	w, err := csvx.NewWriter(&buf, enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(header); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w
}

func readAll(t *testing.T, data []byte, enc csvx.Encoding) ([][]string, *csvx.Reader) {
	t.Helper()
	x, err := csvx.NewReader(bytes.NewReader(data), csvx.ReaderConfig{Encoding: enc, Columns: members, Catalog: catalog(t)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := csvx.ReadAll(x, func(r csvx.Row) ([]string, []csvx.RowError) {
		out := make([]string, 0, len(members))
		for _, c := range members {
			out = append(out, r.Get(c.Key))
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, x
}

func TestRoundTripUTF8(t *testing.T) {
	cat := catalog(t)
	data, _ := write(t, csvx.UTF8BOM, members.Header(cat, "ja"), rows)
	if !bytes.HasPrefix(data, []byte("\xef\xbb\xbf会員番号,氏名,フリガナ,電話番号,メモ\r\n")) {
		t.Errorf("no BOM or header:\n%q", data[:min(len(data), 80)])
	}
	text := string(data)
	for _, want := range []string{
		"0012,髙橋 一郎,",                   // leading zeros kept, no quoting needed
		",'=SUM(A1:A9)\r\n",             // neutralised; a single quote needs no quoting
		`"O'Brien, Jr."`,                // a comma is quoted
		`"彼は ""はい"" と言った"`,              // quotes doubled
		",'-5,",                         // a minus neutralised
		"0015,'@admin,,",                // an at sign
		",'\t=1+2,",                     // a tab: neutralised
		"\"一行目\r\n二行目\"",                // a line break kept inside quotes
		"0016,''=already quoted,''',',", // quote-prefixed values survive
	} {
		if !strings.Contains(text, want) {
			t.Errorf("file lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "\n"); n != strings.Count(text, "\r\n") {
		t.Errorf("a bare LF line end: %q", text)
	}
	for _, enc := range []csvx.Encoding{"", csvx.UTF8, csvx.UTF8BOM} {
		got, x := readAll(t, data, enc)
		if x.Encoding() != csvx.UTF8 {
			t.Errorf("encoding %q read as %q", enc, x.Encoding())
		}
		if !slices.EqualFunc(got, rows, slices.Equal) {
			t.Errorf("encoding %q: read back\n%q\nwant\n%q", enc, got, rows)
		}
	}
}

func TestRoundTripShiftJIS(t *testing.T) {
	cat := catalog(t)
	withEmoji := append(slices.Clone(rows), []string{"0017", "𠮷野 🍣", "", "", "−5 ‖ ¥100"})
	data, w := write(t, csvx.ShiftJIS, members.Header(cat, "ja"), withEmoji)
	if w.Replaced() != 2 {
		t.Errorf("Replaced = %d, want 2 (𠮷 and 🍣)", w.Replaced())
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		t.Error("a Shift_JIS file starts with a UTF-8 BOM")
	}
	// Decoded by a plain Shift_JIS decoder, as a spreadsheet would.
	text, err := japanese.ShiftJIS.NewDecoder().String(string(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"会員番号,氏名", "0012,髙橋 一郎,", "山﨑 花子", ",'=SUM(A1:A9)\r\n", "10:00～12:00", "〓野 〓", "－5 ∥ ￥100"} {
		if !strings.Contains(text, want) {
			t.Errorf("decoded file lacks %q:\n%s", want, text)
		}
	}
	for _, enc := range []csvx.Encoding{"", csvx.ShiftJIS} {
		got, x := readAll(t, data, enc)
		if x.Encoding() != csvx.ShiftJIS {
			t.Errorf("encoding %q read as %q", enc, x.Encoding())
		}
		want := slices.Clone(withEmoji)
		want[4] = []string{"0016", "'=already quoted", "''", "'", "10:00～12:00"}
		want[5] = []string{"0017", "〓野 〓", "", "", "－5 ∥ ￥100"}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("encoding %q: read back\n%q\nwant\n%q", enc, got, want)
		}
	}
}

func TestNeutraliseRestore(t *testing.T) {
	for _, s := range []string{"", "a", "=", "=1", "+", "-", "@", "\t", "\r", "'", "''", "'a", "'=", "''=", "'''", "0012", "-0012", "髙橋"} {
		n := csvx.Neutralise(s)
		if s != "" && strings.ContainsAny(s[:1], "=+-@\t\r") && !strings.HasPrefix(n, "'") {
			t.Errorf("Neutralise(%q) = %q, not neutralised", s, n)
		}
		if got := csvx.Restore(n); got != s {
			t.Errorf("Restore(Neutralise(%q)) = Restore(%q) = %q", s, n, got)
		}
	}
}

func TestReadErrorsNameTheLine(t *testing.T) {
	sjis := func(s string) string {
		b, err := japanese.ShiftJIS.NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	file := sjis("会員番号,氏名,電話番号\r\n") + // line 1
		sjis("0001,髙橋,03-0000-0000\r\n") + // line 2
		"0002," + sjis("山") + "\xff" + sjis("田") + ",03\r\n" + // line 3: a byte Shift_JIS does not have
		"0003,\"" + sjis("改行\r\nあり") + "\",03\r\n" + // lines 4-5
		sjis("0004,余分,03,x\r\n") + // line 6: one cell too many
		"0005,\x81\x20,03\r\n" // line 7: a lead byte without its trail byte
	x, err := csvx.NewReader(strings.NewReader(file), csvx.ReaderConfig{Columns: members, Catalog: catalog(t)})
	if err != nil {
		t.Fatal(err)
	}
	if x.Encoding() != csvx.ShiftJIS {
		t.Fatalf("detected %q, want shift_jis", x.Encoding())
	}
	var lines []int
	_, err = csvx.ReadAll(x, func(r csvx.Row) (string, []csvx.RowError) {
		lines = append(lines, r.Line)
		return r.Get("name"), nil
	})
	var errs csvx.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("ReadAll = %v, want Errors", err)
	}
	want := csvx.Errors{
		{Line: 3, Column: "name", Code: "csv_encoding", Args: map[string]any{"Encoding": "shift_jis"}},
		{Line: 6, Code: "csv_field_count", Args: map[string]any{"Want": 3, "Got": 4}},
		{Line: 7, Column: "name", Code: "csv_encoding", Args: map[string]any{"Encoding": "shift_jis"}},
	}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("errors\n%v\nwant\n%v", errs, want)
	}
	if !slices.Equal(lines, []int{2, 4}) {
		t.Errorf("good rows at lines %v, want [2 4]", lines)
	}
	var ae *apperr.Error
	if !errors.As(errs.Problem(), &ae) || ae.Code != "validation" || len(ae.Fields) != 3 ||
		ae.Fields[0].Field != "line[3].name" || ae.Fields[1].Field != "line[6]" || ae.Fields[0].Args["Line"] != 3 {
		t.Errorf("problem %+v", ae)
	}
}

func TestReadUTF8Errors(t *testing.T) {
	// Given as UTF-8, a stray byte is an error at its line.
	file := "member_number,name\n1,ok\n2,bad\xff\n3,\"unterminated\n"
	x, err := csvx.NewReader(strings.NewReader(file), csvx.ReaderConfig{Encoding: csvx.UTF8, Columns: members})
	if err != nil {
		t.Fatal(err)
	}
	_, err = csvx.ReadAll(x, func(r csvx.Row) (string, []csvx.RowError) { return "", nil })
	var errs csvx.Errors
	if !errors.As(err, &errs) || len(errs) != 2 || errs[0].Line != 3 || errs[0].Code != "csv_encoding" || errs[1].Line != 4 || errs[1].Code != "csv_syntax" {
		t.Errorf("errors %v", err)
	}
}

func TestReadAllWritesNothingOnOneBadRow(t *testing.T) {
	file := "\xef\xbb\xbfMember number,NAME,電話番号\r\n0001,髙橋,0312345678\r\n0002,,0312345678\r\n0003,佐藤,0312345678\r\n"
	x, err := csvx.NewReader(strings.NewReader(file), csvx.ReaderConfig{Columns: members, Catalog: catalog(t), Required: []string{"member_number", "name"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Keys(), []string{"member_number", "name", "phone"}) {
		t.Errorf("keys %v", x.Keys())
	}
	got, err := csvx.ReadAll(x, func(r csvx.Row) (string, []csvx.RowError) {
		if r.Get("name") == "" {
			return "", []csvx.RowError{{Line: r.Line, Column: "name", Code: "required"}}
		}
		if r.Get("phone") != "0312345678" || r.Get("note") != "" || r.Has("note") {
			t.Errorf("line %d: phone %q", r.Line, r.Get("phone"))
		}
		return r.Get("member_number"), nil
	})
	var errs csvx.Errors
	if got != nil || !errors.As(err, &errs) || len(errs) != 1 || errs[0].Line != 3 || errs[0].Column != "name" {
		t.Errorf("ReadAll = %v, %v; want nothing and the error at line 3", got, err)
	}
}

func TestHeaderErrors(t *testing.T) {
	tests := []struct {
		name, file string
		want       string
	}{
		{"empty", "", "csv: line 1: csv_empty"},
		{"unknown and duplicate", "氏名,name,年齢\r\n", "csv: line 1: name: duplicate; line 1: 年齢: csv_column_unknown; line 1: member_number: csv_column_missing"},
		{"missing", "name\r\n", "csv: line 1: member_number: csv_column_missing"},
	}
	for _, tt := range tests {
		_, err := csvx.NewReader(strings.NewReader(tt.file), csvx.ReaderConfig{Columns: members, Catalog: catalog(t), Required: []string{"member_number"}})
		var errs csvx.Errors
		if !errors.As(err, &errs) || errs.Error() != tt.want {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.want)
		}
	}
}

func TestMaxRows(t *testing.T) {
	x, err := csvx.NewReader(strings.NewReader("name\na\nb\nc\n"), csvx.ReaderConfig{Columns: members, MaxRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = csvx.ReadAll(x, func(r csvx.Row) (string, []csvx.RowError) { return r.Get("name"), nil })
	var errs csvx.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Code != "csv_too_many_rows" || errs[0].Line != 4 {
		t.Errorf("ReadAll = %v", err)
	}
}

func TestSelect(t *testing.T) {
	all, err := members.Select("columns", nil)
	if err != nil || len(all) != len(members) {
		t.Errorf("no keys: %v %v", all, err)
	}
	got, err := members.Select("columns", []string{"phone, name", "member_number"})
	if err != nil || !slices.Equal(got.Keys(), []string{"phone", "name", "member_number"}) {
		t.Errorf("Select = %v, %v", got.Keys(), err)
	}
	_, err = members.Select("columns", []string{"name,password,name"})
	var ae *apperr.Error
	if !errors.As(err, &ae) || len(ae.Fields) != 2 ||
		ae.Fields[0].Field != "columns[1]" || ae.Fields[0].Code != "csv_column_unknown" ||
		ae.Fields[0].Args["Allowed"] != "member_number, name, kana, phone, note" ||
		ae.Fields[1].Field != "columns[2]" || ae.Fields[1].Code != "duplicate" {
		t.Errorf("Select of unknown and duplicate = %v", err)
	}
	if h := got.Header(catalog(t), "en"); !slices.Equal(h, []string{"Phone", "Name", "Member number"}) {
		t.Errorf("English header %v", h)
	}
}

func TestParseEncoding(t *testing.T) {
	for in, want := range map[string]csvx.Encoding{"": csvx.UTF8BOM, "utf-8-bom": csvx.UTF8BOM, "UTF-8": csvx.UTF8, "Shift_JIS": csvx.ShiftJIS, "cp932": csvx.ShiftJIS} {
		if got, err := csvx.ParseEncoding("encoding", in); err != nil || got != want {
			t.Errorf("ParseEncoding(%q) = %q, %v", in, got, err)
		}
	}
	_, err := csvx.ParseEncoding("encoding", "latin1")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Fields[0].Field != "encoding" || ae.Fields[0].Code != "oneof" {
		t.Errorf("latin1: %v", err)
	}
}

func TestSetDownload(t *testing.T) {
	h := http.Header{}
	csvx.SetDownload(h, `予約一覧 2026-12 "a".csv`, csvx.ShiftJIS)
	if got := h.Get("Content-Type"); got != "text/csv; charset=Shift_JIS" {
		t.Errorf("Content-Type %q", got)
	}
	want := `attachment; filename="____ 2026-12 _a_.csv"; filename*=UTF-8''%E4%BA%88%E7%B4%84%E4%B8%80%E8%A6%A7%202026-12%20%22a%22.csv`
	if got := h.Get("Content-Disposition"); got != want {
		t.Errorf("Content-Disposition\n %s\nwant\n %s", got, want)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Error("an export may be cached")
	}
	csvx.SetDownload(h, "members.csv", csvx.UTF8BOM)
	if got := h.Get("Content-Type"); got != "text/csv; charset=UTF-8" {
		t.Errorf("Content-Type %q", got)
	}
}

// countingWriter counts what reaches it and samples the heap at each write.
type countingWriter struct {
	n, writes, biggest int
	peakHeap           uint64
	flushes            int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += len(p)
	c.writes++
	c.biggest = max(c.biggest, len(p))
	if c.writes%16 == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		c.peakHeap = max(c.peakHeap, ms.HeapAlloc)
	}
	return len(p), nil
}

func (c *countingWriter) Flush() { c.flushes++ }

func TestStream100000Rows(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 rows")
	}
	for _, enc := range []csvx.Encoding{csvx.UTF8BOM, csvx.ShiftJIS} {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		cw := &countingWriter{}
		w, err := csvx.NewWriter(cw, enc)
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, 8)
		const n = 100_000
		for i := range n {
			row[0] = fmt.Sprintf("%07d", i)
			row[1], row[2], row[3] = "髙橋 一郎", "タカハシ イチロウ", "090-1234-5678"
			row[4], row[5], row[6], row[7] = "東京都千代田区千代田1-1", "2026-12-10T10:00:00+09:00", "カット＋カラー", "=HYPERLINK(\"x\")"
			if err := w.Write(row); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if w.Rows() != n || cw.n < n*100 {
			t.Fatalf("%s: %d rows, %d bytes", enc, w.Rows(), cw.n)
		}
		// Streamed: many small writes and a flush every DefaultFlushEvery
		// rows, never the file at once, and the heap stays far below the
		// file's size.
		grew := int64(cw.peakHeap) - int64(base.HeapAlloc)
		t.Logf("%s: %d bytes in %d writes (largest %d), %d flushes, heap grew at most %d KiB", enc, cw.n, cw.writes, cw.biggest, cw.flushes, grew/1024)
		if cw.biggest > 64<<10 || cw.flushes < n/csvx.DefaultFlushEvery {
			t.Errorf("%s: largest write %d bytes, %d flushes: not streamed", enc, cw.biggest, cw.flushes)
		}
		if grew > int64(cw.n)/2 {
			t.Errorf("%s: heap grew by %d bytes for a %d-byte file", enc, grew, cw.n)
		}
	}
}

func TestWriteAllocs(t *testing.T) {
	w, err := csvx.NewWriter(io.Discard, csvx.UTF8BOM)
	if err != nil {
		t.Fatal(err)
	}
	row := []string{"0012", "髙橋 一郎", "タカハシ", "090-1234-5678", "メモ"}
	if a := testing.AllocsPerRun(1000, func() { _ = w.Write(row) }); a > 0 {
		t.Errorf("a UTF-8 row costs %v allocations, want none", a)
	}
}

func BenchmarkWriteShiftJIS(b *testing.B) {
	w, err := csvx.NewWriter(io.Discard, csvx.ShiftJIS)
	if err != nil {
		b.Fatal(err)
	}
	row := []string{"0012", "髙橋 一郎", "タカハシ イチロウ", "090-1234-5678", "東京都千代田区千代田1-1", "=1+2"}
	for b.Loop() {
		_ = w.Write(row)
	}
}

// Every code a file's problems carry has its message in both languages of
// the real catalogs, with its arguments filled in.
func TestMessagesInCatalogs(t *testing.T) {
	cat, err := i18n.Load(web.FS, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	errs := csvx.Errors{
		{Line: 1, Code: "csv_empty"},
		{Line: 1, Column: "x", Code: "csv_column_unknown", Args: map[string]any{"Header": "年齢", "Allowed": "name, phone"}},
		{Line: 1, Column: "name", Code: "csv_column_missing"},
		{Line: 3, Column: "name", Code: "csv_encoding", Args: map[string]any{"Encoding": "shift_jis"}},
		{Line: 4, Code: "csv_field_count", Args: map[string]any{"Want": 3, "Got": 4}},
		{Line: 5, Code: "csv_syntax", Args: map[string]any{"Detail": "x"}},
		{Line: 6, Code: "csv_too_many_rows", Args: map[string]any{"Max": 10000}},
	}
	var ae *apperr.Error
	if !errors.As(errs.Problem(), &ae) {
		t.Fatal("no apperr")
	}
	for _, f := range ae.Fields {
		for _, lang := range []string{"ja", "en"} {
			msg := cat.T(lang, "field."+f.Code, f.Args)
			if msg == "field."+f.Code || strings.Contains(msg, "<no value>") || strings.Contains(msg, "{{") {
				t.Errorf("%s %s: %q", lang, f.Code, msg)
			}
		}
	}
}
