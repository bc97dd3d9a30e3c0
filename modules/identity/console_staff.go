package identity

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
)

// staffView is one staff account as its detail page shows it.
type staffView struct {
	ID, Email, DisplayName   string
	Role, RoleLabel          string
	Active, Owner            bool
	HasPassword, TOTPEnabled bool
	CreatedAt, LastLoginAt   string // in the tenant's zone; LastLoginAt empty for never
	FormName, FormRole       string // the form's values: what was typed, after an error
}

// roleOption is one choice of the role select.
type roleOption struct {
	Name, Label string
	Selected    bool
}

func toStaffView(st Staff, loc *time.Location, lang string) staffView {
	v := staffView{ID: st.ID, Email: st.Email, DisplayName: st.DisplayName, Role: st.Role,
		Active: st.Status == StatusActive, Owner: st.Role == OwnerRole,
		HasPassword: st.HasPassword, TOTPEnabled: st.TOTPEnabled,
		CreatedAt: formatWhen(st.CreatedAt, loc, lang), FormName: st.DisplayName, FormRole: st.Role}
	if !st.LastLoginAt.IsZero() {
		v.LastLoginAt = formatWhen(st.LastLoginAt, loc, lang)
	}
	return v
}

// formatWhen writes an instant in the tenant's zone as people read it:
// 2026年12月10日(木) 10:00 in Japanese, Thu, 10 Dec 2026 10:00 in English.
func formatWhen(t time.Time, loc *time.Location, lang string) string {
	t = t.In(loc)
	if lang == "en" {
		return t.Format("Mon, 2 Jan 2006 15:04")
	}
	weekdays := [...]string{"日", "月", "火", "水", "木", "金", "土"}
	return t.Format("2006年1月2日") + "(" + weekdays[t.Weekday()] + ") " + t.Format("15:04")
}

// staffDone is the flash message after a redirect (?done=...).
func staffDone(done string) string {
	switch done {
	case "saved", "disabled", "enabled", "reset_2fa", "reset_sent":
		return "console.staffedit.done_" + done
	}
	return ""
}

func (k *Console) staffDetail(c *gin.Context) {
	data := map[string]any{}
	if key := staffDone(c.Query("done")); key != "" {
		data["Flash"] = k.t(c, key, nil)
	}
	k.staffDetailPage(c, http.StatusOK, data)
}

// staffDetailPage renders one account with the forms the signed-in user
// may use on it: none on an owner's account unless they may manage owners,
// and the owner role among the choices only then.
func (k *Console) staffDetailPage(c *gin.Context, status int, data map[string]any) {
	r := k.reqOf(c)
	ctx := c.Request.Context()
	p, _ := PrincipalFrom(ctx)
	st, err := k.cfg.Staff.GetStaff(ctx, r.db, c.Param("id"))
	if err != nil {
		k.fail(c, err)
		return
	}
	canOwners, err := k.cfg.Policy.CanManageOwners(ctx, r.db, r.tenant.ID, p.Subject())
	if err != nil {
		k.fail(c, err)
		return
	}
	roles, err := k.cfg.Policy.Roles(ctx, r.db, r.tenant.ID)
	if err != nil {
		k.fail(c, err)
		return
	}
	v := toStaffView(st, r.location(), httpx.Lang(c))
	if s, ok := data["FormRole"].(string); ok {
		v.FormRole = s
	}
	if s, ok := data["FormName"].(string); ok {
		v.FormName = s
	}
	var options []roleOption
	for _, role := range roles {
		if role.Name == st.Role {
			v.RoleLabel = k.roleLabel(c, role)
		}
		if role.Name == OwnerRole && !canOwners && st.Role != OwnerRole {
			continue
		}
		options = append(options, roleOption{Name: role.Name, Label: k.roleLabel(c, role), Selected: role.Name == v.FormRole})
	}
	if v.RoleLabel == "" {
		v.RoleLabel = st.Role
	}
	ownerLocked := st.Role == OwnerRole && !canOwners
	data["Staff"] = v
	data["Roles"] = options
	data["OwnerLocked"] = ownerLocked
	data["CanChange"] = k.canEdit(c, r, authz.AreaStaff) && !ownerLocked
	data["Self"] = p.Kind == PrincipalStaff && p.ID == st.ID
	k.page(c, status, "console_staff_edit.html", "console.staffedit.title", data)
}

// location is the tenant's time zone (UTC when it cannot be loaded).
func (r req) location() *time.Location {
	loc, err := time.LoadLocation(r.tenant.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// changeStaff runs fn on the route's account in one transaction, after
// refusing (ErrForbidden) a change to an owner's account by someone who may
// not manage owners. The account is read in that transaction, so the check
// and the change see the same role.
func (k *Console) changeStaff(c *gin.Context, r req, fn func(ctx context.Context, tx bun.Tx, st Staff, canOwners bool) error) error {
	ctx := c.Request.Context()
	p, _ := PrincipalFrom(ctx)
	return r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		st, err := k.cfg.Staff.GetStaff(ctx, tx, c.Param("id"))
		if err != nil {
			return err
		}
		canOwners, err := k.cfg.Policy.CanManageOwners(ctx, tx, r.tenant.ID, p.Subject())
		if err != nil {
			return err
		}
		if st.Role == OwnerRole && !canOwners {
			return ErrForbidden
		}
		return fn(ctx, tx, st, canOwners)
	})
}

// staffOutcome answers a change of the detail page: back to the page with
// a flash on success, a 403 (logged) for an owner-only change, the page
// with identity's message for a refusal it can explain (disabling oneself,
// the last owner, …), an error page otherwise.
func (k *Console) staffOutcome(c *gin.Context, r req, err error, done string, form map[string]any) {
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, r.base+"/staff/"+c.Param("id")+"?done="+done)
	case errors.Is(err, ErrForbidden):
		_, _ = auditlog.Record(c.Request.Context(), r.db, auditlog.Entry{Action: "access.denied", ObjectType: "staff",
			ObjectID: c.Param("id"), Result: auditlog.ResultDenied})
		k.fail(c, ErrForbidden)
	case apperr.KindOf(err) == apperr.KindNotFound && !errors.Is(err, authz.ErrRoleNotFound):
		k.fail(c, err)
	default:
		status := httpx.StatusOf(apperr.KindOf(err))
		if status >= 500 {
			k.fail(c, err)
			return
		}
		fields, summary := formErrors(c, err)
		if form == nil {
			form = map[string]any{}
		}
		form["Error"], form["Fields"] = summary, fields
		k.staffDetailPage(c, status, form)
	}
}

func (k *Console) updateStaff(c *gin.Context) {
	r := k.reqOf(c)
	p, _ := PrincipalFrom(c.Request.Context())
	name, role := c.PostForm("display_name"), strings.TrimSpace(c.PostForm("role"))
	form := map[string]any{"FormName": name, "FormRole": role}
	if names := k.roles(c, r); !slices.Contains(names, role) {
		k.staffOutcome(c, r, apperr.Invalid(apperr.Field("role", "oneof", map[string]any{"Param": strings.Join(names, " ")})), "", form)
		return
	}
	err := k.changeStaff(c, r, func(ctx context.Context, tx bun.Tx, st Staff, canOwners bool) error {
		if role != st.Role {
			if role == OwnerRole && !canOwners {
				return ErrForbidden
			}
			// The policy first, then the account (whose own transaction
			// becomes a savepoint of this one): both or neither.
			if err := k.cfg.Policy.Assign(ctx, tx, r.tenant.ID, authz.StaffSubject(st.ID), role); err != nil {
				return err
			}
		}
		_, err := k.cfg.Staff.UpdateProfile(ctx, tx, p, st.ID, ProfileUpdate{DisplayName: &name, Role: &role})
		return err
	})
	k.staffOutcome(c, r, err, "saved", form)
}

func (k *Console) disableStaff(c *gin.Context) {
	r := k.reqOf(c)
	p, _ := PrincipalFrom(c.Request.Context())
	err := k.changeStaff(c, r, func(ctx context.Context, tx bun.Tx, st Staff, _ bool) error {
		_, err := k.cfg.Staff.DisableStaff(ctx, tx, p, st.ID)
		return err
	})
	k.staffOutcome(c, r, err, "disabled", nil)
}

func (k *Console) enableStaff(c *gin.Context) {
	r := k.reqOf(c)
	p, _ := PrincipalFrom(c.Request.Context())
	err := k.changeStaff(c, r, func(ctx context.Context, tx bun.Tx, st Staff, _ bool) error {
		_, err := k.cfg.Staff.EnableStaff(ctx, tx, p, st.ID)
		return err
	})
	k.staffOutcome(c, r, err, "enabled", nil)
}

// resetStaffTwoFactor turns another account's second factor off; its
// member is mailed (staff.2fa_changed) in the same transaction, naming the
// administrator, so a reset they did not ask for does not go unnoticed.
func (k *Console) resetStaffTwoFactor(c *gin.Context) {
	r := k.reqOf(c)
	ctx := c.Request.Context()
	p, _ := PrincipalFrom(ctx)
	var evs []outbox.Event
	err := k.changeStaff(c, r, func(ctx context.Context, tx bun.Tx, st Staff, _ bool) error {
		if err := k.cfg.Staff.ResetTwoFactor(ctx, tx, p, st.ID); err != nil {
			return err
		}
		by := ""
		if p.Kind != PrincipalStaff || p.ID != st.ID {
			by = k.cfg.actorName(ctx, tx, p)
		}
		var err error
		evs, err = k.cfg.twoFactorChanged(ctx, tx, st, false, by, k.cfg.Staff.clock(), httpx.Lang(c))
		return err
	})
	if err == nil {
		k.cfg.notify(ctx, r.tenant.ID, evs)
	}
	k.staffOutcome(c, r, err, "reset_2fa", nil)
}

// sendStaffReset mails a member a password-reset link on an
// administrator's request. The link goes only to the member's own address,
// never onto the page: the administrator cannot use it themselves.
func (k *Console) sendStaffReset(c *gin.Context) {
	r := k.reqOf(c)
	ctx := c.Request.Context()
	p, _ := PrincipalFrom(ctx)
	var evs []outbox.Event
	err := k.changeStaff(c, r, func(ctx context.Context, tx bun.Tx, st Staff, _ bool) error {
		rl, err := k.cfg.Staff.SendPasswordReset(ctx, tx, p, st.ID)
		if err != nil {
			return err
		}
		evs, err = k.cfg.passwordReset(ctx, tx, rl, k.resetLink(c, r, rl.Token), httpx.Lang(c))
		return err
	})
	if err == nil {
		k.cfg.notify(ctx, r.tenant.ID, evs)
	}
	k.staffOutcome(c, r, err, "reset_sent", nil)
}

// reinviteStaff issues a new invitation link and shows it on the page at
// once: a link is a secret, so it never travels in a redirect's URL.
func (k *Console) reinviteStaff(c *gin.Context) {
	r := k.reqOf(c)
	p, _ := PrincipalFrom(c.Request.Context())
	var token string
	err := k.changeStaff(c, r, func(ctx context.Context, tx bun.Tx, st Staff, _ bool) error {
		var err error
		token, err = k.cfg.Staff.Reinvite(ctx, tx, p, st.ID)
		return err
	})
	if err != nil {
		k.staffOutcome(c, r, err, "", nil)
		return
	}
	k.staffDetailPage(c, http.StatusOK, map[string]any{
		"Flash": k.t(c, "console.staffedit.reinvited", nil), "InviteLink": schemeHost(c) + r.base + "/setup/" + token,
	})
}
