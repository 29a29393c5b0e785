package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/quantrac/quantrac/model"
)

// apiSink posts batches to the quantrac api (POST /api/v1/ingest).
type apiSink struct {
	base   string
	token  string
	gzip   bool
	client *http.Client
}

// NewAPISink returns a sink for the api at base URL (http://host:port).
func NewAPISink(c SinkConfig, client *http.Client) Sink {
	gz := c.Gzip == nil || *c.Gzip
	return &apiSink{base: strings.TrimRight(c.URL, "/"), token: c.Token, gzip: gz, client: client}
}

func (s *apiSink) Name() string { return SinkAPI }
func (s *apiSink) Close() error { return nil }

type ingestSeries struct {
	Labels map[string]string `json:"labels"`
	T      []int64           `json:"t"`
	V      []float64         `json:"v"`
	Q      []uint8           `json:"q,omitempty"`
}

type ingestRequest struct {
	Series []*ingestSeries `json:"series"`
}

type ingestResponse struct {
	Stored   int                 `json:"stored"`
	Rejected int                 `json:"rejected"`
	Errors   []model.SampleError `json:"errors"`
}

// encodeIngest groups a batch by series, keeping sample order within each.
// It also returns, per series, the batch index of each point, to map
// rejection indexes back.
func encodeIngest(batch []model.Sample) ingestRequest {
	var req ingestRequest
	byKey := map[string]*ingestSeries{}
	for i := range batch {
		s := &batch[i]
		k := s.Labels.String()
		se := byKey[k]
		if se == nil {
			se = &ingestSeries{Labels: s.Labels.Map()}
			byKey[k] = se
			req.Series = append(req.Series, se)
		}
		se.T = append(se.T, s.T)
		se.V = append(se.V, s.V)
		se.Q = append(se.Q, uint8(s.Q))
	}
	for _, se := range req.Series {
		allGood := true
		for _, q := range se.Q {
			if q != 0 {
				allGood = false
				break
			}
		}
		if allGood {
			se.Q = nil
		}
	}
	return req
}

// gzipPool reuses compressors (each holds about a megabyte of state).
var gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}

// encodeBody appends v as JSON, gzip-compressed when gz, to body.
func encodeBody(body *bytes.Buffer, v any, gz bool) error {
	if !gz {
		return json.NewEncoder(body).Encode(v)
	}
	zw := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(zw)
	zw.Reset(body)
	err := json.NewEncoder(zw).Encode(v)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *apiSink) post(ctx context.Context, path string, v any) ([]byte, error) {
	var body bytes.Buffer
	err := encodeBody(&body, v, s.gzip)
	if err != nil {
		return nil, &PermanentError{Err: fmt.Errorf("api %s: encode: %w", path, err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+path, &body)
	if err != nil {
		return nil, &PermanentError{Err: fmt.Errorf("api %s: %w", path, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	if s.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("api POST %s: %w", path, err)
	}
	return checkResponse("api POST "+path, resp)
}

func (s *apiSink) Send(ctx context.Context, batch []model.Sample) error {
	body, err := s.post(ctx, "/api/v1/ingest", encodeIngest(batch))
	if err != nil {
		return err
	}
	var res ingestResponse
	if err := json.Unmarshal(body, &res); err != nil {
		// Stored (2xx) but the answer is odd: do not resend.
		return nil
	}
	if res.Rejected > 0 {
		return &rejectedError{n: res.Rejected, errs: res.Errors}
	}
	return nil
}

func (s *apiSink) Stations(ctx context.Context, st []model.Station) error {
	_, err := s.post(ctx, "/api/v1/stations", st)
	return err
}
