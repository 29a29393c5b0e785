package tsdb

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/quantrac/quantrac/model"
)

// maxHotParts is how many parts the newest partition may collect before
// the background compactor merges them.
const maxHotParts = 8

// compact drops partitions past retention and merges partitions that have
// more than one part into a single part (recomputing its rollups): all of
// them when all is set (Close), else all but the newest partition unless it
// has maxHotParts. It also rewrites a single-part partition that turned cold
// with ColdCompressLevel. It stops between partitions when ctx ends.
func (db *DB) compact(ctx context.Context, all bool) error {
	db.sealMu.Lock()
	defer db.sealMu.Unlock()
	if err := db.applyRetention(); err != nil {
		return err
	}
	ps := db.currentParts()
	defer ps.decRef()
	maxT := db.maxT.Load()
	for i, pt := range ps.partitions {
		newest := i == len(ps.partitions)-1
		cold := pt.end+db.opts.ColdAfter.Milliseconds() <= maxT
		merge := len(pt.parts) > 1 && (all || !newest || len(pt.parts) >= maxHotParts)
		recompress := len(pt.parts) == 1 && cold && pt.parts[0].level < db.opts.ColdCompressLevel
		if !merge && !recompress {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil
		}
		parts := pt.parts
		if merge && newest && !all {
			parts = hotMergeSet(parts)
		}
		if err := db.mergePartition(ctx, pt, parts); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// hotMergeSet picks the parts of the newest partition to merge: the parts
// sealed after its largest part when there are enough of them, so that the
// bulk of the partition is not rewritten on every merge; else all parts.
// The set is always a suffix in sequence order, so the merged part (with a
// new, higher sequence number) keeps last-write-wins order.
func hotMergeSet(parts []*part) []*part {
	largest := 0
	for i, p := range parts {
		if p.size > parts[largest].size {
			largest = i
		}
	}
	if len(parts)-largest-1 >= maxHotParts/2 {
		return parts[largest+1:]
	}
	return parts
}

// mergePartition rewrites parts (all of pt's parts, or a suffix of them in
// sequence order) as one part, series by series (one series' points in
// memory at a time), later parts winning on equal timestamps.
func (db *DB) mergePartition(ctx context.Context, pt *partition, parts []*part) error {
	refs := map[uint32]bool{}
	for _, p := range parts {
		for ref := range p.series {
			refs[ref] = true
		}
	}
	series := make([]*memSeries, 0, len(refs))
	for ref := range refs {
		series = append(series, db.seriesByRef(ref))
	}
	sort.Slice(series, func(i, j int) bool { return series[i].labels.Compare(series[j].labels) < 0 })
	seq := db.partSeq.Add(1)
	dir := filepath.Join(db.dir, partitionsDir, partitionDirName(pt.start))
	pw, err := newPartWriter(dir, seq, &db.opts, db.levelFor(pt.start))
	if err != nil {
		return fmt.Errorf("merge partition %s: %w", partitionDirName(pt.start), err)
	}
	var dec blockDecoder
	var acc, tmp, merged []model.Point
	written := make([]uint32, 0, len(series))
	for i, s := range series {
		if i%256 == 0 && ctx.Err() != nil {
			pw.abort()
			return ctx.Err()
		}
		acc = acc[:0]
		for _, p := range parts {
			e := p.series[s.ref]
			if e == nil {
				continue
			}
			tmp, err = p.appendPoints(&dec, tmp[:0], e, pt.start, pt.end-1)
			if err != nil {
				pw.abort()
				return fmt.Errorf("merge partition %s: %w", partitionDirName(pt.start), err)
			}
			if len(acc) == 0 {
				acc = append(acc, tmp...)
			} else {
				merged = mergePoints(merged[:0], acc, tmp)
				acc, merged = merged, acc
			}
		}
		if len(acc) > 0 {
			pw.add(s.labels, acc)
			written = append(written, s.ref)
		}
	}
	path, err := pw.finish()
	if err != nil {
		return fmt.Errorf("merge partition %s: %w", partitionDirName(pt.start), err)
	}
	np, err := openPart(path, seq, pt.start, func(i int, _ *partSeries) *memSeries {
		if i < len(written) {
			return db.seriesByRef(written[i])
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("merge partition %s: %w", partitionDirName(pt.start), err)
	}
	np.cache = db.rollCache
	if len(np.series) != len(written) {
		np.obsolete.Store(true)
		np.decRef()
		return fmt.Errorf("merge partition %s: part %s holds %d series, %d written", partitionDirName(pt.start), path, len(np.series), len(written))
	}
	drop := map[*part]bool{}
	for _, p := range parts {
		drop[p] = true
	}
	db.mu.Lock()
	cur := db.parts
	partitions := addParts(cur.partitions, []*part{np}, db.opts.PartitionDuration.Milliseconds(), drop)
	for p := range drop {
		p.obsolete.Store(true)
	}
	db.installPartsLocked(newPartSet(partitions, cur.mem))
	db.mu.Unlock()
	np.decRef()
	db.stats.Compactions.Add(1)
	db.log.Debug().Str("partition", partitionDirName(pt.start)).Int("parts", len(parts)).Msg("merged partition")
	return nil
}

// applyRetention drops partitions that end before the retention cutoff.
func (db *DB) applyRetention() error {
	if db.opts.Retention <= 0 {
		return nil
	}
	maxT := db.maxT.Load()
	cutoff := maxT - db.opts.Retention.Milliseconds()
	db.mu.Lock()
	defer db.mu.Unlock()
	cur := db.parts
	drop := map[*part]bool{}
	for _, pt := range cur.partitions {
		if pt.end <= cutoff {
			for _, p := range pt.parts {
				drop[p] = true
			}
		}
	}
	if len(drop) == 0 {
		return nil
	}
	for p := range drop {
		p.obsolete.Store(true)
	}
	db.installPartsLocked(newPartSet(addParts(cur.partitions, nil, db.opts.PartitionDuration.Milliseconds(), drop), cur.mem))
	db.log.Info().Int("parts", len(drop)).Time("cutoff", time.UnixMilli(cutoff)).Msg("dropped partitions past retention")
	return nil
}
