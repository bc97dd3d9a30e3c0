package csvx

import (
	"strconv"
	"strings"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
)

// Column is one column an export may write or an import may read: a stable
// key (the API's name, e.g. "member_number") and the message id of its
// header label in the catalogs (e.g. "members.csv.member_number").
type Column struct {
	Key   string
	Label string
}

// Columns is the set of columns of one kind of file, in their default
// order.
type Columns []Column

// Keys lists the columns' keys.
func (cs Columns) Keys() []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Key
	}
	return out
}

// Select returns the columns chosen by keys, in the order given; each entry
// of keys may itself be a comma-separated list (?columns=a,b&columns=c).
// No keys: every column. An unknown key is a field error at field[i]
// (csv_column_unknown, with the allowed keys), a key given twice a
// duplicate.
func (cs Columns) Select(field string, keys []string) (Columns, error) {
	var want []string
	for _, k := range keys {
		for _, p := range strings.Split(k, ",") {
			if p = strings.TrimSpace(p); p != "" {
				want = append(want, p)
			}
		}
	}
	if len(want) == 0 {
		return cs, nil
	}
	byKey := make(map[string]Column, len(cs))
	for _, c := range cs {
		byKey[c.Key] = c
	}
	var v apperr.Validator
	seen := map[string]bool{}
	out := make(Columns, 0, len(want))
	for i, k := range want {
		at := field + "[" + strconv.Itoa(i) + "]"
		c, ok := byKey[k]
		switch {
		case !ok:
			v.Add(at, "csv_column_unknown", map[string]any{"Header": k, "Allowed": strings.Join(cs.Keys(), ", ")})
		case seen[k]:
			v.Add(at, "duplicate", nil)
		default:
			seen[k] = true
			out = append(out, c)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Header returns the columns' labels in lang from cat.
func (cs Columns) Header(cat *i18n.Catalog, lang string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = cat.T(lang, c.Label, nil)
	}
	return out
}

// names maps what a header cell may say to the column key: the key, and
// with a catalog the Japanese and English labels. Keys and English labels
// match in any case.
func (cs Columns) names(cat *i18n.Catalog) map[string]string {
	m := make(map[string]string, 3*len(cs))
	for _, c := range cs {
		m[c.Key] = c.Key
		m[strings.ToLower(c.Key)] = c.Key
		if cat == nil {
			continue
		}
		for _, lang := range []string{i18n.Japanese, i18n.English} {
			if l := cat.T(lang, c.Label, nil); l != c.Label {
				m[l] = c.Key
				m[strings.ToLower(l)] = c.Key
			}
		}
	}
	return m
}
