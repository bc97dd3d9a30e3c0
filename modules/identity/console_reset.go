package identity

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
)

// The forgotten-password flow of the console: /forgot asks for an address
// and mails a reset link (staff.password_reset) when it has an active
// account, answering the same page either way; /reset/:token sets the new
// password once (RedeemSetup: the same rules as the setup link, every
// session of the account ends).

// resetLink is the page a reset token opens, under PublicURL when set.
func (k *Console) resetLink(c *gin.Context, r req, token string) string {
	base := k.cfg.PublicURL
	if base == "" {
		base = schemeHost(c)
	}
	return strings.TrimRight(base, "/") + r.base + "/reset/" + token
}

func (k *Console) forgotForm(c *gin.Context) {
	k.authPage(c, http.StatusOK, "console_forgot.html", "identity.reset.title", nil)
}

// forgot answers every well-formed address with the same page: whether it
// has an account shows only in that address's mailbox.
func (k *Console) forgot(c *gin.Context) {
	r := k.reqOf(c)
	ctx := auditlog.WithRequest(c.Request.Context(), auditlog.Request{RequestID: logx.RequestID(c.Request.Context()),
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent()})
	email := strings.TrimSpace(c.PostForm("email"))
	var evs []outbox.Event
	err := r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		rl, err := k.cfg.Staff.ForgotPassword(ctx, tx, email, c.ClientIP())
		if err != nil || !rl.Issued() {
			return err
		}
		evs, err = k.cfg.passwordReset(ctx, tx, rl, k.resetLink(c, r, rl.Token), httpx.Lang(c))
		return err
	})
	if err != nil {
		status := httpx.StatusOf(apperr.KindOf(err))
		if status >= 500 {
			k.fail(c, err)
			return
		}
		fields, summary := formErrors(c, err)
		var ae *apperr.Error
		if errors.As(err, &ae) {
			if ra, ok := ae.Args["RetryAfter"]; ok {
				c.Header("Retry-After", retryAfter(ra))
			}
		}
		k.authPage(c, status, "console_forgot.html", "identity.reset.title", map[string]any{
			"Error": summary, "EmailError": fields["email"], "Email": email,
		})
		return
	}
	k.cfg.notify(ctx, r.tenant.ID, evs)
	k.authPage(c, http.StatusOK, "console_forgot.html", "identity.reset.title", map[string]any{
		"Sent": true, "Flash": k.t(c, "identity.reset.sent", nil),
	})
}

// checkReset tells whether token is a live reset link and returns its
// account's address. Setup and invitation links have a page of their own.
func (k *Console) checkReset(ctx context.Context, db bun.IDB, token string) (string, error) {
	email, purpose, err := k.cfg.Staff.CheckSetupToken(ctx, db, token)
	if err == nil && purpose != PurposeReset {
		err = ErrSetupTokenInvalid
	}
	return email, err
}

func (k *Console) resetInvalid(c *gin.Context, err error) {
	k.authPage(c, httpx.StatusOf(apperr.KindOf(err)), "console_reset.html", "console.reset.title",
		map[string]any{"Invalid": true, "Error": k.t(c, "console.reset.invalid", nil)})
}

func (k *Console) resetForm(c *gin.Context) {
	r := k.reqOf(c)
	email, err := k.checkReset(c.Request.Context(), r.db, c.Param("token"))
	if err != nil {
		k.resetInvalid(c, err)
		return
	}
	k.authPage(c, http.StatusOK, "console_reset.html", "console.reset.title", map[string]any{"Email": email, "Token": c.Param("token")})
}

func (k *Console) reset(c *gin.Context) {
	r := k.reqOf(c)
	ctx := auditlog.WithRequest(c.Request.Context(), auditlog.Request{RequestID: logx.RequestID(c.Request.Context()),
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent()})
	token := c.Param("token")
	email, err := k.checkReset(ctx, r.db, token)
	if err != nil {
		k.resetInvalid(c, err)
		return
	}
	if _, err := k.cfg.Staff.RedeemSetup(ctx, r.db, token, c.PostForm("password"), r.tenant.Slug); err != nil {
		if errors.Is(err, ErrSetupTokenInvalid) {
			k.resetInvalid(c, err) // used up by a request in the meantime
			return
		}
		fields, summary := formErrors(c, err)
		k.authPage(c, httpx.StatusOf(apperr.KindOf(err)), "console_reset.html", "console.reset.title", map[string]any{
			"Email": email, "Token": token, "Error": summary, "PasswordError": fields["password"],
		})
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/login?reset=1")
}
