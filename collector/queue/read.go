package queue

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// readAtLocked reads the frame at off or, when off is at the end of a chunk
// or in a damaged part, the next readable one. ok is false when there is
// nothing to read before the writer offset.
func (q *Queue) readAtLocked(off int64) (c cached, ok bool, err error) {
	hdr := make([]byte, frameHeaderSize)
	for off < q.wOff {
		if c, ok := q.cachedAt(off); ok {
			return c, true, nil
		}
		ci := sort.Search(len(q.chunks), func(i int) bool { return q.chunks[i] > off }) - 1
		if ci < 0 {
			off = q.chunks[0]
			continue
		}
		start := q.chunks[ci]
		next := q.wOff
		isWriter := ci == len(q.chunks)-1
		if !isWriter {
			next = q.chunks[ci+1]
		}
		if q.rChunk != start {
			if q.rFile != nil {
				q.rFile.Close()
				q.rFile = nil
			}
			f, err := os.Open(q.chunkPath(start))
			if err != nil {
				return c, false, fmt.Errorf("queue %s: open chunk %s: %w", q.dir, chunkName(start), err)
			}
			q.rFile, q.rChunk = f, start
		}
		pos := off - start
		n, err := q.rFile.ReadAt(hdr, pos)
		if n < frameHeaderSize {
			if err != nil && err != io.EOF {
				return c, false, fmt.Errorf("queue %s: read chunk %s at %d: %w", q.dir, chunkName(start), pos, err)
			}
			if !isWriter {
				off = next // end of this chunk
				continue
			}
			q.skipCorruptLocked(start, off, q.wOff, "writer chunk shorter than its offset")
			off = q.wOff
			continue
		}
		h, hok := parseFrameHeader(hdr)
		if !hok || h.size > int64(q.opts.MaxBlockSize) || off+frameHeaderSize+h.size > next {
			q.skipCorruptLocked(start, off, next, "bad frame header")
			off = next
			continue
		}
		data := make([]byte, h.size)
		if _, err := q.rFile.ReadAt(data, pos+frameHeaderSize); err != nil {
			if err == io.EOF {
				q.skipCorruptLocked(start, off, next, "chunk ends inside a frame")
				off = next
				continue
			}
			return c, false, fmt.Errorf("queue %s: read chunk %s at %d: %w", q.dir, chunkName(start), pos, err)
		}
		end := off + frameHeaderSize + h.size
		if !h.payloadOK(data) {
			q.skipCorruptLocked(start, off, end, "bad payload checksum")
			off = end
			continue
		}
		return cached{off: off, end: end, t: h.t, data: data}, true, nil
	}
	return c, false, nil
}

func (q *Queue) skipCorruptLocked(chunk, from, to int64, why string) {
	q.corrupt.Inc()
	q.log.Error().Str("chunk", chunkName(chunk)).Int64("offset", from).Int64("skipped_bytes", to-from).Str("reason", why).
		Msg("skipping damaged part of the queue")
	if q.ackOff >= from && q.ackOff < to {
		q.ackOff = to
		q.dirty = true
	}
	if q.rOff >= from && q.rOff < to {
		q.rOff = to
	}
}

func (q *Queue) oldestTimeLocked() (int64, bool) {
	if q.ackOff >= q.wOff {
		return 0, false
	}
	if q.oldestOff == q.ackOff {
		return q.oldestT, true
	}
	c, ok, err := q.readAtLocked(q.ackOff)
	if err != nil || !ok {
		return 0, false
	}
	q.oldestOff, q.oldestT = c.off, c.t
	return c.t, true
}

// Next returns the next unread block, waiting for one until ctx ends.
func (q *Queue) Next(ctx context.Context) (Block, error) {
	for {
		b, ok, ch, err := q.tryNext()
		if err != nil || ok {
			return b, err
		}
		select {
		case <-ctx.Done():
			return Block{}, ctx.Err()
		case <-ch:
		}
	}
}

// TryNext returns the next unread block if there is one, without waiting.
func (q *Queue) TryNext() (Block, bool, error) {
	b, ok, _, err := q.tryNext()
	return b, ok, err
}

func (q *Queue) tryNext() (Block, bool, chan struct{}, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return Block{}, false, nil, ErrClosed
	}
	if q.rOff < q.ackOff {
		q.rOff = q.ackOff
	}
	c, ok, err := q.readAtLocked(q.rOff)
	if err != nil {
		return Block{}, false, nil, err
	}
	if !ok {
		if q.rOff < q.wOff {
			q.rOff = q.wOff
		}
		return Block{}, false, q.notify, nil
	}
	q.rOff = c.end
	return Block{Data: c.data, T: time.UnixMilli(c.t), Offset: c.off, End: c.end}, true, nil, nil
}

// Ack acknowledges every block up to the global offset end (a Block.End):
// they will not be read again, even after a restart.
func (q *Queue) Ack(end int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || end <= q.ackOff || end > q.wOff {
		return
	}
	q.ackOff = end
	q.dirty = true
	q.trimCacheLocked()
	q.removeConsumedChunksLocked()
}

// Rewind moves the read cursor back to the acknowledged offset, so blocks
// read but not acknowledged are read again.
func (q *Queue) Rewind() {
	q.mu.Lock()
	q.rOff = q.ackOff
	q.mu.Unlock()
}

// Flush fsyncs the writer chunk and persists the offsets.
func (q *Queue) Flush() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	return q.flushLocked()
}

func (q *Queue) flushLocked() error {
	if q.unsync && q.w != nil {
		if err := q.w.Sync(); err != nil {
			return fmt.Errorf("queue %s: sync chunk: %w", q.dir, err)
		}
		q.unsync = false
	}
	if q.dirty {
		return q.writeMetainfoLocked()
	}
	return nil
}

func (q *Queue) housekeeping() {
	defer close(q.done)
	t := time.NewTicker(q.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
		}
		q.mu.Lock()
		if !q.closed {
			q.expireLocked(q.opts.Now().UnixMilli())
			if q.opts.Sync == SyncNever {
				q.unsync = false
			}
			if err := q.flushLocked(); err != nil {
				q.log.Error().Err(err).Msg("queue flush failed")
			}
		}
		q.mu.Unlock()
	}
}

// Close flushes and closes the queue; pending blocks stay on disk.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	err := q.flushLocked()
	q.closed = true
	close(q.notify)
	q.mu.Unlock()
	close(q.stop)
	<-q.done
	q.mu.Lock()
	q.closeFiles()
	q.mu.Unlock()
	q.lock.Close()
	return err
}

func (q *Queue) closeFiles() {
	if q.w != nil {
		q.w.Close()
		q.w = nil
	}
	if q.rFile != nil {
		q.rFile.Close()
		q.rFile = nil
	}
}
