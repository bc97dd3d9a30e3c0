package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/notices"
	"github.com/yoyaku-oss/yoyaku/modules/notify"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// announceNotice is the notices module's OnPublished hook: it writes one
// notice.published mail per contact address into the outbox of every
// tenant the notice addresses, in that tenant's own transaction, and wakes
// the dispatcher. Per tenant it is idempotent for one revision of a notice
// (the events carry the aggregate "notice" / "<id>.<revision>", looked for
// first), so a retry after a partial failure mails nobody twice; a newer
// revision replaces the still-pending mails of an older one (same key).
func (a *app) announceNotice(ctx context.Context, n notices.Notice, addressed []tenants.Tenant) error {
	var errs []error
	for _, t := range addressed {
		if len(t.ContactEmails) == 0 || t.Status == tenants.StatusTerminated {
			continue
		}
		if err := a.announceTo(ctx, n, t); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (a *app) announceTo(ctx context.Context, n notices.Notice, t tenants.Tenant) error {
	h, err := a.reg.Acquire(ctx, t.DB)
	if err != nil {
		return err
	}
	defer h.Release()
	db, err := h.DB(ctx)
	if err != nil {
		return err
	}
	aggregate := n.ID + "." + strconv.Itoa(n.Revision)
	var evs []outbox.Event
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		done, err := outbox.List(ctx, tx, outbox.Filter{Type: notify.EventNoticePublished, AggregateType: "notice", AggregateID: aggregate, Limit: 1})
		if err != nil || len(done) > 0 {
			return err
		}
		seen := map[string]bool{}
		for _, addr := range t.ContactEmails {
			addr = strings.TrimSpace(addr)
			norm := strings.ToLower(addr)
			if addr == "" || seen[norm] {
				continue
			}
			seen[norm] = true
			sum := sha256.Sum256([]byte(norm))
			p := notify.NoticePublished{
				Email: addr, NoticeID: n.ID, Revision: n.Revision, Kind: string(n.Kind), Title: n.Title, Body: n.Body,
				StartsAt: n.StartsAt, EndsAt: n.EndsAt, Urgent: n.Urgent, Lang: t.Locale,
			}
			got, err := outbox.Enqueue(ctx, tx, a.subs, outbox.NewEvent{
				Type: notify.EventNoticePublished, AggregateType: "notice", AggregateID: aggregate,
				Key: "notice:" + n.ID + ":" + hex.EncodeToString(sum[:12]), Payload: p,
			})
			if err != nil {
				return err
			}
			evs = append(evs, got...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.notifyOutbox(ctx, t.ID, evs)
	return nil
}
