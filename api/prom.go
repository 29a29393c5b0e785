package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/quantrac/quantrac/api/promstore"
	"github.com/quantrac/quantrac/model"
)

// maxResolution is Prometheus' cap on points per series of a range query.
const maxResolution = 11000

// promAPI serves the Prometheus HTTP API (the parts Grafana uses) with the
// promql engine over the server's storage.
type promAPI struct {
	s      *Server
	engine *promql.Engine
	parser parser.Parser
}

func newPromAPI(s *Server) *promAPI {
	p := parser.NewParser(parser.Options{})
	eng := promql.NewEngine(promql.EngineOpts{
		Logger:                   slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxSamples:               s.cfg.Limits.MaxQuerySamples,
		Timeout:                  s.cfg.Limits.QueryTimeout,
		LookbackDelta:            5 * time.Minute,
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
		Parser:                   p,
	})
	return &promAPI{s: s, engine: eng, parser: p}
}

// queryable returns the storage as a Prometheus Queryable scoped to the caller.
func (a *promAPI) queryable(c *fiber.Ctx) storage.Queryable {
	return &promstore.Queryable{Reader: a.s.store, Extra: scopeMatchers(principalOf(c), nil)}
}

// rawQueryable is the storage without a caller's scope (alert rules).
func (a *promAPI) rawQueryable() storage.Queryable {
	return &promstore.Queryable{Reader: a.s.store}
}

func promSuccess(c *fiber.Ctx, data []byte, warnings []string) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	b := make([]byte, 0, len(data)+64)
	b = append(b, `{"status":"success","data":`...)
	b = append(b, data...)
	if len(warnings) > 0 {
		b = append(b, `,"warnings":[`...)
		for i, w := range warnings {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, w)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	return c.Send(b)
}

func appendPromFloat(b []byte, v float64) []byte {
	b = append(b, '"')
	switch {
	case math.IsNaN(v):
		b = append(b, "NaN"...)
	case math.IsInf(v, 1):
		b = append(b, "+Inf"...)
	case math.IsInf(v, -1):
		b = append(b, "-Inf"...)
	default:
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	return append(b, '"')
}

func appendPromTime(b []byte, t int64) []byte {
	return strconv.AppendFloat(b, float64(t)/1000, 'f', -1, 64)
}

func appendPromLabels(b []byte, ls labels.Labels) []byte {
	b = append(b, '{')
	first := true
	ls.Range(func(l labels.Label) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, l.Name)
		b = append(b, ':')
		b = appendJSONString(b, l.Value)
	})
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, UTF-8 kept as is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendPromPoint appends a sample as [unix seconds, "value"].
func appendPromPoint(b []byte, t int64, f float64) []byte {
	b = append(b, '[')
	b = appendPromTime(b, t)
	b = append(b, ',')
	b = appendPromFloat(b, f)
	return append(b, ']')
}

// appendResult renders a promql result as the Prometheus API does.
func appendResult(b []byte, v parser.Value) []byte {
	b = append(b, `{"resultType":"`...)
	b = append(b, v.Type()...)
	b = append(b, `","result":`...)
	switch r := v.(type) {
	case promql.Vector:
		b = append(b, '[')
		for i, s := range r {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendPromLabels(b, s.Metric)
			b = append(b, `,"value":`...)
			b = appendPromPoint(b, s.T, s.F)
			b = append(b, '}')
		}
		b = append(b, ']')
	case promql.Matrix:
		b = append(b, '[')
		for i, s := range r {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendPromLabels(b, s.Metric)
			b = append(b, `,"values":[`...)
			for j, p := range s.Floats {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendPromPoint(b, p.T, p.F)
			}
			b = append(b, "]}"...)
		}
		b = append(b, ']')
	case promql.Scalar:
		b = appendPromPoint(b, r.T, r.V)
	case promql.String:
		b = append(b, '[')
		b = appendPromTime(b, r.T)
		b = append(b, ',')
		b = appendJSONString(b, r.V)
		b = append(b, ']')
	default:
		b = append(b, "null"...)
	}
	return append(b, '}')
}

// queryError maps a promql error to an answer.
func (a *promAPI) queryError(err error) error {
	var eqc promql.ErrQueryCanceled
	var eqt promql.ErrQueryTimeout
	var es promql.ErrStorage
	var pe parser.ParseErrors
	var ep *parser.ParseErr
	var tms promql.ErrTooManySamples
	switch {
	case errors.As(err, &tms):
		return badRequest("query loads more than %d samples (limits.max_query_samples): shorten the range or raise the step: %v", a.s.cfg.Limits.MaxQuerySamples, err)
	case errors.As(err, &pe), errors.As(err, &ep):
		return badRequest("query: %v", err)
	case errors.As(err, &eqt), errors.Is(err, context.DeadlineExceeded):
		return &httpError{status: fiber.StatusServiceUnavailable, typ: errTimeout, msg: err.Error()}
	case errors.As(err, &eqc), errors.Is(err, context.Canceled):
		return &httpError{status: fiber.StatusServiceUnavailable, typ: "canceled", msg: err.Error()}
	case errors.As(err, &es):
		return &httpError{status: fiber.StatusInternalServerError, typ: errInternal, msg: err.Error()}
	}
	return &httpError{status: fiber.StatusUnprocessableEntity, typ: errExecution, msg: err.Error()}
}

func (a *promAPI) queryCtx(c *fiber.Ctx) (context.Context, context.CancelFunc, error) {
	timeout := a.s.cfg.Limits.QueryTimeout
	if ts := formValue(c, "timeout"); ts != "" {
		d, err := parseStep(ts)
		if err != nil {
			return nil, nil, badRequest("timeout: %v", err)
		}
		if d < timeout {
			timeout = d
		}
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), timeout)
	return ctx, cancel, nil
}

func (a *promAPI) lookback(c *fiber.Ctx) (promql.QueryOpts, error) {
	var lb time.Duration
	if s := formValue(c, "lookback_delta"); s != "" {
		d, err := parseStep(s)
		if err != nil {
			return nil, badRequest("lookback_delta: %v", err)
		}
		lb = d
	}
	return promql.NewPrometheusQueryOpts(false, lb, nil), nil
}

// handleQuery is GET|POST /api/v1/query.
func (a *promAPI) handleQuery(c *fiber.Ctx) error {
	if err := checkFormParams(c, "query", "time", "timeout", "limit", "stats", "lookback_delta"); err != nil {
		return err
	}
	qs := formValue(c, "query")
	if qs == "" {
		return badRequest("query: parameter is required")
	}
	ts := time.Now()
	if s := formValue(c, "time"); s != "" {
		t, err := parsePromTime(s)
		if err != nil {
			return badRequest("time: %v", err)
		}
		ts = time.UnixMilli(t)
	}
	if err := a.checkSubqueries(qs, 0); err != nil {
		return err
	}
	return a.runQuery(c, func(ctx context.Context, opts promql.QueryOpts) (promql.Query, error) {
		return a.engine.NewInstantQuery(ctx, a.queryable(c), opts, qs, ts)
	})
}

// maxSubquerySteps bounds the steps one subquery may evaluate. The promql
// engine allocates per-step arrays for every subquery step before it reads
// any data, so `x[1y:1ms]` (3·10¹⁰ steps) ended the process out of memory
// on one viewer's request.
const maxSubquerySteps = 1_000_000

// checkSubqueries refuses a query whose subqueries would evaluate more than
// maxSubquerySteps steps over a query spanning span (0 for instant
// queries). A query that does not parse is left to the engine's error.
func (a *promAPI) checkSubqueries(qs string, span time.Duration) error {
	expr, err := a.parser.ParseExpr(qs)
	if err != nil || expr == nil {
		return nil
	}
	var bad error
	parser.Inspect(expr, func(node parser.Node, path []parser.Node) error {
		sq, ok := node.(*parser.SubqueryExpr)
		if !ok || bad != nil {
			return nil
		}
		// An inner subquery runs over the outer ones' ranges as well.
		total := span + sq.Range
		for _, p := range path {
			if outer, ok := p.(*parser.SubqueryExpr); ok && outer != sq {
				total += outer.Range
			}
		}
		step := sq.Step
		if step <= 0 {
			step = time.Minute // NoStepSubqueryIntervalFn
		}
		if n := int64(total / step); n > maxSubquerySteps {
			bad = badRequest("query: subquery %s would evaluate %d steps, more than %d; use a coarser step or a shorter range", sq.String(), n, maxSubquerySteps)
		}
		return nil
	})
	return bad
}

// runQuery reads lookback_delta and timeout, builds a query with newQuery,
// runs it and answers with its result.
func (a *promAPI) runQuery(c *fiber.Ctx, newQuery func(ctx context.Context, opts promql.QueryOpts) (promql.Query, error)) error {
	opts, err := a.lookback(c)
	if err != nil {
		return err
	}
	ctx, cancel, err := a.queryCtx(c)
	if err != nil {
		return err
	}
	defer cancel()
	qry, err := newQuery(ctx, opts)
	if err != nil {
		return a.queryError(err)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return a.queryError(res.Err)
	}
	return promSuccess(c, appendResult(nil, res.Value), warningStrings(res))
}

func warningStrings(res *promql.Result) []string {
	var out []string
	for _, w := range res.Warnings {
		out = append(out, w.Error())
	}
	return out
}

// handleQueryRange is GET|POST /api/v1/query_range.
func (a *promAPI) handleQueryRange(c *fiber.Ctx) error {
	if err := checkFormParams(c, "query", "start", "end", "step", "timeout", "limit", "stats", "lookback_delta"); err != nil {
		return err
	}
	qs := formValue(c, "query")
	if qs == "" {
		return badRequest("query: parameter is required")
	}
	var start, end int64
	var err error
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"start", &start}, {"end", &end}} {
		v := formValue(c, p.name)
		if v == "" {
			return badRequest("%s: parameter is required", p.name)
		}
		if *p.dst, err = parsePromTime(v); err != nil {
			return badRequest("%s: %v", p.name, err)
		}
	}
	if end < start {
		return badRequest("end: end timestamp must not be before start time")
	}
	sv := formValue(c, "step")
	if sv == "" {
		return badRequest("step: parameter is required")
	}
	step, err := parseStep(sv)
	if err != nil {
		return badRequest("step: %v", err)
	}
	if (end-start)/step.Milliseconds() > maxResolution {
		return badRequest("exceeded maximum resolution of %d points per timeseries. Try decreasing the query resolution (?step=XX)", maxResolution)
	}
	if err := a.checkSubqueries(qs, time.Duration(end-start)*time.Millisecond); err != nil {
		return err
	}
	return a.runQuery(c, func(ctx context.Context, opts promql.QueryOpts) (promql.Query, error) {
		return a.engine.NewRangeQuery(ctx, a.queryable(c), opts, qs, time.UnixMilli(start), time.UnixMilli(end), step)
	})
}

// promRange reads start/end of the metadata routes (default: all time).
func promRange(c *fiber.Ctx) (int64, int64, error) {
	start, end := model.MinTime, model.MaxTime-1
	if s := formValue(c, "start"); s != "" {
		t, err := parsePromTime(s)
		if err != nil {
			return 0, 0, badRequest("start: %v", err)
		}
		start = max(t, model.MinTime)
	}
	if s := formValue(c, "end"); s != "" {
		t, err := parsePromTime(s)
		if err != nil {
			return 0, 0, badRequest("end: %v", err)
		}
		end = min(t, model.MaxTime-1)
	}
	if end < start {
		return 0, 0, badRequest("end: end timestamp must not be before start time")
	}
	return start, end, nil
}

// parseMatchSets parses match[] selectors as PromQL series selectors.
func (a *promAPI) parseMatchSets(c *fiber.Ctx) ([][]*labels.Matcher, error) {
	var out [][]*labels.Matcher
	for _, m := range formValues(c, "match[]") {
		ms, err := a.parser.ParseMetricSelector(m)
		if err != nil {
			return nil, badRequest("match[] %q: %v", m, err)
		}
		out = append(out, ms)
	}
	return out, nil
}

func limitParam(c *fiber.Ctx) (int, error) {
	s := formValue(c, "limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badRequest("limit %q: want a non-negative integer", s)
	}
	return n, nil
}

// matchQuery holds the parameters /series and the label endpoints share.
type matchQuery struct {
	sets       [][]*labels.Matcher
	limit      int
	start, end int64
}

// parseMatchQuery reads match[] (required when requireMatch), limit, start
// and end, in that order of checking.
func (a *promAPI) parseMatchQuery(c *fiber.Ctx, requireMatch bool) (matchQuery, error) {
	var mq matchQuery
	if err := checkFormParams(c, "match[]", "start", "end", "limit"); err != nil {
		return mq, err
	}
	var err error
	if mq.sets, err = a.parseMatchSets(c); err != nil {
		return mq, err
	}
	if requireMatch && len(mq.sets) == 0 {
		return mq, badRequest("match[]: no match[] parameter provided")
	}
	if mq.limit, err = limitParam(c); err != nil {
		return mq, err
	}
	if mq.start, mq.end, err = promRange(c); err != nil {
		return mq, err
	}
	return mq, nil
}

// truncateToLimit cuts xs to limit items (0: no limit) and returns the
// warning Prometheus gives when it did.
func truncateToLimit[T any](xs []T, limit int) ([]T, []string) {
	if limit > 0 && len(xs) > limit {
		return xs[:limit], []string{"results truncated due to limit"}
	}
	return xs, nil
}

// handleSeries is GET|POST /api/v1/series with match[] (Prometheus).
func (a *promAPI) handleSeries(c *fiber.Ctx) error {
	mq, err := a.parseMatchQuery(c, true)
	if err != nil {
		return err
	}
	q, _ := a.queryable(c).Querier(mq.start, mq.end)
	defer q.Close()
	seen := map[string]labels.Labels{}
	hints := &storage.SelectHints{Start: mq.start, End: mq.end, Func: "series"}
	for _, ms := range mq.sets {
		ss := q.Select(c.UserContext(), false, hints, ms...)
		for ss.Next() {
			ls := ss.At().Labels()
			seen[ls.String()] = ls
		}
		if err := ss.Err(); err != nil {
			return a.queryError(promql.ErrStorage{Err: err})
		}
	}
	all := make([]labels.Labels, 0, len(seen))
	for _, ls := range seen {
		all = append(all, ls)
	}
	sort.Slice(all, func(i, j int) bool { return labels.Compare(all[i], all[j]) < 0 })
	all, warnings := truncateToLimit(all, mq.limit)
	b := []byte{'['}
	for i, ls := range all {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPromLabels(b, ls)
	}
	b = append(b, ']')
	return promSuccess(c, b, warnings)
}

func appendStrings(b []byte, xs []string) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, x)
	}
	return append(b, ']')
}

// labelQuery runs fn over the union of match[] sets (or all series).
func (a *promAPI) labelQuery(c *fiber.Ctx, fn func(q storage.Querier, ms []*labels.Matcher) ([]string, error)) error {
	mq, err := a.parseMatchQuery(c, false)
	if err != nil {
		return err
	}
	q, _ := a.queryable(c).Querier(mq.start, mq.end)
	defer q.Close()
	sets := mq.sets
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	set := map[string]bool{}
	for _, ms := range sets {
		vals, err := fn(q, ms)
		if err != nil {
			return &httpError{status: fiber.StatusInternalServerError, typ: errInternal, msg: err.Error()}
		}
		for _, v := range vals {
			set[v] = true
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	out, warnings := truncateToLimit(out, mq.limit)
	return promSuccess(c, appendStrings(nil, out), warnings)
}

// handleLabels is GET|POST /api/v1/labels.
func (a *promAPI) handleLabels(c *fiber.Ctx) error {
	return a.labelQuery(c, func(q storage.Querier, ms []*labels.Matcher) ([]string, error) {
		names, _, err := q.LabelNames(c.UserContext(), nil, ms...)
		return names, err
	})
}

// handleLabelValues is GET /api/v1/label/:name/values.
func (a *promAPI) handleLabelValues(c *fiber.Ctx) error {
	name := c.Params("name")
	if !model.ValidLabelName(name) && name != model.MetricName {
		return badRequest("invalid label name: %q", name)
	}
	return a.labelQuery(c, func(q storage.Querier, ms []*labels.Matcher) ([]string, error) {
		vals, _, err := q.LabelValues(c.UserContext(), name, nil, ms...)
		return vals, err
	})
}

// handleBuildInfo is GET /api/v1/status/buildinfo.
func (a *promAPI) handleBuildInfo(c *fiber.Ctx) error {
	if err := checkFormParams(c); err != nil {
		return err
	}
	b := []byte(`{"version":"3.0.0","revision":"quantrac","branch":"main","buildUser":"quantrac","buildDate":"","goVersion":`)
	b = appendJSONString(b, runtime.Version())
	b = append(b, '}')
	return promSuccess(c, b, nil)
}

// handleMetadata is GET /api/v1/metadata: every series name as a gauge.
func (a *promAPI) handleMetadata(c *fiber.Ctx) error {
	if err := checkFormParams(c, "metric", "limit", "limit_per_metric"); err != nil {
		return err
	}
	limit, err := limitParam(c)
	if err != nil {
		return err
	}
	ms := scopeMatchers(principalOf(c), nil)
	names, err := a.s.store.LabelValues(c.UserContext(), model.MetricName, ms)
	if err != nil {
		return err
	}
	metric := formValue(c, "metric")
	b := []byte{'{'}
	n := 0
	for _, name := range names {
		if metric != "" && name != metric {
			continue
		}
		if limit > 0 && n >= limit {
			break
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendJSONString(b, name)
		b = append(b, `:[{"type":"gauge","help":"","unit":""}]`...)
	}
	b = append(b, '}')
	return promSuccess(c, b, nil)
}

// handleEmptyList answers routes Grafana probes that quantrac has no data
// for (query_exemplars) with an empty list.
func (a *promAPI) handleEmptyList(c *fiber.Ctx) error {
	return promSuccess(c, []byte("[]"), nil)
}

// handleFormatQuery is GET|POST /api/v1/format_query: the query pretty-printed.
func (a *promAPI) handleFormatQuery(c *fiber.Ctx) error {
	if err := checkFormParams(c, "query"); err != nil {
		return err
	}
	qs := formValue(c, "query")
	if qs == "" {
		return badRequest("query: parameter is required")
	}
	expr, err := a.parser.ParseExpr(qs)
	if err != nil {
		return badRequest("query: %v", err)
	}
	return promSuccess(c, appendJSONString(nil, expr.Pretty(0)), nil)
}
