package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"
	"github.com/go-playground/validator/v10"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/validate"
)

// structValidator installs go-playground/validator (required structs, JSON
// field names) as gin's binding engine, with the "binding" tag gin uses.
type structValidator struct{ v *validator.Validate }

func (s structValidator) ValidateStruct(obj any) error {
	if obj == nil {
		return nil
	}
	return s.v.Struct(obj)
}

func (s structValidator) Engine() any { return s.v }

var installOnce sync.Once

// installValidator replaces gin's validator once per process. gin keeps its
// validator in a package variable; this is the one place we set it.
func installValidator() {
	installOnce.Do(func() {
		v := validate.New()
		v.SetTagName("binding")
		binding.Validator = structValidator{v}
	})
}

var (
	errUnsupportedMedia = apperr.New(apperr.KindUnsupported, "unsupported_media_type")
	errMalformed        = apperr.New(apperr.KindInvalid, "malformed_json")
	errEmptyBody        = apperr.New(apperr.KindInvalid, "empty_body")
)

// BindJSON decodes the request body into dst strictly: the media type must be
// JSON, unknown fields are refused, a value of the wrong type names its field,
// trailing data is refused, and the struct's `binding` tags are checked.
// Every failure is a client error (400, 413 or 415), never a 500.
func BindJSON(c *gin.Context, dst any) error {
	ct := c.GetHeader("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return errUnsupportedMedia
	}
	if c.Request.Body == nil {
		return errEmptyBody
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		if limit, ok := maxBytesLimit(err); ok {
			return errTooLarge.WithArgs(map[string]any{"Max": limit})
		}
		return errMalformed.WithCause(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errEmptyBody
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return errMalformed
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errMalformed
	}
	if err := binding.Validator.ValidateStruct(dst); err != nil {
		var ves validator.ValidationErrors
		if errors.As(err, &ves) {
			return validate.FromValidator(ves)
		}
		return apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	return nil
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return errMalformed.WithCause(err)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return errMalformed.WithCause(err)
		}
		return apperr.Invalid(apperr.Field(field, "type", map[string]any{"Type": jsonType(typ.Type.Kind().String())}))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Invalid(apperr.Field(name, "unknown_field", nil))
	}
	return errMalformed.WithCause(err)
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	}
	return "number"
}
