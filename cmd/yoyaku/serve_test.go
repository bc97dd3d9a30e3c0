package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// baseRE finds the base URL in serve's first stdout line.
var baseRE = regexp.MustCompile(`^Yoyaku .* serving on (http://127\.0\.0\.1:\d+) `)

// served reports whether serve has printed its whole banner.
func served(s string) bool { return strings.Contains(s, "\n  health:") }

// baseURL parses the base URL from serve's first stdout line.
func baseURL(t *testing.T, stdout string) string {
	t.Helper()
	first, _, _ := strings.Cut(stdout, "\n")
	m := baseRE.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first stdout line does not tell the address: %q", first)
	}
	return m[1]
}

// serveRun is `yoyaku serve` running in-process.
type serveRun struct {
	base           string
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan struct{}
	code           int // valid once done is closed
}

// startServe runs the command line (a serve) in a goroutine and waits until
// it serves. It is stopped when t ends if the test did not stop it.
func startServe(t *testing.T, getenv func(string) string, args ...string) *serveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serveRun{stdout: newSyncBuffer(), stderr: newSyncBuffer(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.code = run(ctx, args, s.stdout, s.stderr, getenv)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s of its context's end")
		}
	})
	out, ok := s.stdout.waitFor(time.Minute, s.done, served)
	if !ok {
		t.Fatalf("serve did not start\nstdout: %s\nstderr: %s", out, s.stderr)
	}
	s.base = baseURL(t, out)
	return s
}

// stop cancels serve's context, as SIGTERM would, and returns its exit code.
func (s *serveRun) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case <-s.done:
		return s.code
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of its context's end")
		return -1
	}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) contentType() string { return r.header.Get("Content-Type") }

func request(t *testing.T, method, url, token, body string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// tenantList is the operator API's page of tenants.
type tenantList struct {
	Items []tenantOut `json:"items"`
}

func countSlug(ts []tenantOut, slug string) int {
	n := 0
	for _, t := range ts {
		if t.Slug == slug {
			n++
		}
	}
	return n
}

// logRecords parses JSON log lines; a line that is not JSON fails t.
func logRecords(t *testing.T, log string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.Lines(log) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stderr line is not JSON: %q", line)
			continue
		}
		recs = append(recs, rec)
	}
	return recs
}

func TestServe(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		srv := startServe(t, noEnv, append(locFlags(loc), "serve", "--migrate", "--demo", "--addr", "127.0.0.1:0")...)

		// The operator token was generated, kept privately and shown once.
		tokenPath := filepath.Join(loc.DataDir, "operator-token")
		fi, err := os.Stat(tokenPath)
		if err != nil {
			t.Fatalf("operator token not kept: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("operator token file mode %v, want 0600", fi.Mode().Perm())
		}
		raw, err := os.ReadFile(tokenPath)
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimSpace(string(raw))
		if len(token) < 16 {
			t.Fatalf("operator token %q is too short", token)
		}
		if n := strings.Count(srv.stdout.String(), token); n != 1 {
			t.Errorf("operator token printed %d times, want once:\n%s", n, srv.stdout)
		}

		base := srv.base
		isJSON := func(r response) bool { return strings.HasPrefix(r.contentType(), "application/json") }
		isProblem := func(code string) func(t *testing.T, r response) {
			return func(t *testing.T, r response) {
				if !strings.HasPrefix(r.contentType(), "application/problem+json") {
					t.Errorf("Content-Type %q, want application/problem+json", r.contentType())
				}
				var p struct {
					Code   string `json:"code"`
					Status int    `json:"status"`
				}
				if err := json.Unmarshal([]byte(r.body), &p); err != nil || p.Code != code || p.Status != r.status {
					t.Errorf("problem %s, want code %q and status %d", r.body, code, r.status)
				}
			}
		}
		isHTML := func(contains ...string) func(t *testing.T, r response) {
			return func(t *testing.T, r response) {
				if !strings.HasPrefix(r.contentType(), "text/html") {
					t.Errorf("Content-Type %q, want text/html", r.contentType())
				}
				for _, c := range contains {
					if !strings.Contains(r.body, c) {
						t.Errorf("page does not contain %q:\n%s", c, r.body)
					}
				}
			}
		}
		isPublic := func(name, tz string) func(t *testing.T, r response) {
			return func(t *testing.T, r response) {
				if !isJSON(r) {
					t.Errorf("Content-Type %q, want JSON", r.contentType())
				}
				got := decode[map[string]any](t, r.body)
				if got["slug"] != "shop-two" || got["name"] != name || got["time_zone"] != tz {
					t.Errorf("public info %s, want shop-two, %q, %q", r.body, name, tz)
				}
			}
		}
		hasStatus := func(status string) func(t *testing.T, r response) {
			return func(t *testing.T, r response) {
				if got := decode[tenantOut](t, r.body); got.Slug != "shop-two" || got.Status != status {
					t.Errorf("tenant %s, want shop-two %s", r.body, status)
				}
			}
		}
		// The steps run in order against one server.
		steps := []struct {
			name, method, path, token, body string
			wantStatus                      int
			check                           func(t *testing.T, r response)
		}{
			{"healthz", "GET", "/healthz", "", "", 200, func(t *testing.T, r response) {
				if !isJSON(r) || strings.TrimSpace(r.body) != `{"status":"ok"}` {
					t.Errorf("healthz: %s %s", r.contentType(), r.body)
				}
			}},
			{"readyz", "GET", "/readyz", "", "", 200, nil},
			{"metrics", "GET", "/metrics", "", "", 200, func(t *testing.T, r response) {
				for _, m := range []string{"yoyaku_http_requests_total", "go_goroutines", "yoyaku_tenant_db_open"} {
					if !strings.Contains(r.body, "\n"+m) {
						t.Errorf("metrics lack %s", m)
					}
				}
			}},
			{"operator API without token", "GET", "/api/v1/platform/tenants", "", "", 401, isProblem("unauthorized")},
			{"operator API with a wrong token", "GET", "/api/v1/platform/tenants", token + "x", "", 401, isProblem("unauthorized")},
			{"operator API lists demo", "GET", "/api/v1/platform/tenants", token, "", 200, func(t *testing.T, r response) {
				if got := decode[tenantList](t, r.body); countSlug(got.Items, "demo") != 1 {
					t.Errorf("tenants %s, want demo", r.body)
				}
			}},
			{"create a tenant", "POST", "/api/v1/platform/tenants", token,
				`{"slug":"shop-two","name":"Shop Two","time_zone":"Europe/Paris","locale":"en","contact_emails":["owner@example.jp"]}`,
				201, func(t *testing.T, r response) {
					got := decode[tenantOut](t, r.body)
					if got.Slug != "shop-two" || got.Status != "active" || got.TimeZone != "Europe/Paris" || got.Locale != "en" {
						t.Errorf("created %s", r.body)
					}
				}},
			{"create it again", "POST", "/api/v1/platform/tenants", token, `{"slug":"shop-two","name":"Other"}`, 409, isProblem("slug_taken")},
			{"public info", "GET", "/api/v1/public/shop-two", "", "", 200, isPublic("Shop Two", "Europe/Paris")},
			{"public info of a missing tenant", "GET", "/api/v1/public/nope-nope", "", "", 404, isProblem("tenant_not_found")},
			{"demo booking site", "GET", "/t/demo/", "", "", 200, isHTML("Yoyaku デモ店")},
			{"suspend", "PATCH", "/api/v1/platform/tenants/shop-two", token, `{"status":"suspended"}`, 200, hasStatus("suspended")},
			{"public info while suspended", "GET", "/api/v1/public/shop-two", "", "", 403, isProblem("tenant_suspended")},
			{"booking site while suspended", "GET", "/t/shop-two/", "", "", 403, isHTML("ただいまご利用いただけません", "Shop Two")},
			{"demo unaffected", "GET", "/t/demo/", "", "", 200, isHTML("Yoyaku デモ店")},
			{"resume", "PATCH", "/api/v1/platform/tenants/shop-two", token, `{"status":"active"}`, 200, hasStatus("active")},
			{"public info when resumed", "GET", "/api/v1/public/shop-two", "", "", 200, isPublic("Shop Two", "Europe/Paris")},
			{"booking site when resumed", "GET", "/t/shop-two/", "", "", 200, isHTML("Shop Two")},
		}
		for _, s := range steps {
			r := request(t, s.method, base+s.path, s.token, s.body)
			if r.status != s.wantStatus {
				t.Fatalf("%s: %s %s = %d, want %d\n%s", s.name, s.method, s.path, r.status, s.wantStatus, r.body)
			}
			if s.check != nil {
				t.Run(strings.ReplaceAll(s.name, " ", "_"), func(t *testing.T) { s.check(t, r) })
			}
		}

		if code := srv.stop(t); code != 0 {
			t.Fatalf("serve exited %d after its context ended, want 0\nstderr: %s", code, srv.stderr)
		}
		stopped := false
		for _, rec := range logRecords(t, srv.stderr.String()) {
			stopped = stopped || rec["msg"] == "stopped"
		}
		if !stopped {
			t.Errorf("no \"stopped\" record in the log:\n%s", srv.stderr)
		}

		// Again, without --migrate: the demo tenant and the token are kept.
		again := startServe(t, noEnv, append(locFlags(loc), "serve", "--demo", "--addr", "127.0.0.1:0")...)
		out := again.stdout.String()
		if strings.Contains(out, token) {
			t.Errorf("second start printed the operator token again:\n%s", out)
		}
		if !strings.Contains(out, "operator token:") || !strings.Contains(out, tokenPath) {
			t.Errorf("second start does not say where the operator token is:\n%s", out)
		}
		r := request(t, "GET", again.base+"/api/v1/platform/tenants", token, "")
		if r.status != 200 {
			t.Fatalf("list tenants: %d %s", r.status, r.body)
		}
		got := decode[tenantList](t, r.body)
		if countSlug(got.Items, "demo") != 1 || countSlug(got.Items, "shop-two") != 1 || len(got.Items) != 2 {
			t.Errorf("tenants after the second start: %s, want demo and shop-two once each", r.body)
		}
		if code := again.stop(t); code != 0 {
			t.Errorf("second serve exited %d, want 0\nstderr: %s", code, again.stderr)
		}
	})
}

// An operator token from the environment is used and never printed nor
// written to the data dir.
func TestServeOperatorTokenFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	const token = "env-token-0123456789abcdef"
	srv := startServe(t, envOf(map[string]string{"YOYAKU_OPERATOR_TOKEN": token}),
		"--data-dir", dir, "--log-format", "json", "serve", "--addr", "127.0.0.1:0")
	if out := srv.stdout.String(); strings.Contains(out, token) || !strings.Contains(out, "from YOYAKU_OPERATOR_TOKEN") {
		t.Errorf("banner:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "operator-token")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("operator-token file written although the token came from the environment (%v)", err)
	}
	if r := request(t, "GET", srv.base+"/api/v1/platform/tenants", token, ""); r.status != 200 {
		t.Errorf("with the environment's token: %d %s", r.status, r.body)
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("serve exited %d\nstderr: %s", code, srv.stderr)
	}
}
