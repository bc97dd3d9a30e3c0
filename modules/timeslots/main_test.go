package timeslots_test

import (
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
)

// TestMain is the package's only one: the database tests run on SQLite
// and, when one can be had, on MariaDB.
func TestMain(m *testing.M) { dbtest.Main(m) }
