package reservations

import (
	"strings"
	"unicode"

	"github.com/uptrace/bun"
	"golang.org/x/text/width"
)

// Search limits (Filter.Query, Filter.Offset).
const (
	MaxQuery  = 100
	MaxOffset = 100_000
)

// escapeLike escapes LIKE's wildcards with '!' (ESCAPE '!').
func escapeLike(s string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(s)
}

// katakana turns hiragana into katakana: staff type セイ/メイ either way.
func katakana(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'ぁ' && r <= 'ゖ' {
			return r + ('ァ' - 'ぁ')
		}
		return r
	}, s)
}

// whereQuery narrows q to reservations whose number starts with query or
// whose customer's name, kana, e-mail or phone contains it. The query is
// folded first (full-width ASCII to half-width, half-width kana to
// full-width), as the booking forms store them; phone numbers compare
// without hyphens.
func whereQuery(q *bun.SelectQuery, query string) *bun.SelectQuery {
	s := strings.TrimSpace(width.Fold.String(query))
	if s == "" {
		return q
	}
	like := "%" + escapeLike(s) + "%"
	kana := "%" + escapeLike(katakana(s)) + "%"
	number := escapeLike(strings.ToUpper(s)) + "%"
	digits := strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.Where("number LIKE ? ESCAPE '!'", number).
			WhereOr("customer_name LIKE ? ESCAPE '!'", like).
			WhereOr("customer_kana LIKE ? ESCAPE '!'", kana).
			WhereOr("customer_email LIKE ? ESCAPE '!'", like)
		if len(digits) >= 3 {
			q = q.WhereOr("REPLACE(customer_phone, '-', '') LIKE ?", "%"+digits+"%")
		}
		return q
	})
}
