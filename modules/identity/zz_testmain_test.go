package identity

import (
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
)

// TestMain starts MariaDB for the package's tests. Temporary: the staff
// half of this package owns TestMain (staff_main_test.go); this file goes
// once that one exists.
func TestMain(m *testing.M) { dbtest.Main(m) }
