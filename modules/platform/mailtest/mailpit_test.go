package mailtest

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// send submits one message with the standard library's SMTP client, so the
// harness is checked independently of the code it serves.
func send(t *testing.T, addr, from string, to []string, msg string) error {
	t.Helper()
	return smtp.SendMail(addr, nil, from, to, []byte(strings.ReplaceAll(msg, "\n", "\r\n")))
}

func TestMailpitLifecycle(t *testing.T) {
	m := New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := m.Client()

	const msg = `From: sender@example.com
To: first@example.com
Subject: =?UTF-8?B?5LqI57SE44Gu56K66KqN?=
Message-ID: <evt-1@yoyaku.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

ご予約ありがとうございます。
`
	if err := send(t, m.SMTPAddr(), "sender@example.com", []string{"first@example.com", "hidden@example.com"}, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	got, err := c.WaitTo(ctx, "first@example.com", 1)
	if err != nil {
		t.Fatal(err)
	}
	s := got[0]
	if s.Subject != "予約の確認" || s.MessageID != "evt-1@yoyaku.example.com" || s.From.Address != "sender@example.com" {
		t.Errorf("summary = %+v", s)
	}
	if r := s.Recipients(); len(r) != 2 || r[0] != "first@example.com" || r[1] != "hidden@example.com" {
		t.Errorf("recipients = %v, want first (To) and hidden (Bcc)", r)
	}
	if hidden, _ := c.MessagesTo(ctx, "HIDDEN@example.com"); len(hidden) != 1 {
		t.Errorf("MessagesTo is not case-insensitive on the address: %d messages", len(hidden))
	}
	full, err := c.Message(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(full.Text) != "ご予約ありがとうございます。" || full.ReturnPath != "sender@example.com" {
		t.Errorf("message = %+v", full)
	}
	raw, err := c.Raw(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "Subject: =?UTF-8?B?5LqI57SE44Gu56K66KqN?=") {
		t.Errorf("raw source lacks the encoded subject:\n%s", raw)
	}
	h, err := c.Headers(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v := h["Message-Id"]; len(v) != 1 || v[0] != "<evt-1@yoyaku.example.com>" {
		t.Errorf("Message-Id header = %q", v)
	}

	// Down: the SMTP port refuses; the API too.
	port := m.SMTPPort()
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", m.SMTPAddr(), time.Second); err == nil {
		conn.Close()
		t.Fatal("the SMTP port still accepts connections after Stop")
	}
	if _, err := c.Messages(ctx); err == nil {
		t.Error("the API answers after Stop")
	}

	// Back on the same ports, with what it held.
	if err := m.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if m.SMTPPort() != port {
		t.Errorf("SMTP port %d after restart, want %d", m.SMTPPort(), port)
	}
	if err := send(t, m.SMTPAddr(), "sender@example.com", []string{"first@example.com"}, msg); err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	if got, err := c.WaitTo(ctx, "first@example.com", 2); err != nil || len(got) != 2 {
		t.Fatalf("after restart: %d messages, err %v; want the old one and the new one", len(got), err)
	}
	if err := c.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if all, err := c.Messages(ctx); err != nil || len(all) != 0 {
		t.Errorf("after DeleteAll: %d messages, err %v", len(all), err)
	}

	dir := m.dir
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temp dir %s remains after Close (stat: %v)", dir, err)
	}
	if err := m.Restart(ctx); err == nil {
		t.Error("Restart after Close succeeded")
	}
}

func TestSharedIsOneServer(t *testing.T) {
	a, b := Shared(t), Shared(t)
	if a != b {
		t.Fatal("Shared started two servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.Client().Messages(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSweepRemovesDirsOfDeadProcesses(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("needs /proc to find a dead process id")
	}
	// A process id that is not in use: beyond any pid_max.
	dead := filepath.Join(os.TempDir(), dirPrefix+strconv.Itoa(1<<30)+"-x")
	alive := filepath.Join(os.TempDir(), dirPrefix+strconv.Itoa(os.Getppid())+"-x")
	for _, d := range []string{dead, alive} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(dead); os.RemoveAll(alive) })
	sweepStaleDirs()
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dir of a dead process was kept (stat: %v)", err)
	}
	if _, err := os.Stat(alive); err != nil {
		t.Errorf("the dir of a live process was removed: %v", err)
	}
}
