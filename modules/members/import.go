package members

// The member import (POST /api/v1/imports/members and the console's
// upload form). All or nothing: every row is read and checked first — the
// Japanese profile rules, the e-mail address, the attributes, which member
// the row means — and every bad row is reported with its line and field
// (line[12].phone). Only a file without a single problem is written, in
// one transaction, with one operation-log entry that counts what was
// created and updated (no member's data).
//
// A row means an existing member by its member number (which must exist)
// or else by its e-mail address; a row with neither an existing number nor
// an existing address creates a member (active, without a password: the
// member sets one through "forgot password"; no mail is sent). For an
// existing member only the columns the file has are changed; an empty
// cell empties that field. The status and created_at columns of an export
// are accepted and ignored, so an exported file can be edited and sent
// back as it is.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing/fstest"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/csvx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
)

// Import limits.
const (
	MaxImportRows  = 10000
	MaxImportBytes = 10 << 20
)

// ImportParams say how to read an import file.
type ImportParams struct {
	Encoding csvx.Encoding // "" detects UTF-8 or Shift_JIS
	// Catalog, when set, lets the header name columns by their Japanese or
	// English labels (as an export writes them), attributes by their labels.
	Catalog *i18n.Catalog
}

// ImportResult counts what an import did.
type ImportResult struct {
	Rows      int `json:"rows"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// importRow is one checked row: the member as it will be and, for an
// update, as it is.
type importRow struct {
	cur  *Member // nil: create
	next Member
}

// Import reads r, checks every row and, when all are good, writes them in
// one transaction. Bad rows come back as csvx.Errors (use Problem() for
// the HTTP answer), nothing written.
func (s *Service) Import(ctx context.Context, db bun.IDB, r io.Reader, p ImportParams) (ImportResult, error) {
	defs, err := s.store.attributes(ctx, db)
	if err != nil {
		return ImportResult{}, err
	}
	cols := ExportColumns(defs)
	cat, err := importCatalog(p.Catalog, defs)
	if err != nil {
		return ImportResult{}, err
	}
	x, err := csvx.NewReader(r, csvx.ReaderConfig{Encoding: p.Encoding, Columns: cols, Catalog: cat, MaxRows: MaxImportRows})
	if err != nil {
		return ImportResult{}, err
	}
	if !slicesHas(x.Keys(), "member_number") && !slicesHas(x.Keys(), "email") {
		return ImportResult{}, csvx.Errors{{Line: 1, Column: "email", Code: "csv_column_missing"}}
	}
	now := s.clock()
	byEmail := map[string]int{} // address → line, within the file
	byID := map[string]int{}    // member id → line
	rows, err := csvx.ReadAll(x, func(row csvx.Row) (importRow, []csvx.RowError) {
		var errs []csvx.RowError
		bad := func(col, code string, args map[string]any) {
			errs = append(errs, csvx.RowError{Line: row.Line, Column: col, Code: code, Args: args})
		}
		var out importRow
		number := strings.TrimSpace(row.Get("member_number"))
		email := normalizeEmail(row.Get("email"))
		if number != "" {
			r, err := s.store.rowByNumber(ctx, db, number)
			switch {
			case errors.Is(err, ErrNotFound):
				bad("member_number", "member_import_unknown_number", nil)
				return out, errs
			case err != nil:
				bad("member_number", "invalid", nil)
				return out, errs
			}
			m := fromMemberRow(r)
			out.cur = &m
		} else if email != "" {
			r, err := s.store.rowByEmail(ctx, db, email)
			if err == nil {
				m := fromMemberRow(r)
				out.cur = &m
			} else if !errors.Is(err, ErrNotFound) {
				bad("email", "invalid", nil)
				return out, errs
			}
		}
		in := ProfileInput{}
		vals := map[string]string{}
		if out.cur != nil {
			if out.cur.Status == StatusWithdrawn {
				bad("member_number", "member_import_withdrawn", nil)
				return out, errs
			}
			cur, err := s.withValues(ctx, db, *out.cur)
			if err != nil {
				bad("", "invalid", nil)
				return out, errs
			}
			out.cur = &cur
			out.next = cur
			in = InputOf(cur.Profile)
			for k, v := range cur.Attributes {
				vals[k] = v
			}
			if line, ok := byID[cur.ID]; ok {
				bad("member_number", "member_import_twice", map[string]any{"Other": line})
			}
			byID[cur.ID] = row.Line
		}
		// The address as it will be.
		next := out.next.Email
		if row.Has("email") && (email != "" || out.cur == nil) {
			next = email
		}
		var v apperr.Validator
		checkEmail(&v, "email", next)
		for _, fe := range fieldErrors(v.Err()) {
			bad(fe.Field, fe.Code, fe.Args)
		}
		if next != "" {
			if line, ok := byEmail[next]; ok {
				bad("email", "member_import_twice", map[string]any{"Other": line})
			}
			byEmail[next] = row.Line
			if out.cur != nil && next != out.cur.Email {
				if other, err := s.store.rowByEmail(ctx, db, next); err == nil && other.ID != out.cur.ID {
					bad("email", "member_import_email_taken", nil)
				}
			}
		}
		out.next.Email = next
		set := map[string]*string{"family_name": &in.FamilyName, "given_name": &in.GivenName, "family_kana": &in.FamilyKana,
			"given_kana": &in.GivenKana, "phone": &in.Phone, "postal_code": &in.PostalCode, "prefecture": &in.Prefecture,
			"address1": &in.Address1, "address2": &in.Address2, "birth_date": &in.BirthDate, "gender": &in.Gender}
		for _, k := range profileKeys {
			if row.Has(k) {
				*set[k] = row.Get(k)
			}
		}
		in.Gender = genderKey(p.Catalog, in.Gender)
		prof, perr := NormalizeProfile(in, now)
		for _, fe := range fieldErrors(perr) {
			bad(fe.Field, fe.Code, fe.Args)
		}
		for _, d := range defs {
			if row.Has(attrPrefix + d.ID) {
				vals[d.ID] = row.Get(attrPrefix + d.ID)
			}
		}
		checked, aerr := checkValues(defs, vals, true, false)
		for _, fe := range fieldErrors(aerr) {
			bad(fe.Field, fe.Code, fe.Args)
		}
		out.next.Profile = prof
		out.next.Attributes = checked
		return out, errs
	})
	if err != nil {
		return ImportResult{}, err
	}
	res := ImportResult{Rows: len(rows)}
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		for _, r := range rows {
			if r.cur == nil {
				if _, err := s.insert(ctx, tx, r.next.Email, "", StatusActive, r.next.Profile, r.next.Attributes, now); err != nil {
					return err
				}
				res.Created++
				continue
			}
			changed := r.next.Email != r.cur.Email || r.next.Profile != r.cur.Profile
			for _, d := range defs {
				if r.cur.Attributes[d.ID] != r.next.Attributes[d.ID] {
					changed = true
					if err := s.store.setValue(ctx, tx, r.cur.ID, d.ID, r.next.Attributes[d.ID]); err != nil {
						return err
					}
				}
			}
			if !changed {
				res.Unchanged++
				continue
			}
			r.next.UpdatedAt = now
			if err := s.store.updateMember(ctx, tx, toMemberRow(r.next)); err != nil {
				return err
			}
			res.Updated++
		}
		var ch auditlog.Changes
		ch.Add("rows", nil, res.Rows)
		ch.Add("created", nil, res.Created)
		ch.Add("updated", nil, res.Updated)
		ch.Add("unchanged", nil, res.Unchanged)
		ch.Add("encoding", nil, string(x.Encoding()))
		ch.Add("columns", nil, x.Keys())
		return audit(ctx, tx, auditlog.Entry{At: now, Action: AuditImport, Changes: ch})
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

func slicesHas(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// fieldErrors are the field errors of a validation error (nil for nil).
func fieldErrors(err error) []apperr.FieldError {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Fields
	}
	if err != nil {
		return []apperr.FieldError{{Code: "invalid"}}
	}
	return nil
}

// genderKey accepts a gender as its key or its Japanese or English label
// (as an export writes it).
func genderKey(cat *i18n.Catalog, s string) string {
	s = strings.TrimSpace(s)
	if cat == nil || s == "" {
		return s
	}
	for _, g := range Genders() {
		for _, lang := range []string{i18n.Japanese, i18n.English} {
			if strings.EqualFold(cat.T(lang, "members.gender."+string(g), nil), s) {
				return string(g)
			}
		}
	}
	return s
}

// importCatalog is the header vocabulary of an import: the columns' labels
// from cat in both languages, and the tenant's attribute labels, so that a
// file exported in Japanese or English reads back. The csvx reader matches
// labels through a catalog; attribute labels live in the database, not in
// web/i18n, hence a small catalog of this tenant's own.
func importCatalog(cat *i18n.Catalog, defs []Attribute) (*i18n.Catalog, error) {
	if cat == nil {
		return nil, nil
	}
	fs := fstest.MapFS{}
	for _, lang := range []string{i18n.Japanese, i18n.English} {
		m := map[string]string{}
		for _, c := range ExportColumns(nil) {
			m[c.Label] = cat.T(lang, c.Label, nil)
		}
		for _, d := range defs {
			m[attrPrefix+d.ID] = d.Label(lang)
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		fs["i18n/"+lang+"/import.json"] = &fstest.MapFile{Data: b}
	}
	return i18n.Load(fs, "i18n")
}
