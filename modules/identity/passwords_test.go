package identity

import (
	"context"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

func TestCheckPassword(t *testing.T) {
	const email = "hanako.sato@example.jp"
	tests := []struct {
		name     string
		password string
		want     string // field code; "" = accepted
	}{
		{"11 characters", "abcdefghij1", "password_short"},
		{"12 characters", "vivid-otter7", ""},
		{"counts characters, not bytes: 12 kana", "さくらもちとうぐいすあん", ""},
		{"11 kana is short", "さくらもちとうぐいすあ", "password_short"},
		{"128 characters", strings.Repeat("q7$", 42) + "xy", ""},
		{"129 characters", strings.Repeat("q7$", 43), "password_long"},
		{"no composition rules: all lower case", "mountain river falcon", ""},
		{"spaces allowed", "  a  long  walk  home  ", ""},
		{"full-width is normalised before counting", "ｖｉｖｉｄ－ｏｔｔｅｒ７", ""},
		{"common (listed, 12+)", "1qaz2wsx3edc", "password_common"},
		{"common, case-insensitive", "QAZWSXEDCRFV", "password_common"},
		{"common password with digits appended", "password2024!", "password_common"},
		{"common word padded", "!!iloveyou!!", "password_common"},
		{"repeated short unit", "abcabcabcabc", "password_common"},
		{"repeated listed unit", "dragondragon", "password_common"},
		{"one character repeated", "aaaaaaaaaaaaaaa", "password_common"},
		{"keyboard run", "qwertyuiopas", "password_common"},
		{"counting run", "345678901234", "password_common"},
		{"reversed alphabet", "zyxwvutsrqpon", "password_common"},
		{"contains the e-mail", "x" + email + "!", "password_personal"},
		{"contains the local part", "my-hanako.sato-key", "password_personal"},
		{"contains the local part, any case", "My-HANAKO.SATO-Key", "password_personal"},
		{"contains the tenant slug", "best salon-hanami ever", "password_personal"},
		{"contains the service name", "my yoyaku password", "password_personal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.password, email, testSlug)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckPassword(%q) = %v, want nil", tt.password, err)
				}
				return
			}
			wantField(t, err, "password", tt.want)
		})
	}
}

func TestShortLocalPartIsNotAWord(t *testing.T) {
	// "abe" is too short to be a meaningful part: it would refuse far too
	// many passwords ("vegetable-abe...").
	if err := CheckPassword("lovely-abe-garden", "abe@example.jp", "cafe-tokyo"); err != nil {
		t.Fatalf("CheckPassword = %v", err)
	}
	wantField(t, CheckPassword("lovely-abe@example.jp", "abe@example.jp", "cafe-tokyo"), "password", "password_personal")
}

func TestCommonListIsReal(t *testing.T) {
	set := commonPasswords()
	if len(set) < 25000 {
		t.Fatalf("common password list has %d entries, want the 30,000 of zxcvbn", len(set))
	}
	for _, p := range []string{"123456", "password", "qwerty", "iloveyou", "1q2w3e4r5t6y"} {
		if _, ok := set[p]; !ok {
			t.Errorf("%q missing from the common list", p)
		}
	}
}

func TestPasswordErrorArgs(t *testing.T) {
	ae := wantCode(t, CheckPassword("short", "", ""), "validation")
	if ae.Fields[0].Args["Min"] != PasswordMinLength {
		t.Errorf("args %v", ae.Fields[0].Args)
	}
	if apperr.KindOf(ae) != apperr.KindInvalid {
		t.Errorf("kind %v", apperr.KindOf(ae))
	}
}

func TestHashAndVerify(t *testing.T) {
	ctx := context.Background()
	svc, err := NewService(Config{Password: TestPasswordParams()})
	if err != nil {
		t.Fatal(err)
	}
	phc, err := svc.hashPassword(ctx, "ｖｉｖｉｄ－ｏｔｔｅｒ７")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("PHC string %q", phc)
	}
	ok, rehash, err := svc.verifyPassword(ctx, phc, "vivid-otter7") // the NFKC form of the full-width one
	if err != nil || !ok || rehash {
		t.Fatalf("verify = %v %v %v", ok, rehash, err)
	}
	if ok, _, _ := svc.verifyPassword(ctx, phc, "vivid-otter8"); ok {
		t.Fatal("a wrong password verified")
	}
	phc2, _ := svc.hashPassword(ctx, "vivid-otter7")
	if phc2 == phc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	// Raising the cost flags old hashes for rehashing.
	stronger, _ := NewService(Config{Password: PasswordParams{Memory: 128, Time: 2, Threads: 1}})
	if ok, rehash, _ := stronger.verifyPassword(ctx, phc, "vivid-otter7"); !ok || !rehash {
		t.Fatalf("after raising the cost: ok=%v rehash=%v", ok, rehash)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "plain"} {
		if _, _, err := svc.verifyPassword(ctx, bad, "x"); err == nil {
			t.Errorf("verify against %q: no error", bad)
		}
	}
}

func TestDefaultPasswordParams(t *testing.T) {
	p := DefaultPasswordParams()
	if p.Memory < 46*1024 || p.Time < 1 || p.KeyLen < 32 || p.SaltLen < 16 {
		t.Fatalf("production argon2id parameters below OWASP's floor: %+v", p)
	}
}
