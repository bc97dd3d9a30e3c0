package dbx

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// NewID returns a new 32-hex identifier: a UUID v7, time-ordered, so
// inserts stay at the end of a primary key and ids sort by age. Every
// table of the project keys its rows with one.
func NewID() (string, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return hex.EncodeToString(u[:]), nil
}

// UTC returns t in UTC as both engines give it back, keeping the zero time
// zero (a NULL column).
func UTC(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// IsMySQL reports whether db speaks MySQL/MariaDB (where a row to change
// is locked with SELECT … FOR UPDATE; SQLite's transaction already holds
// the write lock).
func IsMySQL(db bun.IDB) bool { return db.Dialect().Name() == dialect.MySQL }
