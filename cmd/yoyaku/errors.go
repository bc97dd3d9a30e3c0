package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/web"
)

// describe turns a service error into one English line for the terminal,
// with the same messages the API gives.
func describe(err error) error {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return err
	}
	cat, cerr := i18n.Load(web.FS, "i18n")
	if cerr != nil {
		return err
	}
	msg := cat.T(i18n.English, "problem."+ae.Code+".title", ae.Args)
	if msg == "problem."+ae.Code+".title" {
		msg = ae.Code
	}
	var parts []string
	for _, f := range ae.Fields {
		args := map[string]any{"Field": f.Field}
		for k, v := range f.Args {
			args[k] = v
		}
		parts = append(parts, fmt.Sprintf("%s: %s", f.Field, cat.T(i18n.English, "field."+f.Code, args)))
	}
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, "; ")
	}
	if ae.Kind == apperr.KindInternal || ae.Kind == apperr.KindUnavailable {
		if ae.Err != nil {
			msg += " (" + ae.Err.Error() + ")"
		}
	}
	return errors.New(msg)
}
