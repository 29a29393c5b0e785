package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/simulator"
)

// apiServer is cmd/api run as a child process on the embedded tsdb (or on
// VictoriaMetrics when the extra config says so).
type apiServer struct {
	t       *testing.T
	name    string
	dir     string // data directory
	addr    string
	cfgPath string
	logPath string
	admin   string // admin token
	ingest  string // ingest token
	p       *proc
}

// newAPI prepares an api with its config (extra YAML appended) and admin
// and ingest tokens; start starts it.
func newAPI(t *testing.T, name, dataDir, extra string) *apiServer {
	t.Helper()
	needBinaries(t)
	a := &apiServer{t: t, name: name, dir: dataDir, addr: freeAddr(t)}
	cfgDir := t.TempDir()
	a.cfgPath = filepath.Join(cfgDir, "api.yaml")
	a.logPath = filepath.Join(cfgDir, "api.log")
	cfg := fmt.Sprintf("http: %s\ndata_dir: %s\ntsdb:\n  sync: every_batch\n%s", a.addr, dataDir, extra)
	if err := os.WriteFile(a.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	a.admin = a.token("e2e-admin", "admin", "")
	a.ingest = a.token("e2e-collector", "ingest", "")
	return a
}

// token creates a token with `api token create`.
func (a *apiServer) token(name, role, province string) string {
	a.t.Helper()
	args := []string{"token", "create", "-config", a.cfgPath, "-role", role, "-name", name}
	if province != "" {
		args = append(args, "-province", province)
	}
	out, err := exec.Command(bins.api, args...).CombinedOutput()
	if err != nil {
		a.t.Fatalf("api token create %s: %v: %s", name, err, out)
	}
	return strings.TrimSpace(string(out))
}

// URL is the api's base URL.
func (a *apiServer) URL() string { return "http://" + a.addr }

// start starts the process and waits until /healthz answers.
func (a *apiServer) start() {
	a.t.Helper()
	a.p = startProc(a.t, a.name, a.logPath, bins.api, "-config", a.cfgPath, "-log-level", "warn")
	deadline := time.Now().Add(60 * time.Second)
	for !healthy(a.URL() + "/healthz") {
		if !a.p.running() {
			a.t.Fatalf("%s exited at start: %v\n%s", a.name, a.p.err, a.p.logTail(4000))
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("%s not healthy after 60s\n%s", a.name, a.p.logTail(4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// collectorProc is cmd/collector run as a child process.
type collectorProc struct {
	t       *testing.T
	name    string
	cfgPath string
	listen  string
	logPath string
	p       *proc
}

// collectorSpec is what goes into a collector config.
type collectorSpec struct {
	DataDir   string
	SinkType  string // api or victoriametrics
	SinkURL   string
	SinkToken string
	AccountID string
	Tenants   map[string]int // province → vminsert accountID
	Broker    string         // MQTT broker URL; empty: no MQTT
	ClientID  string
	Stations  []simulator.StationInfo
	Extra     []stationYAML // stations not served by the simulator (mosquitto scenario)
	Shard     [2]int        // index, count
	Timeout   time.Duration // Modbus poll timeout
}

// stationYAML is a hand-written MQTT station of the config.
type stationYAML struct{ ID, Kind, Province string }

// writeCollectorConfig renders spec into path.
func writeCollectorConfig(t *testing.T, path string, s collectorSpec) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir: %s\n", s.DataDir)
	fmt.Fprintf(&b, "queue: {fsync: always}\n")
	tenants := ""
	if len(s.Tenants) > 0 {
		var ts []string
		for p, id := range s.Tenants {
			ts = append(ts, fmt.Sprintf("%s: %d", p, id))
		}
		sort.Strings(ts)
		tenants = ", tenants: {" + strings.Join(ts, ", ") + "}"
	}
	fmt.Fprintf(&b, "sink: {type: %s, url: %q, token: %q, account_id: %q%s, min_backoff: 100ms, max_backoff: 1s, timeout: 10s}\n",
		s.SinkType, s.SinkURL, s.SinkToken, s.AccountID, tenants)
	if s.Shard[1] > 1 {
		fmt.Fprintf(&b, "shard: {index: %d, count: %d}\n", s.Shard[0], s.Shard[1])
	}
	// The simulator's signals are smooth and replayed values may repeat:
	// keep the stuck check from flagging them (quality is compared too).
	b.WriteString("validation: {stuck_polls: -1}\n")
	if s.Broker != "" {
		fmt.Fprintf(&b, "mqtt:\n  broker: %s\n  username: collector\n  password: collector-secret\n  client_id: %s\n  qos: 1\n", s.Broker, s.ClientID)
		b.WriteString("  subscriptions:\n")
		b.WriteString("  - {topic: \"stations/{province}/{station}\", format: json}\n")
		b.WriteString("  - {topic: \"senml/{province}/{station}\", format: senml}\n")
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 800 * time.Millisecond
	}
	b.WriteString("stations:\n")
	for _, st := range s.Stations {
		fmt.Fprintf(&b, "- id: %s\n  kind: %s\n  province: %s\n", st.ID, st.Kind, st.Province)
		switch st.Transport {
		case simulator.TransportModbus:
			fmt.Fprintf(&b, "  driver: modbus\n  modbus: {address: %q, slave_id: %d, map: %q, interval: %s, timeout: %s, busy_retries: 0}\n",
				st.Address, st.UnitID, st.Map, st.Interval, timeout)
		case simulator.TransportMQTT:
			b.WriteString("  driver: mqtt\n")
		}
	}
	for _, st := range s.Extra {
		fmt.Fprintf(&b, "- {id: %s, kind: %s, province: %s, driver: mqtt}\n", st.ID, st.Kind, st.Province)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newCollector writes the config of spec and prepares the process.
func newCollector(t *testing.T, name string, spec collectorSpec) *collectorProc {
	t.Helper()
	needBinaries(t)
	dir := t.TempDir()
	c := &collectorProc{t: t, name: name, cfgPath: filepath.Join(dir, "collector.yaml"), logPath: filepath.Join(dir, "collector.log")}
	if spec.DataDir == "" {
		spec.DataDir = filepath.Join(dir, "data")
	}
	writeCollectorConfig(t, c.cfgPath, spec)
	return c
}

// start starts the collector and waits for /healthz.
func (c *collectorProc) start() {
	c.t.Helper()
	c.listen = freeAddr(c.t)
	c.p = startProc(c.t, c.name, c.logPath, bins.collector, "-config", c.cfgPath, "-listen", c.listen, "-log-level", "warn")
	deadline := time.Now().Add(60 * time.Second)
	for !healthy("http://" + c.listen + "/healthz") {
		if !c.p.running() {
			c.t.Fatalf("%s exited at start: %v\n%s", c.name, c.p.err, c.p.logTail(4000))
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not healthy after 60s\n%s", c.name, c.p.logTail(4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// collectorStatus is GET /status of the collector.
type collectorStatus struct {
	Stations []struct {
		ID          string `json:"id"`
		LastError   string `json:"last_error"`
		Polls       uint64 `json:"polls"`
		Errors      uint64 `json:"errors"`
		MissedPolls uint64 `json:"missed_polls"`
		LastSuccess int64  `json:"last_success"`
	} `json:"stations"`
	Queue struct {
		PendingBytes  int64  `json:"pending_bytes"`
		DroppedBlocks uint64 `json:"dropped_blocks"`
		Corrupt       uint64 `json:"corrupt_frames"`
	} `json:"queue"`
}

// status reads /status.
func (c *collectorProc) status() (collectorStatus, error) {
	var st collectorStatus
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := getJSON(ctx, "http://"+c.listen+"/status", "", &st)
	return st, err
}

// simScenario is the small province most scenarios run: three Modbus
// dataloggers with different maps and three MQTT stations (flat JSON in
// two time formats and SenML), reporting every second.
const simScenario = `
seed: 11
interval: 1s
modbus: {maps: %q}
stations:
  - {id: HN-LongBien, kind: hydrological, province: HN, transport: modbus, map: hydro-float-cdab}
  - {id: HN-HangDau, kind: air, province: HN, transport: modbus, map: air-int16-scaled}
  - {id: HP-CauRao, kind: hydrological, province: HP, transport: modbus, map: water-quality-mixed}
  - {id: HN-KimLien, kind: air, province: HN, transport: mqtt, format: json}
  - {id: HN-TanMai, kind: air, province: HN, transport: mqtt, format: json, time_format: unix_ms}
  - {id: HP-LeChan, kind: weather, province: HP, transport: mqtt, format: senml}
`

// startSim starts the simulator in the test process (it is the ground
// truth and the fault injector) on free loopback ports.
func startSim(t *testing.T, scenario string) *simulator.Simulator {
	t.Helper()
	if scenario == "" {
		scenario = fmt.Sprintf(simScenario, filepath.Join(repoRoot, "configs", "maps"))
	}
	sc, err := simulator.ParseScenario([]byte(scenario), t.Name(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := simulator.DefaultOptions()
	free := 0
	opts.ModbusBasePort = &free
	opts.MQTTListen = "127.0.0.1:0"
	opts.ControlListen = "-"
	opts.Spool = t.TempDir()
	sim, err := simulator.Start(context.Background(), sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Stop)
	return sim
}

// stationIDs lists the ids of stations, sorted.
func stationIDs(sts []simulator.StationInfo) []string {
	var out []string
	for _, s := range sts {
		out = append(out, s.ID)
	}
	sort.Strings(out)
	return out
}
