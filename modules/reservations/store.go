package reservations

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

type row struct {
	bun.BaseModel `bun:"table:reservations"`

	ID              string     `bun:"id,pk"`
	Number          string     `bun:"number"`
	MenuID          string     `bun:"menu_id"`
	Mode            string     `bun:"mode"`
	SlotID          string     `bun:"slot_id,nullzero"`
	StartsAt        time.Time  `bun:"starts_at"`
	EndsAt          time.Time  `bun:"ends_at"`
	PartySize       int        `bun:"party_size"`
	ProviderID      string     `bun:"provider_id,nullzero"`
	Resources       string     `bun:"resources"`
	OptionIDs       string     `bun:"option_ids"`
	Answers         string     `bun:"answers"`
	Price           int64      `bun:"price"`
	Status          string     `bun:"status"`
	HoldsCapacity   bool       `bun:"holds_capacity"`
	Overbooked      bool       `bun:"overbooked"`
	CustomerName    string     `bun:"customer_name"`
	CustomerKana    string     `bun:"customer_kana"`
	CustomerEmail   string     `bun:"customer_email"`
	CustomerPhone   string     `bun:"customer_phone"`
	MemberID        string     `bun:"member_id,nullzero"`
	Lang            string     `bun:"lang"`
	Source          string     `bun:"source"`
	SourceIP        string     `bun:"source_ip"`
	UserAgent       string     `bun:"user_agent"`
	CreatedBy       string     `bun:"created_by"`
	RequestKey      string     `bun:"request_key,nullzero"`
	CancelTokenHash string     `bun:"cancel_token_hash,nullzero"`
	Version         int        `bun:"version"`
	CreatedAt       time.Time  `bun:"created_at"`
	UpdatedAt       time.Time  `bun:"updated_at"`
	CancelledAt     *time.Time `bun:"cancelled_at"`
	CancelledBy     string     `bun:"cancelled_by"`
	CancelReason    string     `bun:"cancel_reason"`
}

func fromRow(r *row) Reservation {
	out := Reservation{ID: r.ID, Number: r.Number, MenuID: r.MenuID, Mode: menus.BookingMode(r.Mode), SlotID: r.SlotID,
		StartsAt: r.StartsAt.UTC(), EndsAt: r.EndsAt.UTC(), PartySize: r.PartySize, ProviderID: r.ProviderID, Price: r.Price,
		Status: Status(r.Status), Overbooked: r.Overbooked,
		Customer: Customer{Name: r.CustomerName, Kana: r.CustomerKana, Email: r.CustomerEmail, Phone: r.CustomerPhone},
		MemberID: r.MemberID, Lang: r.Lang, Source: Source(r.Source), SourceIP: r.SourceIP, UserAgent: r.UserAgent,
		CreatedBy: r.CreatedBy, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		CancelledBy: r.CancelledBy, CancelReason: r.CancelReason}
	if r.CancelledAt != nil {
		t := r.CancelledAt.UTC()
		out.CancelledAt = &t
	}
	_ = json.Unmarshal([]byte(r.Resources), &out.Resources)
	_ = json.Unmarshal([]byte(r.OptionIDs), &out.OptionIDs)
	_ = json.Unmarshal([]byte(r.Answers), &out.Answers)
	if out.OptionIDs == nil {
		out.OptionIDs = []string{}
	}
	if out.Answers == nil {
		out.Answers = map[string]any{}
	}
	return out
}

func toRow(r Reservation) (*row, error) {
	res, err := json.Marshal(nonNil(r.Resources))
	if err != nil {
		return nil, err
	}
	opts, err := json.Marshal(nonNil(r.OptionIDs))
	if err != nil {
		return nil, err
	}
	ans := r.Answers
	if ans == nil {
		ans = map[string]any{}
	}
	answers, err := json.Marshal(ans)
	if err != nil {
		return nil, err
	}
	return &row{ID: r.ID, Number: r.Number, MenuID: r.MenuID, Mode: string(r.Mode), SlotID: r.SlotID, StartsAt: r.StartsAt.UTC(),
		EndsAt: r.EndsAt.UTC(), PartySize: r.PartySize, ProviderID: r.ProviderID, Resources: string(res),
		OptionIDs: string(opts), Answers: string(answers), Price: r.Price, Status: string(r.Status),
		HoldsCapacity: r.Status.Active(), Overbooked: r.Overbooked, CustomerName: r.Customer.Name,
		CustomerKana: r.Customer.Kana, CustomerEmail: r.Customer.Email, CustomerPhone: r.Customer.Phone,
		MemberID: r.MemberID, Lang: r.Lang, Source: string(r.Source), SourceIP: r.SourceIP, UserAgent: r.UserAgent,
		CreatedBy: r.CreatedBy, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// validID: reservation, menu and slot ids are 32 lowercase hex.
func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func selectRow(ctx context.Context, db bun.IDB, id string) (*row, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	var r row
	err := db.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reservations: read: %w", err)
	}
	return &r, nil
}

func selectByRequestKey(ctx context.Context, db bun.IDB, key string) (*row, error) {
	var r row
	err := db.NewSelect().Model(&r).Where("request_key = ?", key).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reservations: read by request: %w", err)
	}
	return &r, nil
}

// errDuplicateNumber and errDuplicateRequest are what insertRow makes of a
// duplicate key: another number is drawn, or the earlier reservation of
// the same request is answered.
var (
	errDuplicateNumber  = errors.New("reservations: number taken")
	errDuplicateRequest = errors.New("reservations: request already booked")
)

func insertRow(ctx context.Context, tx bun.IDB, r *row) error {
	_, err := tx.NewInsert().Model(r).Exec(ctx)
	if err == nil {
		return nil
	}
	if dbx.IsDuplicateKey(err) {
		msg := err.Error()
		if r.RequestKey != "" && strings.Contains(msg, "request_key") {
			return errDuplicateRequest
		}
		return errDuplicateNumber
	}
	return fmt.Errorf("reservations: insert: %w", err)
}

// updateGuarded writes r's changed state if nobody changed it since
// version was read; false when someone did.
func updateGuarded(ctx context.Context, tx bun.IDB, r *row, version int, cols ...string) (bool, error) {
	res, err := tx.NewUpdate().Model(r).Column(cols...).Where("id = ? AND version = ?", r.ID, version).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("reservations: update: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ---- The guard: sessions ----

// takeSeats is the session's guarded statement. overbook drops the bound
// and raises the capacity to the seats booked (the table's CHECK keeps
// booked ≤ capacity). Capacity is assigned before booked: MySQL evaluates
// SET left to right with the new values, SQLite with the old ones, and in
// this order both read the old booked.
func takeSeats(ctx context.Context, tx bun.IDB, slotID string, n int, overbook bool, now time.Time) (bool, error) {
	var q string
	var args []any
	if overbook {
		q = "UPDATE timetable_slots SET capacity = CASE WHEN booked + ? > capacity THEN booked + ? ELSE capacity END, " +
			"booked = booked + ?, updated_at = ? WHERE id = ? AND closed = ?"
		args = []any{n, n, n, now, slotID, false}
	} else {
		q = "UPDATE timetable_slots SET booked = booked + ?, updated_at = ? WHERE id = ? AND closed = ? AND booked + ? <= capacity"
		args = []any{n, now, slotID, false, n}
	}
	res, err := tx.NewRaw(q, args...).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("reservations: take seats: %w", err)
	}
	k, _ := res.RowsAffected()
	return k == 1, nil
}

// giveSeats gives n seats of a session back.
func giveSeats(ctx context.Context, tx bun.IDB, slotID string, n int, now time.Time) error {
	_, err := tx.NewRaw("UPDATE timetable_slots SET booked = booked - ?, updated_at = ? WHERE id = ? AND booked >= ?",
		n, now, slotID, n).Exec(ctx)
	if err != nil {
		return fmt.Errorf("reservations: give seats: %w", err)
	}
	return nil
}

type slotState struct {
	MenuID   string    `bun:"menu_id"`
	StartsAt time.Time `bun:"starts_at"`
	EndsAt   time.Time `bun:"ends_at"`
	Closed   bool      `bun:"closed"`
	Capacity int       `bun:"capacity"`
	Booked   int       `bun:"booked"`
}

func selectSlot(ctx context.Context, db bun.IDB, id string) (*slotState, error) {
	if !validID(id) {
		return nil, nil
	}
	var s slotState
	err := db.NewSelect().Table("timetable_slots").Column("menu_id", "starts_at", "ends_at", "closed", "capacity", "booked").
		Where("id = ?", id).Scan(ctx, &s)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reservations: read session: %w", err)
	}
	return &s, nil
}

// ---- The guard: capacity cells of hours menus ----

// Owner kinds of capacity cells.
const (
	ownerMenu     = "menu"
	ownerProvider = "provider"
	ownerResource = "resource"
)

// hold is what one guarded cell statement takes: n of capacity of one
// owner over cells.
type hold struct {
	kind, id string
	n, cap   int
}

// cellsOf returns the cells (Unix seconds, ascending) covering [start, end)
// on the 5-minute grid.
func cellsOf(start, end time.Time) []int64 {
	const step = CellMinutes * 60
	s := start.Unix() - mod(start.Unix(), step)
	e := end.Unix()
	if m := mod(e, step); m != 0 {
		e += step - m
	}
	out := make([]int64, 0, (e-s)/step)
	for c := s; c < e; c += step {
		out = append(out, c)
	}
	return out
}

func mod(a, b int64) int64 { return ((a % b) + b) % b }

type cellRow struct {
	bun.BaseModel `bun:"table:capacity_cells"`

	OwnerKind string `bun:"owner_kind,pk"`
	OwnerID   string `bun:"owner_id,pk"`
	CellStart int64  `bun:"cell_start,pk"`
	Used      int    `bun:"used"`
}

// ensureCells inserts the missing cells of the holds with used = 0, each
// as its own statement outside any transaction (see the package doc).
func ensureCells(ctx context.Context, db bun.IDB, holds []hold, cells []int64) error {
	for _, h := range holds {
		rows := make([]cellRow, len(cells))
		for i, c := range cells {
			rows[i] = cellRow{OwnerKind: h.kind, OwnerID: h.id, CellStart: c}
		}
		if _, err := db.NewInsert().Model(&rows).Ignore().Exec(ctx); err != nil {
			return fmt.Errorf("reservations: cells: %w", err)
		}
	}
	return nil
}

// takeCells is the guarded statement of one owner: true when every cell
// had room (overbook: always, the bound dropped).
func takeCells(ctx context.Context, tx bun.IDB, h hold, cells []int64, overbook bool) (bool, error) {
	q := tx.NewUpdate().Model((*cellRow)(nil)).Set("used = used + ?", h.n).
		Where("owner_kind = ? AND owner_id = ? AND cell_start IN (?)", h.kind, h.id, bun.List(cells))
	if !overbook {
		q = q.Where("used + ? <= ?", h.n, h.cap)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("reservations: take cells: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == int64(len(cells)), nil
}

// giveCells gives one owner's hold back.
func giveCells(ctx context.Context, tx bun.IDB, h hold, cells []int64) error {
	_, err := tx.NewUpdate().Model((*cellRow)(nil)).Set("used = used - ?", h.n).
		Where("owner_kind = ? AND owner_id = ? AND cell_start IN (?) AND used >= ?", h.kind, h.id, bun.List(cells), h.n).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("reservations: give cells: %w", err)
	}
	return nil
}

// ---- Per-member guard ----

type memberGuardRow struct {
	bun.BaseModel `bun:"table:reservation_member_guards"`

	MemberID string `bun:"member_id,pk"`
	Bookings int64  `bun:"bookings"`
}

func ensureMemberGuard(ctx context.Context, db bun.IDB, memberID string) error {
	if _, err := db.NewInsert().Model(&memberGuardRow{MemberID: memberID}).Ignore().Exec(ctx); err != nil {
		return fmt.Errorf("reservations: member guard: %w", err)
	}
	return nil
}

// lockMember takes the member's guard row for the rest of the
// transaction: two bookings of one member count one after the other.
func lockMember(ctx context.Context, tx bun.IDB, memberID string) error {
	if _, err := tx.NewUpdate().Model((*memberGuardRow)(nil)).Set("bookings = bookings + 1").
		Where("member_id = ?", memberID).Exec(ctx); err != nil {
		return fmt.Errorf("reservations: lock member: %w", err)
	}
	return nil
}

func countMemberActive(ctx context.Context, db bun.IDB, memberID, menuID string, from, to time.Time) (int, error) {
	n, err := db.NewSelect().Model((*row)(nil)).
		Where("member_id = ? AND menu_id = ? AND starts_at >= ? AND starts_at < ?", memberID, menuID, from.UTC(), to.UTC()).
		Where("status IN (?)", bun.List([]string{string(StatusPending), string(StatusConfirmed)})).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("reservations: count member: %w", err)
	}
	return int(n), nil
}

// providerLoads counts the active reservations of each provider starting
// in [from, to).
func providerLoads(ctx context.Context, db bun.IDB, ids []string, from, to time.Time) (map[string]int, error) {
	out := map[string]int{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ProviderID string `bun:"provider_id"`
		N          int    `bun:"n"`
	}
	err := db.NewSelect().Model((*row)(nil)).ColumnExpr("provider_id, COUNT(*) AS n").
		Where("provider_id IN (?) AND starts_at >= ? AND starts_at < ?", bun.List(ids), from.UTC(), to.UTC()).
		Where("status IN (?)", bun.List([]string{string(StatusPending), string(StatusConfirmed)})).
		GroupExpr("provider_id").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("reservations: provider loads: %w", err)
	}
	for _, r := range rows {
		out[r.ProviderID] = r.N
	}
	return out, nil
}

// ---- Listing ----

// Filter selects reservations for List, by start.
type Filter struct {
	From, To time.Time // starts in [From, To); zero: open
	MenuID   string
	Status   Status
	MemberID string
	Number   string
	// Query finds a reservation by its number or the customer's name,
	// kana, e-mail or phone (a part of any; hiragana finds katakana).
	Query string
	// Desc lists the latest start first (the cursor pages ascending only).
	Desc bool
	// Offset skips that many (the console's numbered pages), at most
	// MaxOffset; not with After.
	Offset int
	Limit  int    // 1–MaxPage, default DefaultPage
	After  string // cursor from the previous page
}

func cursorOf(r Reservation) string {
	return strconv.FormatInt(r.StartsAt.UnixMicro(), 10) + "." + r.ID
}

func parseCursor(s string) (time.Time, string, bool) {
	a, id, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(a, 10, 64)
	if !ok || err != nil || !validID(id) {
		return time.Time{}, "", false
	}
	return time.UnixMicro(n).UTC(), id, true
}

func selectRows(ctx context.Context, db bun.IDB, f Filter) ([]row, error) {
	var rows []row
	q := db.NewSelect().Model(&rows)
	if !f.From.IsZero() {
		q = q.Where("starts_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("starts_at < ?", f.To.UTC())
	}
	if f.MenuID != "" {
		q = q.Where("menu_id = ?", f.MenuID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.MemberID != "" {
		q = q.Where("member_id = ?", f.MemberID)
	}
	if f.Number != "" {
		q = q.Where("number = ?", f.Number)
	}
	if f.Query != "" {
		q = whereQuery(q, f.Query)
	}
	if f.After != "" {
		at, id, _ := parseCursor(f.After)
		q = q.Where("(starts_at > ? OR (starts_at = ? AND id > ?))", at, at, id)
	}
	order := "starts_at, id"
	if f.Desc {
		order = "starts_at DESC, id DESC"
	}
	if f.Offset > 0 {
		q = q.Offset(int64(f.Offset))
	}
	if err := q.OrderExpr(order).Limit(int64(f.Limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("reservations: list: %w", err)
	}
	return rows, nil
}

// ---- Retries ----

// retryable reports whether err is a deadlock, a lock-wait timeout or a
// busy SQLite database: the transaction is run again.
func retryable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	s := err.Error()
	return strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "database is locked")
}

// sortedHolds orders holds as every transaction takes them: the menu,
// then providers by id, then resources by id.
func sortedHolds(hs []hold) []hold {
	rank := map[string]int{ownerMenu: 0, ownerProvider: 1, ownerResource: 2}
	slices.SortStableFunc(hs, func(a, b hold) int {
		if a.kind != b.kind {
			return rank[a.kind] - rank[b.kind]
		}
		return strings.Compare(a.id, b.id)
	})
	return hs
}

var errInternal = func(err error) error { return apperr.Wrap(apperr.KindInternal, "internal", err) }
