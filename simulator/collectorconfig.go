package simulator

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/quantrac/quantrac/atomicfile"
)

// CollectorConfigOptions set the parts of a collector config the simulator
// cannot know.
type CollectorConfigOptions struct {
	// Path the config will be written to: register-map paths are made
	// relative to its directory. Empty: absolute paths.
	Path string
	// DataDir of the collector; default data/collector.
	DataDir string
	// Sink; default {type: api, url: http://127.0.0.1:8080}.
	SinkType, SinkURL, SinkToken string
	// ClientID of the collector's MQTT session; default quantrac-collector-1.
	ClientID string
	// Timeout of one Modbus poll; default 2s.
	Timeout time.Duration
}

type ccSink struct {
	Type  string `yaml:"type"`
	URL   string `yaml:"url,omitempty"`
	Token string `yaml:"token,omitempty"`
}

type ccSub struct {
	Topic  string `yaml:"topic"`
	Format string `yaml:"format"`
}

type ccMQTT struct {
	Broker        string  `yaml:"broker"`
	Username      string  `yaml:"username,omitempty"`
	Password      string  `yaml:"password,omitempty"`
	ClientID      string  `yaml:"client_id"`
	Subscriptions []ccSub `yaml:"subscriptions"`
}

type ccModbus struct {
	Address  string `yaml:"address"`
	SlaveID  int    `yaml:"slave_id"`
	Map      string `yaml:"map"`
	Interval string `yaml:"interval"`
	Timeout  string `yaml:"timeout"`
}

type ccStation struct {
	ID       string    `yaml:"id"`
	Name     string    `yaml:"name"`
	Kind     string    `yaml:"kind"`
	Province string    `yaml:"province"`
	Lat      float64   `yaml:"lat"`
	Lon      float64   `yaml:"lon"`
	Driver   string    `yaml:"driver"`
	Modbus   *ccModbus `yaml:"modbus,omitempty"`
}

type ccDatafile struct {
	Spool string `yaml:"spool"`
}

type collectorConfig struct {
	DataDir  string      `yaml:"data_dir"`
	Sink     ccSink      `yaml:"sink"`
	MQTT     *ccMQTT     `yaml:"mqtt,omitempty"`
	Datafile *ccDatafile `yaml:"datafile,omitempty"`
	Stations []ccStation `yaml:"stations"`
}

// CollectorConfig renders a collector config (YAML) that lists every
// station the simulator serves with its address.
func (s *Simulator) CollectorConfig(o CollectorConfigOptions) ([]byte, error) {
	if o.DataDir == "" {
		o.DataDir = "data/collector"
	}
	if o.SinkType == "" {
		o.SinkType = "api"
	}
	if o.SinkURL == "" && o.SinkType == "api" {
		o.SinkURL = "http://127.0.0.1:8080"
	}
	if o.ClientID == "" {
		o.ClientID = "quantrac-collector-1"
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	base := ""
	if o.Path != "" {
		abs, err := filepath.Abs(o.Path)
		if err != nil {
			return nil, fmt.Errorf("collector config %s: %w", o.Path, err)
		}
		base = filepath.Dir(abs)
	}
	rel := func(p string) string {
		if base == "" {
			return p
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		if r, err := filepath.Rel(base, abs); err == nil {
			return filepath.ToSlash(r)
		}
		return abs
	}
	cc := collectorConfig{DataDir: o.DataDir, Sink: ccSink{Type: o.SinkType, URL: o.SinkURL, Token: o.SinkToken}}
	formats := map[string]bool{}
	txt := false
	for _, st := range s.stations {
		in := st.info
		c := ccStation{ID: in.ID, Name: in.Name, Kind: in.Kind, Province: in.Province, Lat: in.Lat, Lon: in.Lon}
		switch in.Transport {
		case TransportModbus:
			c.Driver = "modbus"
			c.Modbus = &ccModbus{Address: in.Address, SlaveID: in.UnitID, Map: rel(in.Map), Interval: in.Interval.String(), Timeout: o.Timeout.String()}
		case TransportMQTT:
			c.Driver = "mqtt"
			formats[in.Format] = true
		case TransportTXT:
			c.Driver = "datafile"
			txt = true
		}
		cc.Stations = append(cc.Stations, c)
	}
	if len(formats) > 0 {
		m := &ccMQTT{Broker: s.BrokerURL(), ClientID: o.ClientID}
		for _, u := range s.sc.MQTT.Users {
			if len(u.Read) > 0 {
				m.Username, m.Password = u.Username, u.Password
				break
			}
		}
		if m.Username == "" && s.sc.MQTT.URL != "" {
			m.Username, m.Password = s.sc.MQTT.Username, s.sc.MQTT.Password
		}
		if formats[FormatNumber] {
			m.Subscriptions = append(m.Subscriptions, ccSub{"stations/{province}/{station}/{parameter}", FormatNumber})
		}
		if formats[FormatJSON] {
			m.Subscriptions = append(m.Subscriptions, ccSub{"stations/{province}/{station}", FormatJSON})
		}
		if formats[FormatSenML] {
			m.Subscriptions = append(m.Subscriptions, ccSub{"senml/{province}/{station}", FormatSenML})
		}
		cc.MQTT = m
	}
	if txt {
		cc.Datafile = &ccDatafile{Spool: rel(s.spool)}
	}
	body, err := yaml.Marshal(cc)
	if err != nil {
		return nil, fmt.Errorf("collector config: %w", err)
	}
	head := fmt.Sprintf("# Collector config for the stations of the simulator scenario (seed %d, %d stations).\n"+
		"# Written by the simulator's -emit-collector-config; addresses are where it listens.\n", s.sc.Seed, len(s.stations))
	return append([]byte(head), body...), nil
}

// WriteCollectorConfig writes CollectorConfig to o.Path through
// atomicfile.WriteFile.
func (s *Simulator) WriteCollectorConfig(o CollectorConfigOptions) error {
	if o.Path == "" {
		return fmt.Errorf("collector config: no path")
	}
	data, err := s.CollectorConfig(o)
	if err != nil {
		return err
	}
	if dir := filepath.Dir(o.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("collector config %s: %w", o.Path, err)
		}
	}
	if err := atomicfile.WriteFile(o.Path, data, 0o644); err != nil {
		return fmt.Errorf("collector config %s: %w", o.Path, err)
	}
	return nil
}
