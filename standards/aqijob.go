package standards

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

// Derived series written by AQIJob.
const (
	// MetricAQI is the hourly VN_AQI, one series per station and pollutant
	// (pollutant="overall" for the index itself), stamped at the start of
	// the hour it describes, rounded to an integer.
	MetricAQI = "aqi_vn"
	// MetricAQIDaily is the daily VN_AQI, stamped at local midnight of the day.
	MetricAQIDaily = "aqi_vn_daily"
	// LabelPollutant names the pollutant on derived series.
	LabelPollutant = "pollutant"
)

// AQIJobOptions configure AQIJob. Zero values take the defaults.
type AQIJobOptions struct {
	// Location sets the day boundaries of the daily index (default
	// Asia/Ho_Chi_Minh, a fixed UTC+7).
	Location *time.Location
	// Interval is how often the job runs (default 1 minute).
	Interval time.Duration
	// Lookback is how far back each run recomputes (default 48 h, at least
	// 2 h). Late data inside it changes the derived values on the next run;
	// older late data needs Recompute.
	Lookback time.Duration
	// Selector restricts the input series (default: every series of the six
	// VN_AQI metrics with a station label), e.g. `{kind="air"}`.
	Selector string
	// Daily sets the valid-hour minimums of the daily index.
	Daily DailyOptions
	// BatchSize caps the samples of one Append (default 10000).
	BatchSize int
	// Logger receives failed runs (error), rejected samples (warn) and a
	// summary per run (debug); the zero Logger discards everything.
	Logger zerolog.Logger
	// Now returns the current time (tests); default time.Now.
	Now func() time.Time
}

// DefaultAQIJobOptions returns the defaults described on AQIJobOptions.
func DefaultAQIJobOptions() AQIJobOptions {
	return AQIJobOptions{
		Location: vnLocal, Interval: time.Minute, Lookback: 48 * time.Hour,
		Daily: DefaultDailyOptions(), BatchSize: 10000, Logger: zerolog.Nop(), Now: time.Now,
	}
}

// AQIJobStats says what one run did.
type AQIJobStats struct {
	Stations int // stations with input data
	Hourly   int // hourly values computed (sub-indices and overall)
	Daily    int // daily values computed
	Written  int // samples appended (values that changed since the last run)
	Rejected int // samples the writer rejected
}

// AQIJob keeps aqi_vn and aqi_vn_daily up to date: each run reads the hourly
// means of the six VN_AQI pollutants over the trailing Lookback (plus the 11
// hours a NowCast and the 7 hours an 8-hour mean reach back), computes every
// complete hour and every complete day in it, and appends the values that
// changed since it last wrote them. The storage overwrites a series at the
// same timestamp, so recomputing after late data is safe. Only good samples
// (status 00, no flag) enter the means, as Decision 1459/QĐ-TCMT 2.1.a asks.
type AQIJob struct {
	r    model.Reader
	w    model.Writer
	opts AQIJobOptions
	sel  []*model.Matcher
	log  zerolog.Logger

	mu      sync.Mutex
	written map[writtenKey]float64 // value last written per series and time
}

// writtenKey identifies a derived sample: a 64-bit hash of the series and
// its timestamp. A collision only costs one skipped rewrite of an unchanged
// value, and keeps the cache at ~40 bytes per sample.
type writtenKey struct {
	series uint64
	t      int64
}

// NewAQIJob checks the options and returns a job; start it with Run.
func NewAQIJob(r model.Reader, w model.Writer, opts AQIJobOptions) (*AQIJob, error) {
	if r == nil || w == nil {
		return nil, errors.New("aqi job: reader and writer are required")
	}
	d := DefaultAQIJobOptions()
	if opts.Location == nil {
		opts.Location = d.Location
	}
	if opts.Interval <= 0 {
		opts.Interval = d.Interval
	}
	if opts.Lookback <= 0 {
		opts.Lookback = d.Lookback
	}
	if opts.Lookback < 2*time.Hour {
		return nil, fmt.Errorf("aqi job: lookback %v is shorter than 2h", opts.Lookback)
	}
	if opts.Now == nil {
		opts.Now = d.Now
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = d.BatchSize
	}
	opts.Daily = opts.Daily.withDefaults()
	metrics := make([]string, 0, numPollutants)
	for _, p := range Pollutants() {
		metrics = append(metrics, p.Metric())
	}
	sel := []*model.Matcher{
		model.MustMatcher(model.MatchRegexp, model.MetricName, strings.Join(metrics, "|")),
		model.MustMatcher(model.MatchNotEqual, model.LabelStation, ""),
	}
	if s := strings.TrimSpace(opts.Selector); s != "" {
		ms, err := model.ParseSelector(s)
		if err != nil {
			return nil, fmt.Errorf("aqi job: selector: %w", err)
		}
		for _, m := range ms {
			if m.Name == model.MetricName {
				return nil, fmt.Errorf("aqi job: selector %q must not name a metric: the job reads the six VN_AQI metrics", s)
			}
		}
		sel = append(sel, ms...)
	}
	return &AQIJob{r: r, w: w, opts: opts, sel: sel, log: opts.Logger, written: map[writtenKey]float64{}}, nil
}

// Run computes once at once, then every Interval until ctx ends; it returns
// nil when ctx is cancelled. A failed run is logged and retried at the next tick.
func (j *AQIJob) Run(ctx context.Context) error {
	tick := time.NewTicker(j.opts.Interval)
	defer tick.Stop()
	for {
		st, err := j.RunOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			j.log.Error().Err(err).Msg("aqi job run failed")
		default:
			j.log.Debug().Int("stations", st.Stations).Int("written", st.Written).Int("rejected", st.Rejected).Msg("aqi job run")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// RunOnce recomputes the trailing Lookback up to now.
func (j *AQIJob) RunOnce(ctx context.Context) (AQIJobStats, error) {
	now := j.opts.Now()
	st, err := j.Recompute(ctx, now.Add(-j.opts.Lookback), now)
	j.prune(now.Add(-j.opts.Lookback - 48*time.Hour))
	return st, err
}

// recomputeSpan bounds the hours read at once, so a long backfill works
// through the period a week at a time.
const recomputeSpan = 7 * 24 * time.Hour

// Recompute computes every complete hour that starts in [from, to) and every
// complete day that overlaps it, and writes the values that changed. The api
// can call it to backfill after late data older than Lookback. Long periods
// are done a week at a time.
func (j *AQIJob) Recompute(ctx context.Context, from, to time.Time) (AQIJobStats, error) {
	var total AQIJobStats
	for start := from; start.Before(to); {
		end := truncDay(start, j.opts.Location).Add(recomputeSpan)
		if end.After(to) {
			end = to
		}
		st, err := j.recompute(ctx, start, end)
		total.Stations = max(total.Stations, st.Stations)
		total.Hourly += st.Hourly
		total.Daily += st.Daily
		total.Written += st.Written
		total.Rejected += st.Rejected
		if err != nil {
			return total, err
		}
		start = end
	}
	return total, nil
}

func (j *AQIJob) recompute(ctx context.Context, from, to time.Time) (AQIJobStats, error) {
	var st AQIJobStats
	loc := j.opts.Location
	now := j.opts.Now()
	if to.After(now) {
		to = now
	}
	hourFrom := truncHour(from, loc)
	dayFrom := truncDay(from, loc)
	inFrom := dayFrom.Add(-8 * time.Hour) // 8 h windows of the first day
	if t := hourFrom.Add(-(NowCastHours - 1) * time.Hour); t.Before(inFrom) {
		inFrom = t
	}
	inTo := truncHour(to, loc) // hours starting before it are complete
	if !inTo.After(hourFrom) {
		return st, nil
	}
	stations, err := j.readHours(ctx, inFrom, inTo)
	if err != nil {
		return st, err
	}
	st.Stations = len(stations)

	var batch []model.Sample
	ids := make([]string, 0, len(stations))
	for id := range stations {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		sh := stations[id]
		for h := sh.hours.HourIndex(hourFrom.UnixMilli()); h < sh.hours.HourIndex(inTo.UnixMilli()); h++ {
			r := HourlyVNAQI(sh.hours, h)
			n := len(batch)
			batch = appendResult(batch, MetricAQI, sh.labels, sh.hours.HourStart(h), r)
			st.Hourly += len(batch) - n
		}
		for day := dayFrom; !day.AddDate(0, 0, 1).After(inTo); day = day.AddDate(0, 0, 1) {
			r := DailyVNAQI(sh.hours, sh.hours.HourIndex(day.UnixMilli()), j.opts.Daily)
			n := len(batch)
			batch = appendResult(batch, MetricAQIDaily, sh.labels, day.UnixMilli(), r)
			st.Daily += len(batch) - n
		}
	}

	batch = j.changed(batch)
	for len(batch) > 0 {
		n := min(len(batch), j.opts.BatchSize)
		part := batch[:n]
		batch = batch[n:]
		res, err := j.w.Append(ctx, part)
		if err != nil {
			return st, fmt.Errorf("aqi job: append %d samples: %w", len(part), err)
		}
		st.Written += res.Stored
		st.Rejected += res.Rejected
		rejected := make(map[int]bool, len(res.Errors))
		for _, e := range res.Errors {
			if e.Index < 0 || e.Index >= len(part) {
				continue
			}
			rejected[e.Index] = true
			j.log.Warn().Str("series", part[e.Index].Labels.String()).Str("reason", e.Reason).Msg("aqi sample rejected")
		}
		j.remember(part, rejected)
	}
	return st, nil
}

// stationHours is the input of one station.
type stationHours struct {
	labels model.Labels // station, province, kind of the input
	hours  *StationHours
	counts [numPollutants][]int // series averaged into each hour
}

// readHours reads hourly means of the six metrics in [from, to).
func (j *AQIJob) readHours(ctx context.Context, from, to time.Time) (map[string]*stationHours, error) {
	n := int(to.Sub(from) / time.Hour)
	out := map[string]*stationHours{}
	err := j.r.Aggregate(ctx, model.AggregateQuery{
		Matchers: j.sel, From: from.UnixMilli(), To: to.UnixMilli() - 1,
		Step: time.Hour, Func: model.AggAvg, Location: j.opts.Location,
	}, func(ls model.Labels, pts []model.Point) error {
		p, ok := PollutantForMetric(ls.Metric())
		if !ok {
			return nil
		}
		id := ls.Get(model.LabelStation)
		sh := out[id]
		if sh == nil {
			var pairs []string
			for _, name := range []string{model.LabelStation, model.LabelProvince, model.LabelKind} {
				if v := ls.Get(name); v != "" {
					pairs = append(pairs, name, v)
				}
			}
			sh = &stationHours{labels: model.New("", pairs...), hours: NewStationHours(from.UnixMilli(), n)}
			out[id] = sh
		}
		if sh.counts[p] == nil {
			sh.counts[p] = make([]int, n)
		}
		for _, pt := range pts {
			i := sh.hours.HourIndex(pt.T)
			if i < 0 || i >= n || !valid(pt.V) {
				continue
			}
			// Two series of one pollutant at a station (two sensors) are averaged.
			c := sh.counts[p][i]
			old := sh.hours.At(p, i)
			if c == 0 || math.IsNaN(old) {
				sh.hours.Set(p, i, pt.V)
			} else {
				sh.hours.Set(p, i, (old*float64(c)+pt.V)/float64(c+1))
			}
			sh.counts[p][i] = c + 1
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("aqi job: read hourly means %s..%s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return out, nil
}

// appendResult appends a sample per valid sub-index and one for the overall index.
func appendResult(dst []model.Sample, metric string, base model.Labels, t int64, r Result) []model.Sample {
	for _, p := range Pollutants() {
		if s := r.Sub[p]; s.OK {
			dst = append(dst, model.Sample{Labels: withMetric(base, metric, p.String()), T: t, V: float64(s.AQI())})
		}
	}
	if r.OK {
		dst = append(dst, model.Sample{Labels: withMetric(base, metric, OverallLabel), T: t, V: float64(r.AQI)})
	}
	return dst
}

func withMetric(base model.Labels, metric, pollutant string) model.Labels {
	return base.With(model.MetricName, metric).With(LabelPollutant, pollutant)
}

func sampleKey(s model.Sample) writtenKey {
	h := fnv.New64a()
	for _, l := range s.Labels {
		h.Write([]byte(l.Name))
		h.Write([]byte{0})
		h.Write([]byte(l.Value))
		h.Write([]byte{0})
	}
	return writtenKey{series: h.Sum64(), t: s.T}
}

// changed drops samples whose value equals what was last written.
func (j *AQIJob) changed(batch []model.Sample) []model.Sample {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := batch[:0]
	for _, s := range batch {
		if v, ok := j.written[sampleKey(s)]; ok && v == s.V {
			continue
		}
		out = append(out, s)
	}
	return out
}

func (j *AQIJob) remember(batch []model.Sample, rejected map[int]bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, s := range batch {
		if !rejected[i] {
			j.written[sampleKey(s)] = s.V
		}
	}
}

// prune forgets written values older than before.
func (j *AQIJob) prune(before time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	b := before.UnixMilli()
	for k := range j.written {
		if k.t < b {
			delete(j.written, k)
		}
	}
}

func truncHour(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, loc)
}

func truncDay(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}
