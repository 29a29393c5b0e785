package queue

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

func payload(i int) []byte {
	return []byte(fmt.Sprintf("block-%05d-%s", i, bytes.Repeat([]byte{'x'}, i%17)))
}

func smallOpts() Options {
	return Options{ChunkSize: 300, MaxBlockSize: 1024, Sync: SyncNever, SyncInterval: time.Hour}
}

func mustOpen(t *testing.T, dir string, opts Options) *Queue {
	t.Helper()
	q, err := Open(dir, opts, testLogger(t))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return q
}

func writeN(t *testing.T, q *Queue, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := q.Write(payload(i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

// readAll reads every block available now, acknowledging when ack is set.
func readAll(t *testing.T, q *Queue, ack bool) []string {
	t.Helper()
	var out []string
	for {
		b, ok, err := q.TryNext()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if !ok {
			return out
		}
		out = append(out, string(b.Data))
		if ack {
			q.Ack(b.End)
		}
	}
}

func want(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, string(payload(i)))
	}
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d blocks, want %d\ngot:  %q\nwant: %q", what, len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: block %d = %q, want %q", what, i, got[i], want[i])
		}
	}
}

func TestQueueRoundTrip(t *testing.T) {
	dir := t.TempDir()
	q := mustOpen(t, dir, smallOpts())
	writeN(t, q, 0, 50)
	if st := q.Stats(); st.Chunks < 3 {
		t.Fatalf("want several chunks, got %d", st.Chunks)
	}
	equal(t, "first read", readAll(t, q, false), want(0, 50))
	q.Rewind()
	got := readAll(t, q, false)
	equal(t, "after rewind", got, want(0, 50))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	// Nothing was acknowledged: everything comes back after reopen.
	q = mustOpen(t, dir, smallOpts())
	var ackEnd int64
	for i := 0; i < 20; i++ {
		b, err := q.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if string(b.Data) != string(payload(i)) {
			t.Fatalf("block %d = %q", i, b.Data)
		}
		ackEnd = b.End
	}
	q.Ack(ackEnd)
	q.Close()

	q = mustOpen(t, dir, smallOpts())
	writeN(t, q, 50, 60)
	equal(t, "after ack and reopen", readAll(t, q, true), want(20, 60))
	if st := q.Stats(); st.PendingBytes != 0 || st.Chunks != 1 {
		t.Fatalf("after acking all: %+v", st)
	}
	q.Close()
}

func TestQueueNextWaits(t *testing.T) {
	q := mustOpen(t, t.TempDir(), smallOpts())
	defer q.Close()
	got := make(chan string)
	go func() {
		b, err := q.Next(context.Background())
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(b.Data)
	}()
	writeN(t, q, 7, 8)
	if s := <-got; s != string(payload(7)) {
		t.Fatalf("got %q", s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Next(ctx); err != context.Canceled {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func chunkFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "????????????????"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

// frameEnds returns the end offsets (within the file) of the frames of a chunk.
func frameEnds(t *testing.T, path string) []int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ends []int64
	var pos int64
	for pos < int64(len(data)) {
		h, ok := parseFrameHeader(data[pos:])
		if !ok {
			t.Fatalf("bad header at %d", pos)
		}
		pos += frameHeaderSize + h.size
		ends = append(ends, pos)
	}
	return ends
}

// TestQueueTornTail cuts the last chunk at every offset: open keeps every
// whole frame before the cut, drops the torn one, and the queue works after.
func TestQueueTornTail(t *testing.T) {
	src := t.TempDir()
	q := mustOpen(t, src, smallOpts())
	writeN(t, q, 0, 30)
	q.Close()
	chunks := chunkFiles(t, src)
	last := filepath.Base(chunks[len(chunks)-1])
	ends := frameEnds(t, chunks[len(chunks)-1])
	before := 30 - len(ends) // blocks in earlier chunks
	size := ends[len(ends)-1]
	for cut := int64(0); cut < size; cut++ {
		dir := t.TempDir()
		copyDir(t, src, dir)
		if err := os.Truncate(filepath.Join(dir, last), cut); err != nil {
			t.Fatal(err)
		}
		whole := 0
		for whole < len(ends) && ends[whole] <= cut {
			whole++
		}
		q := mustOpen(t, dir, smallOpts())
		got := readAll(t, q, false)
		equal(t, fmt.Sprintf("cut at %d", cut), got, want(0, before+whole))
		if st := q.Stats(); st.Corrupt != 0 {
			t.Fatalf("cut at %d: %d corrupt frames reported after repair", cut, st.Corrupt)
		}
		writeN(t, q, 100, 101)
		q.Close()
		q = mustOpen(t, dir, smallOpts())
		equal(t, fmt.Sprintf("cut at %d, reopened", cut), readAll(t, q, true), append(want(0, before+whole), want(100, 101)...))
		q.Close()
	}
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// TestQueueDamage flips single bytes: a bad payload checksum costs exactly
// that block, a bad header costs the rest of its chunk; nothing damaged is
// ever returned and the damage is counted.
func TestQueueDamage(t *testing.T) {
	// Write until the writer chunk holds at least three frames.
	var src string
	var chunks []string
	total := 30
	for n := 30; ; n++ {
		src = t.TempDir()
		q := mustOpen(t, src, smallOpts())
		writeN(t, q, 0, n)
		q.Close()
		chunks = chunkFiles(t, src)
		if len(frameEnds(t, chunks[len(chunks)-1])) >= 3 {
			total = n
			break
		}
		if n > 40 {
			t.Fatal("no layout with three frames in the writer chunk")
		}
	}
	first := frameEnds(t, chunks[0])
	lastEnds := frameEnds(t, chunks[len(chunks)-1])
	nLast := len(lastEnds)

	without := func(drop ...int) []string {
		var out []string
	next:
		for i := 0; i < total; i++ {
			for _, d := range drop {
				if i == d {
					continue next
				}
			}
			out = append(out, string(payload(i)))
		}
		return out
	}
	rangeOf := func(from, to int) []int {
		var r []int
		for i := from; i < to; i++ {
			r = append(r, i)
		}
		return r
	}
	cases := []struct {
		name    string
		chunk   int   // index into chunks; -1 is the last
		at      int64 // byte offset within the chunk
		want    []string
		corrupt uint64
	}{
		{"payload_crc_first_chunk", 0, first[0] + 16, without(1), 1},
		{"payload_byte_first_chunk", 0, first[0] + frameHeaderSize + 3, without(1), 1},
		{"header_length_first_chunk", 0, first[0], without(rangeOf(1, len(first))...), 1},
		{"header_crc_first_chunk", 0, first[0] + 12, without(rangeOf(1, len(first))...), 1},
		{"payload_crc_last_chunk_middle", -1, lastEnds[0] + 16, without(total - nLast + 1), 1},
		// Damage in the writer chunk found at open is repaired by truncation.
		{"header_last_chunk", -1, lastEnds[0] + 2, without(rangeOf(total-nLast+1, total)...), 0},
		{"payload_last_frame", -1, lastEnds[nLast-1] - 1, without(total - 1), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, src, dir)
			path := filepath.Join(dir, filepath.Base(chunks[0]))
			if tc.chunk == -1 {
				path = filepath.Join(dir, filepath.Base(chunks[len(chunks)-1]))
			}
			flipByte(t, path, tc.at)
			q := mustOpen(t, dir, smallOpts())
			defer q.Close()
			equal(t, tc.name, readAll(t, q, true), tc.want)
			if got := q.Stats().Corrupt; got != tc.corrupt {
				t.Fatalf("corrupt frames counted: got %d, want %d", got, tc.corrupt)
			}
			writeN(t, q, 200, 201)
			equal(t, "write after damage", readAll(t, q, true), want(200, 201))
		})
	}
}

func TestQueueOpen(t *testing.T) {
	fill := func(t *testing.T, dir string, ackBlocks int) {
		q := mustOpen(t, dir, smallOpts())
		writeN(t, q, 0, 20)
		var end int64
		for i := 0; i < ackBlocks; i++ {
			b, _, _ := q.TryNext()
			end = b.End
		}
		q.Ack(end)
		q.Close()
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   []string
	}{
		{"clean", func(t *testing.T, dir string) {}, want(5, 20)},
		{"invalid-metainfo", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, metainfoFilename), []byte("{not json"), 0o644)
		}, nil}, // re-reads from the first chunk still on disk
		{"missing-metainfo", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, metainfoFilename))
		}, nil},
		{"reader-after-writer", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, metainfoFilename), []byte(`{"reader_offset":99999,"writer_offset":10}`), 0o644)
		}, nil},
		{"reader-beyond-torn-tail", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, metainfoFilename), []byte(`{"reader_offset":99999,"writer_offset":99999}`), 0o644)
		}, []string{}},
		{"junk-and-tmp-files", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "junk"), []byte("x"), 0o644)
			os.WriteFile(filepath.Join(dir, metainfoFilename+tmpSuffix), []byte("x"), 0o644)
		}, want(5, 20)},
		{"empty-dir-with-metainfo", func(t *testing.T, dir string) {
			for _, c := range chunkFiles(t, dir) {
				os.Remove(c)
			}
		}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, 5)
			tc.damage(t, dir)
			q := mustOpen(t, dir, smallOpts())
			defer q.Close()
			got := readAll(t, q, true)
			if tc.want == nil {
				// At-least-once: a suffix of everything, never a gap.
				all := want(0, 20)
				if len(got) < 15 {
					t.Fatalf("lost blocks: got %d, want at least 15", len(got))
				}
				equal(t, tc.name, got, all[20-len(got):])
			} else {
				equal(t, tc.name, got, tc.want)
			}
			writeN(t, q, 300, 302)
			equal(t, "write after open", readAll(t, q, true), want(300, 302))
			if _, err := os.Stat(filepath.Join(dir, metainfoFilename+tmpSuffix)); err == nil {
				t.Fatalf("temporary file left behind")
			}
		})
	}
}

func TestQueueLockedByOther(t *testing.T) {
	dir := t.TempDir()
	q := mustOpen(t, dir, smallOpts())
	defer q.Close()
	if _, err := Open(dir, smallOpts(), testLogger(t)); err == nil {
		t.Fatal("second open of the same directory succeeded")
	}
}

// TestQueueFullDropsOldest fills a bounded queue: the oldest blocks go,
// counted; what remains is the newest, in order, undamaged.
func TestQueueFullDropsOldest(t *testing.T) {
	dir := t.TempDir()
	opts := smallOpts()
	opts.MaxBytes = 1000
	q := mustOpen(t, dir, opts)
	writeN(t, q, 0, 200)
	st := q.Stats()
	if st.PendingBytes > opts.MaxBytes {
		t.Fatalf("pending %d over the bound %d", st.PendingBytes, opts.MaxBytes)
	}
	got := readAll(t, q, false)
	if int(st.DroppedBlocks)+len(got) != 200 {
		t.Fatalf("dropped %d + kept %d != 200 written", st.DroppedBlocks, len(got))
	}
	equal(t, "kept", got, want(200-len(got), 200))
	if st.Corrupt != 0 {
		t.Fatalf("corrupt frames: %d", st.Corrupt)
	}
	if n := len(chunkFiles(t, dir)); n > 5 {
		t.Fatalf("dropped chunks not removed: %d files", n)
	}
	q.Close()
	q = mustOpen(t, dir, opts)
	defer q.Close()
	equal(t, "kept after reopen", readAll(t, q, true), want(200-len(got), 200))
}

func TestQueueMaxAge(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC).UnixMilli())
	opts := smallOpts()
	opts.MaxAge = time.Hour
	opts.Now = func() time.Time { return time.UnixMilli(now.Load()) }
	q := mustOpen(t, t.TempDir(), opts)
	defer q.Close()
	writeN(t, q, 0, 10)
	now.Add(30 * time.Minute.Milliseconds())
	writeN(t, q, 10, 20)
	if age := q.Stats().OldestAge; age != 30*time.Minute {
		t.Fatalf("oldest age %v", age)
	}
	now.Add(45 * time.Minute.Milliseconds())
	writeN(t, q, 20, 21)
	st := q.Stats()
	if st.DroppedBlocks != 10 {
		t.Fatalf("dropped %d, want 10", st.DroppedBlocks)
	}
	equal(t, "after expiry", readAll(t, q, true), want(10, 21))
}

func TestQueueWriteTooLarge(t *testing.T) {
	q := mustOpen(t, t.TempDir(), smallOpts())
	defer q.Close()
	if err := q.Write(make([]byte, 2000)); err == nil {
		t.Fatal("oversized block accepted")
	}
	writeN(t, q, 0, 1)
	equal(t, "after rejected write", readAll(t, q, true), want(0, 1))
}
