// Package httpx is the HTTP platform: the gin engine with the middleware
// every route shares (request IDs, access log, metrics, panic recovery, body
// limit, language, security headers), problem+json errors (RFC 9457) in
// Japanese or English, strict JSON binding, and a server that shuts down
// gracefully.
package httpx

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
)

// Options configures the engine.
type Options struct {
	Logger       *slog.Logger
	Catalog      *i18n.Catalog
	Registerer   prometheus.Registerer // where HTTP metrics are registered; nil: none
	MaxBodyBytes int64                 // request bodies above this are refused with 413 (default 1 MiB)
	TLS          bool                  // served over TLS: secure cookies and HSTS
	// TrustedProxies are the addresses or CIDR ranges of the reverse proxies
	// (load balancers) in front of Yoyaku: only from them is X-Forwarded-For
	// believed as the client's address (rate limits, allow-lists, logs).
	// Empty: the socket's address is the client's.
	TrustedProxies []string
}

// DefaultMaxBodyBytes is the request body limit when none is configured.
const DefaultMaxBodyBytes = 1 << 20

type edge struct {
	log     *slog.Logger
	catalog *i18n.Catalog
	maxBody int64
	tls     bool
	metrics *metrics
}

const edgeKey = "yoyaku.edge"

// New returns a gin engine with the shared middleware installed and 404/405
// answered as problems. Modules add their routes to it.
func New(o Options) (*gin.Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	e := &edge{log: o.Logger, catalog: o.Catalog, maxBody: o.MaxBodyBytes, tls: o.TLS}
	if o.Registerer != nil {
		m, err := newMetrics(o.Registerer)
		if err != nil {
			return nil, err
		}
		e.metrics = m
	}
	gin.SetMode(gin.ReleaseMode)
	installValidator()
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	r.RemoveExtraSlash = false
	// Client addresses come from the socket unless a deployment configures
	// trusted proxies explicitly; X-Forwarded-For is not believed by default.
	var proxies []string
	if len(o.TrustedProxies) > 0 {
		proxies = o.TrustedProxies
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		return nil, err
	}
	// limitBody runs after language and securityHeaders so that a 413 it
	// answers is in the client's language and carries the headers too.
	r.Use(e.requestID, e.accessLog, e.recover, e.language, e.securityHeaders, e.limitBody)
	r.NoRoute(func(c *gin.Context) { Fail(c, errNotFound) })
	r.NoMethod(func(c *gin.Context) { Fail(c, errMethod) })
	return r, nil
}

// Server returns an http.Server with timeouts suited to a public service:
// slow clients cannot hold connections open forever.
func Server(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
