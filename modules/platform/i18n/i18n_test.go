package i18n_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/web"
)

func load(t *testing.T) *i18n.Catalog {
	t.Helper()
	cat, err := i18n.Load(web.FS, "i18n")
	if err != nil {
		t.Fatalf("Load(web.FS) = %v", err)
	}
	return cat
}

func TestLoadRealCatalogs(t *testing.T) {
	cat := load(t)
	for _, id := range []string{"problem.internal.title", "problem.not_found.title", "field.required", "status.500"} {
		if !cat.Has(id) {
			t.Errorf("catalog lacks %q", id)
		}
		ja, en := cat.T(i18n.Japanese, id, nil), cat.T(i18n.English, id, nil)
		if ja == id || en == id || ja == en {
			t.Errorf("%s: ja %q en %q, want two different translations", id, ja, en)
		}
	}
}

func TestMatch(t *testing.T) {
	cat := load(t)
	tests := []struct {
		name, choice, accept, want string
	}{
		{"nothing", "", "", "ja"},
		{"cookie en", "en", "", "en"},
		{"cookie ja", "ja", "", "ja"},
		{"cookie en beats header ja", "en", "ja", "en"},
		{"cookie ja beats header en", "ja", "en-US,en;q=0.9", "ja"},
		{"unsupported cookie falls to header", "fr", "en", "en"},
		{"cookie is exact, not a tag", "EN", "", "ja"},
		{"ja", "", "ja", "ja"},
		{"ja-JP", "", "ja-JP", "ja"},
		{"en", "", "en", "en"},
		{"en-US with q", "", "en-US,en;q=0.9", "en"},
		{"en-GB", "", "en-GB", "en"},
		{"ja preferred by weight", "", "en-GB;q=0.8,ja;q=0.9", "ja"},
		{"en preferred by weight", "", "ja;q=0.1,en", "en"},
		{"unsupported", "", "fr", "ja"},
		{"unsupported then en", "", "fr-FR,fr;q=0.9,en;q=0.5", "en"},
		{"wildcard", "", "*", "ja"},
		{"garbage", "", "!!!@@@", "ja"},
		{"garbage q", "", "en;q=abc", "ja"},
		{"very long", "", strings.Repeat("x-", 500), "ja"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cat.Match(tt.choice, tt.accept); got != tt.want {
				t.Errorf("Match(%q, %q) = %q, want %q", tt.choice, tt.accept, got, tt.want)
			}
		})
	}
}

func TestT(t *testing.T) {
	fsys := fstest.MapFS{
		"c/ja/x.json": {Data: []byte(`{"greet": "{{.Name}}様、こんにちは", "plain": "はい"}`)},
		"c/en/x.json": {Data: []byte(`{"greet": "Hello, {{.Name}}", "plain": "Yes"}`)},
	}
	cat, err := i18n.Load(fsys, "c")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang, id string
		data     map[string]any
		want     string
	}{
		{"ja", "greet", map[string]any{"Name": "山田"}, "山田様、こんにちは"},
		{"en", "greet", map[string]any{"Name": "Yamada"}, "Hello, Yamada"},
		{"en", "plain", nil, "Yes"},
		{"fr", "plain", nil, "はい"}, // unknown language: Japanese
		{"en", "missing.id", nil, "missing.id"},
	}
	for _, tt := range tests {
		if got := cat.T(tt.lang, tt.id, tt.data); got != tt.want {
			t.Errorf("T(%q, %q, %v) = %q, want %q", tt.lang, tt.id, tt.data, got, tt.want)
		}
	}
	if !cat.Has("greet") || cat.Has("missing.id") {
		t.Error("Has is wrong")
	}

	// The real catalog fills its templates too.
	real := load(t)
	if got := real.T("en", "field.max", map[string]any{"Param": "30"}); !strings.Contains(got, "30") || strings.Contains(got, "{{") {
		t.Errorf("field.max = %q, want 30 filled in", got)
	}
}

func TestLoadRefusesMissingTranslation(t *testing.T) {
	tests := []struct {
		name     string
		ja, en   string
		wantText []string
	}{
		{"english lacks a key", `{"a": "あ", "only.ja": "日本語だけ"}`, `{"a": "A"}`, []string{`"only.ja"`, "English"}},
		{"japanese lacks a key", `{"a": "あ"}`, `{"a": "A", "only.en": "English only"}`, []string{`"only.en"`, "Japanese"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"i18n/ja/x.json": {Data: []byte(tt.ja)},
				"i18n/en/x.json": {Data: []byte(tt.en)},
			}
			_, err := i18n.Load(fsys, "i18n")
			if err == nil {
				t.Fatal("Load = nil, want an error")
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"missing english file", fstest.MapFS{"i18n/ja/x.json": {Data: []byte(`{"a":"あ"}`)}}, "i18n/en"},
		{"twice in one language", fstest.MapFS{
			"i18n/ja/x.json": {Data: []byte(`{"a":"あ"}`)},
			"i18n/ja/y.json": {Data: []byte(`{"a":"ア"}`)},
			"i18n/en/x.json": {Data: []byte(`{"a":"A"}`)},
		}, "twice"},
		{"bad json", fstest.MapFS{
			"i18n/ja/x.json": {Data: []byte(`{"a":`)},
			"i18n/en/x.json": {Data: []byte(`{"a":"A"}`)},
		}, "ja/x.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := i18n.Load(tt.fsys, "i18n")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}
