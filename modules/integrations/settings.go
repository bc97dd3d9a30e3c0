package integrations

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/sdk"
	sdkhost "github.com/yoyaku-oss/yoyaku/sdk/host"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// sealedPrefix marks a value sealed by sealer (version 1: AES-256-GCM).
const sealedPrefix = "gcm1:"

// sealerPurpose derives the settings key from the master key, so that this
// key never equals one another module derives or uses directly.
const sealerPurpose = "yoyaku/integrations/plugin-settings/v1"

// sealer seals secret settings with AES-256-GCM. The additional data binds
// a value to its tenant, plugin and key: a sealed value copied to another
// row does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(master []byte) (sealer, error) {
	if len(master) == 0 {
		return sealer{}, nil
	}
	if len(master) != 32 {
		return sealer{}, fmt.Errorf("integrations: SecretKey must be 32 bytes, not %d", len(master))
	}
	key, err := hkdf.Key(sha256.New, master, nil, sealerPurpose, 32)
	if err != nil {
		return sealer{}, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, err
	}
	return sealer{aead: aead}, nil
}

var errNoKey = apperr.Wrap(apperr.KindInternal, "internal", errors.New("integrations: no SecretKey to seal or open secret settings"))

func aad(tenantID, pluginID, key string) []byte {
	return []byte("integrations/setting\x00" + tenantID + "\x00" + pluginID + "\x00" + key)
}

func (s sealer) seal(tenantID, pluginID, key, value string) (string, error) {
	if s.aead == nil {
		return "", errNoKey
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, []byte(value), aad(tenantID, pluginID, key))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

func (s sealer) open(tenantID, pluginID, key, stored string) (string, error) {
	v, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok || s.aead == nil {
		return "", errNoKey
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	n := s.aead.NonceSize()
	if err != nil || len(b) < n {
		return "", apperr.Wrap(apperr.KindInternal, "internal", fmt.Errorf("plugin %s: setting %s cannot be opened", pluginID, key))
	}
	plain, err := s.aead.Open(nil, b[:n], b[n:], aad(tenantID, pluginID, key))
	if err != nil {
		return "", apperr.Wrap(apperr.KindInternal, "internal", fmt.Errorf("plugin %s: setting %s cannot be opened (another master key?)", pluginID, key))
	}
	return string(plain), nil
}

// settingsRow is a tenant's enablement and settings of one plugin: plain
// values of the non-secret settings, sealed values of the secret ones.
type settingsRow struct {
	bun.BaseModel `bun:"table:plugin_settings"`

	PluginID  string    `bun:"plugin_id,pk"`
	Enabled   bool      `bun:"enabled"`
	Values    string    `bun:"setting_values"` // JSON object: key → value
	Secrets   string    `bun:"secret_values"`  // JSON object: key → sealed value
	UpdatedAt time.Time `bun:"updated_at"`
}

func loadSettings(ctx context.Context, db bun.IDB, id string) (*settingsRow, error) {
	var r settingsRow
	err := db.NewSelect().Model(&r).Where("plugin_id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func listSettings(ctx context.Context, db bun.IDB) ([]settingsRow, error) {
	var rows []settingsRow
	if err := db.NewSelect().Model(&rows).Order("plugin_id").Scan(ctx); err != nil {
		return nil, err
	}
	return rows, nil
}

// saveSettings writes r: an insert, or an update when the row exists.
func saveSettings(ctx context.Context, db bun.IDB, r *settingsRow) error {
	_, err := db.NewInsert().Model(r).Exec(ctx)
	if dbx.IsDuplicateKey(err) {
		_, err = db.NewUpdate().Model(r).Column("enabled", "setting_values", "secret_values", "updated_at").WherePK().Exec(ctx)
	}
	return err
}

func decodeMap(s string) map[string]string {
	m := map[string]string{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &m)
	}
	return m
}

func encodeMap(m map[string]string) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// decrypt returns the row's values with the secrets opened.
func (h *Host) decrypt(tenantID, pluginID string, schema []manifest.Setting, r *settingsRow) (map[string]string, error) {
	values := decodeMap(r.Values)
	for k, sealed := range decodeMap(r.Secrets) {
		v, err := h.sealer.open(tenantID, pluginID, k, sealed)
		if err != nil {
			return nil, err
		}
		values[k] = v
	}
	return values, nil
}

// TenantPlugin is an installed plugin as a tenant sees it.
type TenantPlugin struct {
	Status
	Settings []manifest.Setting // the schema
	Enabled  bool
	// Values are the non-secret settings; a secret key is in SecretsSet
	// when a value is stored, and its value is never given out.
	Values     map[string]string
	SecretsSet map[string]bool
	UpdatedAt  time.Time
}

// TenantPlugins lists every installed plugin with the tenant's enablement
// and settings (no secret value).
func (h *Host) TenantPlugins(ctx context.Context, db bun.IDB) ([]TenantPlugin, error) {
	rows, err := listSettings(ctx, db)
	if err != nil {
		return nil, err
	}
	byID := map[string]settingsRow{}
	for _, r := range rows {
		byID[r.PluginID] = r
	}
	var out []TenantPlugin
	for _, st := range h.Plugins() {
		p, _ := h.get(st.ID)
		tp := TenantPlugin{Status: st, Settings: p.m.Settings, Values: map[string]string{}, SecretsSet: map[string]bool{}}
		if r, ok := byID[st.ID]; ok {
			tp.Enabled, tp.UpdatedAt = r.Enabled, r.UpdatedAt
			tp.Values = decodeMap(r.Values)
			for k := range decodeMap(r.Secrets) {
				tp.SecretsSet[k] = true
			}
		}
		out = append(out, tp)
	}
	return out, nil
}

// TenantPlugin returns one installed plugin as the tenant sees it.
func (h *Host) TenantPlugin(ctx context.Context, db bun.IDB, id string) (TenantPlugin, error) {
	list, err := h.TenantPlugins(ctx, db)
	if err != nil {
		return TenantPlugin{}, err
	}
	for _, tp := range list {
		if tp.ID == id {
			return tp, nil
		}
	}
	return TenantPlugin{}, ErrNotFound
}

// Enable enables plugin id for the tenant with values. A secret left out or
// empty keeps its stored value; a non-secret left out or empty is cleared.
// The values are checked against the schema and, when the plugin is
// running, by the plugin's ValidateSettings; then saved (secrets sealed) and
// audited by key, never by secret value, and the running plugin is asked
// to Configure itself for the tenant.
func (h *Host) Enable(ctx context.Context, db bun.IDB, tenantID, id string, values map[string]string) (TenantPlugin, error) {
	p, err := h.get(id)
	if err != nil {
		return TenantPlugin{}, err
	}
	if p.snapshot().State == StateRefused {
		return TenantPlugin{}, ErrRefused.WithArgs(map[string]any{"Plugin": id})
	}
	schema := p.m.Settings
	var merged map[string]string
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		old, err := loadSettings(ctx, tx, id)
		if err != nil {
			return err
		}
		if old == nil {
			old = &settingsRow{PluginID: id, Values: "{}", Secrets: "{}"}
		}
		stored, err := h.decrypt(tenantID, id, schema, old)
		if err != nil {
			return err
		}
		merged = map[string]string{}
		for k, v := range values {
			if v != "" {
				merged[k] = v
			}
		}
		for _, s := range schema {
			if s.Type == manifest.TypeSecret && merged[s.Key] == "" && stored[s.Key] != "" {
				merged[s.Key] = stored[s.Key]
			}
		}
		if err := h.validate(ctx, p, tenantID, schema, merged); err != nil {
			return err
		}
		row := &settingsRow{PluginID: id, Enabled: true, UpdatedAt: h.cfg.Now().UTC()}
		plain, sealed := map[string]string{}, map[string]string{}
		oldSealed := decodeMap(old.Secrets)
		var ch auditlog.Changes
		if !old.Enabled {
			ch.Add("enabled", false, true)
		}
		for _, s := range schema {
			v, ok := merged[s.Key]
			if s.Type != manifest.TypeSecret {
				if ok {
					plain[s.Key] = v
				}
				ch.Add("settings."+s.Key, stored[s.Key], v)
				continue
			}
			if !ok {
				continue
			}
			if v == stored[s.Key] {
				sealed[s.Key] = oldSealed[s.Key] // unchanged: the same sealed value
				continue
			}
			if sealed[s.Key], err = h.sealer.seal(tenantID, id, s.Key, v); err != nil {
				return err
			}
			r, _ := json.Marshal(auditlog.Redacted)
			ch = append(ch, auditlog.Change{Field: "settings." + s.Key, Old: r, New: r})
		}
		row.Values, row.Secrets = encodeMap(plain), encodeMap(sealed)
		if err := saveSettings(ctx, tx, row); err != nil {
			return err
		}
		action := "plugin.settings_update"
		if !old.Enabled {
			action = "plugin.enable"
		}
		_, err = auditlog.Append(ctx, tx, auditlog.Entry{Action: action, ObjectType: "plugin", ObjectID: id, Changes: ch})
		return err
	})
	if err != nil {
		return TenantPlugin{}, err
	}
	h.configure(ctx, p, tenantID, merged)
	return h.TenantPlugin(ctx, db, id)
}

// Disable disables plugin id for the tenant; its settings are kept for a
// later Enable. Disabling a plugin that is not enabled changes nothing.
func (h *Host) Disable(ctx context.Context, db bun.IDB, id string) error {
	if _, err := h.get(id); err != nil {
		return err
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*settingsRow)(nil)).Set("enabled = ?", false).Set("updated_at = ?", h.cfg.Now().UTC()).
			Where("plugin_id = ?", id).Where("enabled = ?", true).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		var ch auditlog.Changes
		ch.Add("enabled", true, false)
		_, err = auditlog.Append(ctx, tx, auditlog.Entry{Action: "plugin.disable", ObjectType: "plugin", ObjectID: id, Changes: ch})
		return err
	})
}

// validate checks values against the schema and, when the plugin runs, by
// its ValidateSettings (a plugin that is down does not block saving).
func (h *Host) validate(ctx context.Context, p *supervised, tenantID string, schema []manifest.Setting, values map[string]string) error {
	problems := manifest.CheckValues(schema, values)
	if len(problems) == 0 && p.snapshot().State == StateRunning {
		err := h.call(ctx, p, "ValidateSettings", func(ctx context.Context, c *sdkhost.Client) (err error) {
			problems, err = c.ValidateSettings(ctx, sdk.Call{TenantID: tenantID, Settings: values})
			return err
		})
		if err != nil {
			return err
		}
	}
	if len(problems) == 0 {
		return nil
	}
	fields := make([]apperr.FieldError, 0, len(problems))
	for _, pr := range problems {
		if pr.Code == "required" {
			fields = append(fields, apperr.Field("settings."+pr.Key, "required", nil))
			continue
		}
		fields = append(fields, apperr.Field("settings."+pr.Key, "plugin_setting_invalid", map[string]any{"Message": pr.Message}))
	}
	return apperr.Invalid(fields...)
}

// configure tells a running plugin about the tenant's new settings; a
// failure is logged (without values), not returned: the settings are saved.
func (h *Host) configure(ctx context.Context, p *supervised, tenantID string, values map[string]string) {
	if p.snapshot().State != StateRunning {
		return
	}
	var res sdk.Configured
	err := h.call(ctx, p, "Configure", func(ctx context.Context, c *sdkhost.Client) (err error) {
		res, err = c.Configure(ctx, sdk.Call{TenantID: tenantID, Settings: maps.Clone(values)})
		return err
	})
	if err != nil || len(res.Problems) > 0 {
		keys := make([]string, 0, len(res.Problems))
		for _, pr := range res.Problems {
			keys = append(keys, pr.Key)
		}
		slices.Sort(keys)
		h.cfg.Logger.WarnContext(ctx, "plugin did not configure itself for the tenant", "plugin_id", p.id, "tenant_id", tenantID, "problem_keys", keys, "err", err)
	}
}
