package httpx_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/web"
)

const (
	maxBody   = 1024
	testToken = "secret-token-123456"
	// panicText must never reach a client.
	panicText = "boom: password=hunter2"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// syncBuffer is a bytes.Buffer the server's goroutines may log into while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type bindReq struct {
	Name  string `json:"name" binding:"required"`
	Count int    `json:"count"`
}

type harness struct {
	engine *gin.Engine
	log    *syncBuffer
	logger *slog.Logger
	reg    *prometheus.Registry
	cat    *i18n.Catalog
}

// newHarness builds the engine as cmd/yoyaku does (JSON logger with the
// request context handler, real catalogs, a private registry) and adds the
// routes the tests exercise.
func newHarness(t *testing.T) *harness {
	t.Helper()
	cat, err := i18n.Load(web.FS, "i18n")
	if err != nil {
		t.Fatalf("load catalogs: %v", err)
	}
	buf := &syncBuffer{}
	logger := logx.New(buf, true, slog.LevelDebug)
	reg := prometheus.NewRegistry()
	e, err := httpx.New(httpx.Options{Logger: logger, Catalog: cat, Registerer: reg, MaxBodyBytes: maxBody})
	if err != nil {
		t.Fatalf("httpx.New: %v", err)
	}
	e.GET("/things/:id", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"id": c.Param("id")})
	})
	e.GET("/panic", func(c *gin.Context) {
		panic(panicText)
	})
	e.POST("/bind", func(c *gin.Context) {
		// Tells the test whether the handler ran and what length it saw.
		c.Header("X-Test-Content-Length", strconv.FormatInt(c.Request.ContentLength, 10))
		var req bindReq
		if err := httpx.BindJSON(c, &req); err != nil {
			httpx.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, req)
	})
	e.GET("/private", httpx.RequireToken(testToken), func(c *gin.Context) {
		c.String(http.StatusOK, "welcome")
	})
	e.GET("/no-token-configured", httpx.RequireToken(""), func(c *gin.Context) {
		c.String(http.StatusOK, "should never be reached")
	})
	return &harness{engine: e, log: buf, logger: logger, reg: reg, cat: cat}
}

func (h *harness) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.engine.ServeHTTP(w, r)
	return w
}

func (h *harness) get(path string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return h.serve(r)
}

// records returns the JSON log records written so far.
func (h *harness) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(h.log.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, sc.Text())
		}
		out = append(out, rec)
	}
	return out
}

// accessLog returns the access log record of the request with id.
func (h *harness) accessLog(t *testing.T, requestID string) map[string]any {
	t.Helper()
	for _, rec := range h.records(t) {
		if rec["msg"] == "http request" && rec["request_id"] == requestID {
			return rec
		}
	}
	t.Fatalf("no access log record with request_id %q in:\n%s", requestID, h.log.String())
	return nil
}

func problemOf(t *testing.T, w *httptest.ResponseRecorder) httpx.Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, w.Body)
	}
	var p httpx.Problem
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode problem: %v; body %s", err, w.Body)
	}
	if p.Status != w.Code {
		t.Errorf("problem status %d, response status %d", p.Status, w.Code)
	}
	if p.Type != httpx.ProblemTypeBase+p.Code {
		t.Errorf("problem type %q, want %q", p.Type, httpx.ProblemTypeBase+p.Code)
	}
	if p.Title == "" {
		t.Error("problem has no title")
	}
	return p
}

func TestRequestID(t *testing.T) {
	tests := []struct {
		name     string
		header   []string // nil: no header
		wantEcho bool
	}{
		{"uuid echoed", []string{"3f2b8c1e-7d4a-4e9b-9c1f-2a6d8e0b5c7d"}, true},
		{"ulid echoed", []string{"01HZX3J8Q9K4V6T2M7N5P0R1S8"}, true},
		{"dotted trace id echoed", []string{"trace.42:span-7_a"}, true},
		{"shortest sane (8) echoed", []string{"abcd1234"}, true},
		{"longest sane (128) echoed", []string{strings.Repeat("a", 128)}, true},
		{"missing", nil, false},
		{"empty", []string{""}, false},
		{"too short", []string{"abc1234"}, false},
		{"spaces", []string{"abc def ghi jkl"}, false},
		{"newline injection", []string{"abcdefgh\nlevel=ERROR msg=forged"}, false},
		{"trailing newline", []string{"abcdefgh\n"}, false},
		{"carriage return", []string{"abcdefgh\rxyz"}, false},
		{"200 chars", []string{strings.Repeat("a", 200)}, false},
		{"129 chars", []string{strings.Repeat("a", 129)}, false},
		{"quote", []string{`abcdefgh"},"x":"`}, false},
		{"non-ascii", []string{"予約予約予約予約"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := httptest.NewRequest(http.MethodGet, "/things/42?email=someone@example.com", nil)
			if tt.header != nil {
				// Set the map directly: a real client could not send some of
				// these, a misbehaving proxy might.
				r.Header[http.CanonicalHeaderKey(httpx.HeaderRequestID)] = tt.header
			}
			w := h.serve(r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", w.Code, w.Body)
			}
			got := w.Header().Get(httpx.HeaderRequestID)
			if tt.wantEcho {
				if got != tt.header[0] {
					t.Fatalf("X-Request-ID = %q, want the incoming %q", got, tt.header[0])
				}
			} else {
				if !generatedID.MatchString(got) {
					t.Fatalf("X-Request-ID = %q, want a generated 32-hex ID", got)
				}
				if tt.header != nil && got == tt.header[0] {
					t.Fatalf("insane ID %q was echoed", got)
				}
			}

			rec := h.accessLog(t, got)
			want := map[string]any{"method": "GET", "route": "/things/:id", "status": float64(200), "level": "INFO"}
			for k, v := range want {
				if rec[k] != v {
					t.Errorf("access log %s = %v, want %v", k, rec[k], v)
				}
			}
			if _, ok := rec["latency_ms"].(float64); !ok {
				t.Errorf("access log latency_ms = %#v, want a number", rec["latency_ms"])
			}
			// The raw path and query may carry personal data; they stay out.
			if line := h.log.String(); strings.Contains(line, "/things/42") || strings.Contains(line, "someone@example.com") {
				t.Errorf("log carries the raw path or query:\n%s", line)
			}
			if strings.Count(h.log.String(), "\n") != len(h.records(t)) {
				t.Errorf("a request ID broke a log line:\n%s", h.log.String())
			}
		})
	}
}

func TestRequestIDsAreUnique(t *testing.T) {
	h := newHarness(t)
	seen := map[string]bool{}
	for range 50 {
		id := h.get("/things/1", nil).Header().Get(httpx.HeaderRequestID)
		if seen[id] {
			t.Fatalf("request ID %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestProblemCarriesRequestID(t *testing.T) {
	h := newHarness(t)
	const id = "3f2b8c1e-7d4a-4e9b-9c1f-2a6d8e0b5c7d"
	w := h.get("/nowhere", map[string]string{httpx.HeaderRequestID: id})
	if p := problemOf(t, w); p.RequestID != id {
		t.Errorf("problem request_id = %q, want %q", p.RequestID, id)
	}

	w = h.get("/nowhere", nil)
	p := problemOf(t, w)
	if hdr := w.Header().Get(httpx.HeaderRequestID); p.RequestID != hdr || !generatedID.MatchString(hdr) {
		t.Errorf("problem request_id = %q, header %q: want the same generated ID", p.RequestID, hdr)
	}
	if rec := h.accessLog(t, p.RequestID); rec["route"] != "unmatched" || rec["status"] != float64(404) {
		t.Errorf("access log of an unknown route: %v", rec)
	}
}

func TestPanicRecovered(t *testing.T) {
	h := newHarness(t)
	const id = "panic-request-0001"
	w := h.get("/panic", map[string]string{httpx.HeaderRequestID: id})
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500; body %s", w.Code, w.Body)
	}
	p := problemOf(t, w)
	if p.Code != "internal" {
		t.Errorf("code %q, want internal", p.Code)
	}
	if p.RequestID != id {
		t.Errorf("request_id %q, want %q", p.RequestID, id)
	}
	if body := w.Body.String(); strings.Contains(body, "hunter2") || strings.Contains(body, "boom") || strings.Contains(body, "goroutine") {
		t.Errorf("panic text leaked to the client: %s", body)
	}
	if p.Title != h.cat.T(i18n.Japanese, "problem.internal.title", nil) {
		t.Errorf("title %q, want the catalog's internal title", p.Title)
	}

	// The server keeps serving.
	if w := h.get("/things/7", nil); w.Code != http.StatusOK {
		t.Fatalf("request after the panic: status %d, want 200", w.Code)
	}

	var panicRec map[string]any
	for _, rec := range h.records(t) {
		if rec["msg"] == "panic serving request" {
			panicRec = rec
		}
	}
	if panicRec == nil {
		t.Fatalf("no panic record in the log:\n%s", h.log.String())
	}
	if panicRec["level"] != "ERROR" || panicRec["request_id"] != id || panicRec["route"] != "/panic" {
		t.Errorf("panic record: level %v request_id %v route %v", panicRec["level"], panicRec["request_id"], panicRec["route"])
	}
	if s, _ := panicRec["panic"].(string); s != panicText {
		t.Errorf("panic record panic = %q, want %q", s, panicText)
	}
	if s, _ := panicRec["stack"].(string); !strings.Contains(s, "goroutine") || !strings.Contains(s, "httpx_test") {
		t.Errorf("panic record has no useful stack: %q", s)
	}
	if rec := h.accessLog(t, id); rec["status"] != float64(500) || rec["level"] != "ERROR" {
		t.Errorf("access log of the panic: status %v level %v, want 500 ERROR", rec["status"], rec["level"])
	}
}

// unsizedReader hides its length from net/http so the client sends the body
// chunked (Content-Length unknown).
type unsizedReader struct{ r io.Reader }

func (u unsizedReader) Read(p []byte) (int, error) { return u.r.Read(p) }

func TestBodyLimit(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.engine)
	t.Cleanup(srv.Close)

	fits := `{"name":"` + strings.Repeat("x", maxBody-len(`{"name":""}`)) + `"}`
	if len(fits) != maxBody {
		t.Fatalf("test body is %d bytes, want %d", len(fits), maxBody)
	}
	tooBig := `{"name":"` + strings.Repeat("x", 2*maxBody) + `"}`

	tests := []struct {
		name       string
		body       string
		chunked    bool
		lang       string
		wantStatus int
		wantSeenCL string // X-Test-Content-Length: "" when the handler never ran
	}{
		{"too large, Content-Length", tooBig, false, "ja", http.StatusRequestEntityTooLarge, ""},
		{"too large, Content-Length, English", tooBig, false, "en", http.StatusRequestEntityTooLarge, ""},
		{"too large, chunked", tooBig, true, "ja", http.StatusRequestEntityTooLarge, "-1"},
		{"too large, chunked, English", tooBig, true, "en", http.StatusRequestEntityTooLarge, "-1"},
		{"exactly the limit, Content-Length", fits, false, "ja", http.StatusOK, strconv.Itoa(maxBody)},
		{"exactly the limit, chunked", fits, true, "ja", http.StatusOK, "-1"},
		{"one byte over, chunked", fits + " ", true, "ja", http.StatusRequestEntityTooLarge, "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = unsizedReader{body}
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/bind", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept-Language", tt.lang)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			w := &httptest.ResponseRecorder{Code: resp.StatusCode, HeaderMap: resp.Header, Body: bytes.NewBuffer(raw)}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.wantStatus, raw)
			}
			if got := resp.Header.Get("X-Test-Content-Length"); got != tt.wantSeenCL {
				t.Errorf("handler saw Content-Length %q, want %q", got, tt.wantSeenCL)
			}
			if tt.wantStatus != http.StatusRequestEntityTooLarge {
				return
			}
			p := problemOf(t, w)
			if p.Code != "body_too_large" {
				t.Errorf("code %q, want body_too_large", p.Code)
			}
			args := map[string]any{"Max": maxBody}
			if want := h.cat.T(tt.lang, "problem.body_too_large.title", nil); p.Title != want {
				t.Errorf("title %q, want %q", p.Title, want)
			}
			if want := h.cat.T(tt.lang, "problem.body_too_large.detail", args); p.Detail != want {
				t.Errorf("detail %q, want %q", p.Detail, want)
			}
			if got := resp.Header.Get("Content-Language"); got != tt.lang {
				t.Errorf("Content-Language %q, want %q", got, tt.lang)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("413 lacks the security headers")
			}
		})
	}
}

func TestBindJSON(t *testing.T) {
	h := newHarness(t)
	typeArgs := map[string]any{"Type": "number"}
	tests := []struct {
		name          string
		contentType   string
		body          string
		wantStatus    int
		wantCode      string
		wantField     string
		wantFieldCode string
		wantMessage   string // catalog message id of errors[0], Japanese
		wantArgs      map[string]any
	}{
		{name: "valid", contentType: "application/json", body: `{"name":"Hanako","count":3}`, wantStatus: 200},
		{name: "valid with charset", contentType: "application/json; charset=utf-8", body: `{"name":"Hanako"}`, wantStatus: 200},
		{name: "valid +json media type", contentType: "application/merge-patch+json", body: `{"name":"Hanako"}`, wantStatus: 200},
		{name: "valid with surrounding whitespace", contentType: "application/json", body: " \n{\"name\":\"Hanako\"}\n ", wantStatus: 200},
		{name: "malformed", contentType: "application/json", body: `{"name":`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "malformed syntax", contentType: "application/json", body: `{name: "x"}`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "array instead of object", contentType: "application/json", body: `[1,2]`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "empty body", contentType: "application/json", body: ``, wantStatus: 400, wantCode: "empty_body"},
		{name: "whitespace body", contentType: "application/json", body: " \n\t", wantStatus: 400, wantCode: "empty_body"},
		{name: "unknown field", contentType: "application/json", body: `{"name":"x","nmae":"y"}`, wantStatus: 400, wantCode: "validation",
			wantField: "nmae", wantFieldCode: "unknown_field", wantMessage: "field.unknown_field"},
		{name: "string into int", contentType: "application/json", body: `{"name":"x","count":"three"}`, wantStatus: 400, wantCode: "validation",
			wantField: "count", wantFieldCode: "type", wantMessage: "field.type", wantArgs: typeArgs},
		{name: "float into int", contentType: "application/json", body: `{"name":"x","count":1.5}`, wantStatus: 400, wantCode: "validation",
			wantField: "count", wantFieldCode: "type", wantMessage: "field.type", wantArgs: typeArgs},
		{name: "trailing garbage", contentType: "application/json", body: `{"name":"x"} garbage`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "second object", contentType: "application/json", body: `{"name":"x"}{"name":"y"}`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "trailing brace", contentType: "application/json", body: `{"name":"x"}}`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "text/plain", contentType: "text/plain", body: `{"name":"x"}`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "no content type", contentType: "", body: `{"name":"x"}`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "garbage content type", contentType: ";;;", body: `{"name":"x"}`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "missing required", contentType: "application/json", body: `{"count":1}`, wantStatus: 400, wantCode: "validation",
			wantField: "name", wantFieldCode: "required", wantMessage: "field.required"},
		{name: "empty required", contentType: "application/json", body: `{"name":""}`, wantStatus: 400, wantCode: "validation",
			wantField: "name", wantFieldCode: "required", wantMessage: "field.required"},
		{name: "null", contentType: "application/json", body: `null`, wantStatus: 400, wantCode: "validation",
			wantField: "name", wantFieldCode: "required", wantMessage: "field.required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/bind", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := h.serve(r)
			if w.Code >= 500 {
				t.Fatalf("status %d: a client mistake must never be a 500; body %s", w.Code, w.Body)
			}
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantStatus == http.StatusOK {
				var got bindReq
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Name != "Hanako" {
					t.Fatalf("handler did not run with the body: %s (%v)", w.Body, err)
				}
				return
			}
			p := problemOf(t, w)
			if p.Code != tt.wantCode {
				t.Errorf("code %q, want %q", p.Code, tt.wantCode)
			}
			if tt.wantField == "" {
				if len(p.Errors) != 0 {
					t.Errorf("unexpected field errors %+v", p.Errors)
				}
				return
			}
			if len(p.Errors) != 1 {
				t.Fatalf("errors = %+v, want exactly one", p.Errors)
			}
			fe := p.Errors[0]
			if fe.Field != tt.wantField || fe.Code != tt.wantFieldCode {
				t.Errorf("errors[0] = %s/%s, want %s/%s", fe.Field, fe.Code, tt.wantField, tt.wantFieldCode)
			}
			if want := h.cat.T(i18n.Japanese, tt.wantMessage, tt.wantArgs); fe.Message != want {
				t.Errorf("errors[0].message = %q, want %q", fe.Message, want)
			}
		})
	}
}

func TestLanguage(t *testing.T) {
	h := newHarness(t)
	if h.cat.T("ja", "problem.not_found.title", nil) == h.cat.T("en", "problem.not_found.title", nil) {
		t.Fatal("the catalogs' not_found titles do not differ; this test proves nothing")
	}
	tests := []struct {
		name           string
		acceptLanguage string
		cookie         string
		want           string
	}{
		{"default", "", "", "ja"},
		{"english", "en-US,en;q=0.9", "", "en"},
		{"english plain", "en", "", "en"},
		{"japanese region", "ja-JP", "", "ja"},
		{"japanese preferred over english", "en;q=0.5,ja", "", "ja"},
		{"unsupported falls back to japanese", "fr", "", "ja"},
		{"unsupported then english", "fr,en;q=0.5", "", "en"},
		{"garbage header", "!!!;;;", "", "ja"},
		{"cookie wins", "ja", "en", "en"},
		{"cookie ja wins over english header", "en", "ja", "ja"},
		{"unsupported cookie ignored", "en", "fr", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.acceptLanguage != "" {
				hdr["Accept-Language"] = tt.acceptLanguage
			}
			if tt.cookie != "" {
				hdr["Cookie"] = i18n.CookieName + "=" + tt.cookie
			}
			w := h.get("/nowhere", hdr)
			if got := w.Header().Get("Content-Language"); got != tt.want {
				t.Errorf("Content-Language %q, want %q", got, tt.want)
			}
			if !strings.Contains(w.Header().Get("Vary"), "Accept-Language") {
				t.Errorf("Vary %q lacks Accept-Language", w.Header().Get("Vary"))
			}
			p := problemOf(t, w)
			if want := h.cat.T(tt.want, "problem.not_found.title", nil); p.Title != want {
				t.Errorf("title %q, want %q", p.Title, want)
			}
			if want := h.cat.T(tt.want, "problem.not_found.detail", nil); p.Detail != want {
				t.Errorf("detail %q, want %q", p.Detail, want)
			}

			// Field messages follow the same choice.
			r := httptest.NewRequest(http.MethodPost, "/bind", strings.NewReader(`{"count":1}`))
			r.Header.Set("Content-Type", "application/json")
			for k, v := range hdr {
				r.Header.Set(k, v)
			}
			p = problemOf(t, h.serve(r))
			if len(p.Errors) != 1 {
				t.Fatalf("errors = %+v, want one", p.Errors)
			}
			if want := h.cat.T(tt.want, "field.required", map[string]any{"Field": "name"}); p.Errors[0].Message != want {
				t.Errorf("field message %q, want %q", p.Errors[0].Message, want)
			}
			if want := h.cat.T(tt.want, "problem.validation.title", nil); p.Title != want {
				t.Errorf("validation title %q, want %q", p.Title, want)
			}
		})
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantCode   string
	}{
		{"unknown route", http.MethodGet, "/no/such/route", 404, "not_found"},
		{"unknown route, POST", http.MethodPost, "/no/such/route", 404, "not_found"},
		{"deeper path", http.MethodGet, "/things/1/extra", 404, "not_found"},
		{"wrong method", http.MethodDelete, "/things/1", 405, "method_not_allowed"},
		{"wrong method on POST route", http.MethodGet, "/bind", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := h.serve(httptest.NewRequest(tt.method, tt.path, nil))
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			p := problemOf(t, w)
			if p.Code != tt.wantCode {
				t.Errorf("code %q, want %q", p.Code, tt.wantCode)
			}
			if p.RequestID == "" {
				t.Error("problem has no request_id")
			}
			if tt.wantStatus == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	big := httptest.NewRequest(http.MethodPost, "/bind", strings.NewReader(strings.Repeat("x", 2*maxBody)))
	big.Header.Set("Content-Type", "application/json")
	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
	}{
		{"ok", httptest.NewRequest(http.MethodGet, "/things/1", nil), 200},
		{"not found", httptest.NewRequest(http.MethodGet, "/nowhere", nil), 404},
		{"method not allowed", httptest.NewRequest(http.MethodPut, "/things/1", nil), 405},
		{"unauthorized", httptest.NewRequest(http.MethodGet, "/private", nil), 401},
		{"too large", big, 413},
		{"panic", httptest.NewRequest(http.MethodGet, "/panic", nil), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := h.serve(tt.req)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			if got := w.Header().Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("X-Frame-Options %q, want DENY", got)
			}
			csp := w.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			// No TLS configured: HSTS would pin a plain-HTTP host.
			if got := w.Header().Get("Strict-Transport-Security"); got != "" {
				t.Errorf("Strict-Transport-Security %q without TLS", got)
			}
			if w.Code >= 400 && w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("problem Cache-Control %q, want no-store", w.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestHSTSWithTLS(t *testing.T) {
	e, err := httpx.New(httpx.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if got := w.Header().Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Errorf("Strict-Transport-Security %q with TLS", got)
	}
}

func TestRequireToken(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name       string
		path       string
		auth       string // "" : no header
		wantStatus int
	}{
		{"missing", "/private", "", 401},
		{"wrong token", "/private", "Bearer wrong-token-000000", 401},
		{"token with extra suffix", "/private", "Bearer " + testToken + "7", 401},
		{"token prefix", "/private", "Bearer " + testToken[:len(testToken)-1], 401},
		{"scheme only", "/private", "Bearer", 401},
		{"scheme and space", "/private", "Bearer ", 401},
		{"basic scheme", "/private", "Basic " + testToken, 401},
		{"no scheme", "/private", testToken, 401},
		{"no space", "/private", "Bearer" + testToken, 401},
		{"right", "/private", "Bearer " + testToken, 200},
		{"lowercase scheme", "/private", "bearer " + testToken, 200},
		{"uppercase scheme", "/private", "BEARER " + testToken, 200},
		{"unconfigured token refuses empty bearer", "/no-token-configured", "Bearer ", 401},
		{"unconfigured token refuses no header", "/no-token-configured", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.auth != "" {
				hdr["Authorization"] = tt.auth
			}
			w := h.get(tt.path, hdr)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantStatus == http.StatusOK {
				if w.Body.String() != "welcome" {
					t.Errorf("body %q", w.Body)
				}
				return
			}
			if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", got)
			}
			if p := problemOf(t, w); p.Code != "unauthorized" {
				t.Errorf("code %q, want unauthorized", p.Code)
			}
			if strings.Contains(w.Body.String(), testToken) {
				t.Error("the token appears in the response")
			}
		})
	}
	if strings.Contains(h.log.String(), testToken) {
		t.Error("the token appears in the log")
	}
}

// series returns the value of each sample of family name keyed by its
// labels ("k=v,k=v" in label-name order) — counters' values and histograms'
// sample counts.
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			key := strings.Join(labels, ",")
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	for i := range 3 {
		h.get("/things/"+strconv.Itoa(i), nil)
	}
	for i := range 5 {
		h.get("/random/"+generatedIDFor(i), nil)
	}
	h.get("/panic", nil)
	h.serve(httptest.NewRequest(http.MethodDelete, "/things/9", nil))

	requests := series(t, h.reg, "yoyaku_http_requests_total")
	wantRequests := map[string]float64{
		"method=GET,route=/things/:id,status=200":  3,
		"method=GET,route=unmatched,status=404":    5,
		"method=GET,route=/panic,status=500":       1,
		"method=DELETE,route=unmatched,status=405": 1,
	}
	if len(requests) != len(wantRequests) {
		t.Errorf("yoyaku_http_requests_total series:\n got %v\nwant %v", requests, wantRequests)
	}
	for k, v := range wantRequests {
		if requests[k] != v {
			t.Errorf("yoyaku_http_requests_total{%s} = %v, want %v", k, requests[k], v)
		}
	}

	latency := series(t, h.reg, "yoyaku_http_request_duration_seconds")
	wantLatency := map[string]float64{
		"method=GET,route=/things/:id":  3,
		"method=GET,route=unmatched":    5,
		"method=GET,route=/panic":       1,
		"method=DELETE,route=unmatched": 1,
	}
	if len(latency) != len(wantLatency) {
		t.Errorf("yoyaku_http_request_duration_seconds series:\n got %v\nwant %v", latency, wantLatency)
	}
	for k, v := range wantLatency {
		if latency[k] != v {
			t.Errorf("yoyaku_http_request_duration_seconds{%s} count = %v, want %v", k, latency[k], v)
		}
	}
	for k := range requests {
		if strings.Contains(k, "/random/") || strings.Contains(k, "/things/9") {
			t.Errorf("raw path in a metric label: %s", k)
		}
	}
}

func generatedIDFor(i int) string { return strconv.Itoa(i) + "-" + httpx.NewRequestID() }

func TestNewRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := httpx.New(httpx.Options{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	// A second engine on the same registry is a wiring mistake; it must be
	// reported, not panic.
	if _, err := httpx.New(httpx.Options{Registerer: reg}); err == nil {
		t.Error("second registration on one registry: want an error")
	}
}

// slowServer serves h's engine plus a /slow route through httpx.Serve on a
// kernel-chosen loopback port.
type slowServer struct {
	addr    string
	started chan struct{}
	release func() // lets /slow finish; idempotent
	cancel  context.CancelFunc
	done    chan error // Serve's result
}

const slowBodySize = 256 << 10

func startSlowServer(t *testing.T, drain time.Duration) *slowServer {
	t.Helper()
	h := newHarness(t)
	release := make(chan struct{})
	var once sync.Once
	s := &slowServer{
		started: make(chan struct{}, 1),
		release: func() { once.Do(func() { close(release) }) },
		done:    make(chan error, 1),
	}
	h.engine.GET("/slow", func(c *gin.Context) {
		s.started <- struct{}{}
		select {
		case <-release:
		case <-time.After(2 * time.Second):
		}
		c.Data(http.StatusOK, "text/plain", bytes.Repeat([]byte("z"), slowBodySize))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- httpx.Serve(ctx, httpx.Server(s.addr, h.engine), ln, drain, h.logger) }()
	t.Cleanup(func() {
		cancel()
		s.release()
	})
	return s
}

type result struct {
	status int
	body   []byte
	err    error
}

func (s *slowServer) request() <-chan result {
	out := make(chan result, 1)
	go func() {
		client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
		resp, err := client.Get("http://" + s.addr + "/slow")
		if err != nil {
			out <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		out <- result{status: resp.StatusCode, body: body, err: err}
	}()
	return out
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	s := startSlowServer(t, 5*time.Second)
	inflight := s.request()
	waitFor(t, s.started, "the handler to start")

	s.cancel()

	// New connections are refused soon after. (A dial racing the close
	// of the listener may instead be reset; keep polling until refused.)
	deadline := time.Now().Add(2 * time.Second)
	var dialErr error
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			_ = conn.Close()
		}
		dialErr = err
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !errors.Is(dialErr, syscall.ECONNREFUSED) {
		t.Fatalf("new connections not refused 2s after shutdown began; last dial: %v", dialErr)
	}

	// Serve has not returned: a request is still in flight.
	select {
	case err := <-s.done:
		t.Fatalf("Serve returned %v before the in-flight request finished", err)
	default:
	}

	s.release()
	r := waitFor(t, inflight, "the in-flight response")
	if r.err != nil {
		t.Fatalf("in-flight request failed: %v", r.err)
	}
	if r.status != http.StatusOK {
		t.Fatalf("in-flight status %d, want 200", r.status)
	}
	if len(r.body) != slowBodySize || !bytes.Equal(r.body, bytes.Repeat([]byte("z"), slowBodySize)) {
		t.Fatalf("in-flight body is %d bytes, want the full %d", len(r.body), slowBodySize)
	}
	if err := waitFor(t, s.done, "Serve to return"); err != nil {
		t.Fatalf("Serve returned %v, want nil", err)
	}
}

func TestServeDrainTimeout(t *testing.T) {
	s := startSlowServer(t, 200*time.Millisecond)
	inflight := s.request()
	waitFor(t, s.started, "the handler to start")

	start := time.Now()
	s.cancel()
	err := waitFor(t, s.done, "Serve to give up draining")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve returned %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 1500*time.Millisecond {
		t.Errorf("Serve took %v to give up with a 200ms drain", elapsed)
	}
	// The stuck request's connection was closed; it does not get a 200.
	s.release()
	if r := waitFor(t, inflight, "the stuck request to end"); r.err == nil && r.status == http.StatusOK && len(r.body) == slowBodySize {
		t.Error("the stuck request completed after Serve gave up")
	}
}

func TestServeReturnsListenerError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
	err = httpx.Serve(context.Background(), httpx.Server(ln.Addr().String(), http.NotFoundHandler()), ln, time.Second, slog.New(slog.DiscardHandler))
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve on a closed listener returned %v, want the accept error", err)
	}
}
