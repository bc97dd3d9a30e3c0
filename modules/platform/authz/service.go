package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// modelText is the Casbin model: RBAC with domains. A subject holds a role in
// a domain (the tenant id); a role is allowed an action on an object (an
// area) in a domain. Allow-only: there are no deny rules to reason about.
const modelText = `
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
`

// Config configures an Authorizer.
type Config struct {
	// MaxTenants is how many tenants' enforcers are kept in memory at most;
	// the least recently used one goes first (default 1024). An evicted
	// tenant's next check rebuilds its enforcer from its database.
	MaxTenants int
	// Now stamps roles' created_at and updated_at (default time.Now).
	Now func() time.Time
}

// Authorizer checks permissions and manages roles and their assignments. It
// holds no database: every method takes the tenant's bun.IDB (from
// tenantdb.From, or a transaction of the caller's use case, in which case a
// change commits or rolls back with it). It is safe for concurrent use;
// create one per process and inject it.
type Authorizer struct {
	now   func() time.Time
	cache *enforcerCache
}

// New returns an Authorizer.
func New(cfg Config) *Authorizer {
	if cfg.MaxTenants <= 0 {
		cfg.MaxTenants = 1024
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authorizer{now: cfg.Now, cache: newEnforcerCache(cfg.MaxTenants)}
}

// checkTenant refuses an empty tenant id: it is the Casbin domain of every
// rule, and a rule without one would hold in no tenant. Callers pass the id
// of the tenant whose database db is; an empty one is a bug, not an input.
func checkTenant(tenantID string) error {
	if tenantID == "" {
		return fmt.Errorf("authz: no tenant id")
	}
	return nil
}

// stamp is now as both engines store it: UTC, to the microsecond.
func (a *Authorizer) stamp() time.Time { return a.now().UTC().Truncate(time.Microsecond) }

// Can reports whether subject may do action in area of tenant tenantID,
// whose database db is. A subject without a role may do nothing.
func (a *Authorizer) Can(ctx context.Context, db bun.IDB, tenantID, subject string, area Area, action Action) (bool, error) {
	if !area.Valid() || !action.Valid() {
		return false, fmt.Errorf("authz: unknown area %q or action %q", area, action)
	}
	e, err := a.enforcer(ctx, db, tenantID, subject)
	if err != nil {
		return false, err
	}
	return enforce(e, subject, tenantID, string(area), string(action))
}

// Levels returns subject's level in every area, for the console to show
// only what the user can use. It decides each area as Can does.
func (a *Authorizer) Levels(ctx context.Context, db bun.IDB, tenantID, subject string) (map[Area]Level, error) {
	e, err := a.enforcer(ctx, db, tenantID, subject)
	if err != nil {
		return nil, err
	}
	var failed error
	levels := levelsFrom(func(area Area, act Action) bool {
		ok, err := enforce(e, subject, tenantID, string(area), string(act))
		if err != nil && failed == nil {
			failed = err
		}
		return ok
	})
	if failed != nil {
		return nil, failed
	}
	return levels, nil
}

// CanManageOwners reports whether subject may do what only owners may:
// assign or remove the owner role, and change or disable an owner's
// account. Only the owner role may; admin, whose areas are the same, may
// not. The identity module asks this before such an operation.
func (a *Authorizer) CanManageOwners(ctx context.Context, db bun.IDB, tenantID, subject string) (bool, error) {
	e, err := a.enforcer(ctx, db, tenantID, subject)
	if err != nil {
		return false, err
	}
	return enforce(e, subject, tenantID, objOwners, actManage)
}

func enforce(e *casbin.SyncedEnforcer, sub, dom, obj, act string) (bool, error) {
	ok, err := e.Enforce(sub, dom, obj, act)
	if err != nil {
		return false, fmt.Errorf("authz: enforce: %w", err)
	}
	return ok, nil
}

// enforcer returns tenantID's enforcer, rebuilt when the stored policy
// version differs from the cached one: one single-row read per check.
//
// Reloads take no lock: a caller that finds the cache stale builds its own
// enforcer with its own db. A shared lock (or singleflight) around the
// reload would deadlock when a caller inside a transaction holds the only
// writer connection (SQLite) or the last pooled one while another caller's
// reload waits for it. The version is read before the rules, so an entry's
// rules are never older than its version says: a change committed between
// the two reads makes the entry look stale and it is simply rebuilt again.
// An enforcer built inside a caller's transaction is cached under that
// transaction's token, which no other reader sees until it commits; if it
// rolls back, the random token never comes back, so the entry is never used
// again.
func (a *Authorizer) enforcer(ctx context.Context, db bun.IDB, tenantID, subject string) (*casbin.SyncedEnforcer, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, err
	}
	if !ValidSubject(subject) {
		// Refused rather than answered: Casbin treats a name as holding
		// itself, so a subject spelt "role:owner" would pass every check.
		return nil, fmt.Errorf("authz: invalid subject %q", subject)
	}
	version, err := readVersion(ctx, db)
	if err != nil {
		return nil, err
	}
	if e := a.cache.get(tenantID, version); e != nil {
		return e, nil
	}
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("authz: model: %w", err)
	}
	src := &snapshotSource{ctx: ctx, db: db, extra: builtinRules(tenantID)}
	e, err := casbin.NewSyncedEnforcer(m, src)
	if err != nil {
		return nil, fmt.Errorf("authz: load the policy of tenant %s: %w", tenantID, err)
	}
	// Detach the snapshot from the request's connection and context; the
	// enforcer is never written to, only replaced.
	e.SetAdapter(nil)
	e.EnableAutoSave(false)
	a.cache.put(tenantID, version, e)
	return e, nil
}

// Roles returns the built-in roles, most powerful first, then the tenant's
// custom roles by name.
func (a *Authorizer) Roles(ctx context.Context, db bun.IDB, tenantID string) ([]Role, error) {
	rows, err := listRoleRows(ctx, db)
	if err != nil {
		return nil, err
	}
	levels, err := customLevels(ctx, db, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]Role, 0, len(BuiltinRoleNames())+len(rows))
	for _, name := range BuiltinRoleNames() {
		out = append(out, builtinRole(name))
	}
	for _, r := range rows {
		out = append(out, toRole(r, levels[r.Name]))
	}
	return out, nil
}

// Role returns the role name, built-in or custom, or ErrRoleNotFound.
func (a *Authorizer) Role(ctx context.Context, db bun.IDB, tenantID, name string) (Role, error) {
	if IsBuiltin(name) {
		return builtinRole(name), nil
	}
	r, err := getRoleRow(ctx, db, name)
	if err != nil {
		return Role{}, err
	}
	levels, err := customLevels(ctx, db, tenantID)
	if err != nil {
		return Role{}, err
	}
	return toRole(r, levels[name]), nil
}

func builtinRole(name string) Role {
	levels, _ := builtinLevels(name)
	return Role{Name: name, Builtin: true, Levels: levels}
}

func toRole(r roleRow, levels map[Area]Level) Role {
	if levels == nil {
		levels = levelsFrom(func(Area, Action) bool { return false })
	}
	return Role{Name: r.Name, Label: r.Label, Levels: levels, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// CreateRole creates custom role name in tenantID. The name is 1–40 of
// [a-z0-9_-] and no built-in role's; an invalid name, label or level gives
// a validation error and stores nothing; an existing name gives
// ErrRoleTaken.
func (a *Authorizer) CreateRole(ctx context.Context, db bun.IDB, tenantID, name string, spec RoleSpec) (Role, error) {
	if err := checkTenant(tenantID); err != nil {
		return Role{}, err
	}
	var v apperr.Validator
	switch {
	case !roleNameRE.MatchString(name):
		v.Add("name", "role_name", nil)
	case IsBuiltin(name):
		v.Add("name", "role_name_builtin", map[string]any{"Role": name})
	}
	label, levels := checkSpec(&v, spec)
	if err := v.Err(); err != nil {
		return Role{}, err
	}
	now := a.stamp()
	row := roleRow{Name: name, Label: label, CreatedAt: now, UpdatedAt: now}
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := bumpVersion(ctx, tx, now); err != nil {
			return err
		}
		if err := insertRoleRow(ctx, tx, row); err != nil {
			return err
		}
		return NewAdapter(tx).AddPoliciesCtx(ctx, ptypeP, ptypeP, policyRules(tenantID, name, levels))
	})
	if err != nil {
		return Role{}, err
	}
	return toRole(row, levels), nil
}

// UpdateRole replaces the label and levels of custom role name. Built-in
// roles give ErrRoleBuiltin; an unknown role ErrRoleNotFound.
func (a *Authorizer) UpdateRole(ctx context.Context, db bun.IDB, tenantID, name string, spec RoleSpec) (Role, error) {
	if err := checkTenant(tenantID); err != nil {
		return Role{}, err
	}
	if IsBuiltin(name) {
		return Role{}, ErrRoleBuiltin.WithArgs(map[string]any{"Role": name})
	}
	var v apperr.Validator
	label, levels := checkSpec(&v, spec)
	if err := v.Err(); err != nil {
		return Role{}, err
	}
	now := a.stamp()
	var row roleRow
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := bumpVersion(ctx, tx, now); err != nil {
			return err
		}
		var err error
		if row, err = getRoleRow(ctx, tx, name); err != nil {
			return err
		}
		if err := updateRoleRow(ctx, tx, name, label, now); err != nil {
			return err
		}
		ad := NewAdapter(tx)
		if err := ad.RemoveFilteredPolicyCtx(ctx, ptypeP, ptypeP, 0, rolePolicyName(name)); err != nil {
			return err
		}
		return ad.AddPoliciesCtx(ctx, ptypeP, ptypeP, policyRules(tenantID, name, levels))
	})
	if err != nil {
		return Role{}, err
	}
	row.Label, row.UpdatedAt = label, now
	return toRole(row, levels), nil
}

// DeleteRole deletes custom role name. A role still assigned to anyone gives
// ErrRoleInUse (with the number of holders as Args["Count"]); built-in roles
// give ErrRoleBuiltin; an unknown role ErrRoleNotFound.
func (a *Authorizer) DeleteRole(ctx context.Context, db bun.IDB, tenantID, name string) error {
	if err := checkTenant(tenantID); err != nil {
		return err
	}
	if IsBuiltin(name) {
		return ErrRoleBuiltin.WithArgs(map[string]any{"Role": name})
	}
	now := a.stamp()
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := bumpVersion(ctx, tx, now); err != nil {
			return err
		}
		if _, err := getRoleRow(ctx, tx, name); err != nil {
			return err
		}
		// Checked after the version bump, which serialises policy changes:
		// no assignment can slip in between this check and the delete.
		subjects, err := holders(ctx, tx, tenantID, name)
		if err != nil {
			return err
		}
		if len(subjects) > 0 {
			return ErrRoleInUse.WithArgs(map[string]any{"Role": name, "Count": len(subjects)})
		}
		if err := NewAdapter(tx).RemoveFilteredPolicyCtx(ctx, ptypeP, ptypeP, 0, rolePolicyName(name)); err != nil {
			return err
		}
		return deleteRoleRow(ctx, tx, name)
	})
}

// Assign gives subject ("staff:<id>" or "apikey:<id>") role in tenantID,
// replacing the role it had: a subject holds exactly one role. An unknown
// role gives ErrRoleNotFound. Whether the caller may hand out this role
// (only owners may appoint owners: CanManageOwners) is the caller's check.
func (a *Authorizer) Assign(ctx context.Context, db bun.IDB, tenantID, subject, role string) error {
	if err := checkTenant(tenantID); err != nil {
		return err
	}
	var v apperr.Validator
	v.Check(ValidSubject(subject), "subject", "authz_subject", nil)
	v.Check(role != "", "role", "required", nil)
	if err := v.Err(); err != nil {
		return err
	}
	now := a.stamp()
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := bumpVersion(ctx, tx, now); err != nil {
			return err
		}
		if !IsBuiltin(role) {
			if _, err := getRoleRow(ctx, tx, role); err != nil {
				return err
			}
		}
		ad := NewAdapter(tx)
		if err := ad.RemoveFilteredPolicyCtx(ctx, ptypeG, ptypeG, 0, subject); err != nil {
			return err
		}
		return ad.AddPolicyCtx(ctx, ptypeG, ptypeG, []string{subject, rolePolicyName(role), tenantID})
	})
}

// Unassign takes subject's role away (nothing happens when it has none):
// from then on it may do nothing. Do it when an account or key is deleted.
func (a *Authorizer) Unassign(ctx context.Context, db bun.IDB, tenantID, subject string) error {
	if err := checkTenant(tenantID); err != nil {
		return err
	}
	var v apperr.Validator
	v.Check(ValidSubject(subject), "subject", "authz_subject", nil)
	if err := v.Err(); err != nil {
		return err
	}
	now := a.stamp()
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := bumpVersion(ctx, tx, now); err != nil {
			return err
		}
		return NewAdapter(tx).RemoveFilteredPolicyCtx(ctx, ptypeG, ptypeG, 0, subject)
	})
}

// RoleOf returns the role subject holds in tenantID; ok is false when it
// holds none. It reads the database, not the cache.
func (a *Authorizer) RoleOf(ctx context.Context, db bun.IDB, tenantID, subject string) (role string, ok bool, err error) {
	names, err := assignedRoles(ctx, db, tenantID, subject)
	if err != nil {
		return "", false, err
	}
	switch len(names) {
	case 0:
		return "", false, nil
	case 1:
		return names[0], true, nil
	}
	return "", false, fmt.Errorf("authz: %s holds %d roles (%s); assign one again", subject, len(names), strings.Join(names, ", "))
}

// Holders returns the subjects that hold role in tenantID, sorted (e.g. to
// refuse removing the last owner, or to list who a custom role is given to).
func (a *Authorizer) Holders(ctx context.Context, db bun.IDB, tenantID, role string) ([]string, error) {
	return holders(ctx, db, tenantID, role)
}

// maxLabelLen is the longest label of a custom role, in characters.
const maxLabelLen = 100

// checkSpec validates spec into v and returns the trimmed label and the
// levels of every area (none where spec leaves one out). Field errors come
// in a stable order: label, then the areas by name.
func checkSpec(v *apperr.Validator, spec RoleSpec) (string, map[Area]Level) {
	label := strings.TrimSpace(spec.Label)
	switch {
	case label == "":
		v.Add("label", "required", nil)
	case utf8.RuneCountInString(label) > maxLabelLen:
		v.Add("label", "max", map[string]any{"Param": fmt.Sprint(maxLabelLen)})
	case strings.ContainsFunc(label, unicode.IsControl):
		v.Add("label", "nocontrol", nil)
	}
	levels := make(map[Area]Level, len(Areas()))
	for _, a := range Areas() {
		levels[a] = LevelNone
	}
	keys := make([]Area, 0, len(spec.Levels))
	for a := range spec.Levels {
		keys = append(keys, a)
	}
	slices.Sort(keys)
	for _, a := range keys {
		l := spec.Levels[a]
		field := "levels." + string(a)
		switch {
		case !a.Valid():
			v.Add(field, "authz_area", nil)
		case !l.Valid():
			v.Add(field, "authz_level", nil)
		case !l.AllowedIn(a):
			v.Add(field, "authz_level_area", map[string]any{"Max": string(a.MaxLevel())})
		default:
			levels[a] = l
		}
	}
	return label, levels
}
