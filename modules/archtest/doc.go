// Package archtest holds the architecture test: it lists every package of the
// repository (and of each plugin module under plugins/) with go list and fails
// when an import breaks the rules of ARCHITECTURE.md: modules import only
// modules before them in the module order, no module imports cmd, a plugin or
// (except integrations) the sdk or generated protobuf code, plugins import
// nothing of this project but the sdk, and the sdk (its own module, listed
// from sdk/) imports nothing of this project outside sdk/.
//
// The package has no code of its own; nothing imports it.
package archtest
