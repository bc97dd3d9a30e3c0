package members

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
)

// RegisterInput is the booking site's registration form.
type RegisterInput struct {
	Email      string
	Password   string
	Profile    ProfileInput
	Attributes map[string]string // by attribute id; staff-only ones are ignored
	Lang       string            // the language of the verification mail
}

// CreateInput is a member made by staff (tenant API, console).
type CreateInput struct {
	Email      string
	Password   string // optional: without one the member sets it through a reset link
	Profile    ProfileInput
	Attributes map[string]string
	// SendVerification makes the account pending and mails the member a
	// verification link; without it the account is active at once and no
	// mail is sent.
	SendVerification bool
	Lang             string
}

// ProfilePatch changes some profile fields; nil fields stay.
type ProfilePatch struct {
	FamilyName, GivenName, FamilyKana, GivenKana *string
	Phone, PostalCode, Prefecture                *string
	Address1, Address2, BirthDate, Gender        *string
}

func (p ProfilePatch) apply(in *ProfileInput) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&in.FamilyName, p.FamilyName)
	set(&in.GivenName, p.GivenName)
	set(&in.FamilyKana, p.FamilyKana)
	set(&in.GivenKana, p.GivenKana)
	set(&in.Phone, p.Phone)
	set(&in.PostalCode, p.PostalCode)
	set(&in.Prefecture, p.Prefecture)
	set(&in.Address1, p.Address1)
	set(&in.Address2, p.Address2)
	set(&in.BirthDate, p.BirthDate)
	set(&in.Gender, p.Gender)
}

// Patch is a staff change of a member; nil fields stay.
type Patch struct {
	Email   *string
	Status  *Status // active or disabled (withdraw with Withdraw)
	Profile ProfilePatch
	// Attributes sets the listed values ("" removes one); others stay.
	Attributes map[string]string
}

// ListParams filter and page the member list.
type ListParams struct {
	// Q matches number, e-mail, name, kana and phone: every
	// space-separated term must match (kana in any width or as hiragana,
	// phone numbers with or without hyphens).
	Q        string
	Statuses []Status
	After    string // the last number of the previous page
	Limit    int    // 1..MaxPageSize; 0 is MaxPageSize
}

// MaxPageSize bounds a page of members.
const MaxPageSize = 100

// Lifetimes of one-time links.
const (
	VerifyTokenTTL = 24 * time.Hour
	ResetTokenTTL  = time.Hour
)

const (
	purposeVerify = "verify"
	purposeReset  = "reset"
)

// The mail events of members (modules/notify maps them to templates; the
// payloads mirror notify.MemberVerify and notify.MemberPasswordReset).
const (
	EventMemberVerify        = "member.verify"
	EventMemberPasswordReset = "member.password_reset"
)

type verifyPayload struct {
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	VerifyURL string    `json:"verify_url"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Lang      string    `json:"lang,omitempty"`
}

type resetPayload struct {
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	ResetURL  string    `json:"reset_url"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Lang      string    `json:"lang,omitempty"`
}

func mailLang(lang string) string {
	if lang == "en" {
		return "en"
	}
	return "ja"
}

// Register makes a pending member from the booking site's form and, in the
// same transaction, enqueues the member.verify mail with a single-use link
// (linkBase + "/verify/" + token, valid VerifyTokenTTL). Required
// attributes must be given; staff-only ones are dropped. An address that
// already has an account gets ErrEmailTaken (the site answers it like a
// success, so that registration does not reveal who is a member).
func (s *Service) Register(ctx context.Context, db bun.IDB, tenantSlug string, in RegisterInput, linkBase string) (Member, error) {
	in.Email = normalizeEmail(in.Email)
	var v apperr.Validator
	checkEmail(&v, "email", in.Email)
	pwErr := identity.CheckPassword(in.Password, in.Email, tenantSlug)
	now := s.clock()
	prof, profErr := NormalizeProfile(in.Profile, now)
	defs, err := s.store.attributes(ctx, db)
	if err != nil {
		return Member{}, err
	}
	vals, attrErr := checkValues(defs, in.Attributes, false, true)
	if err := mergeErrors(v.Err(), pwErr, profErr, attrErr); err != nil {
		return Member{}, err
	}
	phc, err := s.pw.HashPassword(ctx, in.Password)
	if err != nil {
		return Member{}, err
	}
	var out Member
	var evs []outbox.Event
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		m, err := s.insert(ctx, tx, in.Email, phc, StatusPending, prof, vals, now)
		if err != nil {
			return err
		}
		if err := audit(ctx, tx, auditlog.Entry{At: now, Actor: memberActor(m), Action: "member.register", ObjectID: m.ID}); err != nil {
			return err
		}
		evs, err = s.sendVerification(ctx, tx, m, linkBase, in.Lang, now)
		out = m
		return err
	})
	if err != nil {
		return Member{}, err
	}
	s.wake(ctx, evs)
	s.log.InfoContext(ctx, "member registered", "member_id", out.ID)
	return out, nil
}

// Create makes a member on staff's behalf (the actor comes from the
// request's audit context). See CreateInput.SendVerification.
func (s *Service) Create(ctx context.Context, db bun.IDB, tenantSlug string, in CreateInput, linkBase string) (Member, error) {
	in.Email = normalizeEmail(in.Email)
	var v apperr.Validator
	checkEmail(&v, "email", in.Email)
	var pwErr error
	if in.Password != "" {
		pwErr = identity.CheckPassword(in.Password, in.Email, tenantSlug)
	}
	now := s.clock()
	prof, profErr := NormalizeProfile(in.Profile, now)
	defs, err := s.store.attributes(ctx, db)
	if err != nil {
		return Member{}, err
	}
	vals, attrErr := checkValues(defs, in.Attributes, true, false)
	if err := mergeErrors(v.Err(), pwErr, profErr, attrErr); err != nil {
		return Member{}, err
	}
	phc := ""
	if in.Password != "" {
		if phc, err = s.pw.HashPassword(ctx, in.Password); err != nil {
			return Member{}, err
		}
	}
	status := StatusActive
	if in.SendVerification {
		status = StatusPending
	}
	var out Member
	var evs []outbox.Event
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		m, err := s.insert(ctx, tx, in.Email, phc, status, prof, vals, now)
		if err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("number", nil, m.Number)
		ch.Add("status", nil, string(m.Status))
		withheld(&ch, "email")
		profileChanges(&ch, Profile{}, prof)
		for id := range vals {
			withheld(&ch, "attributes."+id)
		}
		if err := audit(ctx, tx, auditlog.Entry{At: now, Action: "member.create", ObjectID: m.ID, Changes: ch}); err != nil {
			return err
		}
		if in.SendVerification {
			evs, err = s.sendVerification(ctx, tx, m, linkBase, in.Lang, now)
		}
		out = m
		return err
	})
	if err != nil {
		return Member{}, err
	}
	s.wake(ctx, evs)
	return out, nil
}

func (s *Service) insert(ctx context.Context, tx bun.IDB, email, phc string, status Status, prof Profile, vals map[string]string, now time.Time) (Member, error) {
	id, err := dbx.NewID()
	if err != nil {
		return Member{}, err
	}
	number, err := s.store.nextNumber(ctx, tx)
	if err != nil {
		return Member{}, err
	}
	m := Member{ID: id, Number: number, Email: email, Status: status, Profile: prof, Attributes: map[string]string{},
		HasPassword: phc != "", CreatedAt: now, UpdatedAt: now}
	r := toMemberRow(m)
	r.PasswordHash = phc
	if err := s.store.insertMember(ctx, tx, r); err != nil {
		return Member{}, err
	}
	for id, val := range vals {
		if err := s.store.setValue(ctx, tx, m.ID, id, val); err != nil {
			return Member{}, err
		}
		m.Attributes[id] = val
	}
	return m, nil
}

// sendVerification issues a verification link for m and enqueues its mail.
func (s *Service) sendVerification(ctx context.Context, tx bun.IDB, m Member, linkBase, lang string, now time.Time) ([]outbox.Event, error) {
	token, err := s.issueToken(ctx, tx, m.ID, purposeVerify, now)
	if err != nil {
		return nil, err
	}
	return s.enqueue(ctx, tx, EventMemberVerify, m, verifyPayload{Email: m.Email, Name: m.Profile.Name(),
		VerifyURL: strings.TrimRight(linkBase, "/") + "/verify/" + token, ExpiresAt: now.Add(VerifyTokenTTL), Lang: mailLang(lang)})
}

// Get returns the member id, with its attribute values. This is the
// contract reservations reads members by.
func (s *Service) Get(ctx context.Context, db bun.IDB, id string) (Member, error) {
	r, err := s.store.rowByID(ctx, db, id, false)
	if err != nil {
		return Member{}, err
	}
	return s.withValues(ctx, db, fromMemberRow(r))
}

// ByEmail returns the member with the address email (compared
// case-insensitively); ErrNotFound when none (withdrawn members have none).
func (s *Service) ByEmail(ctx context.Context, db bun.IDB, email string) (Member, error) {
	r, err := s.store.rowByEmail(ctx, db, normalizeEmail(email))
	if err != nil {
		return Member{}, err
	}
	return s.withValues(ctx, db, fromMemberRow(r))
}

// ByNumber returns the member with the number (M0000001).
func (s *Service) ByNumber(ctx context.Context, db bun.IDB, number string) (Member, error) {
	r, err := s.store.rowByNumber(ctx, db, strings.ToUpper(strings.TrimSpace(number)))
	if err != nil {
		return Member{}, err
	}
	return s.withValues(ctx, db, fromMemberRow(r))
}

func (s *Service) withValues(ctx context.Context, db bun.IDB, m Member) (Member, error) {
	vals, err := s.store.values(ctx, db, []string{m.ID})
	if err != nil {
		return Member{}, err
	}
	if v := vals[m.ID]; v != nil {
		m.Attributes = v
	}
	return m, nil
}

func (p *ListParams) check() error {
	var v apperr.Validator
	if p.Limit == 0 {
		p.Limit = MaxPageSize
	}
	v.Check(p.Limit >= 1 && p.Limit <= MaxPageSize, "limit", "range", map[string]any{"Min": 1, "Max": MaxPageSize})
	v.Check(len(p.Q) <= 200, "q", "max", map[string]any{"Param": "200"})
	for _, st := range p.Statuses {
		ok := false
		for _, x := range Statuses() {
			ok = ok || x == st
		}
		v.Check(ok, "status", "oneof", map[string]any{"Param": "pending active withdrawn disabled"})
	}
	return v.Err()
}

// List returns a page of members in number order matching p, and the
// cursor of the next page ("" on the last).
func (s *Service) List(ctx context.Context, db bun.IDB, p ListParams) ([]Member, string, error) {
	if err := p.check(); err != nil {
		return nil, "", err
	}
	rows, err := s.store.list(ctx, db, p)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > p.Limit {
		rows = rows[:p.Limit]
		next = rows[len(rows)-1].Number
	}
	ids := make([]string, 0, len(rows))
	for i := range rows {
		ids = append(ids, rows[i].ID)
	}
	vals, err := s.store.values(ctx, db, ids)
	if err != nil {
		return nil, "", err
	}
	out := make([]Member, 0, len(rows))
	for i := range rows {
		m := fromMemberRow(&rows[i])
		if v := vals[m.ID]; v != nil {
			m.Attributes = v
		}
		out = append(out, m)
	}
	return out, next, nil
}

// Count returns how many members match p's filters (not its page).
func (s *Service) Count(ctx context.Context, db bun.IDB, p ListParams) (int, error) {
	if err := p.check(); err != nil {
		return 0, err
	}
	return s.store.count(ctx, db, p)
}

// Update changes a member on staff's behalf. A withdrawn member cannot be
// changed (ErrWithdrawn). Disabling ends the member's sessions.
func (s *Service) Update(ctx context.Context, db bun.IDB, id string, p Patch) (Member, error) {
	return s.update(ctx, db, id, p, true, auditlog.Actor{})
}

// UpdateProfile is the my page's profile form: the member m changes its own
// profile and attributes (required ones stay required, staff-only ones
// cannot be touched).
func (s *Service) UpdateProfile(ctx context.Context, db bun.IDB, m Member, p ProfilePatch, attrs map[string]string) (Member, error) {
	return s.update(ctx, db, m.ID, Patch{Profile: p, Attributes: attrs}, false, memberActor(m))
}

func (s *Service) update(ctx context.Context, db bun.IDB, id string, p Patch, staff bool, actor auditlog.Actor) (Member, error) {
	now := s.clock()
	defs, err := s.store.attributes(ctx, db)
	if err != nil {
		return Member{}, err
	}
	var out Member
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		r, err := s.store.rowByID(ctx, tx, id, true)
		if err != nil {
			return err
		}
		cur, err := s.withValues(ctx, tx, fromMemberRow(r))
		if err != nil {
			return err
		}
		if cur.Status == StatusWithdrawn {
			return ErrWithdrawn
		}
		next := cur
		var v apperr.Validator
		if p.Email != nil {
			next.Email = normalizeEmail(*p.Email)
			checkEmail(&v, "email", next.Email)
		}
		if p.Status != nil {
			v.Check(*p.Status == StatusActive || *p.Status == StatusDisabled, "status", "oneof", map[string]any{"Param": "active disabled"})
			next.Status = *p.Status
		}
		in := InputOf(cur.Profile)
		p.Profile.apply(&in)
		prof, profErr := NormalizeProfile(in, now)
		next.Profile = prof
		// Values as they will be: the current ones with the patch on top,
		// checked as a whole so a required attribute cannot be emptied.
		merged := map[string]string{}
		for k, val := range cur.Attributes {
			merged[k] = val
		}
		for k, val := range p.Attributes {
			merged[k] = val
		}
		vals, attrErr := checkValues(defs, merged, staff, !staff)
		if !staff {
			// A member never sees staff-only values: they stay as they are.
			for _, d := range defs {
				if val, ok := cur.Attributes[d.ID]; ok && d.Requirement == StaffOnly {
					vals[d.ID] = val
				}
			}
		}
		if err := mergeErrors(v.Err(), profErr, attrErr); err != nil {
			return err
		}
		var ch auditlog.Changes
		if next.Email != cur.Email {
			withheld(&ch, "email")
		}
		ch.Add("status", string(cur.Status), string(next.Status))
		profileChanges(&ch, cur.Profile, next.Profile)
		for _, d := range defs {
			if cur.Attributes[d.ID] != vals[d.ID] {
				if err := s.store.setValue(ctx, tx, id, d.ID, vals[d.ID]); err != nil {
					return err
				}
				withheld(&ch, "attributes."+d.ID)
			}
		}
		next.Attributes = vals
		next.UpdatedAt = now
		if len(ch) == 0 {
			out = cur
			return nil
		}
		if err := s.store.updateMember(ctx, tx, toMemberRow(next)); err != nil {
			return err
		}
		if next.Status == StatusDisabled && cur.Status != StatusDisabled {
			if err := s.store.deleteSessions(ctx, tx, id); err != nil {
				return err
			}
		}
		action := "member.update"
		if !staff {
			action = "member.profile_update"
		}
		out = next
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: actor, Action: action, ObjectID: id, Changes: ch})
	})
	return out, err
}

// Withdraw ends the membership of id: its personal data (e-mail, profile,
// attribute values, password) is erased, its sessions and links end, and
// its number stays, so reservations and the operation log still name it.
// by is who did it: the member on the my page, or the zero Actor for staff
// (taken from the request's audit context). Withdrawing twice is
// ErrWithdrawn.
func (s *Service) Withdraw(ctx context.Context, db bun.IDB, id string, by auditlog.Actor) (Member, error) {
	now := s.clock()
	var out Member
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		r, err := s.store.rowByID(ctx, tx, id, true)
		if err != nil {
			return err
		}
		cur := fromMemberRow(r)
		if cur.Status == StatusWithdrawn {
			return ErrWithdrawn
		}
		m := Member{ID: cur.ID, Number: cur.Number, Status: StatusWithdrawn, Attributes: map[string]string{},
			EmailVerifiedAt: time.Time{}, WithdrawnAt: now, CreatedAt: cur.CreatedAt, UpdatedAt: now}
		if err := s.store.updateMember(ctx, tx, toMemberRow(m)); err != nil {
			return err
		}
		if err := s.store.setPassword(ctx, tx, id, "", now); err != nil {
			return err
		}
		if err := s.store.deleteValues(ctx, tx, id); err != nil {
			return err
		}
		if err := s.store.deleteSessions(ctx, tx, id); err != nil {
			return err
		}
		for _, p := range []string{purposeVerify, purposeReset} {
			if err := s.store.revokeTokens(ctx, tx, id, p, now); err != nil {
				return err
			}
		}
		var ch auditlog.Changes
		ch.Add("status", string(cur.Status), string(StatusWithdrawn))
		withheld(&ch, "personal_data")
		out = m
		return audit(ctx, tx, auditlog.Entry{At: now, Actor: by, Action: "member.withdraw", ObjectID: id, Changes: ch})
	})
	if err != nil {
		return Member{}, err
	}
	s.log.InfoContext(ctx, "member withdrawn", "member_id", id)
	return out, nil
}
