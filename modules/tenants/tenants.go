// Package tenants owns the contracts: each tenant is one business with its
// own booking site, console and database. It validates and stores tenants in
// the control database, provisions (and on termination deletes) each
// tenant's database through the tenant registry, and resolves the tenant of
// every tenant-scoped request, refusing suspended and terminated ones.
package tenants

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
)

// Status is a tenant's lifecycle state.
type Status string

// The states a client sees. A tenant is "provisioning" only while its
// database is being made; such rows are invisible outside this package.
const (
	StatusActive       Status = "active"
	StatusSuspended    Status = "suspended"
	StatusTerminated   Status = "terminated"
	statusProvisioning Status = "provisioning"
)

// Defaults for new tenants.
const (
	DefaultTimeZone = "Asia/Tokyo"
	DefaultLocale   = "ja"
)

// Tenant is one contract.
type Tenant struct {
	ID              string
	Slug            string
	Name            string
	TimeZone        string
	Locale          string
	Status          Status
	ContactEmails   []string
	Options         []string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	StatusChangedAt time.Time
	DB              tenantdb.Placement
}

// HasOption reports whether the tenant has enabled option name.
func (t Tenant) HasOption(name string) bool { return slices.Contains(t.Options, name) }

// CreateParams are what a new tenant needs. Empty TimeZone and Locale take
// the defaults.
type CreateParams struct {
	Slug          string   `json:"slug" validate:"required"`
	Name          string   `json:"name" validate:"required,max=200,nocontrol"`
	TimeZone      string   `json:"time_zone" validate:"omitempty,iana_tz"`
	Locale        string   `json:"locale" validate:"omitempty,oneof=ja en"`
	ContactEmails []string `json:"contact_emails" validate:"max=20,dive,required,max=254,email"`
	Options       []string `json:"options" validate:"max=50"`
	// OwnerEmail, when set, makes the tenant's owner account; the creator
	// gets a one-time setup link for it (see Provisioner).
	OwnerEmail string `json:"owner_email" validate:"omitempty,max=254,email"`
}

// Provisioner finishes a new tenant inside its creation: it runs after the
// tenant's database is made and migrated, before the tenant turns active,
// with that database. It is how later modules (identity: the owner
// account) take part without tenants importing them; cmd/yoyaku wires it.
// An error undoes the whole creation.
type Provisioner func(ctx context.Context, t Tenant, db bun.IDB, p CreateParams) (Provisioned, error)

// Provisioned is what a Provisioner hands back to the creator.
type Provisioned struct {
	OwnerSetupURL string // one-time link where the owner sets a password
}

// Created is a new tenant and what its provisioning handed back.
type Created struct {
	Tenant
	Provisioned
}

// UpdateParams change a tenant; nil fields stay as they are.
type UpdateParams struct {
	Name          *string   `json:"name" validate:"omitempty,max=200,nocontrol"`
	TimeZone      *string   `json:"time_zone" validate:"omitempty,iana_tz"`
	Locale        *string   `json:"locale" validate:"omitempty,oneof=ja en"`
	ContactEmails *[]string `json:"contact_emails" validate:"omitempty,max=20,dive,required,max=254,email"`
	Options       *[]string `json:"options" validate:"omitempty,max=50"`
	Status        *Status   `json:"status" validate:"omitempty,oneof=active suspended terminated"`
}

// ListParams filter and page a listing, ordered by slug.
type ListParams struct {
	Status Status // empty: all but terminated
	After  string // slug to continue after
	Limit  int    // 1–1000, default 100
}

// Options is the set of features a tenant can have enabled. Later
// capabilities add theirs here; an unknown name is refused so a typo does
// not silently enable nothing.
var Options = []string{
	"api",        // the tenant REST API and API keys
	"audit_log",  // the searchable, downloadable operation log (an option in the checklist)
	"lottery",    // 抽選 mode for popular openings
	"payments",   // prepayment through the payments plugin
	"plugins",    // third-party plugins
	"salesforce", // Salesforce sync
	"sso",        // member single sign-on
	"waitlist",   // waitlists with automatic promotion
	"wareki",     // 和暦 dates in the UI
	"webhooks",   // outbound webhooks
}

// ReservedSlugs cannot be tenant names: they are, or may become, paths and
// host names of the service itself.
var ReservedSlugs = []string{
	"about", "account", "accounts", "admin", "administrator", "api", "app", "apps", "assets",
	"auth", "billing", "blog", "cdn", "console", "contact", "dashboard", "default", "dev",
	"docs", "download", "example", "ftp", "graphql", "health", "healthz", "help", "home",
	"imap", "info", "internal", "legal", "login", "logout", "mail", "manage", "metrics",
	"mysql", "news", "null", "oauth", "openapi", "operator", "platform", "plugin", "plugins",
	"pop3", "portal", "postmaster", "privacy", "public", "readyz", "register", "reserve",
	"root", "sdk", "security", "settings", "signin", "signup", "smtp", "sql", "sqlite", "ssl",
	"staff", "stage", "staging", "static", "status", "support", "sysadmin", "system", "terms",
	"test", "undefined", "webhook", "webhooks", "webmail", "www", "yoyaku",
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{2,28}[a-z0-9]$`)

// ValidSlug reports whether s has the form of a tenant slug: 4–30 of
// [a-z0-9-], not starting or ending with "-", and no "--" in the third and
// fourth places (host labels like "xn--" are reserved for IDNs).
func ValidSlug(s string) bool {
	return slugRE.MatchString(s) && !(len(s) >= 4 && s[2:4] == "--")
}

// ReservedSlug reports whether s is reserved.
func ReservedSlug(s string) bool { return slices.Contains(ReservedSlugs, s) }

// Errors of this module.
var (
	ErrNotFound        = apperr.New(apperr.KindNotFound, "tenant_not_found")
	ErrSlugTaken       = apperr.New(apperr.KindConflict, "slug_taken")
	ErrSuspended       = apperr.New(apperr.KindForbidden, "tenant_suspended")
	ErrTerminated      = apperr.New(apperr.KindGone, "tenant_terminated")
	ErrTerminatedFinal = apperr.New(apperr.KindConflict, "tenant_terminated_final")
)

func normEmails(in []string) []string {
	out := make([]string, 0, len(in))
	for _, e := range in {
		out = append(out, strings.TrimSpace(e))
	}
	return out
}

func normOptions(in []string) []string {
	out := make([]string, 0, len(in))
	for _, o := range in {
		o = strings.TrimSpace(o)
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}
