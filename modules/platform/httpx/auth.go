package httpx

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// ErrUnauthorized answers a missing or wrong credential.
var ErrUnauthorized = apperr.New(apperr.KindUnauthorized, "unauthorized")

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header, or "".
func BearerToken(c *gin.Context) string {
	h := c.GetHeader("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// RequireToken refuses requests whose bearer token is not token with 401.
// The comparison takes the same time whatever the input.
func RequireToken(token string) gin.HandlerFunc {
	want := sha256.Sum256([]byte(token))
	return func(c *gin.Context) {
		got := sha256.Sum256([]byte(BearerToken(c)))
		if token == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			Fail(c, ErrUnauthorized)
			return
		}
		c.Next()
	}
}
