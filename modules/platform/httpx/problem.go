package httpx

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
)

// ProblemTypeBase prefixes every problem type URI; the fragment is the code,
// documented in docs/problems.md.
const ProblemTypeBase = "https://github.com/yoyaku-oss/yoyaku/blob/main/docs/problems.md#"

// Problem is an RFC 9457 problem document with Yoyaku's extensions: a
// stable code, the request ID and the field errors of a validation problem.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Code      string         `json:"code"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []FieldProblem `json:"errors,omitempty"`
}

// FieldProblem is one field's error in a problem.
type FieldProblem struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// StatusOf maps an error kind to its HTTP status.
func StatusOf(k apperr.Kind) int {
	switch k {
	case apperr.KindInvalid:
		return http.StatusBadRequest
	case apperr.KindUnauthorized:
		return http.StatusUnauthorized
	case apperr.KindForbidden:
		return http.StatusForbidden
	case apperr.KindNotFound:
		return http.StatusNotFound
	case apperr.KindMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case apperr.KindConflict:
		return http.StatusConflict
	case apperr.KindGone:
		return http.StatusGone
	case apperr.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.KindUnsupported:
		return http.StatusUnsupportedMediaType
	case apperr.KindUnprocessable:
		return http.StatusUnprocessableEntity
	case apperr.KindRateLimited:
		return http.StatusTooManyRequests
	case apperr.KindUnavailable:
		return http.StatusServiceUnavailable
	case apperr.KindDownstream:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// ProblemFor builds the problem for err in lang. Internal errors never show
// their cause: it goes to the log, the client gets the request ID.
func ProblemFor(c *gin.Context, err error) Problem {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		ae = apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	if ae.Kind == apperr.KindInternal {
		ae = &apperr.Error{Kind: apperr.KindInternal, Code: "internal", Err: ae}
	}
	status := StatusOf(ae.Kind)
	lang := Lang(c)
	p := Problem{
		Type:      ProblemTypeBase + ae.Code,
		Status:    status,
		Code:      ae.Code,
		RequestID: logx.RequestID(c.Request.Context()),
		Title:     http.StatusText(status),
	}
	if cat := Catalog(c); cat != nil {
		if cat.Has("problem." + ae.Code + ".title") {
			p.Title = cat.T(lang, "problem."+ae.Code+".title", ae.Args)
		} else {
			p.Title = cat.T(lang, "status."+statusKey(status), nil)
		}
		if cat.Has("problem." + ae.Code + ".detail") {
			p.Detail = cat.T(lang, "problem."+ae.Code+".detail", ae.Args)
		}
		for _, f := range ae.Fields {
			args := map[string]any{"Field": f.Field}
			for k, v := range f.Args {
				args[k] = v
			}
			msg := cat.T(lang, "field."+f.Code, args)
			if msg == "field."+f.Code {
				msg = cat.T(lang, "field.invalid", args)
			}
			p.Errors = append(p.Errors, FieldProblem{Field: f.Field, Code: f.Code, Message: msg})
		}
	} else {
		for _, f := range ae.Fields {
			p.Errors = append(p.Errors, FieldProblem{Field: f.Field, Code: f.Code, Message: f.Code})
		}
	}
	return p
}

func statusKey(status int) string {
	switch status {
	case 400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429, 500, 502, 503:
		return strconv.Itoa(status)
	}
	return "500"
}

// Fail writes err as a problem and aborts the request. Internal errors are
// logged with their cause; client errors are not (they are the client's).
func Fail(c *gin.Context, err error) {
	p := ProblemFor(c, err)
	if p.Status >= 500 {
		Logger(c).ErrorContext(c.Request.Context(), "request failed", "route", c.FullPath(), "status", p.Status, "code", p.Code, "err", err)
	}
	if p.Status == http.StatusUnauthorized && c.Writer.Header().Get("WWW-Authenticate") == "" {
		c.Header("WWW-Authenticate", `Bearer realm="yoyaku"`)
	}
	c.Header("Cache-Control", "no-store")
	c.Render(p.Status, problemRender{p})
	c.Abort()
}
