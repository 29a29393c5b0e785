package tsdb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantrac/quantrac/model"
)

// TestDamagedPartSetAside flips a byte in a sealed part: the engine still
// opens, sets the part aside as *.broken, and serves the other partitions.
func TestDamagedPartSetAside(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultOptions()
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ls := model.New("ph", "station", "A")
	day := int64(86400_000)
	// Two partitions (30 days each).
	mustAppend(t, db, []model.Sample{{Labels: ls, T: 1 * day, V: 7}, {Labels: ls, T: 40 * day, V: 8}})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	parts, _ := filepath.Glob(filepath.Join(dir, partitionsDir, "*", "*"+partFileExt))
	if len(parts) != 2 {
		t.Fatalf("parts %v", parts)
	}
	b, _ := os.ReadFile(parts[0])
	b[len(b)-partFooterSize-3] ^= 0x55 // inside the index
	os.WriteFile(parts[0], b, 0o644)
	db, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ref := refModel{}
	ref.add(model.Sample{Labels: ls, T: 40 * day, V: 8})
	checkAgainst(t, db, ref, 0, 100*day, true)
	if _, err := os.Stat(parts[0] + ".broken"); err != nil {
		t.Fatalf("damaged part not set aside: %v", err)
	}
}

// TestWALDamageInOlderSegment damages a segment that is not the last: it is
// truncated at the damage and later segments are still replayed.
func TestWALDamageInOlderSegment(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	ls := model.New("ph", "station", "A")
	mustAppend(t, db, []model.Sample{{Labels: ls, T: 1, V: 1}})
	mustAppend(t, db, []model.Sample{{Labels: ls, T: 2, V: 2}})
	crash(t, db)
	db = openTest(t, dir) // starts a second segment
	mustAppend(t, db, []model.Sample{{Labels: ls, T: 3, V: 3}})
	crash(t, db)
	segs, _ := listSegments(filepath.Join(dir, walDirName))
	if len(segs) != 2 {
		t.Fatalf("segments %v", segs)
	}
	p := walSegmentPath(filepath.Join(dir, walDirName), segs[0])
	b, _ := os.ReadFile(p)
	b[len(b)-2] ^= 0xff // last record of the first segment
	os.WriteFile(p, b, 0o644)
	db = openTest(t, dir)
	defer db.Close()
	if db.Stats().WALRepairs.Load() != 1 {
		t.Fatalf("repairs %d", db.Stats().WALRepairs.Load())
	}
	ref := refModel{}
	ref.add(model.Sample{Labels: ls, T: 1, V: 1})
	ref.add(model.Sample{Labels: ls, T: 3, V: 3})
	checkAgainst(t, db, ref, 0, 10, true)
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	defer db.Close()
	if _, err := Open(dir, DefaultOptions()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != ErrClosed {
		t.Fatalf("second close: %v", err)
	}
	if _, err := db.Append(context.Background(), []model.Sample{{Labels: model.New("ph", "station", "A"), T: 1, V: 1}}); err != ErrClosed {
		t.Fatalf("append after close: %v", err)
	}
}

// TestSealFailureRetried: when part files cannot be written the sealed data
// stays readable and in the WAL, and the next seal writes it.
func TestSealFailureRetried(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultOptions()
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ls := model.New("ph", "station", "A")
	ref := refModel{}
	add := func(ts ...int64) {
		for _, ts := range ts {
			s := model.Sample{Labels: ls, T: ts, V: float64(ts % 100)}
			mustAppend(t, db, []model.Sample{s})
			ref.add(s)
		}
	}
	day := int64(86400_000)
	add(1*day, 2*day)
	// A file where the partition directory should go makes the seal fail.
	blocker := filepath.Join(dir, partitionsDir, partitionDirName(0))
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := db.seal(ctx); err == nil {
		t.Fatal("seal succeeded over a blocked partition directory")
	}
	add(3 * day)
	checkAgainst(t, db, ref, 0, 100*day, true)
	// Crash now: everything must come back from the WAL.
	crash(t, db)
	os.Remove(blocker)
	db, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, db, ref, 0, 100*day, true)
	// Fail once more, then succeed: the pending data is written.
	os.WriteFile(blocker, nil, 0o644)
	if err := db.seal(ctx); err == nil {
		t.Fatal("seal succeeded over a blocked partition directory")
	}
	os.Remove(blocker)
	add(4 * day)
	if err := db.seal(ctx); err != nil {
		t.Fatal(err)
	}
	if u := db.Usage(); u.Samples != 4 || u.HeadSamples != 0 {
		t.Fatalf("usage after retried seal: %+v", u)
	}
	crash(t, db)
	db, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkAgainst(t, db, ref, 0, 100*day, true)
}
