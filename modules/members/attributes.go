package members

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"
	"golang.org/x/text/unicode/norm"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// Limits of tenant-defined attributes.
const (
	MaxAttributes       = 50
	maxLabelChars       = 100
	maxChoices          = 50
	maxChoiceChars      = 100
	maxTextValueChars   = 500
	maxNumberValueChars = 30
)

// AttributeInput defines an attribute.
type AttributeInput struct {
	LabelJA     string
	LabelEN     string
	Kind        AttributeKind
	Requirement Requirement
	Choices     []string
	Position    int
}

// AttributePatch changes an attribute; nil fields stay. The kind cannot
// change: stored values would stop meaning what they meant.
type AttributePatch struct {
	LabelJA     *string
	LabelEN     *string
	Requirement *Requirement
	Choices     *[]string
	Position    *int
}

func checkAttribute(in *AttributeInput) error {
	var v apperr.Validator
	in.LabelJA = text(&v, "label_ja", in.LabelJA, maxLabelChars, true)
	in.LabelEN = text(&v, "label_en", in.LabelEN, maxLabelChars, false)
	kindOK := false
	for _, k := range AttributeKinds() {
		kindOK = kindOK || k == in.Kind
	}
	v.Check(kindOK, "kind", "oneof", map[string]any{"Param": "text number date choice"})
	reqOK := false
	for _, r := range Requirements() {
		reqOK = reqOK || r == in.Requirement
	}
	v.Check(reqOK, "requirement", "oneof", map[string]any{"Param": "required optional staff_only"})
	v.Check(in.Position >= 0 && in.Position <= 10000, "position", "range", map[string]any{"Min": 0, "Max": 10000})
	var choices []string
	seen := map[string]bool{}
	for i, c := range in.Choices {
		field := "choices[" + strconv.Itoa(i) + "]"
		c = text(&v, field, c, maxChoiceChars, true)
		if seen[c] && c != "" {
			v.Add(field, "duplicate", nil)
		}
		seen[c] = true
		choices = append(choices, c)
	}
	if choices == nil {
		choices = []string{}
	}
	in.Choices = choices
	if in.Kind == AttrChoice {
		v.Check(len(choices) >= 1, "choices", "min_items", map[string]any{"Param": "1"})
		v.Check(len(choices) <= maxChoices, "choices", "max_items", map[string]any{"Param": strconv.Itoa(maxChoices)})
	} else if kindOK {
		v.Check(len(choices) == 0, "choices", "member_attribute_choices_not_allowed", nil)
	}
	return v.Err()
}

// checkValues normalises attribute values against their definitions. For
// staff every attribute may be set and an unknown id is an error; for a
// member staff-only attributes and unknown ids are dropped. With
// enforceRequired a required attribute must have a value. Values are
// trimmed; numbers and dates are normalised (full-width digits accepted).
func checkValues(defs []Attribute, in map[string]string, staff, enforceRequired bool) (map[string]string, error) {
	var v apperr.Validator
	out := map[string]string{}
	known := map[string]bool{}
	for _, d := range defs {
		known[d.ID] = true
		if !staff && d.Requirement == StaffOnly {
			continue
		}
		field := "attributes." + d.ID
		val := norm.NFC.String(strings.TrimSpace(in[d.ID]))
		if val == "" {
			if enforceRequired && d.Requirement == Required {
				v.Add(field, "required", nil)
			}
			continue
		}
		switch d.Kind {
		case AttrText:
			if utf8.RuneCountInString(val) > maxTextValueChars {
				v.Add(field, "max", map[string]any{"Param": strconv.Itoa(maxTextValueChars)})
				continue
			}
		case AttrNumber:
			n := strings.ReplaceAll(norm.NFKC.String(val), ",", "")
			f, err := strconv.ParseFloat(n, 64)
			if err != nil || len(n) > maxNumberValueChars || strings.ContainsAny(n, "eEInfinfNaN") {
				v.Add(field, "member_number_value", nil)
				continue
			}
			val = strconv.FormatFloat(f, 'f', -1, 64)
		case AttrDate:
			d, ok := parseDate(val)
			if !ok {
				v.Add(field, "member_date", nil)
				continue
			}
			val = d.Format("2006-01-02")
		case AttrChoice:
			ok := false
			for _, c := range d.Choices {
				ok = ok || c == val
			}
			if !ok {
				v.Add(field, "oneof", map[string]any{"Param": strings.Join(d.Choices, " ")})
				continue
			}
		}
		out[d.ID] = val
	}
	if staff {
		for id := range in {
			if !known[id] {
				v.Add("attributes."+id, "member_attribute_unknown", nil)
			}
		}
	}
	return out, v.Err()
}

func attributeChanges(before, after Attribute) auditlog.Changes {
	var ch auditlog.Changes
	ch.Add("label_ja", before.LabelJA, after.LabelJA)
	ch.Add("label_en", before.LabelEN, after.LabelEN)
	ch.Add("kind", string(before.Kind), string(after.Kind))
	ch.Add("requirement", string(before.Requirement), string(after.Requirement))
	ch.Add("choices", before.Choices, after.Choices)
	ch.Add("position", before.Position, after.Position)
	return ch
}

// Attributes lists the tenant's attribute definitions in position order.
func (s *Service) Attributes(ctx context.Context, db bun.IDB) ([]Attribute, error) {
	return s.store.attributes(ctx, db)
}

// Attribute returns one definition.
func (s *Service) Attribute(ctx context.Context, db bun.IDB, id string) (Attribute, error) {
	return s.store.attribute(ctx, db, id)
}

// CreateAttribute defines a new attribute (at most MaxAttributes).
func (s *Service) CreateAttribute(ctx context.Context, db bun.IDB, in AttributeInput) (Attribute, error) {
	if err := checkAttribute(&in); err != nil {
		return Attribute{}, err
	}
	now := s.clock()
	id, err := dbx.NewID()
	if err != nil {
		return Attribute{}, err
	}
	a := Attribute{ID: id, LabelJA: in.LabelJA, LabelEN: in.LabelEN, Kind: in.Kind, Requirement: in.Requirement,
		Choices: in.Choices, Position: in.Position, CreatedAt: now, UpdatedAt: now}
	err = inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		n, err := tx.NewSelect().Model((*attributeRow)(nil)).Count(ctx)
		if err != nil {
			return dbErr(err)
		}
		if n >= MaxAttributes {
			return apperr.Invalid(apperr.Field("attributes", "max_items", map[string]any{"Param": strconv.Itoa(MaxAttributes)}))
		}
		if _, err := tx.NewInsert().Model(toAttributeRow(a)).Exec(ctx); err != nil {
			return dbErr(err)
		}
		return audit(ctx, tx, auditlog.Entry{At: now, Action: "member_attribute.create", ObjectType: "member_attribute",
			ObjectID: id, Changes: attributeChanges(Attribute{}, a)})
	})
	return a, err
}

// UpdateAttribute changes a definition. Values that no longer fit (a
// removed choice) stay stored and are shown as they are until changed.
func (s *Service) UpdateAttribute(ctx context.Context, db bun.IDB, id string, p AttributePatch) (Attribute, error) {
	now := s.clock()
	var out Attribute
	err := inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		cur, err := s.store.attribute(ctx, tx, id)
		if err != nil {
			return err
		}
		in := AttributeInput{LabelJA: cur.LabelJA, LabelEN: cur.LabelEN, Kind: cur.Kind, Requirement: cur.Requirement,
			Choices: cur.Choices, Position: cur.Position}
		if p.LabelJA != nil {
			in.LabelJA = *p.LabelJA
		}
		if p.LabelEN != nil {
			in.LabelEN = *p.LabelEN
		}
		if p.Requirement != nil {
			in.Requirement = *p.Requirement
		}
		if p.Choices != nil {
			in.Choices = *p.Choices
		}
		if p.Position != nil {
			in.Position = *p.Position
		}
		if err := checkAttribute(&in); err != nil {
			return err
		}
		next := cur
		next.LabelJA, next.LabelEN, next.Requirement, next.Choices, next.Position = in.LabelJA, in.LabelEN, in.Requirement, in.Choices, in.Position
		ch := attributeChanges(cur, next)
		out = cur
		if len(ch) == 0 {
			return nil
		}
		next.UpdatedAt = now
		if _, err := tx.NewUpdate().Model(toAttributeRow(next)).WherePK().Exec(ctx); err != nil {
			return dbErr(err)
		}
		out = next
		return audit(ctx, tx, auditlog.Entry{At: now, Action: "member_attribute.update", ObjectType: "member_attribute",
			ObjectID: id, Changes: ch})
	})
	return out, err
}

// DeleteAttribute removes a definition and every member's value of it.
func (s *Service) DeleteAttribute(ctx context.Context, db bun.IDB, id string) error {
	now := s.clock()
	return inTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		cur, err := s.store.attribute(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*valueRow)(nil)).Where("attribute_id = ?", id).Exec(ctx); err != nil {
			return dbErr(err)
		}
		if _, err := tx.NewDelete().Model((*attributeRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
			return dbErr(err)
		}
		return audit(ctx, tx, auditlog.Entry{At: now, Action: "member_attribute.delete", ObjectType: "member_attribute",
			ObjectID: id, Changes: attributeChanges(cur, Attribute{})})
	})
}
