// Package validate wraps go-playground/validator with the rules every module
// shares and turns its errors into field errors (apperr.Invalid) named by the
// fields' JSON names, so a client reads "time_zone", not "TimeZone".
//
// Services validate their own parameters with it: the same rules hold for
// the HTTP API and the CLI. Codes are the rule names ("required", "email",
// "max", "max_items", ...) and select the message "field.<code>" in the
// catalogs.
package validate

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// New returns a validator with the shared rules: required structs,
// JSON field names, and the tags "iana_tz" (an IANA zone name, not "Local")
// and "nocontrol" (no control characters, so nothing can smuggle a line
// break into a mail header or a log line).
func New() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	must(v.RegisterValidation("iana_tz", func(fl validator.FieldLevel) bool {
		return ValidTimeZone(fl.Field().String())
	}))
	must(v.RegisterValidation("nocontrol", func(fl validator.FieldLevel) bool {
		return !controlRE.MatchString(fl.Field().String())
	}))
	return v
}

func must(err error) {
	if err != nil {
		panic(err) // programming error in a tag registration
	}
}

var controlRE = regexp.MustCompile(`[\x00-\x1f\x7f]`)

// ValidTimeZone reports whether name is an IANA time zone this binary
// knows. "Local" and "" are refused: a tenant's zone must mean the same on
// every server.
func ValidTimeZone(name string) bool {
	if name == "" || name == "Local" || strings.ContainsAny(name, " \\") || strings.HasPrefix(name, "/") {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}

// Struct validates s and returns nil or an *apperr.Error of kind Invalid
// listing every failing field.
func Struct(v *validator.Validate, s any) error {
	err := v.Struct(s)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	return FromValidator(ves)
}

// FromValidator converts validator errors into field errors.
func FromValidator(ves validator.ValidationErrors) *apperr.Error {
	fields := make([]apperr.FieldError, 0, len(ves))
	for _, fe := range ves {
		fields = append(fields, toField(fe))
	}
	return apperr.Invalid(fields...)
}

func toField(fe validator.FieldError) apperr.FieldError {
	ns := fe.Namespace()
	if i := strings.IndexByte(ns, '.'); i >= 0 {
		ns = ns[i+1:] // drop the struct's own name
	}
	code := fe.Tag()
	switch fe.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		if code == "max" || code == "min" || code == "len" {
			code += "_items"
		}
	}
	args := map[string]any{}
	if p := fe.Param(); p != "" {
		args["Param"] = p
	}
	return apperr.FieldError{Field: ns, Code: code, Args: args}
}
