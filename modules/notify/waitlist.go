package notify

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/yoyaku-oss/yoyaku/modules/reservations"
)

// The waitlist mails: a seat is held for the person (with the accept
// link), and the hold ran out unused.
const (
	// EventWaitlistOffer: a freed seat is held for the first in line.
	EventWaitlistOffer = reservations.EventWaitlistOffer
	// EventWaitlistExpired: the held seat was not taken in time and went
	// to the next in line.
	EventWaitlistExpired = reservations.EventWaitlistExpired
)

// WaitlistMail is the payload of the waitlist mails: the reservations
// module's waitlist event. The offer carries the accept token, the
// person's credential, so these mails are never copied to the tenant.
type WaitlistMail struct {
	reservations.WaitlistEvent
}

func waitlistDef() eventDef {
	return eventDef{optionalRecipient: true, decode: decodeWaitlist, sample: sampleWaitlist}
}

func decodeWaitlist(raw json.RawMessage, _ *validator.Validate) (payload, error) {
	var p WaitlistMail
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	var bad []string
	if p.EntryID == "" || len(p.EntryID) > 64 || strings.ContainsAny(p.EntryID, "@ \r\n<>/?#") {
		bad = append(bad, "entry_id")
	}
	if _, err := time.Parse(time.RFC3339, p.StartsAt); err != nil {
		bad = append(bad, "starts_at")
	}
	if _, err := time.Parse(time.RFC3339, p.EndsAt); err != nil {
		bad = append(bad, "ends_at")
	}
	if p.ExpiresAt != "" {
		if _, err := time.Parse(time.RFC3339, p.ExpiresAt); err != nil {
			bad = append(bad, "expires_at")
		}
	}
	if p.CustomerEmail != "" {
		if _, ok := bareAddress(p.CustomerEmail); !ok {
			bad = append(bad, "customer_email")
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("invalid fields: %s", strings.Join(bad, ", "))
	}
	return p, nil
}

func sampleWaitlist(lang string) payload {
	start := sampleTime
	return WaitlistMail{reservations.WaitlistEvent{
		EntryID: "0193a4c2b7d97f3e8a1b2c3d4e5f6073", SlotID: "0193a4c2b7d97f3e8a1b2c3d4e5f6074",
		MenuID: "0193a4c2b7d97f3e8a1b2c3d4e5f6072", MenuName: "朝ヨガ 60分", MenuNameEN: "Morning yoga (60 min)",
		StartsAt: start.Format(time.RFC3339), EndsAt: start.Add(time.Hour).Format(time.RFC3339), TimeZone: "Asia/Tokyo",
		PartySize: 1, CustomerName: sampleName(lang, "予約 花子", "Hanako Yoyaku"), CustomerEmail: "hanako@example.jp",
		Lang: lang, ExpiresAt: start.Add(-12 * time.Hour).Format(time.RFC3339), AcceptToken: "SAMPLE",
	}}
}

func (p WaitlistMail) recipient() string { return p.CustomerEmail }
func (p WaitlistMail) language() string  { return p.Lang }

func (p WaitlistMail) vars(rc renderContext) map[string]any {
	start, _ := time.Parse(time.RFC3339, p.StartsAt)
	end, _ := time.Parse(time.RFC3339, p.EndsAt)
	var expires time.Time
	if p.ExpiresAt != "" {
		expires, _ = time.Parse(time.RFC3339, p.ExpiresAt)
	}
	menu := p.MenuName
	if rc.lang == LangEnglish && p.MenuNameEN != "" {
		menu = p.MenuNameEN
	}
	site, acceptURL, myPage := "", "", ""
	if rc.siteURL != "" && rc.tenant.Slug != "" {
		site = strings.TrimRight(rc.siteURL, "/") + "/t/" + url.PathEscape(rc.tenant.Slug)
		if p.AcceptToken != "" {
			acceptURL = site + "/waitlist/" + url.PathEscape(p.EntryID) + "/accept?token=" + url.QueryEscape(p.AcceptToken)
		}
		if p.MemberID != "" {
			myPage = site + "/mypage"
		}
	}
	return withTenant(rc, map[string]any{
		"CustomerName": p.CustomerName, "MenuName": menu, "When": formatSpan(start.UTC(), end.UTC(), rc),
		"StartsAt": formatTime(start, rc), "PartySize": p.PartySize, "ExpiresAt": formatTime(expires, rc),
		"SiteURL": site, "AcceptURL": acceptURL, "MyPageURL": myPage, "Member": p.MemberID != "",
	})
}
