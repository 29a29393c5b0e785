package tsdb

import (
	"context"
	"fmt"
	"math"

	"github.com/quantrac/quantrac/model"
)

// Append validates each sample, writes the good ones to the WAL and the
// head, and returns once they are durable under the sync policy. Bad
// samples are reported per index in the result; the rest are stored.
// When the WAL cannot be written (a full disk) the batch is not
// acknowledged: an error is returned and its samples are taken back out of
// the head. The WAL recovers by itself on a later Append once the disk
// accepts writes again; a reopened DB holds exactly the acknowledged
// batches.
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
	// Label slices seen in this batch, by the address of their first
	// label: a batch cannot change under us, so the same slice is the same
	// series. Reset per batch because callers reuse their slices.
	if db.batchSeries == nil {
		db.batchSeries = make(map[*model.Label]batchSeriesEntry)
	}
	clear(db.batchSeries)
	body := db.body[:0]
	newSer := db.newSer[:0]
	accp := acceptedPool.Get().(*[]acceptedSample)
	acc := (*accp)[:0]
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
		} else if c, ok := db.batchSeries[labelsKey(smp.Labels)]; ok && len(c.labels) == len(smp.Labels) {
			// The same label slice earlier in this batch.
			s = c.s
			if err := checkValue(smp); err != nil {
				res.Reject(i, err)
				continue
			}
			prevLabels, prevSeries = smp.Labels, s
		} else {
			// Labels equal to an existing series' were validated when it
			// was created; only new label sets need the full check.
			var err error
			if s, err = db.getOrCreate(smp.Labels, &newSer); err == nil {
				err = checkValue(smp)
			}
			if err != nil {
				res.Reject(i, err)
				continue
			}
			prevLabels, prevSeries = smp.Labels, s
			if len(smp.Labels) > 0 {
				db.batchSeries[&smp.Labels[0]] = batchSeriesEntry{labels: smp.Labels, s: s}
			}
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
	db.body, db.newSer = body, newSer[:0]
	db.inflight.RLock()
	db.appendMu.Unlock()

	var werr error
	if seq > 0 {
		werr = db.wal.wait(seq)
		if werr != nil {
			db.unapply(acc)
		}
	}
	db.inflight.RUnlock()
	clear(acc)
	*accp = acc[:0]
	acceptedPool.Put(accp)
	if werr != nil {
		return model.AppendResult{}, fmt.Errorf("tsdb %s: write wal: %w", db.dir, werr)
	}
	if db.headSamples.Load() >= int64(db.opts.HeadMaxSamples) {
		select {
		case db.sealCh <- struct{}{}:
		default:
		}
	}
	return res, nil
}

// unapply takes the points of a batch whose WAL write failed back out of the
// head: for each, the last head point equal to it is removed. A point a
// concurrent seal already moved into a memory part stays there.
func (db *DB) unapply(acc []acceptedSample) {
	var n int64
	for i := len(acc) - 1; i >= 0; i-- {
		a := &acc[i]
		a.s.mu.Lock()
		for j := len(a.s.head) - 1; j >= 0; j-- {
			if a.s.head[j] == a.p {
				a.s.head = append(a.s.head[:j], a.s.head[j+1:]...)
				n++
				break
			}
		}
		if a.s.hasLast && a.s.last == a.p && len(a.s.head) > 0 {
			// The latest value came from the failed batch: fall back to
			// the newest point left in the head (last write of a tie).
			last := a.s.head[0]
			for _, p := range a.s.head[1:] {
				if p.T >= last.T {
					last = p
				}
			}
			a.s.last = last
		}
		a.s.mu.Unlock()
	}
	db.headSamples.Add(-n)
}

type batchSeriesEntry struct {
	labels model.Labels
	s      *memSeries
}

// labelsKey is the address of the first label (nil for empty labels).
func labelsKey(ls model.Labels) *model.Label {
	if len(ls) == 0 {
		return nil
	}
	return &ls[0]
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

// getOrCreate finds the series of ls or, when ls is valid, creates it,
// recording it in newSer for the WAL. Caller holds appendMu.
func (db *DB) getOrCreate(ls model.Labels, newSer *[]walSeries) (*memSeries, error) {
	h := db.idx.hash(&db.hasher, ls)
	db.mu.RLock()
	s := db.idx.get(h, ls)
	db.mu.RUnlock()
	if s != nil {
		return s, nil
	}
	if err := ls.Validate(); err != nil {
		return nil, err
	}
	own := make(model.Labels, len(ls))
	copy(own, ls)
	db.mu.Lock()
	ref := db.nextRef
	db.nextRef++
	s = db.idx.add(ref, h, own)
	db.mu.Unlock()
	*newSer = append(*newSer, walSeries{ref: ref, labels: own})
	return s, nil
}
