package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The operator API's creations are safe to retry: the same key and body
// give the first answer and create one tenant.
func TestOperatorCreateIsIdempotent(t *testing.T) {
	h := openAPIEngine(t)
	post := func(key, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/platform/tenants", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+openAPIToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	body := `{"slug":"retry-shop","name":"Retry Shop"}`
	first := post("k-1", body)
	if first.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	again := post("k-1", body)
	if again.Code != http.StatusCreated || again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s", again.Code, again.Body)
	}
	// Without the key, the same body is a second creation: 409.
	req := httptest.NewRequest("POST", "/api/v1/platform/tenants", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+openAPIToken)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusConflict {
		t.Fatalf("without key: %d %s", w.Code, w.Body)
	}
	other := post("k-1", `{"slug":"other-shop","name":"Other"}`)
	var p struct{ Code string }
	_ = json.Unmarshal(other.Body.Bytes(), &p)
	if other.Code != http.StatusUnprocessableEntity || p.Code != "idempotency_key_reused" {
		t.Fatalf("same key, other body: %d %s", other.Code, other.Body)
	}
	// The key belongs to the authenticated operator only: without the
	// token, nothing is replayed.
	req = httptest.NewRequest("POST", "/api/v1/platform/tenants", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "k-1")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("replay without token: %d", w.Code)
	}
}
