package collector

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/quantrac/quantrac/collector/queue"
	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/yamlsafe"
)

// Config is the collector's YAML configuration (configs/collector.yaml
// documents every key).
type Config struct {
	// DataDir holds the disk queue; relative paths are relative to the
	// working directory.
	DataDir string `yaml:"data_dir"`
	// Listen is the address of /metrics, /healthz and /status; empty: off.
	Listen     string           `yaml:"listen"`
	Queue      QueueConfig      `yaml:"queue"`
	Sink       SinkConfig       `yaml:"sink"`
	Shard      ShardConfig      `yaml:"shard"`
	Validation ValidationConfig `yaml:"validation"`
	MQTT       *MQTTConfig      `yaml:"mqtt"`
	Datafile   *DatafileConfig  `yaml:"datafile"`
	Stations   []StationConfig  `yaml:"stations"`

	// Path is the file the config was read from ("" when parsed from bytes);
	// relative map and spool paths are resolved against its directory.
	Path string `yaml:"-"`
}

// QueueConfig bounds the disk queue.
type QueueConfig struct {
	MaxBytes     int64         `yaml:"max_bytes"`     // default 1 GiB
	MaxAge       time.Duration `yaml:"max_age"`       // default 7 days
	ChunkBytes   int64         `yaml:"chunk_bytes"`   // default 32 MiB
	Fsync        string        `yaml:"fsync"`         // always | interval | never
	SyncInterval time.Duration `yaml:"sync_interval"` // default 1s
}

// Sink types.
const (
	SinkAPI             = "api"
	SinkVictoriaMetrics = "victoriametrics"
	SinkTSDB            = "tsdb"
)

// SinkConfig says where samples go.
type SinkConfig struct {
	Type  string `yaml:"type"`
	URL   string `yaml:"url"`
	Token string `yaml:"token"`
	// AccountID selects the vminsert tenant path /insert/<id>/prometheus/...;
	// empty (and no tenants) means a single-node VictoriaMetrics (/api/v1/import).
	AccountID string `yaml:"account_id"`
	// Tenants maps a province to its vminsert accountID (one tenant per
	// province, as the api's victoriametrics backend reads them); provinces
	// not listed go to AccountID (default 0).
	Tenants map[string]int `yaml:"tenants"`
	// Dir is the data directory of the in-process tsdb.
	Dir          string        `yaml:"dir"`
	Timeout      time.Duration `yaml:"timeout"`       // per request, default 30s
	BatchSamples int           `yaml:"batch_samples"` // samples per request, default 5000
	// FlushInterval is the least time between two requests unless a batch
	// is full: readings that arrive meanwhile share one request. Default
	// 100ms; negative: send at once.
	FlushInterval time.Duration `yaml:"flush_interval"`
	MinBackoff    time.Duration `yaml:"min_backoff"` // default 500ms
	MaxBackoff    time.Duration `yaml:"max_backoff"` // default 1m
	Gzip          *bool         `yaml:"gzip"`        // default true
}

// ShardConfig splits stations between collectors: this one handles the
// stations whose FNV-1a hash of the id modulo Count equals Index.
type ShardConfig struct {
	Index int `yaml:"index"`
	Count int `yaml:"count"`
}

// Owns reports whether station id belongs to this shard.
func (s ShardConfig) Owns(id string) bool {
	if s.Count <= 1 {
		return true
	}
	return ShardOf(id, s.Count) == s.Index
}

// ShardOf is the shard (0..count-1) of a station id.
func ShardOf(id string, count int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(count))
}

// ValidationConfig sets the checks applied to every sample.
type ValidationConfig struct {
	// StuckPolls flags a value repeated this many times in a row; 0 takes
	// the default (30), negative disables.
	StuckPolls int `yaml:"stuck_polls"`
	// MaxFuture and MaxPast flag timestamps too far from the clock.
	MaxFuture time.Duration `yaml:"max_future"` // default 5m
	MaxPast   time.Duration `yaml:"max_past"`   // default 30 days
	// Limits override the built-in ranges and spike limits per parameter
	// (DefaultLimits).
	Limits map[string]Limit `yaml:"limits"`
	// SpikeSettlePolls and SpikeSettleTime accept a change that persists:
	// once this many readings in a row, or readings over this long, were
	// flagged spike and agree with each other, the latest is accepted as a
	// real change (not flagged) and becomes the reference. 0 takes the
	// defaults, 6 readings and 15m; settle_polls must be at least 2.
	SpikeSettlePolls int           `yaml:"spike_settle_polls"`
	SpikeSettleTime  time.Duration `yaml:"spike_settle_time"`
}

// Limit is what is plausible for one parameter. Nil fields keep the value
// of the level below (built-in defaults, then validation.limits, then the
// station's limits); an explicit 0 turns a spike check off.
type Limit struct {
	Min *float64 `yaml:"min"`
	Max *float64 `yaml:"max"`
	// Spike flags a reading that differs from the last good reading of its
	// series by more than this, up or down, in the parameter's unit. 0: off.
	Spike *float64 `yaml:"spike"`
	// SpikeFactor flags a reading that rose to more than SpikeFactor times
	// the last good reading and by more than SpikeFloor (parameter's unit).
	// For parameters that are never negative (concentrations). 0: off;
	// otherwise above 1.
	SpikeFactor *float64 `yaml:"spike_factor"`
	SpikeFloor  *float64 `yaml:"spike_floor"`
	StuckPolls  int      `yaml:"stuck_polls"` // overrides the global value; negative disables
}

// MQTTConfig is the broker connection shared by MQTT stations.
type MQTTConfig struct {
	// Broker is tcp://host:1883, ssl://host:8883, ws:// or wss://.
	Broker   string `yaml:"broker"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// ClientID must stay the same across restarts: the broker keeps the
	// persistent session (and unacknowledged messages) under it.
	ClientID string `yaml:"client_id"`
	// QoS of the subscriptions, 0 or 1; default 1.
	QoS *int `yaml:"qos"`
	// MaxInFlight caps messages received and not yet acknowledged; default 1000.
	MaxInFlight   int                `yaml:"max_in_flight"`
	Subscriptions []MQTTSubscription `yaml:"subscriptions"`
}

// MQTTSubscription is one topic template and its payload format.
type MQTTSubscription struct {
	// Topic with {province}, {station}, {parameter} placeholders.
	Topic  string `yaml:"topic"`
	Format string `yaml:"format"` // number | json | senml
	// Labels added when neither topic nor station table gives them.
	Labels map[string]string `yaml:"labels"`
	// Rename maps payload names to metric names ("PM2.5": pm25_ugm3).
	Rename map[string]string `yaml:"rename"`
}

// DatafileConfig is the spool directory of datalogger TXT files.
type DatafileConfig struct {
	Spool string `yaml:"spool"`
}

// Driver names.
const (
	DriverModbus   = "modbus"
	DriverMQTT     = "mqtt"
	DriverDatafile = "datafile"
)

// StationConfig is one station and how to read it.
type StationConfig struct {
	ID         string            `yaml:"id"`
	Name       string            `yaml:"name"`
	Kind       string            `yaml:"kind"`
	Province   string            `yaml:"province"`
	Lat        float64           `yaml:"lat"`
	Lon        float64           `yaml:"lon"`
	Parameters []string          `yaml:"parameters"`
	Driver     string            `yaml:"driver"`
	Labels     map[string]string `yaml:"labels"`
	Modbus     *ModbusStation    `yaml:"modbus"`
	Limits     map[string]Limit  `yaml:"limits"`
	Derive     []DeriveConfig    `yaml:"derive"`
}

// Station returns the model view of the station.
func (s *StationConfig) Station() model.Station {
	return model.Station{ID: s.ID, Name: s.Name, Kind: s.Kind, Province: s.Province, Lat: s.Lat, Lon: s.Lon, Parameters: s.Parameters}
}

// ModbusStation says how to poll a Modbus datalogger.
type ModbusStation struct {
	// Address is tcp://host:port, rtu:///dev/ttyUSB0?baud=9600&parity=N&stop=1&data=8
	// or ascii:///dev/ttyUSB0?baud=9600&parity=E&stop=1&data=7.
	Address string `yaml:"address"`
	// SlaveID is the unit id: 1..247 on a serial line, 0..255 over TCP.
	SlaveID int `yaml:"slave_id"`
	// Map is the register map file, relative to the config file.
	Map      string        `yaml:"map"`
	Interval time.Duration `yaml:"interval"` // default 60s
	Timeout  time.Duration `yaml:"timeout"`  // default 5s, at most the interval
	// Jitter spreads the polls of stations with the same interval: each
	// station polls at a fixed offset in [0, jitter) after its slot; the
	// sample time stays the slot. Default: a tenth of the interval, at most 5s.
	Jitter *time.Duration `yaml:"jitter"`
	// MaxGap, BusyRetries and BusyRetryWait are passed to the driver
	// (drivers/modbus.Config documents them).
	MaxGap        *int          `yaml:"max_gap"`
	BusyRetries   int           `yaml:"busy_retries"`
	BusyRetryWait time.Duration `yaml:"busy_retry_wait"`
}

// DeriveConfig computes a new series from others of the same poll.
type DeriveConfig struct {
	Metric string   `yaml:"metric"`
	Func   string   `yaml:"func"` // rh_from_dew_point | mg_to_ug | cm_to_m | mm_to_m | scale
	Inputs []string `yaml:"inputs"`
	Factor float64  `yaml:"factor"` // for scale: v*factor + offset
	Offset float64  `yaml:"offset"`
	// DropInputs removes the input series after deriving (unit conversion).
	DropInputs bool `yaml:"drop_inputs"`
}

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("collector config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig parses and validates a config; name (the file path) and the
// line and key at fault appear in every error.
func ParseConfig(data []byte, name string) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("collector config %s: file is empty", name)
	}
	c := &Config{}
	if err := yamlsafe.UnmarshalStrict(data, c); err != nil {
		if errors.Is(err, yamlsafe.ErrMalformed) {
			return nil, fmt.Errorf("collector config %s: %w", name, err)
		}
		if desc, ok := yamlsafe.Describe(name, data, err); ok {
			return nil, errors.New("collector config " + desc)
		}
		if line, key := lineOfValue(data, err); line > 0 {
			return nil, fmt.Errorf("collector config %s:%d: %s: %w", name, line, key, err)
		}
		return nil, fmt.Errorf("collector config %s: %w", name, err)
	}
	c.Path = name
	if err := c.validate(); err != nil {
		if desc, ok := yamlsafe.Describe(name, data, err); ok {
			return nil, errors.New("collector config " + desc)
		}
		return nil, fmt.Errorf("collector config %s: %w", name, err)
	}
	return c, nil
}

// lineOfValue finds the line of the quoted value named in a decode error
// without position (e.g. time: invalid duration "ten") and its key.
func lineOfValue(data []byte, err error) (int, string) {
	msg := err.Error()
	i := strings.IndexByte(msg, '"')
	j := strings.LastIndexByte(msg, '"')
	if i < 0 || j <= i+1 {
		return 0, ""
	}
	val := msg[i+1 : j]
	for n, line := range strings.Split(string(data), "\n") {
		k := strings.Index(line, ": "+val)
		if k < 0 {
			continue
		}
		key := strings.TrimSpace(line[:k])
		if c := strings.LastIndexAny(key, "{,"); c >= 0 {
			key = strings.TrimSpace(key[c+1:])
		}
		return n + 1, strings.TrimLeft(key, "- ")
	}
	return 0, ""
}

// OverrideSink replaces the sink's type and URL (command-line flags) and
// checks the result; empty arguments keep the configured values.
func (c *Config) OverrideSink(typ, url string) error {
	if typ == "" && url == "" {
		return nil
	}
	if typ != "" && typ != c.Sink.Type {
		c.Sink = SinkConfig{Type: typ, Timeout: c.Sink.Timeout, BatchSamples: c.Sink.BatchSamples,
			FlushInterval: c.Sink.FlushInterval, MinBackoff: c.Sink.MinBackoff, MaxBackoff: c.Sink.MaxBackoff, Gzip: c.Sink.Gzip}
	}
	if url != "" {
		if c.Sink.Type == SinkTSDB {
			c.Sink.Dir = url
		} else {
			c.Sink.URL = url
		}
	}
	if err := c.Sink.validate(); err != nil {
		return fmt.Errorf("sink override: %w", err)
	}
	return nil
}

// Resolve returns p relative to the config file's directory (absolute
// paths unchanged).
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.Path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.Path), p)
}

// QueueOptions converts the queue section to queue options.
func (c *Config) QueueOptions() queue.Options {
	pol, _ := queue.ParseSyncPolicy(c.Queue.Fsync)
	return queue.Options{
		ChunkSize:    c.Queue.ChunkBytes,
		MaxBytes:     c.Queue.MaxBytes,
		MaxAge:       c.Queue.MaxAge,
		Sync:         pol,
		SyncInterval: c.Queue.SyncInterval,
		Name:         "collector",
	}
}

func (c *Config) validate() error {
	if c.DataDir == "" {
		return yamlsafe.FieldErrorf("$.data_dir", "required: the directory of the disk queue")
	}
	if _, err := queue.ParseSyncPolicy(c.Queue.Fsync); err != nil {
		return yamlsafe.FieldErrorf("$.queue.fsync", "%v", err)
	}
	if c.Queue.MaxBytes < 0 {
		return yamlsafe.FieldErrorf("$.queue.max_bytes", "must not be negative")
	}
	if c.Queue.ChunkBytes < 0 {
		return yamlsafe.FieldErrorf("$.queue.chunk_bytes", "must not be negative")
	}
	if err := c.Sink.validate(); err != nil {
		return err
	}
	if c.Shard.Count < 0 || (c.Shard.Count > 0 && (c.Shard.Index < 0 || c.Shard.Index >= c.Shard.Count)) {
		return yamlsafe.FieldErrorf("$.shard.index", "index %d must be in [0, count=%d)", c.Shard.Index, c.Shard.Count)
	}
	if c.Shard.Count == 0 && c.Shard.Index != 0 {
		return yamlsafe.FieldErrorf("$.shard.count", "required when shard.index is set")
	}
	if err := validateLimits("$.validation.limits", c.Validation.Limits); err != nil {
		return err
	}
	if c.Validation.MaxFuture < 0 || c.Validation.MaxPast < 0 {
		return yamlsafe.FieldErrorf("$.validation", "max_future and max_past must not be negative")
	}
	if n := c.Validation.SpikeSettlePolls; n < 0 || n == 1 {
		return yamlsafe.FieldErrorf("$.validation.spike_settle_polls", "%d: want at least 2 readings (0 takes the default, 6)", n)
	}
	if d := c.Validation.SpikeSettleTime; d < 0 {
		return yamlsafe.FieldErrorf("$.validation.spike_settle_time", "%v must not be negative (0 takes the default, 15m)", d)
	}
	if c.MQTT != nil {
		if err := c.MQTT.validate(); err != nil {
			return err
		}
	}
	if c.Datafile != nil && c.Datafile.Spool == "" {
		return yamlsafe.FieldErrorf("$.datafile.spool", "required: the spool directory of TXT files")
	}
	seen := map[string]int{}
	for i := range c.Stations {
		s := &c.Stations[i]
		p := fmt.Sprintf("$.stations[%d]", i)
		if j, dup := seen[s.ID]; dup && s.ID != "" {
			return yamlsafe.FieldErrorf(p+".id", "station %q already defined at stations[%d]", s.ID, j)
		}
		seen[s.ID] = i
		if err := c.validateStation(p, s); err != nil {
			return err
		}
	}
	return nil
}

func (s *SinkConfig) validate() error {
	switch s.Type {
	case SinkAPI, SinkVictoriaMetrics:
		if s.URL == "" {
			return yamlsafe.FieldErrorf("$.sink.url", "required for sink type %q", s.Type)
		}
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return yamlsafe.FieldErrorf("$.sink.url", "%q is not an http(s) URL", s.URL)
		}
	case SinkTSDB:
		if s.Dir == "" {
			return yamlsafe.FieldErrorf("$.sink.dir", "required for sink type tsdb: the data directory")
		}
	case "":
		return yamlsafe.FieldErrorf("$.sink.type", "required: api, victoriametrics or tsdb")
	default:
		return yamlsafe.FieldErrorf("$.sink.type", "unknown sink %q: want api, victoriametrics or tsdb", s.Type)
	}
	if s.AccountID != "" && s.Type != SinkVictoriaMetrics {
		return yamlsafe.FieldErrorf("$.sink.account_id", "only for sink type victoriametrics")
	}
	if len(s.Tenants) > 0 && s.Type != SinkVictoriaMetrics {
		return yamlsafe.FieldErrorf("$.sink.tenants", "only for sink type victoriametrics")
	}
	for p, id := range s.Tenants {
		if id < 0 {
			return yamlsafe.FieldErrorf("$.sink.tenants."+p, "accountID %d must not be negative", id)
		}
	}
	for _, r := range s.AccountID {
		if (r < '0' || r > '9') && r != ':' {
			return yamlsafe.FieldErrorf("$.sink.account_id", "%q: want a number (or accountID:projectID)", s.AccountID)
		}
	}
	if s.BatchSamples < 0 {
		return yamlsafe.FieldErrorf("$.sink.batch_samples", "must not be negative")
	}
	if s.MinBackoff < 0 || s.MaxBackoff < 0 || s.Timeout < 0 {
		return yamlsafe.FieldErrorf("$.sink", "timeout and backoffs must not be negative")
	}
	return nil
}

func (m *MQTTConfig) validate() error {
	if m.Broker == "" {
		return yamlsafe.FieldErrorf("$.mqtt.broker", "required: tcp://host:port")
	}
	if u, err := url.Parse(m.Broker); err != nil || u.Host == "" {
		return yamlsafe.FieldErrorf("$.mqtt.broker", "%q is not a broker URL like tcp://127.0.0.1:1883", m.Broker)
	}
	if m.QoS != nil && (*m.QoS < 0 || *m.QoS > 1) {
		return yamlsafe.FieldErrorf("$.mqtt.qos", "must be 0 or 1")
	}
	if m.ClientID == "" {
		return yamlsafe.FieldErrorf("$.mqtt.client_id", "required: a fixed id keeps the broker session across restarts")
	}
	if len(m.Subscriptions) == 0 {
		return yamlsafe.FieldErrorf("$.mqtt.subscriptions", "at least one subscription is required")
	}
	for i, s := range m.Subscriptions {
		p := fmt.Sprintf("$.mqtt.subscriptions[%d]", i)
		if s.Topic == "" {
			return yamlsafe.FieldErrorf(p+".topic", "required")
		}
		switch s.Format {
		case "number", "json", "senml":
		default:
			return yamlsafe.FieldErrorf(p+".format", "unknown format %q: want number, json or senml", s.Format)
		}
	}
	return nil
}

func validateLimits(p string, limits map[string]Limit) error {
	names := make([]string, 0, len(limits))
	for k := range limits {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		l := limits[k]
		if !model.ValidMetricName(k) {
			return yamlsafe.FieldErrorf(p+"."+k, "%q is not a metric name", k)
		}
		if l.Min != nil && l.Max != nil && *l.Min > *l.Max {
			return yamlsafe.FieldErrorf(p+"."+k+".min", "min %v is above max %v", *l.Min, *l.Max)
		}
		if l.Spike != nil && !(*l.Spike >= 0 && !math.IsInf(*l.Spike, 0)) {
			return yamlsafe.FieldErrorf(p+"."+k+".spike", "%v: want a change in the parameter's unit, at least 0 (0 turns the check off)", *l.Spike)
		}
		if l.SpikeFactor != nil && !(*l.SpikeFactor == 0 || (*l.SpikeFactor > 1 && !math.IsInf(*l.SpikeFactor, 0))) {
			return yamlsafe.FieldErrorf(p+"."+k+".spike_factor", "%v: want a factor above 1 (a rise to more than this many times the last good value), or 0 to turn the check off", *l.SpikeFactor)
		}
		if l.SpikeFloor != nil && !(*l.SpikeFloor >= 0 && !math.IsInf(*l.SpikeFloor, 0)) {
			return yamlsafe.FieldErrorf(p+"."+k+".spike_floor", "%v: want a change in the parameter's unit, at least 0", *l.SpikeFloor)
		}
	}
	return nil
}

func (c *Config) validateStation(p string, s *StationConfig) error {
	if s.ID == "" {
		return yamlsafe.FieldErrorf(p+".id", "required")
	}
	if strings.ContainsAny(s.ID, "/+# \t") {
		return yamlsafe.FieldErrorf(p+".id", "%q: no spaces, '/', '+' or '#'", s.ID)
	}
	switch s.Kind {
	case model.KindHydrological, model.KindAir, model.KindWeather:
	case "":
		return yamlsafe.FieldErrorf(p+".kind", "required: hydrological, air or weather")
	default:
		return yamlsafe.FieldErrorf(p+".kind", "unknown kind %q: want hydrological, air or weather", s.Kind)
	}
	if s.Province == "" {
		return yamlsafe.FieldErrorf(p+".province", "required")
	}
	if s.Lat < -90 || s.Lat > 90 {
		return yamlsafe.FieldErrorf(p+".lat", "%v is not a latitude", s.Lat)
	}
	if s.Lon < -180 || s.Lon > 180 {
		return yamlsafe.FieldErrorf(p+".lon", "%v is not a longitude", s.Lon)
	}
	for k := range s.Labels {
		if !model.ValidLabelName(k) || k == model.LabelStation || k == model.LabelProvince || k == model.LabelKind || k == model.MetricName {
			return yamlsafe.FieldErrorf(p+".labels."+k, "%q cannot be used as an extra label", k)
		}
	}
	switch s.Driver {
	case DriverModbus:
		m := s.Modbus
		if m == nil {
			return yamlsafe.FieldErrorf(p+".modbus", "required for driver modbus")
		}
		if m.Address == "" {
			return yamlsafe.FieldErrorf(p+".modbus.address", "required: tcp://host:port, rtu:///dev/ttyX or ascii:///dev/ttyX")
		}
		if u, err := url.Parse(m.Address); err != nil || (u.Scheme != "tcp" && u.Scheme != "rtu" && u.Scheme != "ascii") {
			return yamlsafe.FieldErrorf(p+".modbus.address", "%q: want tcp://host:port, rtu:///dev/ttyX or ascii:///dev/ttyX", m.Address)
		}
		if m.SlaveID < 0 || m.SlaveID > 255 {
			return yamlsafe.FieldErrorf(p+".modbus.slave_id", "%d is outside 0..255", m.SlaveID)
		}
		if m.Map == "" {
			return yamlsafe.FieldErrorf(p+".modbus.map", "required: a register map file")
		}
		if _, err := os.Stat(c.Resolve(m.Map)); err != nil {
			return yamlsafe.FieldErrorf(p+".modbus.map", "%v", err)
		}
		if m.Interval == 0 {
			m.Interval = time.Minute
		}
		if m.Interval < 100*time.Millisecond {
			return yamlsafe.FieldErrorf(p+".modbus.interval", "%v is too short (at least 100ms)", m.Interval)
		}
		if m.Timeout == 0 {
			m.Timeout = min(5*time.Second, m.Interval)
		}
		if m.Timeout < 0 || m.Timeout > m.Interval {
			return yamlsafe.FieldErrorf(p+".modbus.timeout", "%v must be positive and at most the interval %v", m.Timeout, m.Interval)
		}
		if m.Jitter != nil && (*m.Jitter < 0 || *m.Jitter >= m.Interval) {
			return yamlsafe.FieldErrorf(p+".modbus.jitter", "%v must be in [0, interval)", *m.Jitter)
		}
	case DriverMQTT:
		if c.MQTT == nil {
			return yamlsafe.FieldErrorf(p+".driver", "driver mqtt needs the top-level mqtt section")
		}
	case DriverDatafile:
		if c.Datafile == nil {
			return yamlsafe.FieldErrorf(p+".driver", "driver datafile needs the top-level datafile section")
		}
	case "":
		return yamlsafe.FieldErrorf(p+".driver", "required: modbus, mqtt or datafile")
	default:
		return yamlsafe.FieldErrorf(p+".driver", "unknown driver %q: want modbus, mqtt or datafile", s.Driver)
	}
	if s.Driver != DriverModbus && s.Modbus != nil {
		return yamlsafe.FieldErrorf(p+".modbus", "only for driver modbus")
	}
	if err := validateLimits(p+".limits", s.Limits); err != nil {
		return err
	}
	for i, d := range s.Derive {
		dp := fmt.Sprintf("%s.derive[%d]", p, i)
		if !model.ValidMetricName(d.Metric) {
			return yamlsafe.FieldErrorf(dp+".metric", "%q is not a metric name", d.Metric)
		}
		want := 1
		switch d.Func {
		case "rh_from_dew_point":
			want = 2
		case "mg_to_ug", "cm_to_m", "mm_to_m":
		case "scale":
			if d.Factor == 0 {
				return yamlsafe.FieldErrorf(dp+".factor", "required for func scale (non-zero)")
			}
		default:
			return yamlsafe.FieldErrorf(dp+".func", "unknown func %q: want rh_from_dew_point, mg_to_ug, cm_to_m, mm_to_m or scale", d.Func)
		}
		if len(d.Inputs) != want {
			return yamlsafe.FieldErrorf(dp+".inputs", "func %s takes %d input series, got %d", d.Func, want, len(d.Inputs))
		}
		for _, in := range d.Inputs {
			if !model.ValidMetricName(in) {
				return yamlsafe.FieldErrorf(dp+".inputs", "%q is not a metric name", in)
			}
		}
	}
	return nil
}

// Jitter returns the station's poll offset within its slot: a fixed value
// derived from the station id so restarts keep the same spread.
func (m *ModbusStation) jitterFor(id string) time.Duration {
	max := min(m.Interval/10, 5*time.Second)
	if m.Jitter != nil {
		max = *m.Jitter
	}
	if max <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return time.Duration(h.Sum64() % uint64(max))
}
