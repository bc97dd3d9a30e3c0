package members_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"

	"github.com/uptrace/bun"
	"golang.org/x/text/encoding/japanese"

	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/platform/csvx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/web"
)

func csvCatalog(t *testing.T) *i18n.Catalog {
	t.Helper()
	cat, err := i18n.Load(web.FS, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func exportMembers(t *testing.T, e *env, cat *i18n.Catalog, enc csvx.Encoding, cols ...string) [][]string {
	t.Helper()
	x, err := e.svc.NewExport(e.ctx, e.db, tenants.Tenant{TimeZone: "Asia/Tokyo"}, cat, members.ExportParams{Encoding: enc, Columns: cols})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := x.Write(e.ctx, &buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if enc == csvx.ShiftJIS {
		if b, err = japanese.ShiftJIS.NewDecoder().Bytes(b); err != nil {
			t.Fatal(err)
		}
	} else {
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	}
	if bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n")) {
		t.Fatal("not CRLF")
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestMembersCSV(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		cat := csvCatalog(t)
		rank, err := e.svc.CreateAttribute(e.ctx, db, members.AttributeInput{LabelJA: "会員ランク", LabelEN: "Rank",
			Kind: members.AttrChoice, Requirement: members.StaffOnly, Choices: []string{"一般", "ゴールド"}})
		if err != nil {
			t.Fatal(err)
		}
		in := profile("髙橋", "﨑子", "たかはし", "ｻｷｺ")
		in.Phone, in.PostalCode, in.Prefecture = "090-0123-4567", "0123456", "北海道"
		m1, err := e.svc.Create(e.ctx, db, "salon", members.CreateInput{Email: "takahashi@example.jp", Profile: in,
			Attributes: map[string]string{rank.ID: "ゴールド"}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Create(e.ctx, db, "salon", members.CreateInput{Email: "evil@example.jp",
			Profile: profile("=HYPERLINK(\"http://x\")", "太郎", "イービル", "タロウ")}, ""); err != nil {
			t.Fatal(err)
		}
		for _, enc := range []csvx.Encoding{csvx.UTF8BOM, csvx.ShiftJIS} {
			rows := exportMembers(t, e, cat, enc)
			if len(rows) != 3 {
				t.Fatalf("%s: %q", enc, rows)
			}
			h := strings.Join(rows[0], ",")
			if !strings.HasPrefix(h, "会員番号,状態,メールアドレス,姓,名,セイ,メイ,電話番号,郵便番号,都道府県") || !strings.HasSuffix(h, ",会員ランク") {
				t.Errorf("%s header %q", enc, h)
			}
			r := rows[1]
			if r[0] != m1.Number || r[3] != "髙橋" || r[4] != "﨑子" || r[5] != "タカハシ" || r[6] != "サキコ" ||
				r[7] != "090-0123-4567" || r[8] != "012-3456" || r[9] != "北海道" || r[len(r)-1] != "ゴールド" {
				t.Errorf("%s row %q", enc, r)
			}
			if rows[2][3] != "'=HYPERLINK(\"http://x\")" {
				t.Errorf("%s formula %q", enc, rows[2][3])
			}
		}
		if _, err := e.svc.NewExport(e.ctx, db, tenants.Tenant{}, cat, members.ExportParams{Columns: []string{"phone,secret"}}); err == nil {
			t.Error("unknown column accepted")
		}

		// An import with one bad row writes nothing and names the row.
		count := func() int {
			n, err := e.svc.Count(e.ctx, db, members.ListParams{})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		bad := "member_number,email,family_name,given_name,family_kana,given_kana,phone,postal_code\r\n" +
			",new1@example.jp,山田,花子,ヤマダ,ハナコ,03-1234-5678,1000001\r\n" +
			",new2@example.jp,佐藤,一郎,サトウ,イチロウ,12345,1000001\r\n" +
			"M9999999,new3@example.jp,鈴木,次郎,スズキ,ジロウ,,\r\n"
		before := count()
		_, err = e.svc.Import(e.ctx, db, strings.NewReader(bad), members.ImportParams{Catalog: cat})
		var es csvx.Errors
		if !errors.As(err, &es) {
			t.Fatalf("import: %v", err)
		}
		got := map[string]string{}
		for _, re := range es {
			got[re.Field()] = re.Code
		}
		if got["line[3].phone"] != "phone" || got["line[4].member_number"] != "member_import_unknown_number" || len(got) != 2 {
			t.Errorf("errors %v", got)
		}
		if count() != before {
			t.Fatal("a bad import wrote members")
		}

		// The export, edited, goes back in: the Shift_JIS file with
		// Japanese headers updates m1 by number; a new row creates one.
		x, _ := e.svc.NewExport(e.ctx, db, tenants.Tenant{}, cat, members.ExportParams{Encoding: csvx.ShiftJIS,
			Columns: []string{"member_number,email,family_name,given_name,family_kana,given_kana,phone,postal_code,prefecture,gender,attributes." + rank.ID}})
		var buf bytes.Buffer
		if _, err := x.Write(e.ctx, &buf); err != nil {
			t.Fatal(err)
		}
		sj, _ := japanese.ShiftJIS.NewEncoder().String(",new@example.jp,山田,花子,やまだ,はなこ,09011112222,,東京都,女性,一般\r\n")
		gold, _ := japanese.ShiftJIS.NewEncoder().String("ゴールド")
		file := strings.Replace(buf.String(), gold, "", 1) + sj
		file = strings.Replace(file, "090-0123-4567", "080-0000-1111", 1)
		res, err := e.svc.Import(e.ctx, db, strings.NewReader(file), members.ImportParams{Catalog: cat})
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		if res.Created != 1 || res.Updated != 1 || res.Unchanged != 1 {
			t.Errorf("result %+v", res)
		}
		got1, _ := e.svc.Get(e.ctx, db, m1.ID)
		if got1.Profile.Phone != "080-0000-1111" || got1.Profile.PostalCode != "0123456" || got1.Profile.FamilyName != "髙橋" {
			t.Errorf("m1 %+v", got1.Profile)
		}
		if got1.Attributes[rank.ID] != "" {
			t.Errorf("rank %q, want emptied", got1.Attributes[rank.ID])
		}
		n, err := e.svc.ByEmail(e.ctx, db, "new@example.jp")
		if err != nil || n.Profile.FamilyKana != "ヤマダ" || n.Profile.Prefecture != 13 || n.Profile.Gender != members.GenderFemale ||
			n.Attributes[rank.ID] != "一般" || n.Status != members.StatusActive {
			t.Errorf("new member %+v %v", n, err)
		}
		// Same member twice in one file.
		twice := "email,family_name,given_name,family_kana,given_kana\r\nnew@example.jp,山田,花子,ヤマダ,ハナコ\r\nNEW@example.jp,山田,花,ヤマダ,ハナ\r\n"
		if _, err := e.svc.Import(e.ctx, db, strings.NewReader(twice), members.ImportParams{}); !errors.As(err, &es) || es[0].Field() != "line[3].member_number" && es[0].Field() != "line[3].email" {
			t.Errorf("twice: %v", err)
		}
	})
}
