package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

var (
	rcMenuRE = func(name string) *regexp.Regexp {
		return regexp.MustCompile(`<option value="([0-9a-f]{32})">` + regexp.QuoteMeta(name) + `</option>`)
	}
	rcSlotRE     = regexp.MustCompile(`<option value="([0-9a-f]{32})">((\d+)年(\d+)月(\d+)日[^<]*)</option>`)
	rcProviderRE = regexp.MustCompile(`<option value="provider:([0-9a-f]{32})">担当: 佐藤 美咲</option>`)
	rcQuestionRE = regexp.MustCompile(`name="answer\.([0-9a-f]+)"`)
	rcNumberRE   = regexp.MustCompile(`<h1>予約 (R\d{6}[0-9A-Z]{5})</h1>`)
	rcDetailRE   = regexp.MustCompile(`^/t/demo/admin/reservations/([0-9a-f]{32})\?done=booked$`)
)

// The reservation pages of the console through the real server on both
// engines: staff book a session and an hours menu, the calendar shows them
// by provider with their status in words, the list finds them by number
// and by kana, a pending booking from the public API is confirmed and its
// history shows it, a move to a full session is refused with the booking
// kept, a cancel needs its confirmation and frees the seats, blocks appear
// on the calendar, a viewer sees no action forms and is refused a post,
// and a post without its CSRF token changes nothing.
func TestReservationsConsole(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		pw, err := os.ReadFile(filepath.Join(loc.DataDir, demoOwnerFile))
		if err != nil {
			t.Fatal(err)
		}
		owner := newConsoleUser(t, s.base+"/t/demo/admin")
		owner.login(demoOwner, strings.TrimSpace(string(pw)))
		mustContain(t, "the navigation", owner.get("/", http.StatusOK).body, `href="/t/demo/admin/reservations"`, ">予約<")

		form := owner.get("/reservations/new", http.StatusOK)
		find := func(what string, re *regexp.Regexp, body string) []string {
			t.Helper()
			m := re.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no %s in:\n%s", what, body)
			}
			return m
		}
		yoga := find("yoga menu", rcMenuRE("朝ヨガ（60分）"), form.body)[1]
		cut := find("cut menu", rcMenuRE("カット"), form.body)[1]
		seminar := find("seminar menu", rcMenuRE("はじめての確定申告セミナー"), form.body)[1]
		sato := find("provider", rcProviderRE, owner.get("/reservations/blocks/new", http.StatusOK).body)[1]

		// Staff book two seats of the first yoga session.
		yogaForm := owner.get("/reservations/new?menu="+yoga, http.StatusOK)
		// Sessions nobody has booked yet (the demo books the first weeks).
		var slots [][]string
		for _, m := range rcSlotRE.FindAllStringSubmatch(yogaForm.body, -1) {
			if strings.Contains(m[2], "残り12席／12席") {
				slots = append(slots, m)
			}
		}
		if len(slots) < 2 {
			t.Fatalf("the yoga form offers %d sessions:\n%s", len(slots), yogaForm.body)
		}
		mustContain(t, "the yoga form", yogaForm.body, "残り12席／12席")
		slotA, slotB := slots[0][1], slots[1][1]
		yogaDay := slots[0][3] + "-" + pad(slots[0][4]) + "-" + pad(slots[0][5])
		r := owner.submit("/reservations/new", "/reservations/new", url.Values{"menu_id": {yoga}, "slot_id": {slotA}, "party": {"２"},
			"name": {"山田 花子"}, "kana": {"ヤマダ ハナコ"}, "email": {"hanako@example.jp"}, "phone": {"090-1111-2222"}}, http.StatusSeeOther)
		yogaID := find("the booked reservation", rcDetailRE, r.header.Get("Location"))[1]
		detail := owner.get("/reservations/"+yogaID+"?done=booked", http.StatusOK)
		mustContain(t, "the yoga reservation", detail.body, "予約を登録しました。", "朝ヨガ（60分）", "2名", "山田 花子", "確定",
			"st-confirmed", "管理画面（スタッフ）", "予約を受付", "Asia/Tokyo")
		yogaNumber := find("number", rcNumberRE, detail.body)[1]

		// A refused booking keeps what was typed, each error at its field.
		bad := owner.submit("/reservations/new", "/reservations/new", url.Values{"menu_id": {yoga}, "slot_id": {slotA}, "party": {"9"},
			"name": {""}, "kana": {"ヤマダ"}}, http.StatusBadRequest)
		mustContain(t, "the refused booking", bad.body, `id="nb-party-error"`, `id="nb-name-error"`, `value="ヤマダ"`, `value="9"`, `role="alert"`)

		// An hours menu with a named provider, four weeks ahead (after the demo
		// bookings; not a Monday).
		day := time.Now().In(tokyo(t)).AddDate(0, 0, 28)
		for day.Weekday() == time.Monday {
			day = day.AddDate(0, 0, 1)
		}
		cutDay := day.Format(time.DateOnly)
		r = owner.submit("/reservations/new?menu="+cut, "/reservations/new", url.Values{"menu_id": {cut}, "date": {cutDay}, "time": {"10:00"},
			"provider_id": {sato}, "party": {"1"}, "name": {"鈴木 一郎"}, "kana": {"スズキ イチロウ"}, "phone": {"03-1234-5678"}}, http.StatusSeeOther)
		cutID := find("the cut reservation", rcDetailRE, r.header.Get("Location"))[1]

		// The calendar: the day and the week by provider, the month's counts.
		dayView := owner.get("/reservations/calendar?view=day&date="+cutDay+"&by=provider", http.StatusOK)
		mustContain(t, "the day by provider", dayView.body, "佐藤 美咲", "田中 健太", "担当なし", "10:00–11:00", "鈴木 一郎", "カット",
			`class="cal-item resv st-confirmed"`, `<span class="resv-status">確定</span>`, "/reservations/"+cutID,
			`/reservations/new?provider=`+sato, `/reservations/blocks/new?`, `rel="prev"`, `rel="next"`)
		weekView := owner.get("/reservations/calendar?view=week&date="+cutDay, http.StatusOK)
		mustContain(t, "the week", weekView.body, "鈴木 一郎", "確定", "佐藤 美咲")
		mustContain(t, "the yoga day", owner.get("/reservations/calendar?view=day&date="+yogaDay, http.StatusOK).body,
			"山本 彩（ヨガ講師）", "山田 花子", "2名")
		mustContain(t, "the month", owner.get("/reservations/calendar?view=month&date="+cutDay, http.StatusOK).body, "1件")
		mustContain(t, "by resource", owner.get("/reservations/calendar?view=day&date="+cutDay+"&by=resource", http.StatusOK).body,
			"シャンプー台", "設備なし", "鈴木 一郎")

		// The list: filters in the URL, search by number and by kana.
		list := owner.get("/reservations?q="+yogaNumber, http.StatusOK)
		mustContain(t, "search by number", list.body, "山田 花子", `value="`+yogaNumber+`"`)
		if strings.Contains(list.body, "鈴木 一郎") {
			t.Fatalf("a search by number found another:\n%s", list.body)
		}
		list = owner.get("/reservations?q="+url.QueryEscape("すずき"), http.StatusOK)
		mustContain(t, "search by kana in hiragana", list.body, "鈴木 一郎")
		if strings.Contains(list.body, "山田 花子") {
			t.Fatalf("a search by kana found another:\n%s", list.body)
		}
		// The demo's seminar requests wait for approval; the confirmed
		// bookings made above are not among them.
		pendingList := owner.get("/reservations?status=pending", http.StatusOK).body
		mustContain(t, "a status filter", pendingList, "仮予約（承認待ち）")
		if strings.Contains(pendingList, yogaNumber) || strings.Contains(pendingList, "鈴木 一郎") {
			t.Fatalf("the pending filter lists confirmed reservations:\n%s", pendingList)
		}
		// The CSV form exports what is filtered.
		mustContain(t, "the CSV form", owner.get("/reservations?status=confirmed&from=2026-01-01&to=2027-12-31", http.StatusOK).body,
			`id="reservations-csv"`, `name="status" value="confirmed"`, `name="from" value="2026-01-01"`, `name="to" value="2027-12-31"`)
		csv := owner.get("/exports/reservations.csv?status=confirmed&from="+time.Now().Format(time.DateOnly)+"&to="+time.Now().AddDate(0, 6, 0).Format(time.DateOnly), http.StatusOK).body
		mustContain(t, "the CSV file", csv, "\uFEFF", yogaNumber)
		mustContain(t, "a bad date", owner.get("/reservations?from=2026-13-01", http.StatusBadRequest).body, `id="rf-from-error"`, `value="2026-13-01"`)

		// A pending booking from the public API; staff confirm it; the history shows it.
		semForm := owner.get("/reservations/new?menu="+seminar, http.StatusOK)
		semSlot := find("seminar session", rcSlotRE, semForm.body)[1]
		qid := find("seminar question", rcQuestionRE, semForm.body)[1]
		body, _ := json.Marshal(map[string]any{"menu_id": seminar, "slot_id": semSlot, "party_size": 1,
			"customer": map[string]any{"name": "高橋 三郎", "kana": "タカハシ サブロウ", "email": "saburo@example.jp", "phone": "080-3333-4444"},
			"answers":  map[string]any{qid: "会社員（副業）"}})
		resp, err := http.Post(s.base+"/api/v1/public/demo/reservations", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		var booked struct{ ID, Status string }
		_ = json.NewDecoder(resp.Body).Decode(&booked)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || booked.Status != "pending" {
			t.Fatalf("public booking: %d %+v", resp.StatusCode, booked)
		}
		mustContain(t, "the pending list", owner.get("/reservations?status=pending", http.StatusOK).body, "高橋 三郎", "仮予約（承認待ち）")
		pending := owner.get("/reservations/"+booked.ID, http.StatusOK)
		mustContain(t, "the pending reservation", pending.body, "仮予約（承認待ち）", "会社員（副業）", "予約サイト", "承認して確定する", "お断りする")
		redirectsTo(t, "confirm", owner.submit("/reservations/"+booked.ID, "/reservations/"+booked.ID+"/action", url.Values{"action": {"confirm"}}, http.StatusSeeOther),
			"/t/demo/admin/reservations/"+booked.ID+"?done=confirm")
		mustContain(t, "the confirmed reservation", owner.get("/reservations/"+booked.ID+"?done=confirm", http.StatusOK).body,
			"予約を確定しました。", "状態: 仮予約（承認待ち） → 確定", "予約を受付", "お客様（ゲスト）")

		// A move to a full session is refused; the booking stays.
		redirectsTo(t, "shrink session B", owner.submit("/timetable/slots/"+slotB, "/timetable/slots/"+slotB, url.Values{"action": {"capacity"}, "capacity": {"1"}}, http.StatusSeeOther),
			"/t/demo/admin/timetable/slots/"+slotB)
		full := owner.submit("/reservations/"+yogaID, "/reservations/"+yogaID+"/move", url.Values{"slot_id": {slotB}, "confirm": {"1"}}, http.StatusConflict)
		mustContain(t, "the refused move", full.body, "満席です", `id="move-error"`, "確定")
		if a, b := slotOf(owner, yoga, slotA), slotOf(owner, yoga, slotB); !strings.Contains(a, "残り10席") || !strings.Contains(b, "残り1席") {
			t.Fatalf("a failed move changed the seats: %q, %q", a, b)
		}

		// A cancel needs its confirmation, then frees the seats.
		noTick := owner.submit("/reservations/"+yogaID, "/reservations/"+yogaID+"/action", url.Values{"action": {"cancel"}, "reason": {"体調不良"}}, http.StatusBadRequest)
		mustContain(t, "a cancel without confirmation", noTick.body, `id="action-cancel-error"`, "確認のチェック", "体調不良")
		if a := slotOf(owner, yoga, slotA); !strings.Contains(a, "残り10席") {
			t.Fatalf("an unconfirmed cancel freed seats: %q", a)
		}
		redirectsTo(t, "cancel", owner.submit("/reservations/"+yogaID, "/reservations/"+yogaID+"/action",
			url.Values{"action": {"cancel"}, "reason": {"体調不良"}, "confirm": {"1"}}, http.StatusSeeOther), "/t/demo/admin/reservations/"+yogaID+"?done=cancel")
		mustContain(t, "the cancelled reservation", owner.get("/reservations/"+yogaID, http.StatusOK).body, "キャンセル", "体調不良",
			"状態: 確定 → キャンセル")
		if a := slotOf(owner, yoga, slotA); !strings.Contains(a, "残り12席") {
			t.Fatalf("a cancel did not free the seats: %q", a)
		}

		// A block from the console shows on the calendar.
		redirectsTo(t, "block", owner.submit("/reservations/blocks/new", "/reservations/blocks", url.Values{"date": {cutDay}, "start": {"15:00"},
			"end": {"16:30"}, "target": {"provider:" + sato}, "reason": {"外部研修"}}, http.StatusSeeOther), "/t/demo/admin/reservations/calendar?")
		mustContain(t, "the blocked day", owner.get("/reservations/calendar?view=day&date="+cutDay, http.StatusOK).body,
			"ブロック中", "外部研修", "15:00–16:30", `class="cal-item block blocked"`)
		badBlock := owner.submit("/reservations/blocks/new", "/reservations/blocks", url.Values{"date": {cutDay}, "start": {"17:00"},
			"end": {"16:00"}, "target": {""}, "reason": {"逆"}}, http.StatusBadRequest)
		mustContain(t, "a refused block", badBlock.body, `id="bk-end-error"`, `value="逆"`)
		// A block over the booked 10:00 cut: the form again, saying so.
		overBooking := owner.submit("/reservations/blocks/new", "/reservations/blocks", url.Values{"date": {cutDay}, "start": {"10:30"},
			"end": {"11:00"}, "target": {"provider:" + sato}, "reason": {"重なり"}}, http.StatusConflict)
		mustContain(t, "a block over a booking", overBooking.body, "予約が入っているため", `value="重なり"`)

		// A post without the CSRF token changes nothing.
		owner.post("/reservations/"+cutID+"/action", url.Values{"action": {"cancel"}, "confirm": {"1"}}, http.StatusForbidden)
		mustContain(t, "after a forged post", owner.get("/reservations/"+cutID, http.StatusOK).body, "確定", "キャンセルする")

		// A viewer reads, sees no action forms, and is refused a post.
		const viewerEmail, viewerPassword = "etsuran@demo.example.jp", "hoshi-kaze-mori-tsuki-828"
		inv := owner.submit("/staff", "/staff/invite", url.Values{"email": {viewerEmail}, "name": {"閲覧"}, "role": {"viewer"}}, http.StatusOK)
		link := inviteLinkRE.FindStringSubmatch(inv.body)
		if link == nil {
			t.Fatalf("no invitation link:\n%s", inv.body)
		}
		setup := strings.TrimPrefix(link[1], "/t/demo/admin")
		viewer := newConsoleUser(t, s.base+"/t/demo/admin")
		viewer.submit(setup, setup, url.Values{"password": {viewerPassword}}, http.StatusSeeOther)
		viewer.login(viewerEmail, viewerPassword)
		seen := viewer.get("/reservations/"+cutID, http.StatusOK)
		mustContain(t, "the viewer's reservation", seen.body, "鈴木 一郎", "履歴（操作ログ）")
		if strings.Contains(seen.body, "/action\"") || strings.Contains(seen.body, "/move\"") {
			t.Fatalf("a viewer is offered actions:\n%s", seen.body)
		}
		viewer.post("/reservations/"+cutID+"/action", url.Values{"action": {"cancel"}, "confirm": {"1"}, "csrf_token": {viewer.token(seen)}}, http.StatusForbidden)
		viewer.get("/reservations/new", http.StatusForbidden)
		mustContain(t, "the viewer's calendar", viewer.get("/reservations/calendar?view=day&date="+cutDay, http.StatusOK).body, "鈴木 一郎")
		mustContain(t, "after the viewer's post", owner.get("/reservations/"+cutID, http.StatusOK).body, "確定")
	})
}

// slotOf is the staff booking form's label of a session (its seats left).
func slotOf(u *consoleUser, menu, slot string) string {
	u.t.Helper()
	body := u.get("/reservations/new?menu="+menu, http.StatusOK).body
	m := regexp.MustCompile(`<option value="` + slot + `">([^<]*)</option>`).FindStringSubmatch(body)
	if m == nil {
		u.t.Fatalf("session %s is not offered:\n%s", slot, body)
	}
	return m[1]
}

func pad(s string) string {
	if len(s) == 1 {
		return "0" + s
	}
	return s
}

func tokyo(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
