package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/quantrac/quantrac/model"
)

// QualityMetric is the companion series the victoriametrics sink writes for
// samples whose quality is not good: same labels plus metric="<name>",
// value = the model.Quality byte. A missing point means good.
const QualityMetric = "quantrac_quality"

// vmSink writes to VictoriaMetrics' /api/v1/import (JSON lines).
type vmSink struct {
	base    string
	cluster bool
	account string         // default tenant
	tenants map[string]int // province → accountID
	gzip    bool
	token   string
	client  *http.Client
}

// NewVMSink returns a sink for a VictoriaMetrics single-node URL, or with
// AccountID or Tenants set a vminsert URL (/insert/<accountID>/prometheus/api/v1/import,
// the accountID chosen by the sample's province).
func NewVMSink(c SinkConfig, client *http.Client) Sink {
	s := &vmSink{base: strings.TrimRight(c.URL, "/"), account: c.AccountID, tenants: c.Tenants, gzip: c.Gzip == nil || *c.Gzip, token: c.Token, client: client}
	s.cluster = c.AccountID != "" || len(c.Tenants) > 0
	if s.account == "" {
		s.account = "0"
	}
	return s
}

// url is the import URL of a tenant ("" in single-node mode).
func (s *vmSink) url(tenant string) string {
	if !s.cluster {
		return s.base + "/api/v1/import"
	}
	return s.base + "/insert/" + tenant + "/prometheus/api/v1/import"
}

// tenantOf is the accountID of a province.
func (s *vmSink) tenantOf(province string) string {
	if id, ok := s.tenants[province]; ok {
		return strconv.Itoa(id)
	}
	return s.account
}

func (s *vmSink) Name() string { return SinkVictoriaMetrics }
func (s *vmSink) Close() error { return nil }

func (s *vmSink) Stations(ctx context.Context, st []model.Station) error { return nil }

type vmLine struct {
	Metric     map[string]string `json:"metric"`
	Values     []float64         `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

// appendVMImport appends the JSON lines of batch to dst.
func appendVMImport(dst *bytes.Buffer, batch []model.Sample) error {
	type series struct {
		line vmLine
		qual vmLine
	}
	var order []*series
	byKey := map[string]*series{}
	for i := range batch {
		s := &batch[i]
		if math.IsNaN(s.V) || math.IsInf(s.V, 0) {
			continue
		}
		k := s.Labels.String()
		se := byKey[k]
		if se == nil {
			m := s.Labels.Map()
			qm := s.Labels.Map()
			qm[model.MetricName] = QualityMetric
			qm["metric"] = s.Labels.Metric()
			se = &series{line: vmLine{Metric: m}, qual: vmLine{Metric: qm}}
			byKey[k] = se
			order = append(order, se)
		}
		se.line.Values = append(se.line.Values, s.V)
		se.line.Timestamps = append(se.line.Timestamps, s.T)
		if s.Q != 0 {
			se.qual.Values = append(se.qual.Values, float64(s.Q))
			se.qual.Timestamps = append(se.qual.Timestamps, s.T)
		}
	}
	enc := json.NewEncoder(dst)
	for _, se := range order {
		if err := enc.Encode(&se.line); err != nil {
			return err
		}
		if len(se.qual.Values) > 0 {
			if err := enc.Encode(&se.qual); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *vmSink) Send(ctx context.Context, batch []model.Sample) error {
	if !s.cluster || len(s.tenants) == 0 {
		return s.send(ctx, s.url(s.account), batch)
	}
	// One request per tenant, in order of first appearance.
	var order []string
	parts := map[string][]model.Sample{}
	for _, smp := range batch {
		t := s.tenantOf(smp.Labels.Get(model.LabelProvince))
		if _, ok := parts[t]; !ok {
			order = append(order, t)
		}
		parts[t] = append(parts[t], smp)
	}
	for _, t := range order {
		// A failure resends the whole batch: tenants already written get
		// duplicates, which VictoriaMetrics de-duplicates.
		if err := s.send(ctx, s.url(t), parts[t]); err != nil {
			return err
		}
	}
	return nil
}

func (s *vmSink) send(ctx context.Context, url string, batch []model.Sample) error {
	var raw bytes.Buffer
	if err := appendVMImport(&raw, batch); err != nil {
		return &PermanentError{Err: fmt.Errorf("victoriametrics import: encode: %w", err)}
	}
	body := &raw
	if s.gzip {
		var zb bytes.Buffer
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(&zb)
		zw.Write(raw.Bytes())
		zw.Close()
		gzipPool.Put(zw)
		body = &zb
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return &PermanentError{Err: fmt.Errorf("victoriametrics import: %w", err)}
	}
	req.Header.Set("Content-Type", "application/stream+json")
	req.Header.Set("Content-Length", strconv.Itoa(body.Len()))
	if s.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("victoriametrics import: %w", err)
	}
	_, err = checkResponse("victoriametrics import", resp)
	return err
}
