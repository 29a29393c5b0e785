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
	hasher   maphash.Hash
	body     []byte
	rec      []byte
	newSer   []walSeries
	accepted []acceptedSample
	nextRef  uint32

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
	if err := syncDir(dir); err != nil {
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
	db.wal = w
	ctx, cancel := context.WithCancel(context.Background())
	db.cancel = cancel
	db.startBackground(ctx)
	return db, nil
}

// Close stops background work, seals the head into blocks, merges parts
// and closes files. A closed DB answers every call with ErrClosed.
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
	if err := db.compact(context.Background(), true); err != nil {
		errs = append(errs, fmt.Errorf("compact: %w", err))
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

// Append validates each sample, writes the good ones to the WAL and the
// head, and returns once they are durable under the sync policy. Bad
// samples are reported per index in the result; the rest are stored.
func (db *DB) Append(ctx context.Context, batch []model.Sample) (model.AppendResult, error) {
	var res model.AppendResult
	if err := ctx.Err(); err != nil {
		return res, err
	}
	db.appendMu.Lock()
	if db.isClosed() {
		db.appendMu.Unlock()
		return res, ErrClosed
	}
	body := db.body[:0]
	newSer := db.newSer[:0]
	acc := db.accepted[:0]
	var cutoff int64 = math.MinInt64
	maxT := db.maxT.Load()
	if db.opts.Retention > 0 && maxT != math.MinInt64 {
		cutoff = maxT - db.opts.Retention.Milliseconds()
	}
	window := db.opts.OutOfOrderWindow.Milliseconds()
	var (
		prevLabels model.Labels
		prevSeries *memSeries
		prevT      int64
	)
	for i := range batch {
		smp := &batch[i]
		if i >= db.opts.MaxBatchSamples {
			res.Reject(i, fmt.Errorf("batch has %d samples, more than the limit of %d", len(batch), db.opts.MaxBatchSamples))
			continue
		}
		var s *memSeries
		if prevSeries != nil && sameLabels(prevLabels, smp.Labels) {
			s = prevSeries
			if err := checkValue(smp); err != nil {
				res.Reject(i, err)
				continue
			}
		} else {
			if err := smp.Validate(); err != nil {
				res.Reject(i, err)
				continue
			}
			s = db.getOrCreate(smp.Labels, &newSer)
			prevLabels, prevSeries = smp.Labels, s
		}
		if smp.T < cutoff {
			db.stats.RejectedRetention.Add(1)
			res.Reject(i, fmt.Errorf("series %s: timestamp %d ms is older than the retention cutoff %d", s.labels, smp.T, cutoff))
			continue
		}
		if s.maxT != math.MinInt64 && smp.T < s.maxT-window {
			res.Reject(i, fmt.Errorf("series %s: timestamp %d ms is older than the out-of-order window (newest %d)", s.labels, smp.T, s.maxT))
			continue
		}
		if smp.T > s.maxT {
			s.maxT = smp.T
		}
		if smp.T > maxT {
			maxT = smp.T
		}
		body = appendSample(body, s.ref, smp.T-prevT, smp.V, smp.Q)
		prevT = smp.T
		acc = append(acc, acceptedSample{s: s, p: model.Point{T: smp.T, V: smp.V, Q: smp.Q}})
	}
	db.stats.Rejected.Add(int64(res.Rejected))
	var seq uint64
	if len(newSer) > 0 {
		db.rec = appendSeriesRecord(db.rec[:0], newSer)
		seq = db.wal.add(db.rec)
	}
	if len(acc) > 0 {
		db.rec = appendSamplesHeader(db.rec[:0], len(acc))
		db.rec = append(db.rec, body...)
		seq = db.wal.add(db.rec)
		for _, a := range acc {
			a.s.mu.Lock()
			a.s.appendLocked(a.p)
			a.s.mu.Unlock()
		}
		db.headSamples.Add(int64(len(acc)))
		db.maxT.Store(maxT)
	}
	res.Stored = len(acc)
	clear(newSer)
	db.body, db.newSer, db.accepted = body, newSer[:0], acc[:0]
	clear(acc)
	db.appendMu.Unlock()

	if seq > 0 {
		if err := db.wal.wait(seq); err != nil {
			return model.AppendResult{}, fmt.Errorf("tsdb %s: write wal: %w", db.dir, err)
		}
	}
	if db.headSamples.Load() >= int64(db.opts.HeadMaxSamples) {
		select {
		case db.sealCh <- struct{}{}:
		default:
		}
	}
	return res, nil
}

// sameLabels is true when a and b are the same slice (the common case of a
// batch that repeats one series' labels), which skips validation and lookup.
func sameLabels(a, b model.Labels) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

func checkValue(s *model.Sample) error {
	if math.IsNaN(s.V) || math.IsInf(s.V, 0) {
		return fmt.Errorf("series %s at %d: value %v is not a finite number", s.Labels, s.T, s.V)
	}
	if s.T < model.MinTime || s.T >= model.MaxTime {
		return fmt.Errorf("series %s: timestamp %d ms is outside [1970, 2262)", s.Labels, s.T)
	}
	return nil
}

// getOrCreate finds the series of ls or creates it, recording it in newSer
// for the WAL. Caller holds appendMu.
func (db *DB) getOrCreate(ls model.Labels, newSer *[]walSeries) *memSeries {
	h := db.idx.hash(&db.hasher, ls)
	db.mu.RLock()
	s := db.idx.get(h, ls)
	db.mu.RUnlock()
	if s != nil {
		return s
	}
	own := make(model.Labels, len(ls))
	copy(own, ls)
	db.mu.Lock()
	ref := db.nextRef
	db.nextRef++
	s = db.idx.add(ref, h, own)
	db.mu.Unlock()
	*newSer = append(*newSer, walSeries{ref: ref, labels: own})
	return s
}

// replayWAL applies every WAL segment to the head, truncating damage.
func (db *DB) replayWAL() error {
	dir := filepath.Join(db.dir, walDirName)
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	var buf []walSample
	// WAL refs map to series through the series records seen so far: each
	// segment written after a restart or seal starts with all of them.
	walRefs := map[uint32]*memSeries{}
	for _, seg := range segs {
		damage, err := readSegment(dir, seg, func(rec []byte) error {
			if len(rec) == 0 {
				return nil
			}
			switch rec[0] {
			case recSeries:
				err := decodeSeriesRecord(rec, func(ref uint32, ls model.Labels) {
					if ls.Validate() != nil {
						return
					}
					walRefs[ref] = db.seriesForLoad(ls)
				})
				if err != nil {
					db.log.Warn().Err(err).Int("segment", seg).Msg("skipping undecodable wal record")
				}
				return nil
			case recSamples:
				var err error
				buf, err = decodeSamplesRecord(buf[:0], rec)
				if err != nil {
					db.log.Warn().Err(err).Int("segment", seg).Msg("skipping undecodable wal record")
					return nil
				}
				maxT := db.maxT.Load()
				for _, ws := range buf {
					s := walRefs[ws.ref]
					if s == nil {
						db.stats.ReplayDropped.Add(1)
						continue
					}
					s.appendLocked(model.Point{T: ws.t, V: ws.v, Q: ws.q})
					if ws.t > s.maxT {
						s.maxT = ws.t
					}
					if ws.t > maxT {
						maxT = ws.t
					}
				}
				db.headSamples.Add(int64(len(buf)))
				db.maxT.Store(maxT)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("replay wal segment %d: %w", seg, err)
		}
		if damage != nil {
			db.stats.WALRepairs.Add(1)
			db.log.Warn().Err(damage).Int("segment", seg).Msg("wal damaged; truncated at the last good record")
		}
	}
	return nil
}
