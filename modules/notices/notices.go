// Package notices is how the operator speaks to tenants and to everyone:
//
//   - Operator notices — information, planned maintenance, incidents and the
//     end of the service — addressed to every tenant or to chosen ones. They
//     appear in each console's お知らせ panel with unread state per staff
//     member; maintenance and end-of-service notices are also handed to a
//     hook (OnPublished) that mails the tenants' contacts. The service
//     promises planned stops about two weeks ahead and the end of the service
//     a month ahead, so a maintenance notice starting less than 14 days ahead,
//     or an end-of-service notice less than 30 days ahead, is refused unless
//     the operator marks it urgent.
//   - The public status page (/status, /status.json): component health from
//     checks a Checker runs every minute, active incidents, upcoming
//     maintenance and 90 days of daily availability.
//
// Notices and status data live in the control database; whether a staff
// member has read a notice lives in the tenant's own database
// (notice_reads), so nothing of one tenant is stored with another's.
package notices

import (
	"context"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Kind is what a notice is about.
type Kind string

// The kinds of notice.
const (
	KindInfo         Kind = "info"           // information
	KindMaintenance  Kind = "maintenance"    // a planned stop, with a window
	KindIncident     Kind = "incident"       // something is broken now
	KindEndOfService Kind = "end_of_service" // the service ends at StartsAt
)

// Kinds lists every kind, in the order the API documents them.
var Kinds = []Kind{KindInfo, KindMaintenance, KindIncident, KindEndOfService}

// Mailed reports whether notices of kind k are also mailed to the tenants'
// contacts (through Config.OnPublished).
func (k Kind) Mailed() bool { return k == KindMaintenance || k == KindEndOfService }

// Lead times the service promises (PRODUCT.md, "planned stops announced ~2
// weeks ahead, service end 1 month ahead"), and how long a notice stays in
// the console after it ended.
const (
	MaintenanceLeadDays  = 14
	EndOfServiceLeadDays = 30
	PastNoticeDays       = 30
)

// State is where a notice stands at a moment.
type State string

// The states. A notice is current from StartsAt until EndsAt; one without
// an end stays current until it is given one or withdrawn.
const (
	StateUpcoming  State = "upcoming"
	StateActive    State = "active"
	StateEnded     State = "ended"
	StateWithdrawn State = "withdrawn"
)

// Notice is one announcement of the operator.
type Notice struct {
	ID       string
	Kind     Kind
	Title    string
	Body     string // plain text; lines separated by "\n"
	StartsAt time.Time
	EndsAt   time.Time // zero: open-ended
	// Tenants are the slugs of the tenants addressed, sorted; empty: every
	// tenant.
	Tenants   []string
	Urgent    bool // posted with less lead time than promised
	Revision  int  // 1 on creation, +1 per change
	CreatedAt time.Time
	UpdatedAt time.Time
	// WithdrawnAt is when the operator withdrew the notice; zero: it stands.
	WithdrawnAt time.Time
	// AnnouncedAt is when OnPublished last succeeded for this revision;
	// zero for kinds that are not mailed, and while it is pending.
	AnnouncedAt time.Time
}

// State returns the notice's state at now.
func (n Notice) State(now time.Time) State {
	switch {
	case !n.WithdrawnAt.IsZero():
		return StateWithdrawn
	case now.Before(n.StartsAt):
		return StateUpcoming
	case n.EndsAt.IsZero() || now.Before(n.EndsAt):
		return StateActive
	}
	return StateEnded
}

// ForAll reports whether the notice addresses every tenant.
func (n Notice) ForAll() bool { return len(n.Tenants) == 0 }

// CreateParams are a new notice. Instants are RFC 3339 strings, as the API
// and the CLI receive them; the service parses them so both report a bad
// one the same way.
type CreateParams struct {
	Kind  Kind   `json:"kind" validate:"required,oneof=info maintenance incident end_of_service"`
	Title string `json:"title" validate:"required,max=200,nocontrol"`
	Body  string `json:"body" validate:"required,max=10000"`
	// StartsAt is required for maintenance and end_of_service (the moment
	// the service ends); info and incident default to now.
	StartsAt string `json:"starts_at"`
	// EndsAt is required for maintenance; optional otherwise.
	EndsAt string `json:"ends_at"`
	// Tenants are slugs of existing tenants; empty: every tenant.
	Tenants []string `json:"tenants" validate:"max=1000"`
	Urgent  bool     `json:"urgent"`
}

// UpdateParams change a notice; nil fields stay as they are. The kind and
// the tenants addressed cannot change: withdraw the notice and post another.
type UpdateParams struct {
	Title    *string `json:"title" validate:"omitempty,max=200,nocontrol"`
	Body     *string `json:"body" validate:"omitempty,max=10000"`
	StartsAt *string `json:"starts_at"`
	EndsAt   *string `json:"ends_at"`
	Urgent   *bool   `json:"urgent"`
}

// ListParams filter and page the operator's listing, newest first.
type ListParams struct {
	State State  // empty: every notice, withdrawn ones included
	After string // id to continue after (the previous page's last)
	Limit int    // 1–1000, default 100
}

// TenantNotice is a notice as one staff member of a tenant sees it.
type TenantNotice struct {
	Notice
	Read   bool
	ReadAt time.Time
}

// PublishedHook is told of a maintenance or end-of-service notice once it
// is stored (and again when its window changes), with the tenants it
// addresses (active and suspended ones). It should enqueue the mails
// durably and return: it may be called more than once for one revision
// (after a failure, or by two processes retrying at once), so it must be
// idempotent per (notice ID, Revision).
type PublishedHook func(ctx context.Context, n Notice, addressed []tenants.Tenant) error

// Directory is what the service needs of the tenants module
// (*tenants.Service implements it).
type Directory interface {
	Get(ctx context.Context, slug string) (tenants.Tenant, error)
	GetByID(ctx context.Context, id string) (tenants.Tenant, error)
	List(ctx context.Context, p tenants.ListParams) ([]tenants.Tenant, error)
}

// Errors of this module.
var (
	ErrNotFound  = apperr.New(apperr.KindNotFound, "notice_not_found")
	ErrWithdrawn = apperr.New(apperr.KindConflict, "notice_withdrawn")
	ErrChanged   = apperr.New(apperr.KindConflict, "notice_changed")
)
