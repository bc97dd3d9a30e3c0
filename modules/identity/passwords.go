package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"
	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Password policy (NIST SP 800-63B §3.1.1.2): a length range counted in
// characters after Unicode NFKC normalisation, no composition rules, and a
// refusal of passwords that are common or built from the account's own
// e-mail address, the tenant's name or the service's name. Spaces and any
// Unicode character are allowed, so a Japanese passphrase works.
const (
	PasswordMinLength = 12
	PasswordMaxLength = 128
)

// serviceWords are context-specific words no password may contain.
var serviceWords = []string{"yoyaku"}

// normalizePassword is the form a password is measured, checked and
// hashed in: NFKC, so that a full-width "Ｐａｓｓ" and an ASCII "Pass", or
// two encodings of "が", are the same password wherever it is typed.
func normalizePassword(p string) string { return norm.NFKC.String(p) }

// CheckPassword applies the password policy to a new password for the
// account with email in the tenant with slug. It returns nil or a
// validation error on the field "password" with one of the codes
// password_short, password_long, password_common, password_personal.
func CheckPassword(password, email, tenantSlug string) error {
	p := normalizePassword(password)
	n := utf8.RuneCountInString(p)
	switch {
	case n < PasswordMinLength:
		return apperr.Invalid(apperr.Field("password", "password_short", map[string]any{"Min": PasswordMinLength}))
	case n > PasswordMaxLength:
		return apperr.Invalid(apperr.Field("password", "password_long", map[string]any{"Max": PasswordMaxLength}))
	}
	lower := strings.ToLower(p)
	if personalPassword(lower, email, tenantSlug) {
		return apperr.Invalid(apperr.Field("password", "password_personal", nil))
	}
	if commonPassword(lower) {
		return apperr.Invalid(apperr.Field("password", "password_common", nil))
	}
	return nil
}

func personalPassword(lower, email, slug string) bool {
	email = strings.ToLower(strings.TrimSpace(email))
	words := append([]string{}, serviceWords...)
	if email != "" {
		words = append(words, email)
		if local, _, ok := strings.Cut(email, "@"); ok && utf8.RuneCountInString(local) >= 4 {
			words = append(words, local)
		}
	}
	if slug = strings.ToLower(strings.TrimSpace(slug)); slug != "" {
		words = append(words, slug)
	}
	for _, w := range words {
		if w != "" && strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// commonPasswords is the list of the 30,000 most common passwords that
// zxcvbn ships (Dan Wheeler and Dropbox's zxcvbn 4.4.2 "passwords" frequency
// list, drawn from leaked password corpora; MIT licence), through its Go
// port github.com/trustelem/zxcvbn (MIT licence, Copyright (c) 2018 Vincent
// Vanackere and Trustelem). It is read-only data, built once.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	list := frequency.FrequencyLists["passwords"]
	set := make(map[string]struct{}, len(list))
	for _, p := range list {
		set[strings.ToLower(p)] = struct{}{}
	}
	return set
})

// keyboardRuns are sequences whose stretches people type as passwords.
var keyboardRuns = func() []string {
	runs := []string{
		strings.Repeat("0123456789", 14),
		"abcdefghijklmnopqrstuvwxyz",
		"qwertyuiopasdfghjklzxcvbnm",
		"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
		"qazwsxedcrfvtgbyhnujmikolp",
	}
	for _, r := range runs[:len(runs):len(runs)] {
		b := []rune(r)
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		runs = append(runs, string(b))
	}
	return runs
}()

// commonPassword reports whether lower (a lower-cased, normalised password)
// is on the list, is a listed password with digits or symbols around it
// ("password2024!"), repeats a short or listed unit ("abcabcabcabc",
// "qwertyqwerty"), or is a run of a keyboard or counting sequence.
func commonPassword(lower string) bool {
	set := commonPasswords()
	if _, ok := set[lower]; ok {
		return true
	}
	core := strings.TrimFunc(lower, func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	})
	if core != lower && utf8.RuneCountInString(core) >= 4 {
		if _, ok := set[core]; ok {
			return true
		}
	}
	if unit, ok := repeatedUnit(lower); ok {
		if _, listed := set[unit]; listed || utf8.RuneCountInString(unit) <= 4 {
			return true
		}
	}
	for _, run := range keyboardRuns {
		if strings.Contains(run, lower) {
			return true
		}
	}
	return false
}

// repeatedUnit returns the shortest u such that s is u repeated at least
// twice.
func repeatedUnit(s string) (string, bool) {
	r := []rune(s)
	for size := 1; size <= len(r)/2; size++ {
		if len(r)%size != 0 {
			continue
		}
		unit := string(r[:size])
		if strings.Repeat(unit, len(r)/size) == s {
			return unit, true
		}
	}
	return "", false
}

// PasswordParams are the argon2id costs (RFC 9106) of new password hashes.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultPasswordParams returns the production cost: 64 MiB, one pass,
// two lanes (RFC 9106's second recommendation with fewer passes, OWASP's
// m=46 MiB,t=1 floor exceeded; about 50–100 ms on a server core), a 16-byte
// salt and a 32-byte key.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Memory: 64 * 1024, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}
}

// TestPasswordParams returns a cost for tests only: 64 KiB, one pass.
func TestPasswordParams() PasswordParams {
	return PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func (p PasswordParams) withDefaults() PasswordParams {
	d := DefaultPasswordParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	return p
}

// maxPasswordBytes caps what is hashed at login, where the policy's length
// is not checked: 128 characters of at most 4 bytes each, with room for
// NFKC to expand them.
const maxPasswordBytes = 4 * PasswordMaxLength * 4

// hashPassword returns the PHC string of password:
// $argon2id$v=19$m=65536,t=1,p=2$<salt>$<key> (unpadded standard base64).
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	p := s.params
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt)
	release, err := s.acquireHash(ctx)
	if err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(normalizePassword(password)), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	release()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// verifyPassword reports whether password matches the PHC string phc, and
// whether phc should be recomputed with the current parameters.
func (s *Service) verifyPassword(ctx context.Context, phc, password string) (ok, rehash bool, err error) {
	p, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, false, apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	if len(password) > maxPasswordBytes {
		password = password[:maxPasswordBytes] // still costs a hash; cannot match a valid password
	}
	release, err := s.acquireHash(ctx)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(normalizePassword(password)), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	release()
	ok = subtle.ConstantTimeCompare(got, want) == 1
	cur := s.params
	rehash = p.Memory != cur.Memory || p.Time != cur.Time || p.Threads != cur.Threads || uint32(len(want)) != cur.KeyLen || uint32(len(salt)) != cur.SaltLen
	return ok, rehash, nil
}

// HashPassword, VerifyPassword and SpendDummyHash give other account kinds
// (members of the booking site) the staff accounts' hashing: the same
// argon2id cost, the same bounded concurrency, the same normalisation, so
// one policy holds for every password the service stores.

// HashPassword returns the PHC string of password (see hashPassword). It
// does not apply the policy: call CheckPassword first.
func (s *Service) HashPassword(ctx context.Context, password string) (string, error) {
	return s.hashPassword(ctx, password)
}

// VerifyPassword reports whether password matches the PHC string phc, and
// whether phc should be recomputed with the current cost.
func (s *Service) VerifyPassword(ctx context.Context, phc, password string) (ok, rehash bool, err error) {
	return s.verifyPassword(ctx, phc, password)
}

// SpendDummyHash costs what a failed VerifyPassword costs, for an unknown
// account, so that refusing it takes as long as a wrong password.
func (s *Service) SpendDummyHash(ctx context.Context, password string) {
	s.spendDummyHash(ctx, password)
}

// ThrottleSource is the key under which login failures from sourceIP are
// counted: the address for IPv4, its /64 for IPv6, "" when unparseable.
func ThrottleSource(sourceIP string) string { return throttleSource(sourceIP) }

// spendDummyHash verifies a password against a hash of nothing, so that an
// unknown or disabled account takes as long to refuse as a wrong password.
func (s *Service) spendDummyHash(ctx context.Context, password string) {
	_, _, _ = s.verifyPassword(ctx, s.dummyHash, password)
}

func (s *Service) acquireHash(ctx context.Context) (func(), error) {
	select {
	case s.hashSem <- struct{}{}:
		return func() { <-s.hashSem }, nil
	case <-ctx.Done():
		return nil, apperr.Wrap(apperr.KindInternal, "internal", ctx.Err())
	}
}

var errBadPHC = errors.New("identity: malformed password hash")

func parsePHC(phc string) (p PasswordParams, salt, key []byte, err error) {
	parts := strings.Split(phc, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadPHC
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errBadPHC
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil || threads == 0 || threads > 255 || p.Time == 0 || p.Memory == 0 {
		return p, nil, nil, errBadPHC
	}
	p.Threads = uint8(threads)
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return p, nil, nil, errBadPHC
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, errBadPHC
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
