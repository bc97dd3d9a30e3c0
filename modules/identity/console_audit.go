package identity

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
)

// auditFilter reads the operation log's filters from the query string, so
// a filtered view is a shareable URL and the CSV holds exactly what is shown.
func auditFilter(c *gin.Context, loc *time.Location) (auditlog.Filter, map[string]string) {
	q := map[string]string{}
	for _, k := range []string{"actor", "action", "object", "from", "to", "request_id", "before"} {
		q[k] = strings.TrimSpace(c.Query(k))
	}
	f := auditlog.Filter{ActorID: q["actor"], Action: q["action"], RequestID: q["request_id"]}
	if typ, id, ok := strings.Cut(q["object"], ":"); ok {
		f.ObjectType, f.ObjectID = typ, id
	} else {
		f.ObjectType = q["object"]
	}
	if d, err := time.ParseInLocation("2006-01-02", q["from"], loc); err == nil {
		f.From = d
	}
	if d, err := time.ParseInLocation("2006-01-02", q["to"], loc); err == nil {
		f.To = d.AddDate(0, 0, 1) // the whole day
	}
	if n, err := strconv.ParseInt(q["before"], 10, 64); err == nil {
		f.BeforeSeq = n
	}
	return f, q
}

func (k *Console) auditPage(c *gin.Context) {
	r := k.reqOf(c)
	loc, err := time.LoadLocation(r.tenant.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	f, q := auditFilter(c, loc)
	f.Limit = 100
	entries, err := auditlog.Search(c.Request.Context(), r.db, f)
	if err != nil {
		k.fail(c, err)
		return
	}
	rows := make([]auditRow, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, toAuditRow(e, loc))
	}
	data := map[string]any{"Rows": rows, "Q": q, "CSVQuery": c.Request.URL.RawQuery}
	if len(entries) == f.Limit {
		v := c.Request.URL.Query()
		v.Set("before", strconv.FormatInt(entries[len(entries)-1].Seq, 10))
		data["More"] = v.Encode()
	}
	k.page(c, http.StatusOK, "console_audit.html", "console.audit.title", data)
}

type auditRow struct {
	Seq                                     int64
	At, Actor, Role, Action, Object, Result string
	Source, RequestID, Changes, UserAgent   string
}

func toAuditRow(e auditlog.Entry, loc *time.Location) auditRow {
	actor := e.Actor.Name
	if actor == "" {
		actor = string(e.Actor.Kind)
	}
	obj := e.ObjectType
	if e.ObjectID != "" {
		obj += ":" + e.ObjectID
	}
	var ch []string
	for _, c := range e.Changes {
		ch = append(ch, fmt.Sprintf("%s: %s → %s", c.Field, string(c.Old), string(c.New)))
	}
	return auditRow{Seq: e.Seq, At: e.At.In(loc).Format("2006-01-02 15:04:05"), Actor: actor, Role: e.Actor.Role,
		Action: e.Action, Object: obj, Result: string(e.Result), Source: e.SourceIP, RequestID: e.RequestID,
		Changes: strings.Join(ch, "; "), UserAgent: e.UserAgent}
}

// auditCSV downloads the filtered log: UTF-8 with a BOM by default, or
// Shift_JIS (CP932) with ?encoding=sjis, CRLF line ends, cells that a
// spreadsheet would run as a formula neutralised.
func (k *Console) auditCSV(c *gin.Context) {
	r := k.reqOf(c)
	loc, err := time.LoadLocation(r.tenant.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	f, _ := auditFilter(c, loc)
	sjis := c.Query("encoding") == "sjis"
	name := "audit-" + r.tenant.Slug + "-" + time.Now().In(loc).Format("20060102-150405") + ".csv"
	c.Header("Content-Type", "text/csv; charset="+map[bool]string{true: "Shift_JIS", false: "utf-8"}[sjis])
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Status(http.StatusOK)
	var w io.Writer = c.Writer
	if sjis {
		tw := transform.NewWriter(c.Writer, japanese.ShiftJIS.NewEncoder())
		defer tw.Close()
		w = tw
	} else {
		_, _ = io.WriteString(w, "\ufeff")
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	_ = cw.Write([]string{"seq", "at", "actor_kind", "actor_id", "actor_name", "actor_role", "action", "object_type", "object_id", "changes", "result", "source_ip", "user_agent", "request_id", "hash"})
	f.Limit = 1000
	for {
		entries, err := auditlog.Search(c.Request.Context(), r.db, f)
		if err != nil {
			// The header is sent: all that is left is to stop and log.
			httpx.Logger(c).ErrorContext(c.Request.Context(), "audit CSV cut short", "err", err)
			break
		}
		for _, e := range entries {
			row := toAuditRow(e, loc)
			_ = cw.Write(safeCells([]string{strconv.FormatInt(e.Seq, 10), row.At, string(e.Actor.Kind), e.Actor.ID, e.Actor.Name,
				e.Actor.Role, e.Action, e.ObjectType, e.ObjectID, row.Changes, string(e.Result), e.SourceIP, e.UserAgent, e.RequestID, e.Hash}))
		}
		if len(entries) < f.Limit {
			break
		}
		f.BeforeSeq = entries[len(entries)-1].Seq
	}
	cw.Flush()
}

// safeCells keeps a spreadsheet from running a cell as a formula.
func safeCells(cells []string) []string {
	for i, s := range cells {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			cells[i] = "'" + s
		}
	}
	return cells
}
