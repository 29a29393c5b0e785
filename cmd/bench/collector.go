package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/collector"
	"github.com/quantrac/quantrac/collector/wire"
	"github.com/quantrac/quantrac/simulator"
)

// collectorResult is the JSON line bench collector prints last.
type collectorResult struct {
	ModbusStations   int     `json:"modbus_stations"`
	MQTTStations     int     `json:"mqtt_stations"`
	IntervalS        float64 `json:"interval_s"`
	MeasuredS        float64 `json:"measured_s"`
	CPUPercentOfCore float64 `json:"cpu_percent_of_one_core"`
	RSSMiB           float64 `json:"rss_mib"`
	MaxRSSMiB        float64 `json:"max_rss_mib"`
	Polls            uint64  `json:"polls"`
	MissedPolls      uint64  `json:"missed_polls"`
	PollErrors       uint64  `json:"poll_errors"`
	Samples          int64   `json:"samples_delivered"`
	Blocks           int64   `json:"blocks_delivered"`
	DelayP50Ms       float64 `json:"delay_p50_ms"`
	DelayP99Ms       float64 `json:"delay_p99_ms"`
	DelayMaxMs       float64 `json:"delay_max_ms"`
	QueuePendingB    int64   `json:"queue_pending_bytes"`
}

// runCollector measures the collector process alone: the simulated
// stations and the receiving HTTP sink run in a child process (this binary
// again, "collector-sim"), so CPU and RSS are the collector's.
func runCollector(args []string) {
	if len(args) > 0 && args[0] == "-sim-child" {
		if err := collectorSimChild(args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench collector child:", err)
			os.Exit(1)
		}
		return
	}
	if err := benchCollector(args); err != nil {
		fmt.Fprintln(os.Stderr, "bench collector:", err)
		os.Exit(1)
	}
}

func benchCollector(args []string) error {
	fs := flag.NewFlagSet("bench collector", flag.ContinueOnError)
	nModbus := fs.Int("modbus", 1000, "simulated Modbus TCP stations")
	nMQTT := fs.Int("mqtt", 1000, "simulated MQTT stations")
	interval := fs.Duration("interval", 10*time.Second, "reporting and polling interval")
	duration := fs.Duration("duration", 2*time.Minute, "measured run time (after one interval of warm-up)")
	maps := fs.String("maps", "configs/maps", "register maps directory")
	unitsPerPort := fs.Int("units-per-port", 10, "Modbus stations per TCP port (gateway)")
	sinkType := fs.String("sink", "api", "api (an HTTP ingest endpoint in the child) or victoriametrics (-vm-url)")
	vmURL := fs.String("vm-url", "", "VictoriaMetrics URL for -sink victoriametrics")
	verbose := fs.Bool("v", false, "log collector warnings")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured period to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-collector-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	mapsAbs, err := filepath.Abs(*maps)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "collector.yaml")

	// Child: simulator + sink.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "collector", "-sim-child", "-modbus", strconv.Itoa(*nModbus), "-mqtt", strconv.Itoa(*nMQTT),
		"-interval", interval.String(), "-maps", mapsAbs, "-units-per-port", strconv.Itoa(*unitsPerPort), "-config", cfgPath, "-dir", dir)
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer func() {
		stdin.Close()
		child.Wait()
	}()
	var sinkURL string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
			sinkURL = s
			break
		}
	}
	if sinkURL == "" {
		return fmt.Errorf("simulator child did not start")
	}
	go io.Copy(io.Discard, stdout)

	cfg, err := collector.LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	cfg.DataDir = filepath.Join(dir, "queue")
	cfg.Sink = collector.SinkConfig{Type: collector.SinkAPI, URL: sinkURL}
	if *sinkType == "victoriametrics" {
		cfg.Sink = collector.SinkConfig{Type: collector.SinkVictoriaMetrics, URL: *vmURL}
	}
	lvl := zerolog.ErrorLevel
	if *verbose {
		lvl = zerolog.WarnLevel
	}
	log := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger()

	var (
		mu       sync.Mutex
		delays   []float64
		measure  atomic.Bool
		samples  atomic.Int64
		blocks   atomic.Int64
		startCPU time.Duration
	)
	c, err := collector.New(cfg, collector.Options{
		Logger:  log,
		Drivers: wire.Drivers(),
		OnDelivered: func(acquired time.Time, n int) {
			if !measure.Load() {
				return
			}
			d := float64(time.Since(acquired).Microseconds()) / 1e3
			blocks.Add(1)
			mu.Lock()
			delays = append(delays, d)
			mu.Unlock()
		},
	})
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	fmt.Fprintf(os.Stderr, "bench collector: %d Modbus + %d MQTT stations, interval %v; warm-up %v, then measuring %v\n", *nModbus, *nMQTT, *interval, *interval+2*time.Second, *duration)
	select {
	case <-time.After(*interval + 2*time.Second):
	case <-ctx.Done():
	}
	before := stationTotals(c)
	startCPU = cpuTime()
	t0 := time.Now()
	sent0 := sentSamples(c)
	measure.Store(true)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	select {
	case <-time.After(*duration):
	case <-ctx.Done():
	}
	measure.Store(false)
	elapsed := time.Since(t0)
	cpu := cpuTime() - startCPU
	after := stationTotals(c)
	samples.Store(sentSamples(c) - sent0)
	rss, maxRSS := rssMiB()
	pending := c.Queue().Stats().PendingBytes
	cancel()
	<-done
	c.Close()

	mu.Lock()
	sort.Float64s(delays)
	mu.Unlock()
	res := collectorResult{
		ModbusStations:   *nModbus,
		MQTTStations:     *nMQTT,
		IntervalS:        interval.Seconds(),
		MeasuredS:        round(elapsed.Seconds(), 1),
		CPUPercentOfCore: round(100*cpu.Seconds()/elapsed.Seconds(), 2),
		RSSMiB:           round(rss, 1),
		MaxRSSMiB:        round(maxRSS, 1),
		Polls:            after.polls - before.polls,
		MissedPolls:      after.missed - before.missed,
		PollErrors:       after.errors - before.errors,
		Samples:          samples.Load(),
		Blocks:           blocks.Load(),
		DelayP50Ms:       round(percentile(delays, 0.50), 1),
		DelayP99Ms:       round(percentile(delays, 0.99), 1),
		DelayMaxMs:       round(percentile(delays, 1), 1),
		QueuePendingB:    pending,
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return nil
}

type totals struct{ polls, missed, errors uint64 }

func stationTotals(c *collector.Collector) totals {
	var t totals
	for _, st := range c.Status() {
		t.polls += st.Polls
		t.missed += st.MissedPolls
		t.errors += st.Errors
	}
	return t
}

// sentSamples reads the collector's sent-samples counter from /metrics.
func sentSamples(c *collector.Collector) int64 {
	rec := &bodyRecorder{header: http.Header{}}
	req, _ := http.NewRequest("GET", "/metrics", nil)
	c.Handler().ServeHTTP(rec, req)
	for _, line := range strings.Split(rec.body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "quantrac_collector_sent_samples_total "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

type bodyRecorder struct {
	header http.Header
	body   strings.Builder
}

func (r *bodyRecorder) Header() http.Header         { return r.header }
func (r *bodyRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *bodyRecorder) WriteHeader(int)             {}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssMiB returns the current and peak resident set size.
func rssMiB() (cur, peak float64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return cur, peak
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted)-1) + 0.5)
	return sorted[min(i, len(sorted)-1)]
}

func round(v float64, digits int) float64 {
	s := strconv.FormatFloat(v, 'f', digits, 64)
	r, _ := strconv.ParseFloat(s, 64)
	return r
}

// collectorSimChild runs the simulated stations and an ingest endpoint
// that accepts and counts, writes the collector config, prints
// "ready <sink URL>" and runs until stdin closes.
func collectorSimChild(args []string) error {
	fs := flag.NewFlagSet("collector-sim", flag.ContinueOnError)
	nModbus := fs.Int("modbus", 1000, "")
	nMQTT := fs.Int("mqtt", 1000, "")
	interval := fs.Duration("interval", 10*time.Second, "")
	maps := fs.String("maps", "", "")
	unitsPerPort := fs.Int("units-per-port", 10, "")
	cfgPath := fs.String("config", "", "")
	dir := fs.String("dir", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	yaml := fmt.Sprintf("seed: 1\ninterval: %s\nmodbus: {maps: %q, units_per_port: %d, max_clients: 64}\ngenerate: {modbus: %d, mqtt: %d}\n",
		interval, *maps, *unitsPerPort, *nModbus, *nMQTT)
	sc, err := simulator.ParseScenario([]byte(yaml), "bench", *dir)
	if err != nil {
		return err
	}
	sc.Modbus.BasePort = 0
	sc.MQTT.Listen = "127.0.0.1:0"
	sc.Control.Listen = ""
	sc.TXT.Spool = filepath.Join(*dir, "spool")
	sim, err := simulator.Start(context.Background(), sc, simulator.DefaultOptions())
	if err != nil {
		return err
	}
	defer sim.Stop()
	if err := sim.WriteCollectorConfig(simulator.CollectorConfigOptions{Path: *cfgPath, DataDir: filepath.Join(*dir, "queue"), Timeout: 2 * time.Second}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	var stored atomic.Int64
	mux.HandleFunc("/api/v1/ingest", func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		var req struct {
			Series []struct {
				T []int64 `json:"t"`
			} `json:"series"`
		}
		if err := json.NewDecoder(body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		n := 0
		for _, s := range req.Series {
			n += len(s.T)
		}
		stored.Add(int64(n))
		fmt.Fprintf(w, `{"stored":%d,"rejected":0}`, n)
	})
	mux.HandleFunc("/api/v1/stations", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{}`))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Printf("ready http://%s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin) // until the parent closes stdin or exits
	fmt.Fprintf(os.Stderr, "bench collector child: sink stored %d samples\n", stored.Load())
	return nil
}
