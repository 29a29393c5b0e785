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
	"errors"
	"fmt"
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
