package tsdb

import (
	"context"
	"time"
)

// syncLoop fsyncs the WAL every SyncInterval under SyncInterval policy.
func (db *DB) syncLoop(ctx context.Context) {
	defer db.wg.Done()
	t := time.NewTicker(db.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := db.wal.sync(); err != nil {
				db.log.Error().Err(err).Msg("wal sync failed")
			}
		}
	}
}
