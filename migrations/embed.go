// Package migrations embeds the SQL migrations: control/ for the control
// database and tenant/ for every tenant database, each with a sqlite/ and a
// mysql/ folder holding the same version names. Migrations are append-only:
// a committed file is never edited; a fix is a new migration.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed control tenant
var files embed.FS

// Control returns the control database migrations for dialect ("sqlite" or "mysql").
func Control(dialect string) fs.FS { return sub("control/" + dialect) }

// Tenant returns the tenant database migrations for dialect ("sqlite" or "mysql").
func Tenant(dialect string) fs.FS { return sub("tenant/" + dialect) }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // unreachable: dir is a constant known to exist
	}
	return f
}
