package authz

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// Policy names: Casbin sees roles as "role:<name>" so that a role can never
// be mistaken for a subject ("staff:…", "apikey:…") or the other way round.
const rolePrefix = "role:"

func rolePolicyName(role string) string { return rolePrefix + role }

// Owner-only operations are one more Casbin permission of the owner role,
// on an object that is no area, so that the enforcer decides them too.
const (
	objOwners  = "owners"
	actManage  = "manage"
	ptypeP     = "p"
	ptypeG     = "g"
	stateRowID = 1
)

// roleRow is one row of roles: a custom role's metadata. Its permissions
// are its p rules in casbin_rules, the single source of truth for checks.
type roleRow struct {
	bun.BaseModel `bun:"table:roles"`

	Name      string    `bun:"name,pk"`
	Label     string    `bun:"label"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// stateRow is the one row of authz_state.
type stateRow struct {
	bun.BaseModel `bun:"table:authz_state"`

	ID        int        `bun:"id,pk"`
	Version   string     `bun:"version"`
	UpdatedAt *time.Time `bun:"updated_at"`
}

// readVersion returns the tenant's policy version token.
func readVersion(ctx context.Context, db bun.IDB) (string, error) {
	var v string
	err := db.NewSelect().Model((*stateRow)(nil)).Column("version").Where("id = ?", stateRowID).Scan(ctx, &v)
	if err != nil {
		return "", fmt.Errorf("authz: read policy version: %w", err)
	}
	return v, nil
}

// bumpVersion gives the policy a new random version token. It is the first
// statement of every change: the row lock it takes (MySQL) or the write lock
// the transaction already holds (SQLite) serialises policy changes of a
// tenant, so the checks that follow it (does the role exist, is it still
// assigned) cannot race another change. The token is random rather than a
// counter so that a rolled-back change, or a database restored from a
// backup, can never repeat a token that a cache has seen with other rules.
func bumpVersion(ctx context.Context, tx bun.IDB, now time.Time) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("authz: new policy version: %w", err)
	}
	res, err := tx.NewUpdate().Model((*stateRow)(nil)).
		Set("version = ?", hex.EncodeToString(b)).
		Set("updated_at = ?", now).
		Where("id = ?", stateRowID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("authz: bump policy version: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n != 1 {
		return fmt.Errorf("authz: bump policy version: the authz_state row is missing")
	}
	return nil
}

// getRoleRow returns the custom role name, or ErrRoleNotFound.
func getRoleRow(ctx context.Context, db bun.IDB, name string) (roleRow, error) {
	var r roleRow
	err := db.NewSelect().Model(&r).Where("name = ?", name).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return roleRow{}, ErrRoleNotFound.WithArgs(map[string]any{"Role": name})
	}
	if err != nil {
		return roleRow{}, fmt.Errorf("authz: read role %s: %w", name, err)
	}
	return r, nil
}

func listRoleRows(ctx context.Context, db bun.IDB) ([]roleRow, error) {
	var rows []roleRow
	if err := db.NewSelect().Model(&rows).OrderExpr("name").Scan(ctx); err != nil {
		return nil, fmt.Errorf("authz: list roles: %w", err)
	}
	return rows, nil
}

func insertRoleRow(ctx context.Context, db bun.IDB, r roleRow) error {
	if _, err := db.NewInsert().Model(&r).Exec(ctx); err != nil {
		if dbx.IsDuplicateKey(err) {
			return ErrRoleTaken.WithArgs(map[string]any{"Role": r.Name}).WithCause(err)
		}
		return fmt.Errorf("authz: create role %s: %w", r.Name, err)
	}
	return nil
}

func updateRoleRow(ctx context.Context, db bun.IDB, name, label string, now time.Time) error {
	_, err := db.NewUpdate().Model((*roleRow)(nil)).
		Set("label = ?", label).Set("updated_at = ?", now).
		Where("name = ?", name).Exec(ctx)
	if err != nil {
		return fmt.Errorf("authz: update role %s: %w", name, err)
	}
	return nil
}

func deleteRoleRow(ctx context.Context, db bun.IDB, name string) error {
	if _, err := db.NewDelete().Model((*roleRow)(nil)).Where("name = ?", name).Exec(ctx); err != nil {
		return fmt.Errorf("authz: delete role %s: %w", name, err)
	}
	return nil
}

// customLevels reads the p rules of the tenant's custom roles and
// returns each role's levels.
func customLevels(ctx context.Context, db bun.IDB, tenantID string) (map[string]map[Area]Level, error) {
	var rows []ruleRow
	err := db.NewSelect().Model(&rows).
		Where("ptype = ?", ptypeP).Where("v1 = ?", tenantID).Where("v0 LIKE ?", rolePrefix+"%").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("authz: read role permissions: %w", err)
	}
	perms := map[string]map[Area]map[Action]bool{}
	for _, r := range rows {
		role := strings.TrimPrefix(r.V0, rolePrefix)
		if perms[role] == nil {
			perms[role] = map[Area]map[Action]bool{}
		}
		area := Area(r.V2)
		if perms[role][area] == nil {
			perms[role][area] = map[Action]bool{}
		}
		perms[role][area][Action(r.V3)] = true
	}
	out := make(map[string]map[Area]Level, len(perms))
	for role, areas := range perms {
		out[role] = levelsFrom(func(a Area, act Action) bool { return areas[a][act] })
	}
	return out, nil
}

// assignedRoles returns the role names subject holds in tenantID (one,
// unless the table was edited by hand).
func assignedRoles(ctx context.Context, db bun.IDB, tenantID, subject string) ([]string, error) {
	var names []string
	err := db.NewSelect().Model((*ruleRow)(nil)).Column("v1").
		Where("ptype = ?", ptypeG).Where("v0 = ?", subject).Where("v2 = ?", tenantID).
		OrderExpr("id").Scan(ctx, &names)
	if err != nil {
		return nil, fmt.Errorf("authz: read role of %s: %w", subject, err)
	}
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, rolePrefix)
	}
	return names, nil
}

// holders returns the subjects holding role in tenantID, sorted.
func holders(ctx context.Context, db bun.IDB, tenantID, role string) ([]string, error) {
	var subjects []string
	err := db.NewSelect().Model((*ruleRow)(nil)).Column("v0").
		Where("ptype = ?", ptypeG).Where("v1 = ?", rolePolicyName(role)).Where("v2 = ?", tenantID).
		OrderExpr("v0").Scan(ctx, &subjects)
	if err != nil {
		return nil, fmt.Errorf("authz: read holders of role %s: %w", role, err)
	}
	return subjects, nil
}

// policyRules are the p rules that grant role levels in tenantID: one per
// action each level allows.
func policyRules(tenantID, role string, levels map[Area]Level) [][]string {
	var rules [][]string
	for _, a := range Areas() {
		l := levels[a]
		for _, act := range Actions() {
			if l.Allows(act) {
				rules = append(rules, []string{rolePolicyName(role), tenantID, string(a), string(act)})
			}
		}
	}
	return rules
}

// builtinRules are the built-in roles' rules in tenantID, ptype first.
func builtinRules(tenantID string) [][]string {
	var rules [][]string
	for _, name := range BuiltinRoleNames() {
		levels, _ := builtinLevels(name)
		for _, r := range policyRules(tenantID, name, levels) {
			rules = append(rules, append([]string{ptypeP}, r...))
		}
	}
	return append(rules, []string{ptypeP, rolePolicyName(RoleOwner), tenantID, objOwners, actManage})
}

// levelsFrom turns permissions into levels: an area's level is the highest
// whose actions are all allowed, so a level always means every action up
// to it, as the levels' order says.
func levelsFrom(allowed func(Area, Action) bool) map[Area]Level {
	out := make(map[Area]Level, len(Areas()))
	for _, a := range Areas() {
		l := LevelNone
		for _, act := range Actions() {
			if !allowed(a, act) {
				break
			}
			l = Level(act)
		}
		out[a] = l
	}
	return out
}
