package members

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/csvx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// ErrImportTooLarge: the import file is over MaxImportBytes (413).
var ErrImportTooLarge = apperr.New(apperr.KindTooLarge, "import_too_large")

// ExportHandler serves the members CSV after a permission check of
// members: csv; fail answers a refused request before any byte of the
// file. Query: q, status (repeatable), columns (a,b,c), encoding.
func (s *Service) ExportHandler(fail func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		t, _ := tenants.FromContext(ctx)
		db, err := tenantdb.From(ctx)
		if err != nil {
			fail(c, err)
			return
		}
		enc, err := csvx.ParseEncoding("encoding", c.Query("encoding"))
		if err != nil {
			fail(c, err)
			return
		}
		p := ExportParams{Q: c.Query("q"), Columns: c.QueryArray("columns"), Encoding: enc, Lang: httpx.Lang(c)}
		for _, st := range c.QueryArray("status") {
			for _, x := range strings.Split(st, ",") {
				if x = strings.TrimSpace(x); x != "" {
					p.Statuses = append(p.Statuses, Status(x))
				}
			}
		}
		e, err := s.NewExport(ctx, db, t, httpx.Catalog(c), p)
		if err != nil {
			fail(c, err)
			return
		}
		csvx.SetDownload(c.Writer.Header(), e.Filename(), e.Encoding())
		c.Status(http.StatusOK)
		if _, err := e.Write(ctx, c.Writer); err != nil {
			s.log.WarnContext(ctx, "members export failed", "error", err)
		}
	}
}

// ImportFile returns the CSV of an import request: the multipart field
// "file", or the body itself (text/csv or anything else), at most
// MaxImportBytes.
func ImportFile(c *gin.Context) (io.ReadCloser, error) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxImportBytes+1<<20)
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt == "multipart/form-data" {
		fh, err := c.FormFile("file")
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, ErrImportTooLarge
			}
			return nil, apperr.Invalid(apperr.Field("file", "required", nil))
		}
		if fh.Size > MaxImportBytes {
			return nil, ErrImportTooLarge
		}
		return fh.Open()
	}
	return c.Request.Body, nil
}

// importLimited reads at most MaxImportBytes of r; more is ErrImportTooLarge.
type importLimited struct {
	r io.Reader
	n int64
}

func (l *importLimited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > MaxImportBytes {
		return n, ErrImportTooLarge
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return n, ErrImportTooLarge
	}
	return n, err
}

// ImportHandler imports members from the request's file (see ImportFile;
// ?encoding= or detection) and answers 200 with the counts, or 400 with a
// field error per bad row (line[12].phone).
func (s *Service) ImportHandler(c *gin.Context) {
	ctx := c.Request.Context()
	db, err := tenantdb.From(ctx)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var enc csvx.Encoding
	if q := c.Query("encoding"); q != "" {
		if enc, err = csvx.ParseEncoding("encoding", q); err != nil {
			httpx.Fail(c, err)
			return
		}
	}
	f, err := ImportFile(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	defer f.Close()
	res, err := s.Import(ctx, db, &importLimited{r: f}, ImportParams{Encoding: enc, Catalog: httpx.Catalog(c)})
	if err != nil {
		httpx.Fail(c, ImportProblem(err))
		return
	}
	c.JSON(http.StatusOK, res)
}

// ImportProblem turns an import's row errors into a validation problem
// and leaves other errors as they are.
func ImportProblem(err error) error {
	var es csvx.Errors
	if errors.As(err, &es) {
		return es.Problem()
	}
	return err
}

// RegisterCSVAPI adds the tenant API's members CSV routes to g:
// GET /exports/members.csv and POST /imports/members, both members: csv
// (need is identity.API.Need).
func (s *Service) RegisterCSVAPI(g *gin.RouterGroup, need Guard) {
	csv := need(authz.AreaMembers, authz.ActionCSV)
	g.GET("/exports/members.csv", csv, s.ExportHandler(httpx.Fail))
	g.POST("/imports/members", csv, s.ImportHandler)
}
