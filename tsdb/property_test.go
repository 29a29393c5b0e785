package tsdb

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// TestRoundTripProperty appends random series in random order with
// duplicates, seals, compacts and reopens at random points, and checks
// every read against the in-memory model.
func TestRoundTripProperty(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			dir := t.TempDir()
			opts := DefaultOptions()
			opts.PartitionDuration = 24 * time.Hour
			opts.OutOfOrderWindow = 365 * 24 * time.Hour
			opts.MaxBlockSamples = 50
			opts.CompactInterval = 0
			db, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { db.Close() }()
			var series []model.Labels
			for i := 0; i < 6; i++ {
				series = append(series, model.New(fmt.Sprintf("m%d", i%3), "station", fmt.Sprintf("S%d", i), "province", "HN"))
			}
			ref := refModel{}
			base := int64(1_700_000_000_000)
			for round := 0; round < 12; round++ {
				var batch []model.Sample
				for i := 0; i < 300; i++ {
					s := model.Sample{
						Labels: series[rng.Intn(len(series))],
						T:      base + int64(rng.Intn(5*24*60))*60_000,
						V:      randomValue(rng),
					}
					if rng.Intn(10) == 0 {
						s.Q = model.QualityCalibrating
					}
					batch = append(batch, s)
					if rng.Intn(8) == 0 { // duplicate timestamp, later wins
						d := s
						d.V = randomValue(rng)
						batch = append(batch, d)
					}
				}
				res := mustAppend(t, db, batch)
				if res.Rejected != 0 {
					t.Fatalf("rejected: %+v", res.Errors[0])
				}
				for _, s := range batch {
					ref.add(s)
				}
				switch rng.Intn(4) {
				case 0:
					if err := db.seal(context.Background()); err != nil {
						t.Fatal(err)
					}
				case 1:
					if err := db.seal(context.Background()); err != nil {
						t.Fatal(err)
					}
					if err := db.compact(context.Background(), true); err != nil {
						t.Fatal(err)
					}
				case 2:
					if rng.Intn(2) == 0 {
						crash(t, db)
					} else if err := db.Close(); err != nil {
						t.Fatal(err)
					}
					if db, err = Open(dir, opts); err != nil {
						t.Fatal(err)
					}
				}
				checkAgainst(t, db, ref, 0, model.MaxTime-1, true)
				checkAgainst(t, db, ref, 0, model.MaxTime-1, false)
				for k := 0; k < 5; k++ {
					from := base + int64(rng.Intn(5*24*60))*60_000
					to := from + int64(rng.Intn(2*24*60))*60_000
					checkAgainst(t, db, ref, from, to, rng.Intn(2) == 0)
				}
				checkLatest(t, db, ref)
			}
		})
	}
}

func checkLatest(t *testing.T, db *DB, ref refModel) {
	t.Helper()
	got := map[string]model.Point{}
	err := db.Latest(context.Background(), nil, func(ls model.Labels, p model.Point) error {
		got[ls.String()] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range ref {
		pts := ref.points(k, 0, model.MaxTime, true)
		want := pts[len(pts)-1]
		if got[k] != want {
			t.Fatalf("latest %s = %+v, want %+v", k, got[k], want)
		}
	}
}
