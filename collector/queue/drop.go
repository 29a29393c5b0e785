package queue

import (
	"errors"
	"os"
	"time"
)

// dropLocked drops the oldest blocks until size more bytes fit.
func (q *Queue) dropLocked(size int64, why string) {
	var blocks, bytes int64
	start := q.ackOff
	for q.pendingLocked() > 0 && q.pendingLocked()+size > q.opts.MaxBytes {
		c, ok, err := q.readAtLocked(q.ackOff)
		if err != nil || !ok {
			break
		}
		blocks++
		bytes += c.end - q.ackOff
		q.ackOff = c.end
	}
	q.afterDropLocked(start, blocks, bytes, why)
}

// expireLocked drops blocks older than MaxAge.
func (q *Queue) expireLocked(now int64) {
	if q.opts.MaxAge < 0 {
		return
	}
	limit := now - q.opts.MaxAge.Milliseconds()
	if t, ok := q.oldestTimeLocked(); !ok || t >= limit {
		return // the common case: one cached comparison per write
	}
	var blocks, bytes int64
	start := q.ackOff
	for q.ackOff < q.wOff {
		c, ok, err := q.readAtLocked(q.ackOff)
		if err != nil || !ok || c.t >= limit {
			break
		}
		blocks++
		bytes += c.end - q.ackOff
		q.ackOff = c.end
	}
	q.afterDropLocked(start, blocks, bytes, "age limit")
}

func (q *Queue) afterDropLocked(_, blocks, bytes int64, why string) {
	if blocks == 0 {
		return
	}
	q.droppedBlocks.Add(int(blocks))
	q.droppedBytes.Add(int(bytes))
	if q.rOff < q.ackOff {
		q.rOff = q.ackOff
	}
	q.dirty = true
	// One line per dropLogEvery, with what was dropped since the last one.
	q.dropBlocks += blocks
	q.dropBytes += bytes
	if now := time.Now(); now.Sub(q.dropLogged) >= dropLogEvery {
		q.log.Warn().Str("reason", why).Int64("dropped_blocks", q.dropBlocks).Int64("dropped_bytes", q.dropBytes).
			Int64("to_offset", q.ackOff).Uint64("dropped_blocks_total", q.droppedBlocks.Get()).
			Msg("queue full: dropped the oldest blocks")
		q.dropLogged, q.dropBlocks, q.dropBytes = now, 0, 0
	}
	q.trimCacheLocked()
	q.removeConsumedChunksLocked()
}

// removeConsumedChunksLocked deletes chunk files entirely before ackOff.
func (q *Queue) removeConsumedChunksLocked() {
	n := 0
	for n+1 < len(q.chunks) && q.chunks[n+1] <= q.ackOff {
		n++
	}
	if n == 0 {
		return
	}
	// Persist the reader offset first so it never points into a removed chunk.
	if err := q.writeMetainfoLocked(); err != nil {
		q.log.Error().Err(err).Msg("cannot write metainfo; keeping consumed chunks")
		return
	}
	for _, off := range q.chunks[:n] {
		if q.rChunk == off && q.rFile != nil {
			q.rFile.Close()
			q.rFile, q.rChunk = nil, -1
		}
		if err := os.Remove(q.chunkPath(off)); err != nil && !errors.Is(err, os.ErrNotExist) {
			q.log.Error().Err(err).Str("chunk", chunkName(off)).Msg("cannot remove consumed chunk")
		}
	}
	q.chunks = append(q.chunks[:0], q.chunks[n:]...)
	q.oldestOff = -1
}
