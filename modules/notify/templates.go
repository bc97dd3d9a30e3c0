package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/validate"
)

// Limits of a template, in characters, and of what it renders, in bytes.
const (
	maxSubjectChars    = 500
	maxTextChars       = 20000
	maxHTMLChars       = 50000
	maxSubjectOutput   = 2000
	maxBodyOutput      = 1 << 20
	maxRenderedSubject = 250 // characters of a rendered subject; the rest is cut
)

// payload is an event's decoded payload.
type payload interface {
	recipient() string
	language() string
	// vars returns the template variables. Every payload of a type yields
	// the same keys, so a template that renders with the sample renders
	// with any event of its type.
	vars(rc renderContext) map[string]any
}

// renderContext is what variables need besides the payload.
type renderContext struct {
	tenant TenantInfo
	lang   string
	loc    *time.Location
	now    time.Time
	// siteURL is the platform's public address (links to the booking
	// site); "" leaves them out.
	siteURL string
}

// eventDef is one event type: how to read its payload and a sample.
type eventDef struct {
	copyable bool
	platform bool // the operator's mail: not editable, platform sender
	// optionalRecipient: the payload may name no recipient; then only the
	// tenant's copies (if any) go out.
	optionalRecipient bool
	decode            func(raw json.RawMessage, v *validator.Validate) (payload, error)
	sample            func(lang string) payload
}

func decodeAs[T payload](raw json.RawMessage, v *validator.Validate) (payload, error) {
	var p T
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	if err := validate.Struct(v, p); err != nil {
		return nil, err
	}
	return p, nil
}

// events are the event types this module mails.
var events = map[string]eventDef{
	EventStaffInvited: {
		decode: decodeAs[StaffInvited],
		sample: func(lang string) payload {
			return StaffInvited{
				Email: "hanako@example.jp", DisplayName: sampleName(lang, "予約 花子", "Hanako Yoyaku"),
				SetupURL: "https://yoyaku.example.jp/t/sample/admin/setup?token=SAMPLE", Inviter: sampleName(lang, "山田 太郎", "Taro Yamada"),
				ExpiresAt: sampleTime.Add(72 * time.Hour),
			}
		},
	},
	EventStaffPasswordReset: {
		decode: decodeAs[StaffPasswordReset],
		sample: func(lang string) payload {
			return StaffPasswordReset{
				Email: "hanako@example.jp", DisplayName: sampleName(lang, "予約 花子", "Hanako Yoyaku"),
				ResetURL: "https://yoyaku.example.jp/t/sample/admin/reset?token=SAMPLE", ExpiresAt: sampleTime.Add(time.Hour),
			}
		},
	},
	EventStaff2FAChanged: {
		copyable: true,
		decode:   decodeAs[Staff2FAChanged],
		sample: func(lang string) payload {
			return Staff2FAChanged{
				Email: "hanako@example.jp", DisplayName: sampleName(lang, "予約 花子", "Hanako Yoyaku"),
				Enabled: true, ChangedBy: sampleName(lang, "山田 太郎", "Taro Yamada"), At: sampleTime,
			}
		},
	},
	EventNoticePublished: {
		platform: true,
		decode:   decodeAs[NoticePublished],
		sample: func(lang string) payload {
			return NoticePublished{
				Email: "owner@example.jp", NoticeID: "0193a4c2b7d97f3e8a1b2c3d4e5f6071", Revision: 1, Kind: "maintenance",
				Title:    sampleName(lang, "定期メンテナンスのお知らせ", "Scheduled maintenance"),
				Body:     sampleName(lang, "サービスを一時停止します。", "The service will be stopped for a while."),
				StartsAt: sampleTime.Add(15 * 24 * time.Hour), EndsAt: sampleTime.Add(15*24*time.Hour + 2*time.Hour),
			}
		},
	},
	EventMemberVerify: {
		decode: decodeAs[MemberVerify],
		sample: func(lang string) payload {
			return MemberVerify{
				Email: "hanako@example.jp", Name: sampleName(lang, "予約 花子", "Hanako Yoyaku"),
				VerifyURL: "https://yoyaku.example.jp/t/sample/verify/SAMPLE", ExpiresAt: sampleTime.Add(24 * time.Hour),
			}
		},
	},
	EventMemberPasswordReset: {
		decode: decodeAs[MemberPasswordReset],
		sample: func(lang string) payload {
			return MemberPasswordReset{
				Email: "hanako@example.jp", Name: sampleName(lang, "予約 花子", "Hanako Yoyaku"),
				ResetURL: "https://yoyaku.example.jp/t/sample/reset/SAMPLE", ExpiresAt: sampleTime.Add(time.Hour),
			}
		},
	},
	EventReservationCreated:   reservationDef(),
	EventReservationConfirmed: reservationDef(),
	EventReservationRejected:  reservationDef(),
	EventReservationChanged:   reservationDef(),
	EventReservationCancelled: reservationDef(),
	EventReservationReminder:  reservationDef(),
	EventWaitlistOffer:        waitlistDef(),
	EventWaitlistExpired:      waitlistDef(),
	EventMailTest: {
		copyable: true,
		decode:   decodeAs[MailTest],
		sample: func(lang string) payload {
			return MailTest{To: "hanako@example.jp", RequestedBy: sampleName(lang, "山田 太郎", "Taro Yamada")}
		},
	},
}

// sampleTime is the instant of sample data (a Thursday).
var sampleTime = time.Date(2026, 12, 10, 1, 0, 0, 0, time.UTC)

func sampleName(lang, ja, en string) string {
	if lang == LangEnglish {
		return en
	}
	return ja
}

// sampleTenant stands for the tenant when templates are checked on save.
var sampleTenant = TenantInfo{ID: "sample", Slug: "sample", Name: "サンプル予約店", Locale: LangJapanese, TimeZone: "Asia/Tokyo"}

func (p StaffInvited) recipient() string { return p.Email }
func (p StaffInvited) language() string  { return p.Lang }
func (p StaffInvited) vars(rc renderContext) map[string]any {
	return withTenant(rc, map[string]any{
		"Email": p.Email, "DisplayName": orEmail(p.DisplayName, p.Email), "SetupURL": p.SetupURL,
		"Inviter": p.Inviter, "ExpiresAt": formatTime(p.ExpiresAt, rc),
	})
}

func (p StaffPasswordReset) recipient() string { return p.Email }
func (p StaffPasswordReset) language() string  { return p.Lang }
func (p StaffPasswordReset) vars(rc renderContext) map[string]any {
	return withTenant(rc, map[string]any{
		"Email": p.Email, "DisplayName": orEmail(p.DisplayName, p.Email), "ResetURL": p.ResetURL,
		"ExpiresAt": formatTime(p.ExpiresAt, rc),
	})
}

func (p Staff2FAChanged) recipient() string { return p.Email }
func (p Staff2FAChanged) language() string  { return p.Lang }
func (p Staff2FAChanged) vars(rc renderContext) map[string]any {
	at := p.At
	if at.IsZero() {
		at = rc.now
	}
	return withTenant(rc, map[string]any{
		"Email": p.Email, "DisplayName": orEmail(p.DisplayName, p.Email), "Enabled": p.Enabled,
		"ChangedBy": p.ChangedBy, "ChangedAt": formatTime(at, rc),
	})
}

func (p MemberVerify) recipient() string { return p.Email }
func (p MemberVerify) language() string  { return p.Lang }
func (p MemberVerify) vars(rc renderContext) map[string]any {
	return withTenant(rc, map[string]any{
		"Email": p.Email, "DisplayName": orEmail(p.Name, p.Email), "VerifyURL": p.VerifyURL,
		"ExpiresAt": formatTime(p.ExpiresAt, rc),
	})
}

func (p MemberPasswordReset) recipient() string { return p.Email }
func (p MemberPasswordReset) language() string  { return p.Lang }
func (p MemberPasswordReset) vars(rc renderContext) map[string]any {
	return withTenant(rc, map[string]any{
		"Email": p.Email, "DisplayName": orEmail(p.Name, p.Email), "ResetURL": p.ResetURL,
		"ExpiresAt": formatTime(p.ExpiresAt, rc),
	})
}

func (p MailTest) recipient() string { return p.To }
func (p MailTest) language() string  { return p.Lang }
func (p MailTest) vars(rc renderContext) map[string]any {
	return withTenant(rc, map[string]any{
		"To": p.To, "RequestedBy": p.RequestedBy, "SentAt": formatTime(rc.now, rc),
	})
}

func (p NoticePublished) recipient() string { return p.Email }
func (p NoticePublished) language() string  { return p.Lang }
func (p NoticePublished) vars(rc renderContext) map[string]any {
	return withTenant(rc, map[string]any{
		"Email": p.Email, "Kind": p.Kind, "KindLabel": noticeKindLabel(p.Kind, rc.lang),
		"Maintenance": p.Kind == "maintenance", "EndOfService": p.Kind == "end_of_service",
		"Title": p.Title, "Body": p.Body, "StartsAt": formatTime(p.StartsAt, rc), "EndsAt": formatTime(p.EndsAt, rc),
		"Urgent": p.Urgent, "Updated": p.Revision > 1,
	})
}

// noticeKindLabel names a notice's kind in lang.
func noticeKindLabel(kind, lang string) string {
	labels := map[string][2]string{
		"info":           {"お知らせ", "Information"},
		"maintenance":    {"メンテナンス", "Maintenance"},
		"incident":       {"障害", "Incident"},
		"end_of_service": {"サービス終了", "End of service"},
	}
	l, ok := labels[kind]
	if !ok {
		return kind
	}
	if lang == LangEnglish {
		return l[1]
	}
	return l[0]
}

// withTenant adds the variables every mail has.
func withTenant(rc renderContext, m map[string]any) map[string]any {
	m["TenantName"] = rc.tenant.Name
	return m
}

func orEmail(name, email string) string {
	if strings.TrimSpace(name) == "" {
		return email
	}
	return name
}

var weekdaysJa = []string{"日", "月", "火", "水", "木", "金", "土"}

// formatTime writes t in the tenant's zone the way the UI does
// ("2026年12月10日(木) 10:00 JST", "Thu, 10 Dec 2026 10:00 JST"), or ""
// for the zero time.
func formatTime(t time.Time, rc renderContext) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(rc.loc)
	if rc.lang == LangEnglish {
		return t.Format("Mon, 2 Jan 2006 15:04 MST")
	}
	return fmt.Sprintf("%d年%d月%d日(%s) %s", t.Year(), t.Month(), t.Day(), weekdaysJa[t.Weekday()], t.Format("15:04 MST"))
}

// EventTypes lists the event types this module mails, sorted.
func EventTypes() []EventType {
	out := make([]EventType, 0, len(events))
	for typ, def := range events {
		rc := renderContext{tenant: sampleTenant, lang: LangJapanese, loc: time.UTC, now: sampleTime}
		var names []string
		for k := range def.sample(LangJapanese).vars(rc) {
			names = append(names, k)
		}
		slices.Sort(names)
		out = append(out, EventType{Type: typ, Copyable: def.copyable, Platform: def.platform, Variables: names})
	}
	slices.SortFunc(out, func(a, b EventType) int { return strings.Compare(a.Type, b.Type) })
	return out
}

// Handles reports whether eventType has a mail.
func Handles(eventType string) bool {
	_, ok := events[eventType]
	return ok
}

// defaults holds the built-in templates, keyed by "<type>/<lang>".
type defaults map[string]TemplateContent

// loadDefaults reads the built-in templates from fsys: for every event type
// and language, <lang>/<type>.subject.txt and <lang>/<type>.txt, and
// <lang>/<type>.html when present. Each must pass the checks a tenant's
// template passes, so a broken default fails at start-up, not at send time.
func loadDefaults(fsys fs.FS) (defaults, error) {
	d := defaults{}
	for typ := range events {
		for _, lang := range Langs {
			read := func(name string, required bool) (string, error) {
				b, err := fs.ReadFile(fsys, path.Join(lang, typ+name))
				if errors.Is(err, fs.ErrNotExist) && !required {
					return "", nil
				}
				if err != nil {
					return "", fmt.Errorf("notify: default template: %w", err)
				}
				return string(b), nil
			}
			var c TemplateContent
			var err error
			if c.Subject, err = read(".subject.txt", true); err != nil {
				return nil, err
			}
			c.Subject = strings.TrimRight(c.Subject, "\r\n")
			if c.Text, err = read(".txt", true); err != nil {
				return nil, err
			}
			if c.HTML, err = read(".html", false); err != nil {
				return nil, err
			}
			c = normalize(c)
			if _, err := check(typ, lang, c, sampleContext(lang)); err != nil {
				return nil, fmt.Errorf("notify: default template %s/%s: %w", lang, typ, err)
			}
			d[typ+"/"+lang] = c
		}
	}
	return d, nil
}

// normalize gives line breaks one form.
func normalize(c TemplateContent) TemplateContent {
	nl := strings.NewReplacer("\r\n", "\n", "\r", "\n")
	c.Text = nl.Replace(c.Text)
	c.HTML = nl.Replace(c.HTML)
	if strings.TrimSpace(c.HTML) == "" {
		c.HTML = ""
	}
	return c
}

// compiled is a parsed template.
type compiled struct {
	subject *template.Template
	text    *template.Template
	html    *htmltemplate.Template // nil: text only
}

// templateFuncs are the only functions a template may call: comparisons
// and logic for conditions. Everything that can build large output or call
// into data (printf, slice, call, index...) is left out, as are
// define/template/block: a template is one tree that ends quickly.
var templateFuncs = []string{"and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len"}

// compile parses c. Its errors are field errors of the fields of c.
func compile(c TemplateContent) (compiled, []apperr.FieldError) {
	var out compiled
	var fields []apperr.FieldError
	parseText := func(field, src string) *template.Template {
		t, err := template.New(field).Option("missingkey=error").Parse(src)
		if err == nil {
			err = restricted(t.Templates(), treeOf)
		}
		if err != nil {
			fields = append(fields, templateError(field, "template_syntax", err))
			return nil
		}
		return t
	}
	out.subject = parseText("subject", c.Subject)
	out.text = parseText("body_text", c.Text)
	if c.HTML != "" {
		t, err := htmltemplate.New("body_html").Option("missingkey=error").Parse(c.HTML)
		if err == nil {
			err = restricted(t.Templates(), func(t *htmltemplate.Template) *parse.Tree { return t.Tree })
		}
		if err != nil {
			fields = append(fields, templateError("body_html", "template_syntax", err))
		} else {
			out.html = t
		}
	}
	return out, fields
}

func treeOf(t *template.Template) *parse.Tree { return t.Tree }

// restricted refuses the constructs a template may not use.
func restricted[T any](ts []T, tree func(T) *parse.Tree) error {
	if len(ts) != 1 {
		return errors.New("define and block are not allowed")
	}
	t := tree(ts[0])
	if t == nil || t.Root == nil {
		return nil
	}
	return walker{t}.list(t.Root)
}

// walker checks a parse tree against the allowed subset: text, actions
// on data, if/with/range (range only over data), the functions of
// templateFuncs.
type walker struct{ tree *parse.Tree }

func (w walker) fail(n parse.Node, format string, args ...any) error {
	loc, _ := w.tree.ErrorContext(n)
	return fmt.Errorf("%s: %s", loc, fmt.Sprintf(format, args...))
}

func (w walker) list(l *parse.ListNode) error {
	if l == nil {
		return nil
	}
	for _, n := range l.Nodes {
		if err := w.node(n); err != nil {
			return err
		}
	}
	return nil
}

func (w walker) node(n parse.Node) error {
	switch n := n.(type) {
	case *parse.TextNode, *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode:
		return nil
	case *parse.ActionNode:
		return w.pipe(n.Pipe)
	case *parse.IfNode:
		return w.branch(&n.BranchNode)
	case *parse.WithNode:
		return w.branch(&n.BranchNode)
	case *parse.RangeNode:
		// Only over data: a range over a number runs as long as it says.
		if p := n.Pipe; p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 || !isData(p.Cmds[0].Args[0]) {
			return w.fail(n, "range is allowed only over a variable")
		}
		return w.branch(&n.BranchNode)
	case *parse.TemplateNode:
		return w.fail(n, "{{template}} is not allowed")
	case *parse.ListNode:
		return w.list(n)
	}
	return w.fail(n, "%s is not allowed", n)
}

func (w walker) branch(b *parse.BranchNode) error {
	if err := w.pipe(b.Pipe); err != nil {
		return err
	}
	if err := w.list(b.List); err != nil {
		return err
	}
	return w.list(b.ElseList)
}

func (w walker) pipe(p *parse.PipeNode) error {
	if p == nil {
		return nil
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			if err := w.arg(a); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w walker) arg(a parse.Node) error {
	switch a := a.(type) {
	case *parse.IdentifierNode:
		if !slices.Contains(templateFuncs, a.Ident) {
			return w.fail(a, "function %q is not allowed", a.Ident)
		}
		return nil
	case *parse.PipeNode:
		return w.pipe(a)
	case *parse.ChainNode:
		return w.arg(a.Node)
	case *parse.FieldNode, *parse.VariableNode, *parse.DotNode, *parse.NilNode,
		*parse.BoolNode, *parse.NumberNode, *parse.StringNode:
		return nil
	}
	return w.fail(a, "%s is not allowed", a)
}

// isData reports whether n names data: .Field or $.Field.
func isData(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.FieldNode:
		return true
	case *parse.VariableNode:
		return len(n.Ident) > 1 && n.Ident[0] == "$"
	}
	return false
}

// templateError is a field error with the parser's or executor's message
// as its detail (it names the line and what is wrong).
func templateError(field, code string, err error) apperr.FieldError {
	return apperr.FieldError{Field: field, Code: code, Args: map[string]any{"Detail": cleanDetail(err)}}
}

// cleanDetail strips Go's "template: name:" prefix, keeping "line: what".
func cleanDetail(err error) string {
	s := err.Error()
	for _, p := range []string{"template: ", "html/template:"} {
		s = strings.TrimPrefix(s, p)
	}
	for _, f := range []string{"subject:", "body_text:", "body_html:"} {
		s = strings.TrimPrefix(s, f)
	}
	return strings.TrimSpace(s)
}

// render executes c with vars. Errors are field errors.
func (c compiled) render(vars map[string]any) (Rendered, []apperr.FieldError) {
	var out Rendered
	var fields []apperr.FieldError
	exec := func(field string, t interface {
		Execute(io.Writer, any) error
	}, limit int) string {
		var b bytes.Buffer
		if err := t.Execute(&limitWriter{w: &b, n: limit}, vars); err != nil {
			if errors.Is(err, errTooLarge) {
				fields = append(fields, apperr.FieldError{Field: field, Code: "template_too_large"})
			} else {
				fields = append(fields, templateError(field, "template_render", err))
			}
			return ""
		}
		return b.String()
	}
	if c.subject != nil {
		out.Subject = oneLine(exec("subject", c.subject, maxSubjectOutput))
		if out.Subject == "" && len(fields) == 0 {
			fields = append(fields, apperr.FieldError{Field: "subject", Code: "template_empty"})
		}
		out.Subject = cutRunes(out.Subject, maxRenderedSubject)
	}
	if c.text != nil {
		n := len(fields)
		out.Text = exec("body_text", c.text, maxBodyOutput)
		if strings.TrimSpace(out.Text) == "" && len(fields) == n {
			fields = append(fields, apperr.FieldError{Field: "body_text", Code: "template_empty"})
		}
	}
	if c.html != nil {
		out.HTML = exec("body_html", c.html, maxBodyOutput)
	}
	return out, fields
}

// check validates a template of typ in lang: its size, that it parses, and
// that it renders with the sample data of typ in rc. It returns the
// rendering.
func check(typ, lang string, c TemplateContent, rc renderContext) (Rendered, error) {
	def, ok := events[typ]
	if !ok {
		return Rendered{}, ErrUnknownEvent
	}
	var v apperr.Validator
	v.Check(strings.TrimSpace(c.Subject) != "", "subject", "required", nil)
	v.Check(utf8.RuneCountInString(c.Subject) <= maxSubjectChars, "subject", "max", map[string]any{"Param": maxSubjectChars})
	v.Check(!strings.ContainsAny(c.Subject, "\r\n"), "subject", "nocontrol", nil)
	v.Check(strings.TrimSpace(c.Text) != "", "body_text", "required", nil)
	v.Check(utf8.RuneCountInString(c.Text) <= maxTextChars, "body_text", "max", map[string]any{"Param": maxTextChars})
	v.Check(utf8.RuneCountInString(c.HTML) <= maxHTMLChars, "body_html", "max", map[string]any{"Param": maxHTMLChars})
	v.Check(utf8.ValidString(c.Subject+c.Text+c.HTML), "body_text", "invalid", nil)
	if err := v.Err(); err != nil {
		return Rendered{}, err
	}
	tpl, fields := compile(c)
	r, rfields := tpl.render(def.sample(lang).vars(rc))
	fields = append(fields, rfields...)
	if len(fields) > 0 {
		return Rendered{}, apperr.Invalid(fields...)
	}
	return r, nil
}

// oneLine makes s a header value: every run of control characters and
// white space becomes one space, so nothing a variable holds can start a
// new header line.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == ' ' || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

var errTooLarge = errors.New("notify: rendered template too large")

// limitWriter fails once more than n bytes were written.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, errTooLarge
	}
	l.n -= len(p)
	return l.w.Write(p)
}

// zone loads the tenant's zone, Asia/Tokyo when it has none or an unknown
// one.
func zone(name string) *time.Location {
	if name != "" {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return time.FixedZone("JST", 9*3600)
	}
	return loc
}
