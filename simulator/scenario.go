package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/yamlsafe"
)

// Transports a station can use.
const (
	TransportModbus = "modbus"
	TransportMQTT   = "mqtt"
	TransportTXT    = "txt"
)

// MQTT payload formats (as drivers/mqtt decodes them).
const (
	FormatNumber = "number" // bare number on stations/{province}/{station}/{parameter}
	FormatJSON   = "json"   // flat JSON on stations/{province}/{station}
	FormatSenML  = "senml"  // SenML (RFC 8428) on senml/{province}/{station}
)

// Time formats of the "time" field of flat JSON payloads.
const (
	TimeRFC3339 = "rfc3339" // "2026-11-25T08:00:00+07:00"
	TimeUnix    = "unix"    // seconds
	TimeUnixMs  = "unix_ms" // milliseconds
)

// Scenario is a simulated province: stations, transports, signals and the
// faults to inject. Load it with LoadScenario or ParseScenario; zero fields
// take the defaults documented on each field.
type Scenario struct {
	// Seed makes every value reproducible; default 1.
	Seed int64 `yaml:"seed"`
	// Speed is simulated seconds per wall second (60: a day in 24 minutes);
	// default 1. A station may override it.
	Speed float64 `yaml:"speed"`
	// Interval is how often stations report (MQTT, TXT) and how long a
	// Modbus value holds, in wall time; default 10s.
	Interval time.Duration `yaml:"interval"`
	// Control is the HTTP control endpoint; empty listen: none.
	Control ControlConfig `yaml:"control"`
	Modbus  ModbusConfig  `yaml:"modbus"`
	MQTT    MQTTConfig    `yaml:"mqtt"`
	TXT     TXTConfig     `yaml:"txt"`
	// Beijing replays real air data for air stations.
	Beijing  BeijingConfig   `yaml:"beijing"`
	Stations []StationConfig `yaml:"stations"`
	// Generate adds many synthetic stations for scale tests.
	Generate GenerateConfig `yaml:"generate"`
	// Faults are injected on a timeline relative to the start.
	Faults []FaultConfig `yaml:"faults"`

	dir string // directory of the scenario file; relative paths start here
}

// ControlConfig is the HTTP control endpoint.
type ControlConfig struct {
	// Listen is host:port, e.g. 127.0.0.1:18080 (port 0 picks a free one).
	Listen string `yaml:"listen"`
}

// ModbusConfig places Modbus stations on TCP ports.
type ModbusConfig struct {
	// Host to listen on; default 127.0.0.1.
	Host string `yaml:"host"`
	// BasePort is the first port; stations without an explicit port take
	// consecutive ports from it. 0 picks free ports (tests).
	BasePort int `yaml:"base_port"`
	// UnitsPerPort puts this many stations on one port as unit ids 1..N
	// (like a gateway); default 1, at most 247.
	UnitsPerPort int `yaml:"units_per_port"`
	// Maps is the directory of register maps (a station's map: name is a
	// file <name>.yaml in it); default ../maps from the scenario file.
	Maps string `yaml:"maps"`
	// MaxClients per port; default 16.
	MaxClients int `yaml:"max_clients"`
}

// MQTTConfig is the broker the MQTT stations publish to.
type MQTTConfig struct {
	// Listen starts the embedded broker on host:port (port 0: a free
	// one); default 127.0.0.1:1883 unless URL is set.
	Listen string `yaml:"listen"`
	// URL of an external broker (tcp://host:1883) instead of the
	// embedded one.
	URL string `yaml:"url"`
	// Username and Password the stations publish with (on the embedded
	// broker they may write stations/# and senml/# only); default
	// station / station-secret.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Users are further accounts of the embedded broker, e.g. the
	// collector, with the topic filters they may read and write. Default:
	// collector / collector-secret reading stations/# and senml/#.
	Users []MQTTUser `yaml:"users"`
	// QoS of published messages; default 1.
	QoS byte `yaml:"qos"`
	// StationClients gives every station its own MQTT connection (client
	// id = station id, the station account), as real stations have. Off:
	// the embedded broker's inline client publishes for all of them (an
	// external broker gets one shared connection).
	StationClients bool `yaml:"station_clients"`
}

// MQTTUser is an account on the embedded broker.
type MQTTUser struct {
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	Read     []string `yaml:"read"`  // topic filters it may subscribe to
	Write    []string `yaml:"write"` // topic filters it may publish to
}

// TXTConfig is where TXT dataloggers drop their files.
type TXTConfig struct {
	// Spool directory; default spool next to the scenario file.
	Spool string `yaml:"spool"`
	// Facility code used in file names when a station has none; default QT.
	Facility string `yaml:"facility"`
}

// BeijingConfig replays the Beijing Multi-Site Air Quality CSV files.
type BeijingConfig struct {
	// Dir holds PRSA_Data_<station>_*.csv files; empty: air is generated.
	Dir string `yaml:"dir"`
	// Start is the file date played on the first day (YYYY-MM-DD); default:
	// today's month and day in the file's last complete year.
	Start string `yaml:"start"`
}

// StationConfig is one station.
type StationConfig struct {
	ID       string  `yaml:"id"`
	Name     string  `yaml:"name"`
	Kind     string  `yaml:"kind"` // hydrological, air or weather
	Province string  `yaml:"province"`
	Lat      float64 `yaml:"lat"`
	Lon      float64 `yaml:"lon"`
	// Transport is modbus, mqtt or txt.
	Transport string `yaml:"transport"`
	// Parameters reported (MQTT, TXT); default by kind. Modbus stations
	// report what their map lists.
	Parameters []string `yaml:"parameters"`
	// Signals tunes generators per parameter.
	Signals map[string]SignalConfig `yaml:"signals"`
	// Flood runs a flood wave (water level, rain, turbidity).
	Flood *FloodConfig `yaml:"flood"`
	// Replay is the Beijing station whose record an air station replays
	// (e.g. Dongsi); empty: the next one in turn, when replay is on.
	Replay string `yaml:"replay"`
	// Interval overrides the scenario's.
	Interval time.Duration `yaml:"interval"`
	// Speed overrides the scenario's.
	Speed float64 `yaml:"speed"`

	// Map is the register map: a name in the maps directory or a path
	// (relative to the scenario file).
	Map    string `yaml:"map"`
	Port   int    `yaml:"port"`    // Modbus TCP port; 0: assigned
	UnitID int    `yaml:"unit_id"` // Modbus unit id; 0: assigned (1 on its own port)

	Format     string `yaml:"format"`      // MQTT: number, json or senml; default json
	TimeFormat string `yaml:"time_format"` // MQTT json: rfc3339, unix or unix_ms; default rfc3339

	Facility string `yaml:"facility"` // TXT: facility code in file names
}

// GenerateConfig adds synthetic stations.
type GenerateConfig struct {
	Modbus int `yaml:"modbus"`
	MQTT   int `yaml:"mqtt"`
	TXT    int `yaml:"txt"`
	// Maps to cycle through for generated Modbus stations (names or
	// paths); default every map in the maps directory.
	Maps []string `yaml:"maps"`
	// Formats to cycle through for generated MQTT stations; default all.
	Formats []string `yaml:"formats"`
}

// FaultConfig schedules a fault.
type FaultConfig struct {
	Fault `yaml:",inline"`
	// After is when the fault starts, counted from the start (wall time).
	After time.Duration `yaml:"after"`
	// For is how long it lasts; 0: until switched off.
	For time.Duration `yaml:"for"`
}

var stationIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)

// LoadScenario reads a scenario file; relative paths in it are relative to
// the file's directory.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	return ParseScenario(data, path, filepath.Dir(abs))
}

// ParseScenario parses and validates a scenario; name appears in errors,
// dir is where relative paths start.
func ParseScenario(data []byte, name, dir string) (*Scenario, error) {
	sc := &Scenario{}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("scenario %s: file is empty", name)
	}
	if err := yamlsafe.UnmarshalStrict(data, sc); err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			p := ye.GetToken().Position
			return nil, fmt.Errorf("scenario %s:%d:%d: %s", name, p.Line, p.Column, ye.GetMessage())
		}
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	sc.dir = dir
	if err := sc.normalize(); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	return sc, nil
}

// Dir returns the directory relative paths of the scenario start from.
func (sc *Scenario) Dir() string { return sc.dir }

// SetDir changes the directory relative paths start from.
func (sc *Scenario) SetDir(dir string) { sc.dir = dir }

// path resolves p against the scenario's directory.
func (sc *Scenario) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(sc.dir, p)
}

// normalize fills defaults and validates.
func (sc *Scenario) normalize() error {
	if sc.Seed == 0 {
		sc.Seed = 1
	}
	if sc.Speed == 0 {
		sc.Speed = 1
	}
	if sc.Speed < 0 || sc.Speed > 1e6 {
		return fmt.Errorf("speed %g: want 0 < speed <= 1e6", sc.Speed)
	}
	if sc.Interval == 0 {
		sc.Interval = 10 * time.Second
	}
	if sc.Interval < 100*time.Millisecond {
		return fmt.Errorf("interval %s: want at least 100ms", sc.Interval)
	}
	if sc.Modbus.Host == "" {
		sc.Modbus.Host = "127.0.0.1"
	}
	if sc.Modbus.UnitsPerPort == 0 {
		sc.Modbus.UnitsPerPort = 1
	}
	if sc.Modbus.UnitsPerPort < 1 || sc.Modbus.UnitsPerPort > 247 {
		return fmt.Errorf("modbus.units_per_port %d: want 1..247", sc.Modbus.UnitsPerPort)
	}
	if sc.Modbus.BasePort < 0 || sc.Modbus.BasePort > 65535 {
		return fmt.Errorf("modbus.base_port %d: want 0..65535", sc.Modbus.BasePort)
	}
	if sc.Modbus.Maps == "" {
		sc.Modbus.Maps = "../maps"
	}
	if sc.Modbus.MaxClients == 0 {
		sc.Modbus.MaxClients = 16
	}
	if sc.MQTT.URL == "" && sc.MQTT.Listen == "" {
		sc.MQTT.Listen = "127.0.0.1:1883"
	}
	if sc.MQTT.Username == "" {
		sc.MQTT.Username, sc.MQTT.Password = "station", "station-secret"
	}
	if sc.MQTT.Users == nil {
		sc.MQTT.Users = []MQTTUser{{Username: "collector", Password: "collector-secret", Read: []string{"stations/#", "senml/#"}}}
	}
	for i, u := range sc.MQTT.Users {
		if u.Username == "" || u.Password == "" {
			return fmt.Errorf("mqtt.users[%d]: username and password required", i)
		}
	}
	if sc.MQTT.QoS == 0 {
		sc.MQTT.QoS = 1
	}
	if sc.MQTT.QoS > 2 {
		return fmt.Errorf("mqtt.qos %d: want 0, 1 or 2", sc.MQTT.QoS)
	}
	if sc.TXT.Spool == "" {
		sc.TXT.Spool = "spool"
	}
	if sc.TXT.Facility == "" {
		sc.TXT.Facility = "QT"
	}
	if sc.Beijing.Start != "" {
		if _, err := time.Parse("2006-01-02", sc.Beijing.Start); err != nil {
			return fmt.Errorf("beijing.start %q: want YYYY-MM-DD", sc.Beijing.Start)
		}
	}
	if sc.Generate.Modbus < 0 || sc.Generate.MQTT < 0 || sc.Generate.TXT < 0 {
		return fmt.Errorf("generate: counts must not be negative")
	}
	seen := map[string]bool{}
	for i := range sc.Stations {
		st := &sc.Stations[i]
		if err := st.normalize(); err != nil {
			return fmt.Errorf("stations[%d] %s: %w", i, st.ID, err)
		}
		if seen[st.ID] {
			return fmt.Errorf("stations[%d]: duplicate id %q", i, st.ID)
		}
		seen[st.ID] = true
	}
	for i, f := range sc.Faults {
		if err := f.Fault.validate(); err != nil {
			return fmt.Errorf("faults[%d]: %w", i, err)
		}
		if f.After < 0 || f.For < 0 {
			return fmt.Errorf("faults[%d]: after and for must not be negative", i)
		}
		if f.Station != "" && f.Station != "*" && !seen[f.Station] && !isGeneratedID(f.Station) {
			return fmt.Errorf("faults[%d]: unknown station %q", i, f.Station)
		}
	}
	return nil
}

func (st *StationConfig) normalize() error {
	if !stationIDRe.MatchString(st.ID) {
		return fmt.Errorf("id %q: want letters, digits, '-' or '.' (no '_': TXT file names split on it)", st.ID)
	}
	switch st.Kind {
	case model.KindHydrological, model.KindAir, model.KindWeather:
	default:
		return fmt.Errorf("kind %q: want hydrological, air or weather", st.Kind)
	}
	if st.Province == "" || !stationIDRe.MatchString(st.Province) {
		return fmt.Errorf("province %q: want a short code such as HN", st.Province)
	}
	if st.Name == "" {
		st.Name = st.ID
	}
	if st.Lat < -90 || st.Lat > 90 || st.Lon < -180 || st.Lon > 180 {
		return fmt.Errorf("coordinates %g,%g out of range", st.Lat, st.Lon)
	}
	if st.Interval != 0 && st.Interval < 100*time.Millisecond {
		return fmt.Errorf("interval %s: want at least 100ms", st.Interval)
	}
	if st.Speed < 0 {
		return fmt.Errorf("speed %g: must not be negative", st.Speed)
	}
	if err := st.Flood.validate(); err != nil {
		return err
	}
	for _, p := range st.Parameters {
		if _, ok := params[p]; !ok {
			return fmt.Errorf("parameter %q: unknown (known: %v)", p, Params())
		}
	}
	for p := range st.Signals {
		if _, ok := params[p]; !ok {
			return fmt.Errorf("signals: unknown parameter %q", p)
		}
	}
	switch st.Transport {
	case TransportModbus:
		if st.Map == "" {
			return fmt.Errorf("modbus station needs a map")
		}
		if st.Port < 0 || st.Port > 65535 || st.UnitID < 0 || st.UnitID > 247 {
			return fmt.Errorf("port %d / unit_id %d out of range", st.Port, st.UnitID)
		}
	case TransportMQTT:
		if st.Format == "" {
			st.Format = FormatJSON
		}
		switch st.Format {
		case FormatNumber, FormatJSON, FormatSenML:
		default:
			return fmt.Errorf("format %q: want number, json or senml", st.Format)
		}
		if st.TimeFormat == "" {
			st.TimeFormat = TimeRFC3339
		}
		switch st.TimeFormat {
		case TimeRFC3339, TimeUnix, TimeUnixMs:
		default:
			return fmt.Errorf("time_format %q: want rfc3339, unix or unix_ms", st.TimeFormat)
		}
	case TransportTXT:
	default:
		return fmt.Errorf("transport %q: want modbus, mqtt or txt", st.Transport)
	}
	if len(st.Parameters) == 0 && st.Transport != TransportModbus {
		st.Parameters = append([]string(nil), defaultParams[st.Kind]...)
	}
	return nil
}
