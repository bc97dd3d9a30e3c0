// Package auditlog is the operation log (操作ログ) of each tenant: every
// state-changing action through the console or the API, every login, failed
// login, lockout and permission denial, written in the same transaction as
// the change it records.
//
// The log is tamper-evident. Entries are numbered without gaps, and each
// carries the SHA-256 of the previous entry's hash and its own canonical
// form, so changing, removing or reordering any entry breaks the chain from
// that entry on; Verify names the first entry that does not fit. Retention
// removes the oldest entries and records the last removed hash as the
// chain's anchor, so what remains still verifies.
package auditlog

import (
	"context"
	"encoding/json"
	"time"
)

// ActorKind says what kind of party acted.
type ActorKind string

// The actor kinds.
const (
	ActorStaff     ActorKind = "staff"
	ActorAPIKey    ActorKind = "api_key"
	ActorMember    ActorKind = "member"
	ActorSystem    ActorKind = "system"
	ActorAnonymous ActorKind = "anonymous" // e.g. a failed login for an unknown address
)

// Actor is who acted.
type Actor struct {
	Kind ActorKind
	ID   string // staff id, API key id, member id; empty for system/anonymous
	Name string // display name or e-mail at the time, for people reading the log
	Role string // the role the actor acted with
}

// Result is how the action ended.
type Result string

// The results.
const (
	ResultOK     Result = "ok"
	ResultDenied Result = "denied" // refused by permissions, allow-list, lockout
	ResultFailed Result = "failed" // e.g. a wrong password
)

// Change is one changed field: old → new. Values of fields that hold
// secrets are never recorded (see Redacted).
type Change struct {
	Field string          `json:"field"`
	Old   json.RawMessage `json:"old"`
	New   json.RawMessage `json:"new"`
}

// Entry is one line of the operation log.
type Entry struct {
	Seq        int64 // 1, 2, 3, ... without gaps
	At         time.Time
	Actor      Actor
	Action     string // "menu.update", "staff.login", ...
	ObjectType string
	ObjectID   string
	Changes    []Change
	SourceIP   string
	UserAgent  string
	RequestID  string
	Result     Result
	PrevHash   string
	Hash       string
}

// Request holds what the HTTP edge knows about the request an entry comes
// from. Middleware stores it in the context; Append fills blanks from it.
type Request struct {
	Actor     Actor
	SourceIP  string
	UserAgent string
	RequestID string
}

type requestKey struct{}

// WithRequest returns ctx carrying r.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request in ctx.
func RequestFrom(ctx context.Context) (Request, bool) {
	r, ok := ctx.Value(requestKey{}).(Request)
	return r, ok
}
