package httpx

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
)

// HeaderRequestID carries the request ID in and out.
const HeaderRequestID = "X-Request-ID"

// saneRequestID accepts what proxies and clients commonly send (UUIDs,
// ULIDs, hex, dotted trace IDs) and nothing that could break a log line.
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

// NewRequestID returns a fresh random request ID (128 bits, hex).
func NewRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (e *edge) requestID(c *gin.Context) {
	id := c.GetHeader(HeaderRequestID)
	if !saneRequestID.MatchString(id) {
		id = NewRequestID()
	}
	c.Header(HeaderRequestID, id)
	f := &logx.Fields{RequestID: id}
	c.Request = c.Request.WithContext(logx.WithFields(c.Request.Context(), f))
	c.Set(edgeKey, e)
	c.Next()
}

// SetTenant records the tenant serving this request for logs and metrics.
func SetTenant(c *gin.Context, slug string) {
	if f := logx.FieldsFrom(c.Request.Context()); f != nil {
		f.Tenant = slug
	}
}

func (e *edge) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	elapsed := time.Since(start)
	if e.metrics != nil {
		e.metrics.observe(c.Request.Method, route, status, elapsed)
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case route == "/healthz" || route == "/readyz" || route == "/metrics":
		level = slog.LevelDebug
	}
	ctx := c.Request.Context()
	// request_id and tenant come from ctx (logx.ContextHandler).
	// The route pattern, never the raw path or query: those may carry
	// personal data (an e-mail in a search, a token in a link).
	e.log.LogAttrs(ctx, level, "http request",
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
		slog.Int("bytes", max(c.Writer.Size(), 0)),
	)
}

func (e *edge) recover(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
			panic(v)
		}
		e.log.ErrorContext(c.Request.Context(), "panic serving request",
			"route", c.FullPath(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			Fail(c, apperr.New(apperr.KindInternal, "internal"))
		}
		c.Abort()
	}()
	c.Next()
}

func (e *edge) limitBody(c *gin.Context) {
	if c.Request.ContentLength > e.maxBody {
		Fail(c, errTooLarge.WithArgs(map[string]any{"Max": e.maxBody}))
		return
	}
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, e.maxBody)
	}
	c.Next()
}

const langKey = "yoyaku.lang"

func (e *edge) language(c *gin.Context) {
	choice, _ := c.Cookie(i18n.CookieName)
	lang := i18n.Japanese
	if e.catalog != nil {
		lang = e.catalog.Match(choice, c.GetHeader("Accept-Language"))
	}
	c.Set(langKey, lang)
	c.Header("Content-Language", lang)
	c.Header("Vary", "Accept-Language")
	c.Next()
}

func (e *edge) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'")
	if e.tls {
		h.Set("Strict-Transport-Security", "max-age="+strconv.Itoa(365*24*3600)+"; includeSubDomains")
	}
	c.Next()
}

// Lang returns the language chosen for the request ("ja" or "en").
func Lang(c *gin.Context) string {
	if l, ok := c.Get(langKey); ok {
		return l.(string)
	}
	return i18n.Japanese
}

// Catalog returns the message catalog, or nil.
func Catalog(c *gin.Context) *i18n.Catalog {
	if e := edgeOf(c); e != nil {
		return e.catalog
	}
	return nil
}

// Logger returns the process logger.
func Logger(c *gin.Context) *slog.Logger {
	if e := edgeOf(c); e != nil {
		return e.log
	}
	return slog.New(slog.DiscardHandler)
}

func edgeOf(c *gin.Context) *edge {
	if v, ok := c.Get(edgeKey); ok {
		return v.(*edge)
	}
	return nil
}

var (
	errNotFound = apperr.New(apperr.KindNotFound, "not_found")
	errMethod   = apperr.New(apperr.KindMethodNotAllowed, "method_not_allowed")
	errTooLarge = apperr.New(apperr.KindTooLarge, "body_too_large")
)

// maxBytesLimit reports whether err is http.MaxBytesReader's limit error,
// and the limit it enforced (for the problem's detail).
func maxBytesLimit(err error) (int64, bool) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return mbe.Limit, true
	}
	return 0, false
}
