package tenants

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
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
)

// tenantRow is a row of the control database's tenants table.
type tenantRow struct {
	bun.BaseModel `bun:"table:tenants"`

	ID              string    `bun:"id,pk"`
	Slug            string    `bun:"slug"`
	Name            string    `bun:"name"`
	TimeZone        string    `bun:"time_zone"`
	Locale          string    `bun:"locale"`
	Status          string    `bun:"status"`
	ContactEmails   string    `bun:"contact_emails"`
	Options         string    `bun:"options"`
	DBServer        string    `bun:"db_server"`
	DBName          string    `bun:"db_name"`
	CreatedAt       time.Time `bun:"created_at"`
	UpdatedAt       time.Time `bun:"updated_at"`
	StatusChangedAt time.Time `bun:"status_changed_at"`
}

func toRow(t Tenant) (*tenantRow, error) {
	emails, err := json.Marshal(nonNil(t.ContactEmails))
	if err != nil {
		return nil, err
	}
	opts, err := json.Marshal(nonNil(t.Options))
	if err != nil {
		return nil, err
	}
	return &tenantRow{
		ID: t.ID, Slug: t.Slug, Name: t.Name, TimeZone: t.TimeZone, Locale: t.Locale,
		Status: string(t.Status), ContactEmails: string(emails), Options: string(opts),
		DBServer: t.DB.Server, DBName: t.DB.Name,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(), StatusChangedAt: t.StatusChangedAt.UTC(),
	}, nil
}

func fromRow(r *tenantRow) (Tenant, error) {
	t := Tenant{
		ID: r.ID, Slug: r.Slug, Name: r.Name, TimeZone: r.TimeZone, Locale: r.Locale,
		Status:    Status(r.Status),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), StatusChangedAt: r.StatusChangedAt.UTC(),
		DB: tenantdb.Placement{TenantID: r.ID, Server: r.DBServer, Name: r.DBName},
	}
	if err := json.Unmarshal([]byte(r.ContactEmails), &t.ContactEmails); err != nil {
		return Tenant{}, fmt.Errorf("tenant %s: contact_emails: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Options), &t.Options); err != nil {
		return Tenant{}, fmt.Errorf("tenant %s: options: %w", r.ID, err)
	}
	return t, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// store reads and writes the tenants table. It never begins a transaction.
type store struct{}

func (store) insert(ctx context.Context, db bun.IDB, t Tenant) error {
	row, err := toRow(t)
	if err != nil {
		return err
	}
	if _, err := db.NewInsert().Model(row).Exec(ctx); err != nil {
		if dbx.IsDuplicateKey(err) {
			return ErrSlugTaken.WithCause(err)
		}
		return fmt.Errorf("insert tenant: %w", err)
	}
	return nil
}

func (store) update(ctx context.Context, db bun.IDB, t Tenant) error {
	row, err := toRow(t)
	if err != nil {
		return err
	}
	res, err := db.NewUpdate().Model(row).WherePK().ExcludeColumn("id", "slug", "created_at", "db_server", "db_name").Exec(ctx)
	if err != nil {
		return fmt.Errorf("update tenant: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (store) setStatus(ctx context.Context, db bun.IDB, id string, from, to Status, at time.Time) error {
	res, err := db.NewUpdate().Table("tenants").
		Set("status = ?", string(to)).Set("status_changed_at = ?", at.UTC()).Set("updated_at = ?", at.UTC()).
		Where("id = ?", id).Where("status = ?", string(from)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("set tenant status: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.KindConflict, "tenant_status_changed")
	}
	return nil
}

func (store) delete(ctx context.Context, db bun.IDB, id string) error {
	_, err := db.NewDelete().Table("tenants").Where("id = ?", id).Exec(ctx)
	return err
}

func (store) bySlug(ctx context.Context, db bun.IDB, slug string) (Tenant, error) {
	var row tenantRow
	err := db.NewSelect().Model(&row).Where("slug = ?", slug).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, ErrNotFound
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("select tenant: %w", err)
	}
	return fromRow(&row)
}

func (store) byID(ctx context.Context, db bun.IDB, id string) (Tenant, error) {
	var row tenantRow
	err := db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, ErrNotFound
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("select tenant: %w", err)
	}
	return fromRow(&row)
}

func (store) list(ctx context.Context, db bun.IDB, p ListParams) ([]Tenant, error) {
	var rows []tenantRow
	q := db.NewSelect().Model(&rows).OrderExpr("slug ASC").Limit(int64(p.Limit))
	switch p.Status {
	case "":
		q = q.Where("status IN (?)", bun.List([]string{string(StatusActive), string(StatusSuspended)}))
	case "all":
		q = q.Where("status <> ?", string(statusProvisioning))
	default:
		q = q.Where("status = ?", string(p.Status))
	}
	if p.After != "" {
		q = q.Where("slug > ?", p.After)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	out := make([]Tenant, 0, len(rows))
	for i := range rows {
		t, err := fromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (store) staleProvisioning(ctx context.Context, db bun.IDB, before time.Time) ([]Tenant, error) {
	var rows []tenantRow
	err := db.NewSelect().Model(&rows).Where("status = ?", string(statusProvisioning)).Where("created_at < ?", before.UTC()).Scan(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Tenant, 0, len(rows))
	for i := range rows {
		t, err := fromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// settingRow is a row of a tenant database's settings table.
type settingRow struct {
	bun.BaseModel `bun:"table:settings"`

	Name      string    `bun:"name,pk"`
	Value     string    `bun:"value"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// GetSetting reads a tenant setting from the tenant database db; ok is false
// when it is not set.
func GetSetting(ctx context.Context, db bun.IDB, name string) (value string, ok bool, err error) {
	var row settingRow
	err = db.NewSelect().Model(&row).Where("name = ?", name).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read setting: %w", err)
	}
	return row.Value, true, nil
}

// SetSetting writes a tenant setting to the tenant database db.
func SetSetting(ctx context.Context, db bun.IDB, name, value string, now time.Time) error {
	row := &settingRow{Name: name, Value: value, UpdatedAt: now.UTC()}
	q := db.NewInsert().Model(row)
	if db.Dialect().Name().String() == "mysql" {
		q = q.On("DUPLICATE KEY UPDATE").Set("value = VALUES(value)").Set("updated_at = VALUES(updated_at)")
	} else {
		q = q.On("CONFLICT (name) DO UPDATE").Set("value = EXCLUDED.value").Set("updated_at = EXCLUDED.updated_at")
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("write setting: %w", err)
	}
	return nil
}
