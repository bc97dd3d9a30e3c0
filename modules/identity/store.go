package identity

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// staffRow is a row of the tenant database's staff table.
type staffRow struct {
	bun.BaseModel `bun:"table:staff"`

	ID                string    `bun:"id,pk"`
	Email             string    `bun:"email"`
	DisplayName       string    `bun:"display_name"`
	Status            string    `bun:"status"`
	Role              string    `bun:"role"`
	MenuIDs           string    `bun:"menu_ids"`
	PasswordHash      string    `bun:"password_hash"`
	PasswordChangedAt time.Time `bun:"password_changed_at,nullzero"`
	FailedLogins      int       `bun:"failed_logins"`
	LockedUntil       time.Time `bun:"locked_until,nullzero"`
	LastLoginAt       time.Time `bun:"last_login_at,nullzero"`
	TOTPSecret        string    `bun:"totp_secret"`
	TOTPPending       string    `bun:"totp_pending"`
	TOTPEnabledAt     time.Time `bun:"totp_enabled_at,nullzero"`
	TOTPLastStep      int64     `bun:"totp_last_step"`
	CreatedAt         time.Time `bun:"created_at"`
	UpdatedAt         time.Time `bun:"updated_at"`
}

func toStaffRow(st Staff) (*staffRow, error) {
	ids := st.MenuIDs
	if ids == nil {
		ids = []string{}
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	return &staffRow{
		ID: st.ID, Email: st.Email, DisplayName: st.DisplayName, Status: string(st.Status), Role: st.Role,
		MenuIDs: string(b), CreatedAt: st.CreatedAt.UTC(), UpdatedAt: st.UpdatedAt.UTC(),
	}, nil
}

func fromStaffRow(r *staffRow) (Staff, error) {
	st := Staff{
		ID: r.ID, Email: r.Email, DisplayName: r.DisplayName, Status: StaffStatus(r.Status), Role: r.Role,
		HasPassword: r.PasswordHash != "", TOTPEnabled: r.TOTPSecret != "", TOTPEnabledAt: dbx.UTC(r.TOTPEnabledAt),
		FailedLogins: r.FailedLogins, LockedUntil: dbx.UTC(r.LockedUntil), LastLoginAt: dbx.UTC(r.LastLoginAt),
		PasswordChangedAt: dbx.UTC(r.PasswordChangedAt), CreatedAt: dbx.UTC(r.CreatedAt), UpdatedAt: dbx.UTC(r.UpdatedAt),
	}
	if err := json.Unmarshal([]byte(r.MenuIDs), &st.MenuIDs); err != nil {
		return Staff{}, fmt.Errorf("staff %s: menu_ids: %w", r.ID, err)
	}
	if st.MenuIDs == nil {
		st.MenuIDs = []string{}
	}
	return st, nil
}

// staffTokenRow is a one-time link (setup, invitation, reset).
type staffTokenRow struct {
	bun.BaseModel `bun:"table:staff_tokens"`

	TokenHash string     `bun:"token_hash,pk"`
	StaffID   string     `bun:"staff_id"`
	Purpose   string     `bun:"purpose"`
	CreatedAt time.Time  `bun:"created_at"`
	ExpiresAt time.Time  `bun:"expires_at"`
	UsedAt    *time.Time `bun:"used_at"`
}

// staffSessionRow is a console session.
type staffSessionRow struct {
	bun.BaseModel `bun:"table:staff_sessions"`

	ID            string    `bun:"id,pk"`
	TokenHash     string    `bun:"token_hash"`
	StaffID       string    `bun:"staff_id"`
	SecondFactor  bool      `bun:"second_factor"`
	CSRFSecret    string    `bun:"csrf_secret"`
	SourceIP      string    `bun:"source_ip"`
	UserAgent     string    `bun:"user_agent"`
	CreatedAt     time.Time `bun:"created_at"`
	LastSeenAt    time.Time `bun:"last_seen_at"`
	IdleSeconds   int       `bun:"idle_seconds"`
	IdleExpiresAt time.Time `bun:"idle_expires_at"`
	ExpiresAt     time.Time `bun:"expires_at"`
}

// recoveryCodeRow is one recovery code of a staff member's second factor.
type recoveryCodeRow struct {
	bun.BaseModel `bun:"table:staff_recovery_codes"`

	StaffID   string     `bun:"staff_id,pk"`
	CodeHash  string     `bun:"code_hash,pk"`
	CreatedAt time.Time  `bun:"created_at"`
	UsedAt    *time.Time `bun:"used_at"`
}

// loginFailureRow is one failed login from a source address.
type loginFailureRow struct {
	bun.BaseModel `bun:"table:staff_login_failures"`

	ID     int64     `bun:"id,pk,autoincrement"`
	Source string    `bun:"source"`
	At     time.Time `bun:"at"`
}

// staffStore reads and writes the identity tables. It never begins a
// transaction; it turns driver errors into apperr kinds.
type staffStore struct{}

func (staffStore) insertStaff(ctx context.Context, db bun.IDB, st Staff) error {
	row, err := toStaffRow(st)
	if err != nil {
		return dbErr(err)
	}
	if _, err := db.NewInsert().Model(row).Exec(ctx); err != nil {
		if dbx.IsDuplicateKey(err) {
			return ErrStaffEmailTaken
		}
		return dbErr(err)
	}
	return nil
}

func (staffStore) rowByID(ctx context.Context, db bun.IDB, id string, forUpdate bool) (*staffRow, error) {
	var row staffRow
	q := db.NewSelect().Model(&row).Where("id = ?", id)
	if forUpdate && dbx.IsMySQL(db) {
		// On SQLite the transaction already holds the database's write
		// lock (BEGIN IMMEDIATE); MySQL locks the row.
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrStaffNotFound
		}
		return nil, dbErr(err)
	}
	return &row, nil
}

func (s staffStore) staffByID(ctx context.Context, db bun.IDB, id string) (Staff, error) {
	row, err := s.rowByID(ctx, db, id, false)
	if err != nil {
		return Staff{}, err
	}
	return s.toStaff(row)
}

// lockStaff reads the account for a change in transaction tx, locking its
// row until the transaction ends.
func (s staffStore) lockStaff(ctx context.Context, tx bun.IDB, id string) (Staff, error) {
	row, err := s.rowByID(ctx, tx, id, true)
	if err != nil {
		return Staff{}, err
	}
	return s.toStaff(row)
}

func (staffStore) toStaff(row *staffRow) (Staff, error) {
	st, err := fromStaffRow(row)
	return st, dbErr(err)
}

func (s staffStore) rowByEmail(ctx context.Context, db bun.IDB, email string) (*staffRow, error) {
	var row staffRow
	if err := db.NewSelect().Model(&row).Where("email = ?", email).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrStaffNotFound
		}
		return nil, dbErr(err)
	}
	return &row, nil
}

func (s staffStore) staffByEmail(ctx context.Context, db bun.IDB, email string) (Staff, error) {
	row, err := s.rowByEmail(ctx, db, email)
	if err != nil {
		return Staff{}, err
	}
	return s.toStaff(row)
}

func (s staffStore) listStaff(ctx context.Context, db bun.IDB, f StaffFilter) ([]Staff, error) {
	var rows []staffRow
	q := db.NewSelect().Model(&rows).OrderExpr("email ASC").Limit(int64(f.Limit))
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if err := q.Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(err)
	}
	out := make([]Staff, 0, len(rows))
	for i := range rows {
		st, err := s.toStaff(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// lockActiveOwners returns the ids of the active owners, locking their rows
// on MySQL (SQLite's transaction holds the write lock already).
func (staffStore) lockActiveOwners(ctx context.Context, tx bun.IDB) ([]string, error) {
	var ids []string
	q := tx.NewSelect().Model((*staffRow)(nil)).Column("id").Where("role = ?", OwnerRole).Where("status = ?", string(StatusActive))
	if dbx.IsMySQL(tx) {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx, &ids); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(err)
	}
	return ids, nil
}

func (staffStore) setStatus(ctx context.Context, tx bun.IDB, id string, st StaffStatus, now time.Time) error {
	_, err := tx.NewUpdate().Model((*staffRow)(nil)).Set("status = ?", string(st)).Set("updated_at = ?", now).
		Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

func (staffStore) updateProfile(ctx context.Context, tx bun.IDB, st Staff) error {
	row, err := toStaffRow(st)
	if err != nil {
		return dbErr(err)
	}
	_, err = tx.NewUpdate().Model(row).Column("display_name", "role", "menu_ids", "updated_at").WherePK().Exec(ctx)
	return dbErr(err)
}

// setPassword stores a new password hash. unlock also clears the failure
// count and any lockout (a redeemed link proves control of the mailbox).
func (staffStore) setPassword(ctx context.Context, tx bun.IDB, id, phc string, now time.Time, unlock bool) error {
	q := tx.NewUpdate().Model((*staffRow)(nil)).Set("password_hash = ?", phc).Set("password_changed_at = ?", now).
		Set("updated_at = ?", now).Where("id = ?", id)
	if unlock {
		q = q.Set("failed_logins = 0").Set("locked_until = NULL")
	}
	_, err := q.Exec(ctx)
	return dbErr(err)
}

// rehashPassword replaces a hash made with old parameters.
func (staffStore) rehashPassword(ctx context.Context, tx bun.IDB, id, phc string) error {
	_, err := tx.NewUpdate().Model((*staffRow)(nil)).Set("password_hash = ?", phc).Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

// setLoginState writes the failure count and lockout of an account (the
// caller holds its row lock).
func (staffStore) setLoginState(ctx context.Context, tx bun.IDB, id string, failed int, lockedUntil time.Time) error {
	q := tx.NewUpdate().Model((*staffRow)(nil)).Set("failed_logins = ?", failed).Where("id = ?", id)
	if lockedUntil.IsZero() {
		q = q.Set("locked_until = NULL")
	} else {
		q = q.Set("locked_until = ?", lockedUntil)
	}
	_, err := q.Exec(ctx)
	return dbErr(err)
}

func (staffStore) setLastLogin(ctx context.Context, tx bun.IDB, id string, now time.Time) error {
	_, err := tx.NewUpdate().Model((*staffRow)(nil)).Set("last_login_at = ?", now).Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

func (staffStore) setTOTPPending(ctx context.Context, tx bun.IDB, id, sealed string) error {
	_, err := tx.NewUpdate().Model((*staffRow)(nil)).Set("totp_pending = ?", sealed).Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

func (staffStore) enableTOTP(ctx context.Context, tx bun.IDB, id, sealed string, step int64, now time.Time) error {
	_, err := tx.NewUpdate().Model((*staffRow)(nil)).Set("totp_secret = ?", sealed).Set("totp_pending = ''").
		Set("totp_enabled_at = ?", now).Set("totp_last_step = ?", step).Set("updated_at = ?", now).Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

func (staffStore) disableTOTP(ctx context.Context, tx bun.IDB, id string, now time.Time) error {
	_, err := tx.NewUpdate().Model((*staffRow)(nil)).Set("totp_secret = ''").Set("totp_pending = ''").
		Set("totp_enabled_at = NULL").Set("updated_at = ?", now).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return dbErr(err)
	}
	_, err = tx.NewDelete().Model((*recoveryCodeRow)(nil)).Where("staff_id = ?", id).Exec(ctx)
	return dbErr(err)
}

// useTOTPStep records step as the last TOTP step accepted for the account,
// if it is later than the last one: the guarded statement that makes a
// code single-use even when two requests race with it.
func (staffStore) useTOTPStep(ctx context.Context, tx bun.IDB, id string, step int64) (bool, error) {
	res, err := tx.NewUpdate().Model((*staffRow)(nil)).Set("totp_last_step = ?", step).
		Where("id = ?", id).Where("totp_last_step < ?", step).Exec(ctx)
	return affected(res, err)
}

// affected reports whether an UPDATE or DELETE touched a row. Only use it
// on statements that change every row they match: MySQL counts changed
// rows, not matched ones.
func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, dbErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, dbErr(err)
	}
	return n > 0, nil
}

func (staffStore) insertToken(ctx context.Context, tx bun.IDB, row *staffTokenRow) error {
	_, err := tx.NewInsert().Model(row).Exec(ctx)
	return dbErr(err)
}

func (staffStore) tokenByHash(ctx context.Context, db bun.IDB, hash string) (*staffTokenRow, error) {
	var row staffTokenRow
	if err := db.NewSelect().Model(&row).Where("token_hash = ?", hash).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, dbErr(err)
	}
	row.CreatedAt, row.ExpiresAt = row.CreatedAt.UTC(), row.ExpiresAt.UTC()
	return &row, nil
}

// useToken marks a link used if it is unused and unexpired: one guarded
// statement, so that a link works once even when used twice at once.
func (staffStore) useToken(ctx context.Context, tx bun.IDB, hash string, now time.Time) (bool, error) {
	res, err := tx.NewUpdate().Model((*staffTokenRow)(nil)).Set("used_at = ?", now).
		Where("token_hash = ?", hash).Where("used_at IS NULL").Where("expires_at > ?", now).Exec(ctx)
	return affected(res, err)
}

// revokeTokens uses up the account's unused links.
func (staffStore) revokeTokens(ctx context.Context, tx bun.IDB, staffID string, now time.Time) error {
	_, err := tx.NewUpdate().Model((*staffTokenRow)(nil)).Set("used_at = ?", now).
		Where("staff_id = ?", staffID).Where("used_at IS NULL").Exec(ctx)
	return dbErr(err)
}

func (staffStore) insertSession(ctx context.Context, tx bun.IDB, row *staffSessionRow) error {
	_, err := tx.NewInsert().Model(row).Exec(ctx)
	return dbErr(err)
}

func (staffStore) sessionByHash(ctx context.Context, db bun.IDB, hash string) (*staffSessionRow, error) {
	var row staffSessionRow
	if err := db.NewSelect().Model(&row).Where("token_hash = ?", hash).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, dbErr(err)
	}
	return &row, nil
}

func (staffStore) sessionByID(ctx context.Context, db bun.IDB, id string) (*staffSessionRow, error) {
	var row staffSessionRow
	if err := db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, dbErr(err)
	}
	return &row, nil
}

func (staffStore) sessionsOf(ctx context.Context, db bun.IDB, staffID string) ([]staffSessionRow, error) {
	var rows []staffSessionRow
	err := db.NewSelect().Model(&rows).Where("staff_id = ?", staffID).OrderExpr("last_seen_at DESC, id DESC").Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(err)
	}
	return rows, nil
}

// touchSession records activity: last seen now, idle deadline moved on.
func (staffStore) touchSession(ctx context.Context, db bun.IDB, id string, now, idleUntil time.Time) error {
	_, err := db.NewUpdate().Model((*staffSessionRow)(nil)).Set("last_seen_at = ?", now).Set("idle_expires_at = ?", idleUntil).
		Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

// rotateSessionToken gives a session a new token hash; secondFactor, when
// not nil, sets whether its second factor has passed, and a non-zero
// expires sets its absolute end. It reports whether the session exists.
func (staffStore) rotateSessionToken(ctx context.Context, tx bun.IDB, id, hash string, secondFactor *bool, expires time.Time) (bool, error) {
	q := tx.NewUpdate().Model((*staffSessionRow)(nil)).Set("token_hash = ?", hash).Where("id = ?", id)
	if secondFactor != nil {
		q = q.Set("second_factor = ?", *secondFactor)
	}
	if !expires.IsZero() {
		q = q.Set("expires_at = ?", expires)
	}
	return affected(q.Exec(ctx)) // the token hash always changes
}

func (staffStore) setSessionWindow(ctx context.Context, tx bun.IDB, id string, now time.Time, idle time.Duration, expires time.Time) error {
	_, err := tx.NewUpdate().Model((*staffSessionRow)(nil)).Set("last_seen_at = ?", now).
		Set("idle_seconds = ?", int(idle/time.Second)).Set("idle_expires_at = ?", now.Add(idle)).
		Set("expires_at = ?", expires).Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

func (staffStore) setSessionSecondFactor(ctx context.Context, tx bun.IDB, id string) error {
	_, err := tx.NewUpdate().Model((*staffSessionRow)(nil)).Set("second_factor = ?", true).Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

// deleteSessions ends every session of staffID but keep (empty: all) and
// returns how many it ended.
func (staffStore) deleteSessions(ctx context.Context, tx bun.IDB, staffID, keep string) (int, error) {
	q := tx.NewDelete().Model((*staffSessionRow)(nil)).Where("staff_id = ?", staffID)
	if keep != "" {
		q = q.Where("id <> ?", keep)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return 0, dbErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), dbErr(err)
}

// deleteSession ends one session; where, when set, limits it to one staff.
func (staffStore) deleteSession(ctx context.Context, tx bun.IDB, id, staffID string) (bool, error) {
	q := tx.NewDelete().Model((*staffSessionRow)(nil)).Where("id = ?", id)
	if staffID != "" {
		q = q.Where("staff_id = ?", staffID)
	}
	return affected(q.Exec(ctx))
}

func (staffStore) insertRecoveryCodes(ctx context.Context, tx bun.IDB, rows []recoveryCodeRow) error {
	if _, err := tx.NewDelete().Model((*recoveryCodeRow)(nil)).Where("staff_id = ?", rows[0].StaffID).Exec(ctx); err != nil {
		return dbErr(err)
	}
	_, err := tx.NewInsert().Model(&rows).Exec(ctx)
	return dbErr(err)
}

// useRecoveryCode marks an unused code used: one guarded statement.
func (staffStore) useRecoveryCode(ctx context.Context, tx bun.IDB, staffID, hash string, now time.Time) (bool, error) {
	res, err := tx.NewUpdate().Model((*recoveryCodeRow)(nil)).Set("used_at = ?", now).
		Where("staff_id = ?", staffID).Where("code_hash = ?", hash).Where("used_at IS NULL").Exec(ctx)
	return affected(res, err)
}

func (staffStore) recoveryCodesLeft(ctx context.Context, db bun.IDB, staffID string) (int, error) {
	n, err := db.NewSelect().Model((*recoveryCodeRow)(nil)).Where("staff_id = ?", staffID).Where("used_at IS NULL").Count(ctx)
	return int(n), dbErr(err)
}

func (staffStore) insertLoginFailure(ctx context.Context, tx bun.IDB, source string, at time.Time) error {
	_, err := tx.NewInsert().Model(&loginFailureRow{Source: source, At: at}).Exec(ctx)
	return dbErr(err)
}

// loginFailuresSince returns the times of the failures from source after
// since, oldest first.
func (staffStore) loginFailuresSince(ctx context.Context, db bun.IDB, source string, since time.Time) ([]time.Time, error) {
	var rows []loginFailureRow
	err := db.NewSelect().Model(&rows).Column("at").Where("source = ?", source).Where("at > ?", since).
		OrderExpr("at ASC").Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(err)
	}
	out := make([]time.Time, len(rows))
	for i := range rows {
		out[i] = rows[i].At.UTC()
	}
	return out, nil
}

// sweep removes what can no longer be used: ended sessions, spent links and
// failures older than the throttle window.
func (staffStore) sweep(ctx context.Context, db bun.IDB, now time.Time) (int64, error) {
	var total int64
	for _, q := range []*bun.DeleteQuery{
		db.NewDelete().Model((*staffSessionRow)(nil)).WhereOr("expires_at <= ?", now).WhereOr("idle_expires_at <= ?", now),
		db.NewDelete().Model((*staffTokenRow)(nil)).Where("expires_at <= ?", now.Add(-24*time.Hour)),
		db.NewDelete().Model((*loginFailureRow)(nil)).Where("at < ?", now.Add(-IPFailureWindow)),
	} {
		res, err := q.Exec(ctx)
		if err != nil {
			return total, dbErr(err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
