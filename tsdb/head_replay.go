package tsdb

import (
	"fmt"
	"path/filepath"

	"github.com/quantrac/quantrac/model"
)

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
