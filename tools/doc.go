// Package tools pins the programs Yoyaku's tests and developers run but the
// product does not link: go.mod's tool directives name them at fixed
// versions: mailpit, the SMTP server of the mail tests, and protoc-gen-go and
// protoc-gen-go-grpc, which `make proto` builds into ../bin to generate the
// plugin contract's Go code in ../sdk/proto.
//
//	go tool mailpit --help                            # run it from here
//	go build -o ../bin/mailpit github.com/axllent/mailpit   # what the test harness does
//
// modules/platform/mailtest builds ../bin/mailpit from this module when
// mailpit is not on PATH, so tests need nothing installed beforehand. To
// move to another version: go get -tool github.com/axllent/mailpit@vX.Y.Z
// here, and delete ../bin/mailpit.
//
// This package has no code; it exists so that go vet and go test have a
// package to look at in this module.
package tools
