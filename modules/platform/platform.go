// Package platform is the business-free base every module stands on. Its
// sub-packages hold configuration (config), database engines, migrations and
// the tenant registry (dbx, tenantdb), the HTTP platform (httpx), error kinds
// (apperr), message catalogs (i18n) and the clock. Nothing here knows about
// reservations, menus or members.
package platform
