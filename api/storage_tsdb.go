package api

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/tsdb"
)

// TSDBConfig tunes the embedded engine (storage: tsdb).
type TSDBConfig struct {
	// Sync is when the WAL is fsynced: every_batch (default; an
	// acknowledged batch survives power loss) or interval.
	Sync string `yaml:"sync"`
	// SyncInterval is the fsync period with sync: interval. Default 100ms.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// Retention drops data older than this; 0 keeps everything.
	Retention time.Duration `yaml:"retention"`
	// OutOfOrderWindow accepts late samples up to this much older than a
	// series' newest. Default 168h.
	OutOfOrderWindow time.Duration `yaml:"out_of_order_window"`
}

// openTSDB opens the embedded engine under <data_dir>/tsdb.
func openTSDB(cfg Config, log zerolog.Logger) (model.Storage, error) {
	opts := tsdb.DefaultOptions()
	opts.Logger = log.With().Str("component", "tsdb").Logger()
	switch cfg.TSDB.Sync {
	case "", "every_batch":
		opts.Sync = tsdb.SyncEveryBatch
	case "interval":
		opts.Sync = tsdb.SyncInterval
	default:
		return nil, fmt.Errorf("tsdb.sync %q: want every_batch or interval", cfg.TSDB.Sync)
	}
	if cfg.TSDB.SyncInterval > 0 {
		opts.SyncInterval = cfg.TSDB.SyncInterval
	}
	opts.Retention = cfg.TSDB.Retention
	if cfg.TSDB.OutOfOrderWindow > 0 {
		opts.OutOfOrderWindow = cfg.TSDB.OutOfOrderWindow
	}
	if loc, err := time.LoadLocation(cfg.Timezone); err == nil {
		opts.RollupLocation = loc
	}
	dir := filepath.Join(cfg.DataDir, "tsdb")
	db, err := tsdb.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open tsdb %s: %w", dir, err)
	}
	return db, nil
}
