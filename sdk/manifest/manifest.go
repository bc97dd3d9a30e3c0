// Package manifest reads and checks plugin.json, the file by which the host
// discovers a plugin: its id, version, the host version it needs, its
// capabilities, the executable to start and that executable's sha256, and
// the schema of its per-tenant settings.
//
// Parse and Load validate; Verify also checks the executable against its
// sha256, which the host does before starting anything. The package has no
// dependencies beyond the standard library, so the host can read manifests
// without linking gRPC.
package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// FileName is the manifest's name inside a plugin's directory.
const FileName = "plugin.json"

// The capabilities a plugin may offer; each is a gRPC service of the contract.
const (
	CapabilityCRM      = "crm"
	CapabilitySSO      = "sso"
	CapabilityPayments = "payments"
)

// Capabilities lists every known capability, in the contract's order.
func Capabilities() []string {
	return []string{CapabilityCRM, CapabilitySSO, CapabilityPayments}
}

// Manifest is the content of plugin.json.
type Manifest struct {
	// ID is a slug ("stripe") or a reverse-DNS name ("jp.example.crm").
	ID string `json:"id"`
	// Name is the display name; optional.
	Name Text `json:"name,omitzero"`
	// Version is the plugin's semantic version ("1.2.0").
	Version string `json:"version"`
	// MinHostVersion is the oldest Yoyaku version the plugin works with.
	MinHostVersion string `json:"min_host_version"`
	// Capabilities are the services the plugin offers: crm, sso, payments.
	Capabilities []string `json:"capabilities"`
	// Executable is the program to start, relative to the manifest's
	// directory and inside it.
	Executable string `json:"executable"`
	// SHA256 is the lower-case hex sha256 of the executable.
	SHA256 string `json:"sha256"`
	// Settings is the schema of the per-tenant settings, in form order.
	Settings []Setting `json:"settings,omitempty"`
}

// Text is a short text in Japanese and English.
type Text struct {
	Ja string `json:"ja"`
	En string `json:"en"`
}

// IsZero reports whether both languages are empty.
func (t Text) IsZero() bool { return t.Ja == "" && t.En == "" }

// SettingType is the kind of a settings field.
type SettingType string

// The setting types. A secret is stored encrypted and never shown again.
const (
	TypeString SettingType = "string"
	TypeSecret SettingType = "secret"
	TypeNumber SettingType = "number"
	TypeBool   SettingType = "bool"
	TypeChoice SettingType = "choice"
)

// Setting is one field of the settings schema.
type Setting struct {
	// Key names the value: lower case letters, digits and "_", starting
	// with a letter.
	Key string `json:"key"`
	// Label is the form label, in both languages.
	Label Text `json:"label"`
	// Type is the kind of value.
	Type SettingType `json:"type"`
	// Required fields need a non-empty value.
	Required bool `json:"required,omitempty"`
	// Choices are the allowed values of a choice field (and only of one).
	Choices []Choice `json:"choices,omitempty"`
	// Help is shown under the input; optional.
	Help Text `json:"help,omitzero"`
}

// Choice is one allowed value of a choice field.
type Choice struct {
	Value string `json:"value"`
	Label Text   `json:"label"`
}

// ErrChecksumMismatch is returned by Verify when the executable's sha256 is
// not the manifest's.
var ErrChecksumMismatch = errors.New("executable does not match the manifest's sha256")

// Parse decodes and validates a manifest. Unknown fields are refused, so a
// misspelt key is an error rather than a silently missing value.
func Parse(data []byte) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", FileName, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Manifest{}, fmt.Errorf("%s: data after the JSON object", FileName)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// Load reads and validates dir/plugin.json.
func Load(dir string) (Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return Manifest{}, err
	}
	m, err := Parse(data)
	if err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// Verify loads dir/plugin.json and checks that its executable is a regular
// file inside dir, is executable, and has the manifest's sha256. The error
// wraps ErrChecksumMismatch when only the checksum is wrong.
func Verify(dir string) (Manifest, error) {
	m, err := Load(dir)
	if err != nil {
		return Manifest{}, err
	}
	path := m.ExecutablePath(dir)
	info, err := os.Lstat(path)
	if err != nil {
		return Manifest{}, fmt.Errorf("plugin %s: executable: %w", m.ID, err)
	}
	if !info.Mode().IsRegular() {
		// A symlink could point anywhere, outside the plugin directory too.
		return Manifest{}, fmt.Errorf("plugin %s: executable %s is not a regular file (%s)", m.ID, m.Executable, info.Mode().Type())
	}
	if info.Mode().Perm()&0o111 == 0 {
		return Manifest{}, fmt.Errorf("plugin %s: executable %s has no execute permission", m.ID, m.Executable)
	}
	sum, err := FileSHA256(path)
	if err != nil {
		return Manifest{}, fmt.Errorf("plugin %s: %w", m.ID, err)
	}
	if sum != m.SHA256 {
		return Manifest{}, fmt.Errorf("plugin %s: %s has sha256 %s, plugin.json says %s: %w", m.ID, m.Executable, sum, m.SHA256, ErrChecksumMismatch)
	}
	return m, nil
}

// ExecutablePath is the executable's path for a manifest read from dir.
func (m Manifest) ExecutablePath(dir string) string {
	return filepath.Join(dir, filepath.FromSlash(m.Executable))
}

// Checksum returns the sha256 as bytes, the form go-plugin's SecureConfig
// wants.
func (m Manifest) Checksum() ([]byte, error) {
	return hex.DecodeString(m.SHA256)
}

// Has reports whether the manifest declares the capability.
func (m Manifest) Has(capability string) bool {
	for _, c := range m.Capabilities {
		if c == capability {
			return true
		}
	}
	return false
}

// FileSHA256 returns the lower-case hex sha256 of a file, the value
// plugin.json's sha256 holds (what `sha256sum` prints first).
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var (
	idSegment = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	keyRe     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	sha256Re  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate returns every problem of the manifest at once, each naming its
// field, joined with errors.Join; nil when it is valid.
func (m Manifest) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(field("id", ValidateID(m.ID)))
	add(field("version", ValidateVersion(m.Version)))
	add(field("min_host_version", ValidateVersion(m.MinHostVersion)))
	add(field("capabilities", ValidateCapabilities(m.Capabilities)))
	add(field("executable", validateExecutable(m.Executable)))
	if !sha256Re.MatchString(m.SHA256) {
		add(field("sha256", errors.New("must be 64 lower-case hex digits (sha256sum's output)")))
	}
	add(ValidateSettings(m.Settings))
	return errors.Join(errs...)
}

func field(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

// ValidateID checks a plugin id: a slug ("stripe", "line-login") or a
// reverse-DNS name ("jp.example.crm"), lower case letters, digits and
// hyphens, dot-separated segments that neither start nor end with a hyphen,
// starting with a letter, at most 64 characters.
func ValidateID(id string) error {
	switch {
	case id == "":
		return errors.New("is required")
	case len(id) > 64:
		return fmt.Errorf("%q is longer than 64 characters", id)
	case id[0] < 'a' || id[0] > 'z':
		return fmt.Errorf("%q must start with a lower-case letter", id)
	}
	for _, seg := range strings.Split(id, ".") {
		if !idSegment.MatchString(seg) {
			return fmt.Errorf("%q is neither a slug nor a reverse-DNS name (lower-case letters, digits, '-' inside, segments joined by '.')", id)
		}
	}
	return nil
}

// ValidateVersion checks a semantic version (MAJOR.MINOR.PATCH with an
// optional -prerelease and +build, no "v" prefix).
func ValidateVersion(v string) error {
	if v == "" {
		return errors.New("is required")
	}
	if _, err := ParseVersion(v); err != nil {
		return err
	}
	return nil
}

// ValidateCapabilities checks that there is at least one capability, each
// known and listed once.
func ValidateCapabilities(caps []string) error {
	if len(caps) == 0 {
		return fmt.Errorf("at least one of %s is required", strings.Join(Capabilities(), ", "))
	}
	seen := make(map[string]bool)
	for _, c := range caps {
		known := false
		for _, k := range Capabilities() {
			known = known || c == k
		}
		if !known {
			return fmt.Errorf("unknown capability %q (known: %s)", c, strings.Join(Capabilities(), ", "))
		}
		if seen[c] {
			return fmt.Errorf("capability %q is listed twice", c)
		}
		seen[c] = true
	}
	return nil
}

func validateExecutable(p string) error {
	switch {
	case p == "":
		return errors.New("is required")
	case strings.Contains(p, `\`):
		return fmt.Errorf("%q: use '/' as the separator", p)
	case !fs.ValidPath(p) || p == ".":
		return fmt.Errorf("%q must be a relative path inside the plugin directory (no leading '/', no '..', no '.' segments)", p)
	}
	return nil
}

// ValidateSettings checks a settings schema: unique well-formed keys, both
// labels, a known type, and choices for (and only for) choice fields.
func ValidateSettings(schema []Setting) error {
	var errs []error
	seen := make(map[string]bool)
	for i, s := range schema {
		name := fmt.Sprintf("settings[%d]", i)
		if s.Key != "" {
			name = fmt.Sprintf("settings[%d] (%s)", i, s.Key)
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
		}
		switch {
		case s.Key == "":
			bad("key is required")
		case !keyRe.MatchString(s.Key):
			bad("key %q must be lower-case letters, digits and '_', starting with a letter", s.Key)
		case seen[s.Key]:
			bad("key %q is used twice", s.Key)
		}
		seen[s.Key] = true
		if s.Label.Ja == "" || s.Label.En == "" {
			bad("label needs both ja and en")
		}
		switch s.Type {
		case TypeString, TypeSecret, TypeNumber, TypeBool:
			if len(s.Choices) > 0 {
				bad("choices are only for type %q", TypeChoice)
			}
		case TypeChoice:
			if len(s.Choices) == 0 {
				bad("a choice field needs choices")
			}
			values := make(map[string]bool)
			for j, c := range s.Choices {
				switch {
				case c.Value == "":
					bad("choices[%d]: value is required", j)
				case values[c.Value]:
					bad("choices[%d]: value %q is used twice", j, c.Value)
				}
				values[c.Value] = true
				if c.Label.Ja == "" || c.Label.En == "" {
					bad("choices[%d]: label needs both ja and en", j)
				}
			}
		case "":
			bad("type is required (string, secret, number, bool or choice)")
		default:
			bad("unknown type %q (string, secret, number, bool or choice)", s.Type)
		}
	}
	return errors.Join(errs...)
}
