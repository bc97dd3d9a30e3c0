package notify_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/notify"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
)

// TestMain is the package's only one. MariaDB is set up (and torn down) by
// dbtest.Main; mailpit is started on first use by mailtest.Shared and dies
// with the test binary (Pdeathsig), since dbtest.Main ends in os.Exit.
func TestMain(m *testing.M) { dbtest.Main(m) }

const (
	fromAddr  = "no-reply@example.jp"
	idHost    = "yoyaku.example.jp" // "yoyaku." + the domain of fromAddr
	setupURL  = "https://yoyaku.example.jp/t/salon-hanami/admin/setup?token=abc123"
	tenantJa  = "サロン花見"
	waitLimit = 30 * time.Second
)

var testNow = time.Date(2026, 11, 27, 3, 4, 5, 0, time.UTC)

// env is one engine's fixture: a migrated tenant database, a service that
// sends to mailpit, and a tenant.
type env struct {
	t      *testing.T
	db     *bun.DB
	svc    *notify.Service
	mp     *mailtest.Mailpit
	api    *mailtest.Client
	ctx    context.Context
	tenant notify.TenantInfo
}

func newEnv(t *testing.T, db *bun.DB, mp *mailtest.Mailpit, mods ...func(*notify.Config)) *env {
	t.Helper()
	if _, err := dbx.Migrate(context.Background(), db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
	cfg := notify.Config{From: fromAddr, Now: func() time.Time { return testNow }}
	if mp != nil {
		smtp, err := notify.ParseSMTPURL(mp.SMTPURL())
		if err != nil {
			t.Fatal(err)
		}
		cfg.SMTP = smtp
	}
	for _, m := range mods {
		m(&cfg)
	}
	svc, err := notify.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t: t, db: db, svc: svc, mp: mp,
		ctx: auditlog.WithRequest(context.Background(), auditlog.Request{
			Actor: auditlog.Actor{Kind: auditlog.ActorStaff, ID: "s1", Name: "owner@example.jp", Role: "owner"}, RequestID: "req-test",
		}),
		tenant: notify.TenantInfo{ID: "t1", Slug: "salon-hanami", Name: tenantJa, Locale: "ja", TimeZone: "Asia/Tokyo"},
	}
	if mp != nil {
		e.api = mp.Client()
	}
	return e
}

// unique returns a fresh address, so that tests sharing one mailpit tell
// their messages apart.
func unique(prefix string) string { return prefix + "-" + randHex() + "@example.com" }

func randHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newEventID() string { return "evt" + randHex() }

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) deliver(eventID, typ string, payload any) error {
	e.t.Helper()
	return e.svc.Deliver(e.ctx, e.db, e.tenant, eventID, typ, mustJSON(e.t, payload))
}

// waitTo waits for n messages to addr and returns them.
func (e *env) waitTo(addr string, n int) []mailtest.Summary {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	got, err := e.api.WaitTo(ctx, addr, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// settle gives a message that should not arrive the time to do so, then
// returns what did arrive for addr.
func (e *env) settle(addr string) []mailtest.Summary {
	e.t.Helper()
	time.Sleep(300 * time.Millisecond)
	got, err := e.api.MessagesTo(context.Background(), addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func (e *env) message(id string) (mailtest.Message, string) {
	e.t.Helper()
	ctx := context.Background()
	m, err := e.api.Message(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	raw, err := e.api.Raw(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m, string(raw)
}

func (e *env) deliveries(eventID string) []notify.Delivery {
	e.t.Helper()
	got, err := e.svc.Deliveries(e.ctx, e.db, notify.DeliveryFilter{EventID: eventID})
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func (e *env) entries(action string) []auditlog.Entry {
	e.t.Helper()
	got, err := auditlog.Search(e.ctx, e.db, auditlog.Filter{Action: action, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// rawHeaders returns the header section of a raw message, unfolded, as
// lines "Name: value".
func rawHeaders(t *testing.T, raw string) []string {
	t.Helper()
	head, _, ok := strings.Cut(strings.ReplaceAll(raw, "\r\n", "\n"), "\n\n")
	if !ok {
		t.Fatalf("no header/body separator in:\n%s", raw)
	}
	var lines []string
	for _, l := range strings.Split(head, "\n") {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(lines) > 0 {
			lines[len(lines)-1] += " " + strings.TrimSpace(l)
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// rawHeader returns the raw (not decoded) values of header name.
func rawHeader(t *testing.T, raw, name string) []string {
	t.Helper()
	var out []string
	for _, l := range rawHeaders(t, raw) {
		k, v, ok := strings.Cut(l, ":")
		if ok && textproto.CanonicalMIMEHeaderKey(k) == textproto.CanonicalMIMEHeaderKey(name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

func wantCode(t *testing.T, err error, code string) *apperr.Error {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("error = %v, want code %q", err, code)
	}
	return ae
}

func wantField(t *testing.T, err error, field, code string) {
	t.Helper()
	ae := wantCode(t, err, "validation")
	for _, f := range ae.Fields {
		if f.Field == field && f.Code == code {
			return
		}
	}
	t.Fatalf("fields %+v, want %s: %s", ae.Fields, field, code)
}

func TestInvitationArrives(t *testing.T) {
	mp := mailtest.Shared(t)
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, mp)
		if _, err := e.svc.UpdateSettings(e.ctx, e.db, notify.SettingsParams{ReplyTo: "front@salon-hanami.jp"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			lang, name, wantSubject, wantGreeting, wantButton string
		}{
			{"ja", "予約 花子", "【サロン花見】スタッフアカウントへの招待", "予約 花子 様", "パスワードを設定する"},
			{"en", "Hanako Yoyaku", "[サロン花見] You are invited to the booking console", "Dear Hanako Yoyaku,", "Set your password"},
		} {
			t.Run(tc.lang, func(t *testing.T) {
				to, id := unique("invitee"), newEventID()
				err := e.deliver(id, notify.EventStaffInvited, notify.StaffInvited{
					Email: to, DisplayName: tc.name, SetupURL: setupURL, Inviter: "山田 太郎",
					ExpiresAt: testNow.Add(72 * time.Hour), Lang: tc.lang,
				})
				if err != nil {
					t.Fatalf("Deliver: %v", err)
				}
				got := e.waitTo(to, 1)
				if len(got) != 1 {
					t.Fatalf("%d messages, want 1", len(got))
				}
				s := got[0]
				if len(s.To) != 1 || s.To[0].Address != to || len(s.Cc)+len(s.Bcc) != 0 {
					t.Errorf("recipients To %v Cc %v Bcc %v, want only %s", s.To, s.Cc, s.Bcc, to)
				}
				if s.MessageID != id+"@"+idHost {
					t.Errorf("Message-ID %q, want %q", s.MessageID, id+"@"+idHost)
				}
				if s.From.Address != fromAddr || s.From.Name != tenantJa {
					t.Errorf("From %+v, want %q <%s>", s.From, tenantJa, fromAddr)
				}
				if len(s.ReplyTo) != 1 || s.ReplyTo[0].Address != "front@salon-hanami.jp" {
					t.Errorf("Reply-To %+v", s.ReplyTo)
				}
				m, raw := e.message(s.ID)

				// The subject: RFC 2047 encoded words on the wire, the
				// Japanese text once decoded.
				subj := rawHeader(t, raw, "Subject")
				if len(subj) != 1 || !strings.HasPrefix(strings.ToUpper(subj[0]), "=?UTF-8?") {
					t.Fatalf("raw Subject %q, want RFC 2047 encoded words", subj)
				}
				dec, err := new(mime.WordDecoder).DecodeHeader(subj[0])
				if err != nil {
					t.Fatal(err)
				}
				if dec != tc.wantSubject || m.Subject != tc.wantSubject {
					t.Errorf("subject decoded %q (mailpit %q), want %q", dec, m.Subject, tc.wantSubject)
				}
				if v := rawHeader(t, raw, "Message-ID"); len(v) != 1 || v[0] != "<"+id+"@"+idHost+">" {
					t.Errorf("raw Message-ID %q", v)
				}
				if v := rawHeader(t, raw, "Auto-Submitted"); len(v) != 1 || v[0] != "auto-generated" {
					t.Errorf("Auto-Submitted %q", v)
				}
				if !strings.Contains(raw, "multipart/alternative") || !strings.Contains(raw, "text/plain; charset=UTF-8") ||
					!strings.Contains(raw, "text/html; charset=UTF-8") {
					t.Errorf("want a multipart/alternative of UTF-8 text and HTML parts:\n%s", raw)
				}

				// The template's content with the variables filled.
				for _, want := range []string{tc.wantGreeting, "山田 太郎", tenantJa, setupURL} {
					if !strings.Contains(m.Text, want) {
						t.Errorf("text part lacks %q:\n%s", want, m.Text)
					}
				}
				if tc.lang == "ja" && !strings.Contains(m.Text, "2026年11月30日(月) 12:04 JST") {
					t.Errorf("text part lacks the expiry in the tenant's zone:\n%s", m.Text)
				}
				if strings.Contains(m.Text, "{{") || strings.Contains(m.HTML, "{{") {
					t.Error("a template action was left unrendered")
				}
				for _, want := range []string{`href="` + setupURL + `"`, tc.wantButton, tc.wantGreeting} {
					if !strings.Contains(m.HTML, want) {
						t.Errorf("HTML part lacks %q:\n%s", want, m.HTML)
					}
				}

				d := e.deliveries(id)
				if len(d) != 1 || d[0].Status != notify.StatusSent || d[0].MessageID != id+"@"+idHost ||
					d[0].Recipient != to || d[0].EventType != notify.EventStaffInvited || d[0].Attempts != 1 || d[0].SentAt.IsZero() || d[0].Lang != tc.lang {
					t.Errorf("deliveries %+v", d)
				}
			})
		}
	})
}

func TestDeliverTwiceSendsOnce(t *testing.T) {
	mp := mailtest.Shared(t)
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, mp)
		to, id := unique("reset"), newEventID()
		p := notify.StaffPasswordReset{Email: to, DisplayName: "花子", ResetURL: setupURL}
		for i := range 3 {
			if err := e.deliver(id, notify.EventStaffPasswordReset, p); err != nil {
				t.Fatalf("Deliver #%d: %v", i+1, err)
			}
		}
		e.waitTo(to, 1)
		if got := e.settle(to); len(got) != 1 {
			t.Fatalf("%d messages after three deliveries of one event, want 1", len(got))
		}
		if d := e.deliveries(id); len(d) != 1 || d[0].Attempts != 1 || d[0].Status != notify.StatusSent {
			t.Errorf("deliveries %+v, want one sent after one attempt", d)
		}
	})
}

// A process that dies after the server took a message but before the
// record says so sends it again on the retry: with the same Message-ID, so
// the receiver can tell it is the same message.
func TestResendAfterLostRecordKeepsMessageID(t *testing.T) {
	mp := mailtest.Shared(t)
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, mp)
		to, id := unique("crash"), newEventID()
		p := notify.StaffInvited{Email: to, SetupURL: setupURL}
		if err := e.deliver(id, notify.EventStaffInvited, p); err != nil {
			t.Fatal(err)
		}
		e.waitTo(to, 1)
		// The crash: the send happened, its record did not.
		if _, err := db.NewDelete().TableExpr("mail_deliveries").Where("event_id = ?", id).Exec(e.ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.deliver(id, notify.EventStaffInvited, p); err != nil {
			t.Fatal(err)
		}
		got := e.waitTo(to, 2)
		if len(got) != 2 || got[0].MessageID != id+"@"+idHost || got[1].MessageID != got[0].MessageID {
			t.Errorf("re-sent messages %+v, want two with Message-ID %s@%s", got, id, idHost)
		}
	})
}

// With the SMTP server down, Deliver fails with a retryable error and
// records nothing as sent; once the server is back on the same port, the
// retry sends exactly one message, with the derived Message-ID.
func TestRetryAfterOutage(t *testing.T) {
	mp := mailtest.New(t) // its own: this test stops it
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, mp)
		to, id := unique("outage"), newEventID()
		p := notify.Staff2FAChanged{Email: to, DisplayName: "花子", Enabled: true}
		if err := mp.Stop(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			err := e.deliver(id, notify.EventStaff2FAChanged, p)
			wantCode(t, err, "mail_unavailable")
			if notify.Permanent(err) {
				t.Errorf("an unreachable server is permanent: %v", err)
			}
			if strings.Contains(err.Error(), to) {
				t.Errorf("the error names the recipient: %v", err)
			}
		}
		d := e.deliveries(id)
		if len(d) != 1 || d[0].Status != notify.StatusFailed || d[0].Attempts != 2 || d[0].Error == "" || !d[0].SentAt.IsZero() {
			t.Fatalf("deliveries while down %+v, want one failed after two attempts", d)
		}
		if err := mp.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := e.deliver(id, notify.EventStaff2FAChanged, p); err != nil {
			t.Fatalf("Deliver after restart: %v", err)
		}
		if err := e.deliver(id, notify.EventStaff2FAChanged, p); err != nil {
			t.Fatalf("Deliver once more: %v", err)
		}
		e.waitTo(to, 1)
		got := e.settle(to)
		if len(got) != 1 || got[0].MessageID != id+"@"+idHost {
			t.Fatalf("after the outage: %d messages %+v, want exactly one with Message-ID %s@%s", len(got), got, id, idHost)
		}
		d = e.deliveries(id)
		if len(d) != 1 || d[0].Status != notify.StatusSent || d[0].Attempts != 3 || d[0].Error != "" {
			t.Errorf("deliveries after the outage %+v, want sent on the third attempt", d)
		}
	})
}

// Values with line breaks never become headers: not from a display name
// in a payload (through a subject template that uses it), nor from the
// tenant's name as sender name.
func TestHeaderInjectionIsImpossible(t *testing.T) {
	mp := mailtest.Shared(t)
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, mp)
		evil := unique("evil")
		e.tenant.Name = "サロン\r\nBcc: " + evil + "\r\nX-Injected: 1"
		c, err := e.svc.Template(e.ctx, e.db, notify.EventStaffInvited, "ja")
		if err != nil {
			t.Fatal(err)
		}
		c.Subject = "{{.DisplayName}} 様へのご招待"
		if _, err := e.svc.SaveTemplate(e.ctx, e.db, notify.EventStaffInvited, "ja", c.TemplateContent); err != nil {
			t.Fatal(err)
		}
		to, id := unique("target"), newEventID()
		err = e.deliver(id, notify.EventStaffInvited, notify.StaffInvited{
			Email: to, DisplayName: "花子\r\nBcc: " + evil + "\nX-Injected: 1\r\n\r\nbody", SetupURL: setupURL,
			Inviter: "x\r\nCc: " + evil,
		})
		if err != nil {
			t.Fatal(err)
		}
		s := e.waitTo(to, 1)[0]
		_, raw := e.message(s.ID)
		for _, l := range rawHeaders(t, raw) {
			name, _, _ := strings.Cut(l, ":")
			switch textproto.CanonicalMIMEHeaderKey(name) {
			case "Bcc", "Cc", "X-Injected":
				t.Errorf("an injected header line: %q", l)
			}
		}
		if len(s.Cc)+len(s.Bcc) != 0 || len(s.To) != 1 {
			t.Errorf("recipients To %v Cc %v Bcc %v", s.To, s.Cc, s.Bcc)
		}
		if !strings.Contains(s.Subject, "Bcc: "+evil) || strings.ContainsAny(s.Subject, "\r\n") {
			t.Errorf("subject %q, want the name on one line, as text", s.Subject)
		}
		if got := e.settle(evil); len(got) != 0 {
			t.Errorf("%d messages reached the injected address", len(got))
		}

		// Settings refuse line breaks outright.
		_, err = e.svc.UpdateSettings(e.ctx, e.db, notify.SettingsParams{SenderName: "店\r\nBcc: " + evil})
		wantField(t, err, "sender_name", "nocontrol")
		_, err = e.svc.UpdateSettings(e.ctx, e.db, notify.SettingsParams{ReplyTo: "a@example.com\r\nBcc: " + evil})
		wantField(t, err, "reply_to", "email")
		// ... and so does a template's subject.
		c.Subject = "a\nBcc: " + evil
		_, err = e.svc.SaveTemplate(e.ctx, e.db, notify.EventStaffInvited, "ja", c.TemplateContent)
		wantField(t, err, "subject", "nocontrol")
	})
}

func TestInvalidTemplateIsRefusedOnSave(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, nil)
		def, err := e.svc.DefaultTemplate(notify.EventStaffInvited, "ja")
		if err != nil {
			t.Fatal(err)
		}
		with := func(f func(*notify.TemplateContent)) notify.TemplateContent {
			c := def
			f(&c)
			return c
		}
		for _, tc := range []struct {
			name        string
			c           notify.TemplateContent
			field, code string
		}{
			{"unclosed action", with(func(c *notify.TemplateContent) { c.Text = "{{.DisplayName" }), "body_text", "template_syntax"},
			{"unknown variable", with(func(c *notify.TemplateContent) { c.Text = "{{.Nickname}} 様" }), "body_text", "template_render"},
			{"unknown variable in subject", with(func(c *notify.TemplateContent) { c.Subject = "{{.ResetURL}}" }), "subject", "template_render"},
			{"unknown function", with(func(c *notify.TemplateContent) { c.Text = "{{upper .DisplayName}}" }), "body_text", "template_syntax"},
			{"printf", with(func(c *notify.TemplateContent) { c.Text = `{{printf "%0999999999d" 1}}` }), "body_text", "template_syntax"},
			{"range over a number", with(func(c *notify.TemplateContent) { c.Text = "{{range 1000000000}}x{{end}}" }), "body_text", "template_syntax"},
			{"define", with(func(c *notify.TemplateContent) {
				c.Text = `{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}`
			}), "body_text", "template_syntax"},
			{"broken HTML template", with(func(c *notify.TemplateContent) { c.HTML = "<p>{{if .Enabled}}</p>" }), "body_html", "template_syntax"},
			{"HTML with an unknown variable", with(func(c *notify.TemplateContent) { c.HTML = "<p>{{.Nope}}</p>" }), "body_html", "template_render"},
			{"empty subject", with(func(c *notify.TemplateContent) { c.Subject = " " }), "subject", "required"},
			{"subject rendering to nothing", with(func(c *notify.TemplateContent) { c.Subject = "{{if false}}x{{end}}" }), "subject", "template_empty"},
			{"empty text", with(func(c *notify.TemplateContent) { c.Text = "" }), "body_text", "required"},
			{"subject too long", with(func(c *notify.TemplateContent) { c.Subject = strings.Repeat("予", 501) }), "subject", "max"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.SaveTemplate(e.ctx, e.db, notify.EventStaffInvited, "ja", tc.c)
				wantField(t, err, tc.field, tc.code)
				// The same checks hold for a preview of the draft.
				_, err = e.svc.Preview(e.ctx, e.db, e.tenant, notify.EventStaffInvited, "ja", &tc.c)
				wantField(t, err, tc.field, tc.code)
			})
		}
		// Nothing changed.
		cur, err := e.svc.Template(e.ctx, e.db, notify.EventStaffInvited, "ja")
		if err != nil {
			t.Fatal(err)
		}
		if cur.Custom || cur.TemplateContent != def {
			t.Errorf("template after refused saves: %+v", cur)
		}
		if n := len(e.entries("mail_template.")); n != 0 {
			t.Errorf("%d operation-log entries after refused saves", n)
		}
		// A parse error names the line.
		_, err = e.svc.SaveTemplate(e.ctx, e.db, notify.EventStaffInvited, "ja", with(func(c *notify.TemplateContent) { c.Text = "ok\n{{.DisplayName" }))
		ae := wantCode(t, err, "validation")
		if d, _ := ae.Fields[0].Args["Detail"].(string); !strings.Contains(d, "2") {
			t.Errorf("detail %q does not name line 2", d)
		}

		_, err = e.svc.SaveTemplate(e.ctx, e.db, "reservation.nope", "ja", def)
		wantCode(t, err, "mail_event_unknown")
		_, err = e.svc.SaveTemplate(e.ctx, e.db, notify.EventStaffInvited, "fr", def)
		wantField(t, err, "lang", "oneof")
	})
}

func TestSaveTemplateIsUsedAndLogged(t *testing.T) {
	mp := mailtest.Shared(t)
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, mp)
		c := notify.TemplateContent{
			Subject: "{{.TenantName}}: {{if .Enabled}}2FA オン{{else}}2FA オフ{{end}}",
			Text:    "{{.DisplayName}} さん、{{.ChangedAt}} に変更されました。",
		}
		saved, err := e.svc.SaveTemplate(e.ctx, e.db, notify.EventStaff2FAChanged, "ja", c)
		if err != nil {
			t.Fatal(err)
		}
		if !saved.Custom || saved.TemplateContent != c || saved.UpdatedAt.IsZero() {
			t.Errorf("saved %+v", saved)
		}
		got := e.entries("mail_template.update")
		if len(got) != 1 || got[0].ObjectID != "staff.2fa_changed/ja" || got[0].Actor.ID != "s1" {
			t.Fatalf("log entries %+v", got)
		}
		fields := map[string]bool{}
		for _, ch := range got[0].Changes {
			fields[ch.Field] = true
		}
		for _, f := range []string{"subject", "body_text", "body_html", "custom"} {
			if !fields[f] {
				t.Errorf("the log entry lacks the change of %s: %+v", f, got[0].Changes)
			}
		}
		// Saving the same again changes and logs nothing.
		if _, err := e.svc.SaveTemplate(e.ctx, e.db, notify.EventStaff2FAChanged, "ja", c); err != nil {
			t.Fatal(err)
		}
		if n := len(e.entries("mail_template.update")); n != 1 {
			t.Errorf("%d entries after an unchanged save, want 1", n)
		}

		to := unique("twofa")
		if err := e.deliver(newEventID(), notify.EventStaff2FAChanged, notify.Staff2FAChanged{Email: to, DisplayName: "花子", Enabled: false, At: testNow}); err != nil {
			t.Fatal(err)
		}
		s := e.waitTo(to, 1)[0]
		m, raw := e.message(s.ID)
		if m.Subject != tenantJa+": 2FA オフ" || strings.TrimSpace(m.Text) != "花子 さん、2026年11月27日(金) 12:04 JST に変更されました。" {
			t.Errorf("subject %q text %q", m.Subject, m.Text)
		}
		if m.HTML != "" || strings.Contains(raw, "multipart/alternative") {
			t.Errorf("a template without HTML sent an HTML part")
		}

		def, err := e.svc.ResetTemplate(e.ctx, e.db, notify.EventStaff2FAChanged, "ja")
		if err != nil {
			t.Fatal(err)
		}
		if def.Custom || !strings.Contains(def.Subject, "2段階認証") {
			t.Errorf("after reset %+v", def)
		}
		if n := len(e.entries("mail_template.reset")); n != 1 {
			t.Errorf("%d reset entries, want 1", n)
		}
		all, err := e.svc.Templates(e.ctx, e.db)
		if err != nil {
			t.Fatal(err)
		}
		editable := 0
		for _, et := range notify.EventTypes() {
			if !et.Platform {
				editable++
			}
		}
		if len(all) != editable*len(notify.Langs) || slices.ContainsFunc(all, func(t notify.Template) bool { return t.Custom }) {
			t.Errorf("templates after reset: %d, custom ones among them", len(all))
		}
	})
}

func TestPreview(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, nil)
		for _, et := range notify.EventTypes() {
			if et.Platform {
				continue // not the tenant's: TestNoticeMail
			}
			for _, lang := range notify.Langs {
				r, err := e.svc.Preview(e.ctx, e.db, e.tenant, et.Type, lang, nil)
				if err != nil {
					t.Fatalf("%s/%s: %v", et.Type, lang, err)
				}
				if !strings.Contains(r.Subject, tenantJa) || !strings.Contains(r.Text, tenantJa) || !strings.Contains(r.HTML, tenantJa) ||
					strings.Contains(r.Text, "<no value>") || strings.Contains(r.HTML, "<no value>") {
					t.Errorf("%s/%s preview: %+v", et.Type, lang, r)
				}
				if len(et.Variables) == 0 || !slices.Contains(et.Variables, "TenantName") {
					t.Errorf("%s variables %v", et.Type, et.Variables)
				}
			}
		}
		draft := notify.TemplateContent{Subject: "招待: {{.DisplayName}}", Text: "{{.Inviter}} → {{.SetupURL}}", HTML: "<b>{{.DisplayName}}</b>"}
		r, err := e.svc.Preview(e.ctx, e.db, e.tenant, notify.EventStaffInvited, "ja", &draft)
		if err != nil {
			t.Fatal(err)
		}
		if r.Subject != "招待: 予約 花子" || !strings.HasPrefix(r.Text, "山田 太郎 → https://") || r.HTML != "<b>予約 花子</b>" {
			t.Errorf("draft preview %+v", r)
		}
		// A preview saves nothing.
		if cur, _ := e.svc.Template(e.ctx, e.db, notify.EventStaffInvited, "ja"); cur.Custom {
			t.Error("a preview saved its draft")
		}
		if _, err := e.svc.Preview(e.ctx, e.db, e.tenant, "nope", "ja", nil); !errors.Is(err, notify.ErrUnknownEvent) {
			t.Errorf("preview of an unknown type: %v", err)
		}
	})
}

func TestTenantCopies(t *testing.T) {
	mp := mailtest.Shared(t)
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, mp)
		a, b := unique("contact-a"), unique("contact-b")
		e.tenant.ContactEmails = []string{a, strings.ToUpper(b[:1]) + b[1:], b} // the same address twice: one copy
		_, err := e.svc.UpdateSettings(e.ctx, e.db, notify.SettingsParams{CopyEvents: []string{notify.EventStaffInvited}})
		wantField(t, err, "copy_events[0]", "mail_copy_not_allowed")
		_, err = e.svc.UpdateSettings(e.ctx, e.db, notify.SettingsParams{CopyEvents: []string{"nope"}})
		wantField(t, err, "copy_events[0]", "mail_event")
		st, err := e.svc.UpdateSettings(e.ctx, e.db, notify.SettingsParams{SenderName: "花見 受付", CopyEvents: []string{notify.EventStaff2FAChanged}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(st.CopyEvents, []string{notify.EventStaff2FAChanged}) || len(e.entries("mail_settings.update")) != 1 {
			t.Errorf("settings %+v", st)
		}

		to, id := unique("member"), newEventID()
		p := notify.Staff2FAChanged{Email: to, DisplayName: "花子", Enabled: true, Lang: "en"}
		for range 2 {
			if err := e.deliver(id, notify.EventStaff2FAChanged, p); err != nil {
				t.Fatal(err)
			}
		}
		own := e.waitTo(to, 1)
		ca, cb := e.waitTo(a, 1), e.waitTo(b, 1)
		if len(e.settle(to)) != 1 || len(e.settle(a)) != 1 || len(e.settle(b)) != 1 {
			t.Fatal("want exactly one message each to the member and the two contact addresses")
		}
		ids := map[string]bool{own[0].MessageID: true, ca[0].MessageID: true, cb[0].MessageID: true}
		if len(ids) != 3 || own[0].MessageID != id+"@"+idHost {
			t.Errorf("Message-IDs %v: want three different ones, the member's %s@%s", ids, id, idHost)
		}
		for _, s := range append(ca, cb...) {
			if len(s.To) != 1 || len(s.Bcc)+len(s.Cc) != 0 || !strings.HasPrefix(s.MessageID, id+".copy.") || !strings.HasSuffix(s.MessageID, "@"+idHost) {
				t.Errorf("copy %+v", s)
			}
			if strings.Contains(s.MessageID, "contact") {
				t.Errorf("a copy's Message-ID %q holds its address", s.MessageID)
			}
			if s.From.Name != "花見 受付" {
				t.Errorf("copy from %+v", s.From)
			}
			if !strings.Contains(s.Subject, "2段階認証") { // copies are in the tenant's language
				t.Errorf("copy subject %q, want the tenant's Japanese", s.Subject)
			}
		}
		if !strings.Contains(own[0].Subject, "Two-step sign-in") {
			t.Errorf("the member's subject %q, want English as the payload asks", own[0].Subject)
		}
		d := e.deliveries(id)
		if len(d) != 3 {
			t.Fatalf("deliveries %+v, want 3", d)
		}
		copies := 0
		for _, x := range d {
			if x.Status != notify.StatusSent || x.Attempts != 1 {
				t.Errorf("delivery %+v", x)
			}
			if x.Copy {
				copies++
			}
		}
		if copies != 2 {
			t.Errorf("%d copies recorded, want 2", copies)
		}

		// An event type the tenant did not choose goes to its recipient only.
		to2 := unique("member")
		if err := e.deliver(newEventID(), notify.EventStaffPasswordReset, notify.StaffPasswordReset{Email: to2, ResetURL: setupURL}); err != nil {
			t.Fatal(err)
		}
		e.waitTo(to2, 1)
		if len(e.settle(a)) != 1 {
			t.Error("a password reset was copied to a contact address")
		}
	})
}

func TestSendTest(t *testing.T) {
	mp := mailtest.Shared(t)
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, mp)
		to := unique("tester")
		d, err := e.svc.SendTest(e.ctx, e.db, e.tenant, notify.TestParams{To: to, RequestedBy: "山田 太郎"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(d.EventID, "test-") || d.Status != notify.StatusSent || d.EventType != notify.EventMailTest {
			t.Errorf("delivery %+v", d)
		}
		s := e.waitTo(to, 1)[0]
		m, _ := e.message(s.ID)
		if s.MessageID != d.MessageID || !strings.Contains(m.Text, "山田 太郎") || m.Subject != "【サロン花見】テストメール" {
			t.Errorf("test mail %+v / %q", s, m.Text)
		}

		// A draft of another type, in English.
		draft := notify.TemplateContent{Subject: "Draft for {{.DisplayName}}", Text: "Link: {{.ResetURL}}"}
		to2 := unique("tester")
		if _, err := e.svc.SendTest(e.ctx, e.db, e.tenant, notify.TestParams{To: to2, EventType: notify.EventStaffPasswordReset, Lang: "en", Draft: &draft}); err != nil {
			t.Fatal(err)
		}
		if s := e.waitTo(to2, 1)[0]; s.Subject != "Draft for Hanako Yoyaku" {
			t.Errorf("draft test subject %q", s.Subject)
		}
		_, err = e.svc.SendTest(e.ctx, e.db, e.tenant, notify.TestParams{To: "not an address"})
		wantField(t, err, "to", "email")
		bad := notify.TemplateContent{Subject: "x", Text: "{{.Nope}}"}
		_, err = e.svc.SendTest(e.ctx, e.db, e.tenant, notify.TestParams{To: to2, Draft: &bad})
		wantField(t, err, "body_text", "template_render")
	})
}

// The platform's credentials reach the server (mailpit records the user).
func TestSMTPAuth(t *testing.T) {
	mp := mailtest.Shared(t)
	db := dbtest.NewDB(t, dbx.SQLite)
	e := newEnv(t, db, mp, func(c *notify.Config) {
		smtp, err := notify.ParseSMTPURL("smtp://yoyaku-relay:s%40cret@" + mp.SMTPAddr() + "?tls=none")
		if err != nil {
			t.Fatal(err)
		}
		c.SMTP = smtp
	})
	to := unique("auth")
	if err := e.deliver(newEventID(), notify.EventMailTest, notify.MailTest{To: to}); err != nil {
		t.Fatal(err)
	}
	if s := e.waitTo(to, 1)[0]; s.Username != "yoyaku-relay" {
		t.Errorf("SMTP user %q, want yoyaku-relay", s.Username)
	}
}

func TestBadEventsArePermanent(t *testing.T) {
	mp := mailtest.Shared(t)
	db := dbtest.NewDB(t, dbx.SQLite)
	e := newEnv(t, db, mp)
	for _, tc := range []struct {
		name, id, typ, payload, code string
	}{
		{"unknown type", "e1", "reservation.unknown", `{}`, "mail_event_unknown"},
		{"not JSON", "e2", notify.EventStaffInvited, `{`, "mail_event_invalid"},
		{"no recipient", "e3", notify.EventStaffInvited, `{"setup_url":"https://x.example/"}`, "mail_event_invalid"},
		{"bad recipient", "e4", notify.EventMailTest, `{"to":"a@b.example\r\nBcc: c@d.example"}`, "mail_event_invalid"},
		{"no link", "e5", notify.EventStaffPasswordReset, `{"email":"a@example.com","reset_url":"javascript:alert(1)"}`, "mail_event_invalid"},
		{"no event id", "", notify.EventMailTest, `{"to":"a@example.com"}`, "mail_event_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.svc.Deliver(e.ctx, e.db, e.tenant, tc.id, tc.typ, json.RawMessage(tc.payload))
			wantCode(t, err, tc.code)
			if !notify.Permanent(err) {
				t.Errorf("%v is not permanent", err)
			}
		})
	}
	if d, err := e.svc.Deliveries(e.ctx, e.db, notify.DeliveryFilter{}); err != nil || len(d) != 0 {
		t.Errorf("deliveries %v %v", d, err)
	}
}

func TestWithoutSMTP(t *testing.T) {
	db := dbtest.NewDB(t, dbx.SQLite)
	e := newEnv(t, db, nil)
	err := e.deliver(newEventID(), notify.EventMailTest, notify.MailTest{To: "a@example.com"})
	if !errors.Is(err, notify.ErrNotConfigured) || notify.Permanent(err) {
		t.Errorf("Deliver without SMTP: %v", err)
	}
	_, err = e.svc.SendTest(e.ctx, e.db, e.tenant, notify.TestParams{To: "a@example.com"})
	if !errors.Is(err, notify.ErrNotConfigured) {
		t.Errorf("SendTest without SMTP: %v", err)
	}
	if _, err := e.svc.Preview(e.ctx, e.db, e.tenant, notify.EventMailTest, "en", nil); err != nil {
		t.Errorf("Preview without SMTP: %v", err)
	}
	if _, err := notify.NewService(notify.Config{SMTP: notify.SMTPConfig{Host: "127.0.0.1", Port: 25}}); err == nil {
		t.Error("an SMTP server without a from-address was accepted")
	}
	if _, err := notify.NewService(notify.Config{From: "Yoyaku <a@example.com>"}); err == nil {
		t.Error("a from-address with a display name was accepted")
	}
}

func TestParseSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		want    notify.SMTPConfig
		wantErr string
	}{
		{url: "", want: notify.SMTPConfig{}},
		{url: "smtp://user:p%40ss@mail.example.jp", want: notify.SMTPConfig{Host: "mail.example.jp", Port: 587, TLS: notify.TLSStartTLS, Username: "user", Password: "p@ss", Timeout: 30 * time.Second}},
		{url: "smtp://mail.example.jp:25?tls=opportunistic&timeout=5s&helo=app1.example.jp", want: notify.SMTPConfig{Host: "mail.example.jp", Port: 25, TLS: notify.TLSOpportunistic, HELO: "app1.example.jp", Timeout: 5 * time.Second}},
		{url: "smtps://u:p@smtp.example.com", want: notify.SMTPConfig{Host: "smtp.example.com", Port: 465, TLS: notify.TLSImplicit, Username: "u", Password: "p", Timeout: 30 * time.Second}},
		{url: "smtps://u:p@smtp.example.com:2465?auth=LOGIN", want: notify.SMTPConfig{Host: "smtp.example.com", Port: 2465, TLS: notify.TLSImplicit, Username: "u", Password: "p", Auth: "login", Timeout: 30 * time.Second}},
		{url: "smtp://127.0.0.1:1025?tls=none", want: notify.SMTPConfig{Host: "127.0.0.1", Port: 1025, TLS: notify.TLSNone, Timeout: 30 * time.Second}},
		{url: "smtp://u:p@[::1]:1025?tls=none", want: notify.SMTPConfig{Host: "::1", Port: 1025, TLS: notify.TLSNone, Username: "u", Password: "p", Timeout: 30 * time.Second}},
		{url: "http://mail.example.jp", wantErr: "scheme"},
		{url: "smtp://", wantErr: "no host"},
		{url: "smtp://mail.example.jp:0", wantErr: "port"},
		{url: "smtp://mail.example.jp?tls=off", wantErr: "tls="},
		{url: "smtps://mail.example.jp?tls=none", wantErr: "always TLS"},
		{url: "smtp://mail.example.jp?tsl=none", wantErr: "unknown parameter"},
		{url: "smtp://mail.example.jp?auth=plain", wantErr: "without a user"},
		{url: "smtp://u:secret@mail.example.jp?tls=none", wantErr: "plain text"},
		{url: "smtp://u:secret@mail.example.jp?auth=ntlm", wantErr: "auth="},
		{url: "smtp://mail.example.jp?timeout=-1s", wantErr: "timeout"},
		{url: "smtp://mail.example.jp/path", wantErr: "path"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, err := notify.ParseSMTPURL(tc.url)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("the error quotes the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if strings.Contains(got.String(), "p%40ss") || strings.Contains(got.String(), "p@ss") {
				t.Errorf("String() shows the password: %s", got)
			}
		})
	}
}

// The operator's notice mail goes to a contact address under the
// platform's name, without the tenant's Reply-To, and its template is not
// the tenant's to see or change.
func TestNoticeMail(t *testing.T) {
	mp := mailtest.Shared(t)
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, mp)
		if _, err := e.svc.UpdateSettings(e.ctx, e.db, notify.SettingsParams{SenderName: "花見 受付", ReplyTo: "front@salon-hanami.jp"}); err != nil {
			t.Fatal(err)
		}
		to, id := unique("owner"), newEventID()
		starts := time.Date(2026, 12, 20, 16, 0, 0, 0, time.UTC) // 12/21 01:00 JST
		err := e.deliver(id, notify.EventNoticePublished, notify.NoticePublished{
			Email: to, NoticeID: "n1", Revision: 2, Kind: "maintenance", Title: "データベースの更新",
			Body: "予約サイトが止まります。\nご迷惑をおかけします。", StartsAt: starts, EndsAt: starts.Add(2 * time.Hour), Lang: "ja",
		})
		if err != nil {
			t.Fatal(err)
		}
		got := e.waitTo(to, 1)
		s := got[0]
		if s.From.Name != "Yoyaku" || s.From.Address != fromAddr || len(s.ReplyTo) != 0 {
			t.Errorf("From %+v Reply-To %+v: want the platform's name and no Reply-To", s.From, s.ReplyTo)
		}
		if want := "【Yoyaku】（更新）メンテナンス: データベースの更新"; s.Subject != want {
			t.Errorf("subject %q, want %q", s.Subject, want)
		}
		m, _ := e.message(s.ID)
		for _, want := range []string{tenantJa + " ご担当者様", "2026年12月21日(月) 01:00 JST", "2026年12月21日(月) 03:00 JST", "ご迷惑をおかけします。"} {
			if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
				t.Errorf("notice mail lacks %q:\n%s\n%s", want, m.Text, m.HTML)
			}
		}
		for _, op := range []func() error{
			func() error { _, err := e.svc.Template(e.ctx, e.db, notify.EventNoticePublished, "ja"); return err },
			func() error {
				_, err := e.svc.SaveTemplate(e.ctx, e.db, notify.EventNoticePublished, "ja", notify.TemplateContent{Subject: "x", Text: "y"})
				return err
			},
			func() error {
				_, err := e.svc.Preview(e.ctx, e.db, e.tenant, notify.EventNoticePublished, "ja", nil)
				return err
			},
		} {
			if err := op(); !errors.Is(err, notify.ErrUnknownEvent) {
				t.Errorf("a tenant's template operation on the platform's mail: %v, want mail_event_unknown", err)
			}
		}
		all, err := e.svc.Templates(e.ctx, e.db)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(all, func(t notify.Template) bool { return t.EventType == notify.EventNoticePublished }) {
			t.Error("the tenant's template list shows the platform's notice mail")
		}
	})
}

// The status page's mail check: the server answers, it does not, or there
// is none.
func TestCheck(t *testing.T) {
	mp := mailtest.New(t)
	smtp, err := notify.ParseSMTPURL(mp.SMTPURL())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := notify.NewService(notify.Config{SMTP: smtp, From: fromAddr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.Check(ctx); err != nil {
		t.Fatalf("check with the server up: %v", err)
	}
	if err := mp.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Check(ctx); !errors.Is(err, notify.ErrUnavailable) {
		t.Errorf("check with the server down: %v, want mail_unavailable", err)
	}
	none, err := notify.NewService(notify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := none.Check(ctx); !errors.Is(err, notify.ErrNotConfigured) || none.Configured() {
		t.Errorf("check without a server: %v", err)
	}
}
