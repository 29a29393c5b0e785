package tsdb

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// TestConcurrentWritersReaders runs writers, readers, seals and compactions
// at once (meant for -race), then checks every written sample.
func TestConcurrentWritersReaders(t *testing.T) {
	opts := DefaultOptions()
	opts.PartitionDuration = time.Hour
	opts.HeadMaxSamples = 2000
	opts.CompactInterval = 20 * time.Millisecond
	opts.Sync = SyncInterval
	opts.SyncInterval = 5 * time.Millisecond
	dir := t.TempDir()
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	const writers, batches, per = 4, 60, 50
	ctx, cancel := context.WithCancel(context.Background())
	var wg, rg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ls := model.New("temperature_c", "station", fmt.Sprintf("W%d", w), "province", "HN")
			for b := 0; b < batches; b++ {
				var batch []model.Sample
				for i := 0; i < per; i++ {
					n := int64(b*per + i)
					batch = append(batch, model.Sample{Labels: ls, T: n * 10_000, V: float64(n)})
				}
				if _, err := db.Append(ctx, batch); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	all := []*model.Matcher{model.MustMatcher(model.MatchEqual, model.MetricName, "temperature_c")}
	for r := 0; r < 3; r++ {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for ctx.Err() == nil {
				err := db.Select(ctx, model.SelectQuery{Matchers: all, From: 0, To: 1 << 40}, func(ls model.Labels, pts []model.Point) error {
					for i := 1; i < len(pts); i++ {
						if pts[i].T <= pts[i-1].T {
							return fmt.Errorf("%s: points out of order", ls)
						}
					}
					return nil
				})
				if err != nil && ctx.Err() == nil {
					t.Error(err)
				}
				db.Aggregate(ctx, model.AggregateQuery{Matchers: all, From: 0, To: 1 << 40, Step: time.Hour, Func: model.AggAvg}, func(model.Labels, []model.Point) error { return nil })
				db.Latest(ctx, all, func(model.Labels, model.Point) error { return nil })
				db.LabelValues(ctx, "station", nil)
			}
		}()
	}
	wg.Wait()
	cancel()
	rg.Wait()
	ref := refModel{}
	for w := 0; w < writers; w++ {
		ls := model.New("temperature_c", "station", fmt.Sprintf("W%d", w), "province", "HN")
		for n := int64(0); n < batches*per; n++ {
			ref.add(model.Sample{Labels: ls, T: n * 10_000, V: float64(n)})
		}
	}
	checkAgainst(t, db, ref, 0, 1<<40, true)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkAgainst(t, db, ref, 0, 1<<40, true)
}
