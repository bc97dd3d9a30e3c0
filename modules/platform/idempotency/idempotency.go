// Package idempotency makes retried requests safe: a client sends an
// Idempotency-Key header with a POST (or another unsafe method), and a
// retry with the same key and the same body gets the first answer again
// instead of doing the work twice. The same key with a different body is
// refused with 422; a retry that arrives while the first request still runs
// gets 409 with Retry-After.
//
// Answers are kept in the idempotency_keys table of the database the
// request acts on (the control database for the operator API, the tenant's
// own database for tenant routes), scoped by who is asking, for 24 hours.
// Server errors (5xx) are not kept, so a retry after a failure runs again.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
)

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

// Defaults.
const (
	// TTL is how long an answer is kept.
	TTL = 24 * time.Hour
	// Abandoned is how long a request may hold its key without finishing
	// before a retry may take the key over (the first process died).
	Abandoned = 2 * time.Minute
)

// Errors.
var (
	ErrReused     = apperr.New(apperr.KindUnprocessable, "idempotency_key_reused")
	ErrInProgress = apperr.New(apperr.KindConflict, "idempotency_in_progress")
)

// Config wires the middleware.
type Config struct {
	// DB returns the database the request acts on.
	DB func(c *gin.Context) (bun.IDB, error)
	// Scope names who is asking (an operator, an API key, a member), so
	// that two clients never share keys.
	Scope func(c *gin.Context) string
	Now   func() time.Time
}

type row struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	Scope       string    `bun:"scope,pk"`
	Key         string    `bun:"idem_key,pk"`
	RequestHash string    `bun:"request_hash"`
	Status      int       `bun:"status"`
	Headers     string    `bun:"headers"`
	Body        []byte    `bun:"body"`
	CreatedAt   time.Time `bun:"created_at"`
}

// kept are the response headers a replay repeats.
var kept = []string{"Content-Type", "Location", "Content-Language"}

// Middleware returns the gin middleware. Safe methods and requests without
// the header pass through untouched.
func Middleware(cfg Config) gin.HandlerFunc {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return func(c *gin.Context) {
		key := c.GetHeader(Header)
		switch c.Request.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			c.Next()
			return
		}
		if key == "" {
			c.Next()
			return
		}
		if !validKey(key) {
			httpx.Fail(c, apperr.Invalid(apperr.Field(Header, "idempotency_key", nil)))
			return
		}
		body, err := readBody(c)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		db, err := cfg.DB(c)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		ctx := c.Request.Context()
		r := &row{Scope: cfg.Scope(c), Key: key, RequestHash: hash(c.Request.Method, c.Request.URL.Path, body),
			Headers: "{}", Body: []byte{}, CreatedAt: cfg.Now().UTC().Truncate(time.Microsecond)}
		prev, claimed, err := claim(ctx, db, r, cfg.Now())
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		if !claimed {
			switch {
			case prev.RequestHash != r.RequestHash:
				httpx.Fail(c, ErrReused)
			case prev.Status == 0:
				c.Header("Retry-After", "1")
				httpx.Fail(c, ErrInProgress)
			default:
				replay(c, prev)
			}
			return
		}
		rec := &recorder{ResponseWriter: c.Writer}
		c.Writer = rec
		c.Next()
		finish(context.WithoutCancel(ctx), db, r, c.Writer.Status(), rec)
	}
}

// validKey: 1–255 visible ASCII characters (UUIDs, ULIDs, anything sane).
func validKey(k string) bool {
	if len(k) == 0 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

func readBody(c *gin.Context) ([]byte, error) {
	if c.Request.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apperr.New(apperr.KindTooLarge, "body_too_large").WithArgs(map[string]any{"Max": mbe.Limit})
		}
		return nil, apperr.Wrap(apperr.KindInvalid, "malformed_json", err)
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

func hash(method, path string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", method, path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// claim inserts r as "running". When the key exists it returns the
// existing row, unless that row has expired or was abandoned, in which case
// it takes the key over (a guarded update, so only one retry wins).
func claim(ctx context.Context, db bun.IDB, r *row, now time.Time) (*row, bool, error) {
	for attempt := 0; attempt < 3; attempt++ {
		_, err := db.NewInsert().Model(r).Exec(ctx)
		if err == nil {
			return nil, true, nil
		}
		if !dbx.IsDuplicateKey(err) {
			return nil, false, fmt.Errorf("idempotency: claim: %w", err)
		}
		var prev row
		err = db.NewSelect().Model(&prev).Where("scope = ? AND idem_key = ?", r.Scope, r.Key).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			continue // finished with a 5xx and deleted meanwhile: try again
		}
		if err != nil {
			return nil, false, fmt.Errorf("idempotency: read: %w", err)
		}
		expired := prev.CreatedAt.Before(now.Add(-TTL))
		abandoned := prev.Status == 0 && prev.CreatedAt.Before(now.Add(-Abandoned)) && prev.RequestHash == r.RequestHash
		if !expired && !abandoned {
			return &prev, false, nil
		}
		// The guard repeats the condition, so of two retries that both saw
		// an expired or abandoned row, only the first takes it.
		q := db.NewUpdate().Model(r).
			Column("request_hash", "status", "headers", "body", "created_at").
			Where("scope = ? AND idem_key = ?", r.Scope, r.Key)
		if expired {
			q = q.Where("created_at < ?", now.Add(-TTL).UTC())
		} else {
			q = q.Where("status = 0 AND created_at < ?", now.Add(-Abandoned).UTC())
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("idempotency: take over: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil, true, nil
		}
	}
	return nil, false, ErrInProgress
}

func finish(ctx context.Context, db bun.IDB, r *row, status int, rec *recorder) {
	if status >= 500 || status == http.StatusTooManyRequests {
		// Not an answer worth repeating: let a retry run again.
		_, _ = db.NewDelete().Model((*row)(nil)).Where("scope = ? AND idem_key = ? AND status = 0", r.Scope, r.Key).Exec(ctx)
		return
	}
	h := map[string]string{}
	for _, k := range kept {
		if v := rec.Header().Get(k); v != "" {
			h[k] = v
		}
	}
	hb, _ := json.Marshal(h)
	_, _ = db.NewUpdate().Model((*row)(nil)).
		Set("status = ?", status).Set("headers = ?", string(hb)).Set("body = ?", rec.body.Bytes()).
		Where("scope = ? AND idem_key = ? AND status = 0", r.Scope, r.Key).Exec(ctx)
}

func replay(c *gin.Context, prev *row) {
	var h map[string]string
	_ = json.Unmarshal([]byte(prev.Headers), &h)
	for k, v := range h {
		c.Header(k, v)
	}
	c.Header("Idempotent-Replayed", "true")
	c.Status(prev.Status)
	_, _ = c.Writer.Write(prev.Body)
	c.Abort()
}

// recorder copies what the handler writes.
type recorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}

// Purge deletes answers older than TTL.
func Purge(ctx context.Context, db bun.IDB, now time.Time) (int64, error) {
	res, err := db.NewDelete().Model((*row)(nil)).Where("created_at < ?", now.Add(-TTL).UTC()).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
