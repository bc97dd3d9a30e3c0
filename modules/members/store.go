package members

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// Rows of the member tables. They never leave this package.

type memberRow struct {
	bun.BaseModel `bun:"table:members"`

	ID              string    `bun:"id,pk"`
	Number          string    `bun:"number"`
	Email           *string   `bun:"email"`
	Status          string    `bun:"status"`
	PasswordHash    string    `bun:"password_hash"`
	FamilyName      string    `bun:"family_name"`
	GivenName       string    `bun:"given_name"`
	FamilyKana      string    `bun:"family_kana"`
	GivenKana       string    `bun:"given_kana"`
	Phone           string    `bun:"phone"`
	PostalCode      string    `bun:"postal_code"`
	Prefecture      int       `bun:"prefecture"`
	Address1        string    `bun:"address1"`
	Address2        string    `bun:"address2"`
	BirthDate       string    `bun:"birth_date"`
	Gender          string    `bun:"gender"`
	SearchText      string    `bun:"search_text"`
	FailedLogins    int       `bun:"failed_logins"`
	LockedUntil     time.Time `bun:"locked_until,nullzero"`
	LastLoginAt     time.Time `bun:"last_login_at,nullzero"`
	EmailVerifiedAt time.Time `bun:"email_verified_at,nullzero"`
	WithdrawnAt     time.Time `bun:"withdrawn_at,nullzero"`
	CreatedAt       time.Time `bun:"created_at"`
	UpdatedAt       time.Time `bun:"updated_at"`
}

type counterRow struct {
	bun.BaseModel `bun:"table:member_counters"`

	Name  string `bun:"name,pk"`
	Value int64  `bun:"value"`
}

type tokenRow struct {
	bun.BaseModel `bun:"table:member_tokens"`

	TokenHash string     `bun:"token_hash,pk"`
	MemberID  string     `bun:"member_id"`
	Purpose   string     `bun:"purpose"`
	CreatedAt time.Time  `bun:"created_at"`
	ExpiresAt time.Time  `bun:"expires_at"`
	UsedAt    *time.Time `bun:"used_at"`
}

type sessionRow struct {
	bun.BaseModel `bun:"table:member_sessions"`

	ID            string    `bun:"id,pk"`
	TokenHash     string    `bun:"token_hash"`
	MemberID      string    `bun:"member_id"`
	CSRFSecret    string    `bun:"csrf_secret"`
	SourceIP      string    `bun:"source_ip"`
	UserAgent     string    `bun:"user_agent"`
	CreatedAt     time.Time `bun:"created_at"`
	LastSeenAt    time.Time `bun:"last_seen_at"`
	IdleSeconds   int       `bun:"idle_seconds"`
	IdleExpiresAt time.Time `bun:"idle_expires_at"`
	ExpiresAt     time.Time `bun:"expires_at"`
}

type failureRow struct {
	bun.BaseModel `bun:"table:member_login_failures"`

	ID     int64     `bun:"id,pk,autoincrement"`
	Source string    `bun:"source"`
	At     time.Time `bun:"at"`
}

type attributeRow struct {
	bun.BaseModel `bun:"table:member_attributes"`

	ID          string    `bun:"id,pk"`
	LabelJA     string    `bun:"label_ja"`
	LabelEN     string    `bun:"label_en"`
	Kind        string    `bun:"kind"`
	Requirement string    `bun:"requirement"`
	Choices     string    `bun:"choices"`
	Position    int       `bun:"position"`
	CreatedAt   time.Time `bun:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at"`
}

type valueRow struct {
	bun.BaseModel `bun:"table:member_attribute_values"`

	MemberID    string `bun:"member_id,pk"`
	AttributeID string `bun:"attribute_id,pk"`
	Value       string `bun:"value"`
}

func toMemberRow(m Member) *memberRow {
	r := &memberRow{
		ID: m.ID, Number: m.Number, Status: string(m.Status),
		FamilyName: m.Profile.FamilyName, GivenName: m.Profile.GivenName,
		FamilyKana: m.Profile.FamilyKana, GivenKana: m.Profile.GivenKana,
		Phone: m.Profile.Phone, PostalCode: m.Profile.PostalCode, Prefecture: m.Profile.Prefecture,
		Address1: m.Profile.Address1, Address2: m.Profile.Address2, BirthDate: m.Profile.BirthDate,
		Gender: string(m.Profile.Gender), SearchText: searchText(m.Number, m.Email, m.Profile),
		EmailVerifiedAt: m.EmailVerifiedAt, WithdrawnAt: m.WithdrawnAt,
		CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
	}
	if m.Email != "" {
		e := m.Email
		r.Email = &e
	}
	return r
}

func fromMemberRow(r *memberRow) Member {
	m := Member{
		ID: r.ID, Number: r.Number, Status: Status(r.Status),
		Profile: Profile{
			FamilyName: r.FamilyName, GivenName: r.GivenName, FamilyKana: r.FamilyKana, GivenKana: r.GivenKana,
			Phone: r.Phone, PostalCode: r.PostalCode, Prefecture: r.Prefecture, Address1: r.Address1,
			Address2: r.Address2, BirthDate: r.BirthDate, Gender: Gender(r.Gender),
		},
		Attributes:  map[string]string{},
		HasPassword: r.PasswordHash != "", FailedLogins: r.FailedLogins, LockedUntil: dbx.UTC(r.LockedUntil),
		LastLoginAt: dbx.UTC(r.LastLoginAt), EmailVerifiedAt: dbx.UTC(r.EmailVerifiedAt), WithdrawnAt: dbx.UTC(r.WithdrawnAt),
		CreatedAt: dbx.UTC(r.CreatedAt), UpdatedAt: dbx.UTC(r.UpdatedAt),
	}
	if r.Email != nil {
		m.Email = *r.Email
	}
	return m
}

func toAttribute(r *attributeRow) (Attribute, error) {
	a := Attribute{ID: r.ID, LabelJA: r.LabelJA, LabelEN: r.LabelEN, Kind: AttributeKind(r.Kind),
		Requirement: Requirement(r.Requirement), Position: r.Position, CreatedAt: dbx.UTC(r.CreatedAt), UpdatedAt: dbx.UTC(r.UpdatedAt)}
	if err := json.Unmarshal([]byte(r.Choices), &a.Choices); err != nil {
		return Attribute{}, dbErr(fmt.Errorf("member attribute %s: choices: %w", r.ID, err))
	}
	if a.Choices == nil {
		a.Choices = []string{}
	}
	return a, nil
}

func toAttributeRow(a Attribute) *attributeRow {
	ch := a.Choices
	if ch == nil {
		ch = []string{}
	}
	b, _ := json.Marshal(ch)
	return &attributeRow{ID: a.ID, LabelJA: a.LabelJA, LabelEN: a.LabelEN, Kind: string(a.Kind),
		Requirement: string(a.Requirement), Choices: string(b), Position: a.Position,
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
}

// dbErr wraps an unexpected database failure; apperr errors pass.
func dbErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return apperr.Wrap(apperr.KindInternal, "internal", err)
}

// store reads and writes the member tables. It never begins a
// transaction; it turns driver errors into apperr kinds.
type store struct{}

// nextNumber takes the next member number with one guarded statement on
// the counter row: concurrent registrations each get their own number
// (the UPDATE holds the row until the transaction ends).
func (store) nextNumber(ctx context.Context, tx bun.IDB) (string, error) {
	res, err := tx.NewUpdate().Model((*counterRow)(nil)).Set("value = value + 1").Where("name = ?", "member_number").Exec(ctx)
	if err != nil {
		return "", dbErr(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return "", dbErr(errors.New("members: the member number counter is missing"))
	}
	var c counterRow
	if err := tx.NewSelect().Model(&c).Where("name = ?", "member_number").Scan(ctx); err != nil {
		return "", dbErr(err)
	}
	return fmt.Sprintf("M%07d", c.Value), nil
}

func (store) insertMember(ctx context.Context, tx bun.IDB, r *memberRow) error {
	if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
		if dbx.IsDuplicateKey(err) {
			return ErrEmailTaken
		}
		return dbErr(err)
	}
	return nil
}

// updateMember writes the profile, e-mail, status and search text of r.
func (store) updateMember(ctx context.Context, tx bun.IDB, r *memberRow) error {
	_, err := tx.NewUpdate().Model(r).WherePK().
		Column("email", "status", "family_name", "given_name", "family_kana", "given_kana", "phone", "postal_code",
			"prefecture", "address1", "address2", "birth_date", "gender", "search_text", "email_verified_at",
			"withdrawn_at", "updated_at").Exec(ctx)
	if err != nil {
		if dbx.IsDuplicateKey(err) {
			return ErrEmailTaken
		}
		return dbErr(err)
	}
	return nil
}

func (store) rowByID(ctx context.Context, db bun.IDB, id string, forUpdate bool) (*memberRow, error) {
	var r memberRow
	q := db.NewSelect().Model(&r).Where("id = ?", id)
	if forUpdate && dbx.IsMySQL(db) {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, dbErr(err)
	}
	return &r, nil
}

func (store) rowByEmail(ctx context.Context, db bun.IDB, email string) (*memberRow, error) {
	var r memberRow
	if err := db.NewSelect().Model(&r).Where("email = ?", email).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, dbErr(err)
	}
	return &r, nil
}

func (store) rowByNumber(ctx context.Context, db bun.IDB, number string) (*memberRow, error) {
	var r memberRow
	if err := db.NewSelect().Model(&r).Where("number = ?", number).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, dbErr(err)
	}
	return &r, nil
}

func escapeLike(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '_' || s[i] == '!' {
			out = append(out, '!')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func (store) list(ctx context.Context, db bun.IDB, f ListParams) ([]memberRow, error) {
	var rows []memberRow
	q := db.NewSelect().Model(&rows).OrderExpr("number ASC").Limit(int64(f.Limit + 1))
	for _, term := range queryTerms(f.Q) {
		q = q.Where("search_text LIKE ? ESCAPE '!'", "%"+escapeLike(term)+"%")
	}
	if len(f.Statuses) > 0 {
		ss := make([]string, 0, len(f.Statuses))
		for _, s := range f.Statuses {
			ss = append(ss, string(s))
		}
		q = q.Where("status IN (?)", bun.In(ss))
	}
	if f.After != "" {
		q = q.Where("number > ?", f.After)
	}
	if err := q.Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(err)
	}
	return rows, nil
}

func (store) count(ctx context.Context, db bun.IDB, f ListParams) (int, error) {
	q := db.NewSelect().Model((*memberRow)(nil))
	for _, term := range queryTerms(f.Q) {
		q = q.Where("search_text LIKE ? ESCAPE '!'", "%"+escapeLike(term)+"%")
	}
	if len(f.Statuses) > 0 {
		ss := make([]string, 0, len(f.Statuses))
		for _, s := range f.Statuses {
			ss = append(ss, string(s))
		}
		q = q.Where("status IN (?)", bun.In(ss))
	}
	n, err := q.Count(ctx)
	return int(n), dbErr(err)
}

func (store) setPassword(ctx context.Context, tx bun.IDB, id, phc string, now time.Time) error {
	_, err := tx.NewUpdate().Model((*memberRow)(nil)).Set("password_hash = ?", phc).Set("failed_logins = 0").
		Set("locked_until = NULL").Set("updated_at = ?", now).Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

func (store) rehash(ctx context.Context, tx bun.IDB, id, phc string) error {
	_, err := tx.NewUpdate().Model((*memberRow)(nil)).Set("password_hash = ?", phc).Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

func (store) setLoginState(ctx context.Context, tx bun.IDB, id string, failed int, lockedUntil time.Time) error {
	q := tx.NewUpdate().Model((*memberRow)(nil)).Set("failed_logins = ?", failed).Where("id = ?", id)
	if lockedUntil.IsZero() {
		q = q.Set("locked_until = NULL")
	} else {
		q = q.Set("locked_until = ?", lockedUntil)
	}
	_, err := q.Exec(ctx)
	return dbErr(err)
}

func (store) setLastLogin(ctx context.Context, tx bun.IDB, id string, now time.Time) error {
	_, err := tx.NewUpdate().Model((*memberRow)(nil)).Set("last_login_at = ?", now).Set("failed_logins = 0").
		Set("locked_until = NULL").Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

func (store) activate(ctx context.Context, tx bun.IDB, id string, now time.Time) error {
	_, err := tx.NewUpdate().Model((*memberRow)(nil)).Set("status = ?", string(StatusActive)).
		Set("email_verified_at = ?", now).Set("updated_at = ?", now).
		Where("id = ?", id).Where("status = ?", string(StatusPending)).Exec(ctx)
	return dbErr(err)
}

// Tokens.

func (store) revokeTokens(ctx context.Context, tx bun.IDB, memberID, purpose string, now time.Time) error {
	_, err := tx.NewUpdate().Model((*tokenRow)(nil)).Set("used_at = ?", now).
		Where("member_id = ?", memberID).Where("purpose = ?", purpose).Where("used_at IS NULL").Exec(ctx)
	return dbErr(err)
}

func (store) insertToken(ctx context.Context, tx bun.IDB, r *tokenRow) error {
	_, err := tx.NewInsert().Model(r).Exec(ctx)
	return dbErr(err)
}

func (store) tokenByHash(ctx context.Context, db bun.IDB, hash string) (*tokenRow, error) {
	var r tokenRow
	if err := db.NewSelect().Model(&r).Where("token_hash = ?", hash).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, dbErr(err)
	}
	return &r, nil
}

// useToken marks a live token used: one guarded statement, so a link
// works exactly once however many requests race for it.
func (store) useToken(ctx context.Context, tx bun.IDB, hash, purpose string, now time.Time) (bool, error) {
	res, err := tx.NewUpdate().Model((*tokenRow)(nil)).Set("used_at = ?", now).
		Where("token_hash = ?", hash).Where("purpose = ?", purpose).Where("used_at IS NULL").Where("expires_at > ?", now).Exec(ctx)
	if err != nil {
		return false, dbErr(err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Sessions.

func (store) insertSession(ctx context.Context, tx bun.IDB, r *sessionRow) error {
	_, err := tx.NewInsert().Model(r).Exec(ctx)
	return dbErr(err)
}

func (store) sessionByHash(ctx context.Context, db bun.IDB, hash string) (*sessionRow, error) {
	var r sessionRow
	if err := db.NewSelect().Model(&r).Where("token_hash = ?", hash).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, dbErr(err)
	}
	return &r, nil
}

func (store) touchSession(ctx context.Context, db bun.IDB, id string, now, idleUntil time.Time) error {
	_, err := db.NewUpdate().Model((*sessionRow)(nil)).Set("last_seen_at = ?", now).Set("idle_expires_at = ?", idleUntil).
		Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

func (store) deleteSession(ctx context.Context, db bun.IDB, id string) error {
	_, err := db.NewDelete().Model((*sessionRow)(nil)).Where("id = ?", id).Exec(ctx)
	return dbErr(err)
}

func (store) deleteSessions(ctx context.Context, db bun.IDB, memberID string) error {
	_, err := db.NewDelete().Model((*sessionRow)(nil)).Where("member_id = ?", memberID).Exec(ctx)
	return dbErr(err)
}

// Throttle.

func (store) insertFailure(ctx context.Context, tx bun.IDB, source string, at time.Time) error {
	_, err := tx.NewInsert().Model(&failureRow{Source: source, At: at}).Exec(ctx)
	return dbErr(err)
}

func (store) failuresSince(ctx context.Context, db bun.IDB, source string, since time.Time) ([]time.Time, error) {
	var rows []failureRow
	err := db.NewSelect().Model(&rows).Column("at").Where("source = ?", source).Where("at > ?", since).OrderExpr("at ASC").Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(err)
	}
	out := make([]time.Time, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.At.UTC())
	}
	return out, nil
}

// Attributes.

func (store) attributes(ctx context.Context, db bun.IDB) ([]Attribute, error) {
	var rows []attributeRow
	if err := db.NewSelect().Model(&rows).OrderExpr("position ASC, id ASC").Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(err)
	}
	out := make([]Attribute, 0, len(rows))
	for i := range rows {
		a, err := toAttribute(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (store) attribute(ctx context.Context, db bun.IDB, id string) (Attribute, error) {
	var r attributeRow
	if err := db.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Attribute{}, ErrAttributeNotFound
		}
		return Attribute{}, dbErr(err)
	}
	return toAttribute(&r)
}

func (store) values(ctx context.Context, db bun.IDB, memberIDs []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	if len(memberIDs) == 0 {
		return out, nil
	}
	var rows []valueRow
	if err := db.NewSelect().Model(&rows).Where("member_id IN (?)", bun.In(memberIDs)).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(err)
	}
	for _, r := range rows {
		if out[r.MemberID] == nil {
			out[r.MemberID] = map[string]string{}
		}
		out[r.MemberID][r.AttributeID] = r.Value
	}
	return out, nil
}

// setValue writes one attribute value; "" removes it.
func (store) setValue(ctx context.Context, tx bun.IDB, memberID, attrID, value string) error {
	if _, err := tx.NewDelete().Model((*valueRow)(nil)).Where("member_id = ?", memberID).Where("attribute_id = ?", attrID).Exec(ctx); err != nil {
		return dbErr(err)
	}
	if value == "" {
		return nil
	}
	_, err := tx.NewInsert().Model(&valueRow{MemberID: memberID, AttributeID: attrID, Value: value}).Exec(ctx)
	return dbErr(err)
}

func (store) deleteValues(ctx context.Context, tx bun.IDB, memberID string) error {
	_, err := tx.NewDelete().Model((*valueRow)(nil)).Where("member_id = ?", memberID).Exec(ctx)
	return dbErr(err)
}
