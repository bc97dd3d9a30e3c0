package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/notices"
)

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
	// ComponentMail and ComponentPlugins: register when the outbox/SMTP
	// and the plugin host exist (e.g. oldest pending mail younger than 15
	// minutes; every enabled plugin healthy).
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
