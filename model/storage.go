package model

import (
	"context"
	"fmt"
	"time"
)

// AppendResult says what happened to a batch: how many samples were stored
// and, for each rejected one, its index in the batch and why.
type AppendResult struct {
	Stored   int           `json:"stored"`
	Rejected int           `json:"rejected"`
	Errors   []SampleError `json:"errors,omitempty"`
}

// SampleError is the reason one sample of a batch was rejected.
type SampleError struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// Reject records that sample i was rejected for err.
func (r *AppendResult) Reject(i int, err error) {
	r.Rejected++
	r.Errors = append(r.Errors, SampleError{Index: i, Reason: err.Error()})
}

// Writer stores batches of samples. Append validates each sample, stores the
// good ones and reports the bad ones in the result; it returns an error only
// when the batch as a whole could not be made durable (disk, closed store),
// in which case nothing of it is acknowledged.
type Writer interface {
	Append(ctx context.Context, batch []Sample) (AppendResult, error)
}

// AggFunc names an aggregate over the samples of one step.
type AggFunc string

// Aggregates every backend supports.
const (
	AggAvg   AggFunc = "avg"
	AggMin   AggFunc = "min"
	AggMax   AggFunc = "max"
	AggSum   AggFunc = "sum"
	AggCount AggFunc = "count"
	AggFirst AggFunc = "first"
	AggLast  AggFunc = "last"
)

// ParseAggFunc checks an aggregate name.
func ParseAggFunc(s string) (AggFunc, error) {
	switch f := AggFunc(s); f {
	case AggAvg, AggMin, AggMax, AggSum, AggCount, AggFirst, AggLast:
		return f, nil
	}
	return "", fmt.Errorf("unknown aggregate %q: want avg, min, max, sum, count, first or last", s)
}

// SelectQuery asks for the raw points of matching series in [From, To] (ms, inclusive).
type SelectQuery struct {
	Matchers []*Matcher
	From, To int64
	// IncludeBad returns samples of any quality; by default only good ones.
	IncludeBad bool
}

// AggregateQuery asks for one value per step bucket per series.
//
// Buckets are aligned in Location: a bucket starts at local midnight plus a
// whole number of steps, so Step=24h gives calendar days in Location
// (Asia/Ho_Chi_Minh by default in the api). Each output point has T = bucket
// start (UTC ms) and is present only when the bucket holds at least one sample.
// Samples whose quality is not good are left out unless IncludeBad.
type AggregateQuery struct {
	Matchers   []*Matcher
	From, To   int64 // ms; buckets that start in [From, To]
	Step       time.Duration
	Func       AggFunc
	Location   *time.Location // nil means UTC
	IncludeBad bool
}

// SeriesFunc receives one series and its points in time order. The slice is
// only valid during the call. Returning an error stops the query with it.
type SeriesFunc func(ls Labels, pts []Point) error

// Reader answers queries. Each call delivers series one at a time through fn,
// in label order, so a caller can stream the answer out.
type Reader interface {
	Select(ctx context.Context, q SelectQuery, fn SeriesFunc) error
	Aggregate(ctx context.Context, q AggregateQuery, fn SeriesFunc) error
	// Latest gives, for each matching series, its newest sample (any quality).
	Latest(ctx context.Context, ms []*Matcher, fn func(ls Labels, p Point) error) error
	// LabelNames lists label names of matching series (all series when ms is empty).
	LabelNames(ctx context.Context, ms []*Matcher) ([]string, error)
	// LabelValues lists values of one label across matching series.
	LabelValues(ctx context.Context, name string, ms []*Matcher) ([]string, error)
}

// Storage is a backend the api and alerting run on: the embedded tsdb, or
// VictoriaMetrics in scale-out mode.
type Storage interface {
	Writer
	Reader
	Close() error
}
