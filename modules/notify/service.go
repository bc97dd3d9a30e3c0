package notify

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
	gomail "github.com/wneessen/go-mail"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/validate"
	"github.com/yoyaku-oss/yoyaku/web"
)

// Config wires a Service. Zero fields take the defaults.
type Config struct {
	// SMTP is the platform's server (ParseSMTPURL of YOYAKU_SMTP_URL).
	// Without one, templates, previews and settings work and sending
	// fails with ErrNotConfigured.
	SMTP SMTPConfig
	// From is the platform's sender address (e.g.
	// no-reply@yoyaku.example.jp); the display name is the tenant's.
	// Required with SMTP.
	From string
	// MessageIDHost is HOST in Message-IDs <event-id@yoyaku.HOST>; default
	// the domain of From.
	MessageIDHost string
	// Templates holds the built-in templates as <lang>/<event
	// type>.{subject.txt,txt,html}; default web/mail.
	Templates fs.FS
	// PlatformName is the sender name of the platform's own mails
	// (operator notices); default "Yoyaku".
	PlatformName string
	// SiteURL is the platform's public address (YOYAKU_BASE_URL), for
	// the booking-site links of reservation mails; "" leaves them out.
	SiteURL string
	// Reservations reads a reservation at send time: a reminder of a
	// cancelled or moved reservation is dropped, and mails name the
	// provider. Nil: neither.
	Reservations ReservationLookup
	Now          func() time.Time // default time.Now
	Logger       *slog.Logger     // default: discard
}

// Service renders and sends a tenant's mails and keeps its templates,
// settings and delivery records, all in the tenant's database (each method
// takes it). It is safe for concurrent use.
type Service struct {
	now          func() time.Time
	log          *slog.Logger
	smtp         SMTPConfig // zero: no server
	from         string
	idHost       string
	platformName string
	siteURL      string
	lookup       ReservationLookup
	defaults     defaults
	compiled     map[string]compiled // the defaults, parsed once
	validate     *validator.Validate
	store        store
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// NewService returns a mail service. It fails for a bad From or
// MessageIDHost and for built-in templates that do not render.
func NewService(cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Templates == nil {
		sub, err := fs.Sub(web.FS, "mail")
		if err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
		cfg.Templates = sub
	}
	if cfg.PlatformName = oneLine(cfg.PlatformName); cfg.PlatformName == "" {
		cfg.PlatformName = "Yoyaku"
	}
	s := &Service{now: cfg.Now, log: cfg.Logger, validate: validate.New(), platformName: cfg.PlatformName,
		siteURL: strings.TrimRight(cfg.SiteURL, "/"), lookup: cfg.Reservations}
	if cfg.From != "" {
		if _, ok := bareAddress(cfg.From); !ok {
			return nil, fmt.Errorf("notify: the from-address %q is not one plain address", cfg.From)
		}
		s.from = cfg.From
		s.idHost = strings.ToLower(cfg.From[strings.LastIndexByte(cfg.From, '@')+1:])
	}
	if cfg.MessageIDHost != "" {
		s.idHost = strings.ToLower(cfg.MessageIDHost)
	}
	if s.idHost != "" && !hostRE.MatchString(s.idHost) {
		return nil, fmt.Errorf("notify: Message-ID host %q is not a host name", s.idHost)
	}
	if cfg.SMTP.Configured() {
		if s.from == "" {
			return nil, errors.New("notify: an SMTP server needs a from-address")
		}
		if _, err := newClient(cfg.SMTP); err != nil { // checked once here; each delivery makes its own
			return nil, err
		}
		s.smtp = cfg.SMTP
	}
	var err error
	if s.defaults, err = loadDefaults(cfg.Templates); err != nil {
		return nil, err
	}
	s.compiled = make(map[string]compiled, len(s.defaults))
	for k, c := range s.defaults {
		s.compiled[k], _ = compile(c) // checked by loadDefaults
	}
	return s, nil
}

// clock returns now in UTC at the precision both engines store.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// pickLang is the mail's language: the payload's, else the tenant's, else
// Japanese.
func pickLang(langs ...string) string {
	for _, l := range langs {
		if slices.Contains(Langs, l) {
			return l
		}
	}
	return LangJapanese
}

func (s *Service) renderContext(t TenantInfo, lang string) renderContext {
	return renderContext{tenant: t, lang: lang, loc: zone(t.TimeZone), now: s.now(), siteURL: s.siteURL}
}

func sampleContext(lang string) renderContext {
	return renderContext{tenant: sampleTenant, lang: lang, loc: zone(sampleTenant.TimeZone), now: sampleTime,
		siteURL: "https://yoyaku.example.jp"}
}

// Deliver sends the mail of one event: to its recipient and, when the
// tenant asked for copies of eventType, to each of the tenant's contact
// addresses as a message of its own. It is the outbox handler's body
// (eventID is the outbox event's id) and may be called more than once for
// one event: a message already recorded as sent is not sent again, and a
// message re-sent after a crash carries the same Message-ID.
//
// db is the tenant's database with no transaction open (as the outbox
// hands it to its handlers): each attempt's record is written as it ends,
// and no transaction is held while the SMTP server is talked to. ctx's
// deadline (the outbox's lease) bounds the SMTP conversation. On failure
// the error says what happened without naming an address; Permanent tells
// whether retrying can help.
func (s *Service) Deliver(ctx context.Context, db bun.IDB, t TenantInfo, eventID, eventType string, payload json.RawMessage) error {
	def, ok := events[eventType]
	if !ok {
		return ErrUnknownEvent.WithCause(fmt.Errorf("notify: no mail for event type %q", eventType))
	}
	if eventID == "" || len(eventID) > 128 {
		return ErrBadEvent.WithCause(errors.New("notify: an event id has 1 to 128 characters"))
	}
	p, err := def.decode(payload, s.validate)
	if err != nil {
		return ErrBadEvent.WithCause(fmt.Errorf("notify: payload of %s event %s: %w", eventType, eventID, err))
	}
	if !s.smtp.Configured() {
		return ErrNotConfigured
	}
	if rm, ok := p.(ReservationMail); ok {
		stale, err := s.stale(ctx, db, eventType, &rm)
		if err != nil {
			return err
		}
		if stale {
			s.log.InfoContext(ctx, "reminder of a cancelled or moved reservation not sent", "event_id", eventID)
			return nil
		}
		p = rm
	}
	settings, err := s.store.settings(ctx, db, false)
	if err != nil {
		return err
	}
	lang := pickLang(p.language(), t.Locale)
	var envs []envelope
	primary := ""
	if p.recipient() != "" || !def.optionalRecipient {
		if primary, ok = bareAddress(p.recipient()); !ok {
			return ErrBadEvent.WithCause(fmt.Errorf("notify: %s event %s: the recipient is not an address", eventType, eventID))
		}
		envs = append(envs, envelope{to: p.recipient(), key: primary, lang: lang, messageID: messageID(eventID, s.idHost, primary, false)})
	}
	if def.copyable && slices.Contains(settings.CopyEvents, eventType) {
		seen := map[string]bool{primary: true}
		for _, addr := range t.ContactEmails {
			addr = strings.TrimSpace(addr)
			key, ok := bareAddress(addr)
			if !ok || seen[key] {
				continue
			}
			seen[key] = true
			envs = append(envs, envelope{to: addr, key: key, copy: true, lang: pickLang(t.Locale), messageID: messageID(eventID, s.idHost, key, true)})
		}
	}

	recs, err := s.store.eventDeliveries(ctx, db, eventID)
	if err != nil {
		return err
	}
	var todo []envelope
	for _, e := range envs {
		if r, ok := recs[e.key]; ok && r.Status == string(StatusSent) {
			continue
		}
		todo = append(todo, e)
	}
	if len(todo) == 0 {
		s.log.DebugContext(ctx, "mail already sent", "event_id", eventID)
		return nil
	}
	rendered := map[string]Rendered{}
	for _, e := range todo {
		if _, ok := rendered[renderKey(e)]; ok {
			continue
		}
		pe := p
		if cp, ok := p.(copyPayload); ok && e.copy {
			pe = cp.forCopy()
		}
		r, err := s.renderEvent(ctx, db, t, eventType, e.lang, pe)
		if err != nil {
			return err
		}
		rendered[renderKey(e)] = r
	}
	return s.send(ctx, db, eventID, eventType, p, todo, recs, rendered, settings, t)
}

// renderKey keys a rendering: by language, and apart for copies, whose
// payload may leave out what is the recipient's alone.
func renderKey(e envelope) string {
	if e.copy {
		return e.lang + "/copy"
	}
	return e.lang
}

// send sends todo over one connection and records each outcome.
func (s *Service) send(ctx context.Context, db bun.IDB, eventID, eventType string, p payload, todo []envelope, recs map[string]deliveryRow,
	rendered map[string]Rendered, settings Settings, t TenantInfo) error {
	h := header{fromName: senderName(settings, t), from: s.from, replyTo: settings.ReplyTo, date: s.clock()}
	if events[eventType].platform {
		// The operator writes to the tenant: its own sender, no tenant Reply-To.
		h.fromName, h.replyTo = s.platformName, ""
	}
	msgs := make([]*gomail.Msg, len(todo))
	for i, e := range todo {
		eh := h
		if cp, ok := p.(calendarPayload); ok && !e.copy {
			// The recipient's own calendar entry; copies carry none.
			part, ok := cp.calendar(eventType, calendarContext{host: s.calendarHost(), organizer: s.from, name: t.Name,
				now: h.date, lang: e.lang})
			if ok {
				eh.calendar = &part
			}
		}
		m, err := buildMessage(e, eh, rendered[renderKey(e)])
		if err != nil {
			return ErrBadEvent.WithCause(fmt.Errorf("notify: %s event %s: %w", eventType, eventID, err))
		}
		msgs[i] = m
	}
	connErr := s.sendAll(ctx, msgs)

	now := s.clock()
	var failures []sendFailure
	var recErr error
	for i, e := range todo {
		row := deliveryRow{
			EventID: eventID, Recipient: e.key, EventType: eventType, IsCopy: e.copy, Lang: e.lang,
			MessageID: e.messageID, UpdatedAt: now,
		}
		if msgs[i].IsDelivered() {
			row.Status, row.SentAt = string(StatusSent), now
			s.log.InfoContext(ctx, "mail sent", "event_id", eventID, "message_id", e.messageID, "event_type", eventType, "copy", e.copy)
		} else {
			f := classify(msgs[i].SendError(), connErr)
			row.Status, row.Error = string(StatusFailed), cutRunes(f.summary, 1000)
			failures = append(failures, f)
			s.log.WarnContext(ctx, "mail not sent", "event_id", eventID, "message_id", e.messageID, "event_type", eventType,
				"copy", e.copy, "permanent", f.permanent, "error", f.summary)
		}
		_, exists := recs[e.key]
		if err := s.store.recordDelivery(ctx, db, row, exists); err != nil && recErr == nil {
			recErr = err
			s.log.ErrorContext(ctx, "mail delivery not recorded", "event_id", eventID, "message_id", e.messageID, "error", err)
		}
	}
	if len(failures) > 0 {
		cause := fmt.Errorf("notify: %s event %s: %d of %d messages not sent: %s", eventType, eventID, len(failures), len(todo), failures[0].summary)
		if !slices.ContainsFunc(failures, func(f sendFailure) bool { return !f.permanent }) {
			return ErrRejected.WithCause(cause)
		}
		return ErrUnavailable.WithCause(cause)
	}
	// A sent message that was not recorded would be sent again on the
	// retry this error causes: with the same Message-ID, which is the best
	// that can be done.
	return recErr
}

// sendAll sends msgs over one connection and returns the connection's
// error (nil when each message carries its own outcome). Each command's
// timeout is cut to what is left of ctx (the outbox's lease), since
// go-mail honours ctx only while it dials.
func (s *Service) sendAll(ctx context.Context, msgs []*gomail.Msg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := s.smtp
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < cfg.Timeout {
			cfg.Timeout = max(left, time.Second)
		}
	}
	cl, err := newClient(cfg)
	if err != nil {
		return err
	}
	conn, err := cl.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = cl.CloseWithSMTPClient(conn) }()
	// Each message keeps its own error (Msg.SendError); the joined one
	// adds nothing.
	_ = cl.SendWithSMTPClient(conn, msgs...)
	return nil
}

// calendarHost is the right-hand side of .ics UIDs, as in Message-IDs
// (yoyaku.HOST): one reservation keeps one UID in every mail.
func (s *Service) calendarHost() string {
	if s.idHost != "" {
		return "yoyaku." + s.idHost
	}
	return "yoyaku.invalid"
}

func senderName(st Settings, t TenantInfo) string {
	for _, n := range []string{st.SenderName, t.Name} {
		if n = oneLine(n); n != "" {
			return n
		}
	}
	return "Yoyaku"
}

// current returns the template of typ in lang: the tenant's own, or the
// default.
func (s *Service) current(ctx context.Context, db bun.IDB, typ, lang string) (Template, error) {
	if events[typ].platform {
		return Template{EventType: typ, Lang: lang, TemplateContent: s.defaults[typ+"/"+lang]}, nil
	}
	r, ok, err := s.store.template(ctx, db, typ, lang)
	if err != nil {
		return Template{}, err
	}
	if !ok {
		return Template{EventType: typ, Lang: lang, TemplateContent: s.defaults[typ+"/"+lang]}, nil
	}
	return Template{
		EventType: typ, Lang: lang, Custom: true, UpdatedAt: dbx.UTC(r.UpdatedAt),
		TemplateContent: TemplateContent{Subject: r.Subject, Text: r.BodyText, HTML: r.BodyHTML},
	}, nil
}

// renderEvent renders the mail of payload p with the tenant's template. A
// tenant's template passed the checks when it was saved; should it fail
// anyway, the default is used, so that the mail still goes out.
func (s *Service) renderEvent(ctx context.Context, db bun.IDB, t TenantInfo, typ, lang string, p payload) (Rendered, error) {
	vars := p.vars(s.renderContext(t, lang))
	cur, err := s.current(ctx, db, typ, lang)
	if err != nil {
		return Rendered{}, err
	}
	if cur.Custom {
		r, err := renderContent(cur.TemplateContent, vars)
		if err == nil {
			return r, nil
		}
		// The error's detail could quote data; only its fields are logged.
		s.log.WarnContext(ctx, "tenant mail template failed; the default is used", "event_type", typ, "lang", lang, "fields", fieldCodes(err))
	}
	r, fields := s.compiled[typ+"/"+lang].render(vars)
	if len(fields) > 0 {
		return Rendered{}, apperr.Wrap(apperr.KindInternal, "internal", fmt.Errorf("notify: default template %s/%s: %w", lang, typ, apperr.Invalid(fields...)))
	}
	return r, nil
}

// renderContent parses and renders c with vars.
func renderContent(c TemplateContent, vars map[string]any) (Rendered, error) {
	tpl, fields := compile(c)
	if len(fields) > 0 {
		return Rendered{}, apperr.Invalid(fields...)
	}
	r, fields := tpl.render(vars)
	if len(fields) > 0 {
		return Rendered{}, apperr.Invalid(fields...)
	}
	return r, nil
}

func fieldCodes(err error) []string {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return nil
	}
	var out []string
	for _, f := range ae.Fields {
		out = append(out, f.Field+":"+f.Code)
	}
	return out
}

// checkTypeLang refuses an unknown event type or language, for the
// tenant's template operations: the platform's own mails (operator
// notices) are not the tenant's to see or edit, so they are unknown here.
func checkTypeLang(typ, lang string) error {
	if def, ok := events[typ]; !ok || def.platform {
		return ErrUnknownEvent
	}
	if !slices.Contains(Langs, lang) {
		return apperr.Invalid(apperr.Field("lang", "oneof", map[string]any{"Param": strings.Join(Langs, " ")}))
	}
	return nil
}

// Template returns the template of typ in lang: the tenant's own, or the
// default.
func (s *Service) Template(ctx context.Context, db bun.IDB, typ, lang string) (Template, error) {
	if err := checkTypeLang(typ, lang); err != nil {
		return Template{}, err
	}
	return s.current(ctx, db, typ, lang)
}

// Templates returns the template of every event type in every language,
// by type then language.
func (s *Service) Templates(ctx context.Context, db bun.IDB) ([]Template, error) {
	rows, err := s.store.templates(ctx, db)
	if err != nil {
		return nil, err
	}
	own := map[string]templateRow{}
	for _, r := range rows {
		own[r.EventType+"/"+r.Lang] = r
	}
	var out []Template
	for _, et := range EventTypes() {
		if et.Platform {
			continue
		}
		for _, lang := range Langs {
			if r, ok := own[et.Type+"/"+lang]; ok {
				out = append(out, Template{
					EventType: et.Type, Lang: lang, Custom: true, UpdatedAt: dbx.UTC(r.UpdatedAt),
					TemplateContent: TemplateContent{Subject: r.Subject, Text: r.BodyText, HTML: r.BodyHTML},
				})
				continue
			}
			out = append(out, Template{EventType: et.Type, Lang: lang, TemplateContent: s.defaults[et.Type+"/"+lang]})
		}
	}
	return out, nil
}

// DefaultTemplate returns the built-in template of typ in lang.
func (s *Service) DefaultTemplate(typ, lang string) (TemplateContent, error) {
	if err := checkTypeLang(typ, lang); err != nil {
		return TemplateContent{}, err
	}
	return s.defaults[typ+"/"+lang], nil
}

// SaveTemplate makes c the tenant's template of typ in lang. A template
// that does not parse, or does not render with the sample data of typ, is
// refused with field errors (subject, body_text, body_html) and nothing
// changes. The change is written to the operation log
// (mail_template.update) in its transaction.
func (s *Service) SaveTemplate(ctx context.Context, db bun.IDB, typ, lang string, c TemplateContent) (Template, error) {
	if err := checkTypeLang(typ, lang); err != nil {
		return Template{}, err
	}
	c = normalize(c)
	if _, err := check(typ, lang, c, sampleContext(lang)); err != nil {
		return Template{}, err
	}
	var out Template
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		old, err := s.current(ctx, tx, typ, lang)
		if err != nil {
			return err
		}
		if old.Custom && old.TemplateContent == c {
			out = old
			return nil
		}
		now := s.clock()
		row := templateRow{EventType: typ, Lang: lang, Subject: c.Subject, BodyText: c.Text, BodyHTML: c.HTML, UpdatedAt: now}
		if err := s.store.putTemplate(ctx, tx, row, old.Custom); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("subject", old.Subject, c.Subject)
		ch.Add("body_text", old.Text, c.Text)
		ch.Add("body_html", old.HTML, c.HTML)
		ch.Add("custom", old.Custom, true)
		if err := audit(ctx, tx, "mail_template.update", "mail_template", typ+"/"+lang, ch); err != nil {
			return err
		}
		out = Template{EventType: typ, Lang: lang, TemplateContent: c, Custom: true, UpdatedAt: now}
		return nil
	})
	return out, err
}

// ResetTemplate drops the tenant's template of typ in lang, so the default
// applies again; the change is logged (mail_template.reset). Resetting a
// default changes nothing.
func (s *Service) ResetTemplate(ctx context.Context, db bun.IDB, typ, lang string) (Template, error) {
	if err := checkTypeLang(typ, lang); err != nil {
		return Template{}, err
	}
	def := Template{EventType: typ, Lang: lang, TemplateContent: s.defaults[typ+"/"+lang]}
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		old, err := s.current(ctx, tx, typ, lang)
		if err != nil || !old.Custom {
			return err
		}
		if _, err := s.store.deleteTemplate(ctx, tx, typ, lang); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("subject", old.Subject, def.Subject)
		ch.Add("body_text", old.Text, def.Text)
		ch.Add("body_html", old.HTML, def.HTML)
		ch.Add("custom", true, false)
		return audit(ctx, tx, "mail_template.reset", "mail_template", typ+"/"+lang, ch)
	})
	if err != nil {
		return Template{}, err
	}
	return def, nil
}

// Preview renders the template of typ in lang with sample data and the
// tenant's name and time zone: draft when given (checked as SaveTemplate
// checks it, with the same field errors), else the tenant's current one.
func (s *Service) Preview(ctx context.Context, db bun.IDB, t TenantInfo, typ, lang string, draft *TemplateContent) (Rendered, error) {
	if err := checkTypeLang(typ, lang); err != nil {
		return Rendered{}, err
	}
	sample := events[typ].sample(lang)
	if draft == nil {
		return s.renderEvent(ctx, db, t, typ, lang, sample)
	}
	c := normalize(*draft)
	if _, err := check(typ, lang, c, sampleContext(lang)); err != nil {
		return Rendered{}, err
	}
	return renderContent(c, sample.vars(s.renderContext(t, lang)))
}

// SendTest renders a template with sample data (the draft when given, else
// the tenant's current template of p.EventType, mail.test by default) and
// sends it at once to p.To, with the tenant's sender name and reply-to. It
// is recorded like any mail, under a fresh event id "test-...", and
// returns that record.
func (s *Service) SendTest(ctx context.Context, db bun.IDB, t TenantInfo, p TestParams) (Delivery, error) {
	p.To = strings.TrimSpace(p.To)
	if err := validate.Struct(s.validate, p); err != nil {
		return Delivery{}, err
	}
	typ := p.EventType
	if typ == "" {
		typ = EventMailTest
	}
	lang := pickLang(p.Lang, t.Locale)
	if err := checkTypeLang(typ, lang); err != nil {
		return Delivery{}, err
	}
	key, ok := bareAddress(p.To)
	if !ok {
		return Delivery{}, apperr.Invalid(apperr.Field("to", "email", nil))
	}
	sample := events[typ].sample(lang)
	if mt, ok := sample.(MailTest); ok {
		mt.To, mt.RequestedBy = p.To, p.RequestedBy
		sample = mt
	}
	var r Rendered
	var err error
	if p.Draft != nil {
		c := normalize(*p.Draft)
		if _, err := check(typ, lang, c, sampleContext(lang)); err != nil {
			return Delivery{}, err
		}
		r, err = renderContent(c, sample.vars(s.renderContext(t, lang)))
	} else {
		r, err = s.renderEvent(ctx, db, t, typ, lang, sample)
	}
	if err != nil {
		return Delivery{}, err
	}
	if !s.smtp.Configured() {
		return Delivery{}, ErrNotConfigured
	}
	settings, err := s.store.settings(ctx, db, false)
	if err != nil {
		return Delivery{}, err
	}
	u, err := uuid.NewV7()
	if err != nil {
		return Delivery{}, apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	eventID := "test-" + hex.EncodeToString(u[:])
	env := envelope{to: p.To, key: key, lang: lang, messageID: messageID(eventID, s.idHost, key, false)}
	sendErr := s.send(ctx, db, eventID, typ, sample, []envelope{env}, nil, map[string]Rendered{lang: r}, settings, t)
	recs, err := s.store.eventDeliveries(ctx, db, eventID)
	if err != nil {
		return Delivery{}, err
	}
	d := fromDeliveryRow(recs[key])
	return d, sendErr
}

// Settings returns the tenant's mail settings.
func (s *Service) Settings(ctx context.Context, db bun.IDB) (Settings, error) {
	return s.store.settings(ctx, db, false)
}

// UpdateSettings replaces the tenant's mail settings: the sender name, the
// reply-to address, and the event types copied to the contact addresses
// (only copyable ones). The change is logged (mail_settings.update).
func (s *Service) UpdateSettings(ctx context.Context, db bun.IDB, p SettingsParams) (Settings, error) {
	p.SenderName = strings.TrimSpace(p.SenderName)
	p.ReplyTo = strings.TrimSpace(p.ReplyTo)
	if err := validate.Struct(s.validate, p); err != nil {
		return Settings{}, err
	}
	var v apperr.Validator
	if p.ReplyTo != "" {
		_, ok := bareAddress(p.ReplyTo)
		v.Check(ok, "reply_to", "email", nil)
	}
	events := []string{}
	for i, typ := range p.CopyEvents {
		field := fmt.Sprintf("copy_events[%d]", i)
		switch def, ok := eventDefOf(typ); {
		case !ok:
			v.Add(field, "mail_event", nil)
		case !def.copyable:
			v.Add(field, "mail_copy_not_allowed", nil)
		case slices.Contains(events, typ):
			v.Add(field, "duplicate", nil)
		default:
			events = append(events, typ)
		}
	}
	if err := v.Err(); err != nil {
		return Settings{}, err
	}
	slices.Sort(events)
	var out Settings
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		old, err := s.store.settings(ctx, tx, true)
		if err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("sender_name", old.SenderName, p.SenderName)
		ch.Add("reply_to", old.ReplyTo, p.ReplyTo)
		ch.Add("copy_events", old.CopyEvents, events)
		if len(ch) == 0 {
			out = old
			return nil
		}
		out = Settings{SenderName: p.SenderName, ReplyTo: p.ReplyTo, CopyEvents: events, UpdatedAt: s.clock()}
		if err := s.store.putSettings(ctx, tx, out); err != nil {
			return err
		}
		return audit(ctx, tx, "mail_settings.update", "mail_settings", "mail", ch)
	})
	return out, err
}

func eventDefOf(typ string) (eventDef, bool) {
	d, ok := events[typ]
	return d, ok
}

// Deliveries lists delivery records, newest first.
func (s *Service) Deliveries(ctx context.Context, db bun.IDB, f DeliveryFilter) ([]Delivery, error) {
	switch {
	case f.Limit <= 0:
		f.Limit = 100
	case f.Limit > 1000:
		f.Limit = 1000
	}
	return s.store.listDeliveries(ctx, db, f)
}

// audit appends one operation-log entry in tx.
func audit(ctx context.Context, tx bun.IDB, action, objectType, objectID string, ch auditlog.Changes) error {
	if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: action, ObjectType: objectType, ObjectID: objectID, Changes: ch}); err != nil {
		return apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	return nil
}
