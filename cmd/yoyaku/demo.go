package main

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// seedDemo gives the demo tenant a living Japanese catalog, so a newcomer
// who runs `make run` sees the product at work: a hair salon whose menus
// are cut from business hours by two stylists, a weekly yoga timetable and
// a one-off seminar, with business hours that have a lunch break, a
// closed weekday, shorter hours on national holidays and the new-year
// break. It goes through the same services as the API, so the demo data
// is valid by the same rules (and its creation is in the operation log).
func (a *app) seedDemo(ctx context.Context, db bun.IDB, now time.Time, zone *time.Location) error {
	salon, err := a.menus.CreateCategory(ctx, db, menus.CategoryInput{NameJA: "ヘアサロン", NameEN: "Hair salon", Position: 1})
	if err != nil {
		return fmt.Errorf("demo category: %w", err)
	}
	studio, err := a.menus.CreateCategory(ctx, db, menus.CategoryInput{NameJA: "ヨガ・フィットネス", NameEN: "Yoga & fitness", Position: 2})
	if err != nil {
		return fmt.Errorf("demo category: %w", err)
	}
	school, err := a.menus.CreateCategory(ctx, db, menus.CategoryInput{NameJA: "セミナー", NameEN: "Seminars", Position: 3})
	if err != nil {
		return fmt.Errorf("demo category: %w", err)
	}
	var stylists []string
	for i, name := range []string{"佐藤 美咲", "田中 健太"} {
		p, err := a.menus.CreateProvider(ctx, db, menus.ProviderInput{Name: name, Active: true, Position: i + 1})
		if err != nil {
			return fmt.Errorf("demo provider: %w", err)
		}
		stylists = append(stylists, p.ID)
	}
	shampoo, err := a.menus.CreateResource(ctx, db, menus.ResourceInput{Name: "シャンプー台", Quantity: 2, Active: true, Position: 1})
	if err != nil {
		return fmt.Errorf("demo resource: %w", err)
	}
	instructor, err := a.menus.CreateProvider(ctx, db, menus.ProviderInput{Name: "山本 彩（ヨガ講師）", Active: true, Position: 3})
	if err != nil {
		return fmt.Errorf("demo provider: %w", err)
	}
	hall, err := a.menus.CreateResource(ctx, db, menus.ResourceInput{Name: "セミナールーム", Quantity: 1, Active: true, Position: 2})
	if err != nil {
		return fmt.Errorf("demo resource: %w", err)
	}

	demoMenus := []menus.MenuInput{{
		CategoryID: salon.ID, NameJA: "カット", NameEN: "Haircut", Position: 1,
		DescriptionJA:   "シャンプー・ブロー込み。ご希望のスタイルをお気軽にご相談ください。",
		DescriptionEN:   "Shampoo and blow-dry included.",
		DurationMinutes: 60, Price: 4400, Capacity: 1, PartyMin: 1, PartyMax: 1,
		BookingMode: menus.ModeHours, Visibility: menus.VisibilityPublic,
		ProviderIDs: stylists, Resources: []menus.ResourceNeed{{ResourceID: shampoo.ID, Quantity: 1}},
		Options: []menus.OptionInput{
			{NameJA: "トリートメント", NameEN: "Treatment", Price: 2200, ExtraMinutes: 20},
			{NameJA: "ヘッドスパ", NameEN: "Head spa", Price: 3300, ExtraMinutes: 30},
		},
		Questions: []menus.QuestionInput{
			{Kind: menus.KindSingleChoice, LabelJA: "ご来店は初めてですか？", LabelEN: "Is this your first visit?",
				Choices: []string{"はい", "いいえ"}, Requirement: menus.Required},
			{Kind: menus.KindLongText, LabelJA: "ご要望があればご記入ください", LabelEN: "Anything we should know?", Requirement: menus.Optional},
		},
	}, {
		CategoryID: salon.ID, NameJA: "カット＋カラー", NameEN: "Cut and colour", Position: 2,
		DescriptionJA: "髪の状態を見てお薬を選びます。", DescriptionEN: "We choose the colour for your hair.",
		DurationMinutes: 120, Price: 9900, Capacity: 1, PartyMin: 1, PartyMax: 1,
		BookingMode: menus.ModeHours, Visibility: menus.VisibilityPublic,
		ProviderIDs: stylists, Resources: []menus.ResourceNeed{{ResourceID: shampoo.ID, Quantity: 1}},
		Options: []menus.OptionInput{{NameJA: "トリートメント", NameEN: "Treatment", Price: 2200, ExtraMinutes: 20}},
	}, {
		CategoryID: studio.ID, NameJA: "朝ヨガ（60分）", NameEN: "Morning yoga (60 min)", Position: 1,
		DescriptionJA: "初心者歓迎。マットは無料でお貸しします。", DescriptionEN: "Beginners welcome. Mats are free to borrow.",
		DurationMinutes: 60, Price: 2000, Capacity: 12, PartyMin: 1, PartyMax: 2,
		BookingMode: menus.ModeTimetable, Visibility: menus.VisibilityPublic, ProviderIDs: []string{instructor.ID},
	}, {
		CategoryID: school.ID, NameJA: "はじめての確定申告セミナー", NameEN: "Tax return seminar for beginners", Position: 1,
		DescriptionJA: "個人事業主・副業の方向け。税理士がやさしく解説します。", DescriptionEN: "For sole traders, by a tax accountant.",
		DurationMinutes: 90, Price: 3000, Capacity: 30, PartyMin: 1, PartyMax: 1,
		BookingMode: menus.ModeEvent, ApprovalRequired: true, Visibility: menus.VisibilityPublic,
		Resources: []menus.ResourceNeed{{ResourceID: hall.ID, Quantity: 1}},
		Questions: []menus.QuestionInput{
			{Kind: menus.KindSingleChoice, LabelJA: "ご職業", LabelEN: "Occupation", Choices: []string{"個人事業主", "会社員（副業）", "その他"}, Requirement: menus.Required},
		},
	}}
	created := make([]menus.Menu, 0, len(demoMenus)) // salon ×2, yoga, seminar
	for _, in := range demoMenus {
		m, err := a.menus.CreateMenu(ctx, db, in)
		if err != nil {
			return fmt.Errorf("demo menu %s: %w", in.NameJA, err)
		}
		created = append(created, m)
	}

	day := []timeslots.RangeInput{{Start: "10:00", End: "13:00"}, {Start: "14:00", End: "19:00"}}
	holiday := []timeslots.RangeInput{{Start: "10:00", End: "17:00"}}
	year := now.In(zone).Year()
	if _, err := a.slots.SaveBusinessHours(ctx, db, timeslots.BusinessHoursInput{
		Weekly: map[string][]timeslots.RangeInput{
			"mon": nil, "tue": day, "wed": day, "thu": day, "fri": day,
			"sat": {{Start: "07:00", End: "13:00"}, {Start: "14:00", End: "18:00"}}, "sun": holiday,
		},
		Holiday: &holiday,
		ClosedDates: []string{
			fmt.Sprintf("%d-12-31", year), fmt.Sprintf("%d-01-01", year+1), fmt.Sprintf("%d-01-02", year+1), fmt.Sprintf("%d-01-03", year+1),
		},
	}); err != nil {
		return fmt.Errorf("demo calendar: %w", err)
	}
	// The second stylist is off on Wednesdays.
	if _, err := a.slots.SaveWorkingHours(ctx, db, timeslots.Provider(stylists[1]), timeslots.WorkingHoursInput{
		Weekly: map[string][]timeslots.RangeInput{"tue": day, "thu": day, "fri": day, "sat": day, "sun": holiday},
	}); err != nil {
		return fmt.Errorf("demo provider hours: %w", err)
	}
	if err := a.seedDemoSessions(ctx, db, now, zone, created[2], created[3], instructor.ID, hall.ID); err != nil {
		return err
	}
	// Members and a few weeks of reservations (demo_bookings.go).
	return a.seedDemoBookings(ctx, db, tenants.Tenant{Slug: demoSlug, TimeZone: zone.String()}, now, zone,
		created[:2], stylists, created[2], created[3])
}

// seedDemoSessions schedules the yoga timetable (Tuesday, Thursday and
// Saturday mornings for three months, starting next week) and the seminar
// (one afternoon three weeks ahead).
func (a *app) seedDemoSessions(ctx context.Context, db bun.IDB, now time.Time, zone *time.Location, yoga, seminar menus.Menu, instructor, hall string) error {
	today := timeslots.DateOf(now.In(zone))
	first := today.AddDays(1)
	for first.Weekday() != time.Tuesday {
		first = first.AddDays(1)
	}
	if _, err := a.slots.CreateSlots(ctx, db, zone, timeslots.SlotInput{
		MenuID: yoga.ID, StartsAt: first.String() + "T07:30", ProviderID: instructor,
		Recurrence: &timeslots.RecurrenceInput{Freq: "weekly", Weekdays: []string{"tue", "thu", "sat"}, Until: first.AddDays(90).String()},
	}); err != nil {
		return fmt.Errorf("demo yoga timetable: %w", err)
	}
	day := today.AddDays(21)
	for day.Weekday() == time.Monday { // the salon's closed day
		day = day.AddDays(1)
	}
	if _, err := a.slots.CreateSlots(ctx, db, zone, timeslots.SlotInput{
		MenuID: seminar.ID, StartsAt: day.String() + "T14:00", ResourceID: hall,
	}); err != nil {
		return fmt.Errorf("demo seminar: %w", err)
	}
	return nil
}
