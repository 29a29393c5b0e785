package tsdb

import (
	"time"

	"github.com/rs/zerolog"
)

// SyncPolicy says when the WAL is fsynced.
type SyncPolicy int

const (
	// SyncEveryBatch fsyncs the WAL before Append returns: an acknowledged
	// batch survives a power failure. Concurrent appends share one fsync
	// (group commit).
	SyncEveryBatch SyncPolicy = iota
	// SyncInterval writes every batch to the operating system before Append
	// returns (it survives a crash of the process) and fsyncs the WAL every
	// Options.SyncInterval (a power failure loses at most that much).
	SyncInterval
)

// Options configure a DB. Start from DefaultOptions and change what you need.
type Options struct {
	// Logger receives open, repair, seal and compaction events.
	Logger zerolog.Logger

	// Sync is the WAL fsync policy; SyncInterval gives the period when
	// Sync is SyncInterval.
	Sync         SyncPolicy
	SyncInterval time.Duration

	// WALSegmentSize is the size at which a new WAL segment is started.
	WALSegmentSize int64

	// PartitionDuration is the time span of one partition (aligned to the
	// Unix epoch). Retention drops whole partitions.
	PartitionDuration time.Duration

	// Retention keeps partitions whose end is newer than the newest sample
	// timestamp minus Retention; 0 keeps everything. Samples older than the
	// retention cutoff are rejected and counted.
	Retention time.Duration

	// OutOfOrderWindow accepts a sample of a series up to this much older
	// than the newest sample of that series; older ones are rejected.
	// Samples inside the window are merged; same timestamp: last write wins.
	OutOfOrderWindow time.Duration

	// HeadMaxSamples seals the in-memory head into blocks once it holds
	// this many samples; SealInterval seals at least that often when the
	// head is not empty. Both bound memory and WAL length.
	HeadMaxSamples int
	SealInterval   time.Duration

	// MaxBlockSamples bounds the samples in one compressed block, so a block
	// of an hourly series spans months and one of a 1 s series minutes.
	MaxBlockSamples int

	// CompactInterval is how often the background compactor looks for
	// partitions with more than one part to merge; 0 disables it (parts
	// are then merged only at Close).
	CompactInterval time.Duration

	// RollupLocation is the time zone of the daily rollups. Aggregate
	// queries with whole-day steps in this zone read daily rollups; other
	// zones with whole-hour offsets read hourly (UTC) rollups.
	RollupLocation *time.Location

	// CompressLevel is the zstd level of parts written by sealing;
	// ColdCompressLevel is used for partitions that ended more than
	// ColdAfter before the newest sample (compaction rewrites a partition
	// once it turns cold).
	CompressLevel     int
	ColdCompressLevel int
	ColdAfter         time.Duration

	// RollupCacheBytes bounds the memory of decoded rollups kept for
	// repeated queries; 0 disables the cache.
	RollupCacheBytes int64

	// MaxBatchSamples rejects the part of a batch beyond this many samples.
	MaxBatchSamples int
}

// DefaultOptions returns the options used when nothing is configured:
// fsync every batch, 30-day partitions, unlimited retention, a 7-day
// out-of-order window and daily rollups in Asia/Ho_Chi_Minh.
func DefaultOptions() Options {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		loc = time.FixedZone("ICT", 7*3600)
	}
	return Options{
		Logger:            zerolog.Nop(),
		Sync:              SyncEveryBatch,
		SyncInterval:      100 * time.Millisecond,
		WALSegmentSize:    64 << 20,
		PartitionDuration: 30 * 24 * time.Hour,
		OutOfOrderWindow:  7 * 24 * time.Hour,
		HeadMaxSamples:    4 << 20,
		SealInterval:      10 * time.Minute,
		MaxBlockSamples:   8192,
		CompactInterval:   time.Minute,
		RollupLocation:    loc,
		MaxBatchSamples:   1 << 20,
		CompressLevel:     3,
		RollupCacheBytes:  64 << 20,
		ColdCompressLevel: 19,
		ColdAfter:         24 * time.Hour,
	}
}

func (o *Options) fill() {
	d := DefaultOptions()
	if o.SyncInterval <= 0 {
		o.SyncInterval = d.SyncInterval
	}
	if o.WALSegmentSize <= 0 {
		o.WALSegmentSize = d.WALSegmentSize
	}
	if o.PartitionDuration <= 0 {
		o.PartitionDuration = d.PartitionDuration
	}
	if o.PartitionDuration < time.Hour {
		o.PartitionDuration = time.Hour
	}
	if o.OutOfOrderWindow < 0 {
		o.OutOfOrderWindow = 0
	}
	if o.HeadMaxSamples <= 0 {
		o.HeadMaxSamples = d.HeadMaxSamples
	}
	if o.MaxBlockSamples <= 0 {
		o.MaxBlockSamples = d.MaxBlockSamples
	}
	if o.MaxBlockSamples > 1<<20 {
		o.MaxBlockSamples = 1 << 20
	}
	if o.RollupLocation == nil {
		o.RollupLocation = d.RollupLocation
	}
	if o.CompressLevel <= 0 {
		o.CompressLevel = d.CompressLevel
	}
	if o.ColdCompressLevel <= 0 {
		o.ColdCompressLevel = d.ColdCompressLevel
	}
	if o.ColdAfter <= 0 {
		o.ColdAfter = d.ColdAfter
	}
	if o.MaxBatchSamples <= 0 {
		o.MaxBatchSamples = d.MaxBatchSamples
	}
}
