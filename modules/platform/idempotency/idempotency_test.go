package idempotency_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/idempotency"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type server struct {
	h     http.Handler
	calls atomic.Int64
	fail  atomic.Bool   // answer 500
	gate  chan struct{} // requests with X-Block wait on it
	began chan struct{} // receives when a blocking request's handler starts
	mu    sync.Mutex
	clock time.Time // zero: the real time
}

func (s *server) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clock.IsZero() {
		return time.Now()
	}
	return s.clock
}

func (s *server) setNow(t time.Time) {
	s.mu.Lock()
	s.clock = t
	s.mu.Unlock()
}

func newServer(t *testing.T, db *bun.DB) *server {
	t.Helper()
	if _, err := dbx.Migrate(context.Background(), db, migrations.Control(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
	s := &server{gate: make(chan struct{}), began: make(chan struct{}, 64)}
	r, err := httpx.New(httpx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mw := idempotency.Middleware(idempotency.Config{
		DB:    func(*gin.Context) (bun.IDB, error) { return db, nil },
		Scope: func(c *gin.Context) string { return c.GetHeader("X-Client") },
		Now:   func() time.Time { return s.now() },
	})
	r.POST("/things", mw, func(c *gin.Context) {
		n := s.calls.Add(1)
		if c.GetHeader("X-Block") != "" {
			s.began <- struct{}{}
			<-s.gate
		}
		if s.fail.Load() {
			c.JSON(500, gin.H{"error": "boom"})
			return
		}
		c.Header("Location", "/things/1")
		c.JSON(201, gin.H{"call": n})
	})
	s.h = r
	return s
}

func (s *server) post(key, client, body string) *httptest.ResponseRecorder {
	return s.postBlocking(key, client, body, false)
}

func (s *server) postBlocking(key, client, body string, block bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/things", strings.NewReader(body))
	if block {
		req.Header.Set("X-Block", "1")
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(idempotency.Header, key)
	}
	req.Header.Set("X-Client", client)
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	return w
}

func code(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var p struct{ Code string }
	_ = json.Unmarshal(w.Body.Bytes(), &p)
	return p.Code
}

func TestSameKeySameBodyReplays(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		s := newServer(t, db)
		first := s.post("key-1", "alice", `{"a":1}`)
		if first.Code != 201 {
			t.Fatalf("first: %d %s", first.Code, first.Body)
		}
		again := s.post("key-1", "alice", `{"a":1}`)
		if again.Code != 201 || again.Body.String() != first.Body.String() ||
			again.Header().Get("Location") != "/things/1" || again.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %s %v", again.Code, again.Body, again.Header())
		}
		if n := s.calls.Load(); n != 1 {
			t.Fatalf("handler ran %d times, want 1", n)
		}
		if w := s.post("key-1", "alice", `{"a":2}`); w.Code != 422 || code(t, w) != "idempotency_key_reused" {
			t.Fatalf("other body: %d %s", w.Code, w.Body)
		}
		if w := s.post("key-1", "bob", `{"a":2}`); w.Code != 201 {
			t.Fatalf("another client's same key: %d %s", w.Code, w.Body)
		}
		for range 2 {
			if w := s.post("", "alice", `{"a":1}`); w.Code != 201 {
				t.Fatalf("no key: %d", w.Code)
			}
		}
		if n := s.calls.Load(); n != 4 {
			t.Fatalf("handler ran %d times, want 4", n)
		}
	})
}

func TestInvalidKey(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		s := newServer(t, db)
		for _, k := range []string{strings.Repeat("k", 256), "has space", "ключ"} {
			if w := s.post(k, "alice", `{}`); w.Code != 400 {
				t.Errorf("key %q: %d %s", k, w.Code, w.Body)
			}
		}
		if n := s.calls.Load(); n != 0 {
			t.Fatalf("handler ran %d times on refused keys", n)
		}
	})
}

func TestServerErrorsAreNotKept(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		s := newServer(t, db)
		s.fail.Store(true)
		if w := s.post("retry-me", "alice", `{}`); w.Code != 500 {
			t.Fatalf("first: %d", w.Code)
		}
		s.fail.Store(false)
		if w := s.post("retry-me", "alice", `{}`); w.Code != 201 {
			t.Fatalf("retry after a failure: %d %s", w.Code, w.Body)
		}
		if n := s.calls.Load(); n != 2 {
			t.Fatalf("handler ran %d times, want 2", n)
		}
	})
}

// Many identical requests at once: the work happens once; the others get
// the first answer or a 409 telling them to retry.
func TestConcurrentDuplicatesRunOnce(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		s := newServer(t, db)
		const n = 16
		results := make(chan *httptest.ResponseRecorder, n)
		var wg sync.WaitGroup
		wg.Go(func() { results <- s.postBlocking("same", "alice", `{"seat":1}`, true) })
		<-s.began // the first holds the key
		for range n - 1 {
			wg.Go(func() { results <- s.postBlocking("same", "alice", `{"seat":1}`, true) })
		}
		// The duplicates answer while the first still runs.
		inProgress := 0
		for range n - 1 {
			w := <-results
			if w.Code != 409 || code(t, w) != "idempotency_in_progress" || w.Header().Get("Retry-After") == "" {
				t.Errorf("duplicate: %d %s", w.Code, w.Body)
			}
			inProgress++
		}
		close(s.gate)
		wg.Wait()
		if w := <-results; w.Code != 201 {
			t.Fatalf("first: %d %s", w.Code, w.Body)
		}
		if c := s.calls.Load(); c != 1 {
			t.Fatalf("handler ran %d times, want 1", c)
		}
		if w := s.post("same", "alice", `{"seat":1}`); w.Code != 201 || w.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry after: %d %s", w.Code, w.Body)
		}
	})
}

func TestExpiredAndAbandonedKeys(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		s := newServer(t, db)
		start := time.Now()
		s.setNow(start)
		if w := s.post("old", "alice", `{}`); w.Code != 201 {
			t.Fatal(w.Code)
		}
		s.setNow(start.Add(idempotency.TTL + time.Minute))
		if w := s.post("old", "alice", `{"other":true}`); w.Code != 201 {
			t.Fatalf("expired key reused with another body: %d %s", w.Code, w.Body)
		}
		if w := s.post("old", "alice", `{"third":true}`); w.Code != 422 {
			t.Fatalf("the renewed key forgot its body: %d %s", w.Code, w.Body)
		}
		n, err := idempotency.Purge(context.Background(), db, start.Add(2*idempotency.TTL+2*time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("purged %d, %v", n, err)
		}

		// A request whose process died holds its key; after Abandoned a
		// retry with the same body takes it over.
		s.setNow(start)
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() { done <- s.postBlocking("stuck", "alice", `{}`, true) }()
		<-s.began
		if w := s.post("stuck", "alice", `{}`); w.Code != 409 {
			t.Fatalf("a fresh running key: %d, want 409", w.Code)
		}
		s.setNow(start.Add(idempotency.Abandoned + time.Second))
		if w := s.post("stuck", "alice", `{}`); w.Code != 201 {
			t.Fatalf("take over an abandoned key: %d %s", w.Code, w.Body)
		}
		close(s.gate)
		<-done
		if w := s.post("stuck", "alice", `{}`); w.Code != 201 || w.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("after both: %d %v", w.Code, w.Header())
		}
	})
}
