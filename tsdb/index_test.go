package tsdb

import (
	"context"
	"fmt"
	"testing"

	"github.com/quantrac/quantrac/model"
)

func TestMatchersAndLabels(t *testing.T) {
	db := openTest(t, t.TempDir())
	defer db.Close()
	series := []model.Labels{
		model.New("pm25_ugm3", "station", "HN-01", "province", "HN", "kind", "air"),
		model.New("pm25_ugm3", "station", "HN-02", "province", "HN", "kind", "air"),
		model.New("pm25_ugm3", "station", "HCM-01", "province", "HCM", "kind", "air"),
		model.New("water_level_m", "station", "HN-LongBien", "province", "HN", "kind", "hydrological", "sensor", "radar"),
	}
	var batch []model.Sample
	for i, ls := range series {
		batch = append(batch, model.Sample{Labels: ls, T: 1000, V: float64(i)})
	}
	mustAppend(t, db, batch)
	cases := map[string][]int{
		`pm25_ugm3`:                                   {0, 1, 2},
		`pm25_ugm3{province="HN"}`:                    {0, 1},
		`pm25_ugm3{province!="HN"}`:                   {2},
		`{station=~"HN-.*"}`:                          {0, 1, 3},
		`{station!~"HN-0.*",kind="air"}`:              {2},
		`{__name__=~"pm25_ugm3|water_level_m"}`:       {0, 1, 2, 3},
		`{sensor=""}`:                                 {0, 1, 2},
		`{sensor!=""}`:                                {3},
		`{sensor=~"r.*|"}`:                            {0, 1, 2, 3},
		`{kind="air",station=~"HN.*",province="HCM"}`: {},
		`{nosuch="x"}`:                                {},
	}
	for sel, want := range cases {
		ms, err := model.ParseSelector(sel)
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		var got []string
		err = db.Select(context.Background(), model.SelectQuery{Matchers: ms, From: 0, To: 2000}, func(ls model.Labels, pts []model.Point) error {
			got = append(got, ls.String())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var exp []string
		for _, i := range want {
			exp = append(exp, series[i].String())
		}
		if fmt.Sprint(sortedCopy(got)) != fmt.Sprint(sortedCopy(exp)) {
			t.Errorf("%s: got %v, want %v", sel, got, exp)
		}
	}
	names, err := db.LabelNames(context.Background(), nil)
	if err != nil || fmt.Sprint(names) != "[__name__ kind province sensor station]" {
		t.Fatalf("label names %v %v", names, err)
	}
	ms, _ := model.ParseSelector(`{province="HN"}`)
	vals, err := db.LabelValues(context.Background(), "station", ms)
	if err != nil || fmt.Sprint(vals) != "[HN-01 HN-02 HN-LongBien]" {
		t.Fatalf("label values %v %v", vals, err)
	}
	vals, _ = db.LabelValues(context.Background(), "province", nil)
	if fmt.Sprint(vals) != "[HCM HN]" {
		t.Fatalf("label values %v", vals)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
