package identity

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

func TestOwnerSetupFlow(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		st, token, err := e.svc.CreateOwner(e.ctx, db, "  Owner@Example.JP ", "")
		if err != nil {
			t.Fatal(err)
		}
		if st.Email != "owner@example.jp" || st.DisplayName != "owner" || st.Role != OwnerRole || st.Status != StatusActive || st.HasPassword {
			t.Fatalf("owner %+v", st)
		}
		if len(token) != 43 {
			t.Fatalf("token %q: want 256 bits in base64url", token)
		}
		// No password yet: no way in.
		_, _, _, err = e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", "", testIP, testUA)
		wantCode(t, err, "login_failed")

		email, purpose, err := e.svc.CheckSetupToken(e.ctx, db, token)
		if err != nil || email != "owner@example.jp" || purpose != PurposeSetup {
			t.Fatalf("CheckSetupToken = %q %q %v", email, purpose, err)
		}
		// Only the hash is stored.
		var stored []string
		if err := db.NewSelect().Table("staff_tokens").Column("token_hash").Scan(e.ctx, &stored); err != nil {
			t.Fatal(err)
		}
		if len(stored) != 1 || stored[0] == token || stored[0] != opaqueTokenHash(token) {
			t.Fatalf("stored %q for token %q", stored, token)
		}

		// A weak password is refused and the link still works.
		_, err = e.svc.RedeemSetup(e.ctx, db, token, "short", testSlug)
		wantField(t, err, "password", "password_short")
		_, err = e.svc.RedeemSetup(e.ctx, db, token, "owner@example.jp-2026", testSlug)
		wantField(t, err, "password", "password_personal")

		got, err := e.svc.RedeemSetup(e.ctx, db, token, testPassword, testSlug)
		if err != nil || !got.HasPassword {
			t.Fatalf("RedeemSetup = %+v %v", got, err)
		}
		// Single use.
		_, err = e.svc.RedeemSetup(e.ctx, db, token, testPassword+"x", testSlug)
		wantCode(t, err, "setup_token_invalid")
		_, _, err = e.svc.CheckSetupToken(e.ctx, db, token)
		wantCode(t, err, "setup_token_invalid")
		// Garbage and unknown tokens: the same answer.
		for _, bad := range []string{"", "x", strings.Repeat("A", 43), token[:42] + "!"} {
			_, err = e.svc.RedeemSetup(e.ctx, db, bad, testPassword, testSlug)
			wantCode(t, err, "setup_token_invalid")
		}

		tok := e.login("OWNER@example.jp")
		p, _ := e.auth(tok)
		if p.ID != st.ID || p.Role != OwnerRole || p.Name != "owner@example.jp" || p.Kind != PrincipalStaff {
			t.Fatalf("principal %+v", p)
		}
		if n := e.countEntries("staff.created"); n != 1 {
			t.Errorf("staff.created entries: %d", n)
		}
		set := e.entries("staff.password_set")
		if len(set) != 1 || set[0].Actor.ID != st.ID || set[0].ObjectID != st.ID {
			t.Errorf("staff.password_set entries: %+v", set)
		}
		for _, en := range e.entries("staff.") {
			if strings.Contains(fmtEntry(en), testPassword) || strings.Contains(fmtEntry(en), token) {
				t.Fatalf("a secret reached the log: %+v", en)
			}
		}
	})
}

func fmtEntry(e auditlog.Entry) string {
	var b strings.Builder
	b.WriteString(e.Actor.Name)
	for _, c := range e.Changes {
		b.WriteString(string(c.Old))
		b.WriteString(string(c.New))
	}
	return b.String()
}

func TestOwnerProvisioner(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		prov := e.svc.OwnerProvisioner(func(tn tenants.Tenant, token string) string {
			return "https://yoyaku.example/t/" + tn.Slug + "/admin/setup/" + token
		})
		got, err := prov(e.ctx, tenants.Tenant{Slug: testSlug}, db, tenants.CreateParams{})
		if err != nil || got.OwnerSetupURL != "" {
			t.Fatalf("without an owner: %+v %v", got, err)
		}
		got, err = prov(e.ctx, tenants.Tenant{Slug: testSlug}, db, tenants.CreateParams{OwnerEmail: "Owner@Example.jp"})
		prefix := "https://yoyaku.example/t/" + testSlug + "/admin/setup/"
		if err != nil || !strings.HasPrefix(got.OwnerSetupURL, prefix) {
			t.Fatalf("with an owner: %+v %v", got, err)
		}
		if _, err := e.svc.RedeemSetup(e.ctx, db, strings.TrimPrefix(got.OwnerSetupURL, prefix), testPassword, testSlug); err != nil {
			t.Fatal(err)
		}
		e.login("owner@example.jp")
		_, err = prov(e.ctx, tenants.Tenant{Slug: testSlug}, db, tenants.CreateParams{OwnerEmail: "bad"})
		wantField(t, err, "email", "email")
	})
}

func TestSetupTokenExpires(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		_, token, err := e.svc.CreateOwner(e.ctx, db, "owner@example.jp", "Owner")
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(SetupTokenTTL)
		_, err = e.svc.RedeemSetup(e.ctx, db, token, testPassword, testSlug)
		wantCode(t, err, "setup_token_invalid")
	})
}

func TestConcurrentRedeemUsesTheLinkOnce(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		_, token, err := e.svc.CreateOwner(e.ctx, db, "owner@example.jp", "Owner")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.svc.RedeemSetup(e.ctx, db, token, testPassword+string(rune('a'+i)), testSlug)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, ErrSetupTokenInvalid):
					t.Errorf("redeem: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d redemptions of one link succeeded, want 1", wins)
		}
	})
}

func TestInviteFlow(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		st, token, err := e.svc.Invite(e.ctx, db, owner.Principal("s1"), "Taro@Example.jp", "山田 太郎", "staff")
		if err != nil {
			t.Fatal(err)
		}
		if st.Email != "taro@example.jp" || st.Role != "staff" || st.HasPassword {
			t.Fatalf("invited %+v", st)
		}
		_, _, err = e.svc.Invite(e.ctx, db, owner.Principal("s1"), "TARO@example.jp", "Another", "viewer")
		wantCode(t, err, "staff_email_taken")
		_, _, err = e.svc.Invite(e.ctx, db, owner.Principal("s1"), "not-an-address", "", "")
		wantField(t, err, "email", "email")
		wantField(t, err, "role", "required")

		// A second invitation replaces the first link.
		token2, err := e.svc.Reinvite(e.ctx, db, owner.Principal("s1"), st.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.RedeemSetup(e.ctx, db, token, testPassword, testSlug)
		wantCode(t, err, "setup_token_invalid")
		if _, err := e.svc.RedeemSetup(e.ctx, db, token2, testPassword, testSlug); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Reinvite(e.ctx, db, owner.Principal("s1"), st.ID)
		wantCode(t, err, "staff_has_password")

		e.login("taro@example.jp")
		inv := e.entries("staff.invited")
		if len(inv) != 2 || inv[1].Actor.ID != owner.ID || inv[1].ObjectID != st.ID {
			t.Fatalf("staff.invited entries %+v", inv)
		}
		list, err := e.svc.ListStaff(e.ctx, db, StaffFilter{})
		if err != nil || len(list) != 2 || list[0].Email != "owner@example.jp" || list[1].Email != "taro@example.jp" {
			t.Fatalf("ListStaff = %+v %v", list, err)
		}
		got, err := e.svc.GetStaffByEmail(e.ctx, db, "TARO@example.jp")
		if err != nil || got.ID != st.ID || got.DisplayName != "山田 太郎" {
			t.Fatalf("GetStaffByEmail = %+v %v", got, err)
		}
		_, err = e.svc.GetStaff(e.ctx, db, "nope")
		wantCode(t, err, "staff_not_found")
	})
}

func TestPasswordReset(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		session := e.login("owner@example.jp")

		// Unknown address: the same shape, no token, no error.
		tok, err := e.svc.RequestPasswordReset(e.ctx, db, "nobody@example.jp")
		if err != nil || tok != "" {
			t.Fatalf("reset for an unknown address = %q %v", tok, err)
		}
		first, err := e.svc.RequestPasswordReset(e.ctx, db, "Owner@example.jp")
		if err != nil || first == "" {
			t.Fatalf("reset = %q %v", first, err)
		}
		second, err := e.svc.RequestPasswordReset(e.ctx, db, "owner@example.jp")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.RedeemSetup(e.ctx, db, first, "a-brand-new-secret", testSlug)
		wantCode(t, err, "setup_token_invalid")
		// Reset links are short-lived.
		e.clock.Advance(ResetTokenTTL + time.Second)
		_, err = e.svc.RedeemSetup(e.ctx, db, second, "a-brand-new-secret", testSlug)
		wantCode(t, err, "setup_token_invalid")

		third, _ := e.svc.RequestPasswordReset(e.ctx, db, "owner@example.jp")
		if _, err := e.svc.RedeemSetup(e.ctx, db, third, "a-brand-new-secret", testSlug); err != nil {
			t.Fatal(err)
		}
		// The reset ended the sessions begun with the old password.
		_, _, err = e.svc.Authenticate(e.ctx, db, session)
		wantCode(t, err, "session_expired")
		if _, _, _, err := e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", "a-brand-new-secret", testIP, testUA); err != nil {
			t.Fatal(err)
		}
		req := e.entries("staff.password_reset_requested")
		if len(req) != 4 || req[3].Result != auditlog.ResultFailed || req[3].Actor.Name != "nobody@example.jp" || req[0].ObjectID != owner.ID {
			t.Fatalf("reset entries %+v", req)
		}
	})
}

func TestUpdateProfile(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		st := e.invited(owner, "staff@example.jp", "staff")
		name, role := "佐藤 花子", "admin"
		menus := []string{"m2", "m1", "m2", " m3 "}
		got, err := e.svc.UpdateProfile(e.ctx, db, owner.Principal("s1"), st.ID, ProfileUpdate{DisplayName: &name, Role: &role, MenuIDs: &menus})
		if err != nil {
			t.Fatal(err)
		}
		if got.DisplayName != name || got.Role != "admin" || strings.Join(got.MenuIDs, ",") != "m1,m2,m3" {
			t.Fatalf("updated %+v", got)
		}
		tok := e.login("staff@example.jp")
		p, _ := e.auth(tok)
		if p.Role != "admin" || strings.Join(p.MenuIDs, ",") != "m1,m2,m3" {
			t.Fatalf("principal %+v", p)
		}
		upd := e.entries("staff.updated")
		if len(upd) != 1 || len(upd[0].Changes) != 3 || upd[0].Changes[1].Field != "role" ||
			string(upd[0].Changes[1].Old) != `"staff"` || string(upd[0].Changes[1].New) != `"admin"` {
			t.Fatalf("staff.updated %+v", upd)
		}
		// No change, no entry.
		if _, err := e.svc.UpdateProfile(e.ctx, db, owner.Principal("s1"), st.ID, ProfileUpdate{Role: &role}); err != nil {
			t.Fatal(err)
		}
		if n := e.countEntries("staff.updated"); n != 1 {
			t.Fatalf("%d staff.updated entries after a no-op", n)
		}
		empty := ""
		_, err = e.svc.UpdateProfile(e.ctx, db, owner.Principal("s1"), st.ID, ProfileUpdate{DisplayName: &empty})
		wantField(t, err, "display_name", "required")

		// The last owner keeps the role.
		_, err = e.svc.UpdateProfile(e.ctx, db, owner.Principal("s1"), owner.ID, ProfileUpdate{Role: &role})
		wantCode(t, err, "last_owner")
		ownerRole := OwnerRole
		if _, err := e.svc.UpdateProfile(e.ctx, db, owner.Principal("s1"), st.ID, ProfileUpdate{Role: &ownerRole}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.UpdateProfile(e.ctx, db, owner.Principal("s1"), owner.ID, ProfileUpdate{Role: &role}); err != nil {
			t.Fatalf("with a second owner: %v", err)
		}
	})
}

func TestDisableEndsSessions(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		st := e.invited(owner, "staff@example.jp", "staff")
		a, b := e.login("staff@example.jp"), e.login("staff@example.jp")
		ownerTok := e.login("owner@example.jp")

		got, err := e.svc.DisableStaff(e.ctx, db, owner.Principal("s1"), st.ID)
		if err != nil || got.Status != StatusDisabled {
			t.Fatalf("DisableStaff = %+v %v", got, err)
		}
		for _, tok := range []string{a, b} {
			_, _, err := e.svc.Authenticate(e.ctx, db, tok)
			wantCode(t, err, "session_expired")
		}
		e.auth(ownerTok)
		_, _, _, err = e.svc.Login(e.ctx, db, testSlug, "staff@example.jp", testPassword, testIP, testUA)
		wantCode(t, err, "login_failed")
		// A reset link is not issued for a disabled account.
		if tok, err := e.svc.RequestPasswordReset(e.ctx, db, "staff@example.jp"); err != nil || tok != "" {
			t.Fatalf("reset for a disabled account = %q %v", tok, err)
		}

		if _, err := e.svc.EnableStaff(e.ctx, db, owner.Principal("s1"), st.ID); err != nil {
			t.Fatal(err)
		}
		// Old sessions stay ended; a new login works.
		_, _, err = e.svc.Authenticate(e.ctx, db, a)
		wantCode(t, err, "session_expired")
		e.login("staff@example.jp")

		_, err = e.svc.DisableStaff(e.ctx, db, owner.Principal("s1"), owner.ID)
		wantCode(t, err, "staff_self_disable")
		_, err = e.svc.DisableStaff(e.ctx, db, st.Principal("s2"), owner.ID)
		wantCode(t, err, "last_owner")

		dis := e.entries("staff.disabled")
		if len(dis) != 1 || dis[0].Actor.ID != owner.ID || dis[0].ObjectID != st.ID || string(dis[0].Changes[0].New) != `"disabled"` {
			t.Fatalf("staff.disabled %+v", dis)
		}
		if n := e.countEntries("staff.enabled"); n != 1 {
			t.Fatalf("staff.enabled entries: %d", n)
		}
	})
}

func TestChangePassword(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		mine, other := e.login("owner@example.jp"), e.login("owner@example.jp")
		_, sess := e.auth(mine)

		_, err := e.svc.ChangePassword(e.ctx, db, sess, "wrong password!", "another-good-passphrase", testSlug)
		wantField(t, err, "current_password", "password_incorrect")
		_, err = e.svc.ChangePassword(e.ctx, db, sess, testPassword, "tiny", testSlug)
		wantField(t, err, "password", "password_short")
		e.auth(other) // nothing changed yet

		fresh, err := e.svc.ChangePassword(e.ctx, db, sess, testPassword, "another-good-passphrase", testSlug)
		if err != nil {
			t.Fatal(err)
		}
		if fresh == mine {
			t.Fatal("the session kept its token")
		}
		for _, tok := range []string{mine, other} {
			_, _, err := e.svc.Authenticate(e.ctx, db, tok)
			wantCode(t, err, "session_expired")
		}
		_, kept := e.auth(fresh)
		if kept.ID != sess.ID {
			t.Fatalf("the changing session is %s, want %s (kept, with a new token)", kept.ID, sess.ID)
		}
		_, _, _, err = e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", testPassword, testIP, testUA)
		wantCode(t, err, "login_failed")
		if _, _, _, err := e.svc.Login(e.ctx, db, testSlug, "owner@example.jp", "another-good-passphrase", testIP, testUA); err != nil {
			t.Fatal(err)
		}
		ch := e.entries("staff.password_changed")
		if len(ch) != 1 || ch[0].ObjectID != owner.ID || string(ch[0].Changes[0].New) != `"[redacted]"` {
			t.Fatalf("staff.password_changed %+v", ch)
		}
		if n := e.countEntries("staff.password_change_failed"); n != 1 {
			t.Fatalf("staff.password_change_failed entries: %d", n)
		}
	})
}
