// Package authz decides what a staff account or an API key may do in its
// tenant: role-based access control with Casbin (RBAC with domains, the
// domain being the tenant id), its policy stored in the tenant's own database
// through a bun adapter (Adapter).
//
// The console and the tenant API are divided into areas (reservations,
// members, menus, schedule, mail, settings, staff, audit). A role grants each
// area a level — none < view < edit < csv — and a level allows every action
// up to it: view, edit and csv (CSV export). csv exists only for reservations
// and members: export is a right of its own, which Japanese tenants withhold
// from, say, an outsourced call centre that still edits bookings.
//
// Every subject (staff:<id>, apikey:<id>) holds exactly one role: one of the
// four built-in roles (owner, admin, staff, viewer), which cannot be changed,
// or a custom role of the tenant, which sets a level per area.
//
// Policy lives in the tenant database: casbin_rules holds the custom roles'
// permissions and every assignment, roles holds the custom roles' labels,
// and authz_state holds a version token that every change replaces in the
// transaction of the change. The Authorizer keeps one Casbin enforcer per
// tenant in memory, keyed by that token: each check reads the token (one
// indexed single-row query) and rebuilds the enforcer when another process —
// or a transaction of this one — has changed it. So several server processes
// may share a tenant database and see each other's role changes at the next
// request, without a restart or a message bus.
package authz

import (
	"regexp"
	"slices"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Area is a part of the console and API that a role grants a level in.
type Area string

// The areas, in the order the console shows them.
const (
	AreaReservations Area = "reservations"
	AreaMembers      Area = "members"
	AreaMenus        Area = "menus"
	AreaSchedule     Area = "schedule"
	AreaMail         Area = "mail"
	AreaSettings     Area = "settings"
	AreaStaff        Area = "staff"
	AreaAudit        Area = "audit"
)

// Areas returns every area in display order (a new slice each call).
func Areas() []Area {
	return []Area{AreaReservations, AreaMembers, AreaMenus, AreaSchedule, AreaMail, AreaSettings, AreaStaff, AreaAudit}
}

// Valid reports whether a is a known area.
func (a Area) Valid() bool { return slices.Contains(Areas(), a) }

// MaxLevel is the highest level a role can have in a: csv for reservations
// and members, the areas with a CSV export; edit everywhere else.
func (a Area) MaxLevel() Level {
	if a == AreaReservations || a == AreaMembers {
		return LevelCSV
	}
	return LevelEdit
}

// Level is what a role may do in an area. Levels are ordered
// none < view < edit < csv, and a level allows every action up to it.
type Level string

// The levels, lowest first.
const (
	LevelNone Level = "none"
	LevelView Level = "view"
	LevelEdit Level = "edit"
	LevelCSV  Level = "csv" // edit, and export as CSV
)

// AllLevels returns the levels, lowest first (a new slice each call).
func AllLevels() []Level { return []Level{LevelNone, LevelView, LevelEdit, LevelCSV} }

// Valid reports whether l is a known level.
func (l Level) Valid() bool { return slices.Contains(AllLevels(), l) }

// rank is l's position in the order; -1 for an unknown level.
func (l Level) rank() int { return slices.Index(AllLevels(), l) }

// Allows reports whether level l permits act.
func (l Level) Allows(act Action) bool {
	return act.Valid() && l.rank() >= Level(act).rank()
}

// AllowedIn reports whether a role may hold level l in area a.
func (l Level) AllowedIn(a Area) bool {
	return l.Valid() && a.Valid() && l.rank() <= a.MaxLevel().rank()
}

// Action is what a check asks about. Each action has the name of the lowest
// level that allows it.
type Action string

// The actions.
const (
	ActionView Action = "view"
	ActionEdit Action = "edit"
	ActionCSV  Action = "csv" // export as CSV
)

// Actions returns the actions in level order (a new slice each call).
func Actions() []Action { return []Action{ActionView, ActionEdit, ActionCSV} }

// Valid reports whether act is a known action.
func (act Action) Valid() bool { return slices.Contains(Actions(), act) }

// The built-in roles.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleStaff  = "staff"
	RoleViewer = "viewer"
)

// builtinLevels defines the built-in roles. It is a function, not a
// package variable, so no caller can change a built-in role at run time.
//
// The choices:
//   - owner: the top level of every area (csv where export exists, edit
//     elsewhere), and alone may manage owners (CanManageOwners): appoint or
//     remove an owner, change an owner's account. A tenant's contract
//     holder stays in control of who else holds full control.
//   - admin: the same levels as owner — runs the whole tenant, exports
//     included — but none of the owner-only operations.
//   - staff: the front desk. Edits reservations, members and the schedule,
//     sees menus and mail templates, and nothing of settings, staff accounts
//     or the operation log. No CSV export: bulk export of customers'
//     personal data is the right an owner grants deliberately, with a custom
//     role, not one every desk account has.
//   - viewer: reads reservations, members, menus and the schedule (e.g. a
//     manager's read-only account or a reporting API key); nothing else.
func builtinLevels(role string) (map[Area]Level, bool) {
	switch role {
	case RoleOwner, RoleAdmin:
		m := make(map[Area]Level, len(Areas()))
		for _, a := range Areas() {
			m[a] = a.MaxLevel()
		}
		return m, true
	case RoleStaff:
		return map[Area]Level{
			AreaReservations: LevelEdit,
			AreaMembers:      LevelEdit,
			AreaMenus:        LevelView,
			AreaSchedule:     LevelEdit,
			AreaMail:         LevelView,
			AreaSettings:     LevelNone,
			AreaStaff:        LevelNone,
			AreaAudit:        LevelNone,
		}, true
	case RoleViewer:
		return map[Area]Level{
			AreaReservations: LevelView,
			AreaMembers:      LevelView,
			AreaMenus:        LevelView,
			AreaSchedule:     LevelView,
			AreaMail:         LevelNone,
			AreaSettings:     LevelNone,
			AreaStaff:        LevelNone,
			AreaAudit:        LevelNone,
		}, true
	}
	return nil, false
}

// BuiltinRoleNames returns the built-in roles' names, most powerful first.
func BuiltinRoleNames() []string { return []string{RoleOwner, RoleAdmin, RoleStaff, RoleViewer} }

// IsBuiltin reports whether name is a built-in role.
func IsBuiltin(name string) bool { return slices.Contains(BuiltinRoleNames(), name) }

var (
	subjectRE  = regexp.MustCompile(`^(staff|apikey):[A-Za-z0-9_.-]{1,64}$`)
	roleNameRE = regexp.MustCompile(`^[a-z0-9_-]{1,40}$`)
)

// Subject names for the two kinds of principal.
const (
	subjectStaff  = "staff:"
	subjectAPIKey = "apikey:"
)

// StaffSubject is the policy subject of staff account id.
func StaffSubject(id string) string { return subjectStaff + id }

// APIKeySubject is the policy subject of API key id.
func APIKeySubject(id string) string { return subjectAPIKey + id }

// ValidSubject reports whether s is "staff:<id>" or "apikey:<id>", the id
// being 1–64 of [A-Za-z0-9_.-]. Only such subjects can hold a role: a
// role's own policy name ("role:owner") is never accepted as a subject.
func ValidSubject(s string) bool { return subjectRE.MatchString(s) }

// Role is a built-in or custom role.
type Role struct {
	Name    string
	Label   string // custom roles; empty for built-in ones, whose label is the catalog's authz.role.<name>
	Builtin bool
	Levels  map[Area]Level // every area, none included
	// CreatedAt and UpdatedAt are zero for built-in roles.
	CreatedAt, UpdatedAt time.Time
}

// RoleSpec is what a custom role sets: its label and a level per area. An
// area left out of Levels gets none (and so does an area added by a later
// release to the roles created before it).
type RoleSpec struct {
	Label  string
	Levels map[Area]Level
}

// Errors of the role operations (compare with errors.Is).
var (
	// ErrRoleNotFound: no built-in or custom role has that name.
	ErrRoleNotFound = apperr.New(apperr.KindNotFound, "role_not_found")
	// ErrRoleTaken: a custom role of that name exists already.
	ErrRoleTaken = apperr.New(apperr.KindConflict, "role_name_taken")
	// ErrRoleInUse: the role is still assigned to staff accounts or API keys.
	ErrRoleInUse = apperr.New(apperr.KindConflict, "role_in_use")
	// ErrRoleBuiltin: built-in roles cannot be changed or deleted.
	ErrRoleBuiltin = apperr.New(apperr.KindConflict, "role_builtin")
)
