package reservations

// The reservations CSV export (GET /api/v1/exports/reservations.csv and the
// console's 「CSV 書き出し」). The file is written while the rows are read:
// reservations come in pages of exportPage on the (starts_at, id) cursor,
// each row goes to the csvx.Writer at once, and the writer flushes the
// response every few hundred rows, so 100,000 reservations cost a page of
// rows in memory, not the whole period. Every export is recorded in the
// operation log with its filters, columns, row count, encoding and the
// number of characters Shift_JIS could not hold — never a customer's data.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/csvx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// AuditExport is the operation-log action of a reservations export.
const AuditExport = "reservation.export"

// MaxExportPeriod is the longest period one export may cover: a year (and
// a leap day), enough for an annual report, short enough that nobody
// downloads a decade by accident.
const MaxExportPeriod = 366 * 24 * time.Hour

// exportPage is how many reservations one read of an export takes.
const exportPage = 500

// exportTime is how the file writes an instant: the tenant's wall clock,
// in a form every spreadsheet reads as a date and time.
const exportTime = "2006-01-02 15:04"

// ExportColumns lists every column a reservations export may have (the
// ones written when none are chosen are DefaultExportColumns).
func ExportColumns() csvx.Columns {
	keys := []string{"number", "status", "menu", "starts_at", "ends_at", "party_size", "provider", "price",
		"customer_name", "customer_kana", "customer_email", "customer_phone", "member_id", "source",
		"source_ip", "user_agent", "created_at", "cancelled_at", "cancel_reason"}
	out := make(csvx.Columns, len(keys))
	for i, k := range keys {
		out[i] = csvx.Column{Key: k, Label: "exports.reservations." + k}
	}
	return out
}

// DefaultExportColumns are the columns of an export that chooses none: what
// a front desk reads. Member ids, the booker's address and device and the
// cancellation fields are there for whoever asks for them.
func DefaultExportColumns() []string {
	return []string{"number", "status", "menu", "starts_at", "ends_at", "party_size", "provider", "price",
		"customer_name", "customer_kana", "customer_email", "customer_phone", "created_at"}
}

// ExportParams choose what an export writes. From and To are required
// (To after From, at most MaxExportPeriod apart); Columns are keys of
// ExportColumns (each entry may be comma-separated; none: the defaults).
type ExportParams struct {
	From, To time.Time
	MenuID   string
	Status   Status
	Columns  []string
	Encoding csvx.Encoding
	Lang     string // the header's language (ja when empty)
}

// ExportResult is what an export wrote.
type ExportResult struct {
	Rows     int // data rows, without the header
	Replaced int // characters Shift_JIS could not hold (written as 〓)
}

// Export is a checked export, ready to write.
type Export struct {
	s         *Service
	db        bun.IDB
	zone      *time.Location
	cat       *i18n.Catalog
	p         ExportParams
	cols      csvx.Columns
	menus     map[string]string
	providers map[string]string
}

// NewExport checks p and returns the export, or a validation error before
// anything is written (so the HTTP edge can still answer 400).
func (s *Service) NewExport(ctx context.Context, db bun.IDB, t tenants.Tenant, cat *i18n.Catalog, p ExportParams) (*Export, error) {
	var v apperr.Validator
	switch {
	case p.From.IsZero():
		v.Add("from", "required", nil)
	case p.To.IsZero():
		v.Add("to", "required", nil)
	case !p.To.After(p.From):
		v.Add("to", "availability_to_before_from", map[string]any{"From": p.From.In(ZoneOf(t)).Format(time.DateOnly)})
	case p.To.Sub(p.From) > MaxExportPeriod:
		v.Add("to", "export_period_too_long", map[string]any{"Days": int(MaxExportPeriod / (24 * time.Hour))})
	}
	if p.Status != "" && !slices.Contains(Statuses(), p.Status) {
		v.Add("status", "oneof", map[string]any{"Param": Statuses()})
	}
	if p.MenuID != "" && !validID(p.MenuID) {
		v.Add("menu_id", "catalog_unknown_reference", nil)
	}
	if p.Encoding == "" {
		p.Encoding = csvx.UTF8BOM
	}
	keys := p.Columns
	if len(keys) == 0 {
		keys = DefaultExportColumns()
	}
	cols, err := ExportColumns().Select("columns", keys)
	if err != nil {
		if ae, ok := err.(*apperr.Error); ok {
			for _, f := range ae.Fields {
				v.Add(f.Field, f.Code, f.Args)
			}
		} else {
			return nil, err
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if p.Lang == "" {
		p.Lang = i18n.Japanese
	}
	e := &Export{s: s, db: db, zone: ZoneOf(t), cat: cat, p: p, cols: cols, menus: map[string]string{}, providers: map[string]string{}}
	if s.menus != nil {
		ms, _, err := s.menus.List(ctx, db, menus.ListParams{})
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			e.menus[m.ID] = m.NameJA
			if p.Lang == i18n.English && m.NameEN != "" {
				e.menus[m.ID] = m.NameEN
			}
		}
		ps, _, err := s.menus.ListProviders(ctx, db, menus.PageParams{})
		if err != nil {
			return nil, err
		}
		for _, pr := range ps {
			e.providers[pr.ID] = pr.Name
		}
	}
	return e, nil
}

// Filename is the download's name: reservations_<from>_<to>.csv (the
// period's days in the tenant's zone, to inclusive).
func (e *Export) Filename() string {
	return fmt.Sprintf("reservations_%s_%s.csv", e.p.From.In(e.zone).Format("20060102"),
		e.p.To.Add(-time.Nanosecond).In(e.zone).Format("20060102"))
}

// Encoding is the file's encoding.
func (e *Export) Encoding() csvx.Encoding { return e.p.Encoding }

// Write writes the file to w, page by page, and records the export in the
// operation log (also when writing failed part-way, with the rows sent).
func (e *Export) Write(ctx context.Context, w io.Writer) (ExportResult, error) {
	res, werr := e.write(ctx, w)
	entry := auditlog.Entry{Action: AuditExport, ObjectType: "reservation"}
	if werr != nil {
		entry.Result = auditlog.ResultFailed
	}
	var ch auditlog.Changes
	ch.Add("from", nil, e.p.From.In(e.zone).Format(time.RFC3339))
	ch.Add("to", nil, e.p.To.In(e.zone).Format(time.RFC3339))
	if e.p.MenuID != "" {
		ch.Add("menu_id", nil, e.p.MenuID)
	}
	if e.p.Status != "" {
		ch.Add("status", nil, string(e.p.Status))
	}
	ch.Add("columns", nil, e.cols.Keys())
	ch.Add("rows", nil, res.Rows)
	ch.Add("encoding", nil, string(e.p.Encoding))
	ch.Add("replaced", nil, res.Replaced)
	entry.Changes = ch
	// The client may have gone: the record is written all the same.
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
	if err := cw.Write(e.cols.Header(e.cat, e.p.Lang)); err != nil {
		return ExportResult{}, err
	}
	f := Filter{From: e.p.From, To: e.p.To, MenuID: e.p.MenuID, Status: e.p.Status, Limit: exportPage}
	cells := make([]string, len(e.cols))
	rows := 0
	for {
		if err := ctx.Err(); err != nil {
			return ExportResult{Rows: rows, Replaced: cw.Replaced()}, err
		}
		page, err := selectRows(ctx, e.db, f)
		if err != nil {
			return ExportResult{Rows: rows, Replaced: cw.Replaced()}, err
		}
		for i := range page {
			r := fromRow(&page[i])
			for j, c := range e.cols {
				cells[j] = e.cell(c.Key, r)
			}
			if err := cw.Write(cells); err != nil {
				return ExportResult{Rows: rows, Replaced: cw.Replaced()}, err
			}
			rows++
		}
		if len(page) < exportPage {
			break
		}
		f.After = cursorOf(fromRow(&page[len(page)-1]))
	}
	if err := cw.Flush(); err != nil {
		return ExportResult{Rows: rows, Replaced: cw.Replaced()}, err
	}
	return ExportResult{Rows: rows, Replaced: cw.Replaced()}, nil
}

// cell is column key of r as the file shows it. Values stay strings, so a
// phone number keeps its leading zero.
func (e *Export) cell(key string, r Reservation) string {
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(e.zone).Format(exportTime)
	}
	switch key {
	case "number":
		return r.Number
	case "status":
		return e.cat.T(e.p.Lang, "exports.status."+string(r.Status), nil)
	case "menu":
		if n, ok := e.menus[r.MenuID]; ok {
			return n
		}
		return r.MenuID
	case "starts_at":
		return at(r.StartsAt)
	case "ends_at":
		return at(r.EndsAt)
	case "party_size":
		return strconv.Itoa(r.PartySize)
	case "provider":
		if r.ProviderID == "" {
			return ""
		}
		if n, ok := e.providers[r.ProviderID]; ok {
			return n
		}
		return r.ProviderID
	case "price":
		return strconv.FormatInt(r.Price, 10)
	case "customer_name":
		return r.Customer.Name
	case "customer_kana":
		return r.Customer.Kana
	case "customer_email":
		return r.Customer.Email
	case "customer_phone":
		return r.Customer.Phone
	case "member_id":
		return r.MemberID
	case "source":
		return string(r.Source)
	case "source_ip":
		return r.SourceIP
	case "user_agent":
		return r.UserAgent
	case "created_at":
		return at(r.CreatedAt)
	case "cancelled_at":
		if r.CancelledAt == nil {
			return ""
		}
		return at(*r.CancelledAt)
	case "cancel_reason":
		return r.CancelReason
	}
	return ""
}
