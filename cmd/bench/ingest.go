package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quantrac/quantrac/api"
	"github.com/quantrac/quantrac/model"
)

// ingestResult is the last line bench ingest prints.
type ingestResult struct {
	File             string    `json:"file"`
	Samples          int       `json:"samples"`
	Requests         int       `json:"requests"`
	Rounds           int       `json:"rounds"`
	OursRates        []float64 `json:"ours_rates"`
	VMRates          []float64 `json:"vm_rates,omitempty"`
	Concurrency      int       `json:"concurrency"`
	Sync             string    `json:"sync"`
	OursSamplesPerS  float64   `json:"ours_samples_per_s"`
	VMSamplesPerS    float64   `json:"vm_samples_per_s,omitempty"`
	Ratio            float64   `json:"ratio,omitempty"`
	RatioOfMedians   float64   `json:"ratio_of_medians,omitempty"`
	QueryMetric      string    `json:"query_metric"`
	QuerySeries      int       `json:"query_series"`
	QueryDays        int       `json:"query_days"`
	OursDailyAvgMs   float64   `json:"ours_daily_avg_ms"`
	OursPromQLAvgMs  float64   `json:"ours_promql_daily_avg_ms"`
	VMDailyAvgMs     float64   `json:"vm_daily_avg_ms,omitempty"`
	QueryLatencyNote string    `json:"query_note"`
}

// runIngest is `bench ingest -file F.prom [-vm PATH]`: it POSTs the same
// Prometheus-text file, in the same chunks and with the same concurrency,
// to our /api/v1/import/prometheus (an in-process server on the embedded
// tsdb) and to VictoriaMetrics', prints both rates and their ratio, then
// the latency of a daily average over the last year of data through HTTP
// on both. The last line is JSON.
func runIngest(args []string) {
	if err := benchIngest(args); err != nil {
		fmt.Fprintln(os.Stderr, "bench ingest:", err)
		os.Exit(1)
	}
}

func benchIngest(args []string) error {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	file := fs.String("file", "", "Prometheus text file with timestamps (metric{labels} value ms)")
	csvDir := fs.String("csv", "", "instead of -file: build the text from the Beijing air-quality CSV files of this directory")
	writeTo := fs.String("write", "", "with -csv: also save the generated text to this file")
	vmBin := fs.String("vm", "", "VictoriaMetrics single-node binary to compare with (optional)")
	chunk := fs.Int("chunk", 20000, "lines per request")
	conc := fs.Int("conc", 2, "concurrent requests")
	syncMode := fs.String("sync", "interval", "tsdb WAL fsync: interval (acknowledged like VictoriaMetrics: before fsync) or every_batch")
	runs := fs.Int("runs", 7, "query repetitions (median reported)")
	metric := fs.String("metric", "", "metric of the daily-average query (default: pm2_5 or the first in the file)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of our first ingest round to this file")
	rounds := fs.Int("rounds", 3, "ingest rounds per system, alternating, fresh stores each (median reported)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var data []byte
	var err error
	switch {
	case *file != "":
		if data, err = os.ReadFile(*file); err != nil {
			return err
		}
	case *csvDir != "":
		samples, err := loadCSVDir(*csvDir)
		if err != nil {
			return err
		}
		data = promText(samples)
		if *writeTo != "" {
			if err := os.WriteFile(*writeTo, data, 0o644); err != nil {
				return err
			}
		}
		*file = *csvDir
	default:
		return errors.New("-file or -csv is required")
	}
	bodies, n, minT, maxT, metrics := splitProm(data, *chunk)
	if n == 0 {
		return fmt.Errorf("%s: no samples", *file)
	}
	if *metric == "" {
		*metric = metrics[0]
		for _, m := range metrics {
			if m == "pm2_5" {
				*metric = m
			}
		}
	}
	progress("%d samples in %d requests of %d lines, %s .. %s", n, len(bodies), *chunk,
		time.UnixMilli(minT).UTC().Format(time.RFC3339), time.UnixMilli(maxT).UTC().Format(time.RFC3339))
	res := ingestResult{File: *file, Samples: n, Requests: len(bodies), Concurrency: *conc, Sync: *syncMode, QueryMetric: *metric,
		QueryLatencyNote: "daily avg over the last 365 days of data, all series of the metric: ours /api/v1/series step=1d agg=avg (rollups) and PromQL avg_over_time[1d]; VictoriaMetrics query_range avg_over_time[1d]"}

	// Rounds alternate ours and VictoriaMetrics on fresh stores, so that
	// load from other processes on the machine hits both alike; the
	// medians are reported. The stores of the last round answer the queries.
	var oursRates, vmRates []float64
	var ours, vmBase string
	var stopOurs, stopVM func()
	defer func() {
		if stopOurs != nil {
			stopOurs()
		}
		if stopVM != nil {
			stopVM()
		}
	}()
	for r := 0; r < *rounds; r++ {
		if stopOurs != nil {
			stopOurs()
			stopOurs = nil
		}
		base, stop, err := startOurs(*syncMode)
		if err != nil {
			return err
		}
		ours, stopOurs = base, stop
		if *cpuProfile != "" && r == 0 {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
		}
		rate, err := postAll(ours, bodies, n, *conc)
		if *cpuProfile != "" && r == 0 {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return fmt.Errorf("ours: %w", err)
		}
		oursRates = append(oursRates, rate)
		progress("round %d: ours %.0f samples/s", r+1, rate)
		if *vmBin == "" {
			continue
		}
		if stopVM != nil {
			stopVM()
			stopVM = nil
		}
		base, _, stop, err = startVM(*vmBin)
		if err != nil {
			return err
		}
		vmBase, stopVM = base, stop
		t0 := time.Now()
		if _, err := postAll(vmBase, bodies, n, *conc); err != nil {
			return fmt.Errorf("victoriametrics: %w", err)
		}
		if _, _, err := timeGet(vmBase, "/internal/force_flush", 1); err != nil {
			return err
		}
		vmRate := float64(n) / time.Since(t0).Seconds()
		vmRates = append(vmRates, vmRate)
		progress("round %d: victoriametrics %.0f samples/s", r+1, vmRate)
	}
	res.Rounds = *rounds
	res.OursRates, res.VMRates = oursRates, vmRates
	res.OursSamplesPerS = median(oursRates)
	if len(vmRates) > 0 {
		res.VMSamplesPerS = median(vmRates)
		res.RatioOfMedians = res.OursSamplesPerS / res.VMSamplesPerS
		// Each round's pair ran close in time, under the same outside
		// load: the median of the paired ratios is the headline.
		var ratios []float64
		for i := range vmRates {
			ratios = append(ratios, oursRates[i]/vmRates[i])
		}
		res.Ratio = median(ratios)
	}

	from := maxT - 365*86400000
	if from < minT {
		from = minT
	}
	res.QueryDays = int((maxT-from)/86400000) + 1
	loc := "Asia/Ho_Chi_Minh"
	native := fmt.Sprintf("/api/v1/series?match=%s&from=%d&to=%d&step=1d&agg=avg&tz=%s", url.QueryEscape(*metric), from, maxT, loc)
	body, ms, err := timeGet(ours, native, *runs)
	if err != nil {
		return fmt.Errorf("ours daily avg: %w", err)
	}
	var sa struct {
		Series []json.RawMessage `json:"series"`
	}
	_ = json.Unmarshal(body, &sa)
	res.QuerySeries = len(sa.Series)
	res.OursDailyAvgMs = ms
	promPath := fmt.Sprintf("/api/v1/query_range?query=%s&start=%d&end=%d&step=86400",
		url.QueryEscape("avg_over_time("+*metric+"[1d])"), from/1000+86400, maxT/1000)
	if _, res.OursPromQLAvgMs, err = timeGet(ours, promPath, *runs); err != nil {
		return fmt.Errorf("ours promql daily avg: %w", err)
	}
	progress("ours: daily avg %.1f ms (native), %.1f ms (PromQL) over %d series", res.OursDailyAvgMs, res.OursPromQLAvgMs, res.QuerySeries)
	if vmBase != "" {
		if _, res.VMDailyAvgMs, err = timeGet(vmBase, promPath+"&nocache=1", *runs); err != nil {
			return fmt.Errorf("victoriametrics daily avg: %w", err)
		}
		progress("victoriametrics: daily avg %.1f ms; ingest ratio ours/vm %.2f (median of rounds), %.2f (ratio of medians)", res.VMDailyAvgMs, res.Ratio, res.RatioOfMedians)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return nil
}

// startOurs runs an in-process api server on a fresh embedded tsdb.
func startOurs(syncMode string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "quantrac-bench-api-")
	if err != nil {
		return "", nil, err
	}
	cfg := api.DefaultConfig()
	cfg.HTTP = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.TSDB.Sync = syncMode
	cfg.Limits.MaxSeriesPerTenant = 10_000_000
	// A bulk import of history sends chunks in parallel, out of time order.
	cfg.TSDB.OutOfOrderWindow = 50 * 365 * 24 * time.Hour
	srv, err := api.New(cfg)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	if err := srv.Start(); err != nil {
		srv.Shutdown(context.Background())
		os.RemoveAll(dir)
		return "", nil, err
	}
	return srv.URL(), func() {
		srv.Shutdown(context.Background())
		os.RemoveAll(dir)
	}, nil
}

// promText renders samples as Prometheus text with timestamps.
func promText(samples []model.Sample) []byte {
	var b bytes.Buffer
	for _, s := range samples {
		b.WriteString(s.Labels.String())
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(s.V, 'g', -1, 64))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(s.T, 10))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// splitProm cuts the text into bodies of chunk lines and finds the time
// range and metric names.
func splitProm(data []byte, chunk int) (bodies [][]byte, n int, minT, maxT int64, metrics []string) {
	minT, maxT = 1<<62, -1<<62
	seen := map[string]bool{}
	start, lines := 0, 0
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		end := len(data)
		if j >= 0 {
			end = i + j
		}
		line := data[i:end]
		i = end + 1
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		n++
		lines++
		if k := bytes.LastIndexByte(line, ' '); k > 0 {
			if t, err := strconv.ParseInt(string(line[k+1:]), 10, 64); err == nil {
				minT, maxT = min(minT, t), max(maxT, t)
			}
		}
		name := line
		if k := bytes.IndexAny(line, "{ "); k >= 0 {
			name = line[:k]
		}
		if !seen[string(name)] {
			seen[string(name)] = true
			metrics = append(metrics, string(name))
		}
		if lines == chunk {
			bodies = append(bodies, data[start:min(i, len(data))])
			start, lines = i, 0
		}
	}
	if lines > 0 && start < len(data) {
		bodies = append(bodies, data[start:])
	}
	sort.Strings(metrics)
	return
}

// postAll sends every body to base's import route with conc workers and
// returns samples per second.
func postAll(base string, bodies [][]byte, n, conc int) (float64, error) {
	client := &http.Client{Timeout: 10 * time.Minute}
	work := make(chan []byte)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				for attempt := 0; ; attempt++ {
					resp, err := client.Post(base+"/api/v1/import/prometheus", "text/plain", bytes.NewReader(b))
					if err != nil {
						mu.Lock()
						firstErr = errors.Join(firstErr, err)
						mu.Unlock()
						break
					}
					msg, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if (resp.StatusCode == 429 || resp.StatusCode == 503) && attempt < 100 {
						time.Sleep(100 * time.Millisecond)
						continue
					}
					if resp.StatusCode/100 != 2 {
						mu.Lock()
						firstErr = errors.Join(firstErr, fmt.Errorf("status %d: %.300s", resp.StatusCode, msg))
						mu.Unlock()
					}
					break
				}
			}
		}()
	}
	for _, b := range bodies {
		work <- b
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

// timeGet runs GET base+path runs times and returns the last body and the
// median latency in ms.
func timeGet(base, path string, runs int) ([]byte, float64, error) {
	client := &http.Client{Timeout: 10 * time.Minute}
	var lat []float64
	var body []byte
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		resp, err := client.Get(base + path)
		if err != nil {
			return nil, 0, err
		}
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, 0, err
		}
		if resp.StatusCode/100 != 2 {
			return nil, 0, fmt.Errorf("GET %s: status %d: %.300s", path, resp.StatusCode, body)
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
	}
	sort.Float64s(lat)
	return body, lat[len(lat)/2], nil
}

// startVM starts VictoriaMetrics on a free loopback port with a fresh
// temporary data directory and returns its URL, the directory and a stop
// function that stops the process and removes the directory.
func startVM(bin string) (base, dir string, stop func(), err error) {
	dir, err = os.MkdirTemp("", "quantrac-bench-vm-")
	if err != nil {
		return "", "", nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return "", "", nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "-storageDataPath="+dir, "-httpListenAddr="+addr, "-retentionPeriod=100y",
		"-search.latencyOffset=0s", "-loggerLevel=ERROR", "-search.disableCache")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	}
	base = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, dir, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", "", nil, fmt.Errorf("victoriametrics not healthy after 30 s: %s", strings.TrimSpace(logs.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
