// Package apperr gives errors a kind that the HTTP edge maps to a status code
// once, and a stable code that clients and message catalogs key on.
//
// Stores translate driver errors into these (a duplicate key becomes a
// Conflict); services return them; one gin middleware turns them into
// problem+json. Nothing between the store and the edge inspects SQL errors.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

// The kinds, each mapped to one HTTP status at the edge.
const (
	KindInternal         Kind = iota // a bug or an unexpected failure: 500
	KindInvalid                      // the input is wrong: 400
	KindUnauthorized                 // who are you: 401
	KindForbidden                    // you may not: 403
	KindNotFound                     // no such thing: 404
	KindConflict                     // the state does not allow it: 409
	KindGone                         // it existed and never will again: 410
	KindTooLarge                     // the request is too large: 413
	KindUnsupported                  // wrong media type: 415
	KindUnprocessable                // well-formed but semantically refused: 422
	KindRateLimited                  // slow down: 429
	KindUnavailable                  // try again later: 503
	KindDownstream                   // a dependency failed: 502
	KindMethodNotAllowed             // the route exists, the method does not: 405
)

// FieldError is one problem with one input field.
type FieldError struct {
	Field string         // JSON path of the field, e.g. "contact_emails[1]"
	Code  string         // stable machine code, e.g. "required", "invalid_email"
	Args  map[string]any // values for the message template, e.g. {"Max": 30}
}

// Error is an error with a kind, a stable code and optional field errors.
// Code selects the problem's title and detail in the message catalogs
// ("problem.<code>.title", "problem.<code>.detail"); Args fill their templates.
type Error struct {
	Kind   Kind
	Code   string
	Args   map[string]any
	Fields []FieldError
	Err    error // the cause, for logs; never shown to clients
}

func (e *Error) Error() string {
	msg := e.Code
	if len(e.Fields) > 0 {
		msg += fmt.Sprintf(" (%d field errors", len(e.Fields))
		for _, f := range e.Fields {
			msg += fmt.Sprintf("; %s: %s", f.Field, f.Code)
		}
		msg += ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, tenants.ErrNotFound) works across wrapping.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Kind == e.Kind
}

// New returns an error of kind k with code.
func New(k Kind, code string) *Error { return &Error{Kind: k, Code: code} }

// Wrap returns an error of kind k with code and cause err.
func Wrap(k Kind, code string, err error) *Error { return &Error{Kind: k, Code: code, Err: err} }

// WithArgs returns a copy of e carrying template arguments.
func (e *Error) WithArgs(args map[string]any) *Error {
	c := *e
	c.Args = args
	return &c
}

// WithCause returns a copy of e carrying cause err.
func (e *Error) WithCause(err error) *Error {
	c := *e
	c.Err = err
	return &c
}

// Invalid returns a validation error carrying field errors.
func Invalid(fields ...FieldError) *Error {
	return &Error{Kind: KindInvalid, Code: "validation", Fields: fields}
}

// Field is shorthand for a FieldError.
func Field(field, code string, args map[string]any) FieldError {
	return FieldError{Field: field, Code: code, Args: args}
}

// KindOf returns the kind of err: the kind of the first *Error in its chain,
// or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// Validator collects field errors; Err returns nil when there are none.
type Validator struct{ fields []FieldError }

// Add records a field error.
func (v *Validator) Add(field, code string, args map[string]any) {
	v.fields = append(v.fields, FieldError{Field: field, Code: code, Args: args})
}

// Check records a field error when ok is false.
func (v *Validator) Check(ok bool, field, code string, args map[string]any) {
	if !ok {
		v.Add(field, code, args)
	}
}

// Err returns the collected errors as one validation error, or nil.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return Invalid(v.fields...)
}
