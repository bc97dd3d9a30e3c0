package members

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Field limits, in characters.
const (
	maxNameChars    = 50
	maxAddressChars = 100
	maxEmailChars   = 254
)

// ProfileInput is a profile as typed: any width, hiragana or katakana, a
// postal code with or without its hyphen, a prefecture by code or name.
type ProfileInput struct {
	FamilyName string
	GivenName  string
	FamilyKana string
	GivenKana  string
	Phone      string
	PostalCode string
	Prefecture string
	Address1   string
	Address2   string
	BirthDate  string
	Gender     string
}

// InputOf returns p as input, for a form that edits it.
func InputOf(p Profile) ProfileInput {
	in := ProfileInput{
		FamilyName: p.FamilyName, GivenName: p.GivenName, FamilyKana: p.FamilyKana, GivenKana: p.GivenKana,
		Phone: p.Phone, PostalCode: FormatPostalCode(p.PostalCode), Address1: p.Address1, Address2: p.Address2,
		BirthDate: p.BirthDate, Gender: string(p.Gender),
	}
	if p.Prefecture > 0 {
		in.Prefecture = strconv.Itoa(p.Prefecture)
	}
	return in
}

// NormalizeProfile checks and normalises in. Names and kana are required
// (a member is a person the tenant must be able to address); the rest is
// optional. Field errors name fields by their JSON names; the kana fields
// fail with the code "kana" (「全角カタカナで入力してください」).
func NormalizeProfile(in ProfileInput, now time.Time) (Profile, error) {
	var v apperr.Validator
	var p Profile
	p.FamilyName = text(&v, "family_name", in.FamilyName, maxNameChars, true)
	p.GivenName = text(&v, "given_name", in.GivenName, maxNameChars, true)
	p.FamilyKana = kanaField(&v, "family_kana", in.FamilyKana, true)
	p.GivenKana = kanaField(&v, "given_kana", in.GivenKana, true)
	if s := strings.TrimSpace(in.Phone); s != "" {
		ph, ok := NormalizePhone(s)
		v.Check(ok, "phone", "phone", nil)
		p.Phone = ph
	}
	if s := strings.TrimSpace(in.PostalCode); s != "" {
		pc, ok := NormalizePostalCode(s)
		v.Check(ok, "postal_code", "postal_code", nil)
		p.PostalCode = pc
	}
	if s := strings.TrimSpace(in.Prefecture); s != "" {
		code, ok := ParsePrefecture(s)
		v.Check(ok, "prefecture", "prefecture", nil)
		p.Prefecture = code
	}
	p.Address1 = text(&v, "address1", in.Address1, maxAddressChars, false)
	p.Address2 = text(&v, "address2", in.Address2, maxAddressChars, false)
	if s := strings.TrimSpace(in.BirthDate); s != "" {
		d, ok := parseDate(s)
		switch {
		case !ok:
			v.Add("birth_date", "member_date", nil)
		case d.Year() < 1900 || d.After(now):
			v.Add("birth_date", "member_birth_date_range", nil)
		default:
			p.BirthDate = d.Format(time.DateOnly)
		}
	}
	if g := strings.TrimSpace(in.Gender); g != "" {
		ok := false
		for _, x := range Genders() {
			ok = ok || string(x) == g
		}
		v.Check(ok, "gender", "oneof", map[string]any{"Param": "female male other no_answer"})
		if ok {
			p.Gender = Gender(g)
		}
	}
	return p, v.Err()
}

// text trims s, NFC-normalises it and checks its length and that it has
// no control characters.
func text(v *apperr.Validator, field, s string, maxChars int, required bool) string {
	s = norm.NFC.String(strings.TrimSpace(s))
	switch {
	case s == "" && required:
		v.Add(field, "required", nil)
	case utf8.RuneCountInString(s) > maxChars:
		v.Add(field, "max", map[string]any{"Param": strconv.Itoa(maxChars)})
	case strings.ContainsFunc(s, unicode.IsControl):
		v.Add(field, "nocontrol", nil)
	}
	return s
}

func kanaField(v *apperr.Validator, field, s string, required bool) string {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			v.Add(field, "required", nil)
		}
		return ""
	}
	k, ok := NormalizeKana(s)
	switch {
	case !ok:
		v.Add(field, "kana", nil)
	case utf8.RuneCountInString(k) > maxNameChars:
		v.Add(field, "max", map[string]any{"Param": strconv.Itoa(maxNameChars)})
	}
	return k
}

// NormalizeKana returns s in full-width katakana: half-width katakana is
// widened (ｶﾞ → ガ), hiragana turned into katakana (やまだ → ヤマダ), spaces
// of any width become one ideographic space. ok is false when anything
// else remains (kanji, Latin letters, digits).
func NormalizeKana(s string) (string, bool) {
	s = width.Widen.String(s)
	// Widen leaves half-width voiced marks as spacing marks (゛゜); as
	// combining marks NFC composes them with the kana before (カ゛ → ガ).
	s = strings.NewReplacer("\u309B", "\u3099", "\u309C", "\u309A").Replace(s)
	s = norm.NFC.String(s)
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == ' ' || r == '\u3000':
			space = true
			continue
		case r >= 'ぁ' && r <= 'ゖ':
			r += 'ァ' - 'ぁ'
		case r == 'ゝ' || r == 'ゞ':
			r += 'ヽ' - 'ゝ'
		case (r >= 'ァ' && r <= 'ヺ') || r == 'ー' || r == '・' || r == 'ヽ' || r == 'ヾ':
		default:
			return s, false
		}
		if space && b.Len() > 0 {
			b.WriteRune('\u3000')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String(), b.Len() > 0
}

var phoneRE = regexp.MustCompile(`^0[0-9-]+$`)

// NormalizePhone returns a Japanese phone number with full-width digits
// made ASCII and every kind of dash (ー－‐−) made "-"; ok says it is 0
// followed by 9 or 10 digits, with hyphens only between digits.
func NormalizePhone(s string) (string, bool) {
	s = norm.NFKC.String(strings.TrimSpace(s))
	s = strings.Map(func(r rune) rune {
		switch r {
		case 'ー', '‐', '−', '–', '—', '―', 'ｰ':
			return '-'
		case ' ', '(', ')':
			return -1
		}
		return r
	}, s)
	if !phoneRE.MatchString(s) || strings.Contains(s, "--") || strings.HasSuffix(s, "-") {
		return s, false
	}
	n := len(Digits(s))
	return s, n == 10 || n == 11
}

// Digits returns the ASCII digits of s (after NFKC), in order.
func Digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, norm.NFKC.String(s))
}

var postalRE = regexp.MustCompile(`^[0-9]{3}-?[0-9]{4}$`)

// NormalizePostalCode accepts 1234567 or 123-4567 (any width, any dash)
// and returns the 7 digits.
func NormalizePostalCode(s string) (string, bool) {
	s = norm.NFKC.String(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "〒")
	s = strings.Map(func(r rune) rune {
		switch r {
		case 'ー', '‐', '−', '–', '—', '―', 'ｰ':
			return '-'
		}
		return r
	}, strings.TrimSpace(s))
	if !postalRE.MatchString(s) {
		return s, false
	}
	return strings.ReplaceAll(s, "-", ""), true
}

// FormatPostalCode shows 7 digits as 123-4567 (anything else as it is).
func FormatPostalCode(s string) string {
	if len(s) != 7 {
		return s
	}
	return s[:3] + "-" + s[3:]
}

func parseDate(s string) (time.Time, bool) {
	s = norm.NFKC.String(s)
	s = strings.ReplaceAll(s, "/", "-")
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		// 2026-1-5: tolerate a missing leading zero.
		var y, m, dd int
		if _, err := fmt.Sscanf(s, "%d-%d-%d", &y, &m, &dd); err != nil {
			return time.Time{}, false
		}
		d = time.Date(y, time.Month(m), dd, 0, 0, 0, 0, time.UTC)
		if d.Month() != time.Month(m) || d.Day() != dd || fmt.Sprintf("%d-%d-%d", y, m, dd) != s {
			return time.Time{}, false
		}
	}
	return d, true
}

// prefectures are the 47 prefectures in JIS X 0401 order (code = index+1).
var prefectures = [47][2]string{
	{"北海道", "Hokkaido"}, {"青森県", "Aomori"}, {"岩手県", "Iwate"}, {"宮城県", "Miyagi"}, {"秋田県", "Akita"},
	{"山形県", "Yamagata"}, {"福島県", "Fukushima"}, {"茨城県", "Ibaraki"}, {"栃木県", "Tochigi"}, {"群馬県", "Gunma"},
	{"埼玉県", "Saitama"}, {"千葉県", "Chiba"}, {"東京都", "Tokyo"}, {"神奈川県", "Kanagawa"}, {"新潟県", "Niigata"},
	{"富山県", "Toyama"}, {"石川県", "Ishikawa"}, {"福井県", "Fukui"}, {"山梨県", "Yamanashi"}, {"長野県", "Nagano"},
	{"岐阜県", "Gifu"}, {"静岡県", "Shizuoka"}, {"愛知県", "Aichi"}, {"三重県", "Mie"}, {"滋賀県", "Shiga"},
	{"京都府", "Kyoto"}, {"大阪府", "Osaka"}, {"兵庫県", "Hyogo"}, {"奈良県", "Nara"}, {"和歌山県", "Wakayama"},
	{"鳥取県", "Tottori"}, {"島根県", "Shimane"}, {"岡山県", "Okayama"}, {"広島県", "Hiroshima"}, {"山口県", "Yamaguchi"},
	{"徳島県", "Tokushima"}, {"香川県", "Kagawa"}, {"愛媛県", "Ehime"}, {"高知県", "Kochi"}, {"福岡県", "Fukuoka"},
	{"佐賀県", "Saga"}, {"長崎県", "Nagasaki"}, {"熊本県", "Kumamoto"}, {"大分県", "Oita"}, {"宮崎県", "Miyazaki"},
	{"鹿児島県", "Kagoshima"}, {"沖縄県", "Okinawa"},
}

// Prefecture is one of the 47 prefectures.
type Prefecture struct {
	Code   int
	NameJA string
	NameEN string
}

// Prefectures lists the 47 prefectures in code order (a new slice each call).
func Prefectures() []Prefecture {
	out := make([]Prefecture, 0, len(prefectures))
	for i, p := range prefectures {
		out = append(out, Prefecture{Code: i + 1, NameJA: p[0], NameEN: p[1]})
	}
	return out
}

// PrefectureName is the name of code in lang ("" for 0 or an unknown code).
func PrefectureName(code int, lang string) string {
	if code < 1 || code > len(prefectures) {
		return ""
	}
	if lang == "en" {
		return prefectures[code-1][1]
	}
	return prefectures[code-1][0]
}

// ParsePrefecture reads a prefecture given by JIS code ("13", "1", "01") or
// by name, with or without 都/道/府/県 ("東京都", "東京", "Tokyo",
// "tokyo-to").
func ParsePrefecture(s string) (int, bool) {
	s = norm.NFKC.String(strings.TrimSpace(s))
	if n, err := strconv.Atoi(s); err == nil {
		return n, n >= 1 && n <= len(prefectures)
	}
	lower := strings.ToLower(s)
	for _, suffix := range []string{"-to", "-do", "-fu", "-ken", " prefecture"} {
		lower = strings.TrimSuffix(lower, suffix)
	}
	for i, p := range prefectures {
		short := strings.TrimRight(p[0], "都道府県")
		if p[0] == "北海道" {
			short = "北海道"
		}
		if s == p[0] || s == short || lower == strings.ToLower(p[1]) {
			return i + 1, true
		}
	}
	return 0, false
}

// searchText is what the staff search matches a member by: number,
// e-mail, name and kana (with and without the space), phone digits; all
// lower-cased and in the form queries are normalised to (searchKey).
func searchText(number, email string, p Profile) string {
	parts := []string{
		number, email,
		p.FamilyName + p.GivenName, p.GivenName + p.FamilyName,
		p.FamilyKana + p.GivenKana,
		Digits(p.Phone),
	}
	return searchKey(strings.Join(parts, "|"))
}

// searchKey normalises text for matching: NFKC (full-width Latin and
// digits, half-width kana), hiragana as katakana, lower case, no spaces.
func searchKey(s string) string {
	s = norm.NFKC.String(s)
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'ぁ' && r <= 'ゖ':
			return r + ('ァ' - 'ぁ')
		case unicode.IsSpace(r):
			return -1
		}
		return unicode.ToLower(r)
	}, s)
	return s
}

// queryTerms splits a search query into normalised terms; a term of digits
// and dashes (a phone number) is matched by its digits.
func queryTerms(q string) []string {
	var out []string
	for _, f := range strings.Fields(norm.NFKC.String(q)) {
		k := searchKey(f)
		if d := Digits(k); d != "" && strings.Trim(k, "0123456789-ー‐−") == "" {
			k = d
		}
		if k != "" {
			out = append(out, k)
		}
	}
	if len(out) > 5 {
		out = out[:5]
	}
	return out
}
