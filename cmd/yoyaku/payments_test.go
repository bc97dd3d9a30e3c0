package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/integrations"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// The payments plugin end to end: the real plugins/stripe binary run by the
// host, stripe-mock behind a recording proxy, the app's HTTP surface.
func TestPaymentsWithTheStripePlugin(t *testing.T) {
	dir := stripePluginDir(t)
	mock := smRecorder(t, smStart(t))
	const whsec = "whsec_e2e_secret"

	loc := dbtest.NewLocation(t, dbx.SQLite)
	a := appWith(t, loc, map[string]string{"plugin-dir": dir, "rate-public-address-write": "off", "rate-public-address-read": "off",
		"rate-public-tenant-write": "off", "rate-public-tenant-read": "off"})
	// A short payment window, so the test sees an unpaid seat released.
	const window = 3 * time.Second
	a.reservations = reservations.NewService(reservations.Config{Logger: a.log, Menus: a.menus, Slots: a.slots,
		Events: a.subs, Notify: a.notifyOutbox, Payments: a.paymentGateway(), PaymentWindow: window})
	s := newAPIServer(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	wait := a.runPlugins(ctx)
	t.Cleanup(func() { cancel(); wait() })
	x := s.tenant(tenants.CreateParams{Slug: "yoga-pay", Name: "ヨガ決済", TimeZone: "Asia/Tokyo", Options: []string{"api", "audit_log"}})
	admin, owner := x.key("admin"), x.key("owner")
	pub := "/api/v1/public/yoga-pay"
	deliver := func() {
		t.Helper()
		if _, err := a.outbox.RunOnce(ctx, outbox.Tenant{ID: x.tn.ID, Slug: x.tn.Slug, Placement: x.tn.DB}); err != nil {
			t.Fatal(err)
		}
	}

	stripe := func() integrations.StatusJSON {
		t.Helper()
		code, body := s.call(http.MethodGet, "/api/v1/platform/plugins", "operator-token-0123456789", "")
		if code != http.StatusOK {
			t.Fatalf("operator list: %d %s", code, body)
		}
		var out struct{ Plugins []integrations.StatusJSON }
		_ = json.Unmarshal([]byte(body), &out)
		for _, p := range out.Plugins {
			if p.ID == "stripe" {
				return p
			}
		}
		t.Fatalf("no stripe plugin: %s", body)
		return integrations.StatusJSON{}
	}
	waitState := func(want func(integrations.StatusJSON) bool) integrations.StatusJSON {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			p := stripe()
			if want(p) {
				return p
			}
			if time.Now().After(deadline) {
				t.Fatalf("stripe plugin is %s (%s)", p.State, p.LastError)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	running := waitState(func(p integrations.StatusJSON) bool { return p.State == integrations.StateRunning })

	// The tenant enables the plugin through the tenant API.
	settings := fmt.Sprintf(`{"settings": {"secret_key": "sk_test_123", "webhook_secret": %q, "api_base": %q}}`, whsec, mock.URL)
	if code, b := x.call(http.MethodPut, "/api/v1/plugins/stripe", owner, settings); code != http.StatusOK {
		t.Fatalf("enabling stripe: %d %s", code, b)
	}

	// A prepaid menu (24 h before: 50 % kept) and a free one, a session each.
	prepaid := idOf(x.must(201, "POST", "/api/v1/menus", admin, `{"name":"朝ヨガ","duration_minutes":60,"capacity":4,
		"booking_mode":"timetable","price":3000,"visibility":"public"}`))
	free := idOf(x.must(201, "POST", "/api/v1/menus", admin, `{"name":"夜ヨガ","duration_minutes":60,"capacity":20,
		"booking_mode":"timetable","price":2000,"visibility":"public"}`))
	if code, b := x.call(http.MethodPut, "/api/v1/menus/"+prepaid+"/payment-policy", admin,
		`{"prepayment_required": true, "cancellation_fees": [{"hours_before": 24, "percent": 50}, {"hours_before": 1, "percent": 100}]}`); code != http.StatusOK {
		t.Fatalf("payment policy: %d %s", code, b)
	}
	if code, b := x.call(http.MethodGet, "/api/v1/audit?action=menu.payment_policy", admin, ""); code != http.StatusOK || !strings.Contains(b, prepaid) {
		t.Errorf("payment policy not audited: %d %s", code, b)
	}
	zone := tokyoZone(t)
	soon := time.Now().In(zone).Add(6 * time.Hour).Truncate(time.Hour) // a cancellation now is late: 50 %
	session := func(menu string, at time.Time) string {
		t.Helper()
		out := x.must(201, "POST", "/api/v1/slots", admin, fmt.Sprintf(`{"menu_id":%q,"starts_at":%q}`, menu, at.Format("2006-01-02T15:04")))
		slots, _ := out["slots"].([]any)
		if len(slots) != 1 {
			t.Fatalf("slots: %v", out)
		}
		return idOf(slots[0].(map[string]any))
	}
	paidSlot, freeSlot := session(prepaid, soon), session(free, soon)
	booked := func(slot string) int {
		t.Helper()
		out := x.must(200, "GET", "/api/v1/slots/"+slot, admin, "")
		n, _ := out["booked"].(float64)
		return int(n)
	}
	book := func(menu, slot string, i int) (int, map[string]any) {
		t.Helper()
		return x.callJSON("POST", pub+"/reservations", "", fmt.Sprintf(`{"menu_id":%q,"slot_id":%q,"party_size":2,
			"customer":{"name":"客 %d","email":"guest%d@example.jp"}}`, menu, slot, i, i))
	}
	get := func(id string) map[string]any {
		t.Helper()
		return x.must(200, "GET", "/api/v1/reservations/"+id, admin, "")
	}

	// A prepaid booking: pending, its PaymentIntent made for 6000 yen with
	// the reservation's key.
	code, r1 := book(prepaid, paidSlot, 1)
	if code != 201 || r1["status"] != "pending" {
		t.Fatalf("prepaid booking: %d %v", code, r1)
	}
	pay, _ := r1["payment"].(map[string]any)
	pid, _ := pay["id"].(string)
	if pid == "" || pay["client_secret"] == "" || pay["expires_at"] == "" {
		t.Fatalf("prepaid booking's payment: %v", pay)
	}
	id1 := idOf(r1)
	created, err := mock.last(http.MethodPost, "/v1/payment_intents")
	if err != nil {
		t.Fatal(err)
	}
	if created.IdempotencyKey != id1+":create" || created.Form.Get("amount") != "6000" || created.Form.Get("currency") != "jpy" {
		t.Errorf("PaymentIntent sent with key %q amount %q currency %q, want %q 6000 jpy", created.IdempotencyKey,
			created.Form.Get("amount"), created.Form.Get("currency"), id1+":create")
	}
	if n := booked(paidSlot); n != 2 {
		t.Errorf("a pending prepaid booking holds %d seats, want 2", n)
	}

	// Webhooks: forged and stale ones are refused and change nothing; a
	// signed one confirms; its replay changes nothing more.
	event := []byte(fmt.Sprintf(`{"id":"evt_e2e_1","object":"event","type":"payment_intent.succeeded","created":%d,
		"data":{"object":{"id":%q,"object":"payment_intent","amount":6000,"amount_received":6000,"currency":"jpy","status":"succeeded",
		"metadata":{"reservation_id":%q}}}}`, time.Now().Unix(), pid, id1))
	hookURL := "/api/v1/webhooks/plugins/stripe/yoga-pay"
	send := func(body []byte, secret string, at time.Time) (int, string) {
		t.Helper()
		p := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at})
		w := s.serve(http.MethodPost, hookURL, "", string(body), "Stripe-Signature", p.Header)
		return w.Code, w.Body.String()
	}
	if code, b := send(event, "whsec_forged", time.Now()); code != 400 || !strings.Contains(b, "webhook_rejected") {
		t.Errorf("forged webhook: %d %s", code, b)
	}
	if code, b := send(event, whsec, time.Now().Add(-time.Hour)); code != 400 || !strings.Contains(b, "webhook_rejected") {
		t.Errorf("stale webhook: %d %s", code, b)
	}
	if code, b := s.call(http.MethodPost, hookURL, "", string(event)); code != 400 || !strings.Contains(b, "webhook_rejected") {
		t.Errorf("unsigned webhook: %d %s", code, b)
	}
	if r := get(id1); r["status"] != "pending" || r["version"] != float64(1) {
		t.Fatalf("refused webhooks changed the reservation: %v %v", r["status"], r["version"])
	}
	for i := range 2 {
		if code, b := send(event, whsec, time.Now()); code != 200 {
			t.Fatalf("signed webhook #%d: %d %s", i+1, code, b)
		}
	}
	if r := get(id1); r["status"] != "confirmed" || r["version"] != float64(2) {
		t.Fatalf("after the webhook and its replay: %v v%v, want confirmed v2", r["status"], r["version"])
	}

	// A late cancellation (6 h before; 50 % kept): 3000 yen refunded, once,
	// by the outbox with the reservation's refund key.
	x.must(200, "POST", "/api/v1/reservations/"+id1+"/cancel", admin, `{"reason":"体調不良"}`)
	deliver()
	deliver()
	refunds := mock.all(http.MethodPost, "/v1/refunds")
	if len(refunds) != 1 {
		t.Fatalf("%d refund requests, want 1: %+v", len(refunds), refunds)
	}
	if rf := refunds[0]; rf.IdempotencyKey != id1+":refund" || rf.Form.Get("amount") != "3000" || rf.Form.Get("payment_intent") != pid {
		t.Errorf("refund sent with key %q amount %q payment_intent %q, want %q 3000 %q", rf.IdempotencyKey, rf.Form.Get("amount"),
			rf.Form.Get("payment_intent"), id1+":refund", pid)
	}
	x.inDB(func(db bun.IDB) error {
		st, refunded, err := a.reservations.PaymentState(ctx, db, id1)
		if st != reservations.PaymentRefunded || refunded != 3000 {
			t.Errorf("payment after the refund: %s %d, want refunded 3000", st, refunded)
		}
		return err
	})
	if n := booked(paidSlot); n != 0 {
		t.Errorf("%d seats held after the cancel, want 0", n)
	}

	// The plugin is killed: prepaid bookings answer 503 and hold no seat,
	// the others keep working.
	if err := syscall.Kill(running.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitState(func(p integrations.StatusJSON) bool { return p.State != integrations.StateRunning })
	if code, b := book(prepaid, paidSlot, 2); code != 503 || b["code"] != "payment_unavailable" {
		t.Errorf("prepaid booking while the plugin is down: %d %v, want 503 payment_unavailable", code, b)
	}
	if n := booked(paidSlot); n != 0 {
		t.Errorf("a refused prepaid booking holds %d seats, want 0", n)
	}
	if code, b := book(free, freeSlot, 3); code != 201 || b["status"] != "confirmed" {
		t.Errorf("booking a free menu while the plugin is down: %d %v", code, b)
	}

	// Restarted by the host: prepaid bookings work again.
	waitState(func(p integrations.StatusJSON) bool {
		return p.State == integrations.StateRunning && p.PID != running.PID
	})
	code, r4 := book(prepaid, paidSlot, 4)
	if code != 201 || r4["status"] != "pending" || r4["payment"] == nil {
		t.Fatalf("prepaid booking after the restart: %d %v", code, r4)
	}
	id4 := idOf(r4)
	pid4, _ := r4["payment"].(map[string]any)["id"].(string)

	// Never paid: when its time is up the seat is released and the payment
	// cancelled; no reservation stays pending with a seat.
	time.Sleep(window + 500*time.Millisecond)
	deliver()
	if r := get(id4); r["status"] != "cancelled" {
		t.Errorf("an unpaid booking past its window is %v, want cancelled", r["status"])
	}
	if n := booked(paidSlot); n != 0 {
		t.Errorf("%d seats held after the window, want 0", n)
	}
	if c, err := mock.last(http.MethodPost, "/v1/payment_intents/"+pid4+"/cancel"); err != nil || c.IdempotencyKey != id4+":cancel" {
		t.Errorf("payment cancel: %+v %v, want key %q", c, err, id4+":cancel")
	}
	list := x.must(200, "GET", "/api/v1/reservations?status=pending", admin, "")
	if items, _ := list["items"].([]any); len(items) != 0 {
		t.Errorf("pending reservations left: %v", items)
	}
}

// stripePluginDir builds plugins/stripe into a fresh plugin directory with
// its plugin.json and the binary's sha256.
func stripePluginDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "stripe")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "stripe")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = "../../plugins/stripe"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the stripe plugin: %v\n%s", err, out)
	}
	src, err := os.ReadFile("../../plugins/stripe/plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := manifest.FileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(src, &m); err != nil {
		t.Fatal(err)
	}
	m["sha256"] = sum
	out, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(dir)
}

// smStart runs stripe-mock on a free loopback port and returns its base
// URL (a copy of plugins/stripe's test harness, which the main module may
// not import). The binary comes from $STRIPE_MOCK, PATH or bin/, else it is
// built there from tools/go.mod; when that fails the test is skipped
// outside CI.
func smStart(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("STRIPE_MOCK")
	if bin == "" {
		if p, err := exec.LookPath("stripe-mock"); err == nil {
			bin = p
		} else if p, _ := filepath.Abs("../../bin/stripe-mock"); smFileExists(p) {
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
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		cmd := exec.Command(bin, "-http-addr", addr)
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting stripe-mock: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		base := "http://" + addr
		if smReady(base, done) {
			t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
			return base
		}
		_ = cmd.Process.Kill()
		<-done
	}
	t.Fatal("stripe-mock did not start")
	return ""
}

func smFileExists(p string) bool { st, err := os.Stat(p); return err == nil && !st.IsDir() }

func smReady(base string, done <-chan struct{}) bool {
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

// smRequest is one request the plugin sent to Stripe.
type smRequest struct {
	Method, Path, IdempotencyKey string
	Form                         url.Values
}

// smProxy is a reverse proxy in front of stripe-mock that remembers what
// the plugin sent and, as Stripe does, answers a repeated Idempotency-Key
// with the first response.
type smProxy struct {
	URL     string
	mu      sync.Mutex
	reqs    []smRequest
	replays map[string]smReplay
}

type smReplay struct {
	status int
	header http.Header
	body   []byte
}

func smRecorder(t *testing.T, upstream string) *smProxy {
	u, _ := url.Parse(upstream)
	r := &smProxy{replays: make(map[string]smReplay)}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		key := req.Header.Get("Idempotency-Key")
		r.mu.Lock()
		r.reqs = append(r.reqs, smRequest{Method: req.Method, Path: req.URL.Path, IdempotencyKey: key, Form: form})
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
		res := smReplay{status: rw.Code, header: rw.Header().Clone(), body: rw.Body.Bytes()}
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

func (r *smProxy) all(method, path string) []smRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []smRequest
	for _, q := range r.reqs {
		if q.Method == method && q.Path == path {
			out = append(out, q)
		}
	}
	return out
}

func (r *smProxy) last(method, path string) (smRequest, error) {
	all := r.all(method, path)
	if len(all) == 0 {
		return smRequest{}, fmt.Errorf("no %s %s was sent", method, path)
	}
	return all[len(all)-1], nil
}
