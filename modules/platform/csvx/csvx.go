// Package csvx writes and reads the CSV files of Yoyaku's exports and
// imports (reservations, members) the way Japanese spreadsheet users expect
// them, and safely.
//
// Writing: RFC 4180 (encoding/csv) with CRLF line ends, in UTF-8 with a BOM
// (the default: Excel then opens it as UTF-8) or in Shift_JIS (Windows code
// page 932, golang.org/x/text/encoding/japanese). Values are strings and are
// never converted, so leading zeros stay ("0012"). A cell that a
// spreadsheet would run as a formula (starting with = + - @, a tab or a
// carriage return) is prefixed with a single quote, as OWASP advises
// against CSV injection. Rows are flushed every FlushEvery rows (and the
// HTTP response with them), so an export of 100,000 rows streams in
// constant memory.
//
// Shift_JIS cannot hold every character. Characters that CP932 writes under
// another code point (〜 WAVE DASH as ～, − MINUS SIGN as －, ‖ as ∥, — as ―,
// ¢ £ ¬ ¥ as their full-width forms) are written as those, which is how the
// same character looks in CP932; anything else (emoji, 𠮷, accented Latin)
// becomes 〓 (the geta mark, JIS's own substitute, which stands out where
// '?' would pass for punctuation) and is counted: Writer.Replaced tells the
// caller, who can say so in the operation log or suggest UTF-8.
//
// Reading: UTF-8 with or without a BOM, or Shift_JIS, chosen by a parameter
// or detected (the first MiB valid UTF-8: UTF-8; otherwise Shift_JIS). The
// header row names the columns (by key or by their Japanese or English
// label); each row comes with its line number; a bad byte sequence, a row
// with the wrong number of cells or a broken quote is a RowError naming the
// line and the column. ReadAll checks every row before the caller writes
// anything, and returns every error at once, so an import is all or
// nothing and its report names each bad row.
package csvx

import (
	"strings"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Encoding is a CSV file's character encoding.
type Encoding string

// The encodings.
const (
	UTF8BOM  Encoding = "utf-8-bom" // UTF-8 with a byte order mark (the default of exports)
	ShiftJIS Encoding = "shift_jis" // Shift_JIS as Windows writes it (CP932)
	UTF8     Encoding = "utf-8"     // UTF-8; the reader accepts it with or without a BOM
)

// ParseEncoding reads an encoding parameter named field: empty is UTF8BOM;
// anything but utf-8-bom, utf-8 and shift_jis (any case, sjis and cp932
// accepted) is a field error.
func ParseEncoding(field, s string) (Encoding, error) {
	switch strings.ToLower(s) {
	case "", "utf-8-bom":
		return UTF8BOM, nil
	case "utf-8", "utf8":
		return UTF8, nil
	case "shift_jis", "sjis", "cp932", "windows-31j":
		return ShiftJIS, nil
	}
	return "", apperr.Invalid(apperr.Field(field, "oneof", map[string]any{"Param": "utf-8-bom utf-8 shift_jis"}))
}
