// Package identity knows who is acting in a tenant: staff accounts with
// argon2id passwords, console sessions, TOTP two-factor with recovery
// codes, API keys for the tenant API, and the tenant's IP allow-list. Roles
// and permission checks are Casbin's (platform/authz); every login, failure,
// lockout and change is written to the operation log (auditlog) in the
// transaction of the change.
package identity

import (
	"context"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
)

// PrincipalKind says how a principal authenticated.
type PrincipalKind string

// The principal kinds.
const (
	PrincipalStaff  PrincipalKind = "staff"   // a console session
	PrincipalAPIKey PrincipalKind = "api_key" // a tenant API key
)

// Principal is the authenticated party of a request.
type Principal struct {
	Kind      PrincipalKind
	ID        string   // staff id or API key id
	Name      string   // e-mail of the staff member, or the key's name
	Role      string   // the role it acts with
	MenuIDs   []string // staff limited to some menus; empty means all
	SessionID string   // console sessions only
}

// Subject is the principal's name in the authorization policy.
func (p Principal) Subject() string {
	if p.Kind == PrincipalAPIKey {
		return "apikey:" + p.ID
	}
	return "staff:" + p.ID
}

// Actor is the principal as the operation log records it.
func (p Principal) Actor() auditlog.Actor {
	kind := auditlog.ActorStaff
	if p.Kind == PrincipalAPIKey {
		kind = auditlog.ActorAPIKey
	}
	return auditlog.Actor{Kind: kind, ID: p.ID, Name: p.Name, Role: p.Role}
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of the request ctx belongs to.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
