package manifest

import (
	"fmt"
	"slices"
	"strconv"
)

// Problem is one settings value that does not fit its schema.
type Problem struct {
	// Key is the setting's key.
	Key string
	// Code is "required", "not_a_number", "not_a_bool", "not_a_choice" or
	// "unknown".
	Code string
	// Message explains it in English; it never quotes a secret's value.
	Message string
}

// CheckValues checks a tenant's settings values against the schema: required
// values present, numbers numbers, bools "true"/"false", choices among the
// choices, no key outside the schema. Problems come in schema order, unknown
// keys last in key order.
func CheckValues(schema []Setting, values map[string]string) []Problem {
	var out []Problem
	known := make(map[string]bool, len(schema))
	for _, s := range schema {
		known[s.Key] = true
		v, ok := values[s.Key]
		if !ok || v == "" {
			if s.Required {
				out = append(out, Problem{Key: s.Key, Code: "required", Message: s.Key + " is required"})
			}
			continue
		}
		switch s.Type {
		case TypeNumber:
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				out = append(out, Problem{Key: s.Key, Code: "not_a_number", Message: fmt.Sprintf("%s must be a number, not %q", s.Key, v)})
			}
		case TypeBool:
			if v != "true" && v != "false" {
				out = append(out, Problem{Key: s.Key, Code: "not_a_bool", Message: fmt.Sprintf("%s must be true or false, not %q", s.Key, v)})
			}
		case TypeChoice:
			if !slices.ContainsFunc(s.Choices, func(c Choice) bool { return c.Value == v }) {
				out = append(out, Problem{Key: s.Key, Code: "not_a_choice", Message: fmt.Sprintf("%s must be one of its choices, not %q", s.Key, v)})
			}
		}
	}
	var unknown []string
	for k := range values {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		out = append(out, Problem{Key: k, Code: "unknown", Message: k + " is not in the settings schema"})
	}
	return out
}
