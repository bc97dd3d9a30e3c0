package identity

import (
	"net/http"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"

	"github.com/gin-gonic/gin"
)

// changePassword changes the signed-in member's password. Their other
// sessions end; this one continues under a new token.
func (k *Console) changePassword(c *gin.Context) {
	r := k.reqOf(c)
	ctx := c.Request.Context()
	sess := k.current(c)
	token, err := k.cfg.Staff.ChangePassword(ctx, r.db, sess, c.PostForm("current_password"), c.PostForm("new_password"), r.tenant.Slug)
	if err != nil {
		fields, summary := formErrors(c, err)
		p, _ := PrincipalFrom(ctx)
		st, gerr := k.cfg.Staff.GetStaff(ctx, r.db, p.ID)
		if gerr != nil {
			k.fail(c, gerr)
			return
		}
		k.page(c, httpx.StatusOf(apperr.KindOf(err)), "console_account.html", "console.account.title", map[string]any{
			"Staff": st, "Error": summary, "CurrentError": fields["current_password"], "NewError": fields["password"],
		})
		return
	}
	k.setCookie(c, r.base, sessionCookie, token, 0)
	c.Redirect(http.StatusSeeOther, r.base+"/account?done=password")
}
