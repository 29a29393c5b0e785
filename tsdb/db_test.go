package tsdb

import (
	"context"
	"testing"

	"github.com/quantrac/quantrac/model"
)

func openTest(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return db
}

func selectAll(t *testing.T, db *DB, sel string, from, to int64) map[string][]model.Point {
	t.Helper()
	ms, err := model.ParseSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]model.Point{}
	err = db.Select(context.Background(), model.SelectQuery{Matchers: ms, From: from, To: to, IncludeBad: true}, func(ls model.Labels, pts []model.Point) error {
		got[ls.String()] = append([]model.Point(nil), pts...)
		return nil
	})
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	return got
}

func TestAppendSelectReopen(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	ls := model.New("water_level_m", "station", "HN-01", "province", "HN", "kind", "hydrological")
	var batch []model.Sample
	for i := 0; i < 100; i++ {
		batch = append(batch, model.Sample{Labels: ls, T: int64(1000 * (100 - i)), V: float64(i), Q: 0})
	}
	batch = append(batch, model.Sample{Labels: ls, T: 5000, V: 42})
	res, err := db.Append(context.Background(), batch)
	if err != nil || res.Stored != 101 || res.Rejected != 0 {
		t.Fatalf("append: %+v %v", res, err)
	}
	check := func(db *DB) {
		got := selectAll(t, db, `water_level_m{station="HN-01"}`, 0, 1e9)
		pts := got[ls.String()]
		if len(pts) != 100 {
			t.Fatalf("got %d points, want 100", len(pts))
		}
		for i, p := range pts {
			want := float64(100 - (i + 1))
			if p.T == 5000 {
				want = 42
			}
			if p.T != int64(1000*(i+1)) || p.V != want {
				t.Fatalf("point %d = %+v, want T=%d V=%v", i, p, 1000*(i+1), want)
			}
		}
	}
	check(db)
	// Reopen without Close: WAL replay.
	crash(t, db)
	db2 := openTest(t, dir)
	check(db2)
	if err := db2.Close(); err != nil {
		t.Fatal(err)
	}
	db3 := openTest(t, dir)
	defer db3.Close()
	check(db3)
}

func TestSnapshot(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	ls := model.New("ph", "station", "A")
	ref := refModel{}
	var batch []model.Sample
	for i := 0; i < 500; i++ {
		batch = append(batch, model.Sample{Labels: ls, T: int64(i) * 3600_000, V: float64(i % 14)})
	}
	mustAppend(t, db, batch)
	for _, s := range batch {
		ref.add(s)
	}
	snap := t.TempDir() + "/snap"
	if err := db.Snapshot(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	// Later writes do not reach the snapshot.
	mustAppend(t, db, []model.Sample{{Labels: ls, T: 1e12, V: 1}})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, snap)
	defer s.Close()
	checkAgainst(t, s, ref, 0, 1<<41, true)
}
