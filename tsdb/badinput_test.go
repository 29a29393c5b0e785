package tsdb

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

func TestBadInputPerSample(t *testing.T) {
	opts := DefaultOptions()
	opts.MaxBatchSamples = 12
	db, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	good := model.New("ph", "station", "A", "province", "HN")
	batch := []model.Sample{
		{Labels: good, T: 1000, V: 7},                                               // 0 ok
		{Labels: good, T: 2000, V: math.NaN()},                                      // 1
		{Labels: good, T: 3000, V: math.Inf(1)},                                     // 2
		{Labels: model.Labels{{Name: "station", Value: "A"}}, T: 1000, V: 1},        // 3 empty metric
		{Labels: model.New("ph", "bad-name", "x"), T: 1000, V: 1},                   // 4
		{Labels: model.New("ph", "station", "\xff\xfe"), T: 1000, V: 1},             // 5
		{Labels: good, T: -1, V: 1},                                                 // 6
		{Labels: good, T: model.MaxTime, V: 1},                                      // 7
		{Labels: model.New("9ph", "station", "A"), T: 1000, V: 1},                   // 8
		{Labels: good, T: 4000, V: 8},                                               // 9 ok
		{Labels: model.New("do_mgl", "station", "A", "province", "HN"), T: 1, V: 5}, // 10 ok
		{Labels: good, T: 5000, V: 9},                                               // 11 ok
		{Labels: good, T: 6000, V: 10},                                              // 12 over the batch limit
	}
	res, err := db.Append(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 4 || res.Rejected != 9 {
		t.Fatalf("stored %d rejected %d: %+v", res.Stored, res.Rejected, res.Errors)
	}
	wantIdx := []int{1, 2, 3, 4, 5, 6, 7, 8, 12}
	for i, e := range res.Errors {
		if e.Index != wantIdx[i] || e.Reason == "" {
			t.Fatalf("error %d = %+v, want index %d", i, e, wantIdx[i])
		}
	}
	if !strings.Contains(res.Errors[0].Reason, "not a finite number") {
		t.Fatalf("reason %q", res.Errors[0].Reason)
	}
	ref := refModel{}
	for _, i := range []int{0, 9, 10, 11} {
		ref.add(batch[i])
	}
	checkAgainst(t, db, ref, 0, 1<<40, true)
}

func TestRetentionAndOutOfOrderWindow(t *testing.T) {
	opts := DefaultOptions()
	opts.PartitionDuration = time.Hour
	opts.Retention = 3 * time.Hour
	opts.OutOfOrderWindow = 2 * time.Hour
	dir := t.TempDir()
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ls := model.New("rainfall_mm", "station", "A")
	h := int64(time.Hour / time.Millisecond)
	var batch []model.Sample
	for i := int64(0); i < 10; i++ {
		batch = append(batch, model.Sample{Labels: ls, T: i * h, V: float64(i)})
	}
	mustAppend(t, db, batch)
	if err := db.seal(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.compact(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	res := mustAppend(t, db, []model.Sample{
		{Labels: ls, T: 1 * h, V: 1},                              // older than retention
		{Labels: model.New("ph", "station", "A"), T: 7 * h, V: 1}, // new series: window does not apply
		{Labels: ls, T: 9*h - 30*60_000, V: 99},                   // within the window
	})
	if res.Stored != 2 || res.Rejected != 1 || db.Stats().RejectedRetention.Load() != 1 {
		t.Fatalf("result %+v", res)
	}
	res = mustAppend(t, db, []model.Sample{{Labels: model.New("ph", "station", "A"), T: 10 * h, V: 1}, {Labels: model.New("ph", "station", "A"), T: 7*h - 1, V: 1}})
	if res.Rejected != 1 || !strings.Contains(res.Errors[0].Reason, "out-of-order") {
		t.Fatalf("result %+v", res)
	}
	if u := db.Usage(); u.Partitions > 4 {
		t.Fatalf("partitions past retention kept: %+v", u)
	}
	db.Close()
}

func TestQueryArgumentErrors(t *testing.T) {
	db := openTest(t, t.TempDir())
	defer db.Close()
	ctx := context.Background()
	nop := func(model.Labels, []model.Point) error { return nil }
	ms := []*model.Matcher{model.MustMatcher(model.MatchEqual, model.MetricName, "ph")}
	for name, q := range map[string]model.AggregateQuery{
		"zero step":    {Matchers: ms, From: 0, To: 10, Func: model.AggAvg},
		"sub-ms step":  {Matchers: ms, From: 0, To: 10, Step: time.Microsecond, Func: model.AggAvg},
		"unknown func": {Matchers: ms, From: 0, To: 10, Step: time.Hour, Func: "median"},
		"from > to":    {Matchers: ms, From: 10, To: 0, Step: time.Hour, Func: model.AggAvg},
	} {
		if err := db.Aggregate(ctx, q, nop); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := db.Select(ctx, model.SelectQuery{Matchers: ms, From: 10, To: 0}, nop); err == nil {
		t.Error("select from > to: no error")
	}
}
