// Package i18n holds the message catalogs (Japanese first, English) and picks
// a language for a request from its Accept-Language header or the language
// cookie. Every string a person reads comes from a catalog in web/i18n, never
// from Go code or templates.
package i18n

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Supported languages, the default first.
const (
	Japanese = "ja"
	English  = "en"
)

// CookieName is the cookie that keeps a visitor's chosen language.
const CookieName = "yoyaku_lang"

// Catalog is a loaded set of message catalogs. It is safe for concurrent use.
type Catalog struct {
	bundle     *goi18n.Bundle
	matcher    language.Matcher
	localizers map[string]*goi18n.Localizer
}

// Load reads the catalogs in dir of fsys: every *.json file in dir/ja and
// in dir/en (one file per module, e.g. "ja/platform.json"), each a flat
// object of message IDs. It fails when an ID is defined twice in one
// language, or exists in one language but not the other, so a missing
// translation is caught at start-up and in tests, not by a customer.
func Load(fsys fs.FS, dir string) (*Catalog, error) {
	b := goi18n.NewBundle(language.Japanese)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	ids := map[string]map[string]bool{}
	for _, lang := range []string{Japanese, English} {
		names, err := fs.Glob(fsys, path.Join(dir, lang, "*.json"))
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("i18n: no catalogs in %s", path.Join(dir, lang))
		}
		ids[lang] = map[string]bool{}
		for _, name := range names {
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("i18n: read %s: %w", name, err)
			}
			// go-i18n takes the language from the file name: parse under
			// "<lang>.json" whatever the module file is called.
			mf, err := b.ParseMessageFileBytes(data, lang+".json")
			if err != nil {
				return nil, fmt.Errorf("i18n: parse %s: %w", name, err)
			}
			for _, m := range mf.Messages {
				if ids[lang][m.ID] {
					return nil, fmt.Errorf("i18n: message %q defined twice in %s (again in %s)", m.ID, lang, name)
				}
				ids[lang][m.ID] = true
			}
		}
	}
	for id := range ids[Japanese] {
		if !ids[English][id] {
			return nil, fmt.Errorf("i18n: message %q has no English text", id)
		}
	}
	for id := range ids[English] {
		if !ids[Japanese][id] {
			return nil, fmt.Errorf("i18n: message %q has no Japanese text", id)
		}
	}
	c := &Catalog{
		bundle:     b,
		matcher:    language.NewMatcher([]language.Tag{language.Japanese, language.English}),
		localizers: map[string]*goi18n.Localizer{},
	}
	for _, lang := range []string{Japanese, English} {
		c.localizers[lang] = goi18n.NewLocalizer(b, lang)
	}
	return c, nil
}

// Match picks a supported language: an explicit choice (the cookie, when set
// to a supported language) wins, then the Accept-Language header, then
// Japanese.
func (c *Catalog) Match(choice, acceptLanguage string) string {
	if choice == Japanese || choice == English {
		return choice
	}
	if acceptLanguage == "" {
		return Japanese
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Japanese
	}
	_, idx, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return Japanese
	}
	if idx == 1 {
		return English
	}
	return Japanese
}

// Has reports whether the catalog holds message id.
func (c *Catalog) Has(id string) bool {
	_, err := c.localizers[Japanese].Localize(&goi18n.LocalizeConfig{MessageID: id})
	return err == nil
}

// T returns message id in lang, filled with data. A missing message returns
// its id, so a gap shows up plainly instead of as an empty string.
func (c *Catalog) T(lang, id string, data map[string]any) string {
	l, ok := c.localizers[lang]
	if !ok {
		l = c.localizers[Japanese]
	}
	s, err := l.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if err != nil {
		return id
	}
	return s
}
