package outbox

import (
	"context"

	"github.com/uptrace/bun"
)

// ClaimAndStart claims the due deliveries in db and starts them, as a pass
// does right before it calls the handlers, and returns them without
// delivering or recording anything more: what a process killed right after
// its handlers succeeded leaves behind.
func ClaimAndStart(ctx context.Context, d *Dispatcher, db bun.IDB) ([]Event, error) {
	now := d.now()
	rows, err := claim(ctx, db, d.token(), now, now.Add(d.cfg.Lease), d.cfg.Batch)
	if err != nil {
		return nil, err
	}
	var out []Event
	for i := range rows {
		ok, err := start(ctx, db, &rows[i], now, now.Add(d.cfg.Lease))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, fromRow(&rows[i]))
		}
	}
	return out, nil
}
