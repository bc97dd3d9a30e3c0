package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLSMode is how the connection to the SMTP server is secured.
type TLSMode string

// The TLS modes.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS and refuses a
	// server that does not offer it (smtp://, the default).
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (smtps://).
	TLSImplicit TLSMode = "implicit"
	// TLSOpportunistic uses STARTTLS when the server offers it and goes on
	// in plain text when it does not.
	TLSOpportunistic TLSMode = "opportunistic"
	// TLSNone never encrypts: for a relay on the same machine only.
	TLSNone TLSMode = "none"
)

// SMTPConfig is the platform's SMTP server. A zero Host means none is
// configured: templates work, sending fails with ErrNotConfigured.
type SMTPConfig struct {
	Host     string
	Port     int
	TLS      TLSMode
	Username string // empty: no SMTP AUTH
	Password string
	// Auth is the SASL mechanism: "" (the strongest the server offers),
	// "plain", "login", "cram-md5", "scram-sha-1", "scram-sha-256".
	Auth    string
	HELO    string        // the name the client greets with; default the machine's host name
	Timeout time.Duration // per connection and command; default 30 s
}

// Default ports and timeout.
const (
	DefaultSMTPPort    = 587
	DefaultSMTPSPort   = 465
	DefaultSMTPTimeout = 30 * time.Second
)

var authMechs = map[string]gomail.SMTPAuthType{
	"plain":         gomail.SMTPAuthPlain,
	"login":         gomail.SMTPAuthLogin,
	"cram-md5":      gomail.SMTPAuthCramMD5,
	"scram-sha-1":   gomail.SMTPAuthSCRAMSHA1,
	"scram-sha-256": gomail.SMTPAuthSCRAMSHA256,
}

// ParseSMTPURL reads YOYAKU_SMTP_URL:
//
//	smtp://[USER[:PASSWORD]@]HOST[:PORT][?tls=starttls|opportunistic|none][&auth=MECH][&helo=NAME][&timeout=DURATION]
//	smtps://[USER[:PASSWORD]@]HOST[:PORT][?auth=MECH][&helo=NAME][&timeout=DURATION]
//
// smtp:// submits on port 587 and requires STARTTLS unless tls says
// otherwise; smtps:// speaks TLS from the start on port 465. USER and
// PASSWORD are percent-encoded ("%40" for "@"); with them the client
// authenticates with MECH (plain, login, cram-md5, scram-sha-1,
// scram-sha-256; default: the strongest the server offers). tls=none sends
// in plain text and is meant for a relay on the same machine (such as
// mailpit in tests: smtp://127.0.0.1:1025?tls=none); credentials are
// refused with it unless HOST is a loopback address. timeout is a Go
// duration (default 30s). An empty string is no server. Unknown
// parameters are refused, so that a typo does not silently weaken TLS.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	if strings.TrimSpace(raw) == "" {
		return SMTPConfig{}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url's error quotes the URL, password and all.
		return SMTPConfig{}, errors.New("notify: SMTP URL: not a URL")
	}
	c := SMTPConfig{Host: u.Hostname(), Timeout: DefaultSMTPTimeout}
	switch u.Scheme {
	case "smtp":
		c.Port, c.TLS = DefaultSMTPPort, TLSStartTLS
	case "smtps":
		c.Port, c.TLS = DefaultSMTPSPort, TLSImplicit
	default:
		return SMTPConfig{}, fmt.Errorf("notify: SMTP URL: scheme %q: use smtp:// or smtps://", u.Scheme)
	}
	if c.Host == "" {
		return SMTPConfig{}, errors.New("notify: SMTP URL: no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("notify: SMTP URL: port %q", p)
		}
		c.Port = n
	}
	if u.Path != "" && u.Path != "/" {
		return SMTPConfig{}, errors.New("notify: SMTP URL: a path means nothing here")
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	for k, vs := range q {
		if len(vs) != 1 {
			return SMTPConfig{}, fmt.Errorf("notify: SMTP URL: %s given %d times", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "tls":
			switch mode := TLSMode(strings.ToLower(v)); {
			case u.Scheme == "smtps" && mode != TLSImplicit:
				return SMTPConfig{}, fmt.Errorf("notify: SMTP URL: smtps:// is always TLS; tls=%s is for smtp://", v)
			case mode == TLSStartTLS || mode == TLSOpportunistic || mode == TLSNone || mode == TLSImplicit:
				c.TLS = mode
			default:
				return SMTPConfig{}, fmt.Errorf("notify: SMTP URL: tls=%q: use starttls, opportunistic or none", v)
			}
		case "auth":
			if _, ok := authMechs[strings.ToLower(v)]; !ok {
				return SMTPConfig{}, fmt.Errorf("notify: SMTP URL: auth=%q: use plain, login, cram-md5, scram-sha-1 or scram-sha-256", v)
			}
			c.Auth = strings.ToLower(v)
		case "helo":
			if v == "" || strings.ContainsAny(v, " \t\r\n") {
				return SMTPConfig{}, fmt.Errorf("notify: SMTP URL: helo=%q", v)
			}
			c.HELO = v
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return SMTPConfig{}, fmt.Errorf("notify: SMTP URL: timeout=%q: use a duration such as 30s", v)
			}
			c.Timeout = d
		default:
			return SMTPConfig{}, fmt.Errorf("notify: SMTP URL: unknown parameter %q", k)
		}
	}
	if c.Auth != "" && c.Username == "" {
		return SMTPConfig{}, errors.New("notify: SMTP URL: auth without a user name")
	}
	if c.Username != "" && c.TLS == TLSNone && !isLoopback(c.Host) {
		return SMTPConfig{}, errors.New("notify: SMTP URL: credentials with tls=none would cross the network in plain text; use STARTTLS or smtps://")
	}
	return c, nil
}

// Configured reports whether a server is set.
func (c SMTPConfig) Configured() bool { return c.Host != "" }

// String is the URL without the password, for logs and diagnostics.
func (c SMTPConfig) String() string {
	if !c.Configured() {
		return "(none)"
	}
	scheme, q := "smtp", url.Values{}
	if c.TLS == TLSImplicit {
		scheme = "smtps"
	} else if c.TLS != TLSStartTLS {
		q.Set("tls", string(c.TLS))
	}
	if c.Auth != "" {
		q.Set("auth", c.Auth)
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), RawQuery: q.Encode()}
	if c.Username != "" {
		u.User = url.User(c.Username)
	}
	return u.String()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newClient makes the go-mail client of c.
func newClient(c SMTPConfig) (*gomail.Client, error) {
	if c.Timeout <= 0 {
		c.Timeout = DefaultSMTPTimeout
	}
	opts := []gomail.Option{gomail.WithPort(c.Port), gomail.WithTimeout(c.Timeout)}
	switch c.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if c.HELO != "" {
		opts = append(opts, gomail.WithHELO(c.HELO))
	}
	if c.Username != "" {
		mech := gomail.SMTPAuthAutoDiscover
		if m, ok := authMechs[c.Auth]; ok {
			mech = m
		}
		if c.TLS == TLSNone {
			// Only on loopback (ParseSMTPURL): PLAIN and LOGIN are fine
			// there, and go-mail would otherwise refuse them unencrypted.
			switch mech {
			case gomail.SMTPAuthAutoDiscover, gomail.SMTPAuthPlain:
				mech = gomail.SMTPAuthPlainNoEnc
			case gomail.SMTPAuthLogin:
				mech = gomail.SMTPAuthLoginNoEnc
			}
		}
		opts = append(opts, gomail.WithSMTPAuth(mech), gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	cl, err := gomail.NewClient(c.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("notify: SMTP client: %w", err)
	}
	return cl, nil
}

// envelope is one message of a delivery: one recipient.
type envelope struct {
	to        string // as given, for RCPT TO and the To header
	key       string // lower-cased: the delivery record's recipient
	copy      bool
	lang      string
	messageID string // without angle brackets
}

// eventIDRE is what an event id may be to appear as it is in a
// Message-ID (a dot-atom); other ids are hashed.
var eventIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// messageID derives the Message-ID of event eventID to recipient key:
// <eventID@yoyaku.HOST> for the mail itself, <eventID.copy.HASH@yoyaku.HOST>
// for a copy (HASH from the copy's address, which stays out of the header).
// It is the same on every retry, so a receiver can drop a duplicate.
func messageID(eventID, host, key string, copy bool) string {
	left := eventID
	if !eventIDRE.MatchString(left) || strings.Contains(left, "..") || strings.HasSuffix(left, ".") {
		sum := sha256.Sum256([]byte(eventID))
		left = hex.EncodeToString(sum[:16])
	}
	if copy {
		sum := sha256.Sum256([]byte(key))
		left += ".copy." + hex.EncodeToString(sum[:8])
	}
	return left + "@yoyaku." + host
}

// bareAddress returns addr when it is one plain address (no display name,
// no line breaks, nothing around it), lower-cased as the record key.
func bareAddress(addr string) (string, bool) {
	if addr == "" || len(addr) > 254 || strings.ContainsFunc(addr, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return "", false
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return "", false
	}
	return strings.ToLower(addr), true
}

// header is what the mail's headers need besides the envelope.
type header struct {
	fromName string
	from     string
	replyTo  string
	date     time.Time
	calendar *calendarPart // an .ics to attach; nil for none
}

// buildMessage assembles one message. Every header value is made one line
// first; go-mail then encodes non-ASCII text as RFC 2047 encoded words
// (base64 "B" words: compact for Japanese) and the bodies as UTF-8 in
// base64.
func buildMessage(env envelope, h header, r Rendered) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingB64), gomail.WithNoDefaultUserAgent())
	if err := m.FromFormat(oneLine(h.fromName), h.from); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := m.To(env.to); err != nil {
		return nil, errors.New("the recipient is not an address")
	}
	if h.replyTo != "" {
		if err := m.ReplyTo(h.replyTo); err != nil {
			return nil, errors.New("the reply-to is not an address")
		}
	}
	m.SetMessageIDWithValue(env.messageID)
	m.SetDateWithValue(h.date)
	m.Subject(oneLine(r.Subject))
	// RFC 3834: automatic mail; asks auto-responders not to answer.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader("X-Auto-Response-Suppress", "All")
	// Text is canonical with CRLF line breaks (RFC 2046) before base64.
	crlf := strings.NewReplacer("\r\n", "\r\n", "\r", "\r\n", "\n", "\r\n")
	m.SetBodyString(gomail.TypeTextPlain, crlf.Replace(r.Text))
	if r.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, crlf.Replace(r.HTML))
	}
	if c := h.calendar; c != nil {
		// A file of its own beside the text and HTML alternatives
		// (multipart/mixed), so every client offers it; the method
		// parameter lets calendar clients treat it as an update.
		if err := m.AttachReader("invite.ics", bytes.NewReader(c.data), gomail.WithFileContentType(gomail.ContentType(c.contentType())),
			gomail.WithFileEncoding(gomail.EncodingB64)); err != nil {
			return nil, fmt.Errorf("calendar: %w", err)
		}
	}
	return m, nil
}

// sendFailure describes why one message was not sent, in words that never
// hold an address (the server's reply text can name the recipient), so it
// is fit for logs, the delivery record and the error Deliver returns.
type sendFailure struct {
	summary   string
	permanent bool
}

// classify reads the outcome of one message. A 5xx reply to the message's
// sender, recipient or content is permanent; everything else (connection,
// TLS, authentication, 4xx) may pass.
func classify(msgErr, connErr error) sendFailure {
	err := msgErr
	if err == nil {
		err = connErr
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		code, esc := se.ErrorCode(), se.EnhancedStatusCode()
		s := se.Reason.String()
		if code != 0 {
			s += ": " + strconv.Itoa(code)
		}
		if esc != "" {
			s += " " + esc
		}
		switch se.Reason {
		case gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
			return sendFailure{summary: s, permanent: code >= 500 && code < 600}
		}
		return sendFailure{summary: s}
	}
	if err == nil {
		return sendFailure{summary: "not sent"}
	}
	return sendFailure{summary: connSummary(err)}
}

// connSummary describes a failure to reach or talk to the server before
// any message was under way (dial, TLS, greeting, authentication): its
// text names the server and the platform's account, never a recipient.
func connSummary(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "the SMTP server timed out: " + cutRunes(err.Error(), 300)
	}
	return cutRunes(err.Error(), 300)
}

// Check connects to the platform's SMTP server as a delivery would (TLS
// and authentication included) and hangs up without sending: the status
// page's mail check. Without a server it returns ErrNotConfigured.
func (s *Service) Check(ctx context.Context) error {
	if !s.smtp.Configured() {
		return ErrNotConfigured
	}
	cfg := s.smtp
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < cfg.Timeout || cfg.Timeout <= 0 {
			cfg.Timeout = max(left, time.Second)
		}
	}
	cl, err := newClient(cfg)
	if err != nil {
		return err
	}
	conn, err := cl.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return ErrUnavailable.WithCause(errors.New(connSummary(err)))
	}
	return cl.CloseWithSMTPClient(conn)
}

// Configured reports whether the service has an SMTP server to send with.
func (s *Service) Configured() bool { return s.smtp.Configured() }
