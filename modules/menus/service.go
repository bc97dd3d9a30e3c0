package menus

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/validate"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Config wires the service.
type Config struct {
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
	// OnProviderDelete and OnResourceDelete run inside the transaction that
	// deletes a provider or resource, so that modules further down the
	// order (the calendar: their working hours) drop what they keep about
	// it atomically; an error aborts the deletion. cmd/yoyaku wires them.
	OnProviderDelete func(ctx context.Context, tx bun.IDB, id string) error
	OnResourceDelete func(ctx context.Context, tx bun.IDB, id string) error
}

// Service is the catalog's use cases. It holds no tenant state: every
// method works on the tenant database it is given.
type Service struct {
	log *slog.Logger
	now func() time.Time
	v   *validator.Validate

	onProviderDelete, onResourceDelete func(ctx context.Context, tx bun.IDB, id string) error
}

// NewService returns the catalog service.
func NewService(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{log: cfg.Logger, now: cfg.Now, v: validate.New(),
		onProviderDelete: cfg.OnProviderDelete, onResourceDelete: cfg.OnResourceDelete}
}

// clock is now at the precision both engines store.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// audit appends one entry to the operation log in tx.
func audit(ctx context.Context, tx bun.IDB, action, objectType, id string, ch auditlog.Changes) error {
	if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: action, ObjectType: objectType, ObjectID: id, Changes: ch}); err != nil {
		return apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	return nil
}

// diff records the fields of before and after (flat maps) that differ,
// in a stable order.
func diff(before, after map[string]any) auditlog.Changes {
	keys := make([]string, 0, len(after))
	for k := range after {
		keys = append(keys, k)
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var ch auditlog.Changes
	for _, k := range keys {
		ch.Add(k, before[k], after[k])
	}
	return ch
}

// checker gathers field errors from the struct tags and from the rules
// written in code, so a caller learns about every field at once.
type checker struct {
	apperr.Validator
	extra  []apperr.FieldError
	broken error // the tags could not be checked (a programming error)
}

func (s *Service) newChecker(input any) *checker {
	c := &checker{}
	if err := validate.Struct(s.v, input); err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Kind == apperr.KindInvalid {
			c.extra = ae.Fields
		} else {
			c.broken = err
		}
	}
	return c
}

// rangeOf checks min ≤ n ≤ max.
func (c *checker) rangeOf(n, lo, hi int64, field string) {
	c.Check(n >= lo && n <= hi, field, "range", map[string]any{"Min": lo, "Max": hi})
}

func (c *checker) err() error {
	if c.broken != nil {
		return c.broken
	}
	err := c.Err()
	if len(c.extra) == 0 {
		return err
	}
	fields := slices.Clone(c.extra)
	var ae *apperr.Error
	if errors.As(err, &ae) {
		fields = append(fields, ae.Fields...)
	}
	return apperr.Invalid(fields...)
}

// ---- Categories ----

// CategoryInput is a category as created or replaced.
type CategoryInput struct {
	NameJA   string `json:"name" validate:"required,max=200,nocontrol"`
	NameEN   string `json:"name_en" validate:"max=200,nocontrol"`
	Position int    `json:"position"`
}

// CategoryPatch changes the fields that are not nil.
type CategoryPatch struct {
	NameJA   *string
	NameEN   *string
	Position *int
}

func (s *Service) checkCategory(in CategoryInput) error {
	c := s.newChecker(in)
	c.rangeOf(int64(in.Position), 0, 100000, "position")
	return c.err()
}

func categoryMap(c Category) map[string]any {
	return map[string]any{"name": c.NameJA, "name_en": c.NameEN, "position": c.Position}
}

// CreateCategory adds a category.
func (s *Service) CreateCategory(ctx context.Context, db bun.IDB, in CategoryInput) (Category, error) {
	in.NameJA, in.NameEN = strings.TrimSpace(in.NameJA), strings.TrimSpace(in.NameEN)
	if err := s.checkCategory(in); err != nil {
		return Category{}, err
	}
	id, err := dbx.NewID()
	if err != nil {
		return Category{}, err
	}
	now := s.clock()
	c := Category{ID: id, NameJA: in.NameJA, NameEN: in.NameEN, Position: in.Position, CreatedAt: now, UpdatedAt: now}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(categoryToRow(c)).Exec(ctx); err != nil {
			return dbErr("create category", err)
		}
		return audit(ctx, tx, AuditCategoryCreate, "category", c.ID, diff(nil, categoryMap(c)))
	})
	if err != nil {
		return Category{}, err
	}
	s.log.InfoContext(ctx, "category created", "category_id", c.ID)
	return c, nil
}

// GetCategory returns the category with id.
func (s *Service) GetCategory(ctx context.Context, db bun.IDB, id string) (Category, error) {
	if !validID(id) {
		return Category{}, ErrCategoryNotFound
	}
	var row categoryRow
	err := db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Category{}, ErrCategoryNotFound
	}
	if err != nil {
		return Category{}, dbErr("read category", err)
	}
	return categoryFromRow(&row), nil
}

// PageParams asks for one page of a list, in (position, id) order.
type PageParams struct {
	After string // the cursor of the previous page ("" for the first)
	Limit int    // 1..MaxPageSize; 0: everything
}

func (p PageParams) check() error {
	if p.Limit < 0 || p.Limit > MaxPageSize {
		return apperr.Invalid(apperr.Field("limit", "range", map[string]any{"Min": 1, "Max": MaxPageSize}))
	}
	return nil
}

// ListCategories returns categories in order, and the cursor of the next
// page when this one is full.
func (s *Service) ListCategories(ctx context.Context, db bun.IDB, p PageParams) ([]Category, string, error) {
	if err := p.check(); err != nil {
		return nil, "", err
	}
	var rows []categoryRow
	q, err := page(db.NewSelect().Model(&rows), p.After, p.Limit)
	if err != nil {
		return nil, "", err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", dbErr("list categories", err)
	}
	out := make([]Category, len(rows))
	for i := range rows {
		out[i] = categoryFromRow(&rows[i])
	}
	next := ""
	if p.Limit > 0 && len(out) == p.Limit {
		next = cursorOf(out[len(out)-1].Position, out[len(out)-1].ID)
	}
	return out, next, nil
}

// UpdateCategory changes a category.
func (s *Service) UpdateCategory(ctx context.Context, db bun.IDB, id string, p CategoryPatch) (Category, error) {
	var out Category
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		before, err := s.GetCategory(ctx, tx, id)
		if err != nil {
			return err
		}
		in := CategoryInput{NameJA: before.NameJA, NameEN: before.NameEN, Position: before.Position}
		if p.NameJA != nil {
			in.NameJA = strings.TrimSpace(*p.NameJA)
		}
		if p.NameEN != nil {
			in.NameEN = strings.TrimSpace(*p.NameEN)
		}
		if p.Position != nil {
			in.Position = *p.Position
		}
		if err := s.checkCategory(in); err != nil {
			return err
		}
		out = before
		out.NameJA, out.NameEN, out.Position = in.NameJA, in.NameEN, in.Position
		ch := diff(categoryMap(before), categoryMap(out))
		if len(ch) == 0 {
			return nil
		}
		out.UpdatedAt = s.clock()
		if _, err := tx.NewUpdate().Model(categoryToRow(out)).WherePK().Exec(ctx); err != nil {
			return dbErr("update category", err)
		}
		return audit(ctx, tx, AuditCategoryUpdate, "category", id, ch)
	})
	return out, err
}

// DeleteCategory removes a category; its menus become uncategorised.
func (s *Service) DeleteCategory(ctx context.Context, db bun.IDB, id string) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		before, err := s.GetCategory(ctx, tx, id)
		if err != nil {
			return err
		}
		// Said outright rather than left to ON DELETE SET NULL, so the
		// menus' updated_at tells what happened.
		if _, err := tx.NewUpdate().Model((*menuRow)(nil)).Set("category_id = NULL").Set("updated_at = ?", s.clock()).
			Where("category_id = ?", id).Exec(ctx); err != nil {
			return dbErr("uncategorise menus", err)
		}
		if _, err := tx.NewDelete().Model((*categoryRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
			return dbErr("delete category", err)
		}
		return audit(ctx, tx, AuditCategoryDelete, "category", id, diff(categoryMap(before), nil))
	})
}

// ---- Menus ----

// MenuInput is a menu as created or replaced. Zero PartyMin is 1, zero
// PartyMax is Capacity, empty Visibility is public. Nil Rules: the tenant
// defaults apply.
type MenuInput struct {
	CategoryID       string          `json:"category_id"`
	NameJA           string          `json:"name" validate:"required,max=200,nocontrol"`
	NameEN           string          `json:"name_en" validate:"max=200,nocontrol"`
	DescriptionJA    string          `json:"description" validate:"max=5000"`
	DescriptionEN    string          `json:"description_en" validate:"max=5000"`
	DurationMinutes  int             `json:"duration_minutes"`
	Price            int64           `json:"price"`
	Capacity         int             `json:"capacity"`
	PartyMin         int             `json:"party_min"`
	PartyMax         int             `json:"party_max"`
	BookingMode      BookingMode     `json:"booking_mode"`
	ApprovalRequired bool            `json:"approval_required"`
	Visibility       Visibility      `json:"visibility"`
	Position         int             `json:"position"`
	Options          []OptionInput   `json:"options" validate:"dive"`
	Questions        []QuestionInput `json:"questions" validate:"dive"`
	ProviderIDs      []string        `json:"provider_ids"`
	Resources        []ResourceNeed  `json:"resources"`
	Rules            *Rules          `json:"rules"`
}

// OptionInput is an option of a menu; ID keeps an existing option's id
// (empty: a new option).
type OptionInput struct {
	ID           string `json:"id"`
	NameJA       string `json:"name" validate:"required,max=200,nocontrol"`
	NameEN       string `json:"name_en" validate:"max=200,nocontrol"`
	Price        int64  `json:"price"`
	ExtraMinutes int    `json:"extra_minutes"`
}

// QuestionInput is a booking question of a menu; ID keeps an existing
// question's id (empty: a new question).
type QuestionInput struct {
	ID          string       `json:"id"`
	Kind        QuestionKind `json:"kind"`
	LabelJA     string       `json:"label" validate:"required,max=500,nocontrol"`
	LabelEN     string       `json:"label_en" validate:"max=500,nocontrol"`
	Choices     []string     `json:"choices" validate:"dive,max=200,nocontrol"`
	Requirement Requirement  `json:"requirement"`
}

// MenuPatch changes what is set: nil pointers keep the value. A non-nil
// Options, Questions, ProviderIDs or Resources replaces the whole list.
// SetRules replaces the rules with Rules (nil: the tenant defaults).
// Archived false restores an archived menu.
type MenuPatch struct {
	CategoryID       *string
	NameJA           *string
	NameEN           *string
	DescriptionJA    *string
	DescriptionEN    *string
	DurationMinutes  *int
	Price            *int64
	Capacity         *int
	PartyMin         *int
	PartyMax         *int
	BookingMode      *BookingMode
	ApprovalRequired *bool
	Visibility       *Visibility
	Position         *int
	Options          *[]OptionInput
	Questions        *[]QuestionInput
	ProviderIDs      *[]string
	Resources        *[]ResourceNeed
	SetRules         bool
	Rules            *Rules
	Archived         *bool
}

// InputOf returns m as an input, to edit and save again.
func InputOf(m Menu) MenuInput {
	in := MenuInput{CategoryID: m.CategoryID, NameJA: m.NameJA, NameEN: m.NameEN, DescriptionJA: m.DescriptionJA,
		DescriptionEN: m.DescriptionEN, DurationMinutes: m.DurationMinutes, Price: m.Price, Capacity: m.Capacity,
		PartyMin: m.PartyMin, PartyMax: m.PartyMax, BookingMode: m.BookingMode, ApprovalRequired: m.ApprovalRequired,
		Visibility: m.Visibility, Position: m.Position, ProviderIDs: slices.Clone(m.ProviderIDs),
		Resources: slices.Clone(m.Resources)}
	for _, o := range m.Options {
		in.Options = append(in.Options, OptionInput{ID: o.ID, NameJA: o.NameJA, NameEN: o.NameEN, Price: o.Price, ExtraMinutes: o.ExtraMinutes})
	}
	for _, q := range m.Questions {
		in.Questions = append(in.Questions, QuestionInput{ID: q.ID, Kind: q.Kind, LabelJA: q.LabelJA, LabelEN: q.LabelEN,
			Choices: slices.Clone(q.Choices), Requirement: q.Requirement})
	}
	if m.Rules != nil {
		r := *m.Rules
		in.Rules = &r
	}
	return in
}

func (p MenuPatch) apply(in *MenuInput) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&in.CategoryID, p.CategoryID)
	set(&in.NameJA, p.NameJA)
	set(&in.NameEN, p.NameEN)
	set(&in.DescriptionJA, p.DescriptionJA)
	set(&in.DescriptionEN, p.DescriptionEN)
	setInt := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	setInt(&in.DurationMinutes, p.DurationMinutes)
	setInt(&in.Capacity, p.Capacity)
	setInt(&in.PartyMin, p.PartyMin)
	setInt(&in.PartyMax, p.PartyMax)
	setInt(&in.Position, p.Position)
	if p.Price != nil {
		in.Price = *p.Price
	}
	if p.BookingMode != nil {
		in.BookingMode = *p.BookingMode
	}
	if p.ApprovalRequired != nil {
		in.ApprovalRequired = *p.ApprovalRequired
	}
	if p.Visibility != nil {
		in.Visibility = *p.Visibility
	}
	if p.Options != nil {
		in.Options = *p.Options
	}
	if p.Questions != nil {
		in.Questions = *p.Questions
	}
	if p.ProviderIDs != nil {
		in.ProviderIDs = *p.ProviderIDs
	}
	if p.Resources != nil {
		in.Resources = *p.Resources
	}
	if p.SetRules {
		in.Rules = p.Rules
	}
}

// normalise trims names and fills the defaults of a menu input.
func (in *MenuInput) normalise() {
	in.NameJA, in.NameEN = strings.TrimSpace(in.NameJA), strings.TrimSpace(in.NameEN)
	in.DescriptionJA, in.DescriptionEN = strings.TrimSpace(in.DescriptionJA), strings.TrimSpace(in.DescriptionEN)
	in.CategoryID = strings.TrimSpace(in.CategoryID)
	if in.PartyMin == 0 {
		in.PartyMin = 1
	}
	if in.PartyMax == 0 {
		in.PartyMax = max(in.Capacity, in.PartyMin)
	}
	if in.Visibility == "" {
		in.Visibility = VisibilityPublic
	}
	if in.Rules != nil {
		r := in.Rules.normalised()
		in.Rules = &r
	}
	for i := range in.Options {
		o := &in.Options[i]
		o.NameJA, o.NameEN = strings.TrimSpace(o.NameJA), strings.TrimSpace(o.NameEN)
	}
	for i := range in.Questions {
		q := &in.Questions[i]
		q.LabelJA, q.LabelEN = strings.TrimSpace(q.LabelJA), strings.TrimSpace(q.LabelEN)
		if q.Requirement == "" {
			q.Requirement = Optional
		}
		for j := range q.Choices {
			q.Choices[j] = strings.TrimSpace(q.Choices[j])
		}
	}
}

func enumParam[T ~string](all []T) map[string]any {
	names := make([]string, len(all))
	for i, a := range all {
		names[i] = string(a)
	}
	return map[string]any{"Param": strings.Join(names, " ")}
}

// normalised fills the period of a per-member limit left blank.
func (r Rules) normalised() Rules {
	if r.MaxPerMemberPeriod == "" {
		r.MaxPerMemberPeriod = PeriodMonth
	}
	return r
}

// checkRules validates r; prefix names its fields ("rules." in a menu).
func checkRules(c *checker, prefix string, r Rules) {
	c.rangeOf(int64(r.OpensDaysBefore), 0, 730, prefix+"opens_days_before")
	c.rangeOf(int64(r.ClosesMinutesBefore), 0, 60*24*60, prefix+"closes_minutes_before")
	if r.ClosesInBusinessDays {
		c.rangeOf(int64(r.ClosesBusinessDays), 1, 60, prefix+"closes_business_days")
	} else {
		c.rangeOf(int64(r.ClosesBusinessDays), 0, 60, prefix+"closes_business_days")
	}
	c.rangeOf(int64(r.CancelDeadlineMinutes), 0, 60*24*60, prefix+"cancel_deadline_minutes")
	c.rangeOf(int64(r.ChangeDeadlineMinutes), 0, 60*24*60, prefix+"change_deadline_minutes")
	c.rangeOf(int64(r.MaxPerMember), 0, 1000, prefix+"max_per_member")
	c.Check(slices.Contains(Periods(), r.MaxPerMemberPeriod), prefix+"max_per_member_period", "oneof", enumParam(Periods()))
}

// checkMenu validates a normalised input against the tenant's database:
// its category, providers and resources must exist, and option and
// question ids must be the menu's own (current: the menu being changed).
func (s *Service) checkMenu(ctx context.Context, db bun.IDB, in MenuInput, current *Menu) error {
	c := s.newChecker(in)
	c.Check(in.DurationMinutes > 0 && in.DurationMinutes <= MaxDurationMinutes, "duration_minutes", "range",
		map[string]any{"Min": DurationStep, "Max": MaxDurationMinutes})
	if in.DurationMinutes > 0 && in.DurationMinutes <= MaxDurationMinutes {
		c.Check(in.DurationMinutes%DurationStep == 0, "duration_minutes", "catalog_step", map[string]any{"Step": DurationStep})
	}
	c.rangeOf(in.Price, 0, MaxPrice, "price")
	c.rangeOf(int64(in.Capacity), 1, MaxCapacity, "capacity")
	c.rangeOf(int64(in.PartyMin), 1, int64(max(in.Capacity, 1)), "party_min")
	c.rangeOf(int64(in.PartyMax), int64(max(in.PartyMin, 1)), int64(max(in.Capacity, 1)), "party_max")
	c.Check(slices.Contains(BookingModes(), in.BookingMode), "booking_mode", "oneof", enumParam(BookingModes()))
	c.Check(slices.Contains(Visibilities(), in.Visibility), "visibility", "oneof", enumParam(Visibilities()))
	c.rangeOf(int64(in.Position), 0, 100000, "position")
	c.Check(len(in.Options) <= MaxOptions, "options", "max_items", map[string]any{"Param": MaxOptions})
	c.Check(len(in.Questions) <= MaxQuestions, "questions", "max_items", map[string]any{"Param": MaxQuestions})

	own := map[string]bool{}
	if current != nil {
		for _, o := range current.Options {
			own[o.ID] = true
		}
		for _, q := range current.Questions {
			own[q.ID] = true
		}
	}
	seen := map[string]bool{}
	ownID := func(id, field string) {
		if id == "" {
			return
		}
		c.Check(own[id], field, "catalog_unknown_reference", nil)
		c.Check(!seen[id], field, "duplicate", nil)
		seen[id] = true
	}
	for i, o := range in.Options {
		f := fmt.Sprintf("options[%d].", i)
		ownID(o.ID, f+"id")
		c.rangeOf(o.Price, 0, MaxPrice, f+"price")
		c.rangeOf(int64(o.ExtraMinutes), 0, MaxDurationMinutes, f+"extra_minutes")
	}
	for i, q := range in.Questions {
		f := fmt.Sprintf("questions[%d].", i)
		ownID(q.ID, f+"id")
		c.Check(slices.Contains(QuestionKinds(), q.Kind), f+"kind", "oneof", enumParam(QuestionKinds()))
		c.Check(slices.Contains(Requirements(), q.Requirement), f+"requirement", "oneof", enumParam(Requirements()))
		if q.Kind.HasChoices() {
			c.Check(len(q.Choices) >= 1, f+"choices", "min_items", map[string]any{"Param": 1})
			c.Check(len(q.Choices) <= MaxChoices, f+"choices", "max_items", map[string]any{"Param": MaxChoices})
			dup := map[string]bool{}
			for j, ch := range q.Choices {
				cf := fmt.Sprintf("%schoices[%d]", f, j)
				c.Check(ch != "", cf, "required", nil)
				c.Check(ch == "" || !dup[ch], cf, "duplicate", nil)
				dup[ch] = true
			}
		} else {
			c.Check(len(q.Choices) == 0, f+"choices", "catalog_choices_not_allowed", nil)
		}
	}
	if in.Rules != nil {
		checkRules(c, "rules.", *in.Rules)
	}

	if in.CategoryID != "" {
		if _, err := s.GetCategory(ctx, db, in.CategoryID); errors.Is(err, ErrCategoryNotFound) {
			c.Add("category_id", "catalog_unknown_reference", nil)
		} else if err != nil {
			return err
		}
	}
	c.Check(len(in.ProviderIDs) <= 200, "provider_ids", "max_items", map[string]any{"Param": 200})
	provs, err := selectProviderRows(ctx, db, validIDs(in.ProviderIDs))
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, p := range provs {
		known[p.ID] = true
	}
	dup := map[string]bool{}
	for i, id := range in.ProviderIDs {
		f := fmt.Sprintf("provider_ids[%d]", i)
		c.Check(known[id], f, "catalog_unknown_reference", nil)
		c.Check(!dup[id], f, "duplicate", nil)
		dup[id] = true
	}
	c.Check(len(in.Resources) <= 200, "resources", "max_items", map[string]any{"Param": 200})
	ids := make([]string, len(in.Resources))
	for i, r := range in.Resources {
		ids[i] = r.ResourceID
	}
	res, err := selectResourceRows(ctx, db, validIDs(ids))
	if err != nil {
		return err
	}
	qty := map[string]int{}
	for _, r := range res {
		qty[r.ID] = r.Quantity
	}
	dup = map[string]bool{}
	for i, r := range in.Resources {
		f := fmt.Sprintf("resources[%d].", i)
		have, ok := qty[r.ResourceID]
		c.Check(ok, f+"resource_id", "catalog_unknown_reference", nil)
		c.Check(!dup[r.ResourceID], f+"resource_id", "duplicate", nil)
		dup[r.ResourceID] = true
		if ok {
			c.rangeOf(int64(r.Quantity), 1, int64(have), f+"quantity")
		} else {
			c.Check(r.Quantity >= 1, f+"quantity", "range", map[string]any{"Min": 1, "Max": MaxCapacity})
		}
	}
	return c.err()
}

func validIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if validID(id) {
			out = append(out, id)
		}
	}
	return out
}

// fill sets m's fields from a checked input, making ids for new options
// and questions.
func fill(m *Menu, in MenuInput) error {
	m.CategoryID, m.NameJA, m.NameEN = in.CategoryID, in.NameJA, in.NameEN
	m.DescriptionJA, m.DescriptionEN = in.DescriptionJA, in.DescriptionEN
	m.DurationMinutes, m.Price, m.Capacity = in.DurationMinutes, in.Price, in.Capacity
	m.PartyMin, m.PartyMax, m.BookingMode = in.PartyMin, in.PartyMax, in.BookingMode
	m.ApprovalRequired, m.Visibility, m.Position = in.ApprovalRequired, in.Visibility, in.Position
	m.Options = make([]Option, len(in.Options))
	for i, o := range in.Options {
		id := o.ID
		if id == "" {
			var err error
			if id, err = dbx.NewID(); err != nil {
				return err
			}
		}
		m.Options[i] = Option{ID: id, NameJA: o.NameJA, NameEN: o.NameEN, Price: o.Price, ExtraMinutes: o.ExtraMinutes}
	}
	m.Questions = make([]Question, len(in.Questions))
	for i, q := range in.Questions {
		id := q.ID
		if id == "" {
			var err error
			if id, err = dbx.NewID(); err != nil {
				return err
			}
		}
		choices := slices.Clone(q.Choices)
		if choices == nil || !q.Kind.HasChoices() {
			choices = []string{}
		}
		m.Questions[i] = Question{ID: id, Kind: q.Kind, LabelJA: q.LabelJA, LabelEN: q.LabelEN, Choices: choices, Requirement: q.Requirement}
	}
	m.ProviderIDs = slices.Clone(in.ProviderIDs)
	if m.ProviderIDs == nil {
		m.ProviderIDs = []string{}
	}
	m.Resources = slices.Clone(in.Resources)
	if m.Resources == nil {
		m.Resources = []ResourceNeed{}
	}
	m.Rules = nil
	if in.Rules != nil {
		r := *in.Rules
		m.Rules = &r
	}
	return nil
}

// menuMap flattens m for the operation log.
func menuMap(m Menu) map[string]any {
	return map[string]any{
		"category_id": m.CategoryID, "name": m.NameJA, "name_en": m.NameEN,
		"description": m.DescriptionJA, "description_en": m.DescriptionEN,
		"duration_minutes": m.DurationMinutes, "price": m.Price, "capacity": m.Capacity,
		"party_min": m.PartyMin, "party_max": m.PartyMax, "booking_mode": m.BookingMode,
		"approval_required": m.ApprovalRequired, "visibility": m.Visibility, "position": m.Position,
		"options": m.Options, "questions": m.Questions, "provider_ids": m.ProviderIDs,
		"resources": m.Resources, "rules": m.Rules, "archived_at": m.ArchivedAt,
	}
}

// CreateMenu adds a menu with its options, questions, providers,
// resources and rules.
func (s *Service) CreateMenu(ctx context.Context, db bun.IDB, in MenuInput) (Menu, error) {
	in.normalise()
	var out Menu
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := s.checkMenu(ctx, tx, in, nil); err != nil {
			return err
		}
		id, err := dbx.NewID()
		if err != nil {
			return err
		}
		now := s.clock()
		m := Menu{ID: id, CreatedAt: now, UpdatedAt: now}
		if err := fill(&m, in); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(menuToRow(m)).Exec(ctx); err != nil {
			if isForeignKey(err) {
				return apperr.Invalid(apperr.Field("category_id", "catalog_unknown_reference", nil))
			}
			return dbErr("create menu", err)
		}
		if err := writeDetails(ctx, tx, m, now); err != nil {
			return err
		}
		if err := audit(ctx, tx, AuditMenuCreate, "menu", m.ID, diff(nil, menuMap(m))); err != nil {
			return err
		}
		out, err = s.get(ctx, tx, m.ID)
		return err
	})
	if err != nil {
		return Menu{}, err
	}
	s.log.InfoContext(ctx, "menu created", "menu_id", out.ID)
	return out, nil
}

// Get returns the menu with id, archived or not, with everything about it
// and its effective rules.
func (s *Service) Get(ctx context.Context, db bun.IDB, id string) (Menu, error) {
	return s.get(ctx, db, id)
}

func (s *Service) get(ctx context.Context, db bun.IDB, id string) (Menu, error) {
	row, err := selectMenuRow(ctx, db, id)
	if err != nil {
		return Menu{}, err
	}
	ms := []Menu{menuFromRow(row)}
	if err := s.finish(ctx, db, ms); err != nil {
		return Menu{}, err
	}
	return ms[0], nil
}

// finish loads the details of ms and their effective rules.
func (s *Service) finish(ctx context.Context, db bun.IDB, ms []Menu) error {
	if len(ms) == 0 {
		return nil
	}
	if err := loadDetails(ctx, db, ms); err != nil {
		return err
	}
	def, err := s.TenantRules(ctx, db)
	if err != nil {
		return err
	}
	for i := range ms {
		ms[i].Effective = ms[i].EffectiveRules(def)
	}
	return nil
}

// ListParams filters and pages the menu list.
type ListParams struct {
	PageParams
	CategoryID string
	// Visibilities, when set, keeps only menus with one of them.
	Visibilities []Visibility
	// BookingModes, when set, keeps only menus with one of them.
	BookingModes    []BookingMode
	IncludeArchived bool
}

// List returns menus in (position, id) order with everything about them,
// archived ones only when asked, and the cursor of the next page when
// this one is full.
func (s *Service) List(ctx context.Context, db bun.IDB, p ListParams) ([]Menu, string, error) {
	if err := p.check(); err != nil {
		return nil, "", err
	}
	var rows []menuRow
	q := db.NewSelect().Model(&rows)
	if !p.IncludeArchived {
		q = q.Where("archived_at IS NULL")
	}
	if p.CategoryID != "" {
		q = q.Where("category_id = ?", p.CategoryID)
	}
	if len(p.Visibilities) > 0 {
		q = q.Where("visibility IN (?)", bun.In(p.Visibilities))
	}
	if len(p.BookingModes) > 0 {
		q = q.Where("booking_mode IN (?)", bun.In(p.BookingModes))
	}
	q, err := page(q, p.After, p.Limit)
	if err != nil {
		return nil, "", err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", dbErr("list menus", err)
	}
	out := make([]Menu, len(rows))
	for i := range rows {
		out[i] = menuFromRow(&rows[i])
	}
	if err := s.finish(ctx, db, out); err != nil {
		return nil, "", err
	}
	next := ""
	if p.Limit > 0 && len(out) == p.Limit {
		next = cursorOf(out[len(out)-1].Position, out[len(out)-1].ID)
	}
	return out, next, nil
}

// UpdateMenu changes a menu; what the patch leaves nil is kept.
func (s *Service) UpdateMenu(ctx context.Context, db bun.IDB, id string, p MenuPatch) (Menu, error) {
	var out Menu
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		before, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		in := InputOf(before)
		p.apply(&in)
		in.normalise()
		if err := s.checkMenu(ctx, tx, in, &before); err != nil {
			return err
		}
		after := before
		if err := fill(&after, in); err != nil {
			return err
		}
		if p.Archived != nil && !*p.Archived {
			after.ArchivedAt = nil
		} else if p.Archived != nil && *p.Archived && before.ArchivedAt == nil {
			now := s.clock()
			after.ArchivedAt = &now
		}
		ch := diff(menuMap(before), menuMap(after))
		if len(ch) == 0 {
			out = before
			return nil
		}
		now := s.clock()
		after.UpdatedAt = now
		if _, err := tx.NewUpdate().Model(menuToRow(after)).WherePK().ExcludeColumn("created_at").Exec(ctx); err != nil {
			if isForeignKey(err) {
				return apperr.Invalid(apperr.Field("category_id", "catalog_unknown_reference", nil))
			}
			return dbErr("update menu", err)
		}
		if err := writeDetails(ctx, tx, after, now); err != nil {
			return err
		}
		if err := audit(ctx, tx, AuditMenuUpdate, "menu", id, ch); err != nil {
			return err
		}
		out, err = s.get(ctx, tx, id)
		return err
	})
	if err != nil {
		return Menu{}, err
	}
	return out, nil
}

// ArchiveMenu takes a menu out of the catalog (the API's DELETE): it is
// no longer listed or bookable, and stays readable by id for the
// reservations that name it. Archiving an archived menu changes nothing.
func (s *Service) ArchiveMenu(ctx context.Context, db bun.IDB, id string) (Menu, error) {
	var out Menu
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := selectMenuRow(ctx, tx, id); err != nil {
			return err
		}
		now := s.clock()
		res, err := tx.NewUpdate().Model((*menuRow)(nil)).Set("archived_at = ?", now).Set("updated_at = ?", now).
			Where("id = ?", id).Where("archived_at IS NULL").Exec(ctx)
		if err != nil {
			return dbErr("archive menu", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbErr("archive menu", err)
		} else if n == 1 {
			var ch auditlog.Changes
			ch.Add("archived_at", nil, now)
			if err := audit(ctx, tx, AuditMenuArchive, "menu", id, ch); err != nil {
				return err
			}
		}
		out, err = s.get(ctx, tx, id)
		return err
	})
	return out, err
}

// ---- Providers ----

// ProviderInput is a provider as created or replaced.
type ProviderInput struct {
	Name     string `json:"name" validate:"required,max=200,nocontrol"`
	StaffID  string `json:"staff_id"`
	Active   bool   `json:"active"`
	Position int    `json:"position"`
}

// ProviderPatch changes the fields that are not nil (StaffID "" unlinks).
type ProviderPatch struct {
	Name     *string
	StaffID  *string
	Active   *bool
	Position *int
}

func (s *Service) checkProvider(in ProviderInput) error {
	c := s.newChecker(in)
	c.Check(in.StaffID == "" || validID(in.StaffID), "staff_id", "catalog_unknown_reference", nil)
	c.rangeOf(int64(in.Position), 0, 100000, "position")
	return c.err()
}

func providerMap(p Provider) map[string]any {
	return map[string]any{"name": p.Name, "staff_id": p.StaffID, "active": p.Active, "position": p.Position}
}

// errUnknownStaff: the staff id names no account (a foreign key said so).
var errUnknownStaff = apperr.Invalid(apperr.Field("staff_id", "catalog_unknown_reference", nil))

// CreateProvider adds a provider.
func (s *Service) CreateProvider(ctx context.Context, db bun.IDB, in ProviderInput) (Provider, error) {
	in.Name, in.StaffID = strings.TrimSpace(in.Name), strings.TrimSpace(in.StaffID)
	if err := s.checkProvider(in); err != nil {
		return Provider{}, err
	}
	id, err := dbx.NewID()
	if err != nil {
		return Provider{}, err
	}
	now := s.clock()
	p := Provider{ID: id, Name: in.Name, StaffID: in.StaffID, Active: in.Active, Position: in.Position, CreatedAt: now, UpdatedAt: now}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(providerToRow(p)).Exec(ctx); err != nil {
			if isForeignKey(err) {
				return errUnknownStaff
			}
			return dbErr("create provider", err)
		}
		return audit(ctx, tx, AuditProviderCreate, "provider", p.ID, diff(nil, providerMap(p)))
	})
	if err != nil {
		return Provider{}, err
	}
	s.log.InfoContext(ctx, "provider created", "provider_id", p.ID)
	return p, nil
}

// GetProvider returns the provider with id.
func (s *Service) GetProvider(ctx context.Context, db bun.IDB, id string) (Provider, error) {
	if !validID(id) {
		return Provider{}, ErrProviderNotFound
	}
	var row providerRow
	err := db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Provider{}, ErrProviderNotFound
	}
	if err != nil {
		return Provider{}, dbErr("read provider", err)
	}
	return providerFromRow(&row), nil
}

// ListProviders returns providers in order and the next page's cursor.
func (s *Service) ListProviders(ctx context.Context, db bun.IDB, p PageParams) ([]Provider, string, error) {
	if err := p.check(); err != nil {
		return nil, "", err
	}
	var rows []providerRow
	q, err := page(db.NewSelect().Model(&rows), p.After, p.Limit)
	if err != nil {
		return nil, "", err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", dbErr("list providers", err)
	}
	out := make([]Provider, len(rows))
	for i := range rows {
		out[i] = providerFromRow(&rows[i])
	}
	next := ""
	if p.Limit > 0 && len(out) == p.Limit {
		next = cursorOf(out[len(out)-1].Position, out[len(out)-1].ID)
	}
	return out, next, nil
}

// UpdateProvider changes a provider.
func (s *Service) UpdateProvider(ctx context.Context, db bun.IDB, id string, p ProviderPatch) (Provider, error) {
	var out Provider
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		before, err := s.GetProvider(ctx, tx, id)
		if err != nil {
			return err
		}
		in := ProviderInput{Name: before.Name, StaffID: before.StaffID, Active: before.Active, Position: before.Position}
		if p.Name != nil {
			in.Name = strings.TrimSpace(*p.Name)
		}
		if p.StaffID != nil {
			in.StaffID = strings.TrimSpace(*p.StaffID)
		}
		if p.Active != nil {
			in.Active = *p.Active
		}
		if p.Position != nil {
			in.Position = *p.Position
		}
		if err := s.checkProvider(in); err != nil {
			return err
		}
		out = before
		out.Name, out.StaffID, out.Active, out.Position = in.Name, in.StaffID, in.Active, in.Position
		ch := diff(providerMap(before), providerMap(out))
		if len(ch) == 0 {
			return nil
		}
		out.UpdatedAt = s.clock()
		if _, err := tx.NewUpdate().Model(providerToRow(out)).WherePK().ExcludeColumn("created_at").Exec(ctx); err != nil {
			if isForeignKey(err) {
				return errUnknownStaff
			}
			return dbErr("update provider", err)
		}
		return audit(ctx, tx, AuditProviderUpdate, "provider", id, ch)
	})
	return out, err
}

// DeleteProvider removes a provider. One that an active menu names is
// ErrProviderInUse; archived menus forget it.
func (s *Service) DeleteProvider(ctx context.Context, db bun.IDB, id string) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		before, err := s.GetProvider(ctx, tx, id)
		if err != nil {
			return err
		}
		n, err := activeMenusUsing(ctx, tx, "menu_providers", "provider_id", id)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrProviderInUse.WithArgs(map[string]any{"Count": n})
		}
		if _, err := tx.NewDelete().Model((*menuProviderRow)(nil)).Where("provider_id = ?", id).Exec(ctx); err != nil {
			return dbErr("unlink provider", err)
		}
		if s.onProviderDelete != nil {
			if err := s.onProviderDelete(ctx, tx, id); err != nil {
				return err
			}
		}
		if _, err := tx.NewDelete().Model((*providerRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
			if isForeignKey(err) { // a menu linked it meanwhile
				return ErrProviderInUse.WithArgs(map[string]any{"Count": 1}).WithCause(err)
			}
			return dbErr("delete provider", err)
		}
		return audit(ctx, tx, AuditProviderDelete, "provider", id, diff(providerMap(before), nil))
	})
}

// ---- Resources ----

// ResourceInput is a resource as created or replaced.
type ResourceInput struct {
	Name     string `json:"name" validate:"required,max=200,nocontrol"`
	Quantity int    `json:"quantity"`
	Active   bool   `json:"active"`
	Position int    `json:"position"`
}

// ResourcePatch changes the fields that are not nil.
type ResourcePatch struct {
	Name     *string
	Quantity *int
	Active   *bool
	Position *int
}

func (s *Service) checkResource(in ResourceInput, minQuantity int) error {
	c := s.newChecker(in)
	c.rangeOf(int64(in.Quantity), int64(max(minQuantity, 1)), MaxCapacity, "quantity")
	c.rangeOf(int64(in.Position), 0, 100000, "position")
	return c.err()
}

func resourceMap(r Resource) map[string]any {
	return map[string]any{"name": r.Name, "quantity": r.Quantity, "active": r.Active, "position": r.Position}
}

// CreateResource adds a resource.
func (s *Service) CreateResource(ctx context.Context, db bun.IDB, in ResourceInput) (Resource, error) {
	in.Name = strings.TrimSpace(in.Name)
	if err := s.checkResource(in, 1); err != nil {
		return Resource{}, err
	}
	id, err := dbx.NewID()
	if err != nil {
		return Resource{}, err
	}
	now := s.clock()
	r := Resource{ID: id, Name: in.Name, Quantity: in.Quantity, Active: in.Active, Position: in.Position, CreatedAt: now, UpdatedAt: now}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(resourceToRow(r)).Exec(ctx); err != nil {
			return dbErr("create resource", err)
		}
		return audit(ctx, tx, AuditResourceCreate, "resource", r.ID, diff(nil, resourceMap(r)))
	})
	if err != nil {
		return Resource{}, err
	}
	s.log.InfoContext(ctx, "resource created", "resource_id", r.ID)
	return r, nil
}

// GetResource returns the resource with id.
func (s *Service) GetResource(ctx context.Context, db bun.IDB, id string) (Resource, error) {
	if !validID(id) {
		return Resource{}, ErrResourceNotFound
	}
	var row resourceRow
	err := db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Resource{}, ErrResourceNotFound
	}
	if err != nil {
		return Resource{}, dbErr("read resource", err)
	}
	return resourceFromRow(&row), nil
}

// ListResources returns resources in order and the next page's cursor.
func (s *Service) ListResources(ctx context.Context, db bun.IDB, p PageParams) ([]Resource, string, error) {
	if err := p.check(); err != nil {
		return nil, "", err
	}
	var rows []resourceRow
	q, err := page(db.NewSelect().Model(&rows), p.After, p.Limit)
	if err != nil {
		return nil, "", err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", dbErr("list resources", err)
	}
	out := make([]Resource, len(rows))
	for i := range rows {
		out[i] = resourceFromRow(&rows[i])
	}
	next := ""
	if p.Limit > 0 && len(out) == p.Limit {
		next = cursorOf(out[len(out)-1].Position, out[len(out)-1].ID)
	}
	return out, next, nil
}

// UpdateResource changes a resource. Its quantity cannot go below what an
// active menu needs of it.
func (s *Service) UpdateResource(ctx context.Context, db bun.IDB, id string, p ResourcePatch) (Resource, error) {
	var out Resource
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		before, err := s.GetResource(ctx, tx, id)
		if err != nil {
			return err
		}
		in := ResourceInput{Name: before.Name, Quantity: before.Quantity, Active: before.Active, Position: before.Position}
		if p.Name != nil {
			in.Name = strings.TrimSpace(*p.Name)
		}
		if p.Quantity != nil {
			in.Quantity = *p.Quantity
		}
		if p.Active != nil {
			in.Active = *p.Active
		}
		if p.Position != nil {
			in.Position = *p.Position
		}
		need, err := maxNeedOf(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.checkResource(in, need); err != nil {
			return err
		}
		out = before
		out.Name, out.Quantity, out.Active, out.Position = in.Name, in.Quantity, in.Active, in.Position
		ch := diff(resourceMap(before), resourceMap(out))
		if len(ch) == 0 {
			return nil
		}
		out.UpdatedAt = s.clock()
		if _, err := tx.NewUpdate().Model(resourceToRow(out)).WherePK().ExcludeColumn("created_at").Exec(ctx); err != nil {
			return dbErr("update resource", err)
		}
		return audit(ctx, tx, AuditResourceUpdate, "resource", id, ch)
	})
	return out, err
}

// DeleteResource removes a resource. One that an active menu uses is
// ErrResourceInUse; archived menus forget it.
func (s *Service) DeleteResource(ctx context.Context, db bun.IDB, id string) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		before, err := s.GetResource(ctx, tx, id)
		if err != nil {
			return err
		}
		n, err := activeMenusUsing(ctx, tx, "menu_resources", "resource_id", id)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrResourceInUse.WithArgs(map[string]any{"Count": n})
		}
		if _, err := tx.NewDelete().Model((*menuResourceRow)(nil)).Where("resource_id = ?", id).Exec(ctx); err != nil {
			return dbErr("unlink resource", err)
		}
		if s.onResourceDelete != nil {
			if err := s.onResourceDelete(ctx, tx, id); err != nil {
				return err
			}
		}
		if _, err := tx.NewDelete().Model((*resourceRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
			if isForeignKey(err) {
				return ErrResourceInUse.WithArgs(map[string]any{"Count": 1}).WithCause(err)
			}
			return dbErr("delete resource", err)
		}
		return audit(ctx, tx, AuditResourceDelete, "resource", id, diff(resourceMap(before), nil))
	})
}

// ---- Rules ----

// SettingDefaultRules is the tenant setting holding the default rules (JSON).
const SettingDefaultRules = "menus.default_rules"

// rulesDoc is the stored form of the tenant's default rules.
type rulesDoc struct {
	OpensDaysBefore       int    `json:"opens_days_before"`
	ClosesMinutesBefore   int    `json:"closes_minutes_before"`
	ClosesInBusinessDays  bool   `json:"closes_in_business_days"`
	ClosesBusinessDays    int    `json:"closes_business_days"`
	CancelDeadlineMinutes int    `json:"cancel_deadline_minutes"`
	ChangeDeadlineMinutes int    `json:"change_deadline_minutes"`
	MaxPerMember          int    `json:"max_per_member"`
	MaxPerMemberPeriod    string `json:"max_per_member_period"`
}

// TenantRules returns the tenant's default rules (DefaultRules until set).
func (s *Service) TenantRules(ctx context.Context, db bun.IDB) (Rules, error) {
	v, ok, err := tenants.GetSetting(ctx, db, SettingDefaultRules)
	if err != nil {
		return Rules{}, dbErr("read default rules", err)
	}
	if !ok {
		return DefaultRules(), nil
	}
	var d rulesDoc
	if err := json.Unmarshal([]byte(v), &d); err != nil {
		return Rules{}, dbErr("read default rules", err)
	}
	return Rules{OpensDaysBefore: d.OpensDaysBefore, ClosesMinutesBefore: d.ClosesMinutesBefore,
		ClosesInBusinessDays: d.ClosesInBusinessDays, ClosesBusinessDays: d.ClosesBusinessDays,
		CancelDeadlineMinutes: d.CancelDeadlineMinutes, ChangeDeadlineMinutes: d.ChangeDeadlineMinutes,
		MaxPerMember: d.MaxPerMember, MaxPerMemberPeriod: Period(d.MaxPerMemberPeriod)}, nil
}

// CheckRules validates rules on their own, fields named without a prefix.
func (s *Service) CheckRules(r Rules) error {
	c := &checker{}
	checkRules(c, "", r)
	return c.err()
}

// SetTenantRules replaces the tenant's default rules.
func (s *Service) SetTenantRules(ctx context.Context, db bun.IDB, r Rules) (Rules, error) {
	r = r.normalised()
	if err := s.CheckRules(r); err != nil {
		return Rules{}, err
	}
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		before, err := s.TenantRules(ctx, tx)
		if err != nil {
			return err
		}
		ch := diff(rulesMap(before), rulesMap(r))
		if len(ch) == 0 {
			return nil
		}
		b, err := json.Marshal(rulesDoc{OpensDaysBefore: r.OpensDaysBefore, ClosesMinutesBefore: r.ClosesMinutesBefore,
			ClosesInBusinessDays: r.ClosesInBusinessDays, ClosesBusinessDays: r.ClosesBusinessDays,
			CancelDeadlineMinutes: r.CancelDeadlineMinutes, ChangeDeadlineMinutes: r.ChangeDeadlineMinutes,
			MaxPerMember: r.MaxPerMember, MaxPerMemberPeriod: string(r.MaxPerMemberPeriod)})
		if err != nil {
			return dbErr("write default rules", err)
		}
		if err := tenants.SetSetting(ctx, tx, SettingDefaultRules, string(b), s.clock()); err != nil {
			return dbErr("write default rules", err)
		}
		return audit(ctx, tx, AuditRulesUpdate, "booking_rules", "default", ch)
	})
	if err != nil {
		return Rules{}, err
	}
	return r, nil
}

func rulesMap(r Rules) map[string]any {
	return map[string]any{
		"opens_days_before": r.OpensDaysBefore, "closes_minutes_before": r.ClosesMinutesBefore,
		"closes_in_business_days": r.ClosesInBusinessDays, "closes_business_days": r.ClosesBusinessDays,
		"cancel_deadline_minutes": r.CancelDeadlineMinutes, "change_deadline_minutes": r.ChangeDeadlineMinutes,
		"max_per_member": r.MaxPerMember, "max_per_member_period": r.MaxPerMemberPeriod,
	}
}

// EffectiveRules returns the rules that apply to the menu with id: its
// own, or the tenant's defaults.
func (s *Service) EffectiveRules(ctx context.Context, db bun.IDB, menuID string) (Rules, error) {
	m, err := s.get(ctx, db, menuID)
	if err != nil {
		return Rules{}, err
	}
	return m.Effective, nil
}

// Catalog is what the booking site lists: the categories, the menus it may
// show (public and members-only, not archived) and the providers.
type Catalog struct {
	Categories []Category
	Menus      []Menu
	Providers  []Provider
}

// PublicCatalog returns the catalog the booking site lists. Private and
// archived menus are not in it; what of a members-only menu or a
// staff-only question may be shown is the caller's to decide.
func (s *Service) PublicCatalog(ctx context.Context, db bun.IDB) (Catalog, error) {
	cats, _, err := s.ListCategories(ctx, db, PageParams{})
	if err != nil {
		return Catalog{}, err
	}
	ms, _, err := s.List(ctx, db, ListParams{Visibilities: []Visibility{VisibilityPublic, VisibilityMembers}})
	if err != nil {
		return Catalog{}, err
	}
	ps, _, err := s.ListProviders(ctx, db, PageParams{})
	if err != nil {
		return Catalog{}, err
	}
	return Catalog{Categories: cats, Menus: ms, Providers: ps}, nil
}
