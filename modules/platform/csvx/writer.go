package csvx

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// DefaultFlushEvery is how many rows a Writer buffers at most before it
// flushes them (and the HTTP response) to its destination.
const DefaultFlushEvery = 500

// bom is the UTF-8 byte order mark.
const bom = "\xef\xbb\xbf"

// Writer writes CSV rows to an io.Writer in an Encoding. It is not safe for
// concurrent use.
type Writer struct {
	dst        io.Writer
	csv        *csv.Writer
	enc        Encoding
	sjis       *encoding.Encoder
	FlushEvery int // rows between flushes; 0: DefaultFlushEvery
	rows       int
	replaced   int
	cells      []string // reused record buffer
}

// NewWriter returns a Writer on w in enc (UTF8BOM writes the BOM now).
func NewWriter(w io.Writer, enc Encoding) (*Writer, error) {
	cw := &Writer{dst: w, enc: enc}
	switch enc {
	case UTF8BOM:
		if _, err := io.WriteString(w, bom); err != nil {
			return nil, err
		}
	case UTF8:
	case ShiftJIS:
		cw.sjis = japanese.ShiftJIS.NewEncoder()
	default:
		return nil, fmt.Errorf("csvx: unknown encoding %q", enc)
	}
	cw.csv = csv.NewWriter(w)
	cw.csv.UseCRLF = true
	return cw, nil
}

// Write writes one row: each cell neutralised against formula injection,
// then encoded. The row reaches w at the next flush.
func (w *Writer) Write(row []string) error {
	w.cells = w.cells[:0]
	for _, s := range row {
		s = Neutralise(s)
		if w.sjis != nil {
			s = w.toShiftJIS(s)
		}
		w.cells = append(w.cells, s)
	}
	if err := w.csv.Write(w.cells); err != nil {
		return err
	}
	w.rows++
	every := w.FlushEvery
	if every <= 0 {
		every = DefaultFlushEvery
	}
	if w.rows%every == 0 {
		return w.Flush()
	}
	return nil
}

// Flush writes the buffered rows to w, and flushes w too when it can (an
// http.ResponseWriter sends them to the client).
func (w *Writer) Flush() error {
	w.csv.Flush()
	if err := w.csv.Error(); err != nil {
		return err
	}
	switch f := w.dst.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}

// Rows is the number of rows written.
func (w *Writer) Rows() int { return w.rows }

// Replaced is the number of characters Shift_JIS could not hold, written
// as 〓.
func (w *Writer) Replaced() int { return w.replaced }

// formulaStart reports whether a spreadsheet would take a cell starting
// with b for a formula (or, for a tab or carriage return, strip what hides
// one).
func formulaStart(b byte) bool {
	switch b {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// Neutralise prefixes a cell a spreadsheet would run as a formula with a
// single quote ("=1+2" → "'=1+2"). A cell that already starts with a quote
// followed by such a character gets a second quote, so that Restore gives
// back exactly the original.
func Neutralise(s string) string {
	if s == "" {
		return s
	}
	if formulaStart(s[0]) || (s[0] == '\'' && len(s) > 1 && (formulaStart(s[1]) || s[1] == '\'')) {
		return "'" + s
	}
	return s
}

// Restore undoes Neutralise: a cell of an exported file reads back as the
// value that was exported.
func Restore(s string) string {
	if len(s) > 1 && s[0] == '\'' && (formulaStart(s[1]) || s[1] == '\'') {
		return s[1:]
	}
	return s
}

// cp932Forms maps characters that JIS X 0208 and CP932 map to different
// Unicode code points to the CP932 ones: the same character to a reader.
var cp932Forms = strings.NewReplacer(
	"\u301c", "\uff5e", // 〜 WAVE DASH → ～
	"\u2212", "\uff0d", // − MINUS SIGN → －
	"\u2016", "\u2225", // ‖ DOUBLE VERTICAL LINE → ∥
	"\u2014", "\u2015", // — EM DASH → ―
	"\u00a2", "\uffe0", // ¢ → ￠
	"\u00a3", "\uffe1", // £ → ￡
	"\u00ac", "\uffe2", // ¬ → ￢
	"\u00a5", "\uffe5", // ¥ → ￥
)

// geta is 〓 in Shift_JIS.
const geta = "\x81\xac"

// toShiftJIS encodes s; characters Shift_JIS lacks become 〓 and are
// counted. The result is a string of Shift_JIS bytes: encoding/csv quotes
// it correctly, since no Shift_JIS trail byte is a quote, comma, CR or LF.
func (w *Writer) toShiftJIS(s string) string {
	if isASCII(s) {
		return s
	}
	s = cp932Forms.Replace(s)
	if b, err := w.sjis.String(s); err == nil {
		return b
	}
	var out strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			out.WriteRune(r)
			continue
		}
		b, err := w.sjis.String(string(r))
		if err != nil {
			w.replaced++
			b = geta
		}
		out.WriteString(b)
	}
	return out.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
