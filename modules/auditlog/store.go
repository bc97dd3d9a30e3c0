package auditlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

type entryRow struct {
	bun.BaseModel `bun:"table:audit_entries"`

	Seq        int64     `bun:"seq,pk"`
	At         time.Time `bun:"at"`
	ActorKind  string    `bun:"actor_kind"`
	ActorID    string    `bun:"actor_id"`
	ActorName  string    `bun:"actor_name"`
	ActorRole  string    `bun:"actor_role"`
	Action     string    `bun:"action"`
	ObjectType string    `bun:"object_type"`
	ObjectID   string    `bun:"object_id"`
	Changes    string    `bun:"changes"`
	SourceIP   string    `bun:"source_ip"`
	UserAgent  string    `bun:"user_agent"`
	RequestID  string    `bun:"request_id"`
	Result     string    `bun:"result"`
	PrevHash   string    `bun:"prev_hash"`
	Hash       string    `bun:"hash"`
}

type chainRow struct {
	bun.BaseModel `bun:"table:audit_chain"`

	ID         int    `bun:"id,pk"`
	Seq        int64  `bun:"seq"`
	LastHash   string `bun:"last_hash"`
	AnchorSeq  int64  `bun:"anchor_seq"`
	AnchorHash string `bun:"anchor_hash"`
}

func toRow(e Entry) (*entryRow, error) {
	ch := e.Changes
	if ch == nil {
		ch = []Change{}
	}
	b, err := json.Marshal(ch)
	if err != nil {
		return nil, err
	}
	return &entryRow{
		Seq: e.Seq, At: e.At, ActorKind: string(e.Actor.Kind), ActorID: e.Actor.ID, ActorName: e.Actor.Name,
		ActorRole: e.Actor.Role, Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID,
		Changes: string(b), SourceIP: e.SourceIP, UserAgent: e.UserAgent, RequestID: e.RequestID,
		Result: string(e.Result), PrevHash: e.PrevHash, Hash: e.Hash,
	}, nil
}

func fromRow(r *entryRow) Entry {
	e := Entry{
		Seq: r.Seq, At: r.At.UTC(),
		Actor:  Actor{Kind: ActorKind(r.ActorKind), ID: r.ActorID, Name: r.ActorName, Role: r.ActorRole},
		Action: r.Action, ObjectType: r.ObjectType, ObjectID: r.ObjectID,
		SourceIP: r.SourceIP, UserAgent: r.UserAgent, RequestID: r.RequestID,
		Result: Result(r.Result), PrevHash: r.PrevHash, Hash: r.Hash,
	}
	if err := json.Unmarshal([]byte(r.Changes), &e.Changes); err != nil {
		// A stored entry whose changes do not parse has been tampered with;
		// keep the raw text so Verify's hash check reports it.
		e.Changes = []Change{{Field: "(unreadable)", Old: json.RawMessage(`null`), New: json.RawMessage(`null`)}}
	}
	return e
}

// canonical is the form an entry's hash covers: fixed field order, UTC
// times at microsecond precision (what both engines store), the changes as
// stored. Any edit to a stored column changes it.
func canonical(r *entryRow) []byte {
	type actor struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
		Name string `json:"name"`
		Role string `json:"role"`
	}
	type object struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	v := struct {
		Seq       int64           `json:"seq"`
		At        string          `json:"at"`
		Actor     actor           `json:"actor"`
		Action    string          `json:"action"`
		Object    object          `json:"object"`
		Changes   json.RawMessage `json:"changes"`
		SourceIP  string          `json:"source_ip"`
		UserAgent string          `json:"user_agent"`
		RequestID string          `json:"request_id"`
		Result    string          `json:"result"`
	}{
		Seq: r.Seq, At: r.At.UTC().Format("2006-01-02T15:04:05.000000Z"),
		Actor:  actor{r.ActorKind, r.ActorID, r.ActorName, r.ActorRole},
		Action: r.Action, Object: object{r.ObjectType, r.ObjectID},
		Changes: json.RawMessage(compactJSON(r.Changes)), SourceIP: r.SourceIP, UserAgent: r.UserAgent,
		RequestID: r.RequestID, Result: r.Result,
	}
	b, _ := json.Marshal(v)
	return b
}

func compactJSON(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		b, _ := json.Marshal(s) // not JSON: hash it as a string
		return string(b)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func chainHash(prev string, r *entryRow) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{0})
	h.Write(canonical(r))
	return hex.EncodeToString(h.Sum(nil))
}

// lockChain takes the chain's row lock (a no-op update: on MySQL it holds
// the row until the transaction ends; on SQLite the transaction already
// holds the database's write lock) and returns the chain state.
func lockChain(ctx context.Context, db bun.IDB) (chainRow, error) {
	if _, err := db.NewUpdate().Model((*chainRow)(nil)).Set("seq = seq").Where("id = 1").Exec(ctx); err != nil {
		return chainRow{}, fmt.Errorf("auditlog: lock chain: %w", err)
	}
	var c chainRow
	q := db.NewSelect().Model(&c).Where("id = 1")
	if db.Dialect().Name() == dialect.MySQL {
		// A locking read: under REPEATABLE READ a plain SELECT answers from
		// the transaction's snapshot, which an earlier read of the same
		// transaction may have taken before the chain moved on.
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return chainRow{}, fmt.Errorf("auditlog: read chain: %w", err)
	}
	return c, nil
}

var errNoTx = errors.New("auditlog: Append must run inside a transaction")
