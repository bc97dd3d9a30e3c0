package menus

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
)

type cancellationFeeJSON struct {
	HoursBefore *int `json:"hours_before"`
	Percent     *int `json:"percent"`
}

// paymentPolicyRequest replaces a menu's payment policy (PUT).
type paymentPolicyRequest struct {
	PrepaymentRequired *bool                 `json:"prepayment_required"`
	CancellationFees   []cancellationFeeJSON `json:"cancellation_fees" binding:"max=20"`
}

// getPaymentPolicy answers GET /menus/:id/payment-policy.
func (h *HTTP) getPaymentPolicy(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if _, err := h.cfg.Service.Get(ctx, db, c.Param("id")); err != nil {
		httpx.Fail(c, err)
		return
	}
	p, err := h.cfg.Service.PaymentPolicy(ctx, db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// putPaymentPolicy answers PUT /menus/:id/payment-policy: the whole policy
// is replaced (audited as menu.payment_policy).
func (h *HTTP) putPaymentPolicy(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	var req paymentPolicyRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	var v apperr.Validator
	if req.PrepaymentRequired == nil {
		v.Add("prepayment_required", "required", nil)
	}
	p := PaymentPolicy{CancellationFees: []CancellationFee{}}
	for i, f := range req.CancellationFees {
		if f.HoursBefore == nil {
			v.Add("cancellation_fees."+itoa(i)+".hours_before", "required", nil)
		}
		if f.Percent == nil {
			v.Add("cancellation_fees."+itoa(i)+".percent", "required", nil)
		}
		if f.HoursBefore != nil && f.Percent != nil {
			p.CancellationFees = append(p.CancellationFees, CancellationFee{HoursBefore: *f.HoursBefore, Percent: *f.Percent})
		}
	}
	if err := v.Err(); err != nil {
		httpx.Fail(c, err)
		return
	}
	p.PrepaymentRequired = *req.PrepaymentRequired
	out, err := h.cfg.Service.SetPaymentPolicy(c.Request.Context(), db, c.Param("id"), p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}
