package validate_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/validate"
)

func TestValidTimeZone(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Asia/Tokyo", true},
		{"UTC", true},
		{"America/New_York", true},
		{"Europe/London", true},
		{"", false},
		{"Local", false},
		{"Mars/Olympus", false},
		{"../etc/passwd", false},
		{"/etc/localtime", false},
		{"/usr/share/zoneinfo/Asia/Tokyo", false},
		{`Asia\Tokyo`, false},
		{"Asia/Tokyo ", false},
		{" Asia/Tokyo", false},
		{"Asia/Tokyo\n", false},
		{"Asia/../Asia/Tokyo", false},
	}
	for _, tt := range tests {
		if got := validate.ValidTimeZone(tt.name); got != tt.want {
			t.Errorf("ValidTimeZone(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

type address struct {
	City string `json:"city" validate:"required"`
}

type tenantForm struct {
	Name          string   `json:"name" validate:"required,max=10,nocontrol"`
	TimeZone      string   `json:"time_zone" validate:"required,iana_tz"`
	ContactEmails []string `json:"contact_emails" validate:"max=3,dive,email"`
	Address       address  `json:"address"`
	Note          string   `json:",omitempty" validate:"max=5"`
}

func valid() tenantForm {
	return tenantForm{
		Name:          "Salon",
		TimeZone:      "Asia/Tokyo",
		ContactEmails: []string{"a@example.jp", "b@example.jp"},
		Address:       address{City: "Kyoto"},
	}
}

func TestStruct(t *testing.T) {
	v := validate.New()
	type want struct{ field, code, param string }
	tests := []struct {
		name   string
		modify func(*tenantForm)
		want   []want
	}{
		{"valid", func(*tenantForm) {}, nil},
		{"required", func(f *tenantForm) { f.Name = "" }, []want{{"name", "required", ""}}},
		{"max on a string", func(f *tenantForm) { f.Name = strings.Repeat("a", 11) }, []want{{"name", "max", "10"}}},
		{"max counts characters, not bytes", func(f *tenantForm) { f.Name = strings.Repeat("予", 10) }, nil},
		{"nocontrol", func(f *tenantForm) { f.Name = "a\r\nBcc: x" }, []want{{"name", "nocontrol", ""}}},
		{"nocontrol tab", func(f *tenantForm) { f.Name = "a\tb" }, []want{{"name", "nocontrol", ""}}},
		{"nocontrol DEL", func(f *tenantForm) { f.Name = "a\x7fb" }, []want{{"name", "nocontrol", ""}}},
		{"iana_tz", func(f *tenantForm) { f.TimeZone = "Mars/Olympus" }, []want{{"time_zone", "iana_tz", ""}}},
		{"iana_tz Local", func(f *tenantForm) { f.TimeZone = "Local" }, []want{{"time_zone", "iana_tz", ""}}},
		{"email in a slice", func(f *tenantForm) { f.ContactEmails[1] = "not-an-email" }, []want{{"contact_emails[1]", "email", ""}}},
		{"too many items", func(f *tenantForm) { f.ContactEmails = []string{"a@x.jp", "b@x.jp", "c@x.jp", "d@x.jp"} }, []want{{"contact_emails", "max_items", "3"}}},
		{"nested struct", func(f *tenantForm) { f.Address.City = "" }, []want{{"address.city", "required", ""}}},
		{"json tag without name uses the Go name", func(f *tenantForm) { f.Note = "too long" }, []want{{"Note", "max", "5"}}},
		{"every failing field", func(f *tenantForm) {
			f.Name = ""
			f.TimeZone = "Nowhere/Land"
			f.ContactEmails[0] = "x"
		}, []want{{"name", "required", ""}, {"time_zone", "iana_tz", ""}, {"contact_emails[0]", "email", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := valid()
			tt.modify(&f)
			err := validate.Struct(v, f)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Struct = %v, want nil", err)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) {
				t.Fatalf("Struct = %v (%T), want *apperr.Error", err, err)
			}
			if ae.Kind != apperr.KindInvalid || ae.Code != "validation" {
				t.Errorf("kind %v code %q, want invalid/validation", ae.Kind, ae.Code)
			}
			var got []want
			for _, fe := range ae.Fields {
				p, _ := fe.Args["Param"].(string)
				got = append(got, want{fe.Field, fe.Code, p})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("fields\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestStructNotAStruct(t *testing.T) {
	err := validate.Struct(validate.New(), 42)
	if apperr.KindOf(err) != apperr.KindInternal {
		t.Errorf("Struct(42) = %v, want an internal error (a programming mistake)", err)
	}
}
