package sdk

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type nopPayments struct{ Payments }

func TestPluginValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Plugin
		want []string
	}{
		{"valid", Plugin{Info: Info{ID: "hello", Version: "1.0.0"}, Payments: nopPayments{}}, nil},
		{"no capability", Plugin{Info: Info{ID: "hello", Version: "1.0.0"}}, []string{"Info.Capabilities", "at least one"}},
		{"declared but not implemented", Plugin{Info: Info{ID: "hello", Version: "1.0.0", Capabilities: []string{"payments", "sso"}}, Payments: nopPayments{}}, []string{"disagree"}},
		{"bad id and version", Plugin{Info: Info{ID: "Hello!", Version: "1"}, Payments: nopPayments{}}, []string{"Info.ID", "Info.Version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want %q", err, w)
				}
			}
		})
	}
	if got := (Plugin{Payments: nopPayments{}}).info().Capabilities; len(got) != 1 || got[0] != CapabilityPayments {
		t.Errorf("filled capabilities %v", got)
	}
}

func TestStatusRoundTrip(t *testing.T) {
	for _, want := range []error{ErrUnavailable, ErrInvalid, ErrUnimplemented, ErrFailed, context.DeadlineExceeded, context.Canceled} {
		if got := fromStatus(toStatus(want)); !errors.Is(got, want) {
			t.Errorf("%v came back as %v", want, got)
		}
	}
	if got := fromStatus(errors.New("not a status")); !errors.Is(got, ErrFailed) {
		t.Errorf("a plain error came back as %v", got)
	}
	if toStatus(nil) != nil || fromStatus(nil) != nil {
		t.Error("nil is not nil")
	}
}
