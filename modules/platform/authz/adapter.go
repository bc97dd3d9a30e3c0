package authz

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"github.com/uptrace/bun"
)

// Adapter stores Casbin policy rules in the casbin_rules table of one
// database, through bun. It works on any bun.IDB — a *bun.DB, one pooled
// connection switched to a tenant database, or a bun.Tx — so policy changes
// can commit (or roll back) with the rest of a use case. Methods that write
// more than one row run in db.RunInTx: a transaction of their own, or a
// savepoint inside the caller's.
//
// A rule is stored as ptype and up to six values v0..v5, each at most
// MaxValueLen characters; unused values are stored as "" (not NULL) so the
// unique index over the whole rule holds and no rule is stored twice.
//
// It implements persist.Adapter and persist.BatchAdapter (whose methods use
// context.Background()) and their context-aware counterparts
// persist.ContextAdapter and persist.ContextBatchAdapter.
type Adapter struct {
	db bun.IDB
}

// NewAdapter returns an adapter on db.
func NewAdapter(db bun.IDB) *Adapter { return &Adapter{db: db} }

var (
	_ persist.BatchAdapter        = (*Adapter)(nil)
	_ persist.ContextBatchAdapter = (*Adapter)(nil)
)

// MaxValueLen is the longest value a rule field may hold (the column size).
const MaxValueLen = 100

// maxFields is the number of value columns, v0..v5.
const maxFields = 6

// ruleRow is one row of casbin_rules.
type ruleRow struct {
	bun.BaseModel `bun:"table:casbin_rules"`

	ID    int64  `bun:"id,pk,autoincrement"`
	PType string `bun:"ptype"`
	V0    string `bun:"v0"`
	V1    string `bun:"v1"`
	V2    string `bun:"v2"`
	V3    string `bun:"v3"`
	V4    string `bun:"v4"`
	V5    string `bun:"v5"`
}

func (r *ruleRow) values() []string {
	return []string{r.V0, r.V1, r.V2, r.V3, r.V4, r.V5}
}

// toRuleRow converts a Casbin rule into a row, refusing what the table
// cannot hold rather than truncating it.
func toRuleRow(ptype string, rule []string) (ruleRow, error) {
	if ptype == "" || len(ptype) > 16 {
		return ruleRow{}, fmt.Errorf("authz: invalid policy type %q", ptype)
	}
	if len(rule) > maxFields {
		return ruleRow{}, fmt.Errorf("authz: a %s rule has %d values, at most %d are stored", ptype, len(rule), maxFields)
	}
	var v [maxFields]string
	for i, s := range rule {
		if utf8.RuneCountInString(s) > MaxValueLen {
			return ruleRow{}, fmt.Errorf("authz: value %d of a %s rule is longer than %d characters", i, ptype, MaxValueLen)
		}
		v[i] = s
	}
	return ruleRow{PType: ptype, V0: v[0], V1: v[1], V2: v[2], V3: v[3], V4: v[4], V5: v[5]}, nil
}

// LoadPolicyCtx loads every stored rule into m, in the order they were added.
func (a *Adapter) LoadPolicyCtx(ctx context.Context, m model.Model) error {
	var rows []ruleRow
	if err := a.db.NewSelect().Model(&rows).OrderExpr("id").Scan(ctx); err != nil {
		return fmt.Errorf("authz: load policy: %w", err)
	}
	return loadRows(rows, m)
}

func loadRows(rows []ruleRow, m model.Model) error {
	for i := range rows {
		r := &rows[i]
		sec := r.PType[:1]
		ast, ok := m[sec][r.PType]
		if !ok {
			return fmt.Errorf("authz: load policy: the model has no policy type %q (rule %d)", r.PType, r.ID)
		}
		// Trailing values the model does not define are the "" of unused
		// columns; keep any that are set (a g rule may carry parameters).
		vals := r.values()
		n := len(vals)
		for n > len(ast.Tokens) && vals[n-1] == "" {
			n--
		}
		if err := persist.LoadPolicyArray(append([]string{r.PType}, vals[:n]...), m); err != nil {
			return fmt.Errorf("authz: load policy: rule %d: %w", r.ID, err)
		}
	}
	return nil
}

// SavePolicyCtx replaces every stored rule by the rules of m, atomically.
func (a *Adapter) SavePolicyCtx(ctx context.Context, m model.Model) error {
	var rows []ruleRow
	for _, sec := range []string{"p", "g"} {
		for ptype, ast := range m[sec] {
			for _, rule := range ast.Policy {
				r, err := toRuleRow(ptype, rule)
				if err != nil {
					return err
				}
				rows = append(rows, r)
			}
		}
	}
	return a.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*ruleRow)(nil)).Where("1 = 1").Exec(ctx); err != nil {
			return fmt.Errorf("authz: save policy: %w", err)
		}
		return insertRows(ctx, tx, rows)
	})
}

// insertBatch is how many rules one INSERT carries.
const insertBatch = 200

func insertRows(ctx context.Context, db bun.IDB, rows []ruleRow) error {
	for start := 0; start < len(rows); start += insertBatch {
		batch := rows[start:min(start+insertBatch, len(rows))]
		if _, err := db.NewInsert().Model(&batch).Exec(ctx); err != nil {
			return fmt.Errorf("authz: add policy: %w", err)
		}
	}
	return nil
}

// AddPolicyCtx stores one rule.
func (a *Adapter) AddPolicyCtx(ctx context.Context, _ string, ptype string, rule []string) error {
	r, err := toRuleRow(ptype, rule)
	if err != nil {
		return err
	}
	return insertRows(ctx, a.db, []ruleRow{r})
}

// AddPoliciesCtx stores rules, all or none.
func (a *Adapter) AddPoliciesCtx(ctx context.Context, _ string, ptype string, rules [][]string) error {
	if len(rules) == 0 {
		return nil
	}
	rows := make([]ruleRow, 0, len(rules))
	for _, rule := range rules {
		r, err := toRuleRow(ptype, rule)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if len(rows) <= insertBatch {
		return insertRows(ctx, a.db, rows)
	}
	return a.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return insertRows(ctx, tx, rows)
	})
}

// RemovePolicyCtx deletes one rule (nothing when it is not stored).
func (a *Adapter) RemovePolicyCtx(ctx context.Context, _ string, ptype string, rule []string) error {
	return removeRule(ctx, a.db, ptype, rule)
}

func removeRule(ctx context.Context, db bun.IDB, ptype string, rule []string) error {
	r, err := toRuleRow(ptype, rule)
	if err != nil {
		return err
	}
	q := db.NewDelete().Model((*ruleRow)(nil)).Where("ptype = ?", ptype)
	for i, v := range r.values() {
		q = q.Where("? = ?", bun.Ident(fmt.Sprintf("v%d", i)), v)
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("authz: remove policy: %w", err)
	}
	return nil
}

// RemovePoliciesCtx deletes rules, all or none.
func (a *Adapter) RemovePoliciesCtx(ctx context.Context, _ string, ptype string, rules [][]string) error {
	if len(rules) == 0 {
		return nil
	}
	return a.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, rule := range rules {
			if err := removeRule(ctx, tx, ptype, rule); err != nil {
				return err
			}
		}
		return nil
	})
}

// RemoveFilteredPolicyCtx deletes the rules of ptype whose values, from
// fieldIndex on, equal fieldValues; an empty value matches anything, as in
// Casbin's own filters.
func (a *Adapter) RemoveFilteredPolicyCtx(ctx context.Context, _ string, ptype string, fieldIndex int, fieldValues ...string) error {
	if fieldIndex < 0 || fieldIndex+len(fieldValues) > maxFields {
		return fmt.Errorf("authz: remove filtered policy: fields %d..%d are outside v0..v%d", fieldIndex, fieldIndex+len(fieldValues)-1, maxFields-1)
	}
	q := a.db.NewDelete().Model((*ruleRow)(nil)).Where("ptype = ?", ptype)
	for i, v := range fieldValues {
		if v != "" {
			q = q.Where("? = ?", bun.Ident(fmt.Sprintf("v%d", fieldIndex+i)), v)
		}
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("authz: remove filtered policy: %w", err)
	}
	return nil
}

// The context-free methods of persist.Adapter and persist.BatchAdapter, for
// Casbin's own callers. Yoyaku's code calls the *Ctx methods.

// LoadPolicy implements persist.Adapter.
func (a *Adapter) LoadPolicy(m model.Model) error { return a.LoadPolicyCtx(context.Background(), m) }

// SavePolicy implements persist.Adapter.
func (a *Adapter) SavePolicy(m model.Model) error { return a.SavePolicyCtx(context.Background(), m) }

// AddPolicy implements persist.Adapter.
func (a *Adapter) AddPolicy(sec, ptype string, rule []string) error {
	return a.AddPolicyCtx(context.Background(), sec, ptype, rule)
}

// RemovePolicy implements persist.Adapter.
func (a *Adapter) RemovePolicy(sec, ptype string, rule []string) error {
	return a.RemovePolicyCtx(context.Background(), sec, ptype, rule)
}

// RemoveFilteredPolicy implements persist.Adapter.
func (a *Adapter) RemoveFilteredPolicy(sec, ptype string, fieldIndex int, fieldValues ...string) error {
	return a.RemoveFilteredPolicyCtx(context.Background(), sec, ptype, fieldIndex, fieldValues...)
}

// AddPolicies implements persist.BatchAdapter.
func (a *Adapter) AddPolicies(sec, ptype string, rules [][]string) error {
	return a.AddPoliciesCtx(context.Background(), sec, ptype, rules)
}

// RemovePolicies implements persist.BatchAdapter.
func (a *Adapter) RemovePolicies(sec, ptype string, rules [][]string) error {
	return a.RemovePoliciesCtx(context.Background(), sec, ptype, rules)
}

// errReadOnly is returned by a snapshot source asked to write.
var errReadOnly = errors.New("authz: a tenant's enforcer is a read-only snapshot; change policy through the Authorizer")

// snapshotSource loads one tenant's enforcer: the stored rules plus the
// built-in roles' rules, which are computed, not stored (so a release that
// changes a built-in role needs no data migration). It lives only while the
// enforcer is built; the enforcer is then detached from it.
type snapshotSource struct {
	ctx   context.Context
	db    bun.IDB
	extra [][]string // ptype first, like a CSV policy line
}

func (s *snapshotSource) LoadPolicy(m model.Model) error {
	if err := NewAdapter(s.db).LoadPolicyCtx(s.ctx, m); err != nil {
		return err
	}
	for _, rule := range s.extra {
		if err := persist.LoadPolicyArray(rule, m); err != nil {
			return fmt.Errorf("authz: built-in policy: %w", err)
		}
	}
	return nil
}

func (s *snapshotSource) SavePolicy(model.Model) error                { return errReadOnly }
func (s *snapshotSource) AddPolicy(string, string, []string) error    { return errReadOnly }
func (s *snapshotSource) RemovePolicy(string, string, []string) error { return errReadOnly }
func (s *snapshotSource) RemoveFilteredPolicy(string, string, int, ...string) error {
	return errReadOnly
}
