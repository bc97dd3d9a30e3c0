package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/notices"
)

// mailBacklog is how long a due delivery may wait before mail delivery
// counts as failing even though the SMTP server answers.
const mailBacklog = 15 * time.Minute

// mailCheck is the status page's mail check: the SMTP server accepts a
// connection (TLS and login included), and the outbox has no delivery
// waiting longer than mailBacklog.
func (a *app) mailCheck(ctx context.Context) error {
	if err := a.mail.Check(ctx); err != nil {
		return err
	}
	if a.outbox != nil {
		if age := a.outbox.OldestPendingAge(); age > mailBacklog {
			return fmt.Errorf("the oldest due delivery has waited %s", age.Round(time.Second))
		}
	}
	return nil
}

// noticeLoops runs the status page's checks every minute and retries the
// announcements of notices whose mailing failed every five minutes, until
// ctx ends. base is this server's own URL: the API check asks it, so the
// status says whether requests are really served.
func (a *app) noticeLoops(ctx context.Context, base string) {
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) notices.CheckFunc {
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
			if err != nil {
				return err
			}
			res, err := client.Do(req)
			if err != nil {
				return err
			}
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %d", path, res.StatusCode)
			}
			return nil
		}
	}
	k := a.notices.NewChecker(notices.CheckerConfig{Logger: a.log})
	_ = k.Register(notices.ComponentAPI, get("/readyz"))
	_ = k.Register(notices.ComponentSite, get("/static/site.css"))
	// Mail is checked only where a server is configured: an instance that
	// sends no mail shows the component as unknown rather than down.
	if a.mail.Configured() {
		_ = k.Register(notices.ComponentMail, a.mailCheck)
	}
	// Plugins are checked where some are installed: none installed shows
	// the component as unknown; a refused or failed one is failing.
	if a.plugins != nil && a.plugins.Installed() > 0 {
		_ = k.Register(notices.ComponentPlugins, a.plugins.Check)
	}
	go k.Run(ctx)

	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := a.notices.AnnouncePending(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("retrying notice announcements", "err", err)
		}
	}
}
