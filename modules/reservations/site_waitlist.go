package reservations

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
)

// The waitlist's accept page: the link of the reservation.waitlist_offer
// mail (/t/{tenant}/waitlist/{id}/accept?token=…). Its GET only shows the
// held session (mail scanners open links); the booking is the form's POST,
// guarded like the cancel form by a double-submit cookie.

const waitlistCSRFCookie = "yoyaku_waitlist_csrf"

// RegisterWaitlist adds the accept page to g ("/t/:tenant", after the
// site's rate limit and tenant middleware, and members' OptionalSession
// when a signed-in member may accept without the token).
func (s *GuestPages) RegisterWaitlist(g *gin.RouterGroup) {
	g.GET("/waitlist/:id/accept", s.acceptPage)
	g.POST("/waitlist/:id/accept", s.accept)
}

// waitlistOffer reads entry id when who may act on it; a wrong token is
// not found, like a missing entry.
func (s *GuestPages) waitlistOffer(c *gin.Context, db bun.IDB, id string, who WaitlistWho) (*waitRow, error) {
	if len(who.Token) > 100 || (who.Token == "" && who.MemberID == "") {
		return nil, ErrNotFound
	}
	rw, err := selectWait(c.Request.Context(), db, id)
	if err != nil {
		if errors.Is(err, ErrWaitlistNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	if who.owns(rw) != nil {
		return nil, ErrNotFound
	}
	return rw, nil
}

func siteWho(c *gin.Context, token string) WaitlistWho {
	w := WaitlistWho{Token: token}
	if m, ok := members.MemberFrom(c.Request.Context()); ok {
		w.MemberID = m.ID
	}
	return w
}

func (s *GuestPages) acceptPage(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer") // the token is in the URL
	db, err := s.db(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	token := c.Query("token")
	rw, err := s.waitlistOffer(c, db, c.Param("id"), siteWho(c, token))
	if err != nil {
		s.fail(c, err)
		return
	}
	data, err := s.waitView(c, db, rw)
	if err != nil {
		s.fail(c, err)
		return
	}
	data["Token"], data["CSRF"] = token, s.waitCSRF(c)
	s.views.HTML(c, http.StatusOK, "site_waitlist_accept.html", data)
}

func (s *GuestPages) accept(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	cookie, err := c.Cookie(waitlistCSRFCookie)
	if form := c.PostForm("csrf_token"); err != nil || cookie == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(form)) != 1 {
		s.fail(c, errGuestCSRF)
		return
	}
	db, err := s.db(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	token := c.PostForm("token")
	who := siteWho(c, token)
	rw, err := s.waitlistOffer(c, db, c.Param("id"), who)
	if err != nil {
		s.fail(c, err)
		return
	}
	t, _ := s.base(c)
	actor := auditlog.Actor{Kind: auditlog.ActorAnonymous}
	ctx := auditlog.WithRequest(c.Request.Context(), auditlog.Request{Actor: actor,
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: logx.RequestID(c.Request.Context())})
	in := AcceptInput{WaitlistWho: who, SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent()}
	if m, ok := members.MemberFrom(c.Request.Context()); ok && m.ID == rw.MemberID {
		if cu := memberCustomer(m); cu.Name != "" {
			in.Customer = &cu
		}
	}
	b, err := s.svc.AcceptOffer(ctx, db, t, rw.ID, in)
	// A hold that ran out, a session closed meanwhile or a full one shows
	// the page again with what went wrong; only a fault is an error page.
	if err != nil && httpx.ProblemFor(c, err).Status >= 500 {
		s.fail(c, err)
		return
	}
	if rw, err2 := selectWait(c.Request.Context(), db, rw.ID); err2 == nil {
		data, verr := s.waitView(c, db, rw)
		if verr != nil {
			s.fail(c, verr)
			return
		}
		if err != nil {
			data["Error"] = httpx.ProblemFor(c, err).Detail
			s.views.HTML(c, http.StatusConflict, "site_waitlist_accept.html", data)
			return
		}
		data["Done"], data["Number"] = true, b.Number
		data["Status"] = guestTr(c, "reservations.site.cancel.status."+string(b.Status))
		if b.CancelToken != "" {
			data["CancelURL"] = data["Base"].(string) + "/reservations/" + b.ID + "/cancel?token=" + b.CancelToken
		}
		data["Title"] = guestTr(c, "waitlist.accept.done_title")
		s.views.HTML(c, http.StatusOK, "site_waitlist_accept.html", data)
		return
	}
	s.fail(c, ErrNotFound)
}

// waitView is the accept page's data for entry rw: the session, the party,
// the hold's end, and whether it may still be accepted.
func (s *GuestPages) waitView(c *gin.Context, db bun.IDB, rw *waitRow) (map[string]any, error) {
	t, base := s.base(c)
	lang := httpx.Lang(c)
	zone := ZoneOf(t)
	m, err := s.svc.menus.Get(c.Request.Context(), db, rw.MenuID)
	if err != nil {
		return nil, err
	}
	menu := m.NameJA
	if lang == "en" && m.NameEN != "" {
		menu = m.NameEN
	}
	when := ""
	if st, err := selectSlot(c.Request.Context(), db, rw.SlotID); err != nil {
		return nil, err
	} else if st != nil {
		when = guestSpan(st.StartsAt, st.EndsAt, zone, lang)
	}
	open := rw.Status == string(WaitOffered) && rw.ExpiresAt != nil && rw.ExpiresAt.After(s.svc.clock())
	expires := ""
	if rw.ExpiresAt != nil {
		expires = guestTime(*rw.ExpiresAt, zone, lang)
	}
	return map[string]any{"TenantName": t.Name, "Base": base, "ID": rw.ID, "Title": guestTr(c, "waitlist.accept.title"),
		"Menu": menu, "When": when, "Party": guestTr(c, "reservations.site.cancel.party_value", "Count", rw.PartySize),
		"Expires": expires, "Open": open, "Accepted": rw.Status == string(WaitAccepted)}, nil
}

// waitCSRF returns the accept form's double-submit token, setting its
// cookie (scoped to the tenant's waitlist pages) when there is none.
func (s *GuestPages) waitCSRF(c *gin.Context) string {
	if v, err := c.Cookie(waitlistCSRFCookie); err == nil && len(v) >= 32 {
		return v
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	_, base := s.base(c)
	http.SetCookie(c.Writer, &http.Cookie{Name: waitlistCSRFCookie, Value: v, Path: base + "/waitlist/",
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteLaxMode})
	return v
}
