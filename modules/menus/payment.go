package menus

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// PaymentPolicy says whether a menu is paid when booked and what a
// cancellation costs. A menu without one is paid at the venue.
type PaymentPolicy struct {
	// PrepaymentRequired: a public booking takes a payment through the
	// tenant's payments plugin and is confirmed when it succeeds.
	PrepaymentRequired bool `json:"prepayment_required"`
	// CancellationFees: the fee kept when a prepaid reservation is
	// cancelled within HoursBefore its start; the tightest matching tier
	// applies, none matching means a full refund.
	CancellationFees []CancellationFee `json:"cancellation_fees"`
}

// CancellationFee is one tier: cancelling less than HoursBefore hours
// before the start keeps Percent of the price.
type CancellationFee struct {
	HoursBefore int `json:"hours_before"`
	Percent     int `json:"percent"`
}

// FeePercent is the percent of the price kept when cancelling `before`
// the start (0 when no tier applies).
func (p PaymentPolicy) FeePercent(before time.Duration) int {
	best, bestHours := 0, -1
	for _, f := range p.CancellationFees {
		if before < time.Duration(f.HoursBefore)*time.Hour && (bestHours < 0 || f.HoursBefore < bestHours) {
			best, bestHours = f.Percent, f.HoursBefore
		}
	}
	return best
}

type paymentPolicyRow struct {
	bun.BaseModel `bun:"table:menu_payment_policies"`

	MenuID             string    `bun:"menu_id,pk"`
	PrepaymentRequired bool      `bun:"prepayment_required"`
	CancellationFees   string    `bun:"cancellation_fees"`
	UpdatedAt          time.Time `bun:"updated_at"`
}

// PaymentPolicy returns menu id's payment policy (the zero policy when it
// has none).
func (s *Service) PaymentPolicy(ctx context.Context, db bun.IDB, id string) (PaymentPolicy, error) {
	var row paymentPolicyRow
	err := db.NewSelect().Model(&row).Where("menu_id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return PaymentPolicy{CancellationFees: []CancellationFee{}}, nil
	}
	if err != nil {
		return PaymentPolicy{}, err
	}
	p := PaymentPolicy{PrepaymentRequired: row.PrepaymentRequired, CancellationFees: []CancellationFee{}}
	if err := json.Unmarshal([]byte(row.CancellationFees), &p.CancellationFees); err != nil {
		return PaymentPolicy{}, err
	}
	return p, nil
}

// SetPaymentPolicy replaces menu id's payment policy.
func (s *Service) SetPaymentPolicy(ctx context.Context, db bun.IDB, id string, p PaymentPolicy) (PaymentPolicy, error) {
	var v apperr.Validator
	seen := map[int]bool{}
	for i, f := range p.CancellationFees {
		if f.HoursBefore < 0 || f.HoursBefore > 24*365 || seen[f.HoursBefore] {
			v.Add("cancellation_fees."+itoa(i)+".hours_before", "range", map[string]any{"Min": 0, "Max": 24 * 365})
		}
		if f.Percent < 0 || f.Percent > 100 {
			v.Add("cancellation_fees."+itoa(i)+".percent", "range", map[string]any{"Min": 0, "Max": 100})
		}
		seen[f.HoursBefore] = true
	}
	if err := v.Err(); err != nil {
		return PaymentPolicy{}, err
	}
	if p.CancellationFees == nil {
		p.CancellationFees = []CancellationFee{}
	}
	p.CancellationFees = slices.Clone(p.CancellationFees)
	slices.SortFunc(p.CancellationFees, func(a, b CancellationFee) int { return b.HoursBefore - a.HoursBefore })
	fees, err := json.Marshal(p.CancellationFees)
	if err != nil {
		return PaymentPolicy{}, err
	}
	row := &paymentPolicyRow{MenuID: id, PrepaymentRequired: p.PrepaymentRequired, CancellationFees: string(fees), UpdatedAt: time.Now().UTC()}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := s.get(ctx, tx, id); err != nil {
			return err
		}
		before, err := s.PaymentPolicy(ctx, tx, id)
		if err != nil {
			return err
		}
		oldFees, err := json.Marshal(before.CancellationFees)
		if err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*paymentPolicyRow)(nil)).Where("menu_id = ?", id).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		ch := diff(map[string]any{"prepayment_required": before.PrepaymentRequired, "cancellation_fees": string(oldFees)},
			map[string]any{"prepayment_required": p.PrepaymentRequired, "cancellation_fees": string(fees)})
		if len(ch) == 0 {
			return nil
		}
		return audit(ctx, tx, AuditMenuPaymentPolicy, "menu", id, ch)
	})
	if err != nil {
		return PaymentPolicy{}, err
	}
	return p, nil
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
