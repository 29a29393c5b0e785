package api

import (
	"fmt"
	"os"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/yamlsafe"
)

// Storage backends.
const (
	StorageTSDB            = "tsdb"
	StorageVictoriaMetrics = "victoriametrics"
)

// Config is the api server's configuration, read from configs/api.yaml.
// Every field has a default (DefaultConfig); flags of cmd/api override the
// file. The fields tagged yaml:"-" are runtime dependencies set by code.
type Config struct {
	// HTTP is the listen address, host:port. Default 127.0.0.1:8080.
	HTTP string `yaml:"http"`
	// DataDir holds tokens.json, stations.json and the embedded tsdb. Default data/api.
	DataDir string `yaml:"data_dir"`
	// TLS serves HTTPS when both files are set.
	TLS TLSConfig `yaml:"tls"`
	// CORS lists origins allowed to call the api from a browser.
	CORS CORSConfig `yaml:"cors"`
	// Storage is the backend: tsdb (embedded, default) or victoriametrics.
	Storage string `yaml:"storage"`
	// TSDB tunes the embedded engine (storage: tsdb).
	TSDB TSDBConfig `yaml:"tsdb"`
	// VictoriaMetrics configures the scale-out backend (storage: victoriametrics).
	VictoriaMetrics VMConfig `yaml:"victoriametrics"`
	// Limits bound what one request or tenant may do.
	Limits Limits `yaml:"limits"`
	// Stations decides station status from the age of its newest reading.
	Stations StationsConfig `yaml:"stations"`
	// Timezone is the default zone for day boundaries and CSV times. Default Asia/Ho_Chi_Minh.
	Timezone string `yaml:"timezone"`
	// Alerting configures the embedded alert engine.
	Alerting AlertingConfig `yaml:"alerting"`
	// AQI configures the derived AQI series job.
	AQI AQIConfig `yaml:"aqi"`

	// Logger receives the access log and server events. Default: disabled.
	Logger zerolog.Logger `yaml:"-"`
	// Store, when set, is used instead of opening Storage; the server does
	// not close it on Shutdown.
	Store model.Storage `yaml:"-"`
}

// TLSConfig names a certificate and key (PEM files).
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// CORSConfig is the browser origin allow list.
type CORSConfig struct {
	// AllowOrigins such as https://ioc.example.gov.vn; empty disables CORS headers.
	AllowOrigins []string `yaml:"allow_origins"`
}

// VMConfig points at VictoriaMetrics. Single node: URL only. Cluster: Cluster
// true, InsertURL (vminsert) and SelectURL (vmselect); each province is a
// tenant whose accountID Tenants gives (DefaultTenant for others).
type VMConfig struct {
	URL           string         `yaml:"url"`
	Cluster       bool           `yaml:"cluster"`
	InsertURL     string         `yaml:"insert_url"`
	SelectURL     string         `yaml:"select_url"`
	Tenants       map[string]int `yaml:"tenants"`
	DefaultTenant int            `yaml:"default_tenant"`
	// LatestLookback is how far back current values are searched. Default 8760h.
	LatestLookback time.Duration `yaml:"latest_lookback"`
	// Timeout of one request to VictoriaMetrics. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Limits bound requests and tenants. Zero means the default.
type Limits struct {
	// MaxBodyBytes is the largest request body after decompression. Default 64 MiB.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxSamplesPerRequest rejects bigger batches with 413. Default 1,000,000.
	MaxSamplesPerRequest int `yaml:"max_samples_per_request"`
	// MaxSeriesPerTenant caps distinct series per province; samples of new
	// series past it are rejected with a reason. Default 100,000.
	MaxSeriesPerTenant int `yaml:"max_series_per_tenant"`
	// MaxConcurrentInserts is how many batches are written at once. Default 4.
	MaxConcurrentInserts int `yaml:"max_concurrent_inserts"`
	// MaxQueuedInserts is how many more may wait; past it the answer is 429. Default 64.
	MaxQueuedInserts int `yaml:"max_queued_inserts"`
	// InsertWait is how long a batch waits for the engine before 503. Default 10s.
	InsertWait time.Duration `yaml:"insert_wait"`
	// MaxRawRange is the longest range of raw points (no step). Default 92 days.
	MaxRawRange time.Duration `yaml:"max_raw_range"`
	// MaxPoints caps points in one series answer or buckets per series. Default 1,000,000.
	MaxPoints int `yaml:"max_points"`
	// QueryTimeout bounds PromQL evaluation. Default 2m.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// MaxQuerySamples bounds samples PromQL loads. Default 50,000,000.
	MaxQuerySamples int `yaml:"max_query_samples"`
}

// StationsConfig sets when a station counts as stale or offline.
type StationsConfig struct {
	// StaleAfter: newest reading older than this → stale. Default 30m.
	StaleAfter time.Duration `yaml:"stale_after"`
	// OfflineAfter: older than this (or nothing) → offline. Default 24h.
	OfflineAfter time.Duration `yaml:"offline_after"`
}

// AlertingConfig configures the alert engine hosted by the server.
type AlertingConfig struct {
	// Enabled starts the engine. Default false until configured.
	Enabled bool `yaml:"enabled"`
	// RulesDir holds rule YAML files. Default configs/rules.
	RulesDir string `yaml:"rules_dir"`
	// Roster is the on-call roster file (configs/oncall.yaml).
	Roster string `yaml:"roster"`
	// Receivers is the receivers file (configs/alerting-receivers.yaml):
	// SMPP, HTTP SMS gateway, webhook, file. Empty: alerts are kept and
	// shown but nobody is notified.
	Receivers string `yaml:"receivers"`
	// LateAfter: samples older than this when they arrive (a collector's
	// backlog after an outage) change alert state but are not notified one
	// by one; an alert still firing when its station catches up is told
	// once. 0: the engine's default (10m); negative: off.
	LateAfter time.Duration `yaml:"late_after"`
}

// AQIConfig configures the derived AQI job.
type AQIConfig struct {
	// Enabled starts the job.
	Enabled bool `yaml:"enabled"`
	// Interval between runs. Default 5m.
	Interval time.Duration `yaml:"interval"`
}

// DefaultConfig returns the configuration used when no file is given.
func DefaultConfig() Config {
	return Config{
		HTTP:     "127.0.0.1:8080",
		DataDir:  "data/api",
		Storage:  StorageTSDB,
		Timezone: "Asia/Ho_Chi_Minh",
		Limits: Limits{
			MaxBodyBytes:         64 << 20,
			MaxSamplesPerRequest: 1_000_000,
			MaxSeriesPerTenant:   100_000,
			MaxConcurrentInserts: 4,
			MaxQueuedInserts:     64,
			InsertWait:           10 * time.Second,
			MaxRawRange:          92 * 24 * time.Hour,
			MaxPoints:            1_000_000,
			QueryTimeout:         2 * time.Minute,
			MaxQuerySamples:      50_000_000,
		},
		Stations: StationsConfig{StaleAfter: 30 * time.Minute, OfflineAfter: 24 * time.Hour},
		VictoriaMetrics: VMConfig{
			Timeout: 30 * time.Second,
		},
		Alerting: AlertingConfig{RulesDir: "configs/rules"},
		AQI:      AQIConfig{Interval: 5 * time.Minute},
		Logger:   zerolog.Nop(),
	}
}

// LoadConfig reads a YAML file over DefaultConfig. Unknown keys are errors.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read api config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig parses YAML over DefaultConfig; name labels errors.
func ParseConfig(data []byte, name string) (Config, error) {
	cfg := DefaultConfig()
	if err := yamlsafe.UnmarshalStrict(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("api config %s: %s", name, yaml.FormatError(err, false, true))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("api config %s: %w", name, err)
	}
	return cfg, nil
}

// Validate fills zero limits with defaults and checks the rest.
func (c *Config) Validate() error {
	d := DefaultConfig()
	if c.HTTP == "" {
		c.HTTP = d.HTTP
	}
	if c.DataDir == "" {
		c.DataDir = d.DataDir
	}
	if c.Storage == "" {
		c.Storage = StorageTSDB
	}
	if c.Timezone == "" {
		c.Timezone = d.Timezone
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		return fmt.Errorf("timezone %q: %w", c.Timezone, err)
	}
	switch c.Storage {
	case StorageTSDB:
	case StorageVictoriaMetrics:
		vm := c.VictoriaMetrics
		if vm.Cluster {
			if vm.InsertURL == "" || vm.SelectURL == "" {
				return fmt.Errorf("victoriametrics: cluster needs insert_url and select_url")
			}
		} else if vm.URL == "" {
			return fmt.Errorf("victoriametrics: url is required with storage: victoriametrics")
		}
	default:
		return fmt.Errorf("storage %q: want tsdb or victoriametrics", c.Storage)
	}
	if c.VictoriaMetrics.Timeout <= 0 {
		c.VictoriaMetrics.Timeout = d.VictoriaMetrics.Timeout
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return fmt.Errorf("tls: set both cert_file and key_file, or neither")
	}
	l, dl := &c.Limits, d.Limits
	setInt := func(v *int, def int, name string) error {
		if *v < 0 {
			return fmt.Errorf("limits.%s: %d is negative", name, *v)
		}
		if *v == 0 {
			*v = def
		}
		return nil
	}
	setDur := func(v *time.Duration, def time.Duration, name string) error {
		if *v < 0 {
			return fmt.Errorf("limits.%s: %s is negative", name, *v)
		}
		if *v == 0 {
			*v = def
		}
		return nil
	}
	for _, e := range []error{
		setInt(&l.MaxBodyBytes, dl.MaxBodyBytes, "max_body_bytes"),
		setInt(&l.MaxSamplesPerRequest, dl.MaxSamplesPerRequest, "max_samples_per_request"),
		setInt(&l.MaxSeriesPerTenant, dl.MaxSeriesPerTenant, "max_series_per_tenant"),
		setInt(&l.MaxConcurrentInserts, dl.MaxConcurrentInserts, "max_concurrent_inserts"),
		setInt(&l.MaxQueuedInserts, dl.MaxQueuedInserts, "max_queued_inserts"),
		setInt(&l.MaxPoints, dl.MaxPoints, "max_points"),
		setInt(&l.MaxQuerySamples, dl.MaxQuerySamples, "max_query_samples"),
		setDur(&l.InsertWait, dl.InsertWait, "insert_wait"),
		setDur(&l.MaxRawRange, dl.MaxRawRange, "max_raw_range"),
		setDur(&l.QueryTimeout, dl.QueryTimeout, "query_timeout"),
		setDur(&c.Stations.StaleAfter, d.Stations.StaleAfter, "stations.stale_after"),
		setDur(&c.Stations.OfflineAfter, d.Stations.OfflineAfter, "stations.offline_after"),
		setDur(&c.AQI.Interval, d.AQI.Interval, "aqi.interval"),
	} {
		if e != nil {
			return e
		}
	}
	if c.Stations.OfflineAfter < c.Stations.StaleAfter {
		return fmt.Errorf("stations: offline_after %s is shorter than stale_after %s", c.Stations.OfflineAfter, c.Stations.StaleAfter)
	}
	if c.Alerting.RulesDir == "" {
		c.Alerting.RulesDir = d.Alerting.RulesDir
	}
	return nil
}
