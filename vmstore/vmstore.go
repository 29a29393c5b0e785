// Package vmstore is a model.Storage backed by VictoriaMetrics, for
// scale-out: samples are written through /api/v1/import (JSON lines) and
// read through /api/v1/export and the Prometheus query API. In cluster mode
// each province is a tenant: its accountID is in the insert and select
// paths (/insert/<accountID>/prometheus/..., /select/<accountID>/prometheus/...).
//
// VictoriaMetrics has no quality code, so a sample whose quality is not
// good also writes quantrac_quality{metric="<name>",<labels>} = code at the
// same timestamp; reads use it to leave such samples out (or to report
// their code). Run VictoriaMetrics with -dedup.minScrapeInterval=1ms so
// that a resent sample replaces the stored one; reads also keep only the
// last value per timestamp.
package vmstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

// QualityMetric is the series name that carries non-good quality codes.
const QualityMetric = "quantrac_quality"

// Options configure a Store.
type Options struct {
	// URL of a single-node VictoriaMetrics, e.g. http://127.0.0.1:8428.
	URL string
	// Cluster selects cluster paths on InsertURL (vminsert) and SelectURL (vmselect).
	Cluster   bool
	InsertURL string
	SelectURL string
	// Tenants maps a province to its accountID (cluster mode); others use DefaultTenant.
	Tenants       map[string]int
	DefaultTenant int
	// Timeout of one HTTP request. Default 30s.
	Timeout time.Duration
	// LatestLookback is how far back Latest looks. Default 365 days.
	LatestLookback time.Duration
	// Client overrides the HTTP client.
	Client *http.Client
	// Logger for request failures.
	Logger zerolog.Logger
}

// DefaultOptions returns options with defaults and no URL.
func DefaultOptions() Options {
	return Options{Timeout: 30 * time.Second, LatestLookback: 365 * 24 * time.Hour, Logger: zerolog.Nop()}
}

// Store talks to VictoriaMetrics.
type Store struct {
	opts   Options
	client *http.Client
}

// New checks the options and returns a Store. It does not contact the server.
func New(opts Options) (*Store, error) {
	d := DefaultOptions()
	if opts.Timeout <= 0 {
		opts.Timeout = d.Timeout
	}
	if opts.LatestLookback <= 0 {
		opts.LatestLookback = d.LatestLookback
	}
	check := func(name, u string) error {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return fmt.Errorf("victoriametrics %s %q: want http(s)://host:port", name, u)
		}
		return nil
	}
	if opts.Cluster {
		if err := check("insert_url", opts.InsertURL); err != nil {
			return nil, err
		}
		if err := check("select_url", opts.SelectURL); err != nil {
			return nil, err
		}
	} else if err := check("url", opts.URL); err != nil {
		return nil, err
	}
	for p, id := range opts.Tenants {
		if id < 0 {
			return nil, fmt.Errorf("victoriametrics tenant for province %q: accountID %d is negative", p, id)
		}
	}
	opts.URL = strings.TrimRight(opts.URL, "/")
	opts.InsertURL = strings.TrimRight(opts.InsertURL, "/")
	opts.SelectURL = strings.TrimRight(opts.SelectURL, "/")
	c := opts.Client
	if c == nil {
		c = &http.Client{Timeout: opts.Timeout}
	}
	return &Store{opts: opts, client: c}, nil
}

// Close releases idle connections.
func (s *Store) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// tenantOf returns the accountID for a province.
func (s *Store) tenantOf(province string) int {
	if id, ok := s.opts.Tenants[province]; ok {
		return id
	}
	return s.opts.DefaultTenant
}

// writeURL is the import URL for a tenant.
func (s *Store) writeURL(tenant int, path string) string {
	if s.opts.Cluster {
		return fmt.Sprintf("%s/insert/%d/prometheus%s", s.opts.InsertURL, tenant, path)
	}
	return s.opts.URL + path
}

// readURL is the query URL for a tenant.
func (s *Store) readURL(tenant int, path string) string {
	if s.opts.Cluster {
		return fmt.Sprintf("%s/select/%d/prometheus%s", s.opts.SelectURL, tenant, path)
	}
	return s.opts.URL + path
}

// readTenants lists the tenants a query must ask: the province's when the
// matchers pin one, else every configured tenant.
func (s *Store) readTenants(ms []*model.Matcher) []int {
	if !s.opts.Cluster {
		return []int{0}
	}
	for _, m := range ms {
		if m.Name == model.LabelProvince && m.Type == model.MatchEqual {
			return []int{s.tenantOf(m.Value)}
		}
	}
	seen := map[int]bool{s.opts.DefaultTenant: true}
	out := []int{s.opts.DefaultTenant}
	for _, id := range s.opts.Tenants {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Ints(out)
	return out
}

// do sends a request and returns the body of a 2xx answer.
func (s *Store) do(req *http.Request) ([]byte, error) {
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("victoriametrics %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("victoriametrics %s %s: read answer: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 512 {
			msg = msg[:512] + "..."
		}
		return nil, fmt.Errorf("victoriametrics %s %s: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, msg)
	}
	return body, nil
}

func (s *Store) get(ctx context.Context, u string, params url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, fmt.Errorf("victoriametrics request %s: %w", u, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.do(req)
}

// selector renders matchers as a series selector VictoriaMetrics accepts:
// at least one non-empty matcher, and the quality series left out unless
// the metric name is pinned.
func selector(ms []*model.Matcher) string {
	var b strings.Builder
	b.WriteByte('{')
	pinned := false
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.String())
		if m.Name == model.MetricName && m.Type == model.MatchEqual {
			pinned = true
		}
	}
	if !pinned {
		if len(ms) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`__name__!="` + QualityMetric + `",__name__=~".+"`)
	}
	b.WriteByte('}')
	return b.String()
}

// qualitySelector selects the quality series of the series ms match: the
// metric-name matcher becomes a matcher on label "metric".
func qualitySelector(ms []*model.Matcher) (string, error) {
	var b strings.Builder
	b.WriteString(`{__name__="` + QualityMetric + `"`)
	for _, m := range ms {
		name := m.Name
		if name == model.MetricName {
			name = "metric"
		} else if name == "metric" {
			return "", errors.New("label name \"metric\" is reserved in victoriametrics storage")
		}
		b.WriteByte(',')
		b.WriteString(name + m.Type.String() + fmt.Sprintf("%q", m.Value))
	}
	b.WriteByte('}')
	return b.String(), nil
}

func secs(ms int64) string {
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

var errEmptySelector = errors.New("no matchers: a query needs at least one")
