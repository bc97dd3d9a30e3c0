package members

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/text/unicode/norm"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Passwords is what members needs of identity: the staff accounts'
// password hashing and the tenant's session timeouts
// (*identity.Service implements it).
type Passwords interface {
	HashPassword(ctx context.Context, password string) (string, error)
	VerifyPassword(ctx context.Context, phc, password string) (ok, rehash bool, err error)
	SpendDummyHash(ctx context.Context, password string)
	GetSecuritySettings(ctx context.Context, db bun.IDB) (identity.SecuritySettings, error)
}

// Config wires the service.
type Config struct {
	Passwords Passwords // required
	// Events subscribes the mail consumer to member.verify and
	// member.password_reset; Notify wakes the outbox dispatcher after a
	// commit. Both may be nil (no mail).
	Events *outbox.Subscriptions
	Notify func(ctx context.Context, tenantID string, evs []outbox.Event)
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

// Service is the members use cases. It holds no tenant state: every
// method takes the tenant's database. It is safe for concurrent use.
type Service struct {
	pw     Passwords
	events *outbox.Subscriptions
	notify func(ctx context.Context, tenantID string, evs []outbox.Event)
	log    *slog.Logger
	now    func() time.Time
	store  store
}

// NewService returns the members service.
func NewService(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{pw: cfg.Passwords, events: cfg.Events, notify: cfg.Notify, log: cfg.Logger, now: cfg.Now}
}

// clock is now at the precision both engines store.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func inTx(ctx context.Context, db bun.IDB, fn func(ctx context.Context, tx bun.Tx) error) error {
	return db.RunInTx(ctx, nil, fn)
}

// memberActor is m as the operation log names it: by number, never by
// name or address.
func memberActor(m Member) auditlog.Actor {
	return auditlog.Actor{Kind: auditlog.ActorMember, ID: m.ID, Name: m.Number}
}

// audit appends an entry about a member in tx.
func audit(ctx context.Context, tx bun.IDB, e auditlog.Entry) error {
	if e.ObjectType == "" {
		e.ObjectType = "member"
	}
	if _, err := auditlog.Append(ctx, tx, e); err != nil {
		return apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	return nil
}

// normalizeEmail lower-cases and trims an address: addresses compare
// case-insensitively here (no provider in practice distinguishes them).
func normalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(norm.NFKC.String(s)))
}

func checkEmail(v *apperr.Validator, field, email string) {
	switch {
	case email == "":
		v.Add(field, "required", nil)
	case len(email) > maxEmailChars:
		v.Add(field, "max", map[string]any{"Param": "254"})
	default:
		a, err := mail.ParseAddress(email)
		if err != nil || a.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
			v.Add(field, "email", nil)
		}
	}
}

// mergeErrors joins the field errors of several validation errors.
func mergeErrors(errs ...error) error {
	var fields []apperr.FieldError
	for _, err := range errs {
		if err == nil {
			continue
		}
		ae, ok := err.(*apperr.Error)
		if !ok || ae.Kind != apperr.KindInvalid {
			return err
		}
		fields = append(fields, ae.Fields...)
	}
	if len(fields) == 0 {
		return nil
	}
	return apperr.Invalid(fields...)
}

// profileChanges records which profile fields differ, values withheld
// (personal data stays out of the operation log).
func profileChanges(ch *auditlog.Changes, before, after Profile) {
	pairs := []struct {
		field string
		a, b  any
	}{
		{"family_name", before.FamilyName, after.FamilyName}, {"given_name", before.GivenName, after.GivenName},
		{"family_kana", before.FamilyKana, after.FamilyKana}, {"given_kana", before.GivenKana, after.GivenKana},
		{"phone", before.Phone, after.Phone}, {"postal_code", before.PostalCode, after.PostalCode},
		{"prefecture", before.Prefecture, after.Prefecture}, {"address1", before.Address1, after.Address1},
		{"address2", before.Address2, after.Address2}, {"birth_date", before.BirthDate, after.BirthDate},
		{"gender", before.Gender, after.Gender},
	}
	for _, p := range pairs {
		if p.a != p.b {
			withheld(ch, p.field)
		}
	}
}

// withheld records that field changed without its values.
func withheld(ch *auditlog.Changes, field string) {
	w, _ := json.Marshal("(personal data)")
	*ch = append(*ch, auditlog.Change{Field: field, Old: w, New: w})
}

// enqueue records a mail event about m in tx.
func (s *Service) enqueue(ctx context.Context, tx bun.IDB, typ string, m Member, payload any) ([]outbox.Event, error) {
	if s.events == nil {
		return nil, nil
	}
	evs, err := outbox.Enqueue(ctx, tx, s.events, outbox.NewEvent{Type: typ, AggregateType: "member", AggregateID: m.ID, Payload: payload})
	return evs, dbErr(err)
}

// wake tells the dispatcher of evs after their commit.
func (s *Service) wake(ctx context.Context, evs []outbox.Event) {
	if s.notify == nil || len(evs) == 0 {
		return
	}
	if t, ok := tenants.FromContext(ctx); ok {
		s.notify(ctx, t.ID, evs)
	}
}
