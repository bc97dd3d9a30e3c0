// Package web holds the templates, static assets and message catalogs of the
// booking site and the console, embedded into the binary. It has no Go logic.
package web

import "embed"

// FS holds templates/, static/, i18n/, mail/ (the default mail templates,
// mail/<lang>/<event type>.{subject.txt,txt,html}) and openapi.json, the OpenAPI document
// of the HTTP API.
//
//go:embed i18n templates static mail openapi.json
var FS embed.FS
