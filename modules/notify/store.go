package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// templateRow is a tenant's own template (mail_templates).
type templateRow struct {
	bun.BaseModel `bun:"table:mail_templates"`

	EventType string    `bun:"event_type,pk"`
	Lang      string    `bun:"lang,pk"`
	Subject   string    `bun:"subject"`
	BodyText  string    `bun:"body_text"`
	BodyHTML  string    `bun:"body_html"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// settingsRow is the tenant's one row of mail settings (mail_settings,
// id 1, made by the migration).
type settingsRow struct {
	bun.BaseModel `bun:"table:mail_settings"`

	ID         int       `bun:"id,pk"`
	SenderName string    `bun:"sender_name"`
	ReplyTo    string    `bun:"reply_to"`
	CopyEvents string    `bun:"copy_events"` // JSON array of event types
	UpdatedAt  time.Time `bun:"updated_at,nullzero"`
}

// deliveryRow records one message (mail_deliveries).
type deliveryRow struct {
	bun.BaseModel `bun:"table:mail_deliveries"`

	EventID   string    `bun:"event_id,pk"`
	Recipient string    `bun:"recipient,pk"`
	EventType string    `bun:"event_type"`
	IsCopy    bool      `bun:"is_copy"`
	Lang      string    `bun:"lang"`
	Status    string    `bun:"status"`
	MessageID string    `bun:"message_id"`
	Attempts  int       `bun:"attempts"`
	Error     string    `bun:"error"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
	SentAt    time.Time `bun:"sent_at,nullzero"`
}

func fromDeliveryRow(r deliveryRow) Delivery {
	return Delivery{
		EventID: r.EventID, EventType: r.EventType, Recipient: r.Recipient, Copy: r.IsCopy, Lang: r.Lang,
		Status: DeliveryStatus(r.Status), MessageID: r.MessageID, Attempts: r.Attempts, Error: r.Error,
		CreatedAt: dbx.UTC(r.CreatedAt), UpdatedAt: dbx.UTC(r.UpdatedAt), SentAt: dbx.UTC(r.SentAt),
	}
}

func fromSettingsRow(r settingsRow) (Settings, error) {
	st := Settings{SenderName: r.SenderName, ReplyTo: r.ReplyTo, UpdatedAt: dbx.UTC(r.UpdatedAt)}
	if err := json.Unmarshal([]byte(r.CopyEvents), &st.CopyEvents); err != nil {
		return Settings{}, fmt.Errorf("mail_settings.copy_events: %w", err)
	}
	if st.CopyEvents == nil {
		st.CopyEvents = []string{}
	}
	return st, nil
}

// store reads and writes the mail tables. It never begins a transaction;
// it turns driver errors into apperr kinds.
type store struct{}

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

// template returns the tenant's own template of typ in lang, or false.
func (store) template(ctx context.Context, db bun.IDB, typ, lang string) (templateRow, bool, error) {
	var r templateRow
	err := db.NewSelect().Model(&r).Where("event_type = ?", typ).Where("lang = ?", lang).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return templateRow{}, false, nil
	}
	if err != nil {
		return templateRow{}, false, dbErr(err)
	}
	return r, true, nil
}

// templates returns all the tenant's own templates.
func (store) templates(ctx context.Context, db bun.IDB) ([]templateRow, error) {
	var rows []templateRow
	if err := db.NewSelect().Model(&rows).OrderExpr("event_type, lang").Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(err)
	}
	return rows, nil
}

// putTemplate inserts or replaces the tenant's template of r's type and
// language. Run it in the transaction that read the old one.
func (store) putTemplate(ctx context.Context, db bun.IDB, r templateRow, exists bool) error {
	update := func() error {
		_, err := db.NewUpdate().Model(&r).WherePK().Column("subject", "body_text", "body_html", "updated_at").Exec(ctx)
		return dbErr(err)
	}
	if exists {
		return update()
	}
	_, err := db.NewInsert().Model(&r).Exec(ctx)
	if dbx.IsDuplicateKey(err) { // saved at the same moment by someone else: last one wins
		return update()
	}
	return dbErr(err)
}

// deleteTemplate removes the tenant's template; it reports whether there
// was one.
func (store) deleteTemplate(ctx context.Context, db bun.IDB, typ, lang string) (bool, error) {
	res, err := db.NewDelete().Model((*templateRow)(nil)).Where("event_type = ?", typ).Where("lang = ?", lang).Exec(ctx)
	if err != nil {
		return false, dbErr(err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// settings reads the settings row; forUpdate locks it (MySQL; SQLite's
// write transaction holds the database already).
func (store) settings(ctx context.Context, db bun.IDB, forUpdate bool) (Settings, error) {
	var r settingsRow
	q := db.NewSelect().Model(&r).Where("id = 1")
	if forUpdate && db.Dialect().Name() == dialect.MySQL {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return Settings{}, dbErr(err)
	}
	st, err := fromSettingsRow(r)
	return st, dbErr(err)
}

func (store) putSettings(ctx context.Context, db bun.IDB, st Settings) error {
	events, err := json.Marshal(st.CopyEvents)
	if err != nil {
		return dbErr(err)
	}
	r := settingsRow{ID: 1, SenderName: st.SenderName, ReplyTo: st.ReplyTo, CopyEvents: string(events), UpdatedAt: st.UpdatedAt}
	_, err = db.NewUpdate().Model(&r).WherePK().Column("sender_name", "reply_to", "copy_events", "updated_at").Exec(ctx)
	return dbErr(err)
}

// deliveries returns the records of event eventID, keyed by recipient.
func (store) eventDeliveries(ctx context.Context, db bun.IDB, eventID string) (map[string]deliveryRow, error) {
	var rows []deliveryRow
	if err := db.NewSelect().Model(&rows).Where("event_id = ?", eventID).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(err)
	}
	out := make(map[string]deliveryRow, len(rows))
	for _, r := range rows {
		out[r.Recipient] = r
	}
	return out, nil
}

// recordDelivery writes the outcome of one attempt: a new record, or the
// next attempt of an existing one.
func (store) recordDelivery(ctx context.Context, db bun.IDB, r deliveryRow, exists bool) error {
	update := func() error {
		q := db.NewUpdate().Model((*deliveryRow)(nil)).
			Set("status = ?", r.Status).Set("message_id = ?", r.MessageID).Set("error = ?", r.Error).
			Set("attempts = attempts + 1").Set("updated_at = ?", r.UpdatedAt).Set("lang = ?", r.Lang).
			Where("event_id = ?", r.EventID).Where("recipient = ?", r.Recipient)
		if !r.SentAt.IsZero() {
			q = q.Set("sent_at = ?", r.SentAt)
		}
		_, err := q.Exec(ctx)
		return dbErr(err)
	}
	if exists {
		return update()
	}
	r.Attempts = 1
	r.CreatedAt = r.UpdatedAt
	_, err := db.NewInsert().Model(&r).Exec(ctx)
	if dbx.IsDuplicateKey(err) {
		return update()
	}
	return dbErr(err)
}

// listDeliveries returns the records f selects, newest first.
func (store) listDeliveries(ctx context.Context, db bun.IDB, f DeliveryFilter) ([]Delivery, error) {
	var rows []deliveryRow
	q := db.NewSelect().Model(&rows).OrderExpr("updated_at DESC, event_id, recipient").Limit(int64(f.Limit))
	if f.EventID != "" {
		q = q.Where("event_id = ?", f.EventID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if err := q.Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(err)
	}
	out := make([]Delivery, 0, len(rows))
	for _, r := range rows {
		out = append(out, fromDeliveryRow(r))
	}
	return out, nil
}
