package standards

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/quantrac/quantrac/model"
)

// Completeness is the daily data-completeness figure of one series: the
// share of the samples expected that day that arrived with status 00.
type Completeness struct {
	Station string       `json:"station"`
	Metric  string       `json:"parameter"`
	Labels  model.Labels `json:"-"`
	Day     string       `json:"date"` // YYYY-MM-DD in the day's location
	// Interval is the expected sampling interval used.
	Interval time.Duration `json:"-"`
	// IntervalSource says where it came from: "configured", "inferred",
	// "history" or "unknown".
	IntervalSource string `json:"interval_source"`
	IntervalSec    int64  `json:"interval_s"`
	Expected       int    `json:"expected"` // samples expected in the day
	Received       int    `json:"received"` // samples of any status
	Status00       int    `json:"status_00"`
	// Good counts status 00 samples with no collector flag either.
	Good int `json:"good"`
	// Ratio is Status00 / Expected, capped at 1; 0 when Expected is 0.
	Ratio float64 `json:"ratio"`
}

// CompletenessOptions configure the computation.
type CompletenessOptions struct {
	// Location sets the day boundaries (default Asia/Ho_Chi_Minh, UTC+7).
	Location *time.Location
	// Intervals gives the expected sampling interval per metric
	// (e.g. "pm25_ugm3": time.Hour). Takes precedence over inference.
	Intervals map[string]time.Duration
	// DefaultInterval, when positive, is used for metrics not in Intervals
	// instead of inferring it.
	DefaultInterval time.Duration
	// History is how many previous days are searched for series that sent
	// nothing on the day (they count with 0 %) and for their usual number of
	// samples a day when the interval cannot be inferred. Default 7.
	History int
	// Matchers restrict the series (default: every series with a station label).
	Matchers []*model.Matcher
}

func (o CompletenessOptions) withDefaults() CompletenessOptions {
	if o.Location == nil {
		o.Location = vnLocal
	}
	if o.History <= 0 {
		o.History = 7
	}
	if len(o.Matchers) == 0 {
		o.Matchers = []*model.Matcher{model.MustMatcher(model.MatchNotEqual, model.LabelStation, "")}
	}
	return o
}

// DailyCompleteness computes the completeness of every matching series for
// the calendar day of date (in opts.Location). Series seen in the previous
// opts.History days but silent on the day are included with 0 received.
// The expected count is 24 h divided by the interval: configured, else the
// median spacing of the day's samples, else the largest daily count of the
// previous days. Derived series (aqi_vn...) are skipped.
func DailyCompleteness(ctx context.Context, r model.Reader, date time.Time, opts CompletenessOptions) ([]Completeness, error) {
	opts = opts.withDefaults()
	y, m, d := date.In(opts.Location).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, opts.Location)
	end := start.AddDate(0, 0, 1)
	dayMs := end.Sub(start) // 24 h (no DST in Việt Nam)
	dayName := start.Format("2006-01-02")

	rows := map[string]*Completeness{}
	spacing := map[string]time.Duration{}
	err := r.Select(ctx, model.SelectQuery{
		Matchers: opts.Matchers, From: start.UnixMilli(), To: end.UnixMilli() - 1, IncludeBad: true,
	}, func(ls model.Labels, pts []model.Point) error {
		if isDerived(ls.Metric()) {
			return nil
		}
		c := &Completeness{Station: ls.Get(model.LabelStation), Metric: ls.Metric(), Labels: ls, Day: dayName}
		for _, p := range pts {
			c.Received++
			if p.Q.Status() == model.QualityGood {
				c.Status00++
			}
			if p.Q.Good() {
				c.Good++
			}
		}
		rows[ls.String()] = c
		spacing[ls.String()] = medianSpacing(pts)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("completeness %s: select: %w", dayName, err)
	}

	// Previous days: series that went silent, and their usual daily count.
	usual := map[string]int{}
	histStart := start.AddDate(0, 0, -opts.History)
	err = r.Aggregate(ctx, model.AggregateQuery{
		Matchers: opts.Matchers, From: histStart.UnixMilli(), To: start.UnixMilli() - 1,
		Step: 24 * time.Hour, Func: model.AggCount, Location: opts.Location, IncludeBad: true,
	}, func(ls model.Labels, pts []model.Point) error {
		if isDerived(ls.Metric()) {
			return nil
		}
		k := ls.String()
		for _, p := range pts {
			usual[k] = max(usual[k], int(p.V))
		}
		if _, ok := rows[k]; !ok && len(pts) > 0 {
			rows[k] = &Completeness{Station: ls.Get(model.LabelStation), Metric: ls.Metric(), Labels: ls, Day: dayName}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("completeness %s: history: %w", dayName, err)
	}

	out := make([]Completeness, 0, len(rows))
	for k, c := range rows {
		switch iv, ok := opts.Intervals[c.Metric]; {
		case ok && iv > 0:
			c.Interval, c.IntervalSource = iv, "configured"
		case opts.DefaultInterval > 0:
			c.Interval, c.IntervalSource = opts.DefaultInterval, "configured"
		case spacing[k] > 0:
			c.Interval, c.IntervalSource = spacing[k], "inferred"
		case usual[k] > 0:
			c.Interval, c.IntervalSource = dayMs/time.Duration(usual[k]), "history"
		default:
			c.IntervalSource = "unknown"
		}
		if c.Interval > 0 {
			c.Expected = int(dayMs / c.Interval)
			c.IntervalSec = int64(c.Interval / time.Second)
		}
		if c.Expected > 0 {
			c.Ratio = math.Min(1, float64(c.Status00)/float64(c.Expected))
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Station != out[j].Station {
			return out[i].Station < out[j].Station
		}
		return out[i].Labels.Compare(out[j].Labels) < 0
	})
	return out, nil
}

// medianSpacing returns the median gap between consecutive samples, rounded
// to the second; 0 with fewer than two samples.
func medianSpacing(pts []model.Point) time.Duration {
	if len(pts) < 2 {
		return 0
	}
	gaps := make([]int64, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		if g := pts[i].T - pts[i-1].T; g > 0 {
			gaps = append(gaps, g)
		}
	}
	if len(gaps) == 0 {
		return 0
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	g := time.Duration(gaps[len(gaps)/2]) * time.Millisecond
	return g.Round(time.Second)
}

// isDerived reports whether a metric is computed by quantrac rather than measured.
func isDerived(metric string) bool {
	return metric == MetricAQI || metric == MetricAQIDaily
}
