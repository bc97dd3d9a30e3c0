// Package members holds a tenant's member accounts: customers who register
// on the booking site with e-mail verification, sign in (with the staff
// accounts' password policy, hashing, throttling, lockout and session
// timeouts, through identity), reset a forgotten password, keep a Japanese
// profile (姓/名, セイ/メイ, phone, 郵便番号, 都道府県, address, birth date,
// gender) plus the tenant's own attributes, and withdraw. Staff find and
// manage members through the tenant API (/api/v1/members,
// /api/v1/member-attributes) and the console (/admin/members).
//
// Service is the contract; reservations reads members through Get and
// ByEmail and learns who is signed in on the booking site from MemberFrom
// (after Site's session middleware). Every change is written with its
// operation-log entry (and, for mails, its outbox event) in one
// transaction. Profile values are personal data: the operation log records
// which profile fields changed, never their values, so that a withdrawal,
// which blanks them, leaves nothing of them behind but the member number.
//
// Decisions worth knowing:
//   - kana: half-width katakana (ｾｲ) is widened (セイ) and hiragana (せい)
//     is turned into katakana, because phones offer hiragana first and the
//     site should forgive it; anything else is refused with
//     「全角カタカナで入力してください」;
//   - 郵便番号 is stored as 7 digits and shown as 123-4567; 都道府県 as its
//     JIS X 0401 code (1–47), given by code or by name;
//   - phone numbers are Japanese (0 and 9 or 10 more digits), stored with
//     the hyphens as typed (dashes of any width become "-") and searched
//     by digits;
//   - e-mail addresses are compared lower-cased; a withdrawn member's
//     address is released (NULL), so the person may register again.
package members

import (
	"context"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Status is where a member account stands.
type Status string

// The statuses.
const (
	// StatusPending: registered on the site, e-mail not verified yet;
	// cannot sign in.
	StatusPending Status = "pending"
	// StatusActive: may sign in and book as a member.
	StatusActive Status = "active"
	// StatusWithdrawn: the member left; personal data is erased, the
	// number stays. Final.
	StatusWithdrawn Status = "withdrawn"
	// StatusDisabled: staff stopped the account; cannot sign in.
	StatusDisabled Status = "disabled"
)

// Statuses lists the statuses (a new slice each call).
func Statuses() []Status {
	return []Status{StatusPending, StatusActive, StatusWithdrawn, StatusDisabled}
}

// Gender is an optional profile value.
type Gender string

// The genders a profile may hold ("" is not given).
const (
	GenderFemale   Gender = "female"
	GenderMale     Gender = "male"
	GenderOther    Gender = "other"
	GenderNoAnswer Gender = "no_answer"
)

// Genders lists the genders (a new slice each call).
func Genders() []Gender { return []Gender{GenderFemale, GenderMale, GenderOther, GenderNoAnswer} }

// Profile is a member's personal data, normalised: kana in full-width
// katakana, PostalCode 7 digits ("" when not given), Prefecture a JIS code
// (0 when not given), BirthDate YYYY-MM-DD or "".
type Profile struct {
	FamilyName string // 姓
	GivenName  string // 名
	FamilyKana string // セイ
	GivenKana  string // メイ
	Phone      string
	PostalCode string
	Prefecture int
	Address1   string // 市区町村・番地
	Address2   string // 建物名・部屋番号
	BirthDate  string
	Gender     Gender
}

// Name is the member's name as Japanese writes it: family name first.
func (p Profile) Name() string { return joinName(p.FamilyName, p.GivenName) }

// Kana is the member's kana, family name first.
func (p Profile) Kana() string { return joinName(p.FamilyKana, p.GivenKana) }

func joinName(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

// Member is one member account.
type Member struct {
	ID      string
	Number  string // M0000001: human-readable, sequential per tenant
	Email   string // lower-cased; "" once withdrawn
	Status  Status
	Profile Profile
	// Attributes are the tenant-defined values by attribute id.
	Attributes      map[string]string
	HasPassword     bool
	FailedLogins    int
	LockedUntil     time.Time
	LastLoginAt     time.Time
	EmailVerifiedAt time.Time
	WithdrawnAt     time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Locked reports whether the account is locked out at now.
func (m Member) Locked(now time.Time) bool { return now.Before(m.LockedUntil) }

// AttributeKind is the kind of value a tenant-defined attribute takes.
type AttributeKind string

// The attribute kinds.
const (
	AttrText   AttributeKind = "text"
	AttrNumber AttributeKind = "number"
	AttrDate   AttributeKind = "date"
	AttrChoice AttributeKind = "choice"
)

// AttributeKinds lists the kinds (a new slice each call).
func AttributeKinds() []AttributeKind {
	return []AttributeKind{AttrText, AttrNumber, AttrDate, AttrChoice}
}

// Requirement says who gives an attribute's value.
type Requirement string

// The requirements.
const (
	Required  Requirement = "required"   // the member must give it at registration
	Optional  Requirement = "optional"   // the member may give it
	StaffOnly Requirement = "staff_only" // only staff see and set it
)

// Requirements lists the requirements (a new slice each call).
func Requirements() []Requirement { return []Requirement{Required, Optional, StaffOnly} }

// Attribute is the definition of a tenant-defined member attribute.
type Attribute struct {
	ID          string
	LabelJA     string
	LabelEN     string
	Kind        AttributeKind
	Requirement Requirement
	Choices     []string // AttrChoice only
	Position    int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Label is the attribute's label in lang (Japanese when no English one).
func (a Attribute) Label(lang string) string {
	if lang == "en" && a.LabelEN != "" {
		return a.LabelEN
	}
	return a.LabelJA
}

// Errors of the module.
var (
	ErrNotFound          = apperr.New(apperr.KindNotFound, "member_not_found")
	ErrEmailTaken        = apperr.New(apperr.KindConflict, "member_email_taken")
	ErrWithdrawn         = apperr.New(apperr.KindConflict, "member_withdrawn")
	ErrAttributeNotFound = apperr.New(apperr.KindNotFound, "member_attribute_not_found")
	// ErrLoginFailed answers an unknown address, a wrong password, an
	// unverified, disabled or withdrawn account alike.
	ErrLoginFailed = apperr.New(apperr.KindUnauthorized, "member_login_failed")
	// ErrAccountLocked: too many failures; Args Until, RetryAfter, Minutes.
	ErrAccountLocked = apperr.New(apperr.KindRateLimited, "member_account_locked")
	// ErrLoginThrottled: too many failures from the source address.
	ErrLoginThrottled = apperr.New(apperr.KindRateLimited, "member_login_throttled")
	// ErrTokenInvalid: a verification or reset link that is unknown,
	// expired or used.
	ErrTokenInvalid = apperr.New(apperr.KindGone, "member_link_invalid")
	// ErrSessionExpired: no live member session.
	ErrSessionExpired = apperr.New(apperr.KindUnauthorized, "member_session_expired")
	// ErrCSRFInvalid: a booking-site form without its token.
	ErrCSRFInvalid = apperr.New(apperr.KindForbidden, "member_csrf_invalid")
	// ErrResetThrottled: too many reset (or verification) requests.
	ErrResetThrottled = apperr.New(apperr.KindRateLimited, "member_reset_throttled")
)

type memberKey struct{}

// WithMember returns ctx carrying the signed-in member m.
func WithMember(ctx context.Context, m Member) context.Context {
	return context.WithValue(ctx, memberKey{}, m)
}

// MemberFrom returns the member signed in on the booking site, as the
// site's session middleware (Site.Session or Site.OptionalSession) put it
// in ctx.
func MemberFrom(ctx context.Context) (Member, bool) {
	m, ok := ctx.Value(memberKey{}).(Member)
	return m, ok
}
