// Package queue is the collector's store-and-forward disk queue.
//
// The layout follows VictoriaMetrics' persistentqueue: chunk files named by
// the global offset of their first byte, and a metainfo file with the reader
// and writer offsets written atomically. Unlike it, every frame carries a
// length, a write time and two CRC32C checksums (see frame.go), and the
// reader offset only moves when the consumer acknowledges a block, so a
// crash re-delivers rather than loses (at-least-once).
//
// Every Write reaches the operating system before it returns (so a killed
// process loses nothing it acknowledged); how often it is fsynced to the
// device is the SyncPolicy. A memory cache in front keeps the most recent
// blocks so a consumer that keeps up never reads the disk back.
//
// The queue is bounded by bytes and by age; past either bound the oldest
// blocks are dropped, logged and counted. Open repairs rather than refuses:
// a torn tail is truncated, a bad metainfo is rebuilt from the chunk files,
// frames with a bad checksum are skipped and counted.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"
)

// SyncPolicy says when written frames are fsynced.
type SyncPolicy string

// Sync policies.
const (
	// SyncAlways fsyncs before Write returns: survives power loss.
	SyncAlways SyncPolicy = "always"
	// SyncInterval fsyncs every SyncInterval: a power loss may lose that much;
	// a killed process loses nothing.
	SyncInterval SyncPolicy = "interval"
	// SyncNever leaves flushing to the operating system.
	SyncNever SyncPolicy = "never"
)

// ParseSyncPolicy checks a policy name.
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch p := SyncPolicy(s); p {
	case SyncAlways, SyncInterval, SyncNever:
		return p, nil
	case "":
		return SyncInterval, nil
	}
	return "", fmt.Errorf("unknown fsync policy %q: want always, interval or never", s)
}

// Options tune a queue. Zero fields take the value of DefaultOptions.
type Options struct {
	// ChunkSize is the size in bytes after which a new chunk file starts.
	ChunkSize int64
	// MaxBytes bounds the pending (unacknowledged) bytes; the oldest blocks
	// are dropped to make room.
	MaxBytes int64
	// MaxAge drops blocks written longer ago than this. Negative: no limit.
	MaxAge time.Duration
	// MaxBlockSize is the largest payload Write accepts.
	MaxBlockSize int
	// Sync is the fsync policy; SyncInterval is the default.
	Sync SyncPolicy
	// SyncInterval is the fsync period of SyncInterval and the housekeeping
	// period (metainfo flush, age check).
	SyncInterval time.Duration
	// MemoryBytes bounds the cache of recent blocks served without disk reads.
	MemoryBytes int64
	// Name labels the queue's metrics.
	Name string
	// Metrics receives the queue's metrics; nil creates a private set.
	Metrics *metrics.Set
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// DefaultOptions returns the defaults: 32 MiB chunks, 1 GiB and 7 days
// bound, 16 MiB blocks, fsync every second, 8 MiB memory cache.
func DefaultOptions() Options {
	return Options{
		ChunkSize:    32 << 20,
		MaxBytes:     1 << 30,
		MaxAge:       7 * 24 * time.Hour,
		MaxBlockSize: 16 << 20,
		Sync:         SyncInterval,
		SyncInterval: time.Second,
		MemoryBytes:  8 << 20,
		Name:         "default",
		Now:          time.Now,
	}
}

func (o *Options) fill() {
	d := DefaultOptions()
	if o.ChunkSize <= 0 {
		o.ChunkSize = d.ChunkSize
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.MaxAge == 0 {
		o.MaxAge = d.MaxAge
	}
	if o.MaxBlockSize <= 0 {
		o.MaxBlockSize = d.MaxBlockSize
	}
	if o.Sync == "" {
		o.Sync = d.Sync
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = d.SyncInterval
	}
	if o.MemoryBytes <= 0 {
		o.MemoryBytes = d.MemoryBytes
	}
	if o.Name == "" {
		o.Name = d.Name
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSet()
	}
}

// dropLogEvery is the least time between two "dropped" log lines.
const dropLogEvery = 10 * time.Second

// ErrClosed is returned by calls on a closed queue.
var ErrClosed = errors.New("queue closed")

// Block is one payload read from the queue.
type Block struct {
	Data []byte    // the payload; owned by the caller
	T    time.Time // when it was written
	// Offset and End are the global offsets of the frame; Ack(End)
	// acknowledges this block and every one before it.
	Offset, End int64
}

type cached struct {
	off, end int64
	t        int64
	data     []byte
}

// Queue is a disk queue with one writer side (any number of goroutines) and
// one consumer.
type Queue struct {
	dir  string
	opts Options
	log  zerolog.Logger
	lock *os.File

	mu      sync.Mutex
	closed  bool
	notify  chan struct{}
	chunks  []int64 // start offsets of chunk files, ascending
	w       *os.File
	wSize   int64 // bytes in the writer chunk
	wOff    int64 // global writer offset
	rOff    int64 // read cursor
	ackOff  int64 // acknowledged reader offset (persisted)
	rFile   *os.File
	rChunk  int64
	cache   []cached
	cacheSz int64
	dirty   bool
	unsync  bool
	buf     []byte

	dropLogged            time.Time
	dropBlocks, dropBytes int64 // dropped since the last log line

	oldestOff int64 // frame whose time is oldestT, or -1
	oldestT   int64

	stop chan struct{}
	done chan struct{}

	written, droppedBlocks, droppedBytes, corrupt, repairs *metrics.Counter
}

// Open opens or creates the queue in dir, repairing what it finds.
func Open(dir string, opts Options, log zerolog.Logger) (*Queue, error) {
	opts.fill()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("queue %s: create directory: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFilename), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("queue %s: open lock file: %w", dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("queue %s: already in use by another process: %w", dir, err)
	}
	q := &Queue{
		dir:       dir,
		opts:      opts,
		log:       log.With().Str("queue", opts.Name).Str("dir", dir).Logger(),
		lock:      lock,
		notify:    make(chan struct{}),
		rChunk:    -1,
		oldestOff: -1,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	q.registerMetrics()
	if err := q.openFiles(); err != nil {
		q.closeFiles()
		lock.Close()
		return nil, err
	}
	go q.housekeeping()
	return q, nil
}

func (q *Queue) registerMetrics() {
	s, n := q.opts.Metrics, strconv.Quote(q.opts.Name)
	q.written = s.GetOrCreateCounter(`quantrac_queue_written_blocks_total{queue=` + n + `}`)
	q.droppedBlocks = s.GetOrCreateCounter(`quantrac_queue_dropped_blocks_total{queue=` + n + `}`)
	q.droppedBytes = s.GetOrCreateCounter(`quantrac_queue_dropped_bytes_total{queue=` + n + `}`)
	q.corrupt = s.GetOrCreateCounter(`quantrac_queue_corrupt_frames_total{queue=` + n + `}`)
	q.repairs = s.GetOrCreateCounter(`quantrac_queue_repairs_total{queue=` + n + `}`)
	s.GetOrCreateGauge(`quantrac_queue_pending_bytes{queue=`+n+`}`, func() float64 { return float64(q.Stats().PendingBytes) })
	s.GetOrCreateGauge(`quantrac_queue_oldest_age_seconds{queue=`+n+`}`, func() float64 { return q.Stats().OldestAge.Seconds() })
}

// Stats is a snapshot of the queue's state.
type Stats struct {
	PendingBytes  int64         `json:"pending_bytes"`  // written but not acknowledged
	OldestAge     time.Duration `json:"oldest_age_ns"`  // age of the oldest pending block, 0 when empty
	WriterOffset  int64         `json:"writer_offset"`  // global offset of the next write
	ReaderOffset  int64         `json:"reader_offset"`  // acknowledged offset
	Chunks        int           `json:"chunks"`         // chunk files
	DroppedBlocks uint64        `json:"dropped_blocks"` // dropped by the size and age bounds
	Corrupt       uint64        `json:"corrupt_frames"` // damaged frames skipped
}

// Stats returns the queue's current state.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := Stats{
		PendingBytes:  q.pendingLocked(),
		WriterOffset:  q.wOff,
		ReaderOffset:  q.ackOff,
		Chunks:        len(q.chunks),
		DroppedBlocks: q.droppedBlocks.Get(),
		Corrupt:       q.corrupt.Get(),
	}
	if !q.closed {
		if t, ok := q.oldestTimeLocked(); ok {
			st.OldestAge = time.Duration(q.opts.Now().UnixMilli()-t) * time.Millisecond
			if st.OldestAge < 0 {
				st.OldestAge = 0
			}
		}
	}
	return st
}

func (q *Queue) pendingLocked() int64 {
	p := q.wOff - q.ackOff
	if p < 0 {
		return 0
	}
	return p
}

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
	if err := syncDir(q.dir); err != nil {
		f.Close()
		return err
	}
	q.w = f
	q.wSize = 0
	q.chunks = append(q.chunks, off)
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

func (q *Queue) writeMetainfoLocked() error {
	data, err := json.Marshal(metainfo{Name: q.opts.Name, ReaderOffset: q.ackOff, WriterOffset: q.wOff})
	if err != nil {
		return fmt.Errorf("queue %s: encode metainfo: %w", q.dir, err)
	}
	path := filepath.Join(q.dir, metainfoFilename)
	tmp := path + tmpSuffix
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("queue %s: write metainfo: %w", q.dir, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("queue %s: write metainfo: %w", q.dir, err)
	}
	q.dirty = false
	return syncDir(q.dir)
}

// Write appends one block. When it returns nil the block is in the
// operating system's page cache (and on disk under SyncAlways).
func (q *Queue) Write(data []byte) error {
	if len(data) > q.opts.MaxBlockSize {
		return fmt.Errorf("queue %s: block of %d bytes over the limit of %d", q.dir, len(data), q.opts.MaxBlockSize)
	}
	now := q.opts.Now().UnixMilli()
	size := int64(frameHeaderSize + len(data))
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	q.expireLocked(now)
	if q.pendingLocked()+size > q.opts.MaxBytes {
		q.dropLocked(size, "size limit")
	}
	if q.wSize > 0 && q.wSize+size > q.opts.ChunkSize {
		if err := q.rotateLocked(); err != nil {
			return err
		}
	}
	q.buf = appendFrame(q.buf[:0], now, data)
	n, err := q.w.Write(q.buf)
	if err != nil {
		// Never leave half a frame behind: cut back to the last whole one.
		if n > 0 {
			if terr := q.w.Truncate(q.wSize); terr != nil {
				q.log.Error().Err(terr).Msg("cannot truncate partial frame; it will be repaired at next open")
			}
		}
		return fmt.Errorf("queue %s: write chunk %s: %w", q.dir, chunkName(q.chunks[len(q.chunks)-1]), err)
	}
	if q.opts.Sync == SyncAlways {
		if err := q.w.Sync(); err != nil {
			return fmt.Errorf("queue %s: sync chunk: %w", q.dir, err)
		}
	} else {
		q.unsync = true
	}
	off := q.wOff
	q.wOff += size
	q.wSize += size
	q.dirty = true
	q.written.Inc()
	q.addCacheLocked(cached{off: off, end: q.wOff, t: now, data: append([]byte(nil), data...)})
	close(q.notify)
	q.notify = make(chan struct{})
	return nil
}

func (q *Queue) rotateLocked() error {
	if err := q.w.Sync(); err != nil {
		return fmt.Errorf("queue %s: sync chunk: %w", q.dir, err)
	}
	if err := q.w.Close(); err != nil {
		return fmt.Errorf("queue %s: close chunk: %w", q.dir, err)
	}
	q.w = nil
	return q.createChunkLocked(q.wOff)
}

func (q *Queue) addCacheLocked(c cached) {
	q.cache = append(q.cache, c)
	q.cacheSz += int64(len(c.data))
	for len(q.cache) > 0 && q.cacheSz > q.opts.MemoryBytes {
		q.cacheSz -= int64(len(q.cache[0].data))
		q.cache[0] = cached{}
		q.cache = q.cache[1:]
	}
}

func (q *Queue) trimCacheLocked() {
	i := 0
	for i < len(q.cache) && q.cache[i].end <= q.ackOff {
		q.cacheSz -= int64(len(q.cache[i].data))
		q.cache[i] = cached{}
		i++
	}
	q.cache = q.cache[i:]
}

func (q *Queue) cachedAt(off int64) (cached, bool) {
	if len(q.cache) == 0 || off < q.cache[0].off || off >= q.cache[len(q.cache)-1].end {
		return cached{}, false
	}
	i := sort.Search(len(q.cache), func(i int) bool { return q.cache[i].off >= off })
	if i < len(q.cache) && q.cache[i].off == off {
		return q.cache[i], true
	}
	return cached{}, false
}

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
