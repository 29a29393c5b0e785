package tsdb

import (
	"context"
	"time"
)

// startBackground starts the WAL syncer (SyncInterval policy), the sealer
// and the compactor. They stop when ctx ends (Close).
func (db *DB) startBackground(ctx context.Context) {
	if db.opts.Sync == SyncInterval {
		db.wg.Add(1)
		go db.syncLoop(ctx)
	}
	db.wg.Add(1)
	go db.maintainLoop(ctx)
}

// syncLoop fsyncs the WAL every SyncInterval.
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

// maintainLoop seals the head when it is full or every SealInterval, and
// compacts every CompactInterval.
func (db *DB) maintainLoop(ctx context.Context) {
	defer db.wg.Done()
	sealEvery := db.opts.SealInterval
	if sealEvery <= 0 {
		sealEvery = time.Hour
	}
	sealT := time.NewTicker(sealEvery)
	defer sealT.Stop()
	var compactC <-chan time.Time
	if db.opts.CompactInterval > 0 {
		ct := time.NewTicker(db.opts.CompactInterval)
		defer ct.Stop()
		compactC = ct.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.sealCh:
		case <-sealT.C:
		case <-compactC:
			if err := db.compact(ctx, false); err != nil {
				db.log.Error().Err(err).Msg("compaction failed")
			}
			continue
		}
		if err := db.seal(ctx); err != nil {
			db.log.Error().Err(err).Msg("seal failed")
		}
	}
}
