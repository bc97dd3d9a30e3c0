// Package pluginv1 is the Go code protoc generates from the plugin contract
// yoyaku.plugin.v1 (the .proto files beside it; `make proto` regenerates it).
//
// Plugin authors and the host do not use it: package sdk wraps it in plain Go
// types and interfaces. It is public for the rare Go program that needs the
// wire types themselves; plugins in other languages generate their own code
// from the same .proto files.
package pluginv1
