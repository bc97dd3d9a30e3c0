package identity

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
)

// RolePolicy is what the roles page and the staff detail page need of the
// authorization policy beyond Permissions (platform/authz's Authorizer
// implements it). Every method takes the tenant's database or a
// transaction of the caller's, so a role change commits with its
// operation-log entry.
type RolePolicy interface {
	Roles(ctx context.Context, db bun.IDB, tenantID string) ([]authz.Role, error)
	Role(ctx context.Context, db bun.IDB, tenantID, name string) (authz.Role, error)
	CreateRole(ctx context.Context, db bun.IDB, tenantID, name string, spec authz.RoleSpec) (authz.Role, error)
	UpdateRole(ctx context.Context, db bun.IDB, tenantID, name string, spec authz.RoleSpec) (authz.Role, error)
	DeleteRole(ctx context.Context, db bun.IDB, tenantID, name string) error
	Holders(ctx context.Context, db bun.IDB, tenantID, role string) ([]string, error)
	Assign(ctx context.Context, db bun.IDB, tenantID, subject, role string) error
	CanManageOwners(ctx context.Context, db bun.IDB, tenantID, subject string) (bool, error)
}

// roleView is one row of the roles page: a role with its level in every
// area, in the order of authz.Areas.
type roleView struct {
	Name, Label, Description string
	Builtin                  bool
	Levels                   []authz.Level
	Holders                  int
}

// roleFormView is the create or edit form of a custom role, with what the
// user typed and the message of each field in error.
type roleFormView struct {
	Name, Label           string
	NameError, LabelError string
	Areas                 []areaChoice
}

// areaChoice is the level select of one area: only the levels the area
// allows (csv for reservations and members alone).
type areaChoice struct {
	Area    authz.Area
	Options []levelChoice
	Error   string
}

type levelChoice struct {
	Level    authz.Level
	Selected bool
}

// roleLabel is what a person reads for a role: the catalog's name of a
// built-in role, the tenant's label of a custom one.
func (k *Console) roleLabel(c *gin.Context, r authz.Role) string {
	if r.Builtin {
		return k.t(c, "authz.role."+r.Name, nil)
	}
	if r.Label != "" {
		return r.Label
	}
	return r.Name
}

func toRoleView(r authz.Role) roleView {
	v := roleView{Name: r.Name, Label: r.Label, Builtin: r.Builtin}
	for _, a := range authz.Areas() {
		l := r.Levels[a]
		if l == "" {
			l = authz.LevelNone
		}
		v.Levels = append(v.Levels, l)
	}
	return v
}

// newRoleForm builds the form from levels (none where missing) and the
// field errors of a refused submission.
func newRoleForm(name, label string, levels map[authz.Area]authz.Level, fields map[string]string) roleFormView {
	f := roleFormView{Name: name, Label: label, NameError: fields["name"], LabelError: fields["label"]}
	for _, a := range authz.Areas() {
		ac := areaChoice{Area: a, Error: fields["levels."+string(a)]}
		cur := levels[a]
		for _, l := range authz.AllLevels() {
			if l.AllowedIn(a) {
				ac.Options = append(ac.Options, levelChoice{Level: l, Selected: l == cur || (cur == "" && l == authz.LevelNone)})
			}
		}
		f.Areas = append(f.Areas, ac)
	}
	return f
}

// roleSpecFrom reads the label and a level_<area> select per area.
func roleSpecFrom(c *gin.Context) authz.RoleSpec {
	spec := authz.RoleSpec{Label: strings.TrimSpace(c.PostForm("label")), Levels: map[authz.Area]authz.Level{}}
	for _, a := range authz.Areas() {
		if v, ok := c.GetPostForm("level_" + string(a)); ok {
			spec.Levels[a] = authz.Level(strings.TrimSpace(v))
		}
	}
	return spec
}

// canEdit reports whether the signed-in user may change things in area
// (the page shows its forms only then; the routes check again).
func (k *Console) canEdit(c *gin.Context, r req, area authz.Area) bool {
	p, _ := PrincipalFrom(c.Request.Context())
	ok, err := k.cfg.Perms.Can(c.Request.Context(), r.db, r.tenant.ID, p.Subject(), area, authz.ActionEdit)
	return err == nil && ok
}

// roleChanges are the differences between two versions of a custom role
// (a zero Role for none), for the operation log.
func roleChanges(old, next authz.Role) auditlog.Changes {
	var ch auditlog.Changes
	val := func(r authz.Role, v string) any {
		if r.Name == "" {
			return nil
		}
		return v
	}
	ch.Add("label", val(old, old.Label), val(next, next.Label))
	for _, a := range authz.Areas() {
		ch.Add("levels."+string(a), val(old, string(old.Levels[a])), val(next, string(next.Levels[a])))
	}
	return ch
}

// rolesDone is the flash message after a redirect (?done=...); the query
// names a message, never carries its text.
func rolesDone(done string) string {
	switch done {
	case "created", "updated", "deleted":
		return "console.roles.done_" + done
	}
	return ""
}

func (k *Console) rolesList(c *gin.Context) {
	data := map[string]any{}
	if key := rolesDone(c.Query("done")); key != "" {
		data["Flash"] = k.t(c, key, nil)
	}
	k.rolesPage(c, http.StatusOK, data)
}

// rolesPage renders the roles: built-in ones read-only, the custom ones
// with their holders, and the form that creates one (data["Form"] keeps
// a refused submission).
func (k *Console) rolesPage(c *gin.Context, status int, data map[string]any) {
	r := k.reqOf(c)
	ctx := c.Request.Context()
	roles, err := k.cfg.Policy.Roles(ctx, r.db, r.tenant.ID)
	if err != nil {
		k.fail(c, err)
		return
	}
	var builtin, custom []roleView
	for _, role := range roles {
		v := toRoleView(role)
		v.Label = k.roleLabel(c, role)
		if role.Builtin {
			v.Description = k.t(c, "authz.role."+role.Name+".description", nil)
			builtin = append(builtin, v)
			continue
		}
		holders, err := k.cfg.Policy.Holders(ctx, r.db, r.tenant.ID, role.Name)
		if err != nil {
			k.fail(c, err)
			return
		}
		v.Holders = len(holders)
		custom = append(custom, v)
	}
	if data == nil {
		data = map[string]any{}
	}
	if _, ok := data["Form"]; !ok {
		data["Form"] = newRoleForm("", "", nil, nil)
	}
	data["Areas"] = authz.Areas()
	data["Builtin"] = builtin
	data["Custom"] = custom
	data["CanEdit"] = k.canEdit(c, r, authz.AreaStaff)
	k.page(c, status, "console_roles.html", "console.roles.title", data)
}

func (k *Console) createRole(c *gin.Context) {
	r := k.reqOf(c)
	ctx := c.Request.Context()
	name := strings.TrimSpace(c.PostForm("name"))
	spec := roleSpecFrom(c)
	err := r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		role, err := k.cfg.Policy.CreateRole(ctx, tx, r.tenant.ID, name, spec)
		if err != nil {
			return err
		}
		return appendRoleEntry(ctx, tx, "role.create", name, roleChanges(authz.Role{}, role))
	})
	if err != nil {
		fields, summary := formErrors(c, err)
		if errors.Is(err, authz.ErrRoleTaken) {
			fields["name"] = summary
		}
		k.rolesPage(c, httpx.StatusOf(apperr.KindOf(err)), map[string]any{
			"Error": summary, "Form": newRoleForm(name, spec.Label, spec.Levels, fields),
		})
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/roles?done=created")
}

// appendRoleEntry writes a role change to the operation log in tx: authz
// itself does not log, so the console does, in the change's transaction.
func appendRoleEntry(ctx context.Context, tx bun.Tx, action, name string, ch auditlog.Changes) error {
	if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: action, ObjectType: "role", ObjectID: name, Changes: ch}); err != nil {
		return apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	return nil
}

func (k *Console) roleEdit(c *gin.Context) {
	r := k.reqOf(c)
	role, err := k.cfg.Policy.Role(c.Request.Context(), r.db, r.tenant.ID, c.Param("name"))
	if err != nil {
		k.fail(c, err)
		return
	}
	if role.Builtin {
		k.fail(c, authz.ErrRoleBuiltin.WithArgs(map[string]any{"Role": role.Name}))
		return
	}
	k.roleEditPage(c, http.StatusOK, role, map[string]any{"Form": newRoleForm(role.Name, role.Label, role.Levels, nil)})
}

func (k *Console) roleEditPage(c *gin.Context, status int, role authz.Role, data map[string]any) {
	r := k.reqOf(c)
	holders, err := k.cfg.Policy.Holders(c.Request.Context(), r.db, r.tenant.ID, role.Name)
	if err != nil {
		k.fail(c, err)
		return
	}
	data["Role"] = roleView{Name: role.Name, Label: k.roleLabel(c, role), Holders: len(holders)}
	data["CanEdit"] = k.canEdit(c, r, authz.AreaStaff)
	k.page(c, status, "console_role_edit.html", "console.roles.edit_title", data)
}

func (k *Console) updateRole(c *gin.Context) {
	r := k.reqOf(c)
	ctx := c.Request.Context()
	name := c.Param("name")
	spec := roleSpecFrom(c)
	var old authz.Role
	err := r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if old, err = k.cfg.Policy.Role(ctx, tx, r.tenant.ID, name); err != nil {
			return err
		}
		next, err := k.cfg.Policy.UpdateRole(ctx, tx, r.tenant.ID, name, spec)
		if err != nil {
			return err
		}
		ch := roleChanges(old, next)
		if len(ch) == 0 {
			return nil
		}
		return appendRoleEntry(ctx, tx, "role.update", name, ch)
	})
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, r.base+"/roles?done=updated")
	case apperr.KindOf(err) == apperr.KindInvalid:
		fields, summary := formErrors(c, err)
		k.roleEditPage(c, http.StatusBadRequest, old, map[string]any{
			"Error": summary, "Form": newRoleForm(name, spec.Label, spec.Levels, fields),
		})
	default:
		k.fail(c, err)
	}
}

func (k *Console) deleteRole(c *gin.Context) {
	r := k.reqOf(c)
	ctx := c.Request.Context()
	name := c.Param("name")
	err := r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		old, err := k.cfg.Policy.Role(ctx, tx, r.tenant.ID, name)
		if err != nil {
			return err
		}
		if err := k.cfg.Policy.DeleteRole(ctx, tx, r.tenant.ID, name); err != nil {
			return err
		}
		return appendRoleEntry(ctx, tx, "role.delete", name, roleChanges(old, authz.Role{}))
	})
	if err != nil {
		if apperr.KindOf(err) == apperr.KindConflict {
			// Still assigned, or built in: say so on the list itself.
			_, summary := formErrors(c, err)
			k.rolesPage(c, http.StatusConflict, map[string]any{"Error": summary})
			return
		}
		k.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/roles?done=deleted")
}
