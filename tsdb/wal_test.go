package tsdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/quantrac/quantrac/model"
)

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestWALTruncatedAtEveryOffset cuts the last WAL segment at every byte
// offset and reopens: every batch whose record ends before the cut is
// there, whole; later ones are absent; the engine opens every time.
func TestWALTruncatedAtEveryOffset(t *testing.T) {
	src := t.TempDir()
	db := openTest(t, src)
	ls := []model.Labels{
		model.New("ph", "station", "A", "province", "HN"),
		model.New("do_mgl", "station", "A", "province", "HN"),
	}
	var batches [][]model.Sample
	for b := 0; b < 8; b++ {
		var batch []model.Sample
		for i := 0; i < 4; i++ {
			batch = append(batch, model.Sample{Labels: ls[i%2], T: int64(b*100 + i), V: float64(b*10 + i)})
		}
		mustAppend(t, db, batch)
		batches = append(batches, batch)
	}
	crash(t, db)

	segs, err := listSegments(filepath.Join(src, walDirName))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments %v: %v", segs, err)
	}
	last := segs[len(segs)-1]
	segPath := walSegmentPath(filepath.Join(src, walDirName), last)
	data, err := os.ReadFile(segPath)
	if err != nil {
		t.Fatal(err)
	}
	// End offsets of sample records, one per batch.
	var ends []int64
	r := NewWALReader(last, data)
	for r.Next() {
		if r.Record()[0] == recSamples {
			ends = append(ends, r.Offset())
		}
	}
	if r.Err() != nil || len(ends) != len(batches) {
		t.Fatalf("reader: %v, %d sample records", r.Err(), len(ends))
	}
	for off := 0; off <= len(data); off++ {
		dst := filepath.Join(t.TempDir(), "db")
		copyDir(t, src, dst)
		p := walSegmentPath(filepath.Join(dst, walDirName), last)
		if err := os.WriteFile(p, data[:off], 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := Open(dst, DefaultOptions())
		if err != nil {
			t.Fatalf("offset %d: open: %v", off, err)
		}
		ref := refModel{}
		for i, b := range batches {
			if ends[i] <= int64(off) {
				for _, s := range b {
					ref.add(s)
				}
			}
		}
		checkAgainst(t, db, ref, 0, 1<<40, true)
		crash(t, db)
	}
}

func TestWALReaderDamage(t *testing.T) {
	seg := walHeader()
	seg = appendWALRecord(seg, []byte("first"))
	seg = appendWALRecord(seg, []byte("second"))
	good := len(seg)
	seg = appendWALRecord(seg, []byte("third"))
	cases := map[string]func([]byte) []byte{
		"torn_tail":    func(b []byte) []byte { return b[:len(b)-2] },
		"bad_crc":      func(b []byte) []byte { b[good+5] ^= 0xff; return b },
		"bad_length":   func(b []byte) []byte { b[good+3] = 0x7f; return b },
		"bad_content":  func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"zero_padding": func(b []byte) []byte { return append(b[:good], make([]byte, 64)...) },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			b := damage(bytes.Clone(seg))
			r := NewWALReader(3, b)
			var recs []string
			for r.Next() {
				recs = append(recs, string(r.Record()))
			}
			if fmt.Sprint(recs) != "[first second]" {
				t.Fatalf("records %v", recs)
			}
			var ce *CorruptionError
			if r.Err() == nil || !asCorruption(r.Err(), &ce) || ce.Offset != int64(good) || ce.Segment != 3 {
				t.Fatalf("err %v", r.Err())
			}
		})
	}
}

// faultyFile fails the write after `after` successful ones with a short
// write of half the bytes, as a full disk would.
type faultyFile struct {
	segmentFile
	after int
}

func (f *faultyFile) Write(b []byte) (int, error) {
	if f.after == 0 {
		n, _ := f.segmentFile.Write(b[:len(b)/2])
		return n, io.ErrShortWrite
	}
	f.after--
	return f.segmentFile.Write(b)
}

// TestWALShortWrite: a failed WAL write fails that Append and the WAL
// recovers by itself on the next one; after reopening, exactly the
// acknowledged batches are there and Close reports no error.
func TestWALShortWrite(t *testing.T) {
	dir := t.TempDir()
	orig := openSegmentFile
	defer func() { openSegmentFile = orig }()
	openSegmentFile = func(p string) (segmentFile, error) {
		f, err := orig(p)
		if err != nil {
			return nil, err
		}
		return &faultyFile{segmentFile: f, after: 4}, nil // header, then 3 appends
	}
	db := openTest(t, dir)
	openSegmentFile = orig
	ls := model.New("ph", "station", "A")
	ref := refModel{}
	for i := 0; i < 3; i++ {
		b := []model.Sample{{Labels: ls, T: int64(i), V: float64(i)}}
		mustAppend(t, db, b)
		ref.add(b[0])
	}
	if _, err := db.Append(context.Background(), []model.Sample{{Labels: ls, T: 10, V: 10}}); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("append over a failing disk: %v", err)
	}
	b := []model.Sample{{Labels: ls, T: 11, V: 11}}
	mustAppend(t, db, b)
	ref.add(b[0])
	checkAgainst(t, db, ref, 0, 100, true)
	if err := db.Close(); err != nil {
		t.Fatalf("close after a recovered WAL failure: %v", err)
	}
	db = openTest(t, dir)
	defer db.Close()
	checkAgainst(t, db, ref, 0, 100, true)
}

// diskFull makes every segment file fail writes (short, ENOSPC) or, with
// failSync, fsyncs while full is set, as a file system out of space would.
type diskFull struct {
	mu       sync.Mutex
	full     bool
	failSync bool // only fsyncs fail; writes reach the page cache
}

func (d *diskFull) set(full, failSync bool) {
	d.mu.Lock()
	d.full, d.failSync = full, failSync
	d.mu.Unlock()
}

type diskFullFile struct {
	segmentFile
	d *diskFull
}

func (f *diskFullFile) Write(b []byte) (int, error) {
	f.d.mu.Lock()
	full := f.d.full && !f.d.failSync
	f.d.mu.Unlock()
	if full {
		n, _ := f.segmentFile.Write(b[:len(b)/3])
		return n, syscall.ENOSPC
	}
	return f.segmentFile.Write(b)
}

func (f *diskFullFile) Sync() error {
	f.d.mu.Lock()
	fail := f.d.full && f.d.failSync
	f.d.mu.Unlock()
	if fail {
		return syscall.ENOSPC
	}
	return f.segmentFile.Sync()
}

// TestWALRecoversAfterDiskFull: while the disk is full, Appends fail (write
// or fsync ENOSPC, also new series whose labels were never logged); once
// space returns the next Append works, Close returns nil, and both a
// reopen after Close and a reopen after a crash hold exactly the
// acknowledged samples.
func TestWALRecoversAfterDiskFull(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failSync bool
		crash    bool
	}{
		{"write_close", false, false},
		{"write_crash", false, true},
		{"fsync_close", true, false},
		{"fsync_crash", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			orig := openSegmentFile
			defer func() { openSegmentFile = orig }()
			d := &diskFull{}
			openSegmentFile = func(p string) (segmentFile, error) {
				f, err := orig(p)
				if err != nil {
					return nil, err
				}
				return &diskFullFile{segmentFile: f, d: d}, nil
			}
			db := openTest(t, dir)
			ref := refModel{}
			ctx := context.Background()
			st := func(i int) model.Labels { return model.New("ph", "station", fmt.Sprint("S", i)) }
			for i := 0; i < 5; i++ {
				b := []model.Sample{{Labels: st(0), T: int64(i), V: float64(i)}, {Labels: st(1), T: int64(i), V: float64(-i)}}
				mustAppend(t, db, b)
				ref.add(b[0])
				ref.add(b[1])
			}
			d.set(true, tc.failSync)
			for i := 5; i < 10; i++ {
				// New series 2..6 whose series records are dropped, and
				// an overwrite of an acknowledged point.
				b := []model.Sample{{Labels: st(i - 3), T: int64(i), V: 1}, {Labels: st(0), T: 2, V: 99}}
				if _, err := db.Append(ctx, b); err == nil {
					t.Fatalf("append %d on a full disk acknowledged", i)
				} else if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("append %d on a full disk: %v", i, err)
				}
			}
			checkAgainst(t, db, ref, 0, 100, true)
			d.set(false, false)
			for i := 10; i < 15; i++ {
				b := []model.Sample{{Labels: st(i % 7), T: int64(i), V: float64(i)}}
				mustAppend(t, db, b)
				ref.add(b[0])
			}
			checkAgainst(t, db, ref, 0, 100, true)
			if tc.crash {
				crash(t, db)
			} else if err := db.Close(); err != nil {
				t.Fatalf("close after a recovered WAL failure: %v", err)
			}
			openSegmentFile = orig
			db = openTest(t, dir)
			defer db.Close()
			checkAgainst(t, db, ref, 0, 100, true)
			if n := db.Stats().ReplayDropped.Load(); n != 0 {
				t.Fatalf("%d samples dropped at replay", n)
			}
		})
	}
}

// TestWALDiskFullConcurrent appends from several goroutines while the
// disk fills and empties and the head is sealed over and over: after a
// crash and reopen, exactly the batches whose Append returned nil are
// there.
func TestWALDiskFullConcurrent(t *testing.T) {
	for _, failSync := range []bool{false, true} {
		t.Run(fmt.Sprint("failSync=", failSync), func(t *testing.T) {
			dir := t.TempDir()
			orig := openSegmentFile
			defer func() { openSegmentFile = orig }()
			d := &diskFull{}
			openSegmentFile = func(p string) (segmentFile, error) {
				f, err := orig(p)
				if err != nil {
					return nil, err
				}
				return &diskFullFile{segmentFile: f, d: d}, nil
			}
			db := openTest(t, dir)
			const workers, per = 4, 150
			var mu sync.Mutex
			ref := refModel{}
			failed := 0
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < per; i++ {
						if w == 0 && i%10 == 0 {
							d.set((i/10)%2 == 1, failSync)
						}
						// Each worker writes its own series (new ones now
						// and then), so acknowledged points never collide.
						ls := model.New("ph", "station", fmt.Sprintf("W%d-%d", w, i/25))
						b := []model.Sample{{Labels: ls, T: int64(i), V: float64(w*1000 + i)}}
						_, err := db.Append(context.Background(), b)
						mu.Lock()
						if err == nil {
							ref.add(b[0])
						} else {
							failed++
						}
						mu.Unlock()
					}
				}(w)
			}
			// Seals cut the WAL and move the head into parts meanwhile.
			stop := make(chan struct{})
			sealed := make(chan struct{})
			go func() {
				defer close(sealed)
				for {
					select {
					case <-stop:
						return
					default:
					}
					_ = db.seal(context.Background())
				}
			}()
			wg.Wait()
			close(stop)
			<-sealed
			d.set(false, false)
			if failed == 0 {
				t.Fatal("no Append failed")
			}
			checkAgainst(t, db, ref, 0, 1000, true)
			crash(t, db)
			openSegmentFile = orig
			db = openTest(t, dir)
			defer db.Close()
			checkAgainst(t, db, ref, 0, 1000, true)
			if n := db.Stats().ReplayDropped.Load(); n != 0 {
				t.Fatalf("%d samples dropped at replay", n)
			}
		})
	}
}
