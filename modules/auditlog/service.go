package auditlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Limits of stored text; longer values are cut so a hostile user agent
// cannot bloat the log.
const (
	maxUserAgent = 512
	maxName      = 255
)

// Append writes e as the next entry of the log of the database tx belongs
// to. Call it inside the transaction of the change it records (a bun.Tx),
// so the change and its entry commit together or not at all. Blank request
// fields (actor, source address, user agent, request ID) are filled from
// the context (WithRequest); a zero At is now; a blank Result is "ok".
func Append(ctx context.Context, tx bun.IDB, e Entry) (Entry, error) {
	if _, ok := tx.(bun.Tx); !ok {
		if _, ok := tx.(*bun.Tx); !ok {
			return Entry{}, errNoTx
		}
	}
	if r, ok := RequestFrom(ctx); ok {
		if e.Actor.Kind == "" {
			e.Actor = r.Actor
		}
		if e.SourceIP == "" {
			e.SourceIP = r.SourceIP
		}
		if e.UserAgent == "" {
			e.UserAgent = r.UserAgent
		}
		if e.RequestID == "" {
			e.RequestID = r.RequestID
		}
	}
	if e.Actor.Kind == "" {
		e.Actor.Kind = ActorSystem
	}
	if e.Result == "" {
		e.Result = ResultOK
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.UserAgent = cut(e.UserAgent, maxUserAgent)
	e.Actor.Name = cut(e.Actor.Name, maxName)
	for i, c := range e.Changes {
		if IsSecretField(c.Field) {
			e.Changes[i], _ = Diff(c.Field, "a", "b")
		}
	}
	if e.Action == "" {
		return Entry{}, errors.New("auditlog: an entry needs an action")
	}
	c, err := lockChain(ctx, tx)
	if err != nil {
		return Entry{}, err
	}
	e.Seq = c.Seq + 1
	e.PrevHash = c.LastHash
	row, err := toRow(e)
	if err != nil {
		return Entry{}, err
	}
	row.Hash = chainHash(row.PrevHash, row)
	e.Hash = row.Hash
	if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
		return Entry{}, fmt.Errorf("auditlog: insert: %w", err)
	}
	if _, err := tx.NewUpdate().Model((*chainRow)(nil)).Set("seq = ?", e.Seq).Set("last_hash = ?", e.Hash).Where("id = 1").Exec(ctx); err != nil {
		return Entry{}, fmt.Errorf("auditlog: advance chain: %w", err)
	}
	return e, nil
}

// Record appends e in a transaction of its own: for events that change
// nothing else, such as a failed login or a refused request.
func Record(ctx context.Context, db bun.IDB, e Entry) (Entry, error) {
	var out Entry
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = Append(ctx, tx, e)
		return err
	})
	return out, err
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	for len(string(r)) > n {
		r = r[:len(r)-1]
	}
	return string(r)
}

// Report is the outcome of Verify.
type Report struct {
	Checked   int64  // entries checked
	FirstSeq  int64  // first entry checked (after the retention anchor)
	LastSeq   int64  // last entry checked
	BrokenSeq int64  // first entry that breaks the chain; 0 when intact
	Reason    string // why it breaks
}

// OK reports whether the chain is intact.
func (r Report) OK() bool { return r.BrokenSeq == 0 }

// Verify walks the log from the retention anchor and reports the first
// entry that was changed, removed, inserted or reordered.
func Verify(ctx context.Context, db bun.IDB) (Report, error) {
	var c chainRow
	if err := db.NewSelect().Model(&c).Where("id = 1").Scan(ctx); err != nil {
		return Report{}, fmt.Errorf("auditlog: read chain: %w", err)
	}
	rep := Report{FirstSeq: c.AnchorSeq + 1}
	prev, want := c.AnchorHash, c.AnchorSeq+1
	const batch = 1000
	for {
		var rows []entryRow
		err := db.NewSelect().Model(&rows).Where("seq >= ?", want).OrderExpr("seq ASC").Limit(batch).Scan(ctx)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return rep, fmt.Errorf("auditlog: read entries: %w", err)
		}
		for i := range rows {
			r := &rows[i]
			switch {
			case r.Seq != want:
				rep.BrokenSeq, rep.Reason = want, fmt.Sprintf("entry %d is missing", want)
			case r.PrevHash != prev:
				rep.BrokenSeq, rep.Reason = r.Seq, "its previous-hash does not match the entry before it"
			case chainHash(prev, r) != r.Hash:
				rep.BrokenSeq, rep.Reason = r.Seq, "its content does not match its hash (the entry was changed)"
			}
			if rep.BrokenSeq != 0 {
				return rep, nil
			}
			rep.Checked++
			rep.LastSeq = r.Seq
			prev, want = r.Hash, r.Seq+1
		}
		if len(rows) < batch {
			break
		}
	}
	if c.Seq != want-1 || c.LastHash != prev {
		rep.BrokenSeq, rep.Reason = want, fmt.Sprintf("the log ends at entry %d but %d entries were written (entries were removed from the end)", want-1, c.Seq)
	}
	return rep, nil
}

// Purge removes the entries older than before and makes the newest removed
// entry the chain's anchor, in one transaction, so the rest still verifies.
// It returns how many entries it removed.
func Purge(ctx context.Context, db bun.IDB, before time.Time) (int64, error) {
	var n int64
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		c, err := lockChain(ctx, tx)
		if err != nil {
			return err
		}
		var last entryRow
		err = tx.NewSelect().Model(&last).Where("at < ?", before.UTC()).Where("seq > ?", c.AnchorSeq).
			OrderExpr("seq DESC").Limit(1).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		res, err := tx.NewDelete().Model((*entryRow)(nil)).Where("seq <= ?", last.Seq).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.NewUpdate().Model((*chainRow)(nil)).Set("anchor_seq = ?", last.Seq).Set("anchor_hash = ?", last.Hash).
			Where("id = 1").Exec(ctx)
		return err
	})
	return n, err
}

// Filter selects entries for Search; zero fields do not filter.
type Filter struct {
	ActorID    string
	Action     string // exact, or a prefix ending in "." ("staff." matches staff.login)
	ObjectType string
	ObjectID   string
	RequestID  string
	Result     Result
	From, To   time.Time // At in [From, To)
	BeforeSeq  int64     // paging: entries older than this
	Limit      int       // default 100, at most 1000
}

// Search returns entries matching f, newest first.
func Search(ctx context.Context, db bun.IDB, f Filter) ([]Entry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		f.Limit = 1000
	}
	var rows []entryRow
	q := db.NewSelect().Model(&rows).OrderExpr("seq DESC").Limit(int64(f.Limit))
	if f.ActorID != "" {
		q = q.Where("actor_id = ?", f.ActorID)
	}
	if f.Action != "" {
		if f.Action[len(f.Action)-1] == '.' {
			q = q.Where("action LIKE ? ESCAPE '!'", escapeLike(f.Action)+"%")
		} else {
			q = q.Where("action = ?", f.Action)
		}
	}
	if f.ObjectType != "" {
		q = q.Where("object_type = ?", f.ObjectType)
	}
	if f.ObjectID != "" {
		q = q.Where("object_id = ?", f.ObjectID)
	}
	if f.RequestID != "" {
		q = q.Where("request_id = ?", f.RequestID)
	}
	if f.Result != "" {
		q = q.Where("result = ?", string(f.Result))
	}
	if !f.From.IsZero() {
		q = q.Where("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("at < ?", f.To.UTC())
	}
	if f.BeforeSeq > 0 {
		q = q.Where("seq < ?", f.BeforeSeq)
	}
	if err := q.Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("auditlog: search: %w", err)
	}
	out := make([]Entry, 0, len(rows))
	for i := range rows {
		out = append(out, fromRow(&rows[i]))
	}
	return out, nil
}

func escapeLike(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '_' || s[i] == '!' {
			out = append(out, '!')
		}
		out = append(out, s[i])
	}
	return string(out)
}
