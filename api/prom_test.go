package api

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// TestResultJSONMatchesPrometheus renders results as Prometheus' own
// marshalling does (promql value types), Vietnamese labels and special
// floats included.
func TestResultJSONMatchesPrometheus(t *testing.T) {
	ls := labels.FromStrings("__name__", "pm25_ugm3", "station", "Trạm \"Hoàn Kiếm\"\n", "province", "HN")
	for _, v := range []parser.Value{
		promql.Vector{{Metric: ls, T: 1764032400123, F: 12.5}, {Metric: labels.FromStrings("a", "b"), T: 1764032400123, F: math.NaN()}},
		promql.Matrix{{Metric: ls, Floats: []promql.FPoint{{T: 1764032400000, F: 1e-7}, {T: 1764032460000, F: math.Inf(1)}, {T: 1764032520001, F: -3}}}},
		promql.Scalar{T: 1764032400000, V: math.Inf(-1)},
		promql.String{T: 1764032400500, V: "chuỗi \\ \"x\""},
	} {
		ours := appendResult(nil, v)
		var got struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(ours, &got); err != nil {
			t.Fatalf("%s: our JSON does not parse: %v: %s", v.Type(), err, ours)
		}
		theirs, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		json.Unmarshal(got.Result, &a)
		json.Unmarshal(theirs, &b)
		if got.ResultType != string(v.Type()) || !reflect.DeepEqual(a, b) {
			t.Errorf("%s:\nours:   %s\ntheirs: %s", v.Type(), got.Result, theirs)
		}
	}
}

func TestTruncateToLimit(t *testing.T) {
	f := func(xs []string, limit int, want []string, warn bool) {
		t.Helper()
		got, w := truncateToLimit(xs, limit)
		if !reflect.DeepEqual(got, want) || (len(w) > 0) != warn {
			t.Fatalf("truncateToLimit(%v, %d) = %v, %v; want %v, warning %v", xs, limit, got, w, want, warn)
		}
	}
	f([]string{"a", "b", "c"}, 0, []string{"a", "b", "c"}, false)
	f([]string{"a", "b", "c"}, 3, []string{"a", "b", "c"}, false)
	f([]string{"a", "b", "c"}, 2, []string{"a", "b"}, true)
	f(nil, 1, nil, false)
}
