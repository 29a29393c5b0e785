package tsdb_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"
	_ "time/tzdata" // the example runs where the system has no zoneinfo

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/tsdb"
)

// Open an engine, append a batch, read raw points and daily averages in
// Vietnamese local days.
func Example() {
	dir, _ := os.MkdirTemp("", "tsdb-example-")
	defer os.RemoveAll(dir)
	db, err := tsdb.Open(dir, tsdb.DefaultOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	ctx := context.Background()
	ls := model.New("pm25_ugm3", "station", "HN-01", "province", "HN", "kind", "air")
	loc, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, loc)
	var batch []model.Sample
	for h := 0; h < 48; h++ {
		batch = append(batch, model.Sample{Labels: ls, T: day.Add(time.Duration(h) * time.Hour).UnixMilli(), V: float64(20 + h%24)})
	}
	batch = append(batch, model.Sample{Labels: ls, T: day.UnixMilli(), V: math.NaN()}) // rejected, the rest stored
	res, err := db.Append(ctx, batch)
	fmt.Println("stored", res.Stored, "rejected", res.Rejected, err)

	ms, _ := model.ParseSelector(`pm25_ugm3{province="HN"}`)
	db.Aggregate(ctx, model.AggregateQuery{
		Matchers: ms, From: day.UnixMilli(), To: day.AddDate(0, 0, 2).UnixMilli() - 1,
		Step: 24 * time.Hour, Func: model.AggAvg, Location: loc,
	}, func(ls model.Labels, pts []model.Point) error {
		for _, p := range pts {
			fmt.Println(ls.Get("station"), time.UnixMilli(p.T).In(loc).Format("2006-01-02"), p.V)
		}
		return nil
	})
	// Output:
	// stored 48 rejected 1 <nil>
	// HN-01 2026-11-25 31.5
	// HN-01 2026-11-26 31.5
}
