package notify

import (
	"bytes"
	"errors"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestMessageID(t *testing.T) {
	for id, want := range map[string]string{
		"0190c3e2a1b27c3d": "0190c3e2a1b27c3d@yoyaku.example.jp",
		"42":               "42@yoyaku.example.jp",
	} {
		if got := messageID(id, "example.jp", "a@example.com", false); got != want {
			t.Errorf("messageID(%q) = %q, want %q", id, got, want)
		}
	}
	// Not a dot-atom: hashed, the same every time.
	odd := messageID("evt 1<x>", "example.jp", "a@example.com", false)
	if odd != messageID("evt 1<x>", "example.jp", "a@example.com", false) || strings.ContainsAny(odd, " <>") || !strings.HasSuffix(odd, "@yoyaku.example.jp") {
		t.Errorf("messageID of an odd id = %q", odd)
	}
	a := messageID("e1", "example.jp", "a@example.com", true)
	b := messageID("e1", "example.jp", "b@example.com", true)
	if a == b || !strings.HasPrefix(a, "e1.copy.") || strings.Contains(a, "example.com") {
		t.Errorf("copies: %q and %q", a, b)
	}
	if a != messageID("e1", "example.jp", "a@example.com", true) {
		t.Error("a copy's Message-ID is not stable")
	}
	if _, err := mail.ParseAddress("<" + a + ">"); err != nil {
		t.Errorf("%q is not a msg-id: %v", a, err)
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nBcc: x@y":       "a Bcc: x@y",
		"  予約\t\t花子 \n":       "予約 花子",
		"a\u2028b\u0085c\x00": "a b c",
		"":                    "",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// Whatever the values hold, the written message has exactly the headers
// buildMessage sets, each on its own (possibly folded) line.
func TestBuildMessageHeaders(t *testing.T) {
	env := envelope{to: "hanako@example.jp", key: "hanako@example.jp", lang: "ja", messageID: "e1@yoyaku.example.jp"}
	h := header{
		fromName: "サロン\r\nBcc: evil@example.com\r\n", from: "no-reply@example.jp",
		replyTo: "front@example.jp", date: time.Date(2026, 12, 10, 1, 0, 0, 0, time.UTC),
	}
	r := Rendered{Subject: "ご予約\r\nBcc: evil@example.com\r\n\r\nX: y", Text: "本文\nです", HTML: "<p>本文</p>"}
	m, err := buildMessage(env, h, r)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(buf.String(), "\r\n\r\n")
	var names []string
	var subject string
	for _, l := range strings.Split(head, "\r\n") {
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			if names[len(names)-1] == "Subject" {
				subject += strings.TrimSpace(l)
			}
			continue
		}
		name, v, _ := strings.Cut(l, ":")
		names = append(names, name)
		if name == "Subject" {
			subject = strings.TrimSpace(v)
		}
	}
	want := map[string]bool{
		"Date": true, "MIME-Version": true, "Message-ID": true, "Subject": true, "From": true, "To": true,
		"Reply-To": true, "Content-Type": true, "Auto-Submitted": true, "X-Auto-Response-Suppress": true,
	}
	for _, n := range names {
		if !want[n] {
			t.Errorf("unexpected header %q in:\n%s", n, head)
		}
	}
	dec, err := new(mime.WordDecoder).DecodeHeader(strings.ReplaceAll(subject, "?= =?", "?==?"))
	if err != nil {
		t.Fatal(err)
	}
	if dec != "ご予約 Bcc: evil@example.com X: y" {
		t.Errorf("subject %q", dec)
	}
	if strings.Contains(buf.String(), "\n本文") {
		t.Error("the body is not base64")
	}
}

func TestClassify(t *testing.T) {
	if f := classify(nil, errors.New("dial tcp 127.0.0.1:25: connect: connection refused")); f.permanent || !strings.Contains(f.summary, "connection refused") {
		t.Errorf("dial failure: %+v", f)
	}
	if f := classify(nil, nil); f.permanent || f.summary == "" {
		t.Errorf("no error: %+v", f)
	}
}
