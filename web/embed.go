// Package web holds the templates, static assets and message catalogs of the
// booking site and the console, embedded into the binary. It has no Go logic.
package web

import "embed"

// FS holds templates/, static/ and i18n/.
//
//go:embed i18n templates static
var FS embed.FS
