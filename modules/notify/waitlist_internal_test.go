package notify

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/web"
)

// The waitlist mails render in Japanese and English from the sample; the
// offer carries the booking site's accept link with its token, the
// expiry names no link.
func TestWaitlistTemplatesRender(t *testing.T) {
	sub, err := fs.Sub(web.FS, "mail")
	if err != nil {
		t.Fatal(err)
	}
	d, err := loadDefaults(sub)
	if err != nil {
		t.Fatal(err)
	}
	accept := "https://yoyaku.example.jp/t/sample/waitlist/0193a4c2b7d97f3e8a1b2c3d4e5f6073/accept?token=SAMPLE"
	want := map[string][]string{
		EventWaitlistOffer + "/ja":   {"予約 花子 様", "朝ヨガ 60分", "2026年12月10日(木) 10:00〜11:00 (JST)", "1名", "2026年12月9日(水) 22:00 JST", accept},
		EventWaitlistOffer + "/en":   {"Dear Hanako Yoyaku,", "Morning yoga (60 min)", "Thu, 10 Dec 2026 10:00–11:00 (JST)", "Wed, 9 Dec 2026 22:00 JST", accept},
		EventWaitlistExpired + "/ja": {"予約 花子 様", "朝ヨガ 60分", "次にお待ちの方", "https://yoyaku.example.jp/t/sample"},
		EventWaitlistExpired + "/en": {"Dear Hanako Yoyaku,", "next person in line", "https://yoyaku.example.jp/t/sample"},
	}
	subjects := map[string]string{
		EventWaitlistOffer + "/ja":   "【サンプル予約店】キャンセル待ちのお席をお取り置きしました",
		EventWaitlistExpired + "/en": "[サンプル予約店] Your held seat has expired",
	}
	for key, words := range want {
		typ, lang, _ := strings.Cut(key, "/")
		c, ok := d[key]
		if !ok || c.HTML == "" {
			t.Fatalf("%s: no default with an HTML part", key)
		}
		r, err := renderContent(c, events[typ].sample(lang).vars(sampleContext(lang)))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if w, ok := subjects[key]; ok && r.Subject != w {
			t.Errorf("%s subject %q, want %q", key, r.Subject, w)
		}
		for _, w := range words {
			if !strings.Contains(r.Text, w) || !strings.Contains(r.HTML, w) {
				t.Errorf("%s lacks %q:\n%s", key, w, r.Text)
			}
		}
		if typ == EventWaitlistExpired && strings.Contains(r.Text, "accept") {
			t.Errorf("%s has an accept link:\n%s", key, r.Text)
		}
	}
	if events[EventWaitlistOffer].copyable {
		t.Error("the offer (with its token) is copyable to the tenant")
	}
}
