package main

import (
	"context"
	"errors"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/notify"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
)

// errReservationsNotWired: a mail asked for a reservation before the
// booking engine was made (the outbox retries it).
var errReservationsNotWired = errors.New("reservations: not wired yet")

// reservationState is notify's ReservationLookup: the reservation's status
// and start now (a reminder of a cancelled or moved one is dropped) and
// its provider's name, for the mail.
func (a *app) reservationState(ctx context.Context, db bun.IDB, id string) (notify.ReservationState, bool, error) {
	if a.reservations == nil {
		return notify.ReservationState{}, false, errReservationsNotWired
	}
	r, err := a.reservations.Get(ctx, db, id)
	if errors.Is(err, reservations.ErrNotFound) {
		return notify.ReservationState{}, false, nil
	}
	if err != nil {
		return notify.ReservationState{}, false, err
	}
	st := notify.ReservationState{Status: string(r.Status), StartsAt: r.StartsAt}
	if r.ProviderID != "" {
		// A provider deleted since is left unnamed rather than failing the mail.
		if p, err := a.menus.GetProvider(ctx, db, r.ProviderID); err == nil {
			st.ProviderName = p.Name
		}
	}
	return st, true, nil
}

// registerGuestPages serves the guest's cancel page on site ("/t/:tenant"
// after the site's rate limit and tenant middleware): the link of the
// reservation mails. It runs after registerReservations made the engine.
func (a *app) registerGuestPages(site *gin.RouterGroup) {
	gp := reservations.NewGuestPages(reservations.GuestPagesConfig{Service: a.reservations, Views: a.views})
	gp.Register(site)
	// The accept page of the waitlist offer mail: by its token, or as the
	// signed-in member whose entry it is.
	if a.memberSite != nil {
		site = site.Group("", a.memberSite.OptionalSession())
	}
	gp.RegisterWaitlist(site)
}
