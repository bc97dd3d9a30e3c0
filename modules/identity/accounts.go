package identity

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/validate"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// StaffStatus is whether a staff account may sign in.
type StaffStatus string

// The statuses of a staff account. Accounts are disabled, never deleted:
// the operation log keeps naming them.
const (
	StatusActive   StaffStatus = "active"
	StatusDisabled StaffStatus = "disabled"
)

// OwnerRole is the role of a tenant's owner. Identity knows it only to
// keep every tenant with at least one active owner; what roles may do is
// Casbin's (platform/authz).
const OwnerRole = "owner"

// Staff is a staff account of a tenant. Its secrets (password hash, TOTP
// secret) never leave this package.
type Staff struct {
	ID                string
	Email             string // normalised: trimmed, lower case; unique in the tenant
	DisplayName       string
	Status            StaffStatus
	Role              string
	MenuIDs           []string // the menus the account is limited to; empty means all
	HasPassword       bool     // false until a setup or invitation link is used
	TOTPEnabled       bool
	TOTPEnabledAt     time.Time // zero when TOTPEnabled is false
	FailedLogins      int       // consecutive failures since the last success or lockout
	LockedUntil       time.Time // zero, or when a lockout ends (may be past)
	LastLoginAt       time.Time
	PasswordChangedAt time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Locked reports whether the account is locked out at now.
func (st Staff) Locked(now time.Time) bool { return now.Before(st.LockedUntil) }

// Principal is st acting through session sessionID (empty for none).
func (st Staff) Principal(sessionID string) Principal {
	return Principal{Kind: PrincipalStaff, ID: st.ID, Name: st.Email, Role: st.Role,
		MenuIDs: slices.Clone(st.MenuIDs), SessionID: sessionID}
}

// Errors of staff accounts.
var (
	ErrStaffNotFound   = apperr.New(apperr.KindNotFound, "staff_not_found")
	ErrStaffEmailTaken = apperr.New(apperr.KindConflict, "staff_email_taken")
	// ErrSetupTokenInvalid: a one-time link is wrong, expired, already used
	// or belongs to a disabled account; which of these is not told.
	ErrSetupTokenInvalid = apperr.New(apperr.KindGone, "setup_token_invalid")
	// ErrLastOwner: the change would leave the tenant without an active owner.
	ErrLastOwner = apperr.New(apperr.KindConflict, "last_owner")
	// ErrSelfDisable: staff cannot disable their own account.
	ErrSelfDisable = apperr.New(apperr.KindConflict, "staff_self_disable")
)

var staffValidator = validate.New()

// newStaffParams is what a new account needs.
type newStaffParams struct {
	Email       string `json:"email" validate:"required,max=254,email"`
	DisplayName string `json:"display_name" validate:"required,max=200,nocontrol"`
	Role        string `json:"role" validate:"required,max=64,nocontrol"`
}

func (n *newStaffParams) normalize() error {
	n.Email = normalizeEmail(n.Email)
	n.DisplayName = strings.TrimSpace(n.DisplayName)
	n.Role = strings.TrimSpace(n.Role)
	if n.DisplayName == "" && n.Email != "" {
		n.DisplayName, _, _ = strings.Cut(n.Email, "@")
	}
	return validate.Struct(staffValidator, n)
}

// normalizeEmail is the form addresses are stored and looked up in. The
// local part is lower-cased too: no mail provider a tenant's staff use
// distinguishes case, and two accounts differing only in case would be a
// trap.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateOwner creates the owner account of a new tenant, with no password,
// and returns it with a one-time setup token (valid SetupTokenTTL) for the
// link where the owner sets one (RedeemSetup). An empty displayName takes
// the address's local part. It is called by the tenant Provisioner inside
// the tenant's creation; the operation log records the platform as actor.
func (s *Service) CreateOwner(ctx context.Context, db bun.IDB, email, displayName string) (Staff, string, error) {
	return s.createStaff(ctx, db, systemActor, newStaffParams{Email: email, DisplayName: displayName, Role: OwnerRole}, PurposeSetup, "staff.created")
}

// Invite creates an account for a colleague, with no password, and returns
// it with a one-time invitation token valid SetupTokenTTL: the same kind of
// link as the owner's setup link, redeemed by RedeemSetup. Whether inviter
// may invite (and give that role) is for the caller's authorization to
// decide; the Casbin role assignment is the caller's too.
func (s *Service) Invite(ctx context.Context, db bun.IDB, inviter Principal, email, displayName, role string) (Staff, string, error) {
	return s.createStaff(ctx, db, inviter.Actor(), newStaffParams{Email: email, DisplayName: displayName, Role: role}, PurposeInvite, "staff.invited")
}

// OwnerProvisioner returns the tenants.Provisioner that makes a new
// tenant's owner from CreateParams.OwnerEmail (nothing when it is empty),
// inside the tenant's creation, and hands back the one-time setup link that
// setupURL builds from the tenant and the token — for example
// https://host/t/{slug}/admin/setup/{token}. cmd/yoyaku wires it into
// tenants.Config.Provision.
func (s *Service) OwnerProvisioner(setupURL func(t tenants.Tenant, token string) string) tenants.Provisioner {
	return func(ctx context.Context, t tenants.Tenant, db bun.IDB, p tenants.CreateParams) (tenants.Provisioned, error) {
		if strings.TrimSpace(p.OwnerEmail) == "" {
			return tenants.Provisioned{}, nil
		}
		_, token, err := s.CreateOwner(ctx, db, p.OwnerEmail, "")
		if err != nil {
			return tenants.Provisioned{}, err
		}
		return tenants.Provisioned{OwnerSetupURL: setupURL(t, token)}, nil
	}
}

func (s *Service) createStaff(ctx context.Context, db bun.IDB, actor auditlog.Actor, n newStaffParams, purpose TokenPurpose, action string) (Staff, string, error) {
	if err := n.normalize(); err != nil {
		return Staff{}, "", err
	}
	id, err := dbx.NewID()
	if err != nil {
		return Staff{}, "", err
	}
	now := s.clock()
	st := Staff{ID: id, Email: n.Email, DisplayName: n.DisplayName, Status: StatusActive, Role: n.Role,
		MenuIDs: []string{}, CreatedAt: now, UpdatedAt: now}
	var token string
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		if err := s.store.insertStaff(ctx, tx, st); err != nil {
			return err
		}
		var err error
		if token, err = s.issueToken(ctx, tx, st.ID, purpose, now); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("email", nil, st.Email)
		ch.Add("display_name", nil, st.DisplayName)
		ch.Add("role", nil, st.Role)
		ch.Add("status", nil, st.Status)
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: actor, Action: action, ObjectID: st.ID, Changes: ch})
	})
	if err != nil {
		return Staff{}, "", err
	}
	s.log.InfoContext(ctx, "staff account created", "staff_id", st.ID, "role", st.Role)
	return st, token, nil
}

// Reinvite issues a new one-time link for an account that has not set its
// password yet (the first link expired or was lost); earlier links stop
// working. An account that has a password gets ErrStaffHasPassword (send
// it a reset link instead), a disabled one ErrStaffDisabled.
func (s *Service) Reinvite(ctx context.Context, db bun.IDB, actor Principal, staffID string) (string, error) {
	now := s.clock()
	var token string
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		st, err := s.store.lockStaff(ctx, tx, staffID)
		if err != nil {
			return err
		}
		if st.Status != StatusActive {
			return ErrStaffDisabled
		}
		if st.HasPassword {
			return ErrStaffHasPassword
		}
		purpose := PurposeInvite
		if st.Role == OwnerRole {
			purpose = PurposeSetup
		}
		if token, err = s.issueToken(ctx, tx, st.ID, purpose, now); err != nil {
			return err
		}
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: actor.Actor(), Action: "staff.invited", ObjectID: st.ID})
	})
	return token, err
}

// More errors of staff accounts.
var (
	// ErrStaffHasPassword: the account already has a password; send a reset.
	ErrStaffHasPassword = apperr.New(apperr.KindConflict, "staff_has_password")
	// ErrStaffDisabled: the account is disabled.
	ErrStaffDisabled = apperr.New(apperr.KindConflict, "staff_disabled")
)

// RequestPasswordReset returns a one-time reset token (valid ResetTokenTTL)
// for the active account with email, for the caller to mail to that
// address. For an unknown or disabled address it returns "" and no error,
// so the answer never tells whether an account exists: the console shows
// "if the address is registered, a link is on its way" either way and
// mails only when the token is not empty. Earlier links of the account stop
// working. The console's forgot page uses ForgotPassword, which adds the
// throttle and returns the account to mail.
func (s *Service) RequestPasswordReset(ctx context.Context, db bun.IDB, email string) (string, error) {
	rl, err := s.requestReset(ctx, db, normalizeEmail(email), s.clock())
	return rl.Token, err
}

// requestReset issues the reset link of the active account with email
// (normalised), or records the attempt and returns a zero ResetLink.
func (s *Service) requestReset(ctx context.Context, db bun.IDB, email string, now time.Time) (ResetLink, error) {
	st, err := s.store.staffByEmail(ctx, db, email)
	if err != nil && apperr.KindOf(err) != apperr.KindNotFound {
		return ResetLink{}, err
	}
	if err != nil || st.Status != StatusActive {
		// Recorded, so that someone probing addresses shows in the log.
		_, aerr := auditlog.Record(ctx, db, auditlog.Entry{At: now, Actor: auditlog.Actor{Kind: auditlog.ActorAnonymous, Name: email},
			Action: "staff.password_reset_requested", ObjectType: "staff", ObjectID: st.ID, Result: auditlog.ResultFailed})
		return ResetLink{}, dbErr(aerr)
	}
	var token string
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if token, err = s.issueToken(ctx, tx, st.ID, PurposeReset, now); err != nil {
			return err
		}
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: auditlog.Actor{Kind: auditlog.ActorAnonymous, Name: email},
			Action: "staff.password_reset_requested", ObjectID: st.ID})
	})
	if err != nil {
		return ResetLink{}, err
	}
	return ResetLink{Staff: st, Token: token, ExpiresAt: now.Add(ResetTokenTTL)}, nil
}

// GetStaff returns the account with id.
func (s *Service) GetStaff(ctx context.Context, db bun.IDB, id string) (Staff, error) {
	return s.store.staffByID(ctx, db, id)
}

// GetStaffByEmail returns the account with email (any case).
func (s *Service) GetStaffByEmail(ctx context.Context, db bun.IDB, email string) (Staff, error) {
	return s.store.staffByEmail(ctx, db, normalizeEmail(email))
}

// StaffFilter selects accounts for ListStaff.
type StaffFilter struct {
	Status StaffStatus // empty: all
	Limit  int         // 1–1000, default 1000
}

// ListStaff returns the tenant's accounts ordered by e-mail address.
func (s *Service) ListStaff(ctx context.Context, db bun.IDB, f StaffFilter) ([]Staff, error) {
	var vv apperr.Validator
	vv.Check(f.Status == "" || f.Status == StatusActive || f.Status == StatusDisabled, "status", "oneof", map[string]any{"Param": "active disabled"})
	if f.Limit == 0 {
		f.Limit = 1000
	}
	vv.Check(f.Limit >= 1 && f.Limit <= 1000, "limit", "range", map[string]any{"Min": 1, "Max": 1000})
	if err := vv.Err(); err != nil {
		return nil, err
	}
	return s.store.listStaff(ctx, db, f)
}

// DisableStaff disables an account and ends all its sessions at once. An
// account cannot disable itself, nor the tenant's last active owner.
func (s *Service) DisableStaff(ctx context.Context, db bun.IDB, actor Principal, staffID string) (Staff, error) {
	if actor.Kind == PrincipalStaff && actor.ID == staffID {
		return Staff{}, ErrSelfDisable
	}
	return s.setStatus(ctx, db, actor, staffID, StatusDisabled)
}

// EnableStaff enables a disabled account again. Its sessions ended when it
// was disabled; it signs in afresh.
func (s *Service) EnableStaff(ctx context.Context, db bun.IDB, actor Principal, staffID string) (Staff, error) {
	return s.setStatus(ctx, db, actor, staffID, StatusActive)
}

func (s *Service) setStatus(ctx context.Context, db bun.IDB, actor Principal, staffID string, to StaffStatus) (Staff, error) {
	now := s.clock()
	var out Staff
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		st, err := s.store.lockStaff(ctx, tx, staffID)
		if err != nil {
			return err
		}
		if st.Status == to {
			out = st
			return nil
		}
		if to == StatusDisabled && st.Role == OwnerRole {
			if err := s.keepAnOwner(ctx, tx, st.ID); err != nil {
				return err
			}
		}
		if err := s.store.setStatus(ctx, tx, st.ID, to, now); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("status", st.Status, to)
		if to == StatusDisabled {
			n, err := s.store.deleteSessions(ctx, tx, st.ID, "")
			if err != nil {
				return err
			}
			if n > 0 {
				ch.Add("sessions", n, 0)
			}
			if err := s.store.revokeTokens(ctx, tx, st.ID, now); err != nil {
				return err
			}
		}
		action := "staff.enabled"
		if to == StatusDisabled {
			action = "staff.disabled"
		}
		st.Status, st.UpdatedAt = to, now
		out = st
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: actor.Actor(), Action: action, ObjectID: st.ID, Changes: ch})
	})
	if err != nil {
		return Staff{}, err
	}
	return out, nil
}

// keepAnOwner refuses a change that takes staffID out of the active owners
// when it is the last. The owners' rows stay locked to the end of the
// transaction, so two owners cannot demote each other at once.
func (s *Service) keepAnOwner(ctx context.Context, tx bun.IDB, staffID string) error {
	ids, err := s.store.lockActiveOwners(ctx, tx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id != staffID {
			return nil
		}
	}
	return ErrLastOwner
}

// ProfileUpdate changes an account; nil fields stay as they are.
type ProfileUpdate struct {
	DisplayName *string   `json:"display_name" validate:"omitempty,max=200,nocontrol"`
	Role        *string   `json:"role" validate:"omitempty,max=64,nocontrol"`
	MenuIDs     *[]string `json:"menu_ids" validate:"omitempty,max=500,dive,required,max=64,nocontrol"`
}

func (u *ProfileUpdate) normalize() error {
	trim := func(p *string) {
		if p != nil {
			*p = strings.TrimSpace(*p)
		}
	}
	trim(u.DisplayName)
	trim(u.Role)
	if u.MenuIDs != nil {
		ids := make([]string, 0, len(*u.MenuIDs))
		for _, id := range *u.MenuIDs {
			if id = strings.TrimSpace(id); !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		u.MenuIDs = &ids
	}
	var fields []apperr.FieldError
	if err := validate.Struct(staffValidator, u); err != nil {
		fields = append(fields, err.(*apperr.Error).Fields...)
	}
	if u.DisplayName != nil && *u.DisplayName == "" {
		fields = append(fields, apperr.Field("display_name", "required", nil))
	}
	if u.Role != nil && *u.Role == "" {
		fields = append(fields, apperr.Field("role", "required", nil))
	}
	if len(fields) > 0 {
		return apperr.Invalid(fields...)
	}
	return nil
}

// UpdateProfile changes an account's display name, role or menu scope and
// records the changed fields (old → new) in the operation log. Taking the
// owner role from the last active owner is refused. A role change takes
// effect at the account's next request: sessions read the role afresh.
func (s *Service) UpdateProfile(ctx context.Context, db bun.IDB, actor Principal, staffID string, u ProfileUpdate) (Staff, error) {
	if err := u.normalize(); err != nil {
		return Staff{}, err
	}
	now := s.clock()
	var out Staff
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		st, err := s.store.lockStaff(ctx, tx, staffID)
		if err != nil {
			return err
		}
		var ch auditlog.Changes
		next := st
		if u.DisplayName != nil {
			next.DisplayName = *u.DisplayName
			ch.Add("display_name", st.DisplayName, next.DisplayName)
		}
		if u.Role != nil {
			next.Role = *u.Role
			ch.Add("role", st.Role, next.Role)
		}
		if u.MenuIDs != nil {
			next.MenuIDs = *u.MenuIDs
			ch.Add("menu_ids", st.MenuIDs, next.MenuIDs)
		}
		out = st
		if len(ch) == 0 {
			return nil
		}
		if st.Role == OwnerRole && next.Role != OwnerRole && st.Status == StatusActive {
			if err := s.keepAnOwner(ctx, tx, st.ID); err != nil {
				return err
			}
		}
		next.UpdatedAt = now
		if err := s.store.updateProfile(ctx, tx, next); err != nil {
			return err
		}
		out = next
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: actor.Actor(), Action: "staff.updated", ObjectID: st.ID, Changes: ch})
	})
	if err != nil {
		return Staff{}, err
	}
	return out, nil
}

// ChangePassword changes the password of the account signed in through
// sess after checking its current password, ends the account's other
// sessions and gives sess a new token, which it returns: the console sets
// it as the new cookie. A wrong current password is a validation error on
// "current_password" (password_incorrect) and counts as a failed login
// towards the lockout; a locked account gets ErrAccountLocked.
func (s *Service) ChangePassword(ctx context.Context, db bun.IDB, sess Session, current, newPassword, tenantSlug string) (string, error) {
	st, err := s.liveSession(ctx, db, sess, true)
	if err != nil {
		return "", err
	}
	if err := s.reauthenticate(ctx, db, st, current, "staff.password_change_failed"); err != nil {
		return "", err
	}
	if err := CheckPassword(newPassword, st.Email, tenantSlug); err != nil {
		return "", err
	}
	phc, err := s.hashPassword(ctx, newPassword)
	if err != nil {
		return "", err
	}
	now := s.clock()
	token, hash := newOpaqueToken()
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		if err := s.store.setPassword(ctx, tx, st.ID, phc, now, false); err != nil {
			return err
		}
		n, err := s.store.deleteSessions(ctx, tx, st.ID, sess.ID)
		if err != nil {
			return err
		}
		ok, err := s.store.rotateSessionToken(ctx, tx, sess.ID, hash, nil, time.Time{})
		if err != nil {
			return err
		}
		if !ok {
			return ErrSessionExpired
		}
		var ch auditlog.Changes
		ch.Add("password", "old", "new")
		if n > 0 {
			ch.Add("other_sessions", n, 0)
		}
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: staffActor(st), Action: "staff.password_changed", ObjectID: st.ID, Changes: ch})
	})
	if err != nil {
		return "", err
	}
	return token, nil
}
