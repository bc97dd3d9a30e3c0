package reservations

// # The waitlist
//
// A full session (timetable or event; hours menus have none) keeps a line
// of people waiting for a seat: members, or guests with an e-mail
// address, in the order they joined, each person once per session.
//
// Policy: a freed seat is held, not booked. In the same transaction that
// frees a seat (cancel, reject, a move away, leaving or expiry of an
// earlier offer, a join that finds a seat free) offerNext takes the seat
// for the first in line with the very guarded UPDATE bookings use
// (takeSeats), marks the entry offered with an expiry, and records
// reservation.waitlist_offer (the mail carries the accept link and its
// token) and reservation.waitlist_hold_due, due at the expiry. The hold
// counts in booked, so the booking invariant holds through offers: booked
// never exceeds capacity and nobody outside the line takes the seat.
//
// Accepting books the seat for the person: inside the booking's
// transaction the hold is given back and taken again by the booking's
// own guarded statement (so it cannot fail for want of a seat), and the
// entry becomes accepted. Declining (leaving while offered) and expiry
// (the hold-due event, or ExpireOffer called directly) give the seat back
// and offer it to the next in line in the same transaction.
//
// The hold lasts the tenant's hold time (waitlist_settings, default
// DefaultWaitlistHold), but never more than half the time left before
// the session starts, so a late seat still reaches someone who can come.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// WaitStatus is where a waitlist entry is.
type WaitStatus string

// The entry states: waiting → offered → accepted | expired | declined.
// Leaving removes the entry.
const (
	WaitWaiting  WaitStatus = "waiting"
	WaitOffered  WaitStatus = "offered"
	WaitAccepted WaitStatus = "accepted"
	WaitExpired  WaitStatus = "expired"
)

// Waitlist limits and defaults.
const (
	DefaultWaitlistHold = 24 * time.Hour
	MinWaitlistHold     = 5 * time.Minute
	MaxWaitlistHold     = 7 * 24 * time.Hour
	// minOfferHold: an offer shorter than this is not worth making.
	minOfferHold = time.Minute
)

// Waitlist events. WaitlistOffer and WaitlistExpired are for mails;
// WaitlistHoldDue is the timer (due when the hold ends) whose consumer
// calls ExpireOffer.
const (
	EventWaitlistOffer   = "reservation.waitlist_offer"
	EventWaitlistExpired = "reservation.waitlist_expired"
	EventWaitlistHoldDue = "reservation.waitlist_hold_due"
)

// WaitlistEventTypes lists the waitlist's mail events (a new slice each
// call).
func WaitlistEventTypes() []string { return []string{EventWaitlistOffer, EventWaitlistExpired} }

// Operation-log actions of the waitlist.
const (
	AuditWaitlistOffer  = "waitlist.offer"
	AuditWaitlistExpire = "waitlist.expire"
)

// Errors of the waitlist.
var (
	ErrWaitlistNotFound = apperr.New(apperr.KindNotFound, "waitlist_not_found")
	// ErrWaitlistJoined: the person is on this session's list already (409).
	ErrWaitlistJoined = apperr.New(apperr.KindConflict, "waitlist_joined")
	// ErrWaitlistNotFull: seats are free; book instead (409).
	ErrWaitlistNotFull = apperr.New(apperr.KindConflict, "waitlist_not_full")
	// ErrWaitlistClosed: the session has started or is closed (409).
	ErrWaitlistClosed = apperr.New(apperr.KindConflict, "waitlist_closed")
	// ErrWaitlistHours: hours menus have no waitlist (400).
	ErrWaitlistHours = apperr.New(apperr.KindInvalid, "waitlist_hours_menu")
	// ErrWaitlistNoOffer: the entry holds no seat now (not offered yet,
	// expired or accepted) (409).
	ErrWaitlistNoOffer = apperr.New(apperr.KindConflict, "waitlist_no_offer")
	// ErrWaitlistToken: neither the member nor the token matches (403).
	ErrWaitlistToken = apperr.New(apperr.KindForbidden, "waitlist_token_invalid")
)

// WaitlistEntry is one person in a session's line.
type WaitlistEntry struct {
	ID            string
	SlotID        string
	MenuID        string
	MemberID      string
	Customer      Customer
	Lang          string
	PartySize     int
	Status        WaitStatus
	Position      int // 1-based among those waiting (0 when not waiting)
	OfferedAt     time.Time
	ExpiresAt     time.Time
	ReservationID string
	CreatedAt     time.Time
	// Token is the guest's secret (to leave or accept), on Join only.
	Token string
}

// WaitlistEvent is the payload of the waitlist's events: what a mail
// needs.
type WaitlistEvent struct {
	EntryID       string `json:"entry_id"`
	SlotID        string `json:"slot_id"`
	MenuID        string `json:"menu_id"`
	MenuName      string `json:"menu_name"`
	MenuNameEN    string `json:"menu_name_en,omitempty"`
	StartsAt      string `json:"starts_at"`
	EndsAt        string `json:"ends_at"`
	TimeZone      string `json:"time_zone"`
	PartySize     int    `json:"party_size"`
	CustomerName  string `json:"customer_name"`
	CustomerEmail string `json:"customer_email"`
	MemberID      string `json:"member_id,omitempty"`
	Lang          string `json:"lang"`
	ExpiresAt     string `json:"expires_at,omitempty"`
	// AcceptToken is the secret of the accept link, on waitlist_offer only
	// (only its hash is stored).
	AcceptToken string `json:"accept_token,omitempty"`
}

type waitRow struct {
	bun.BaseModel `bun:"table:waitlist_entries"`

	ID             string     `bun:"id,pk"`
	SlotID         string     `bun:"slot_id"`
	MenuID         string     `bun:"menu_id"`
	PersonKey      string     `bun:"person_key"`
	MemberID       string     `bun:"member_id,nullzero"`
	Name           string     `bun:"name"`
	Kana           string     `bun:"kana"`
	Email          string     `bun:"email"`
	Phone          string     `bun:"phone"`
	Lang           string     `bun:"lang"`
	PartySize      int        `bun:"party_size"`
	Status         string     `bun:"status"`
	TokenHash      string     `bun:"token_hash,nullzero"`
	OfferTokenHash string     `bun:"offer_token_hash,nullzero"`
	OfferedAt      *time.Time `bun:"offered_at"`
	ExpiresAt      *time.Time `bun:"expires_at"`
	ReservationID  string     `bun:"reservation_id,nullzero"`
	CreatedAt      time.Time  `bun:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`
}

func fromWaitRow(r *waitRow) WaitlistEntry {
	e := WaitlistEntry{ID: r.ID, SlotID: r.SlotID, MenuID: r.MenuID, MemberID: r.MemberID,
		Customer: Customer{Name: r.Name, Kana: r.Kana, Email: r.Email, Phone: r.Phone}, Lang: r.Lang,
		PartySize: r.PartySize, Status: WaitStatus(r.Status), ReservationID: r.ReservationID, CreatedAt: r.CreatedAt.UTC()}
	if r.OfferedAt != nil {
		e.OfferedAt = r.OfferedAt.UTC()
	}
	if r.ExpiresAt != nil {
		e.ExpiresAt = r.ExpiresAt.UTC()
	}
	return e
}

type waitSettingsRow struct {
	bun.BaseModel `bun:"table:waitlist_settings"`

	ID          int       `bun:"id,pk"`
	HoldMinutes int       `bun:"hold_minutes"`
	UpdatedAt   time.Time `bun:"updated_at"`
}

// WaitlistHold returns the tenant's hold time (DefaultWaitlistHold when
// not set).
func (s *Service) WaitlistHold(ctx context.Context, db bun.IDB) (time.Duration, error) {
	var r waitSettingsRow
	err := db.NewSelect().Model(&r).Where("id = 1").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultWaitlistHold, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reservations: waitlist settings: %w", err)
	}
	return time.Duration(r.HoldMinutes) * time.Minute, nil
}

// SetWaitlistHold sets the tenant's hold time (whole minutes, between
// MinWaitlistHold and MaxWaitlistHold).
func (s *Service) SetWaitlistHold(ctx context.Context, db bun.IDB, d time.Duration) error {
	if d < MinWaitlistHold || d > MaxWaitlistHold || d%time.Minute != 0 {
		return apperr.Invalid(apperr.Field("hold_minutes", "range",
			map[string]any{"Min": int(MinWaitlistHold.Minutes()), "Max": int(MaxWaitlistHold.Minutes())}))
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		r := waitSettingsRow{ID: 1, HoldMinutes: int(d.Minutes()), UpdatedAt: s.clock()}
		res, err := tx.NewUpdate().Model(&r).Column("hold_minutes", "updated_at").WherePK().Exec(ctx)
		if err != nil {
			return fmt.Errorf("reservations: waitlist settings: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.NewInsert().Model(&r).Exec(ctx); err != nil {
				return fmt.Errorf("reservations: waitlist settings: %w", err)
			}
		}
		var ch auditlog.Changes
		ch.Add("hold_minutes", nil, r.HoldMinutes)
		_, err = auditlog.Append(ctx, tx, auditlog.Entry{Action: "waitlist.settings", ObjectType: "waitlist", ObjectID: "settings",
			Changes: ch})
		return err
	})
}

// JoinInput is who joins a session's waitlist: a member (MemberID, with
// the member's profile in Customer) or a guest (Customer.Email required).
type JoinInput struct {
	MemberID  string
	Customer  Customer
	Lang      string
	PartySize int // default 1
}

func personKey(memberID, email string) string {
	if memberID != "" {
		return "member:" + memberID
	}
	return "email:" + strings.ToLower(strings.TrimSpace(email))
}

// JoinWaitlist puts a person at the end of a full session's line. The
// guest's Token (to leave or accept) is in the answer only.
func (s *Service) JoinWaitlist(ctx context.Context, db bun.IDB, t tenants.Tenant, slotID string, in JoinInput) (WaitlistEntry, error) {
	now := s.clock()
	if in.PartySize == 0 {
		in.PartySize = 1
	}
	st, m, err := s.waitSession(ctx, db, slotID)
	if err != nil {
		return WaitlistEntry{}, err
	}
	var v apperr.Validator
	if in.PartySize < max(m.PartyMin, 1) || in.PartySize > max(m.PartyMax, 1) {
		v.Add("party_size", "range", map[string]any{"Min": max(m.PartyMin, 1), "Max": max(m.PartyMax, 1)})
	}
	if in.MemberID == "" {
		if in.Customer.Email == "" {
			v.Add("customer.email", "required", nil)
		} else if _, err := mail.ParseAddress(in.Customer.Email); err != nil || len(in.Customer.Email) > 254 {
			v.Add("customer.email", "email", nil)
		}
	}
	if in.Customer.Name == "" {
		v.Add("customer.name", "required", nil)
	}
	if utf8.RuneCountInString(in.Customer.Name) > 100 || utf8.RuneCountInString(in.Customer.Kana) > 100 ||
		len(in.Customer.Phone) > 32 {
		v.Add("customer", "max", map[string]any{"Param": 100})
	}
	if err := v.Err(); err != nil {
		return WaitlistEntry{}, err
	}
	if st.Closed || !st.StartsAt.After(now) {
		return WaitlistEntry{}, ErrWaitlistClosed
	}
	if st.Booked+in.PartySize <= st.Capacity {
		return WaitlistEntry{}, ErrWaitlistNotFull.WithArgs(map[string]any{"Remaining": st.Capacity - st.Booked})
	}
	id, err := dbx.NewID()
	if err != nil {
		return WaitlistEntry{}, err
	}
	tok, err := newToken()
	if err != nil {
		return WaitlistEntry{}, err
	}
	rw := &waitRow{ID: id, SlotID: slotID, MenuID: m.ID, PersonKey: personKey(in.MemberID, in.Customer.Email),
		MemberID: in.MemberID, Name: in.Customer.Name, Kana: in.Customer.Kana, Email: in.Customer.Email,
		Phone: in.Customer.Phone, Lang: langOf(in.Lang, t), PartySize: in.PartySize, Status: string(WaitWaiting),
		TokenHash: hashToken(tok), CreatedAt: now, UpdatedAt: now}
	var evs []outbox.Event
	err = runTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(rw).Exec(ctx); err != nil {
			if dbx.IsDuplicateKey(err) {
				return ErrWaitlistJoined
			}
			return fmt.Errorf("reservations: join waitlist: %w", err)
		}
		// A seat freed between the check above and this insert finds nobody
		// in line when it is freed: offer it now, in the join's transaction.
		evs, err = s.offerNext(ctx, tx, t, slotID, now)
		return err
	})
	if err != nil {
		return WaitlistEntry{}, err
	}
	s.log.InfoContext(ctx, "waitlist joined", "waitlist_id", id, "slot_id", slotID)
	s.after(ctx, t, evs)
	out, err := s.WaitlistEntryByID(ctx, db, id)
	if err != nil {
		return WaitlistEntry{}, err
	}
	out.Token = tok
	return out, nil
}

// waitSession reads a session and its menu for the waitlist: an unknown
// session is not found; an hours menu's id is refused (400).
func (s *Service) waitSession(ctx context.Context, db bun.IDB, slotID string) (*slotState, menus.Menu, error) {
	st, err := selectSlot(ctx, db, slotID)
	if err != nil {
		return nil, menus.Menu{}, err
	}
	if st == nil {
		if validID(slotID) {
			if m, err := s.menus.Get(ctx, db, slotID); err == nil && m.BookingMode == menus.ModeHours {
				return nil, menus.Menu{}, ErrWaitlistHours
			}
		}
		return nil, menus.Menu{}, timeslots.ErrSlotNotFound
	}
	m, err := s.menus.Get(ctx, db, st.MenuID)
	if err != nil {
		return nil, menus.Menu{}, err
	}
	if m.BookingMode == menus.ModeHours {
		return nil, menus.Menu{}, ErrWaitlistHours
	}
	if m.Archived() || m.Visibility == menus.VisibilityPrivate {
		return nil, menus.Menu{}, timeslots.ErrSlotNotFound
	}
	return st, m, nil
}

// WaitlistEntryByID returns one entry with its position.
func (s *Service) WaitlistEntryByID(ctx context.Context, db bun.IDB, id string) (WaitlistEntry, error) {
	rw, err := selectWait(ctx, db, id)
	if err != nil {
		return WaitlistEntry{}, err
	}
	e := fromWaitRow(rw)
	if e.Status == WaitWaiting {
		n, err := db.NewSelect().Table("waitlist_entries").
			Where("slot_id = ? AND status = ? AND (created_at < ? OR (created_at = ? AND id < ?))",
				rw.SlotID, string(WaitWaiting), rw.CreatedAt, rw.CreatedAt, rw.ID).Count(ctx)
		if err != nil {
			return WaitlistEntry{}, fmt.Errorf("reservations: waitlist position: %w", err)
		}
		e.Position = int(n) + 1
	}
	return e, nil
}

// Waitlist returns a session's entries in line order (waiting and
// offered first by join time, then the settled ones).
func (s *Service) Waitlist(ctx context.Context, db bun.IDB, slotID string) ([]WaitlistEntry, error) {
	if _, _, err := s.waitSession(ctx, db, slotID); err != nil && !errors.Is(err, timeslots.ErrSlotNotFound) {
		return nil, err
	} else if err != nil {
		return nil, err
	}
	var rows []waitRow
	if err := db.NewSelect().Model(&rows).Where("slot_id = ?", slotID).OrderExpr("created_at, id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("reservations: waitlist: %w", err)
	}
	out := make([]WaitlistEntry, 0, len(rows))
	pos := 0
	for i := range rows {
		e := fromWaitRow(&rows[i])
		if e.Status == WaitWaiting {
			pos++
			e.Position = pos
		}
		out = append(out, e)
	}
	return out, nil
}

func selectWait(ctx context.Context, db bun.IDB, id string) (*waitRow, error) {
	if !validID(id) {
		return nil, ErrWaitlistNotFound
	}
	var r waitRow
	err := db.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrWaitlistNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reservations: read waitlist entry: %w", err)
	}
	return &r, nil
}

// WaitlistWho is who acts on an entry: its member, or anyone with its
// token (the join token or the offer's accept token).
type WaitlistWho struct {
	MemberID string
	Token    string
}

func (w WaitlistWho) owns(r *waitRow) error {
	if w.MemberID != "" && r.MemberID == w.MemberID {
		return nil
	}
	if w.Token != "" {
		h := hashToken(w.Token)
		if (r.TokenHash != "" && constantEqual(r.TokenHash, h)) || (r.OfferTokenHash != "" && constantEqual(r.OfferTokenHash, h)) {
			return nil
		}
		return ErrWaitlistToken
	}
	if w.MemberID != "" {
		return ErrWaitlistNotFound
	}
	return ErrWaitlistToken
}

// LeaveWaitlist removes an entry. An offered entry gives its held seat
// back and the next in line is offered it, in the same transaction.
func (s *Service) LeaveWaitlist(ctx context.Context, db bun.IDB, t tenants.Tenant, id string, who WaitlistWho) error {
	now := s.clock()
	var evs []outbox.Event
	err := runTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		evs = nil
		rw, err := selectWait(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := who.owns(rw); err != nil {
			return err
		}
		if rw.Status != string(WaitWaiting) && rw.Status != string(WaitOffered) {
			return ErrWaitlistNoOffer
		}
		res, err := tx.NewDelete().TableExpr("waitlist_entries").Where("id = ? AND status = ?", id, rw.Status).Exec(ctx)
		if err != nil {
			return fmt.Errorf("reservations: leave waitlist: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrChanged
		}
		if rw.Status == string(WaitOffered) {
			if err := giveSeats(ctx, tx, rw.SlotID, rw.PartySize, now); err != nil {
				return err
			}
			if _, err := outbox.Cancel(ctx, tx, EventWaitlistHoldDue, rw.ID); err != nil {
				return err
			}
			evs, err = s.offerNext(ctx, tx, t, rw.SlotID, now)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "waitlist left", "waitlist_id", id)
	s.after(ctx, t, evs)
	return nil
}

// ExpireOffer ends an offer whose hold time has passed: the seat goes
// back and on to the next in line, in one transaction. An offer that was
// accepted, declined or is not due yet is left alone (nil): the hold-due
// event may arrive late or twice.
func (s *Service) ExpireOffer(ctx context.Context, db bun.IDB, t tenants.Tenant, id string) error {
	now := s.clock()
	var evs []outbox.Event
	err := runTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		evs = nil
		rw, err := selectWait(ctx, tx, id)
		if errors.Is(err, ErrWaitlistNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		res, err := tx.NewUpdate().TableExpr("waitlist_entries").
			Set("status = ?, offer_token_hash = NULL, updated_at = ?", string(WaitExpired), now).
			Where("id = ? AND status = ? AND expires_at <= ?", id, string(WaitOffered), now).Exec(ctx)
		if err != nil {
			return fmt.Errorf("reservations: expire offer: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		if err := giveSeats(ctx, tx, rw.SlotID, rw.PartySize, now); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("status", string(WaitOffered), string(WaitExpired))
		if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: AuditWaitlistExpire, ObjectType: "waitlist",
			ObjectID: rw.ID, Changes: ch}); err != nil {
			return err
		}
		p, err := s.waitPayload(ctx, tx, t, rw)
		if err != nil {
			return err
		}
		got, err := outbox.Enqueue(ctx, tx, s.events, outbox.NewEvent{Type: EventWaitlistExpired,
			AggregateType: "waitlist", AggregateID: rw.ID, Payload: p})
		if err != nil {
			return err
		}
		evs = append(evs, got...)
		more, err := s.offerNext(ctx, tx, t, rw.SlotID, now)
		evs = append(evs, more...)
		return err
	})
	if err != nil {
		return err
	}
	s.after(ctx, t, evs)
	return nil
}

// ExpireDue expires every offer of the tenant whose hold has passed (a
// sweep for when the timer events were lost or for tests); it returns how
// many it expired.
func (s *Service) ExpireDue(ctx context.Context, db bun.IDB, t tenants.Tenant) (int, error) {
	var ids []string
	if err := db.NewSelect().Table("waitlist_entries").Column("id").
		Where("status = ? AND expires_at <= ?", string(WaitOffered), s.clock()).OrderExpr("expires_at, id").
		Scan(ctx, &ids); err != nil {
		return 0, fmt.Errorf("reservations: due offers: %w", err)
	}
	for _, id := range ids {
		if err := s.ExpireOffer(ctx, db, t, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// WaitlistHoldHandler is the outbox consumer of EventWaitlistHoldDue:
// tenant turns the dispatcher's tenant into the tenant (its time zone).
func (s *Service) WaitlistHoldHandler(tenant func(ctx context.Context, id string) (tenants.Tenant, error)) outbox.Handler {
	return func(ctx context.Context, db bun.IDB, ot outbox.Tenant, e outbox.Event) error {
		t, err := tenant(ctx, ot.ID)
		if err != nil {
			return err
		}
		return s.ExpireOffer(ctx, db, t, e.AggregateID)
	}
}

// AcceptInput is what accepting an offer adds to the entry's details.
type AcceptInput struct {
	WaitlistWho
	OptionIDs []string
	Answers   map[string]any
	SourceIP  string
	UserAgent string
	// Customer overrides the entry's details when given (a member's
	// current profile).
	Customer *Customer
}

// AcceptOffer books the seat an offer holds for its person: confirmed, or
// pending for menus that need approval. The hold is handed over inside
// the booking's transaction.
func (s *Service) AcceptOffer(ctx context.Context, db bun.IDB, t tenants.Tenant, id string, in AcceptInput) (Booked, error) {
	rw, err := selectWait(ctx, db, id)
	if err != nil {
		return Booked{}, err
	}
	if err := in.owns(rw); err != nil {
		return Booked{}, err
	}
	if rw.Status != string(WaitOffered) || rw.ExpiresAt == nil || !rw.ExpiresAt.After(s.clock()) {
		return Booked{}, ErrWaitlistNoOffer
	}
	c := Customer{Name: rw.Name, Kana: rw.Kana, Email: rw.Email, Phone: rw.Phone}
	if in.Customer != nil {
		c = *in.Customer
	}
	return s.Book(ctx, db, t, BookInput{MenuID: rw.MenuID, SlotID: rw.SlotID, PartySize: rw.PartySize,
		OptionIDs: in.OptionIDs, Answers: in.Answers, Customer: c, MemberID: rw.MemberID, Source: SourcePublic,
		SourceIP: in.SourceIP, UserAgent: in.UserAgent, Lang: rw.Lang, waitlistID: rw.ID})
}

// handOver gives back the seats entry id holds for the booking r, which
// takes them again with its own guarded statement in the same
// transaction; the entry becomes accepted. Called by Book.
func handOver(ctx context.Context, tx bun.IDB, id string, r Reservation, now time.Time) error {
	res, err := tx.NewUpdate().TableExpr("waitlist_entries").
		Set("status = ?, reservation_id = ?, offer_token_hash = NULL, updated_at = ?", string(WaitAccepted), r.ID, now).
		Where("id = ? AND status = ? AND slot_id = ? AND party_size = ? AND expires_at > ?",
			id, string(WaitOffered), r.SlotID, r.PartySize, now).Exec(ctx)
	if err != nil {
		return fmt.Errorf("reservations: accept offer: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrWaitlistNoOffer
	}
	if _, err := outbox.Cancel(ctx, tx, EventWaitlistHoldDue, id); err != nil {
		return err
	}
	return giveSeats(ctx, tx, r.SlotID, r.PartySize, now)
}

// offerHold is how long an offer made at now for a session starting at
// start lasts: the tenant's hold, at most half the time left.
func offerHold(hold time.Duration, start, now time.Time) time.Duration {
	if left := start.Sub(now) / 2; left < hold {
		hold = left
	}
	return hold.Truncate(time.Second)
}

// offerNext offers the free seats of session slotID to the line, first
// come first served, inside tx: for each entry in order, the seat is
// taken with the guarded UPDATE and the entry claimed with a guarded
// status change. It stops at the first entry whose party does not fit
// (no skipping ahead) or when nobody waits.
func (s *Service) offerNext(ctx context.Context, tx bun.IDB, t tenants.Tenant, slotID string, now time.Time) ([]outbox.Event, error) {
	if slotID == "" {
		return nil, nil
	}
	st, err := selectSlot(ctx, tx, slotID)
	if err != nil || st == nil || st.Closed || !st.StartsAt.After(now) {
		return nil, err
	}
	var evs []outbox.Event
	var hold time.Duration
	tried := map[string]bool{}
	for {
		var rows []waitRow
		q := tx.NewSelect().Model(&rows).Where("slot_id = ? AND status = ?", slotID, string(WaitWaiting)).
			OrderExpr("created_at, id").Limit(int64(len(tried) + 1))
		if err := q.Scan(ctx); err != nil {
			return evs, fmt.Errorf("reservations: waitlist line: %w", err)
		}
		var rw *waitRow
		for i := range rows {
			if !tried[rows[i].ID] {
				rw = &rows[i]
				break
			}
		}
		if rw == nil {
			return evs, nil
		}
		tried[rw.ID] = true
		if hold == 0 {
			if hold, err = s.WaitlistHold(ctx, tx); err != nil {
				return evs, err
			}
			if hold = offerHold(hold, st.StartsAt.UTC(), now); hold < minOfferHold {
				return evs, nil
			}
		}
		ok, err := takeSeats(ctx, tx, slotID, rw.PartySize, false, now)
		if err != nil || !ok {
			return evs, err
		}
		tok, err := newToken()
		if err != nil {
			return evs, err
		}
		expires := now.Add(hold)
		res, err := tx.NewUpdate().TableExpr("waitlist_entries").
			Set("status = ?, offer_token_hash = ?, offered_at = ?, expires_at = ?, updated_at = ?",
				string(WaitOffered), hashToken(tok), now, expires, now).
			Where("id = ? AND status = ?", rw.ID, string(WaitWaiting)).Exec(ctx)
		if err != nil {
			return evs, fmt.Errorf("reservations: offer: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			// Someone else offered (or the person left) meanwhile: the seat
			// goes back and the next in line is tried.
			if err := giveSeats(ctx, tx, slotID, rw.PartySize, now); err != nil {
				return evs, err
			}
			continue
		}
		rw.Status, rw.ExpiresAt, rw.OfferedAt = string(WaitOffered), &expires, &now
		var ch auditlog.Changes
		ch.Add("status", string(WaitWaiting), string(WaitOffered))
		ch.Add("expires_at", nil, expires)
		if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: AuditWaitlistOffer, ObjectType: "waitlist",
			ObjectID: rw.ID, Changes: ch}); err != nil {
			return evs, err
		}
		p, err := s.waitPayload(ctx, tx, t, rw)
		if err != nil {
			return evs, err
		}
		p.AcceptToken = tok
		got, err := outbox.Enqueue(ctx, tx, s.events, outbox.NewEvent{Type: EventWaitlistOffer, AggregateType: "waitlist",
			AggregateID: rw.ID, Payload: p})
		if err != nil {
			return evs, err
		}
		evs = append(evs, got...)
		p.AcceptToken = ""
		got, err = outbox.Enqueue(ctx, tx, s.events, outbox.NewEvent{Type: EventWaitlistHoldDue, AggregateType: "waitlist",
			AggregateID: rw.ID, Payload: p, DueAt: expires, Key: rw.ID})
		if err != nil {
			return evs, err
		}
		evs = append(evs, got...)
		s.log.InfoContext(ctx, "waitlist offer", "waitlist_id", rw.ID, "slot_id", slotID)
	}
}

func (s *Service) waitPayload(ctx context.Context, db bun.IDB, t tenants.Tenant, rw *waitRow) (WaitlistEvent, error) {
	zone := ZoneOf(t)
	m, err := s.menus.Get(ctx, db, rw.MenuID)
	if err != nil {
		return WaitlistEvent{}, err
	}
	st, err := selectSlot(ctx, db, rw.SlotID)
	if err != nil {
		return WaitlistEvent{}, err
	}
	p := WaitlistEvent{EntryID: rw.ID, SlotID: rw.SlotID, MenuID: m.ID, MenuName: m.NameJA, MenuNameEN: m.NameEN,
		TimeZone: zone.String(), PartySize: rw.PartySize, CustomerName: rw.Name, CustomerEmail: rw.Email,
		MemberID: rw.MemberID, Lang: rw.Lang}
	if st != nil {
		p.StartsAt = st.StartsAt.In(zone).Format(time.RFC3339)
		p.EndsAt = st.EndsAt.In(zone).Format(time.RFC3339)
	}
	if rw.ExpiresAt != nil {
		p.ExpiresAt = rw.ExpiresAt.In(zone).Format(time.RFC3339)
	}
	return p, nil
}

// OfferFreed offers the free seats of session slotID to its line, e.g.
// after staff raised its capacity (the calendar's own transaction cannot
// call in here: timeslots comes before reservations).
func (s *Service) OfferFreed(ctx context.Context, db bun.IDB, t tenants.Tenant, slotID string) error {
	now := s.clock()
	var evs []outbox.Event
	err := runTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		var err error
		evs, err = s.offerNext(ctx, tx, t, slotID, now)
		return err
	})
	if err != nil {
		return err
	}
	s.after(ctx, t, evs)
	return nil
}

// OfferFreedTx offers the free seats of session slotID to its line inside
// the caller's transaction tx (the calendar's capacity change: see
// timeslots.Config.OnSeatsFreed). The returned func hands the offers'
// events to the dispatcher; call it after the commit.
func (s *Service) OfferFreedTx(ctx context.Context, tx bun.IDB, t tenants.Tenant, slotID string) (func(), error) {
	evs, err := s.offerNext(ctx, tx, t, slotID, s.clock())
	if err != nil {
		return nil, err
	}
	return func() { s.after(ctx, t, evs) }, nil
}

// WaitlistEntryOf returns member memberID's entry in session slotID's
// line.
func (s *Service) WaitlistEntryOf(ctx context.Context, db bun.IDB, slotID, memberID string) (WaitlistEntry, error) {
	var r waitRow
	err := db.NewSelect().Model(&r).Where("slot_id = ? AND person_key = ?", slotID, personKey(memberID, "")).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return WaitlistEntry{}, ErrWaitlistNotFound
	}
	if err != nil {
		return WaitlistEntry{}, fmt.Errorf("reservations: read waitlist entry: %w", err)
	}
	return s.WaitlistEntryByID(ctx, db, r.ID)
}

// MemberReservations returns member memberID's reservations: upcoming
// (not ended yet, soonest first, up to MaxPage) and past (latest first, up
// to MemberPastLimit), for the my page.
func (s *Service) MemberReservations(ctx context.Context, db bun.IDB, memberID string) (upcoming, past []Reservation, err error) {
	if memberID == "" {
		return nil, nil, nil
	}
	now := s.clock()
	var up []row
	if err := db.NewSelect().Model(&up).Where("member_id = ? AND ends_at > ?", memberID, now).
		OrderExpr("starts_at, id").Limit(MaxPage).Scan(ctx); err != nil {
		return nil, nil, fmt.Errorf("reservations: member's upcoming: %w", err)
	}
	var ps []row
	if err := db.NewSelect().Model(&ps).Where("member_id = ? AND ends_at <= ?", memberID, now).
		OrderExpr("starts_at DESC, id DESC").Limit(MemberPastLimit).Scan(ctx); err != nil {
		return nil, nil, fmt.Errorf("reservations: member's past: %w", err)
	}
	for i := range up {
		upcoming = append(upcoming, fromRow(&up[i]))
	}
	for i := range ps {
		past = append(past, fromRow(&ps[i]))
	}
	return upcoming, past, nil
}
