package csvx

import (
	"net/http"
	"strings"
)

// ContentType is the media type of a file in enc.
func ContentType(enc Encoding) string {
	if enc == ShiftJIS {
		return "text/csv; charset=Shift_JIS"
	}
	return "text/csv; charset=UTF-8"
}

// SetDownload sets the headers of a CSV download named filename (which may
// be Japanese: 予約一覧_2026-12.csv) in enc: the content type, an
// attachment disposition with an ASCII fallback name and the real name as
// an RFC 5987 filename*, and no-store (exports hold personal data).
func SetDownload(h http.Header, filename string, enc Encoding) {
	h.Set("Content-Type", ContentType(enc))
	h.Set("Content-Disposition", ContentDisposition(filename))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// ContentDisposition is `attachment; filename="..."; filename*=UTF-8”...`
// (RFC 6266, RFC 5987): browsers use filename*, old clients the ASCII
// fallback, in which every other character is an underscore.
func ContentDisposition(filename string) string {
	var ascii, ext strings.Builder
	for _, r := range filename {
		switch {
		case r >= 0x20 && r < 0x7f && r != '"' && r != '\\' && r != '%':
			ascii.WriteRune(r)
		default:
			ascii.WriteByte('_')
		}
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(filename); i++ {
		b := filename[i]
		if attrChar(b) {
			ext.WriteByte(b)
		} else {
			ext.WriteByte('%')
			ext.WriteByte(hex[b>>4])
			ext.WriteByte(hex[b&15])
		}
	}
	return `attachment; filename="` + ascii.String() + `"; filename*=UTF-8''` + ext.String()
}

// attrChar: RFC 5987's attr-char, which stays as it is in filename*.
func attrChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}
