package ratelimit

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
)

// ErrRateLimited is the problem of a refused public API request; its
// RetryAfter argument is the wait in seconds, as in the Retry-After header.
var ErrRateLimited = apperr.New(apperr.KindRateLimited, "rate_limited")

// The route kinds, a label of the metric.
const (
	routeAPI  = "api"
	routeSite = "site"
)

// API returns the middleware of the public JSON API: a refused request gets
// a 429 problem with code rate_limited and Retry-After. It reads the tenant
// from the ":tenant" path parameter, so it runs before the tenant is
// resolved: a flood is refused without touching a database.
func (l *Limiter) API() gin.HandlerFunc {
	return l.middleware(routeAPI, func(c *gin.Context, d Decision) {
		httpx.Fail(c, ErrRateLimited.WithArgs(map[string]any{"RetryAfter": d.RetryAfter()}))
	})
}

// Site returns the middleware of the booking site: a refused request gets
// the busy page (status 429, Retry-After) from views. A refused GET reloads
// itself after the wait (a meta refresh: the CSP allows no inline script);
// a refused form post is not repeated by the browser on its own, so its page
// asks the visitor to wait and send it again.
func (l *Limiter) Site(views *view.Renderer) gin.HandlerFunc {
	return l.middleware(routeSite, func(c *gin.Context, d Decision) {
		c.Header("Cache-Control", "no-store")
		views.HTML(c, http.StatusTooManyRequests, "site_busy.html", map[string]any{
			"Seconds": d.RetryAfter(),
			"Reload":  !isWrite(c.Request.Method),
		})
		c.Abort()
	})
}

func (l *Limiter) middleware(route string, refuse func(*gin.Context, Decision)) gin.HandlerFunc {
	return func(c *gin.Context) {
		addr, _ := netip.ParseAddr(c.ClientIP())
		write := isWrite(c.Request.Method)
		d := l.Allow(addr, strings.ToLower(c.Param("tenant")), write)
		if d.OK {
			c.Next()
			return
		}
		access := "read"
		if write {
			access = "write"
		}
		l.limited.WithLabelValues(string(d.Scope), route, access).Inc()
		c.Header("Retry-After", strconv.Itoa(d.RetryAfter()))
		refuse(c, d)
	}
}

// isWrite: everything but GET, HEAD and OPTIONS changes something.
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
