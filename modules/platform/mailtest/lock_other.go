//go:build !unix

package mailtest

// lockFile does not lock outside Unix: two test binaries may then both
// build mailpit, each into a temp file renamed into place, which is only
// slower.
func lockFile(string) (func(), error) { return func() {}, nil }

// processAlive cannot tell outside Unix, so no dir is swept.
func processAlive(int) bool { return true }
