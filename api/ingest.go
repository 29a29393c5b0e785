package api

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/quantrac/quantrac/model"
)

// maxErrorsInAnswer caps the per-sample reasons listed in an ingest answer;
// the counts stay exact.
const maxErrorsInAnswer = 100

// ingestAnswer is the JSON answer of every ingest route.
type ingestAnswer struct {
	Stored          int                 `json:"stored"`
	Rejected        int                 `json:"rejected"`
	Errors          []model.SampleError `json:"errors,omitempty"`
	ErrorsTruncated int                 `json:"errors_truncated,omitempty"`
}

func newAnswer(res *model.AppendResult) ingestAnswer {
	sort.SliceStable(res.Errors, func(i, j int) bool { return res.Errors[i].Index < res.Errors[j].Index })
	a := ingestAnswer{Stored: res.Stored, Rejected: res.Rejected, Errors: res.Errors}
	if len(a.Errors) > maxErrorsInAnswer {
		a.ErrorsTruncated = len(a.Errors) - maxErrorsInAnswer
		a.Errors = a.Errors[:maxErrorsInAnswer]
	}
	return a
}

// readBody returns the request body, decompressed per Content-Encoding
// (gzip, deflate or none) and bounded by limits.max_body_bytes.
func (s *Server) readBody(c *fiber.Ctx) ([]byte, error) {
	raw := c.Request().Body()
	enc := strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding)))
	var r io.Reader
	switch enc {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, badRequest("gzip body: %v", err)
		}
		defer zr.Close()
		r = zr
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, badRequest("deflate body: %v", err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, newHTTPError(fiber.StatusUnsupportedMediaType, errBadData, "Content-Encoding %q: want gzip, deflate or none", enc)
	}
	limit := int64(s.cfg.Limits.MaxBodyBytes)
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, badRequest("%s body: %v", enc, err)
	}
	if int64(len(data)) > limit {
		return nil, newHTTPError(fiber.StatusRequestEntityTooLarge, errTooLarge, "decompressed body exceeds %d bytes (limits.max_body_bytes)", limit)
	}
	return data, nil
}

// storeBatch checks scope, tenant limits and samples, writes the good ones
// and adds the outcome to res. src[i] is the index reported for batch[i]
// (the sample index or input line). Nothing is dropped silently: every
// sample is either stored or listed with a reason.
func (s *Server) storeBatch(c *fiber.Ctx, format string, batch []model.Sample, src []int, res *model.AppendResult) error {
	if len(batch) > s.cfg.Limits.MaxSamplesPerRequest {
		return newHTTPError(fiber.StatusRequestEntityTooLarge, errTooLarge,
			"%d samples in one request; the limit is %d (limits.max_samples_per_request): split the batch", len(batch), s.cfg.Limits.MaxSamplesPerRequest)
	}
	p := principalOf(c)
	good := batch[:0:0]
	var goodSrc []int
	var lastLabels model.Labels
	var lastOK bool
	var lastErr error
	for i := range batch {
		smp := &batch[i]
		// Consecutive samples of one series share its Labels (the parsers
		// reuse them), so the series checks run once per run of samples.
		if len(smp.Labels) == 0 || len(lastLabels) == 0 || &smp.Labels[0] != &lastLabels[0] || len(smp.Labels) != len(lastLabels) {
			lastLabels = smp.Labels
			lastOK, lastErr = s.checkSeries(p, smp.Labels)
		}
		if !lastOK {
			res.Reject(src[i], lastErr)
			continue
		}
		if err := validatePoint(smp); err != nil {
			res.Reject(src[i], err)
			continue
		}
		good = append(good, *smp)
		goodSrc = append(goodSrc, src[i])
	}
	if len(good) == 0 {
		s.countIngest(format, 0, res.Rejected)
		return nil
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.cfg.Limits.InsertWait+time.Minute)
	defer cancel()
	release, err := s.insert.acquire(ctx)
	if err != nil {
		return err
	}
	ar, err := s.store.Append(ctx, good)
	release()
	if err != nil {
		s.log.Error().Err(err).Int("samples", len(good)).Str("format", format).Msg("append batch")
		return &httpError{status: fiber.StatusServiceUnavailable, typ: errUnavailable, retryAfter: 5,
			msg: fmt.Sprintf("storage did not accept the batch (nothing of it is stored; retry): %v", err)}
	}
	var rejected map[int]bool
	for _, e := range ar.Errors {
		if e.Index < 0 || e.Index >= len(good) {
			res.Reject(-1, errors.New(e.Reason))
			continue
		}
		if rejected == nil {
			rejected = map[int]bool{}
		}
		rejected[e.Index] = true
		res.Reject(goodSrc[e.Index], errors.New(e.Reason))
	}
	res.Stored += ar.Stored
	s.countIngest(format, ar.Stored, res.Rejected)
	if len(s.observers) > 0 {
		stored := good
		if len(rejected) > 0 {
			stored = make([]model.Sample, 0, len(good)-len(rejected))
			for i := range good {
				if !rejected[i] {
					stored = append(stored, good[i])
				}
			}
		}
		for _, o := range s.observers {
			o.Observe(s.ctx, stored)
		}
	}
	return nil
}

// validatePoint is model.Sample.Validate without the label checks, which
// checkSeries ran once for the series.
func validatePoint(smp *model.Sample) error {
	if math.IsNaN(smp.V) || math.IsInf(smp.V, 0) {
		return fmt.Errorf("series %s at %d: value %v is not a finite number", smp.Labels, smp.T, smp.V)
	}
	if smp.T < model.MinTime || smp.T >= model.MaxTime {
		return fmt.Errorf("series %s: timestamp %d ms is outside [1970, 2262)", smp.Labels, smp.T)
	}
	return nil
}

// checkSeries validates a series' labels and applies the token's province
// scope and the tenant series limit.
func (s *Server) checkSeries(p principal, ls model.Labels) (bool, error) {
	if err := ls.Validate(); err != nil {
		return false, err
	}
	prov := ls.Get(model.LabelProvince)
	if p.Province != "" && prov != p.Province {
		return false, fmt.Errorf("series %s: token %q may only write province %q", ls, p.Name, p.Province)
	}
	if !s.tenants.admit(prov, s.tenants.hash(ls), false) {
		return false, fmt.Errorf("series %s: province %q already has %d series (limits.max_series_per_tenant)", ls, prov, s.cfg.Limits.MaxSeriesPerTenant)
	}
	return true, nil
}

func (s *Server) countIngest(format string, stored, rejected int) {
	s.metrics.GetOrCreateCounter(`quantrac_api_ingest_samples_total{format="` + format + `"}`).Add(stored)
	if rejected > 0 {
		s.metrics.GetOrCreateCounter(`quantrac_api_ingest_rejected_total{format="` + format + `"}`).Add(rejected)
	}
}

// nativeIngest is the collector's batch format (TEAM contract).
type nativeIngest struct {
	Series []nativeSeries `json:"series"`
}

type nativeSeries struct {
	Labels map[string]string `json:"labels"`
	T      []int64           `json:"t"`
	V      []float64         `json:"v"`
	Q      []uint8           `json:"q"`
}

// decodeJSON decodes strictly (unknown fields are errors) and names the
// problem: syntax offset, wrong type and field.
func decodeJSON(data []byte, dst any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return badRequest("%s: malformed JSON at byte %d: %v", what, se.Offset, se)
		case errors.As(err, &te):
			return badRequest("%s: field %q: got JSON %s, want %s", what, te.Field, te.Value, te.Type)
		case errors.Is(err, io.EOF):
			return badRequest("%s: empty body", what)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badRequest("%s: malformed JSON: the body ends in the middle of a value", what)
		}
		return badRequest("%s: %v", what, err)
	}
	if dec.More() {
		return badRequest("%s: extra data after the JSON value", what)
	}
	return nil
}

// handleIngest is POST /api/v1/ingest.
func (s *Server) handleIngest(c *fiber.Ctx) error {
	if err := checkParams(c); err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	var req nativeIngest
	if err := decodeJSON(body, &req, "ingest body"); err != nil {
		return err
	}
	var res model.AppendResult
	n := 0
	for _, sr := range req.Series {
		n += len(sr.T)
	}
	if n > s.cfg.Limits.MaxSamplesPerRequest {
		return newHTTPError(fiber.StatusRequestEntityTooLarge, errTooLarge,
			"%d samples in one request; the limit is %d (limits.max_samples_per_request): split the batch", n, s.cfg.Limits.MaxSamplesPerRequest)
	}
	batch := make([]model.Sample, 0, n)
	src := make([]int, 0, n)
	idx := 0
	for si, sr := range req.Series {
		ls := model.FromMap(sr.Labels)
		var serr error
		switch {
		case len(sr.V) != len(sr.T):
			serr = fmt.Errorf("series %d %s: %d timestamps but %d values", si, ls, len(sr.T), len(sr.V))
		case len(sr.Q) != 0 && len(sr.Q) != len(sr.T):
			serr = fmt.Errorf("series %d %s: %d timestamps but %d quality codes", si, ls, len(sr.T), len(sr.Q))
		}
		for i := range sr.T {
			if serr != nil {
				res.Reject(idx, serr)
				idx++
				continue
			}
			var q model.Quality
			if len(sr.Q) > 0 {
				q = model.Quality(sr.Q[i])
			}
			batch = append(batch, model.Sample{Labels: ls, T: sr.T[i], V: sr.V[i], Q: q})
			src = append(src, idx)
			idx++
		}
		if len(sr.T) == 0 && len(sr.V) > 0 {
			res.Reject(idx, fmt.Errorf("series %d %s: values without timestamps", si, ls))
		}
	}
	if err := s.storeBatch(c, "native", batch, src, &res); err != nil {
		return err
	}
	return c.JSON(newAnswer(&res))
}

// handleStationsUpsert is POST /api/v1/stations.
func (s *Server) handleStationsUpsert(c *fiber.Ctx) error {
	if err := checkParams(c); err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	var list []model.Station
	if err := decodeJSON(body, &list, "stations body (a JSON array of stations)"); err != nil {
		return err
	}
	p := principalOf(c)
	var res model.AppendResult
	good := make([]model.Station, 0, len(list))
	for i, st := range list {
		if err := validateStation(st); err != nil {
			res.Reject(i, err)
			continue
		}
		if p.Province != "" && st.Province != p.Province {
			res.Reject(i, fmt.Errorf("station %q: token %q may only write province %q", st.ID, p.Name, p.Province))
			continue
		}
		good = append(good, st)
	}
	if len(good) > 0 {
		if err := s.stations.Upsert(good); err != nil {
			return err
		}
		if s.alerts != nil {
			s.alerts.SetStations(s.stations.List())
		}
	}
	res.Stored = len(good)
	if len(good) == 0 && res.Rejected > 0 {
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{
			"status": "error", "errorType": errBadData, "error": res.Errors[0].Reason,
			"stored": 0, "rejected": res.Rejected, "errors": res.Errors,
		})
	}
	return c.JSON(newAnswer(&res))
}
