package main

import (
	"context"
	"errors"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// calendarNav is the business calendar's entry in the console navigation.
var calendarNav = identity.NavEntry{Area: authz.AreaSchedule, Path: "/calendar", Label: "timeslots.nav"}

// timetableNav is the timetable's (the week of sessions) entry.
var timetableNav = identity.NavEntry{Area: authz.AreaSchedule, Path: "/timetable", Label: "slots.nav"}

// registerCalendar serves the business calendar: its tenant API routes on
// api (after the API key middleware; apiNeed is identity.API.Need) and its
// console page on admin (signed-in staff); availability for the booking
// site on public ("/api/v1/public/:tenant").
//
// The service itself is made by wireCatalog, with the menus it schedules.
func (a *app) registerCalendar(api, public, admin *gin.RouterGroup, apiNeed timeslots.NeedFunc, console *identity.Console) {
	svc := a.slots
	h := timeslots.NewHTTP(timeslots.HTTPConfig{Service: svc, Views: a.views, APINeed: apiNeed, OwnerName: a.ownerName,
		Console: timeslots.ConsoleShell{Page: console.Page, CSRF: console.CSRF, Fail: console.FailPage, Need: console.Need}})
	h.RegisterAPI(api)
	h.RegisterSlotsAPI(api)
	h.RegisterAvailabilityAPI(api)
	h.RegisterPublicAvailability(public)
	h.RegisterConsole(admin)
	h.RegisterTimetableConsole(admin, a.menus, a.authz)
}

// wireCatalog makes the catalog (menus) and the calendar (timeslots) and
// ties them together: the calendar takes only providers and resources the
// catalog has, and deleting one from the catalog drops its working hours
// in the same transaction.
func (a *app) wireCatalog() {
	exists := func(get func(context.Context, bun.IDB, string) error) timeslots.ExistsFunc {
		return func(ctx context.Context, db bun.IDB, id string) (bool, error) {
			err := get(ctx, db, id)
			if errors.Is(err, menus.ErrProviderNotFound) || errors.Is(err, menus.ErrResourceNotFound) {
				return false, nil
			}
			return err == nil, err
		}
	}
	// The catalog first: the calendar's timetables read it; its hooks
	// reach the calendar only when called.
	a.menus = menus.NewService(menus.Config{Logger: a.log,
		OnProviderDelete: func(ctx context.Context, tx bun.IDB, id string) error {
			return a.slots.DeleteWorkingHours(ctx, tx, timeslots.Provider(id))
		},
		OnResourceDelete: func(ctx context.Context, tx bun.IDB, id string) error {
			return a.slots.DeleteWorkingHours(ctx, tx, timeslots.Resource(id))
		},
	})
	a.slots = timeslots.NewService(timeslots.Config{Logger: a.log,
		ProviderExists: exists(func(ctx context.Context, db bun.IDB, id string) error {
			_, err := a.menus.GetProvider(ctx, db, id)
			return err
		}),
		ResourceExists: exists(func(ctx context.Context, db bun.IDB, id string) error {
			_, err := a.menus.GetResource(ctx, db, id)
			return err
		}),
		Menus: a.menus, // timetable sessions are checked against the catalog
		// Seats freed by raising a session's capacity (or reopening it) go
		// to its waitlist in the calendar's own transaction.
		OnSeatsFreed: func(ctx context.Context, tx bun.IDB, slotID string) (func(), error) {
			t, ok := tenants.FromContext(ctx)
			if a.reservations == nil || !ok {
				return nil, nil
			}
			return a.reservations.OfferFreedTx(ctx, tx, t, slotID)
		},
		// Provider and resource blocks take their capacity cells under
		// the booking guard (reservations owns the cells).
		BlockGuard: appBlockGuard{a},
	})
}

// appBlockGuard hands blocks to the reservations module's guard, which is
// made after the calendar (registerReservations).
type appBlockGuard struct{ a *app }

var errBlockGuardUnwired = errors.New("block guard: the reservations service is not wired")

func (g appBlockGuard) PrepareBlock(ctx context.Context, db bun.IDB, b timeslots.Block) error {
	if g.a.reservations == nil {
		return errBlockGuardUnwired
	}
	return g.a.reservations.BlockGuard().PrepareBlock(ctx, db, b)
}

func (g appBlockGuard) TakeBlock(ctx context.Context, tx bun.IDB, b timeslots.Block) (int, error) {
	if g.a.reservations == nil {
		return 0, errBlockGuardUnwired
	}
	return g.a.reservations.BlockGuard().TakeBlock(ctx, tx, b)
}

func (g appBlockGuard) GiveBlock(ctx context.Context, tx bun.IDB, b timeslots.Block) error {
	if g.a.reservations == nil {
		return errBlockGuardUnwired
	}
	return g.a.reservations.BlockGuard().GiveBlock(ctx, tx, b)
}

// ownerName names a provider or resource of the catalog for the calendar's
// pages.
func (a *app) ownerName(ctx context.Context, db bun.IDB, o timeslots.Owner) (string, error) {
	if o.Kind == timeslots.OwnerResource {
		r, err := a.menus.GetResource(ctx, db, o.ID)
		return r.Name, err
	}
	p, err := a.menus.GetProvider(ctx, db, o.ID)
	return p.Name, err
}
