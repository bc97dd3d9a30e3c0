package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// bsClient is a guest's browser without JavaScript: cookies kept,
// redirects not followed (the test follows them and checks where they go).
type bsClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	lang string
}

type bsPage struct {
	status   int
	body     string
	location string
}

func newBSClient(t *testing.T, base string) *bsClient {
	jar, _ := cookiejar.New(nil)
	return &bsClient{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (sc *bsClient) do(method, path string, form url.Values) bsPage {
	sc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = sc.base + path
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, body)
	if err != nil {
		sc.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if sc.lang != "" {
		req.Header.Set("Accept-Language", sc.lang)
	}
	res, err := sc.hc.Do(req)
	if err != nil {
		sc.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return bsPage{status: res.StatusCode, body: string(b), location: res.Header.Get("Location")}
}

func (sc *bsClient) get(path string) bsPage { return sc.do("GET", path, nil) }

// follow GETs path and its redirects (at most 3) and wants a 200 page.
func (sc *bsClient) follow(path string) bsPage {
	sc.t.Helper()
	p := sc.get(path)
	for i := 0; i < 3 && p.status == http.StatusSeeOther; i++ {
		p = sc.get(p.location)
	}
	if p.status != http.StatusOK {
		sc.t.Fatalf("GET %s: %d %s", path, p.status, p.body)
	}
	return p
}

func bsWantText(t *testing.T, what string, p bsPage, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Fatalf("%s: %q missing from the page (%d):\n%s", what, s, p.status, p.body)
		}
	}
}

var (
	bsHiddenRE   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	bsDayLinkRE  = regexp.MustCompile(`<a href="([^"]+date=[^"]+)" data-cal>`)
	bsFormLinkRE = regexp.MustCompile(`<a href="([^"]+/form\?[^"]+)">`)
	bsNumberRE   = regexp.MustCompile(`id="reservation-number">(R\d{6}[0-9A-Z]{5})<`)
)

// bsHiddenOf reads a page's hidden fields as a form.
func bsHiddenOf(body string) url.Values {
	v := url.Values{}
	for _, m := range bsHiddenRE.FindAllStringSubmatch(body, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

func bsMenuIDOn(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`/book/([0-9a-f]{32})">` + regexp.QuoteMeta(name) + `<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("menu %s not on the page:\n%s", name, body)
	}
	return m[1]
}

// A guest books the demo yoga session through the pages, without
// JavaScript: the menus, the calendar, the form (wrong answers kept and
// named at their fields), the confirmation (sent twice at once and once
// more: one booking), the done page and its .ics; a session filled
// meanwhile sends the next guest back to the day with the friendly
// message and nearby times; English by Accept-Language and the switch;
// every page under the weight budget.
func TestBookingSite(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		// Every guest here comes from 127.0.0.1: the per-address limits
		// (a busy page of their own, tested in ratelimit_test.go) are off.
		s := startServe(t, envOf(map[string]string{"YOYAKU_RATE_PUBLIC_ADDRESS_WRITE": "off", "YOYAKU_RATE_PUBLIC_ADDRESS_READ": "off"}),
			append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		guest := newBSClient(t, s.base)
		weights := map[string]int{}
		static := 0
		for _, f := range []string{"/static/site.css", "/static/booking.js"} {
			p := guest.get(f)
			if p.status != 200 {
				t.Fatalf("%s: %d", f, p.status)
			}
			static += len(p.body)
		}

		// 1. Menus, grouped, priced.
		home := guest.follow("/t/demo/")
		weights["menus"] = len(home.body)
		bsWantText(t, "menus", home, "Yoyaku デモ店", "ヘアサロン", "カット", "60分", "¥4,400（税込）", "朝ヨガ（60分）",
			"¥2,000／人（税込）", "はじめての確定申告セミナー", "初心者歓迎。マットは無料でお貸しします。")
		if !strings.Contains(home.body, `class="book-member" href="/t/demo/login">ログイン</a>`) {
			t.Fatalf("a guest is offered no login in the header:\n%s", home.body)
		}
		yoga := bsMenuIDOn(t, home.body, "朝ヨガ（60分）")
		cut := bsMenuIDOn(t, home.body, "カット")

		// 2. When: the first month with sessions, a free day, its sessions.
		when := guest.follow("/t/demo/book/" + yoga)
		weights["when"] = len(when.body)
		bsWantText(t, "calendar", when, "朝ヨガ（60分）", "○ 空きあり", "日付を選んでください")
		day := bsDayLinkRE.FindStringSubmatch(when.body)
		if day == nil {
			t.Fatalf("no free day on the calendar:\n%s", when.body)
		}
		dayPage := guest.follow(html.UnescapeString(day[1]))
		bsWantText(t, "the day", dayPage, "残り", "席", "年")
		link := bsFormLinkRE.FindStringSubmatch(dayPage.body)
		if link == nil {
			t.Fatalf("no session on the day:\n%s", dayPage.body)
		}
		formPath := html.UnescapeString(link[1])
		slot := regexp.MustCompile(`slot=([0-9a-f]{32})`).FindStringSubmatch(formPath)[1]

		// The hours menu: 指名 and 指名なし, options with price and time,
		// the menu's questions.
		cutWhen := guest.follow("/t/demo/book/" + cut)
		bsWantText(t, "haircut calendar", cutWhen, "担当の指名", "指名なし", "佐藤 美咲")
		if d := bsDayLinkRE.FindStringSubmatch(cutWhen.body); d != nil {
			cd := guest.follow(html.UnescapeString(d[1]))
			if l := bsFormLinkRE.FindStringSubmatch(cd.body); l != nil {
				cf := guest.follow(html.UnescapeString(l[1]))
				bsWantText(t, "haircut form", cf, "トリートメント ＋¥2,200・＋20分", "ご来店は初めてですか？", "必須", "任意")
			}
		}

		// 3. Details: wrong answers come back kept, at their fields.
		form := guest.follow(formPath)
		weights["form"] = len(form.body)
		bsWantText(t, "form", form, "お客様情報の入力", "朝ヨガ（60分）", "席）", "お名前", "フリガナ", "メールアドレス", "電話番号", "ご利用規約")
		hidden := bsHiddenOf(form.body)
		post := func(path string, v url.Values) bsPage { return guest.do("POST", path, v) }
		bad := url.Values{"csrf_token": hidden["csrf_token"], "slot": {slot}, "party": {"2"}, "name": {"山田 花子"},
			"kana": {"山田"}, "email": {"hanako@"}, "phone": {"12345"}}
		p := post("/t/demo/book/"+yoga+"/form", bad)
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("bad form: %d", p.status)
		}
		bsWantText(t, "bad form", p, "入力内容に4件の問題があります", `value="山田 花子"`, `value="山田"`, `value="hanako@"`,
			"フリガナは全角カタカナで入力してください", `aria-describedby="h-kana e-kana" aria-invalid="true" autofocus`,
			"メールアドレスの形式で入力してください", `id="e-phone"`, `aria-describedby="e-consent"`, `<option value="2" selected>`)
		if strings.Count(p.body, " autofocus") != 1 {
			t.Fatalf("want exactly one autofocus (the first error):\n%s", p.body)
		}

		// Valid (half-width kana accepted) → the confirmation.
		good := url.Values{"csrf_token": hidden["csrf_token"], "slot": {slot}, "party": {"2"}, "name": {"山田 花子"},
			"kana": {"ﾔﾏﾀﾞ ﾊﾅｺ"}, "email": {"hanako@example.jp"}, "phone": {"090-1234-5678"}, "consent": {"1"}}
		confirm := post("/t/demo/book/"+yoga+"/form", good)
		if confirm.status != 200 {
			t.Fatalf("confirm page: %d %s", confirm.status, confirm.body)
		}
		weights["confirm"] = len(confirm.body)
		bsWantText(t, "confirm", confirm, "予約内容の確認", "ヤマダ　ハナコ", "2名", "¥4,000（税込）", "内訳: ¥2,000 × 2名", "予約を確定する")
		sent := bsHiddenOf(confirm.body)
		if len(sent.Get("key")) < 32 {
			t.Fatalf("no idempotency key on the confirmation: %v", sent)
		}
		// A second guest reaches the same confirmation for the last seats.
		other := newBSClient(t, s.base)
		ofs := bsHiddenOf(other.follow(formPath).body)
		otherConfirm := other.do("POST", "/t/demo/book/"+yoga+"/form", url.Values{"csrf_token": ofs["csrf_token"],
			"slot": {slot}, "party": {"2"}, "name": {"佐々木 一郎"}, "kana": {"ササキ イチロウ"},
			"email": {"ichiro@example.jp"}, "phone": {"03-1234-5678"}, "consent": {"1"}})
		if otherConfirm.status != 200 {
			t.Fatalf("second guest's confirmation: %d", otherConfirm.status)
		}

		// Seats left in the session (the demo has members booked already).
		seats := func() int {
			t.Helper()
			d := regexp.MustCompile(`date=(\d{4}-\d{2}-\d{2})`).FindStringSubmatch(html.UnescapeString(day[1]))[1]
			r := request(t, "GET", s.base+"/api/v1/public/demo/availability?menu_id="+yoga+"&from="+d+"&to="+d, "", "")
			var av struct {
				Slots []struct {
					SlotID    string `json:"slot_id"`
					Remaining int    `json:"remaining"`
				} `json:"slots"`
			}
			if err := json.Unmarshal([]byte(r.body), &av); err != nil {
				t.Fatalf("%v: %s", err, r.body)
			}
			for _, sl := range av.Slots {
				if sl.SlotID == slot {
					return sl.Remaining
				}
			}
			t.Fatalf("slot %s gone: %s", slot, r.body)
			return 0
		}
		before := seats()
		if before < 4 {
			t.Fatalf("the first free session has %d seats, want at least 4", before)
		}

		// 4. The confirmation sent twice at once, then again (a reload).
		var wg sync.WaitGroup
		locs := make([]string, 3)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := post("/t/demo/book/"+yoga+"/confirm", sent)
				if r.status != http.StatusSeeOther {
					t.Errorf("confirm #%d: %d %s", i, r.status, r.body)
				}
				locs[i] = r.location
			}()
		}
		wg.Wait()
		locs[2] = post("/t/demo/book/"+yoga+"/confirm", sent).location
		if locs[0] == "" || locs[0] != locs[1] || locs[1] != locs[2] || !strings.Contains(locs[0], "/t/demo/booked/") {
			t.Fatalf("double submit answered %q", locs)
		}

		// 5. Done: the number, what happens next, .ics, the cancel link.
		done := guest.follow(locs[0])
		weights["done"] = len(done.body)
		bsWantText(t, "done", done, "ご予約が確定しました", "予約番号", "hanako@example.jp に確認メールをお送りしました",
			"カレンダーに追加（.ics）", "予約をキャンセルする", "/cancel?token=")
		number := bsNumberRE.FindStringSubmatch(done.body)
		if number == nil {
			t.Fatalf("no reservation number:\n%s", done.body)
		}
		ics := guest.get(strings.Replace(locs[0], "?token=", "/calendar.ics?token=", 1))
		if ics.status != 200 || !strings.Contains(ics.body, "BEGIN:VEVENT\r\n") || !strings.Contains(ics.body, number[1]) {
			t.Fatalf("ics: %d %s", ics.status, ics.body)
		}
		if p := guest.get(strings.Split(locs[0], "?")[0] + "?token=wrong"); p.status != 404 {
			t.Fatalf("done page with a wrong token: %d", p.status)
		}

		// Booked once: two seats fewer.
		if n := seats(); n != before-2 {
			t.Fatalf("after a double submit %d seats left, want %d", n, before-2)
		}

		// 6. The session fills up meanwhile (public bookings of two).
		for i := 0; seats() > 0; i++ {
			party := min(seats(), 2)
			body := `{"menu_id":"` + yoga + `","slot_id":"` + slot + `","party_size":` + strconv.Itoa(party) +
				`,"customer":{"name":"満席 ` + strconv.Itoa(i) + `","email":"full` + strconv.Itoa(i) + `@example.jp"}}`
			if r := request(t, "POST", s.base+"/api/v1/public/demo/reservations", "", body); r.status != 201 {
				t.Fatalf("filling the session: %d %s", r.status, r.body)
			}
		}
		if n := seats(); n != 0 {
			t.Fatalf("%d seats left, want 0", n)
		}
		back := other.do("POST", "/t/demo/book/"+yoga+"/confirm", bsHiddenOf(otherConfirm.body))
		if back.status != http.StatusSeeOther || !strings.Contains(back.location, "/t/demo/book/"+yoga+"?") ||
			!strings.Contains(back.location, "taken=") {
			t.Fatalf("a full session answered %d → %q", back.status, back.location)
		}
		sorry := other.follow(back.location)
		bsWantText(t, "taken", sorry, "申し訳ありません。選択された時間は埋まってしまいました", "近い日時で空いているのは", "満席", "席")
		// Its form link sends a guest back to the day too.
		if p := other.get(formPath); p.status != http.StatusSeeOther || !strings.Contains(p.location, "taken=") {
			t.Fatalf("form of a full session: %d %q", p.status, p.location)
		}

		// Forms need the page's CSRF token.
		if p := newBSClient(t, s.base).do("POST", "/t/demo/book/"+yoga+"/confirm", sent); p.status != http.StatusForbidden {
			t.Fatalf("confirmation without the cookie: %d", p.status)
		}

		// English: by Accept-Language, and by the switch (a cookie).
		en := newBSClient(t, s.base)
		en.lang = "en-US,en;q=0.9"
		bsWantText(t, "english menus", en.follow("/t/demo/"), "Haircut", "¥4,400 (tax incl.)", "Morning yoga (60 min)", "60 min")
		sw := newBSClient(t, s.base)
		if p := sw.get("/t/demo/lang/en?next=%2Ft%2Fdemo%2Fbook%2F" + yoga); p.status != http.StatusSeeOther || p.location != "/t/demo/book/"+yoga {
			t.Fatalf("language switch: %d %q", p.status, p.location)
		}
		bsWantText(t, "switched", sw.follow("/t/demo/book/"+yoga), "Morning yoga (60 min)", "Pick a day")
		if p := sw.get("/t/demo/lang/ja?next=https%3A%2F%2Fevil.example%2F"); p.location != "/t/demo/" {
			t.Fatalf("switch to another site: %q", p.location)
		}

		// Budget: HTML + CSS + JS under 150 KB per page.
		for page, n := range weights {
			total := n + static
			t.Logf("page weight %-8s %6d bytes (HTML %d + CSS/JS %d)", page, total, n, static)
			if total >= 150*1024 {
				t.Errorf("%s weighs %d bytes, over the 150 KB budget", page, total)
			}
		}
	})
}
