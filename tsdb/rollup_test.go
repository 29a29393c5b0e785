package tsdb

import (
	"context"
	"math"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// bruteAggregate computes an aggregate from the reference model directly:
// bucket start = local midnight + k*step (whole days from 1970-01-01 for
// multi-day steps).
func bruteAggregate(ref refModel, key string, q model.AggregateQuery) []model.Point {
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	bucketOf := func(t int64) int64 {
		tm := time.UnixMilli(t).In(loc)
		y, m, d := tm.Date()
		mid := time.Date(y, m, d, 0, 0, 0, 0, loc)
		if q.Step >= 24*time.Hour && q.Step%(24*time.Hour) == 0 {
			n := int64(q.Step / (24 * time.Hour))
			days := civilDays(y, int(m), d)
			k := floorDiv(days, n) * n
			yy, mm, dd := civilFromDays(k)
			return time.Date(yy, time.Month(mm), dd, 0, 0, 0, 0, loc).UnixMilli()
		}
		off := t - mid.UnixMilli()
		return mid.UnixMilli() + off/q.Step.Milliseconds()*q.Step.Milliseconds()
	}
	groups := map[int64][]model.Point{}
	for _, p := range ref.points(key, math.MinInt64, math.MaxInt64, q.IncludeBad) {
		b := bucketOf(p.T)
		if b >= q.From && b <= q.To {
			groups[b] = append(groups[b], p)
		}
	}
	var out []model.Point
	for b, ps := range groups {
		var a agg
		a.reset()
		for _, p := range ps {
			a.add(p.T, p.V)
		}
		out = append(out, model.Point{T: b, V: a.value(q.Func)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}

// TestRollupsMatchRaw checks that Aggregate (rollups where they apply)
// equals a brute-force computation on raw data for random ranges, steps,
// functions and zones, with late writes after sealing.
func TestRollupsMatchRaw(t *testing.T) {
	hcm, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	rng := rand.New(rand.NewSource(7))
	opts := DefaultOptions()
	opts.PartitionDuration = 10 * 24 * time.Hour
	opts.OutOfOrderWindow = 365 * 24 * time.Hour
	opts.CompactInterval = 0
	dir := t.TempDir()
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	ref := refModel{}
	base := time.Date(2025, 12, 20, 0, 0, 0, 0, time.UTC).UnixMilli()
	span := int64(40 * 24 * 3600_000)
	// An hourly series (daily rollups), a 5-minute one (hourly and daily)
	// and an irregular one; a few bad-quality samples.
	type gen struct {
		ls    model.Labels
		every int64
	}
	gens := []gen{
		{model.New("pm25_ugm3", "station", "A"), 3600_000},
		{model.New("water_level_m", "station", "B"), 300_000},
		{model.New("rainfall_mm", "station", "C"), 0},
	}
	appendAll := func(from, to int64) {
		var batch []model.Sample
		for _, g := range gens {
			for t := from; t < to; {
				s := model.Sample{Labels: g.ls, T: t, V: float64(rng.Intn(2000)) / 10}
				if rng.Intn(50) == 0 {
					s.Q = model.QualityDeviceError
				}
				batch = append(batch, s)
				if g.every > 0 {
					t += g.every
				} else {
					t += int64(rng.Intn(5*3600)) * 1000
				}
			}
		}
		rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		mustAppend(t, db, batch)
		for _, s := range batch {
			ref.add(s)
		}
	}
	appendAll(base, base+span)
	if err := db.seal(context.Background()); err != nil {
		t.Fatal(err)
	}
	check := func(stage string) {
		t.Helper()
		steps := []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 90 * time.Minute}
		funcs := []model.AggFunc{model.AggAvg, model.AggMin, model.AggMax, model.AggSum, model.AggCount, model.AggFirst, model.AggLast}
		locs := []*time.Location{time.UTC, hcm, kolkata, time.FixedZone("ICT", 7*3600)}
		for i := 0; i < 60; i++ {
			q := model.AggregateQuery{
				Matchers:   []*model.Matcher{model.MustMatcher(model.MatchRegexp, model.MetricName, ".+")},
				Step:       steps[rng.Intn(len(steps))],
				Func:       funcs[rng.Intn(len(funcs))],
				Location:   locs[rng.Intn(len(locs))],
				IncludeBad: rng.Intn(4) == 0,
			}
			q.From = base - 3*86400_000 + rng.Int63n(span)
			q.To = q.From + rng.Int63n(span)
			if rng.Intn(3) == 0 { // whole local days
				q.From = time.UnixMilli(q.From).In(q.Location).Truncate(time.Hour).UnixMilli()
			}
			got := map[string][]model.Point{}
			err := db.Aggregate(context.Background(), q, func(ls model.Labels, pts []model.Point) error {
				got[ls.String()] = append([]model.Point(nil), pts...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range gens {
				k := g.ls.String()
				want := bruteAggregate(ref, k, q)
				if len(want) != len(got[k]) {
					t.Fatalf("%s: %s %v %s %s in %s: got %d buckets, want %d", stage, k, q.Step, q.Func, time.UnixMilli(q.From).UTC(), q.Location, len(got[k]), len(want))
				}
				for j := range want {
					w, gp := want[j], got[k][j]
					if w.T != gp.T || math.Abs(w.V-gp.V) > 1e-9*math.Max(1, math.Abs(w.V)) {
						t.Fatalf("%s: %s %v %s %s: bucket %d got %+v want %+v", stage, k, q.Step, q.Func, q.Location, j, gp, w)
					}
				}
			}
		}
	}
	check("sealed")
	// Late writes into sealed partitions: first in the head, then sealed
	// as extra parts, then merged by compaction (rollups recomputed).
	appendAll(base+5*86400_000, base+7*86400_000)
	check("late in head")
	if err := db.seal(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("late parts")
	if err := db.compact(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	check("compacted")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	check("reopened")
}
