// Package notify sends the e-mails of a tenant: it renders the mail of an
// event (staff invitations, password-reset links, two-factor changes, test
// mails; later the booking events) from the tenant's template in Japanese
// or English, and delivers it over SMTP to its recipient and, when the
// tenant asks for it, as separate copies to the tenant's contact addresses.
//
// Delivery is driven by the outbox: its handler calls Deliver with the
// event's id, type and payload, at least once. Every message's Message-ID
// derives from the event id, so a retry re-sends the same message, and a
// message recorded as sent (per event and recipient, in the tenant's
// mail_deliveries) is never sent again. Errors say whether a retry can help
// (Permanent). Logs name events and Message-IDs, never addresses or bodies.
//
// Templates: built-in defaults live in web/mail/<lang>/<event
// type>.{subject.txt,txt,html}; a tenant may replace them (subject, text
// body, optional HTML body) in its database. A template is rendered against
// the event's sample data when it is saved and refused with field errors
// if it does not parse or render, so a mail never fails for its template at
// send time; subject and header values are single-line by construction, so
// no variable can inject a header.
package notify

import (
	"errors"
	"slices"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// The event types this module mails. The payload of each is the struct of
// the same name, as JSON.
const (
	// EventStaffInvited goes to an invited staff member with the link where
	// they set their password (payload StaffInvited).
	EventStaffInvited = "staff.invited"
	// EventStaffPasswordReset goes to a staff member with a password-reset
	// link (payload StaffPasswordReset).
	EventStaffPasswordReset = "staff.password_reset"
	// EventStaff2FAChanged tells a staff member that two-factor sign-in was
	// turned on or off for their account (payload Staff2FAChanged).
	EventStaff2FAChanged = "staff.2fa_changed"
	// EventMemberVerify goes to a member who registered on the booking
	// site (or whom staff added with a verification mail) with the link
	// that confirms the address (payload MemberVerify).
	EventMemberVerify = "member.verify"
	// EventMemberPasswordReset goes to a member with a password-reset link
	// for the booking site (payload MemberPasswordReset).
	EventMemberPasswordReset = "member.password_reset"
	// EventMailTest is a test mail to any address (payload MailTest).
	EventMailTest = "mail.test"
	// EventNoticePublished tells a tenant's contact address of the
	// operator's maintenance or end-of-service notice (payload
	// NoticePublished). It is the platform's mail, not the tenant's: its
	// template is not the tenant's to edit, its sender is the platform and
	// it is never copied.
	EventNoticePublished = "notice.published"
)

// Languages of templates.
const (
	LangJapanese = "ja"
	LangEnglish  = "en"
)

// Langs lists the template languages, the default first.
var Langs = []string{LangJapanese, LangEnglish}

// StaffInvited is the payload of staff.invited.
type StaffInvited struct {
	Email       string    `json:"email" validate:"required,max=254,email"`
	DisplayName string    `json:"display_name" validate:"max=200"`
	SetupURL    string    `json:"setup_url" validate:"required,max=2000,http_url"`
	Inviter     string    `json:"inviter" validate:"max=200"` // display name of who invited; empty for the platform
	ExpiresAt   time.Time `json:"expires_at,omitzero"`        // when the link expires; shown when set
	Lang        string    `json:"lang,omitempty" validate:"omitempty,oneof=ja en"`
}

// StaffPasswordReset is the payload of staff.password_reset.
type StaffPasswordReset struct {
	Email       string    `json:"email" validate:"required,max=254,email"`
	DisplayName string    `json:"display_name" validate:"max=200"`
	ResetURL    string    `json:"reset_url" validate:"required,max=2000,http_url"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	Lang        string    `json:"lang,omitempty" validate:"omitempty,oneof=ja en"`
}

// Staff2FAChanged is the payload of staff.2fa_changed.
type Staff2FAChanged struct {
	Email       string    `json:"email" validate:"required,max=254,email"`
	DisplayName string    `json:"display_name" validate:"max=200"`
	Enabled     bool      `json:"enabled"`                       // turned on (true) or off
	ChangedBy   string    `json:"changed_by" validate:"max=200"` // who did it, when not the member (an administrator's reset)
	At          time.Time `json:"at,omitzero"`                   // when; default the time of sending
	Lang        string    `json:"lang,omitempty" validate:"omitempty,oneof=ja en"`
}

// MemberVerify is the payload of member.verify.
type MemberVerify struct {
	Email     string    `json:"email" validate:"required,max=254,email"`
	Name      string    `json:"name" validate:"max=200"`
	VerifyURL string    `json:"verify_url" validate:"required,max=2000,http_url"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Lang      string    `json:"lang,omitempty" validate:"omitempty,oneof=ja en"`
}

// MemberPasswordReset is the payload of member.password_reset.
type MemberPasswordReset struct {
	Email     string    `json:"email" validate:"required,max=254,email"`
	Name      string    `json:"name" validate:"max=200"`
	ResetURL  string    `json:"reset_url" validate:"required,max=2000,http_url"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Lang      string    `json:"lang,omitempty" validate:"omitempty,oneof=ja en"`
}

// MailTest is the payload of mail.test.
type MailTest struct {
	To          string `json:"to" validate:"required,max=254,email"`
	RequestedBy string `json:"requested_by" validate:"max=200"`
	Lang        string `json:"lang,omitempty" validate:"omitempty,oneof=ja en"`
}

// NoticePublished is the payload of notice.published: one notice to one
// contact address of a tenant.
type NoticePublished struct {
	Email    string    `json:"email" validate:"required,max=254,email"`
	NoticeID string    `json:"notice_id" validate:"required,max=64"`
	Revision int       `json:"revision" validate:"min=1"`
	Kind     string    `json:"kind" validate:"required,oneof=info maintenance incident end_of_service"`
	Title    string    `json:"title" validate:"required,max=200"`
	Body     string    `json:"body" validate:"max=10000"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	Urgent   bool      `json:"urgent"`
	Lang     string    `json:"lang,omitempty" validate:"omitempty,oneof=ja en"`
}

// EventType describes one event type this module mails.
type EventType struct {
	Type string
	// Copyable says whether the tenant may have the mail copied to its
	// contact addresses. Mails that carry a one-time link (invitation,
	// password reset) are not: the link is a credential of its recipient.
	Copyable bool
	// Platform says the mail is the platform operator's to the tenant
	// (operator notices): tenants cannot edit its template, and it goes out
	// under the platform's sender name without the tenant's Reply-To.
	Platform bool
	// Variables are the names a template of this type may use ({{.Name}}).
	Variables []string
}

// TenantInfo is what sending needs to know of the tenant.
type TenantInfo struct {
	ID            string
	Slug          string
	Name          string   // the sender name when the tenant set none
	Locale        string   // "ja" or "en": the language of mails whose payload names none
	TimeZone      string   // IANA zone of dates in mails; default Asia/Tokyo
	ContactEmails []string // where copies go
}

// TenantInfoOf returns what notify needs of t.
func TenantInfoOf(t tenants.Tenant) TenantInfo {
	return TenantInfo{
		ID: t.ID, Slug: t.Slug, Name: t.Name, Locale: t.Locale, TimeZone: t.TimeZone,
		ContactEmails: slices.Clone(t.ContactEmails),
	}
}

// TemplateContent is the editable part of a template.
type TemplateContent struct {
	Subject string `json:"subject"`   // text/template, one line
	Text    string `json:"body_text"` // text/template: the plain-text part, always sent
	HTML    string `json:"body_html"` // html/template: the HTML part; empty sends text only
}

// Template is the template of one event type in one language.
type Template struct {
	EventType string
	Lang      string
	TemplateContent
	Custom    bool      // the tenant's own; false: the built-in default
	UpdatedAt time.Time // of the tenant's own
}

// Rendered is a mail rendered from a template.
type Rendered struct {
	Subject string
	Text    string
	HTML    string // empty when the template has no HTML part
}

// Settings are a tenant's mail settings.
type Settings struct {
	// SenderName is the display name of From; empty: the tenant's name.
	// The address itself is the platform's.
	SenderName string
	// ReplyTo is where replies go; empty: no Reply-To.
	ReplyTo string
	// CopyEvents are the event types also sent, as separate messages, to
	// the tenant's contact addresses.
	CopyEvents []string
	UpdatedAt  time.Time
}

// SettingsParams replace a tenant's mail settings.
type SettingsParams struct {
	SenderName string   `json:"sender_name" validate:"max=100,nocontrol"`
	ReplyTo    string   `json:"reply_to" validate:"omitempty,max=254,email"`
	CopyEvents []string `json:"copy_events" validate:"max=50,dive,required,max=64"`
}

// DeliveryStatus is how the last attempt to send one message ended.
type DeliveryStatus string

// The delivery states.
const (
	StatusSent   DeliveryStatus = "sent"
	StatusFailed DeliveryStatus = "failed"
)

// Delivery is the record of one message: one event to one recipient. It
// never holds the message's content.
type Delivery struct {
	EventID   string
	EventType string
	Recipient string // lower-cased
	Copy      bool   // a copy to a contact address
	Lang      string
	Status    DeliveryStatus
	MessageID string // without angle brackets
	Attempts  int
	Error     string // of the last failed attempt
	CreatedAt time.Time
	UpdatedAt time.Time
	SentAt    time.Time // zero until sent
}

// DeliveryFilter selects deliveries, newest first; zero fields do not
// filter.
type DeliveryFilter struct {
	EventID string
	Status  DeliveryStatus
	Limit   int // 1–1000, default 100
}

// TestParams describe a test send: the template of EventType (default
// mail.test) in Lang, or Draft when given, rendered with sample data and
// sent at once to To.
type TestParams struct {
	To          string           `json:"to" validate:"required,max=254,email"`
	EventType   string           `json:"event_type"`
	Lang        string           `json:"lang" validate:"omitempty,oneof=ja en"`
	Draft       *TemplateContent `json:"draft"`
	RequestedBy string           `json:"-"`
}

// Errors of this module.
var (
	// ErrNotConfigured: no SMTP server is configured; nothing can be sent.
	ErrNotConfigured = apperr.New(apperr.KindUnavailable, "mail_not_configured")
	// ErrUnavailable: the SMTP server could not be reached or refused for
	// now (connection, TLS, authentication, a 4xx reply). A retry may work.
	ErrUnavailable = apperr.New(apperr.KindUnavailable, "mail_unavailable")
	// ErrRejected: the SMTP server refused the message for good (a 5xx
	// reply to its sender, recipient or content).
	ErrRejected = apperr.New(apperr.KindDownstream, "mail_rejected")
	// ErrUnknownEvent: the event type has no mail.
	ErrUnknownEvent = apperr.New(apperr.KindNotFound, "mail_event_unknown")
	// ErrBadEvent: the event's id or payload cannot make a mail (a bug of
	// the module that wrote it).
	ErrBadEvent = apperr.New(apperr.KindInternal, "mail_event_invalid")
)

// Permanent reports whether err, returned by Deliver, will not go away by
// retrying: the event is unknown or malformed, or the server rejected the
// message for good. The outbox should dead-letter such an event at once;
// every other error is worth a retry with backoff.
func Permanent(err error) bool {
	return errors.Is(err, ErrRejected) || errors.Is(err, ErrUnknownEvent) || errors.Is(err, ErrBadEvent)
}
