package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/quantrac/quantrac/atomicfile"
)

func chunkName(off int64) string { return fmt.Sprintf("%016x", off) }

func (q *Queue) chunkPath(off int64) string { return filepath.Join(q.dir, chunkName(off)) }

type metainfo struct {
	Name         string `json:"name"`
	ReaderOffset int64  `json:"reader_offset"`
	WriterOffset int64  `json:"writer_offset"`
}

// openFiles lists chunks, reads metainfo, repairs the writer chunk's tail
// and fixes offsets that do not fit the files.
func (q *Queue) openFiles() error {
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("queue %s: list: %w", q.dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == metainfoFilename || name == lockFilename:
			continue
		case filepath.Ext(name) == tmpSuffix:
			q.log.Warn().Str("file", name).Msg("removing unfinished temporary file")
			os.Remove(filepath.Join(q.dir, name))
			continue
		}
		off, err := strconv.ParseUint(name, 16, 63)
		if len(name) != chunkNameLen || err != nil || e.IsDir() {
			q.log.Warn().Str("file", name).Msg("ignoring file that is not a queue chunk")
			continue
		}
		q.chunks = append(q.chunks, int64(off))
	}
	sort.Slice(q.chunks, func(i, j int) bool { return q.chunks[i] < q.chunks[j] })

	var mi metainfo
	metaOK := false
	data, err := os.ReadFile(filepath.Join(q.dir, metainfoFilename))
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &mi); err != nil {
			q.log.Error().Err(err).Msg("metainfo unreadable; re-reading every chunk from the start (blocks may be sent twice)")
			q.repairs.Inc()
		} else if mi.ReaderOffset < 0 || mi.WriterOffset < 0 || mi.ReaderOffset > mi.WriterOffset {
			q.log.Error().Int64("reader_offset", mi.ReaderOffset).Int64("writer_offset", mi.WriterOffset).
				Msg("metainfo offsets inconsistent; re-reading every chunk from the start (blocks may be sent twice)")
			q.repairs.Inc()
			mi = metainfo{}
		} else {
			metaOK = true
		}
	case errors.Is(err, os.ErrNotExist):
		if len(q.chunks) > 0 {
			q.log.Warn().Msg("metainfo missing; re-reading every chunk from the start")
			q.repairs.Inc()
		}
	default:
		return fmt.Errorf("queue %s: read metainfo: %w", q.dir, err)
	}

	if len(q.chunks) == 0 {
		// Start where the metainfo says, so offsets never go back.
		q.wOff = mi.WriterOffset
		q.ackOff = q.wOff
		if err := q.createChunkLocked(q.wOff); err != nil {
			return err
		}
	} else {
		last := q.chunks[len(q.chunks)-1]
		valid, err := q.repairTail(last)
		if err != nil {
			return err
		}
		q.wOff = last + valid
		q.wSize = valid
		f, err := os.OpenFile(q.chunkPath(last), os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("queue %s: open chunk %s: %w", q.dir, chunkName(last), err)
		}
		q.w = f
		first := q.chunks[0]
		switch {
		case !metaOK:
			q.ackOff = first
		case mi.ReaderOffset > q.wOff:
			// The tail holding acknowledged blocks was torn: nothing pending.
			q.log.Warn().Int64("reader_offset", mi.ReaderOffset).Int64("writer_offset", q.wOff).
				Msg("reader offset beyond the repaired end; queue starts empty")
			q.ackOff = q.wOff
		case mi.ReaderOffset < first:
			q.ackOff = first
		default:
			q.ackOff = mi.ReaderOffset
		}
	}
	q.rOff = q.ackOff
	q.removeConsumedChunksLocked()
	if err := q.writeMetainfoLocked(); err != nil {
		return err
	}
	q.log.Info().Int64("reader_offset", q.ackOff).Int64("writer_offset", q.wOff).
		Int("chunks", len(q.chunks)).Int64("pending_bytes", q.pendingLocked()).Msg("queue opened")
	return nil
}

// repairTail scans the chunk at off and truncates it after its last whole,
// checksummed frame; it returns the valid length.
func (q *Queue) repairTail(off int64) (int64, error) {
	path := q.chunkPath(off)
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return 0, fmt.Errorf("queue %s: open chunk %s: %w", q.dir, chunkName(off), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("queue %s: stat chunk %s: %w", q.dir, chunkName(off), err)
	}
	size := fi.Size()
	var pos int64
	hdr := make([]byte, frameHeaderSize)
	var payload []byte
	reason := ""
	for pos < size {
		if size-pos < frameHeaderSize {
			reason = "partial frame header"
			break
		}
		if _, err := f.ReadAt(hdr, pos); err != nil {
			return 0, fmt.Errorf("queue %s: read chunk %s at %d: %w", q.dir, chunkName(off), pos, err)
		}
		h, ok := parseFrameHeader(hdr)
		if !ok {
			reason = "bad frame header checksum"
			break
		}
		if h.size > int64(q.opts.MaxBlockSize) {
			reason = fmt.Sprintf("frame length %d over the limit", h.size)
			break
		}
		end := pos + frameHeaderSize + h.size
		if end > size {
			reason = "partial frame payload"
			break
		}
		if end == size {
			// The last frame must be whole: a bad payload here is a torn write.
			if cap(payload) < int(h.size) {
				payload = make([]byte, h.size)
			}
			payload = payload[:h.size]
			if _, err := f.ReadAt(payload, pos+frameHeaderSize); err != nil {
				return 0, fmt.Errorf("queue %s: read chunk %s at %d: %w", q.dir, chunkName(off), pos, err)
			}
			if !h.payloadOK(payload) {
				reason = "bad payload checksum in the last frame"
				break
			}
		}
		pos = end
	}
	if pos < size {
		q.log.Warn().Str("chunk", chunkName(off)).Int64("offset", pos).Int64("bytes", size-pos).Str("reason", reason).
			Msg("truncating torn tail of the queue")
		q.repairs.Inc()
		if err := f.Truncate(pos); err != nil {
			return 0, fmt.Errorf("queue %s: truncate chunk %s at %d: %w", q.dir, chunkName(off), pos, err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("queue %s: sync chunk %s: %w", q.dir, chunkName(off), err)
		}
	}
	return pos, nil
}

func (q *Queue) createChunkLocked(off int64) error {
	f, err := os.OpenFile(q.chunkPath(off), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("queue %s: create chunk %s: %w", q.dir, chunkName(off), err)
	}
	if err := atomicfile.SyncDir(q.dir); err != nil {
		f.Close()
		return err
	}
	q.w = f
	q.wSize = 0
	q.chunks = append(q.chunks, off)
	return nil
}

func (q *Queue) writeMetainfoLocked() error {
	data, err := json.Marshal(metainfo{Name: q.opts.Name, ReaderOffset: q.ackOff, WriterOffset: q.wOff})
	if err != nil {
		return fmt.Errorf("queue %s: encode metainfo: %w", q.dir, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(q.dir, metainfoFilename), data, 0o644); err != nil {
		return fmt.Errorf("queue %s: write metainfo: %w", q.dir, err)
	}
	q.dirty = false
	return nil
}
