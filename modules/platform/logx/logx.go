// Package logx builds the process logger: log/slog, JSON in production,
// text when a person watches a terminal, and a handler that adds the
// request's request_id and tenant to every record logged with its context.
// The logger is created once in cmd/yoyaku and injected; there is no global
// logger.
package logx

import (
	"context"
	"io"
	"log/slog"
)

// Fields are the per-request facts every log line of a request carries. The
// HTTP middleware puts a *Fields into the request context and fills Tenant
// once the tenant is known.
type Fields struct {
	RequestID string
	Tenant    string
}

type ctxKey struct{}

// WithFields returns ctx carrying f.
func WithFields(ctx context.Context, f *Fields) context.Context {
	return context.WithValue(ctx, ctxKey{}, f)
}

// FieldsFrom returns the fields in ctx, or nil.
func FieldsFrom(ctx context.Context) *Fields {
	f, _ := ctx.Value(ctxKey{}).(*Fields)
	return f
}

// RequestID returns the request ID in ctx, or "".
func RequestID(ctx context.Context) string {
	if f := FieldsFrom(ctx); f != nil {
		return f.RequestID
	}
	return ""
}

// New returns a logger writing to w: JSON when json is set, text otherwise.
func New(w io.Writer, json bool, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if json {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(ContextHandler{Handler: h})
}

// ContextHandler adds request_id and tenant from the record's context.
type ContextHandler struct{ slog.Handler }

// Handle adds the context's fields and passes the record on.
func (h ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if f := FieldsFrom(ctx); f != nil {
		if f.RequestID != "" {
			r.AddAttrs(slog.String("request_id", f.RequestID))
		}
		if f.Tenant != "" {
			r.AddAttrs(slog.String("tenant", f.Tenant))
		}
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around the derived handler.
func (h ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ContextHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper around the derived handler.
func (h ContextHandler) WithGroup(name string) slog.Handler {
	return ContextHandler{h.Handler.WithGroup(name)}
}
