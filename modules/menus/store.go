package menus

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Rows of the catalog tables. They never leave this package: the
// converters below turn them into the domain types and back.

type categoryRow struct {
	bun.BaseModel `bun:"table:menu_categories"`

	ID        string    `bun:"id,pk"`
	NameJA    string    `bun:"name_ja"`
	NameEN    string    `bun:"name_en"`
	Position  int       `bun:"position"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
}

type menuRow struct {
	bun.BaseModel `bun:"table:menus"`

	ID               string     `bun:"id,pk"`
	CategoryID       string     `bun:"category_id,nullzero"`
	NameJA           string     `bun:"name_ja"`
	NameEN           string     `bun:"name_en"`
	DescriptionJA    string     `bun:"description_ja"`
	DescriptionEN    string     `bun:"description_en"`
	DurationMinutes  int        `bun:"duration_minutes"`
	Price            int64      `bun:"price"`
	Capacity         int        `bun:"capacity"`
	PartyMin         int        `bun:"party_min"`
	PartyMax         int        `bun:"party_max"`
	BookingMode      string     `bun:"booking_mode"`
	ApprovalRequired bool       `bun:"approval_required"`
	Visibility       string     `bun:"visibility"`
	Position         int        `bun:"position"`
	ArchivedAt       *time.Time `bun:"archived_at"`
	CreatedAt        time.Time  `bun:"created_at"`
	UpdatedAt        time.Time  `bun:"updated_at"`
}

type optionRow struct {
	bun.BaseModel `bun:"table:menu_options"`

	ID           string `bun:"id,pk"`
	MenuID       string `bun:"menu_id"`
	NameJA       string `bun:"name_ja"`
	NameEN       string `bun:"name_en"`
	Price        int64  `bun:"price"`
	ExtraMinutes int    `bun:"extra_minutes"`
	Position     int    `bun:"position"`
}

type questionRow struct {
	bun.BaseModel `bun:"table:menu_questions"`

	ID          string `bun:"id,pk"`
	MenuID      string `bun:"menu_id"`
	Kind        string `bun:"kind"`
	LabelJA     string `bun:"label_ja"`
	LabelEN     string `bun:"label_en"`
	Choices     string `bun:"choices"` // a JSON array of strings
	Requirement string `bun:"requirement"`
	Position    int    `bun:"position"`
}

type menuProviderRow struct {
	bun.BaseModel `bun:"table:menu_providers"`

	MenuID     string `bun:"menu_id,pk"`
	ProviderID string `bun:"provider_id,pk"`
	Position   int    `bun:"position"`
}

type menuResourceRow struct {
	bun.BaseModel `bun:"table:menu_resources"`

	MenuID     string `bun:"menu_id,pk"`
	ResourceID string `bun:"resource_id,pk"`
	Quantity   int    `bun:"quantity"`
	Position   int    `bun:"position"`
}

type rulesRow struct {
	bun.BaseModel `bun:"table:menu_rules"`

	MenuID                string    `bun:"menu_id,pk"`
	OpensDaysBefore       int       `bun:"opens_days_before"`
	ClosesMinutesBefore   int       `bun:"closes_minutes_before"`
	ClosesInBusinessDays  bool      `bun:"closes_in_business_days"`
	ClosesBusinessDays    int       `bun:"closes_business_days"`
	CancelDeadlineMinutes int       `bun:"cancel_deadline_minutes"`
	ChangeDeadlineMinutes int       `bun:"change_deadline_minutes"`
	MaxPerMember          int       `bun:"max_per_member"`
	MaxPerMemberPeriod    string    `bun:"max_per_member_period"`
	UpdatedAt             time.Time `bun:"updated_at"`
}

type providerRow struct {
	bun.BaseModel `bun:"table:providers"`

	ID        string    `bun:"id,pk"`
	Name      string    `bun:"name"`
	StaffID   string    `bun:"staff_id,nullzero"`
	Active    bool      `bun:"active"`
	Position  int       `bun:"position"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
}

type resourceRow struct {
	bun.BaseModel `bun:"table:resources"`

	ID        string    `bun:"id,pk"`
	Name      string    `bun:"name"`
	Quantity  int       `bun:"quantity"`
	Active    bool      `bun:"active"`
	Position  int       `bun:"position"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// Converters.

func categoryFromRow(r *categoryRow) Category {
	return Category{ID: r.ID, NameJA: r.NameJA, NameEN: r.NameEN, Position: r.Position,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func categoryToRow(c Category) *categoryRow {
	return &categoryRow{ID: c.ID, NameJA: c.NameJA, NameEN: c.NameEN, Position: c.Position,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func menuFromRow(r *menuRow) Menu {
	m := Menu{ID: r.ID, CategoryID: r.CategoryID, NameJA: r.NameJA, NameEN: r.NameEN,
		DescriptionJA: r.DescriptionJA, DescriptionEN: r.DescriptionEN, DurationMinutes: r.DurationMinutes,
		Price: r.Price, Capacity: r.Capacity, PartyMin: r.PartyMin, PartyMax: r.PartyMax,
		BookingMode: BookingMode(r.BookingMode), ApprovalRequired: r.ApprovalRequired,
		Visibility: Visibility(r.Visibility), Position: r.Position,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		Options: []Option{}, Questions: []Question{}, ProviderIDs: []string{}, Resources: []ResourceNeed{}}
	if r.ArchivedAt != nil {
		t := r.ArchivedAt.UTC()
		m.ArchivedAt = &t
	}
	return m
}

func menuToRow(m Menu) *menuRow {
	return &menuRow{ID: m.ID, CategoryID: m.CategoryID, NameJA: m.NameJA, NameEN: m.NameEN,
		DescriptionJA: m.DescriptionJA, DescriptionEN: m.DescriptionEN, DurationMinutes: m.DurationMinutes,
		Price: m.Price, Capacity: m.Capacity, PartyMin: m.PartyMin, PartyMax: m.PartyMax,
		BookingMode: string(m.BookingMode), ApprovalRequired: m.ApprovalRequired,
		Visibility: string(m.Visibility), Position: m.Position, ArchivedAt: m.ArchivedAt,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

func rulesFromRow(r *rulesRow) Rules {
	return Rules{OpensDaysBefore: r.OpensDaysBefore, ClosesMinutesBefore: r.ClosesMinutesBefore,
		ClosesInBusinessDays: r.ClosesInBusinessDays, ClosesBusinessDays: r.ClosesBusinessDays,
		CancelDeadlineMinutes: r.CancelDeadlineMinutes, ChangeDeadlineMinutes: r.ChangeDeadlineMinutes,
		MaxPerMember: r.MaxPerMember, MaxPerMemberPeriod: Period(r.MaxPerMemberPeriod)}
}

func rulesToRow(menuID string, r Rules, now time.Time) *rulesRow {
	return &rulesRow{MenuID: menuID, OpensDaysBefore: r.OpensDaysBefore, ClosesMinutesBefore: r.ClosesMinutesBefore,
		ClosesInBusinessDays: r.ClosesInBusinessDays, ClosesBusinessDays: r.ClosesBusinessDays,
		CancelDeadlineMinutes: r.CancelDeadlineMinutes, ChangeDeadlineMinutes: r.ChangeDeadlineMinutes,
		MaxPerMember: r.MaxPerMember, MaxPerMemberPeriod: string(r.MaxPerMemberPeriod), UpdatedAt: now}
}

func providerFromRow(r *providerRow) Provider {
	return Provider{ID: r.ID, Name: r.Name, StaffID: r.StaffID, Active: r.Active, Position: r.Position,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func providerToRow(p Provider) *providerRow {
	return &providerRow{ID: p.ID, Name: p.Name, StaffID: p.StaffID, Active: p.Active, Position: p.Position,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func resourceFromRow(r *resourceRow) Resource {
	return Resource{ID: r.ID, Name: r.Name, Quantity: r.Quantity, Active: r.Active, Position: r.Position,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func resourceToRow(r Resource) *resourceRow {
	return &resourceRow{ID: r.ID, Name: r.Name, Quantity: r.Quantity, Active: r.Active, Position: r.Position,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// Driver errors, translated here and nowhere else.

// isForeignKey reports whether err is a foreign-key violation on either
// engine: a parent still referenced (MySQL 1451) or a child naming a
// missing parent (1452); SQLite says so in its message.
func isForeignKey(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1451 || me.Number == 1452
	}
	return strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// dbErr wraps an unexpected database failure; apperr errors pass through.
func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return apperr.Wrap(apperr.KindInternal, "internal", fmt.Errorf("menus: %s: %w", what, err))
}

// Cursors: lists are ordered by (position, id); a cursor is the last
// item's "position.id".

func cursorOf(position int, id string) string { return fmt.Sprintf("%d.%s", position, id) }

var errCursor = apperr.Invalid(apperr.Field("cursor", "invalid", nil))

func parseCursor(s string) (int, string, error) {
	p, id, ok := strings.Cut(s, ".")
	if !ok || !validID(id) {
		return 0, "", errCursor
	}
	var n int
	if _, err := fmt.Sscanf(p, "%d", &n); err != nil || fmt.Sprint(n) != p {
		return 0, "", errCursor
	}
	return n, id, nil
}

// page applies ordering, a cursor and a limit (0: no limit) to q.
func page(q *bun.SelectQuery, after string, limit int) (*bun.SelectQuery, error) {
	if after != "" {
		pos, id, err := parseCursor(after)
		if err != nil {
			return nil, err
		}
		q = q.Where("(position > ? OR (position = ? AND id > ?))", pos, pos, id)
	}
	q = q.Order("position", "id")
	if limit > 0 {
		q = q.Limit(int64(limit))
	}
	return q, nil
}

// validID reports whether s looks like one of our ids (32 hex digits), so
// that a malformed id is a 404 without a query.
func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Menus.

func selectMenuRow(ctx context.Context, db bun.IDB, id string) (*menuRow, error) {
	if !validID(id) {
		return nil, ErrMenuNotFound
	}
	var row menuRow
	err := db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrMenuNotFound
	}
	if err != nil {
		return nil, dbErr("read menu", err)
	}
	return &row, nil
}

// loadDetails fills the options, questions, providers, resources and own
// rules of ms, a few queries for all of them together.
func loadDetails(ctx context.Context, db bun.IDB, ms []Menu) error {
	if len(ms) == 0 {
		return nil
	}
	ids := make([]string, len(ms))
	at := make(map[string]int, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
		at[m.ID] = i
	}
	var opts []optionRow
	if err := db.NewSelect().Model(&opts).Where("menu_id IN (?)", bun.In(ids)).Order("menu_id", "position").Scan(ctx); err != nil {
		return dbErr("read options", err)
	}
	for _, o := range opts {
		m := &ms[at[o.MenuID]]
		m.Options = append(m.Options, Option{ID: o.ID, NameJA: o.NameJA, NameEN: o.NameEN, Price: o.Price, ExtraMinutes: o.ExtraMinutes})
	}
	var qs []questionRow
	if err := db.NewSelect().Model(&qs).Where("menu_id IN (?)", bun.In(ids)).Order("menu_id", "position").Scan(ctx); err != nil {
		return dbErr("read questions", err)
	}
	for _, q := range qs {
		var choices []string
		if err := json.Unmarshal([]byte(q.Choices), &choices); err != nil {
			return dbErr("read question choices", err)
		}
		if choices == nil {
			choices = []string{}
		}
		m := &ms[at[q.MenuID]]
		m.Questions = append(m.Questions, Question{ID: q.ID, Kind: QuestionKind(q.Kind), LabelJA: q.LabelJA,
			LabelEN: q.LabelEN, Choices: choices, Requirement: Requirement(q.Requirement)})
	}
	var mps []menuProviderRow
	if err := db.NewSelect().Model(&mps).Where("menu_id IN (?)", bun.In(ids)).Order("menu_id", "position").Scan(ctx); err != nil {
		return dbErr("read menu providers", err)
	}
	for _, p := range mps {
		m := &ms[at[p.MenuID]]
		m.ProviderIDs = append(m.ProviderIDs, p.ProviderID)
	}
	var mrs []menuResourceRow
	if err := db.NewSelect().Model(&mrs).Where("menu_id IN (?)", bun.In(ids)).Order("menu_id", "position").Scan(ctx); err != nil {
		return dbErr("read menu resources", err)
	}
	for _, r := range mrs {
		m := &ms[at[r.MenuID]]
		m.Resources = append(m.Resources, ResourceNeed{ResourceID: r.ResourceID, Quantity: r.Quantity})
	}
	var rules []rulesRow
	if err := db.NewSelect().Model(&rules).Where("menu_id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return dbErr("read menu rules", err)
	}
	for i := range rules {
		r := rulesFromRow(&rules[i])
		ms[at[rules[i].MenuID]].Rules = &r
	}
	return nil
}

// writeDetails replaces the options, questions, providers, resources and
// rules of menu m with what m holds. Option and question ids are kept.
func writeDetails(ctx context.Context, tx bun.IDB, m Menu, now time.Time) error {
	for _, model := range []any{(*optionRow)(nil), (*questionRow)(nil), (*menuProviderRow)(nil), (*menuResourceRow)(nil), (*rulesRow)(nil)} {
		if _, err := tx.NewDelete().Model(model).Where("menu_id = ?", m.ID).Exec(ctx); err != nil {
			return dbErr("replace menu details", err)
		}
	}
	if len(m.Options) > 0 {
		rows := make([]optionRow, len(m.Options))
		for i, o := range m.Options {
			rows[i] = optionRow{ID: o.ID, MenuID: m.ID, NameJA: o.NameJA, NameEN: o.NameEN, Price: o.Price, ExtraMinutes: o.ExtraMinutes, Position: i}
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return dbErr("write options", err)
		}
	}
	if len(m.Questions) > 0 {
		rows := make([]questionRow, len(m.Questions))
		for i, q := range m.Questions {
			choices := q.Choices
			if choices == nil {
				choices = []string{}
			}
			b, err := json.Marshal(choices)
			if err != nil {
				return dbErr("write questions", err)
			}
			rows[i] = questionRow{ID: q.ID, MenuID: m.ID, Kind: string(q.Kind), LabelJA: q.LabelJA, LabelEN: q.LabelEN,
				Choices: string(b), Requirement: string(q.Requirement), Position: i}
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return dbErr("write questions", err)
		}
	}
	if len(m.ProviderIDs) > 0 {
		rows := make([]menuProviderRow, len(m.ProviderIDs))
		for i, id := range m.ProviderIDs {
			rows[i] = menuProviderRow{MenuID: m.ID, ProviderID: id, Position: i}
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			if isForeignKey(err) { // deleted meanwhile
				return ErrProviderNotFound.WithCause(err)
			}
			return dbErr("write menu providers", err)
		}
	}
	if len(m.Resources) > 0 {
		rows := make([]menuResourceRow, len(m.Resources))
		for i, r := range m.Resources {
			rows[i] = menuResourceRow{MenuID: m.ID, ResourceID: r.ResourceID, Quantity: r.Quantity, Position: i}
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			if isForeignKey(err) {
				return ErrResourceNotFound.WithCause(err)
			}
			return dbErr("write menu resources", err)
		}
	}
	if m.Rules != nil {
		if _, err := tx.NewInsert().Model(rulesToRow(m.ID, *m.Rules, now)).Exec(ctx); err != nil {
			return dbErr("write menu rules", err)
		}
	}
	return nil
}

// Providers and resources.

func selectProviderRows(ctx context.Context, db bun.IDB, ids []string) ([]providerRow, error) {
	var rows []providerRow
	if len(ids) == 0 {
		return rows, nil
	}
	if err := db.NewSelect().Model(&rows).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, dbErr("read providers", err)
	}
	return rows, nil
}

func selectResourceRows(ctx context.Context, db bun.IDB, ids []string) ([]resourceRow, error) {
	var rows []resourceRow
	if len(ids) == 0 {
		return rows, nil
	}
	if err := db.NewSelect().Model(&rows).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, dbErr("read resources", err)
	}
	return rows, nil
}

// activeMenusUsing counts the menus not archived that link to the parent
// row id through the link table (menu_providers or menu_resources).
func activeMenusUsing(ctx context.Context, db bun.IDB, link, column, id string) (int, error) {
	n, err := db.NewSelect().TableExpr("? AS l", bun.Ident(link)).
		Join("JOIN menus AS m ON m.id = l.menu_id").
		Where("? = ?", bun.Ident("l."+column), id).Where("m.archived_at IS NULL").Count(ctx)
	if err != nil {
		return 0, dbErr("count menus using "+column, err)
	}
	return int(n), nil
}

// maxNeedOf is the largest quantity of resource id an active menu needs.
func maxNeedOf(ctx context.Context, db bun.IDB, id string) (int, error) {
	var n sql.NullInt64
	err := db.NewSelect().TableExpr("menu_resources AS l").ColumnExpr("MAX(l.quantity)").
		Join("JOIN menus AS m ON m.id = l.menu_id").
		Where("l.resource_id = ?", id).Where("m.archived_at IS NULL").Scan(ctx, &n)
	if err != nil {
		return 0, dbErr("read resource needs", err)
	}
	return int(n.Int64), nil
}
