package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/tsdb"
)

// TestTSDBSmallFrameRead is a regression test for a bug the fault suite
// found in tsdb: a part whose zstd frame decompresses to fewer bytes than
// zstd's smallest window (1 KiB) makes (*part).frame call
// encoding.DecompressZSTDLimited with that size as the limit, which in a
// cgo build (gozstd) panics with "BUG: unexpected error in
// ZSTD_DCtx_setMaxWindowSize: Parameter is out of bound" instead of
// returning the points. Pure-Go builds (CGO_ENABLED=0) use another zstd
// and pass.
func TestTSDBSmallFrameRead(t *testing.T) {
	for _, n := range []int{1, 5, 20, 60, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { testSmallFrameRead(t, n) })
	}
}

func testSmallFrameRead(t *testing.T, count int) {
	dir := t.TempDir()
	opts := tsdb.DefaultOptions()
	opts.HeadMaxSamples = 1
	db, err := tsdb.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	var batch []model.Sample
	for i := range count {
		for _, m := range []string{"water_level_m", "rainfall_mm", "water_temperature_c"} {
			batch = append(batch, model.Sample{Labels: model.New(m, "station", "HN-X", "province", "HN", "kind", "hydrological"),
				T: now + int64(i)*1000, V: 7.1 + float64(i%7)*0.37})
		}
	}
	if _, err := db.Append(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = tsdb.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("reading %d sealed samples panicked: %v", len(batch), r)
		}
	}()
	m := model.MustMatcher(model.MatchEqual, "station", "HN-X")
	err = db.Select(context.Background(), model.SelectQuery{Matchers: []*model.Matcher{m}, From: 0, To: model.MaxTime - 1, IncludeBad: true},
		func(ls model.Labels, pts []model.Point) error { n += len(pts); return nil })
	if err != nil || n != len(batch) {
		t.Fatalf("select: %d points of %d, %v", n, len(batch), err)
	}
}
