package csvx

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
)

// detectBytes is how much of a file decides its encoding when none is
// given.
const detectBytes = 1 << 20

// MaxErrors is the most row errors ReadAll collects; past it the file is
// not worth reading on.
const MaxErrors = 1000

// RowError is one problem of one row (or of the header, line 1): its line
// in the file (1-based, a quoted line break counts), the column key it
// concerns (empty for the whole row) and a field error code with its
// template arguments.
type RowError struct {
	Line   int
	Column string
	Code   string
	Args   map[string]any
}

func (e RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Code)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Column, e.Code)
}

// Field is the error's field path in a validation problem: line[12].phone
// (line[12] for the whole row).
func (e RowError) Field() string {
	if e.Column == "" {
		return fmt.Sprintf("line[%d]", e.Line)
	}
	return fmt.Sprintf("line[%d].%s", e.Line, e.Column)
}

// Errors is every problem found in a file.
type Errors []RowError

func (es Errors) Error() string {
	parts := make([]string, 0, min(len(es), 5))
	for i, e := range es {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(es)-5))
			break
		}
		parts = append(parts, e.Error())
	}
	return "csv: " + strings.Join(parts, "; ")
}

// Problem returns the errors as one validation problem, a field error per
// row error (field line[12].phone), for the HTTP edge.
func (es Errors) Problem() error {
	fields := make([]apperr.FieldError, 0, len(es))
	for _, e := range es {
		args := map[string]any{"Line": e.Line}
		for k, v := range e.Args {
			args[k] = v
		}
		fields = append(fields, apperr.FieldError{Field: e.Field(), Code: e.Code, Args: args})
	}
	return apperr.Invalid(fields...)
}

// ReaderConfig says what a file must look like.
type ReaderConfig struct {
	Encoding Encoding      // UTF8, UTF8BOM (both accept a BOM or none) or ShiftJIS; "": detect
	Columns  Columns       // the columns a header may name
	Required []string      // keys the header must name
	Catalog  *i18n.Catalog // when set, headers may also be the columns' Japanese or English labels
	MaxRows  int           // data rows at most; 0: no limit
}

// Reader reads the rows of a CSV file after its header.
type Reader struct {
	csv     *csv.Reader
	enc     Encoding
	keys    []string // column key of each cell, in file order
	index   map[string]int
	maxRows int
	rows    int
	done    bool
}

// Row is one data row.
type Row struct {
	Line  int // the line it starts on
	cells []string
	index map[string]int
}

// Get returns the cell of column key ("" when the file has no such column),
// as written before the export neutralised it (see Restore).
func (r Row) Get(key string) string {
	if i, ok := r.index[key]; ok && i < len(r.cells) {
		return r.cells[i]
	}
	return ""
}

// Has reports whether the file has column key.
func (r Row) Has(key string) bool {
	_, ok := r.index[key]
	return ok
}

// NewReader reads the header of r. Problems with the header are Errors
// (line 1); an unreadable input is returned as it is.
func NewReader(r io.Reader, cfg ReaderConfig) (*Reader, error) {
	br := bufio.NewReaderSize(r, detectBytes)
	enc := cfg.Encoding
	if enc == "" {
		peek, err := br.Peek(detectBytes)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		enc = detect(peek, len(peek) < detectBytes)
	}
	var src io.Reader = br
	switch enc {
	case UTF8, UTF8BOM:
		enc = UTF8
		if b, _ := br.Peek(len(bom)); string(b) == bom {
			_, _ = br.Discard(len(bom))
		}
	case ShiftJIS:
		src = transform.NewReader(br, japanese.ShiftJIS.NewDecoder())
	default:
		return nil, fmt.Errorf("csvx: unknown encoding %q", enc)
	}
	cr := csv.NewReader(src)
	cr.FieldsPerRecord = 0 // every row as many cells as the header
	x := &Reader{csv: cr, enc: enc, index: map[string]int{}, maxRows: cfg.MaxRows}

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, Errors{{Line: 1, Code: "csv_empty"}}
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, Errors{{Line: pe.StartLine, Code: "csv_syntax", Args: map[string]any{"Detail": pe.Err.Error()}}}
		}
		return nil, err
	}
	byName := cfg.Columns.names(cfg.Catalog)
	var errs Errors
	for i, h := range header {
		h = strings.TrimSpace(h)
		if !x.validText(h) {
			errs = append(errs, RowError{Line: 1, Code: "csv_encoding", Args: map[string]any{"Encoding": string(enc)}})
			continue
		}
		key, ok := byName[h]
		if !ok {
			key, ok = byName[strings.ToLower(h)]
		}
		switch {
		case !ok:
			errs = append(errs, RowError{Line: 1, Column: h, Code: "csv_column_unknown",
				Args: map[string]any{"Header": h, "Allowed": strings.Join(cfg.Columns.Keys(), ", ")}})
		default:
			if _, dup := x.index[key]; dup {
				errs = append(errs, RowError{Line: 1, Column: key, Code: "duplicate"})
			} else {
				x.index[key] = i
			}
		}
		x.keys = append(x.keys, key)
	}
	for _, k := range cfg.Required {
		if _, ok := x.index[k]; !ok {
			errs = append(errs, RowError{Line: 1, Column: k, Code: "csv_column_missing"})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return x, nil
}

// detect says which encoding b (the start of a file; complete when whole)
// is in: UTF-8 when it has a BOM or is valid UTF-8, else Shift_JIS.
func detect(b []byte, whole bool) Encoding {
	if bytes.HasPrefix(b, []byte(bom)) {
		return UTF8
	}
	if !whole {
		// Do not let a character cut at the end of the sample decide.
		for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
			if utf8.RuneStart(b[len(b)-1]) {
				b = b[:len(b)-1]
				break
			}
			b = b[:len(b)-1]
		}
	}
	if utf8.Valid(b) {
		return UTF8
	}
	return ShiftJIS
}

// Encoding is the file's encoding (UTF8 or ShiftJIS), as given or detected.
func (x *Reader) Encoding() Encoding { return x.enc }

// Keys lists the header's column keys in file order.
func (x *Reader) Keys() []string { return x.keys }

// validText reports whether a decoded cell is intact: valid UTF-8, and for
// Shift_JIS without U+FFFD (the decoder's mark of a bad byte sequence;
// Shift_JIS has no such character of its own).
func (x *Reader) validText(s string) bool {
	if x.enc == ShiftJIS {
		return !strings.ContainsRune(s, utf8.RuneError)
	}
	return utf8.ValidString(s)
}

// Read returns the next row. A row with a problem comes with a RowError
// (and as much of the row as was read); reading may go on after it. At the
// end, or after a problem that leaves the rest unreadable (a broken quote,
// too many rows), it returns io.EOF.
func (x *Reader) Read() (Row, error) {
	if x.done {
		return Row{}, io.EOF
	}
	cells, err := x.csv.Read()
	if errors.Is(err, io.EOF) {
		x.done = true
		return Row{}, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			x.done = true
			return Row{}, err
		}
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return Row{Line: pe.StartLine, cells: cells, index: x.index}, RowError{Line: pe.StartLine, Code: "csv_field_count",
				Args: map[string]any{"Want": len(x.keys), "Got": len(cells)}}
		}
		x.done = true
		return Row{Line: pe.StartLine}, RowError{Line: pe.StartLine, Code: "csv_syntax", Args: map[string]any{"Detail": pe.Err.Error()}}
	}
	line, _ := x.csv.FieldPos(0)
	x.rows++
	if x.maxRows > 0 && x.rows > x.maxRows {
		x.done = true
		return Row{Line: line}, RowError{Line: line, Code: "csv_too_many_rows", Args: map[string]any{"Max": x.maxRows}}
	}
	for i, c := range cells {
		if !x.validText(c) {
			return Row{Line: line, cells: cells, index: x.index}, RowError{Line: line, Column: x.keys[i], Code: "csv_encoding",
				Args: map[string]any{"Encoding": string(x.enc)}}
		}
		cells[i] = Restore(c)
	}
	return Row{Line: line, cells: cells, index: x.index}, nil
}

// ReadAll reads every row and converts each with parse, which reports the
// row's problems (nil when it is good). When any row has a problem it
// returns no values and Errors listing every problem (at most MaxErrors),
// so the caller writes nothing; otherwise the values in file order.
func ReadAll[T any](x *Reader, parse func(Row) (T, []RowError)) ([]T, error) {
	var out []T
	var errs Errors
	for len(errs) < MaxErrors {
		row, err := x.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var re RowError
		if errors.As(err, &re) {
			errs = append(errs, re)
			continue
		}
		if err != nil {
			return nil, err
		}
		v, bad := parse(row)
		if len(bad) > 0 {
			errs = append(errs, bad...)
			continue
		}
		if len(errs) == 0 {
			out = append(out, v)
		}
	}
	if len(errs) > 0 {
		if len(errs) > MaxErrors {
			errs = errs[:MaxErrors]
		}
		return nil, errs
	}
	return out, nil
}
