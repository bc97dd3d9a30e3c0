package members

// The members CSV export (GET /api/v1/exports/members.csv and the
// console's 「CSV 書き出し」) and the columns the import reads. Rows are
// read in pages of exportPage by member number and written at once, so
// the whole member list is never in memory. Values stay strings: a phone
// number or a postal code keeps its leading zero (郵便番号 is written as
// 012-3456, which no spreadsheet takes for a number). The operation log
// records each export with its filters, columns, row count, encoding and
// the characters Shift_JIS could not hold — no member's data.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/csvx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Operation-log actions of the CSV files.
const (
	AuditExport = "member.export"
	AuditImport = "member.import"
)

const exportPage = 500

// attrPrefix starts the column key of a tenant-defined attribute:
// "attributes.<id>", the same path the API's field errors use.
const attrPrefix = "attributes."

// profileKeys are the profile columns, in file order.
var profileKeys = []string{"family_name", "given_name", "family_kana", "given_kana", "phone", "postal_code",
	"prefecture", "address1", "address2", "birth_date", "gender"}

// ExportColumns lists the columns of a members file: number, status,
// e-mail, the profile, the registration time, then one column per
// attribute of defs (labelled with the attribute's own label).
func ExportColumns(defs []Attribute) csvx.Columns {
	keys := append(append([]string{"member_number", "status", "email"}, profileKeys...), "created_at")
	out := make(csvx.Columns, 0, len(keys)+len(defs))
	for _, k := range keys {
		out = append(out, csvx.Column{Key: k, Label: "exports.members." + k})
	}
	for _, d := range defs {
		out = append(out, csvx.Column{Key: attrPrefix + d.ID, Label: attrPrefix + d.ID})
	}
	return out
}

// header is the file's first row in lang: the catalog's labels, and the
// attributes' own labels.
func header(cols csvx.Columns, defs []Attribute, cat *i18n.Catalog, lang string) []string {
	byID := make(map[string]Attribute, len(defs))
	for _, d := range defs {
		byID[d.ID] = d
	}
	out := make([]string, len(cols))
	for i, c := range cols {
		if id, ok := strings.CutPrefix(c.Key, attrPrefix); ok {
			out[i] = byID[id].Label(lang)
			continue
		}
		out[i] = cat.T(lang, c.Label, nil)
	}
	return out
}

// ExportParams choose what a members export writes: the list's filters
// (Q, Statuses), the columns (keys of ExportColumns, each entry may be
// comma-separated; none: all) and the encoding.
type ExportParams struct {
	Q        string
	Statuses []Status
	Columns  []string
	Encoding csvx.Encoding
	Lang     string
}

// ExportResult is what an export wrote.
type ExportResult struct {
	Rows     int
	Replaced int
}

// Export is a checked members export, ready to write.
type Export struct {
	s    *Service
	db   bun.IDB
	zone *time.Location
	cat  *i18n.Catalog
	p    ExportParams
	defs []Attribute
	cols csvx.Columns
}

// NewExport checks p; a validation error comes before anything is written.
func (s *Service) NewExport(ctx context.Context, db bun.IDB, t tenants.Tenant, cat *i18n.Catalog, p ExportParams) (*Export, error) {
	lp := ListParams{Q: p.Q, Statuses: p.Statuses, Limit: exportPage}
	var fields []apperr.FieldError
	if len(p.Q) > 200 {
		fields = append(fields, apperr.FieldError{Field: "q", Code: "max", Args: map[string]any{"Param": "200"}})
	}
	for _, st := range lp.Statuses {
		ok := false
		for _, x := range Statuses() {
			ok = ok || x == st
		}
		if !ok {
			fields = append(fields, apperr.FieldError{Field: "status", Code: "oneof", Args: map[string]any{"Param": "pending active withdrawn disabled"}})
		}
	}
	defs, err := s.store.attributes(ctx, db)
	if err != nil {
		return nil, err
	}
	cols, err := ExportColumns(defs).Select("columns", p.Columns)
	if err != nil {
		ae, ok := err.(*apperr.Error)
		if !ok {
			return nil, err
		}
		fields = append(fields, ae.Fields...)
	}
	if len(fields) > 0 {
		return nil, apperr.Invalid(fields...)
	}
	if p.Encoding == "" {
		p.Encoding = csvx.UTF8BOM
	}
	if p.Lang == "" {
		p.Lang = i18n.Japanese
	}
	return &Export{s: s, db: db, zone: zoneOf(t), cat: cat, p: p, defs: defs, cols: cols}, nil
}

// zoneOf is the tenant's time zone (Asia/Tokyo when unset or unknown).
func zoneOf(t tenants.Tenant) *time.Location {
	for _, name := range []string{t.TimeZone, tenants.DefaultTimeZone} {
		if loc, err := time.LoadLocation(name); name != "" && err == nil {
			return loc
		}
	}
	return time.FixedZone("JST", 9*3600)
}

// Filename is the download's name: members_<date>.csv.
func (e *Export) Filename() string {
	return fmt.Sprintf("members_%s.csv", e.s.clock().In(e.zone).Format("20060102"))
}

// Encoding is the file's encoding.
func (e *Export) Encoding() csvx.Encoding { return e.p.Encoding }

// Write writes the file to w and records the export in the operation log
// (also when writing failed part-way).
func (e *Export) Write(ctx context.Context, w io.Writer) (ExportResult, error) {
	res, werr := e.write(ctx, w)
	entry := auditlog.Entry{Action: AuditExport, ObjectType: "member"}
	if werr != nil {
		entry.Result = auditlog.ResultFailed
	}
	var ch auditlog.Changes
	if e.p.Q != "" {
		// The search words may be a name: only that there was a search.
		ch.Add("q", nil, "(withheld)")
	}
	if len(e.p.Statuses) > 0 {
		ch.Add("statuses", nil, e.p.Statuses)
	}
	ch.Add("columns", nil, e.cols.Keys())
	ch.Add("rows", nil, res.Rows)
	ch.Add("encoding", nil, string(e.p.Encoding))
	ch.Add("replaced", nil, res.Replaced)
	entry.Changes = ch
	if _, err := auditlog.Record(context.WithoutCancel(ctx), e.db, entry); err != nil && werr == nil {
		return res, apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	return res, werr
}

func (e *Export) write(ctx context.Context, w io.Writer) (ExportResult, error) {
	cw, err := csvx.NewWriter(w, e.p.Encoding)
	if err != nil {
		return ExportResult{}, err
	}
	result := func() ExportResult { return ExportResult{Rows: cw.Rows() - 1, Replaced: cw.Replaced()} }
	if err := cw.Write(header(e.cols, e.defs, e.cat, e.p.Lang)); err != nil {
		return ExportResult{}, err
	}
	lp := ListParams{Q: e.p.Q, Statuses: e.p.Statuses, Limit: exportPage}
	cells := make([]string, len(e.cols))
	for {
		if err := ctx.Err(); err != nil {
			return result(), err
		}
		rows, err := e.s.store.list(ctx, e.db, lp)
		if err != nil {
			return result(), err
		}
		more := len(rows) > exportPage
		if more {
			rows = rows[:exportPage]
		}
		ids := make([]string, len(rows))
		for i := range rows {
			ids[i] = rows[i].ID
		}
		vals, err := e.s.store.values(ctx, e.db, ids)
		if err != nil {
			return result(), err
		}
		for i := range rows {
			m := fromMemberRow(&rows[i])
			for j, c := range e.cols {
				cells[j] = e.cell(c.Key, m, vals[m.ID])
			}
			if err := cw.Write(cells); err != nil {
				return result(), err
			}
		}
		if !more {
			break
		}
		lp.After = rows[len(rows)-1].Number
	}
	if err := cw.Flush(); err != nil {
		return result(), err
	}
	return result(), nil
}

// cell is column key of m as the file shows it.
func (e *Export) cell(key string, m Member, vals map[string]string) string {
	if id, ok := strings.CutPrefix(key, attrPrefix); ok {
		return vals[id]
	}
	p := m.Profile
	switch key {
	case "member_number":
		return m.Number
	case "status":
		return e.cat.T(e.p.Lang, "exports.member_status."+string(m.Status), nil)
	case "email":
		return m.Email
	case "family_name":
		return p.FamilyName
	case "given_name":
		return p.GivenName
	case "family_kana":
		return p.FamilyKana
	case "given_kana":
		return p.GivenKana
	case "phone":
		return p.Phone
	case "postal_code":
		return FormatPostalCode(p.PostalCode)
	case "prefecture":
		return PrefectureName(p.Prefecture, e.p.Lang)
	case "address1":
		return p.Address1
	case "address2":
		return p.Address2
	case "birth_date":
		return p.BirthDate
	case "gender":
		if p.Gender == "" {
			return ""
		}
		return e.cat.T(e.p.Lang, "members.gender."+string(p.Gender), nil)
	case "created_at":
		return m.CreatedAt.In(e.zone).Format("2006-01-02 15:04")
	}
	return ""
}
