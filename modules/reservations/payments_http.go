package reservations

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
)

// MaxWebhookBytes is the largest webhook body accepted.
const MaxWebhookBytes = 1 << 20

// paymentJSON is a prepaid booking's payment in the booking's answer.
type paymentJSON struct {
	ID           string `json:"id"`
	Amount       int64  `json:"amount"`
	Currency     string `json:"currency"`
	ClientSecret string `json:"client_secret"`
	ExpiresAt    string `json:"expires_at"`
}

func toPaymentJSON(p Payment, zone *time.Location) *paymentJSON {
	return &paymentJSON{ID: p.ID, Amount: p.Amount, Currency: "JPY", ClientSecret: p.ClientSecret,
		ExpiresAt: p.ExpiresAt.In(zone).Format(rfc3339Offset)}
}

// RegisterPaymentWebhooks adds the payment providers' webhook endpoint on g
// ("/api/v1/webhooks/plugins/:plugin_id/:tenant" after the tenant
// middleware). It takes no API key: the plugin verifies the provider's
// signature, and a webhook that does not verify is 400 webhook_rejected.
func (h *HTTP) RegisterPaymentWebhooks(g *gin.RouterGroup) {
	g.POST("", h.paymentWebhook)
}

func (h *HTTP) paymentWebhook(c *gin.Context) {
	t, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxWebhookBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			httpx.Fail(c, apperr.New(apperr.KindTooLarge, "body_too_large"))
			return
		}
		httpx.Fail(c, apperr.Wrap(apperr.KindInvalid, "webhook_rejected", err))
		return
	}
	ctx := c.Request.Context()
	ctx = auditlog.WithRequest(ctx, auditlog.Request{Actor: auditlog.Actor{Kind: auditlog.ActorSystem},
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: logx.RequestID(ctx)})
	if err := h.svc.ApplyPaymentWebhook(ctx, db, t, c.Param("plugin_id"), body, c.Request.Header.Clone()); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"received": true})
}
