package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/atomicfile"
)

// WAL segment format (version 1):
//
//	segment  = header record*
//	header   = magic "QTWAL" (5 bytes) | version (1 byte) | 2 zero bytes
//	record   = length (uint32 LE, payload bytes) | crc (uint32 LE, CRC32C of payload) | payload
//
// Records never span segments. A torn or corrupt record ends a segment: on
// open the segment is truncated at the last good record.
const (
	walMagic         = "QTWAL"
	walVersion       = 1
	walHeaderSize    = 8
	walRecHeaderSize = 8
	// walMaxRecord bounds a record so a damaged length cannot make the
	// reader allocate gigabytes.
	walMaxRecord = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CorruptionError says where a WAL segment stops being readable.
type CorruptionError struct {
	Segment int
	Offset  int64
	Err     error
}

// Error names the segment, offset and cause.
func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal segment %d at offset %d: %v", e.Segment, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *CorruptionError) Unwrap() error { return e.Err }

var errTorn = errors.New("last record is torn")

// WALReader reads the records of one segment. It never panics on damaged
// input; Err reports why it stopped early.
type WALReader struct {
	data []byte
	off  int
	seg  int
	err  error
	rec  []byte
}

// NewWALReader reads records from the bytes of segment number seg.
func NewWALReader(seg int, data []byte) *WALReader {
	r := &WALReader{data: data, seg: seg}
	if len(data) < walHeaderSize {
		if len(data) > 0 {
			r.err = &CorruptionError{Segment: seg, Offset: 0, Err: errTorn}
		}
		r.off = len(data)
		return r
	}
	if string(data[:5]) != walMagic || data[5] != walVersion {
		r.err = &CorruptionError{Segment: seg, Offset: 0, Err: fmt.Errorf("bad segment header %X", data[:walHeaderSize])}
		r.off = len(data)
		return r
	}
	r.off = walHeaderSize
	return r
}

// Next advances to the next record; it returns false at the end or on damage.
func (r *WALReader) Next() bool {
	if r.err != nil || r.off >= len(r.data) {
		return false
	}
	rest := r.data[r.off:]
	if len(rest) < walRecHeaderSize {
		r.err = &CorruptionError{Segment: r.seg, Offset: int64(r.off), Err: errTorn}
		return false
	}
	n := binary.LittleEndian.Uint32(rest)
	crc := binary.LittleEndian.Uint32(rest[4:])
	if n == 0 && crc == 0 {
		// Zero bytes: preallocated or torn tail.
		r.err = &CorruptionError{Segment: r.seg, Offset: int64(r.off), Err: errTorn}
		return false
	}
	if n > walMaxRecord {
		r.err = &CorruptionError{Segment: r.seg, Offset: int64(r.off), Err: fmt.Errorf("record length %d too large", n)}
		return false
	}
	if uint64(len(rest)-walRecHeaderSize) < uint64(n) {
		r.err = &CorruptionError{Segment: r.seg, Offset: int64(r.off), Err: errTorn}
		return false
	}
	payload := rest[walRecHeaderSize : walRecHeaderSize+int(n)]
	if crc32.Checksum(payload, castagnoli) != crc {
		r.err = &CorruptionError{Segment: r.seg, Offset: int64(r.off), Err: fmt.Errorf("checksum mismatch in %d-byte record", n)}
		return false
	}
	r.rec = payload
	r.off += walRecHeaderSize + int(n)
	return true
}

// Record returns the current record; it is valid until the next call to Next.
func (r *WALReader) Record() []byte { return r.rec }

// Offset is the end of the last good record.
func (r *WALReader) Offset() int64 { return int64(r.off) }

// Err returns the damage that stopped the reader, nil at a clean end.
func (r *WALReader) Err() error { return r.err }

// appendWALRecord frames payload and appends it to dst.
func appendWALRecord(dst, payload []byte) []byte {
	var h [walRecHeaderSize]byte
	binary.LittleEndian.PutUint32(h[:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(payload, castagnoli))
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

func walHeader() []byte {
	h := make([]byte, walHeaderSize)
	copy(h, walMagic)
	h[5] = walVersion
	return h
}

// segmentFile is what the WAL needs of an open segment; tests inject short
// writes and failing fsyncs through openSegmentFile.
type segmentFile interface {
	io.Writer
	Sync() error
	Close() error
}

var openSegmentFile = func(path string) (segmentFile, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
}

// wal is the write side: records are buffered by appenders and written by
// whoever flushes first (group commit).
type wal struct {
	dir     string
	log     zerolog.Logger
	segSize int64
	policy  SyncPolicy

	mu      sync.Mutex // guards buf, pending
	buf     []byte
	spare   []byte
	pending uint64 // sequence number of the last buffered record

	flushMu  sync.Mutex // guards everything below; held while writing
	f        segmentFile
	seg      int
	segBytes int64
	written  uint64 // last record sequence written to the file
	synced   uint64 // last record sequence fsynced
	dirty    bool
	// goodOff is the end of the last acknowledged record in the current
	// segment (written under SyncInterval, fsynced under SyncEveryBatch):
	// everything after it may be torn or unacknowledged.
	goodOff int64
	// failed is the write or fsync error that stopped the WAL; the next
	// wait, sync or cut first recovers (see recoverLocked).
	failed error
	// lost are the sequence ranges of records dropped by failures; their
	// waiters get an error even though later flushes succeed.
	lost []seqRange
	// snapshot returns a series record of every known series; a segment
	// started after a failure begins with it, because the series records
	// of failed batches were dropped while their series stay in memory.
	snapshot func() []byte
}

// seqRange is an inclusive range of record sequence numbers.
type seqRange struct{ from, to uint64 }

func walSegmentPath(dir string, seg int) string {
	return filepath.Join(dir, fmt.Sprintf(segmentNameFmt, seg))
}

// listSegments returns the numbers of the segment files in dir, ascending.
func listSegments(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list wal dir %s: %w", dir, err)
	}
	var segs []int
	for _, e := range ents {
		if e.IsDir() || len(e.Name()) != 8 {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 0 {
			continue
		}
		segs = append(segs, n)
	}
	sort.Ints(segs)
	return segs, nil
}

// openWAL starts a new segment after the last existing one. Existing
// segments must have been replayed (and repaired) before.
func openWAL(dir string, opts *Options, firstPayload []byte) (*wal, error) {
	w := &wal{dir: dir, log: opts.Logger, segSize: opts.WALSegmentSize, policy: opts.Sync}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	next := 0
	if len(segs) > 0 {
		next = segs[len(segs)-1] + 1
	}
	if err := w.createSegment(next, firstPayload); err != nil {
		return nil, err
	}
	return w, nil
}

// createSegment opens segment n, writes its header and an optional first
// record, and fsyncs file and directory. Caller holds flushMu (or is Open).
func (w *wal) createSegment(n int, firstPayload []byte) error {
	p := walSegmentPath(w.dir, n)
	f, err := openSegmentFile(p)
	if err != nil {
		return fmt.Errorf("create wal segment %s: %w", p, err)
	}
	ok := false
	defer func() {
		if !ok {
			// Nothing in a segment that failed to start was acknowledged;
			// removing it lets a later attempt create it again.
			_ = os.Remove(p)
		}
	}()
	b := walHeader()
	if firstPayload != nil {
		b = appendWALRecord(b, firstPayload)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write wal segment %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync wal segment %s: %w", p, err)
	}
	if err := atomicfile.SyncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	if w.f != nil {
		if err := w.f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("sync wal segment %d: %w", w.seg, err)
		}
		if err := w.f.Close(); err != nil {
			f.Close()
			return fmt.Errorf("close wal segment %d: %w", w.seg, err)
		}
	}
	ok = true
	w.f = f
	w.seg = n
	w.segBytes = int64(len(b))
	w.goodOff = w.segBytes
	return nil
}

// add buffers one record and returns its sequence number. The caller must
// then call wait(seq) to make it durable under the sync policy.
func (w *wal) add(payload []byte) uint64 {
	w.mu.Lock()
	w.buf = appendWALRecord(w.buf, payload)
	w.pending++
	seq := w.pending
	w.mu.Unlock()
	return seq
}

// errRecordLost is returned to the waiters of records that a WAL failure
// dropped before they were durable.
var errRecordLost = errors.New("record dropped by an earlier wal write failure")

// wait returns once record seq is written (and fsynced under SyncEveryBatch).
// A record dropped by a write or fsync failure returns an error, also when
// the WAL has recovered since.
func (w *wal) wait(seq uint64) error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	if err := w.lostErr(seq); err != nil {
		return err
	}
	if done := w.ackedLocked(); done >= seq {
		return nil
	}
	if err := w.recoverLocked(); err != nil {
		return err
	}
	if err := w.lostErr(seq); err != nil {
		return err
	}
	if err := w.flushLocked(w.policy == SyncEveryBatch); err != nil {
		w.failLocked(err)
		return err
	}
	return nil
}

// lostErr reports whether record seq was dropped by a failure.
func (w *wal) lostErr(seq uint64) error {
	for i := len(w.lost) - 1; i >= 0; i-- {
		r := w.lost[i]
		if seq > r.to {
			return nil
		}
		if seq >= r.from {
			if w.failed != nil {
				return fmt.Errorf("%w: %w", errRecordLost, w.failed)
			}
			return errRecordLost
		}
	}
	return nil
}

// ackedLocked is the last acknowledged record sequence.
func (w *wal) ackedLocked() uint64 {
	if w.policy == SyncEveryBatch {
		return w.synced
	}
	return w.written
}

// failLocked records a write or fsync failure: every record not yet
// acknowledged, including those still buffered, is dropped and its waiters
// get an error; the next wait, sync or cut tries to recover.
func (w *wal) failLocked(err error) {
	w.mu.Lock()
	upto := w.pending
	w.buf = w.buf[:0]
	w.mu.Unlock()
	if acked := w.ackedLocked(); upto > acked {
		w.lost = append(w.lost, seqRange{from: acked + 1, to: upto})
	}
	w.written, w.synced = upto, upto
	w.failed = err
	w.log.Error().Err(err).Int("segment", w.seg).Msg("wal write failed; unacknowledged records dropped")
}

// recoverLocked clears a past failure: the current segment is cut back to
// the end of its last acknowledged record (removing torn or unacknowledged
// bytes) and fsynced, and a new segment is started with every series'
// labels. When any step fails the WAL stays failed and the next call
// retries; records buffered meanwhile are dropped with an error.
func (w *wal) recoverLocked() error {
	if w.failed == nil {
		return nil
	}
	p := walSegmentPath(w.dir, w.seg)
	err := os.Truncate(p, w.goodOff)
	if err != nil {
		err = fmt.Errorf("truncate wal segment %s at %d: %w", p, w.goodOff, err)
	} else {
		var first []byte
		if w.snapshot != nil {
			first = w.snapshot()
		}
		err = w.createSegment(w.seg+1, first)
	}
	if err != nil {
		w.failLocked(fmt.Errorf("recover from %v: %w", w.failed, err))
		return w.failed
	}
	w.log.Info().Int("segment", w.seg).Msg("wal recovered from a write failure")
	w.failed = nil
	w.dirty = false
	return nil
}

// flushLocked writes the buffered records and optionally fsyncs.
func (w *wal) flushLocked(sync bool) error {
	w.mu.Lock()
	buf := w.buf
	upto := w.pending
	// The spare buffer becomes the append buffer; buf comes back as the
	// spare only after a successful write, so a failed flush never leaves
	// both sharing one array.
	w.buf = w.spare[:0]
	w.spare = nil
	w.mu.Unlock()
	if len(buf) > 0 {
		if w.segBytes > walHeaderSize && w.segBytes+int64(len(buf)) > w.segSize {
			if err := w.createSegment(w.seg+1, nil); err != nil {
				return err
			}
		}
		if _, err := w.f.Write(buf); err != nil {
			return fmt.Errorf("write wal segment %d: %w", w.seg, err)
		}
		w.segBytes += int64(len(buf))
		w.dirty = true
	}
	w.written = upto
	w.spare = buf[:0]
	if w.policy != SyncEveryBatch {
		w.goodOff = w.segBytes
	}
	if sync && w.dirty {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("sync wal segment %d: %w", w.seg, err)
		}
		w.dirty = false
	}
	if sync {
		w.synced = upto
		w.goodOff = w.segBytes
	}
	return nil
}

// sync flushes and fsyncs everything buffered (the SyncInterval ticker).
func (w *wal) sync() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	if err := w.recoverLocked(); err != nil {
		return err
	}
	if err := w.flushLocked(true); err != nil {
		w.failLocked(err)
		return err
	}
	return nil
}

// cut flushes and fsyncs the current segment, starts a new one whose first
// record is firstPayload, and returns the number of the last old segment.
func (w *wal) cut(firstPayload []byte) (int, error) {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	if err := w.recoverLocked(); err != nil {
		return 0, err
	}
	if err := w.flushLocked(true); err != nil {
		w.failLocked(err)
		return 0, err
	}
	old := w.seg
	if err := w.createSegment(old+1, firstPayload); err != nil {
		// The old segment is intact and fsynced and stays current; the
		// failed new one was removed, so the next cut simply retries.
		return 0, err
	}
	return old, nil
}

// removeUpTo deletes segments numbered <= last.
func (w *wal) removeUpTo(last int) error {
	segs, err := listSegments(w.dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if s > last {
			break
		}
		if err := os.Remove(walSegmentPath(w.dir, s)); err != nil {
			return fmt.Errorf("remove wal segment %d: %w", s, err)
		}
	}
	return atomicfile.SyncDir(w.dir)
}

func (w *wal) close() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	err := w.recoverLocked()
	if err == nil {
		if err = w.flushLocked(true); err != nil {
			w.failLocked(err)
		}
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close wal segment %d: %w", w.seg, cerr)
	}
	return err
}

// readSegment loads segment seg, truncating the file at the first damaged
// record. It calls fn for every good record and returns the damage found.
func readSegment(dir string, seg int, fn func(rec []byte) error) (damage error, err error) {
	p := walSegmentPath(dir, seg)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read wal segment %s: %w", p, err)
	}
	r := NewWALReader(seg, data)
	for r.Next() {
		if err := fn(r.Record()); err != nil {
			return nil, err
		}
	}
	if r.Err() == nil {
		return nil, nil
	}
	off := r.Offset()
	if off < walHeaderSize {
		// Not even a header: rewrite an empty segment.
		if err := os.WriteFile(p, walHeader(), 0o644); err != nil {
			return r.Err(), fmt.Errorf("rewrite wal segment %s: %w", p, err)
		}
		return r.Err(), nil
	}
	if err := os.Truncate(p, off); err != nil {
		return r.Err(), fmt.Errorf("truncate wal segment %s at %d: %w", p, off, err)
	}
	return r.Err(), nil
}
