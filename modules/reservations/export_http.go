package reservations

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/csvx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// ExportHandler serves the reservations CSV. Register it after a
// permission check of reservations: csv (the tenant API's or the
// console's); fail answers a refused request before any byte of the file
// (problem JSON on the API, the console's error page there).
//
// Query: from, to (YYYY-MM-DD in the tenant's zone, to inclusive, or RFC
// 3339 instants), status, menu_id, columns (a,b,c), encoding
// (utf-8-bom | shift_jis).
func (s *Service) ExportHandler(fail func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		t, _ := tenants.FromContext(ctx)
		db, err := tenantdb.From(ctx)
		if err != nil {
			fail(c, err)
			return
		}
		p, err := exportParamsOf(c, ZoneOf(t))
		if err != nil {
			fail(c, err)
			return
		}
		e, err := s.NewExport(ctx, db, t, httpx.Catalog(c), p)
		if err != nil {
			fail(c, err)
			return
		}
		csvx.SetDownload(c.Writer.Header(), e.Filename(), e.Encoding())
		c.Status(http.StatusOK)
		if _, err := e.Write(ctx, c.Writer); err != nil {
			// The status line is out: the client sees a cut file; the log
			// and the operation log say so.
			s.log.WarnContext(ctx, "reservations export failed", "error", err)
		}
	}
}

// exportParamsOf reads an export's query.
func exportParamsOf(c *gin.Context, zone *time.Location) (ExportParams, error) {
	p := ExportParams{MenuID: c.Query("menu_id"), Status: Status(c.Query("status")), Columns: c.QueryArray("columns"),
		Lang: httpx.Lang(c)}
	var v apperr.Validator
	for _, q := range []struct {
		name string
		dst  *time.Time
		end  bool
	}{{"from", &p.From, false}, {"to", &p.To, true}} {
		s := c.Query(q.name)
		if s == "" {
			continue
		}
		if d, err := time.ParseInLocation(time.DateOnly, s, zone); err == nil {
			if q.end {
				d = d.AddDate(0, 0, 1) // to is inclusive: the whole day
			}
			*q.dst = d.UTC()
		} else if at, ok := parseInstant(s, zone); ok {
			*q.dst = at
		} else {
			v.Add(q.name, "reservation_datetime", nil)
		}
	}
	enc, err := csvx.ParseEncoding("encoding", c.Query("encoding"))
	if err != nil {
		v.Add("encoding", "oneof", map[string]any{"Param": "utf-8-bom utf-8 shift_jis"})
	}
	p.Encoding = enc
	if err := v.Err(); err != nil {
		return p, err
	}
	return p, nil
}

// RegisterExportAPI adds GET /exports/reservations.csv to the tenant API
// group g (need is identity.API.Need).
func (s *Service) RegisterExportAPI(g *gin.RouterGroup, need NeedFunc) {
	g.GET("/exports/reservations.csv", need(authz.AreaReservations, authz.ActionCSV), s.ExportHandler(httpx.Fail))
}
