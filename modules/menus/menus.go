// Package menus is a tenant's catalog: categories, menus (what a customer
// books: duration, price, capacity per slot, party size, booking mode,
// approval, visibility), their options (add-ons with a price and extra
// minutes), their booking questions, the providers (担当, the people who
// serve) and resources (設備: rooms, equipment with a quantity) a menu needs,
// and the booking rules of each menu with the tenant's defaults.
//
// Service is the contract. Every method takes the tenant's database
// (bun.IDB), so a caller inside a transaction passes its bun.Tx; every
// change is written with its operation-log entry in one transaction.
// Scheduling (timeslots) and booking (reservations) read menus through Get
// and List; rules are stored and validated here and enforced by
// reservations.
//
// Menus are archived, never deleted: reservations will keep pointing at
// them. A provider or resource that an active menu uses cannot be deleted
// (ErrProviderInUse, ErrResourceInUse).
package menus

import (
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// BookingMode says how a menu's bookable times are made.
type BookingMode string

// The booking modes.
const (
	// ModeHours: start times cut from business hours, limited by
	// providers and resources.
	ModeHours BookingMode = "hours"
	// ModeTimetable: scheduled sessions, one-off or recurring.
	ModeTimetable BookingMode = "timetable"
	// ModeEvent: one dated session.
	ModeEvent BookingMode = "event"
)

// BookingModes lists the modes (a new slice each call).
func BookingModes() []BookingMode { return []BookingMode{ModeHours, ModeTimetable, ModeEvent} }

// Visibility says who sees a menu on the booking site.
type Visibility string

// The visibilities.
const (
	VisibilityPublic  Visibility = "public"
	VisibilityMembers Visibility = "members" // members only: others see a badge
	VisibilityPrivate Visibility = "private" // staff only (console, API)
)

// Visibilities lists the visibilities (a new slice each call).
func Visibilities() []Visibility {
	return []Visibility{VisibilityPublic, VisibilityMembers, VisibilityPrivate}
}

// QuestionKind is the kind of answer a booking question takes.
type QuestionKind string

// The question kinds.
const (
	KindText           QuestionKind = "text"
	KindLongText       QuestionKind = "long_text"
	KindSingleChoice   QuestionKind = "single_choice"
	KindMultipleChoice QuestionKind = "multiple_choice"
	KindDate           QuestionKind = "date"
)

// QuestionKinds lists the kinds (a new slice each call).
func QuestionKinds() []QuestionKind {
	return []QuestionKind{KindText, KindLongText, KindSingleChoice, KindMultipleChoice, KindDate}
}

// HasChoices reports whether answers are picked from Choices.
func (k QuestionKind) HasChoices() bool { return k == KindSingleChoice || k == KindMultipleChoice }

// Requirement says who must answer a question.
type Requirement string

// The requirements.
const (
	Required  Requirement = "required"
	Optional  Requirement = "optional"
	StaffOnly Requirement = "staff_only" // asked in the console only, never on the booking site
)

// Requirements lists the requirements (a new slice each call).
func Requirements() []Requirement { return []Requirement{Required, Optional, StaffOnly} }

// Period is the span a per-member limit counts in.
type Period string

// The periods.
const (
	PeriodDay   Period = "day"
	PeriodWeek  Period = "week"
	PeriodMonth Period = "month"
)

// Periods lists the periods (a new slice each call).
func Periods() []Period { return []Period{PeriodDay, PeriodWeek, PeriodMonth} }

// Category groups menus on the booking site.
type Category struct {
	ID        string
	NameJA    string
	NameEN    string // optional
	Position  int    // ascending order, then ID
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Menu is one bookable offering with everything about it.
type Menu struct {
	ID               string
	CategoryID       string // "" when uncategorised
	NameJA           string
	NameEN           string // optional
	DescriptionJA    string
	DescriptionEN    string
	DurationMinutes  int   // > 0, ≤ 1440, a multiple of 5
	Price            int64 // yen (the currency's minor unit), ≥ 0
	Capacity         int   // seats per slot, ≥ 1
	PartyMin         int   // 1 ≤ PartyMin ≤ PartyMax ≤ Capacity
	PartyMax         int
	BookingMode      BookingMode
	ApprovalRequired bool // 仮予約: a booking waits for staff approval
	Visibility       Visibility
	Position         int
	Options          []Option
	Questions        []Question
	// ProviderIDs: the providers who can serve the menu, any one of them;
	// empty means no provider is needed.
	ProviderIDs []string
	// Resources: what one booking uses, with the quantity it needs.
	Resources []ResourceNeed
	// Rules: the menu's own rules, or nil when the tenant's defaults apply.
	Rules *Rules
	// Effective: the rules that apply (Rules, or the tenant's defaults);
	// filled by Get and List.
	Effective  Rules
	ArchivedAt *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Archived reports whether the menu was archived (deleted for the catalog).
func (m Menu) Archived() bool { return m.ArchivedAt != nil }

// MaxExtraMinutes is the longest the options can make a booking: the sum
// of every option's extra minutes.
func (m Menu) MaxExtraMinutes() int {
	n := 0
	for _, o := range m.Options {
		n += o.ExtraMinutes
	}
	return n
}

// Option is an add-on a customer may choose with a menu. (JSON names here
// are for the operation log; the API has types of its own.)
type Option struct {
	ID           string `json:"id"`
	NameJA       string `json:"name"`
	NameEN       string `json:"name_en"`
	Price        int64  `json:"price"`         // yen, ≥ 0
	ExtraMinutes int    `json:"extra_minutes"` // added to the menu's duration, ≥ 0
}

// Question is asked when booking a menu.
type Question struct {
	ID          string       `json:"id"`
	Kind        QuestionKind `json:"kind"`
	LabelJA     string       `json:"label"`
	LabelEN     string       `json:"label_en"`
	Choices     []string     `json:"choices"` // for choice kinds: non-empty, unique
	Requirement Requirement  `json:"requirement"`
}

// ResourceNeed is a resource a menu uses and how many units of it.
type ResourceNeed struct {
	ResourceID string `json:"resource_id"`
	Quantity   int    `json:"quantity"` // 1 ≤ Quantity ≤ the resource's quantity
}

// Provider is a person who serves (担当), not necessarily a console user.
type Provider struct {
	ID        string
	Name      string
	StaffID   string // the staff account, when the provider has one
	Active    bool
	Position  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Resource is a room or piece of equipment; Quantity units of it exist.
type Resource struct {
	ID        string
	Name      string
	Quantity  int // ≥ 1
	Active    bool
	Position  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Rules are a menu's booking rules. They are stored and validated here;
// reservations enforces them.
type Rules struct {
	// OpensDaysBefore: booking opens this many days before the start
	// (0: on the day itself), at most 730.
	OpensDaysBefore int `json:"opens_days_before"`
	// ClosesMinutesBefore: booking closes this many minutes before the
	// start, unless ClosesInBusinessDays.
	ClosesMinutesBefore int `json:"closes_minutes_before"`
	// ClosesInBusinessDays: booking closes ClosesBusinessDays business days
	// before the start day instead (e.g. "2営業日前まで").
	ClosesInBusinessDays bool `json:"closes_in_business_days"`
	ClosesBusinessDays   int  `json:"closes_business_days"`
	// CancelDeadlineMinutes, ChangeDeadlineMinutes: a member may cancel or
	// change up to this many minutes before the start (0: until the start).
	CancelDeadlineMinutes int `json:"cancel_deadline_minutes"`
	ChangeDeadlineMinutes int `json:"change_deadline_minutes"`
	// MaxPerMember reservations per member in MaxPerMemberPeriod (0: no limit).
	MaxPerMember       int    `json:"max_per_member"`
	MaxPerMemberPeriod Period `json:"max_per_member_period"`
}

// DefaultRules returns the tenant defaults until the tenant sets its own:
// open 90 days ahead, close at the start, no deadlines, no per-member limit.
func DefaultRules() Rules { return Rules{OpensDaysBefore: 90, MaxPerMemberPeriod: PeriodMonth} }

// EffectiveRules returns the rules that apply to m under the tenant defaults def.
func (m Menu) EffectiveRules(def Rules) Rules {
	if m.Rules != nil {
		return *m.Rules
	}
	return def
}

// Limits of the catalog.
const (
	MaxDurationMinutes = 24 * 60
	DurationStep       = 5
	MaxCapacity        = 10000
	MaxPrice           = 100_000_000
	MaxOptions         = 50
	MaxQuestions       = 50
	MaxChoices         = 50
	MaxPageSize        = 100
)

// Errors of the catalog.
var (
	ErrMenuNotFound     = apperr.New(apperr.KindNotFound, "menu_not_found")
	ErrCategoryNotFound = apperr.New(apperr.KindNotFound, "category_not_found")
	ErrProviderNotFound = apperr.New(apperr.KindNotFound, "provider_not_found")
	ErrResourceNotFound = apperr.New(apperr.KindNotFound, "resource_not_found")
	// ErrProviderInUse: an active menu names the provider (409).
	ErrProviderInUse = apperr.New(apperr.KindConflict, "provider_in_use")
	// ErrResourceInUse: an active menu uses the resource (409).
	ErrResourceInUse = apperr.New(apperr.KindConflict, "resource_in_use")
)

// Operation-log actions.
const (
	AuditCategoryCreate = "category.create"
	AuditCategoryUpdate = "category.update"
	AuditCategoryDelete = "category.delete"
	AuditMenuCreate     = "menu.create"
	AuditMenuUpdate     = "menu.update"
	AuditMenuArchive    = "menu.archive"
	AuditProviderCreate = "provider.create"
	AuditProviderUpdate = "provider.update"
	AuditProviderDelete = "provider.delete"
	AuditResourceCreate = "resource.create"
	AuditResourceUpdate = "resource.update"
	AuditResourceDelete = "resource.delete"
	AuditRulesUpdate    = "booking_rules.update"

	// AuditMenuPaymentPolicy: a menu's payment policy replaced.
	AuditMenuPaymentPolicy = "menu.payment_policy"
)
