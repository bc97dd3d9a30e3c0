package identity

import (
	"bytes"
	"fmt"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
)

// enrol turns TOTP on for the account of token and returns its secret and
// recovery codes.
func (e *env) enrol(token string) (string, []string) {
	e.t.Helper()
	_, sess, err := e.svc.Authenticate(e.ctx, e.db, token)
	if err != nil && sess.ID == "" {
		e.t.Fatal(err)
	}
	en, err := e.svc.BeginEnrol(e.ctx, e.db, sess, testSlug)
	if err != nil {
		e.t.Fatal(err)
	}
	code, err := totp.GenerateCode(en.Secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	codes, err := e.svc.ConfirmEnrol(e.ctx, e.db, sess, code)
	if err != nil {
		e.t.Fatal(err)
	}
	return en.Secret, codes
}

func (e *env) code(secret string) string {
	e.t.Helper()
	c, err := totp.GenerateCode(secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// pending logs in with the password and returns the session waiting for
// its second factor.
func (e *env) pending(email string) (string, Session) {
	e.t.Helper()
	tok, _, needsTOTP, err := e.svc.Login(e.ctx, e.db, testSlug, email, testPassword, testIP, testUA)
	if err != nil || !needsTOTP {
		e.t.Fatalf("Login = %v, needsTOTP %v", err, needsTOTP)
	}
	p, sess, err := e.svc.Authenticate(e.ctx, e.db, tok)
	wantCode(e.t, err, "second_factor_required")
	if sess.Stage != StageTOTP || p.ID != "" {
		e.t.Fatalf("a pending session authorises: %+v %+v", p, sess)
	}
	return tok, sess
}

func TestTOTPEnrolAndSignIn(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		tok := e.login("owner@example.jp")
		_, sess := e.auth(tok)

		en, err := e.svc.BeginEnrol(e.ctx, db, sess, testSlug)
		if err != nil {
			t.Fatal(err)
		}
		if len(en.Secret) != 32 || !strings.HasPrefix(en.URL, "otpauth://totp/") || !strings.Contains(en.URL, "owner@example.jp") ||
			!strings.Contains(en.URL, "issuer=Yoyaku%20"+testSlug) || !strings.Contains(en.URL, "secret="+en.Secret) {
			t.Fatalf("enrolment %q %q", en.Secret, en.URL)
		}
		img, err := png.Decode(bytes.NewReader(en.QRCodePNG))
		if err != nil || img.Bounds().Dx() != 256 {
			t.Fatalf("QR code: %v", err)
		}
		// A wrong code does not enrol.
		_, err = e.svc.ConfirmEnrol(e.ctx, db, sess, "000000")
		wantField(t, err, "code", "totp_invalid")
		st, _ := e.svc.GetStaff(e.ctx, db, owner.ID)
		if st.TOTPEnabled {
			t.Fatal("enabled by a wrong code")
		}
		codes, err := e.svc.ConfirmEnrol(e.ctx, db, sess, e.code(en.Secret))
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != 10 || len(codes[0]) != 19 {
			t.Fatalf("recovery codes %q", codes)
		}
		_, err = e.svc.BeginEnrol(e.ctx, db, sess, testSlug)
		wantCode(t, err, "two_factor_already_enabled")
		// The enrolling session has proved the second factor.
		e.auth(tok)
		if left, _ := e.svc.RecoveryCodesLeft(e.ctx, db, owner.ID); left != 10 {
			t.Fatalf("recovery codes left %d", left)
		}

		// Sign in again: password, then code.
		e.clock.Advance(time.Minute)
		ptok, psess := e.pending("owner@example.jp")
		// A pending session can do nothing but give its code.
		_, err = e.svc.ChangePassword(e.ctx, db, psess, testPassword, "another-good-passphrase", testSlug)
		wantCode(t, err, "second_factor_required")
		wantCode(t, e.svc.Disable2FA(e.ctx, db, psess, testPassword), "second_factor_required")
		_, err = e.svc.BeginEnrol(e.ctx, db, psess, testSlug)
		wantCode(t, err, "second_factor_required")
		_, err = e.svc.VerifyTOTP(e.ctx, db, psess, "123456")
		wantCode(t, err, "totp_invalid")
		full, err := e.svc.VerifyTOTP(e.ctx, db, psess, e.code(en.Secret))
		if err != nil {
			t.Fatal(err)
		}
		if full == ptok {
			t.Fatal("the token did not change when the second factor passed")
		}
		_, _, err = e.svc.Authenticate(e.ctx, db, ptok)
		wantCode(t, err, "session_expired")
		p, fs := e.auth(full)
		if p.ID != owner.ID || fs.Stage != StageFull || fs.ID != psess.ID || !fs.ExpiresAt.Equal(e.clock.Now().Add(DefaultSessionAbsolute)) {
			t.Fatalf("after VerifyTOTP: %+v %+v", p, fs)
		}
		_, err = e.svc.VerifyTOTP(e.ctx, db, fs, e.code(en.Secret))
		wantCode(t, err, "second_factor_not_pending")

		// The same code again, within its window: refused.
		_, again := e.pending("owner@example.jp")
		_, err = e.svc.VerifyTOTP(e.ctx, db, again, e.code(en.Secret))
		wantCode(t, err, "totp_invalid")
		// The previous step's code is refused too (it is older than the last used).
		prev, _ := totp.GenerateCode(en.Secret, e.clock.Now().Add(-30*time.Second))
		_, err = e.svc.VerifyTOTP(e.ctx, db, again, prev)
		wantCode(t, err, "totp_invalid")
		// The next step's code works, with 30 s of drift.
		next, _ := totp.GenerateCode(en.Secret, e.clock.Now().Add(30*time.Second))
		if _, err := e.svc.VerifyTOTP(e.ctx, db, again, next); err != nil {
			t.Fatalf("code of the next step: %v", err)
		}
		// Two steps out is too far.
		e.clock.Advance(5 * time.Minute)
		_, late := e.pending("owner@example.jp")
		old, _ := totp.GenerateCode(en.Secret, e.clock.Now().Add(-61*time.Second))
		_, err = e.svc.VerifyTOTP(e.ctx, db, late, old)
		wantCode(t, err, "totp_invalid")

		if n := e.countEntries("staff.2fa_enrolled"); n != 1 {
			t.Errorf("staff.2fa_enrolled entries: %d", n)
		}
		if n := e.countEntries("staff.2fa_verified"); n != 2 {
			t.Errorf("staff.2fa_verified entries: %d", n)
		}
		failed := e.entries("staff.2fa_failed")
		if len(failed) != 4 || failed[0].Result != auditlog.ResultFailed || failed[0].SourceIP != testIP {
			t.Errorf("staff.2fa_failed entries: %+v", failed)
		}
		for _, en2 := range e.entries("staff.") {
			if strings.Contains(fmtEntry(en2), en.Secret) {
				t.Fatal("the TOTP secret reached the log")
			}
		}
	})
}

func TestPendingSessionIsShortLived(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		e.owner("owner@example.jp")
		secret, _ := e.enrol(e.login("owner@example.jp"))
		e.clock.Advance(time.Minute)
		ptok, psess := e.pending("owner@example.jp")
		e.clock.Advance(PendingSessionTTL)
		_, err := e.svc.VerifyTOTP(e.ctx, db, psess, e.code(secret))
		wantCode(t, err, "session_expired")
		_, _, err = e.svc.Authenticate(e.ctx, db, ptok)
		wantCode(t, err, "session_expired")
	})
}

func TestWrongCodesLockTheAccount(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		e.owner("owner@example.jp")
		secret, _ := e.enrol(e.login("owner@example.jp"))
		e.clock.Advance(time.Minute)
		// The right password does not reset the count of wrong codes: log
		// in again and again, nine wrong codes each time.
		for round := range 2 {
			_, sess := e.pending("owner@example.jp")
			for i := range MaxFailedLogins / 2 {
				// The tenth wrong code still answers totp_invalid; the
				// lockout shows at the next attempt.
				_, err := e.svc.VerifyTOTP(e.ctx, db, sess, fmt.Sprintf("00000%d", round*5+i))
				wantCode(t, err, "totp_invalid")
			}
		}
		_, _, _, err := e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", testPassword, testIP, testUA)
		wantCode(t, err, "account_locked")
		if n := e.countEntries("staff.locked"); n != 1 {
			t.Fatalf("staff.locked entries: %d", n)
		}
		e.clock.Advance(LockDuration)
		_, sess := e.pending("owner@example.jp")
		if _, err := e.svc.VerifyTOTP(e.ctx, db, sess, e.code(secret)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRecoveryCodesAreSingleUse(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		_, codes := e.enrol(e.login("owner@example.jp"))

		_, sess := e.pending("owner@example.jp")
		// Typed loosely: upper case, spaces instead of hyphens.
		typed := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
		tok, err := e.svc.VerifyTOTP(e.ctx, db, sess, typed)
		if err != nil {
			t.Fatal(err)
		}
		e.auth(tok)
		_, sess2 := e.pending("owner@example.jp")
		_, err = e.svc.VerifyTOTP(e.ctx, db, sess2, codes[3])
		wantCode(t, err, "totp_invalid")
		if _, err := e.svc.VerifyTOTP(e.ctx, db, sess2, codes[4]); err != nil {
			t.Fatal(err)
		}
		used := e.entries("staff.recovery_code_used")
		if len(used) != 2 || used[0].ObjectID != owner.ID || string(used[0].Changes[0].New) != "8" {
			t.Fatalf("staff.recovery_code_used %+v", used)
		}
		// Only hashes are stored.
		var hashes []string
		if err := db.NewSelect().Table("staff_recovery_codes").Column("code_hash").Scan(e.ctx, &hashes); err != nil {
			t.Fatal(err)
		}
		for _, h := range hashes {
			for _, c := range codes {
				if strings.Contains(h, strings.ReplaceAll(c, "-", "")) {
					t.Fatal("a recovery code is stored as it is")
				}
			}
		}

		// New codes replace the old ones.
		_, full := e.auth(e.login2FA("owner@example.jp", codes[5]))
		_, err = e.svc.RegenerateRecoveryCodes(e.ctx, db, full, "wrong password!")
		wantField(t, err, "current_password", "password_incorrect")
		fresh, err := e.svc.RegenerateRecoveryCodes(e.ctx, db, full, testPassword)
		if err != nil || len(fresh) != 10 {
			t.Fatalf("RegenerateRecoveryCodes = %v %v", fresh, err)
		}
		_, sess3 := e.pending("owner@example.jp")
		_, err = e.svc.VerifyTOTP(e.ctx, db, sess3, codes[6])
		wantCode(t, err, "totp_invalid")
		if _, err := e.svc.VerifyTOTP(e.ctx, db, sess3, fresh[0]); err != nil {
			t.Fatal(err)
		}
	})
}

// login2FA signs in with the password and a recovery code.
func (e *env) login2FA(email, code string) string {
	e.t.Helper()
	_, sess := e.pending(email)
	tok, err := e.svc.VerifyTOTP(e.ctx, e.db, sess, code)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func TestRequireTwoFactor(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		e.invited(owner, "staff@example.jp", "staff")
		ownerTok := e.login("owner@example.jp")
		staffTok := e.login("staff@example.jp")
		e.enrol(ownerTok)

		on := true
		set, err := e.svc.UpdateSecuritySettings(e.ctx, db, owner.Principal(""), SecuritySettingsUpdate{RequireTwoFactor: &on})
		if err != nil || !set.RequireTwoFactor {
			t.Fatalf("UpdateSecuritySettings = %+v %v", set, err)
		}
		// The owner has TOTP: unaffected.
		e.auth(ownerTok)
		// The staff member's session may only enrol now.
		p, sess, err := e.svc.Authenticate(e.ctx, db, staffTok)
		wantCode(t, err, "two_factor_enrolment_required")
		if sess.Stage != StageEnrol || p.ID != "" || sess.ID == "" {
			t.Fatalf("enrolment-only session %+v %+v", p, sess)
		}
		// So does a new login.
		tok, _, needsTOTP, err := e.svc.Login(e.ctx, db, testSlug, "staff@example.jp", testPassword, testIP, testUA)
		if err != nil || needsTOTP {
			t.Fatalf("Login = %v %v", needsTOTP, err)
		}
		_, _, err = e.svc.Authenticate(e.ctx, db, tok)
		wantCode(t, err, "two_factor_enrolment_required")
		// It cannot change the password before enrolling.
		_, esess, _ := e.svc.Authenticate(e.ctx, db, tok)
		_, err = e.svc.ChangePassword(e.ctx, db, esess, testPassword, "another-good-passphrase", testSlug)
		wantCode(t, err, "two_factor_enrolment_required")
		// Enrolling from that session makes it a full one.
		e.enrol(tok)
		p, sess = e.auth(tok)
		if p.Role != "staff" || sess.Stage != StageFull {
			t.Fatalf("after enrolment %+v %+v", p, sess)
		}
		// The other session of the account now waits for a code.
		_, sess, err = e.svc.Authenticate(e.ctx, db, staffTok)
		wantCode(t, err, "second_factor_required")
		if sess.Stage != StageTOTP {
			t.Fatalf("stage %q", sess.Stage)
		}
		got, _ := e.svc.GetSecuritySettings(e.ctx, db)
		if !got.RequireTwoFactor || got.SessionIdle != DefaultSessionIdle {
			t.Fatalf("settings %+v", got)
		}
	})
}

func TestDisableAndResetTwoFactor(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		staff := e.invited(owner, "staff@example.jp", "staff")
		ownerTok := e.login("owner@example.jp")
		_, codes := e.enrol(ownerTok)
		_, sess := e.auth(ownerTok)

		err := e.svc.Disable2FA(e.ctx, db, sess, "wrong password!")
		wantField(t, err, "current_password", "password_incorrect")
		if err := e.svc.Disable2FA(e.ctx, db, sess, testPassword); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.svc.Disable2FA(e.ctx, db, sess, testPassword), "two_factor_not_enabled")
		// Password alone again; the recovery codes are gone.
		e.login("owner@example.jp")
		if left, _ := e.svc.RecoveryCodesLeft(e.ctx, db, owner.ID); left != 0 || len(codes) != 10 {
			t.Fatalf("recovery codes left %d", left)
		}

		// An admin resets a colleague's second factor: its sessions end.
		staffTok := e.login("staff@example.jp")
		e.enrol(staffTok)
		if err := e.svc.ResetTwoFactor(e.ctx, db, owner.Principal(sess.ID), staff.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.Authenticate(e.ctx, db, staffTok)
		wantCode(t, err, "session_expired")
		e.login("staff@example.jp")
		dis := e.entries("staff.2fa_disabled")
		if len(dis) != 2 || dis[0].Actor.ID != owner.ID || dis[0].ObjectID != staff.ID {
			t.Fatalf("staff.2fa_disabled %+v", dis)
		}
	})
}

func TestTOTPSecretSealedAtRest(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		key := bytes.Repeat([]byte{7}, 32)
		e := newEnv(t, db, func(c *Config) { c.SecretKey = key })
		owner := e.owner("owner@example.jp")
		secret, _ := e.enrol(e.login("owner@example.jp"))
		var stored string
		if err := db.NewSelect().Table("staff").Column("totp_secret").Where("id = ?", owner.ID).Scan(e.ctx, &stored); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored, sealedSecretPrefix) || strings.Contains(stored, secret) {
			t.Fatalf("stored secret %q", stored)
		}
		e.clock.Advance(time.Minute)
		_, sess := e.pending("owner@example.jp")
		if _, err := e.svc.VerifyTOTP(e.ctx, db, sess, e.code(secret)); err != nil {
			t.Fatal(err)
		}
		// Sealed for one account, it does not open for another.
		if _, err := e.svc.aead.open("someone-else", stored); err == nil {
			t.Fatal("a sealed secret opened for another account")
		}
		if _, err := NewService(Config{SecretKey: []byte("short")}); err == nil {
			t.Fatal("a 5-byte key was accepted")
		}
	})
}
