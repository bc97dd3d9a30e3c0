package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// startStripeMock runs stripe-mock on a free loopback port for the test and
// returns its base URL. The binary comes from $STRIPE_MOCK, PATH, or the
// repository's bin/, else it is built there from the version pinned in
// tools/go.mod; when that fails the test is skipped outside CI and fails in CI.
func startStripeMock(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("STRIPE_MOCK")
	if bin == "" {
		if p, err := exec.LookPath("stripe-mock"); err == nil {
			bin = p
		} else if p, _ := filepath.Abs("../../bin/stripe-mock"); fileExists(p) {
			bin = p
		}
	}
	if bin == "" {
		out, _ := filepath.Abs("../../bin/stripe-mock")
		tmp := out + ".tmp" + strconv.Itoa(os.Getpid())
		build := exec.Command("go", "build", "-o", tmp, "github.com/stripe/stripe-mock")
		build.Dir = "../../tools"
		if msg, err := build.CombinedOutput(); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("stripe-mock not found and not buildable from tools/: %v\n%s", err, msg)
			}
			t.Skipf("stripe-mock not found and not buildable from tools/ (make stripe-mock): %v", err)
		}
		if err := os.Rename(tmp, out); err != nil {
			t.Fatal(err)
		}
		bin = out
	}
	for attempt := 0; attempt < 3; attempt++ {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "-http-addr", addr)
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting stripe-mock: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		base := "http://" + addr
		if waitReady(base, done) {
			t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
			return base
		}
		_ = cmd.Process.Kill()
		<-done
	}
	t.Fatal("stripe-mock did not start")
	return ""
}

func fileExists(p string) bool { st, err := os.Stat(p); return err == nil && !st.IsDir() }

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitReady(base string, done <-chan struct{}) bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return false
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/payment_intents/pi_ready", nil)
		req.Header.Set("Authorization", "Bearer sk_test_123")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// recorded is one request the plugin sent to Stripe.
type recorded struct {
	Method, Path, IdempotencyKey string
	Form                         url.Values
}

// recorder is a reverse proxy in front of stripe-mock that remembers what
// the plugin sent (stripe-mock itself keeps nothing) and, as Stripe does,
// answers a repeated Idempotency-Key with the first response (stripe-mock
// makes a new id every time).
type recorder struct {
	URL     string
	mu      sync.Mutex
	reqs    []recorded
	replays map[string]replay
}

type replay struct {
	status int
	header http.Header
	body   []byte
}

func newRecorder(t *testing.T, upstream string) *recorder {
	u, _ := url.Parse(upstream)
	r := &recorder{replays: make(map[string]replay)}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		key := req.Header.Get("Idempotency-Key")
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{Method: req.Method, Path: req.URL.Path, IdempotencyKey: key, Form: form})
		prev, seen := r.replays[req.Method+" "+req.URL.Path+" "+key]
		r.mu.Unlock()
		if key == "" || req.Method != http.MethodPost {
			proxy.ServeHTTP(w, req)
			return
		}
		if seen {
			for k, v := range prev.header {
				w.Header()[k] = v
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(prev.status)
			_, _ = w.Write(prev.body)
			return
		}
		rw := httptest.NewRecorder()
		proxy.ServeHTTP(rw, req)
		res := replay{status: rw.Code, header: rw.Header().Clone(), body: rw.Body.Bytes()}
		r.mu.Lock()
		r.replays[req.Method+" "+req.URL.Path+" "+key] = res
		r.mu.Unlock()
		for k, v := range res.header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.status)
		_, _ = w.Write(res.body)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *recorder) last(method, path string) (recorded, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.reqs) - 1; i >= 0; i-- {
		if r.reqs[i].Method == method && r.reqs[i].Path == path {
			return r.reqs[i], nil
		}
	}
	return recorded{}, errors.New("no such request")
}
