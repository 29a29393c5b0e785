package tsdb

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/atomicfile"
	"github.com/quantrac/quantrac/model"
)

// ErrClosed is returned by calls on a closed DB.
var ErrClosed = errors.New("tsdb: closed")

// DB is the embedded time-series engine. It implements model.Storage and is
// safe for concurrent use by many writers and readers.
type DB struct {
	dir  string
	opts Options
	log  zerolog.Logger

	// appendMu serialises appenders: WAL order equals head order.
	appendMu sync.Mutex
	// inflight is read-held by an Append from applying its batch to the
	// head until the batch is durable or taken back out; freezeHead
	// write-locks it (under appendMu) so it never moves unacknowledged
	// points into a memory part.
	inflight sync.RWMutex
	hasher   maphash.Hash
	body     []byte
	rec      []byte
	newSer   []walSeries
	// batchSeries maps label slices seen in the current batch to series.
	batchSeries map[*model.Label]batchSeriesEntry
	nextRef     uint32

	mu     sync.RWMutex // guards idx and parts
	idx    *seriesIndex
	parts  *partSet
	closed bool

	wal         *wal
	headSamples atomic.Int64
	maxT        atomic.Int64 // newest timestamp stored, MinInt64 when empty

	sealMu  sync.Mutex // one seal or compaction at a time
	sealCh  chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	lockF   *os.File
	partSeq atomic.Uint64

	rollCache *rollupCache

	stats Stats
}

// Stats are counters of what the engine did since Open.
type Stats struct {
	// Rejected counts samples refused by Append (bad input, too old).
	Rejected atomic.Int64
	// RejectedRetention counts samples older than the retention cutoff.
	RejectedRetention atomic.Int64
	// ReplayDropped counts WAL samples of unknown series dropped at replay.
	ReplayDropped atomic.Int64
	// WALRepairs counts damaged WAL segments truncated at open.
	WALRepairs atomic.Int64
	// Seals and Compactions count finished seal and merge runs.
	Seals       atomic.Int64
	Compactions atomic.Int64
}

type acceptedSample struct {
	s *memSeries
	p model.Point
}

// acceptedPool recycles the accepted-sample lists of Append; a list lives
// until the batch is durable, so a failed batch can be taken back out of
// the head.
var acceptedPool = sync.Pool{New: func() any { return new([]acceptedSample) }}

var _ model.Storage = (*DB)(nil)

// Open opens (or creates) the engine in dir: it loads the sealed parts,
// replays the WAL into the head, dropping a torn tail, and starts the
// background sealer and compactor. Close stops them.
func Open(dir string, opts Options) (*DB, error) {
	opts.fill()
	if err := os.MkdirAll(filepath.Join(dir, walDirName), 0o755); err != nil {
		return nil, fmt.Errorf("tsdb %s: create wal dir: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, partitionsDir), 0o755); err != nil {
		return nil, fmt.Errorf("tsdb %s: create partitions dir: %w", dir, err)
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return nil, fmt.Errorf("tsdb %s: %w", dir, err)
	}
	lockF, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	db := &DB{
		dir:    dir,
		opts:   opts,
		log:    opts.Logger,
		idx:    newSeriesIndex(),
		sealCh: make(chan struct{}, 1),
		lockF:  lockF,
	}
	db.rollCache = newRollupCache(opts.RollupCacheBytes)
	db.maxT.Store(math.MinInt64)
	fail := func(err error) (*DB, error) {
		db.closeParts()
		unlockDir(lockF)
		return nil, fmt.Errorf("tsdb %s: %w", dir, err)
	}
	if err := db.loadParts(); err != nil {
		return fail(err)
	}
	if err := db.replayWAL(); err != nil {
		return fail(err)
	}
	db.mu.Lock()
	snap := db.seriesSnapshotLocked()
	db.mu.Unlock()
	w, err := openWAL(filepath.Join(dir, walDirName), &db.opts, snap)
	if err != nil {
		return fail(err)
	}
	w.snapshot = func() []byte {
		db.mu.RLock()
		defer db.mu.RUnlock()
		return db.seriesSnapshotLocked()
	}
	db.wal = w
	ctx, cancel := context.WithCancel(context.Background())
	db.cancel = cancel
	db.startBackground(ctx)
	return db, nil
}

// Close stops background work (a merge in progress is abandoned), seals the
// head into parts and closes files; merging is left to the next Open's
// background compactor, so Close stays quick. A closed DB answers every call
// with ErrClosed.
func (db *DB) Close() error {
	db.appendMu.Lock()
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		db.appendMu.Unlock()
		return ErrClosed
	}
	db.closed = true
	db.mu.Unlock()
	db.appendMu.Unlock()

	db.cancel()
	db.wg.Wait()

	var errs []error
	if err := db.seal(context.Background()); err != nil {
		errs = append(errs, fmt.Errorf("seal head: %w", err))
	}
	if err := db.wal.close(); err != nil {
		errs = append(errs, err)
	}
	db.closeParts()
	unlockDir(db.lockF)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tsdb %s: close: %w", db.dir, err)
	}
	return nil
}

// Dir returns the data directory.
func (db *DB) Dir() string { return db.dir }

// Stats returns the engine's counters.
func (db *DB) Stats() *Stats { return &db.stats }

func (db *DB) isClosed() bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.closed
}
