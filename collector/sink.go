package collector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/quantrac/quantrac/model"
)

// Sink delivers batches of samples. Send returns nil only once the
// receiver has stored the batch; an error wrapping *PermanentError means
// resending cannot help; any other error is retried with backoff.
type Sink interface {
	Send(ctx context.Context, batch []model.Sample) error
	// Stations announces station metadata (names, coordinates); sinks
	// without a place for it return nil.
	Stations(ctx context.Context, stations []model.Station) error
	Name() string
	Close() error
}

// PermanentError marks a batch the receiver will never accept (malformed
// request); the sender logs it and moves on instead of retrying forever.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// RetryAfterError asks the sender to wait at least After before retrying
// (HTTP 429/503 with Retry-After).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// checkResponse classifies an HTTP answer: nil for 2xx, RetryAfterError for
// 429/503, PermanentError for 400/404/405/413/422, a plain (retried) error
// otherwise. The body is added to the error. It always drains the body.
func checkResponse(what string, resp *http.Response) ([]byte, error) {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return body, nil
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	err := fmt.Errorf("%s: HTTP %d: %s", what, resp.StatusCode, msg)
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return nil, &RetryAfterError{After: parseRetryAfter(resp.Header.Get("Retry-After")), Err: err}
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return nil, &PermanentError{Err: err}
	}
	return nil, err
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(s string) time.Duration {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(s); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// writerSink stores into an in-process model.Writer (the embedded tsdb).
type writerSink struct {
	w     model.Writer
	close func() error
}

// NewWriterSink returns a sink that appends to w; closeFn (may be nil) runs
// on Close.
func NewWriterSink(w model.Writer, closeFn func() error) Sink {
	return &writerSink{w: w, close: closeFn}
}

func (s *writerSink) Name() string { return SinkTSDB }

func (s *writerSink) Send(ctx context.Context, batch []model.Sample) error {
	res, err := s.w.Append(ctx, batch)
	if err != nil {
		return fmt.Errorf("tsdb append of %d samples: %w", len(batch), err)
	}
	if res.Rejected > 0 {
		return &rejectedError{n: res.Rejected, errs: res.Errors}
	}
	return nil
}

func (s *writerSink) Stations(ctx context.Context, st []model.Station) error { return nil }

func (s *writerSink) Close() error {
	if s.close != nil {
		return s.close()
	}
	return nil
}

// rejectedError reports samples the receiver refused while storing the
// rest; the batch counts as delivered.
type rejectedError struct {
	n    int
	errs []model.SampleError
}

func (e *rejectedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d samples rejected", e.n)
	for i, se := range e.errs {
		if i == 3 {
			b.WriteString("; ...")
			break
		}
		fmt.Fprintf(&b, "; #%d: %s", se.Index, se.Reason)
	}
	return b.String()
}
