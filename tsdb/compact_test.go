package tsdb

import (
	"context"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// TestHotPartitionMerge seals the newest partition many times: the
// background merge rewrites only the parts sealed after its largest part,
// and reads (raw and aggregated) stay exact throughout, with late
// overwrites of points in the big part winning.
func TestHotPartitionMerge(t *testing.T) {
	opts := DefaultOptions()
	opts.CompactInterval = 0
	db, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	ls := model.New("water_level_m", "station", "A")
	ref := refModel{}
	add := func(from, n int, v float64) {
		var b []model.Sample
		for i := from; i < from+n; i++ {
			b = append(b, model.Sample{Labels: ls, T: int64(i) * 60_000, V: v + float64(i%10)})
		}
		mustAppend(t, db, b)
		for _, s := range b {
			ref.add(s)
		}
		if err := db.seal(ctx); err != nil {
			t.Fatal(err)
		}
	}
	add(0, 5000, 0) // the big part
	for k := 1; k <= maxHotParts; k++ {
		add(5000+k*10-200, 20, float64(100*k)) // overlaps earlier parts
	}
	if n := db.Usage().Parts; n != maxHotParts+1 {
		t.Fatalf("%d parts before merge", n)
	}
	if err := db.compact(ctx, false); err != nil {
		t.Fatal(err)
	}
	if n := db.Usage().Parts; n != 2 {
		t.Fatalf("%d parts after hot merge, want 2", n)
	}
	checkAgainst(t, db, ref, 0, 1<<40, true)
	q := model.AggregateQuery{Matchers: []*model.Matcher{model.MustMatcher(model.MatchEqual, "station", "A")}, From: 0, To: 1 << 40, Step: time.Hour, Func: model.AggSum}
	check := func() {
		t.Helper()
		want := bruteAggregate(ref, ls.String(), q)
		var got []model.Point
		db.Aggregate(ctx, q, func(_ model.Labels, pts []model.Point) error { got = append(got, pts...); return nil })
		if len(got) != len(want) {
			t.Fatalf("%d buckets, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("bucket %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	}
	check()
	if err := db.compact(ctx, true); err != nil {
		t.Fatal(err)
	}
	if n := db.Usage().Parts; n != 1 {
		t.Fatalf("%d parts after full merge", n)
	}
	checkAgainst(t, db, ref, 0, 1<<40, true)
	check()
}
