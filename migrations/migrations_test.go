package migrations_test

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/migrations"
)

var nameRE = regexp.MustCompile(`^(\d{14})_[a-z0-9_]+\.(tx\.)?up\.sql$`)

func files(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Both dialects hold the same migrations under the same names, so a
// database on either engine reaches the same version.
func TestDialectParity(t *testing.T) {
	for _, set := range []struct {
		name string
		get  func(string) fs.FS
	}{{"control", migrations.Control}, {"tenant", migrations.Tenant}} {
		t.Run(set.name, func(t *testing.T) {
			lite, my := files(t, set.get("sqlite")), files(t, set.get("mysql"))
			if len(lite) == 0 {
				t.Fatal("no migrations")
			}
			if !slices.Equal(lite, my) {
				t.Errorf("sqlite and mysql migrations differ:\n sqlite: %v\n mysql:  %v", lite, my)
			}
			versions := map[string]string{}
			for _, n := range lite {
				m := nameRE.FindStringSubmatch(n)
				if m == nil {
					t.Errorf("%s: name must be YYYYMMDDhhmmss_words.up.sql", n)
					continue
				}
				if prev, dup := versions[m[1]]; dup {
					t.Errorf("%s and %s share version %s", prev, n, m[1])
				}
				versions[m[1]] = n
			}
		})
	}
}

// MySQL cannot roll back DDL, so each MySQL migration holds one statement:
// a failure can never leave a migration half applied.
func TestMySQLOneStatementPerFile(t *testing.T) {
	for _, set := range []fs.FS{migrations.Control("mysql"), migrations.Tenant("mysql")} {
		for _, n := range files(t, set) {
			b, err := fs.ReadFile(set, n)
			if err != nil {
				t.Fatal(err)
			}
			body := strings.TrimSpace(string(b))
			if strings.Contains(body, "--bun:split") || strings.Count(strings.TrimSuffix(body, ";"), ";") > 0 {
				t.Errorf("%s holds more than one statement", n)
			}
		}
	}
}
