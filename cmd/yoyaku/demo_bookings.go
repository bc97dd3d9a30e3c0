package main

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// demoPeople are the demo tenant's members: fictional people with
// realistic Japanese names, kana, phones and addresses (example.jp mail).
var demoPeople = []struct{ family, given, fkana, gkana, romaji, phone, postal, pref, addr string }{
	{"髙橋", "美咲", "タカハシ", "ミサキ", "takahashi.misaki", "090-1234-0001", "1500001", "東京都", "渋谷区神宮前1-2-3"},
	{"山﨑", "大輔", "ヤマザキ", "ダイスケ", "yamazaki.daisuke", "080-2345-0002", "2200012", "神奈川県", "横浜市西区みなとみらい2-3-4"},
	{"鈴木", "陽菜", "スズキ", "ヒナ", "suzuki.hina", "070-3456-0003", "1600022", "東京都", "新宿区新宿3-4-5"},
	{"田中", "蓮", "タナカ", "レン", "tanaka.ren", "090-4567-0004", "5300001", "大阪府", "大阪市北区梅田1-1-1"},
	{"伊藤", "結衣", "イトウ", "ユイ", "ito.yui", "080-5678-0005", "4600008", "愛知県", "名古屋市中区栄3-5-7"},
	{"渡辺", "翔太", "ワタナベ", "ショウタ", "watanabe.shota", "090-6789-0006", "8100001", "福岡県", "福岡市中央区天神2-8-9"},
	{"中村", "さくら", "ナカムラ", "サクラ", "nakamura.sakura", "070-7890-0007", "0600001", "北海道", "札幌市中央区北一条西4-1"},
	{"小林", "拓海", "コバヤシ", "タクミ", "kobayashi.takumi", "080-8901-0008", "9800811", "宮城県", "仙台市青葉区一番町1-2"},
	{"加藤", "葵", "カトウ", "アオイ", "kato.aoi", "090-9012-0009", "6008001", "京都府", "京都市下京区四条通1-3"},
	{"吉田", "悠真", "ヨシダ", "ユウマ", "yoshida.yuma", "080-0123-0010", "1130033", "東京都", "文京区本郷7-3-1"},
	{"山田", "芽依", "ヤマダ", "メイ", "yamada.mei", "070-1111-0011", "3300063", "埼玉県", "さいたま市浦和区高砂2-1"},
	{"佐々木", "健", "ササキ", "ケン", "sasaki.ken", "090-2222-0012", "2600013", "千葉県", "千葉市中央区中央4-5"},
	{"山口", "凛", "ヤマグチ", "リン", "yamaguchi.rin", "080-3333-0013", "7300011", "広島県", "広島市中区基町6-7"},
	{"松本", "陸", "マツモト", "リク", "matsumoto.riku", "070-4444-0014", "3900811", "長野県", "松本市中央1-2-3"},
	{"井上", "七海", "イノウエ", "ナナミ", "inoue.nanami", "090-5555-0015", "6500001", "兵庫県", "神戸市中央区加納町6-5"},
	{"木村", "颯", "キムラ", "ハヤテ", "kimura.hayate", "080-6666-0016", "9000015", "沖縄県", "那覇市久茂地1-1"},
	{"林", "心春", "ハヤシ", "コハル", "hayashi.koharu", "070-7777-0017", "0100001", "秋田県", "秋田市中通2-3"},
	{"清水", "湊", "シミズ", "ミナト", "shimizu.minato", "090-8888-0018", "4200852", "静岡県", "静岡市葵区紺屋町5-1"},
	{"斎藤", "花", "サイトウ", "ハナ", "saito.hana", "080-9999-0019", "9200961", "石川県", "金沢市香林坊1-1"},
	{"森", "樹", "モリ", "イツキ", "mori.itsuki", "070-1212-0020", "7600019", "香川県", "高松市サンポート2-1"},
}

// seedDemoBookings gives the demo tenant members and a few weeks of
// reservations, so the console's calendar and lists show real work: the
// past two weeks of haircuts by both stylists (completed, a few no-shows
// and cancellations), the coming three weeks (confirmed, some cancelled),
// yoga sessions with several members each, and the seminar's requests
// pending approval.
//
// Everything goes through the services. Past visits are staff bookings
// (staff may book any time) moved to completed or no-show by the
// lifecycle's own actions, which allow it once the start has passed; no
// raw SQL is needed. The bookings are made by a reservations service of
// their own whose outbox has no subscribers, so the seeding records no
// mail events: the demo's fictional customers get no confirmation or
// reminder mails.
func (a *app) seedDemoBookings(ctx context.Context, db bun.IDB, t tenants.Tenant, now time.Time, zone *time.Location,
	salonMenus []menus.Menu, stylists []string, yoga, seminar menus.Menu) error {
	svc := reservations.NewService(reservations.Config{Logger: a.log, Menus: a.menus, Slots: a.slots, Events: outbox.NewSubscriptions()})
	var people []members.Member
	for _, p := range demoPeople {
		m, err := a.members.Create(ctx, db, t.Slug, members.CreateInput{Email: p.romaji + "@example.jp",
			Profile: members.ProfileInput{FamilyName: p.family, GivenName: p.given, FamilyKana: p.fkana, GivenKana: p.gkana,
				Phone: p.phone, PostalCode: p.postal, Prefecture: p.pref, Address1: p.addr}}, "")
		if err != nil {
			return fmt.Errorf("demo member: %w", err)
		}
		people = append(people, m)
	}
	customer := func(m members.Member) reservations.Customer {
		return reservations.Customer{Name: m.Profile.Name(), Kana: m.Profile.Kana(), Email: m.Email, Phone: m.Profile.Phone}
	}
	book := func(in reservations.BookInput, m members.Member) (reservations.Booked, error) {
		in.Customer, in.MemberID, in.PartySize, in.Lang = customer(m), m.ID, 1, "ja"
		if in.Source == "" {
			in.Source = reservations.SourceStaff
		}
		if in.Answers == nil {
			in.Answers = map[string]any{}
		}
		return svc.Book(ctx, db, t, in)
	}
	answers := func(m menus.Menu, first bool) map[string]any {
		out := map[string]any{}
		for _, q := range m.Questions {
			if q.Kind == menus.KindSingleChoice && len(q.Choices) > 0 {
				out[q.ID] = q.Choices[map[bool]int{true: 0, false: len(q.Choices) - 1}[first]]
			}
		}
		return out
	}

	// The salon: two haircuts a day by each stylist, from two weeks ago to
	// three weeks ahead; the salon is closed on Mondays and the second
	// stylist is off on Wednesdays.
	today := timeslots.DateOf(now.In(zone))
	n := 0
	for d := -14; d <= 21; d++ {
		if d == 0 {
			continue
		}
		day := today.AddDays(d)
		if day.Weekday() == time.Monday {
			continue
		}
		date, _ := time.ParseInLocation(time.DateOnly, day.String(), zone)
		// Three visits at most a day, apart (the salon's menus seat one
		// customer at a time): 10:00 and 16:30 by one stylist, 14:00 by
		// the other, who is off on Wednesdays.
		for i, hhmm := range []string{"10:00", "14:00", "16:30"} {
			s := (i + d) % 2
			if i == 1 {
				s = (d + 1) % 2
			}
			if s < 0 {
				s = -s
			}
			if s == 1 && day.Weekday() == time.Wednesday {
				s = 0
			}
			if (d+i)%4 == 0 { // not every hour is taken
				continue
			}
			stylist := stylists[s]
			n++
			{
				m := salonMenus[(n/3)%len(salonMenus)]
				hm, _ := time.Parse("15:04", hhmm)
				start := date.Add(time.Duration(hm.Hour())*time.Hour + time.Duration(hm.Minute())*time.Minute)
				b, err := book(reservations.BookInput{MenuID: m.ID, StartsAt: start.UTC(), ProviderID: stylist,
					Answers: answers(m, n%4 == 0)}, people[n%len(people)])
				if err != nil {
					return fmt.Errorf("demo booking %s: %w", start.Format(time.RFC3339), err)
				}
				action := reservations.Action("")
				switch {
				case d < 0 && n%7 == 0:
					action = reservations.ActionNoShow
				case n%9 == 0:
					action = reservations.ActionCancel
				case d < 0:
					action = reservations.ActionComplete
				}
				if action != "" {
					if _, err := svc.Change(ctx, db, t, b.Reservation.ID, action, reservations.ChangeInput{Reason: demoReason(action)}); err != nil {
						return fmt.Errorf("demo %s: %w", action, err)
					}
				}
			}
		}
	}

	// Yoga: the first two weeks' sessions get three to six members each.
	slots, err := a.slots.Slots(ctx, db, timeslots.SlotFilter{MenuID: yoga.ID, From: now.UTC(), To: now.AddDate(0, 0, 15).UTC()})
	if err != nil {
		return fmt.Errorf("demo yoga sessions: %w", err)
	}
	for i, sl := range slots {
		for j := 0; j < 3+i%4; j++ {
			if _, err := book(reservations.BookInput{MenuID: yoga.ID, SlotID: sl.ID}, people[(i*5+j)%len(people)]); err != nil {
				return fmt.Errorf("demo yoga booking: %w", err)
			}
		}
	}
	// The seminar needs approval: requests made on the booking site wait
	// for it (仮予約).
	sem, err := a.slots.Slots(ctx, db, timeslots.SlotFilter{MenuID: seminar.ID, From: now.UTC(), To: now.AddDate(0, 2, 0).UTC()})
	if err != nil {
		return fmt.Errorf("demo seminar sessions: %w", err)
	}
	for _, sl := range sem {
		for j := 0; j < 3; j++ {
			if _, err := book(reservations.BookInput{MenuID: seminar.ID, SlotID: sl.ID, Source: reservations.SourcePublic,
				Answers: answers(seminar, true)}, people[len(people)-1-j]); err != nil {
				return fmt.Errorf("demo seminar booking: %w", err)
			}
		}
	}
	return nil
}

func demoReason(a reservations.Action) string {
	if a == reservations.ActionCancel {
		return "お客様のご都合"
	}
	return ""
}
