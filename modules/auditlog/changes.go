package auditlog

import (
	"encoding/json"
	"strings"
)

// Redacted replaces the value of a field that holds a secret.
const Redacted = "[redacted]"

// secretWords mark fields whose values must never reach the log.
var secretWords = []string{"password", "secret", "token", "totp", "recovery", "hash", "api_key", "apikey", "otp"}

// IsSecretField reports whether a field's values are withheld from the log.
func IsSecretField(field string) bool {
	f := strings.ToLower(field)
	for _, w := range secretWords {
		if strings.Contains(f, w) {
			return true
		}
	}
	return false
}

// Diff returns the change of one field, or false when old equals new.
// Secret fields record that they changed, never their values.
func Diff(field string, old, new any) (Change, bool) {
	ob, err1 := json.Marshal(old)
	nb, err2 := json.Marshal(new)
	if err1 != nil || err2 != nil {
		ob, nb = []byte(`"?"`), []byte(`"?"`)
	}
	if string(ob) == string(nb) {
		return Change{}, false
	}
	if IsSecretField(field) {
		r, _ := json.Marshal(Redacted)
		return Change{Field: field, Old: r, New: r}, true
	}
	return Change{Field: field, Old: ob, New: nb}, true
}

// Changes collects the fields that differ; pairs are (field, old, new).
type Changes []Change

// Add records field when old and new differ.
func (c *Changes) Add(field string, old, new any) {
	if ch, ok := Diff(field, old, new); ok {
		*c = append(*c, ch)
	}
}
