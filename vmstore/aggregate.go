package vmstore

import (
	"math"
	"time"

	"github.com/quantrac/quantrac/model"
)

// BucketStart returns the start (ms) of the step bucket holding t: buckets
// of a step up to a day start at local midnight plus whole steps; longer
// steps are whole steps since the Unix epoch in local time.
func BucketStart(t int64, step time.Duration, loc *time.Location) int64 {
	stepMs := step.Milliseconds()
	tt := time.UnixMilli(t).In(loc)
	if step <= 24*time.Hour {
		y, m, d := tt.Date()
		mid := time.Date(y, m, d, 0, 0, 0, 0, loc).UnixMilli()
		return mid + floorDiv(t-mid, stepMs)*stepMs
	}
	_, off := tt.Zone()
	local := t + int64(off)*1000
	return floorDiv(local, stepMs)*stepMs - int64(off)*1000
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// AggregatePoints folds time-ordered points into one point per non-empty
// bucket, T = bucket start.
func AggregatePoints(pts []model.Point, step time.Duration, loc *time.Location, fn model.AggFunc) []model.Point {
	var out []model.Point
	var cur int64
	var n int
	var sum, min, max, first, last float64
	flush := func() {
		if n == 0 {
			return
		}
		var v float64
		switch fn {
		case model.AggAvg:
			v = sum / float64(n)
		case model.AggMin:
			v = min
		case model.AggMax:
			v = max
		case model.AggSum:
			v = sum
		case model.AggCount:
			v = float64(n)
		case model.AggFirst:
			v = first
		case model.AggLast:
			v = last
		default:
			v = math.NaN()
		}
		out = append(out, model.Point{T: cur, V: v})
	}
	for _, p := range pts {
		b := BucketStart(p.T, step, loc)
		if n == 0 || b != cur {
			flush()
			cur, n, sum, min, max, first = b, 0, 0, p.V, p.V, p.V
		}
		n++
		sum += p.V
		if p.V < min {
			min = p.V
		}
		if p.V > max {
			max = p.V
		}
		last = p.V
	}
	flush()
	return out
}
