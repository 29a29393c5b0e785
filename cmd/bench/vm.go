package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/quantrac/quantrac/model"
)

type vmResult struct {
	Rows               int64   `json:"rows"`
	DataBytes          int64   `json:"data_bytes"`
	DiskBytes          int64   `json:"disk_bytes"`
	DataBytesPerSample float64 `json:"data_bytes_per_sample"`
	DiskBytesPerSample float64 `json:"disk_bytes_per_sample"`
	ImportSamplesPerS  float64 `json:"import_samples_per_s"`
	DailyAvg1yMs       float64 `json:"daily_avg_1y_ms"`
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// benchVM starts VictoriaMetrics on a free loopback port with a fresh data
// directory, imports the samples, forces flush and merge, and measures it.
func benchVM(bin string, samples []model.Sample, from, to time.Time, runs int) (*vmResult, error) {
	base, dir, stop, err := startVM(bin)
	if err != nil {
		return nil, err
	}
	defer stop()
	client := &http.Client{Timeout: 5 * time.Minute}
	progress("victoriametrics listening on %s", strings.TrimPrefix(base, "http://"))

	// Prepare the import bodies beforehand, as for our Append.
	var bodies [][]byte
	for i := 0; i < len(samples); i += 100000 {
		bodies = append(bodies, promText(samples[i:min(i+100000, len(samples))]))
	}
	post := func(path string, body []byte) error {
		resp, err := client.Post(base+path, "text/plain", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
		}
		return nil
	}
	get := func(path string) ([]byte, error) {
		resp, err := client.Get(base + path)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, b)
		}
		return b, err
	}
	t0 := time.Now()
	for _, b := range bodies {
		if err := post("/api/v1/import/prometheus", b); err != nil {
			return nil, err
		}
	}
	if _, err := get("/internal/force_flush"); err != nil {
		return nil, err
	}
	res := &vmResult{ImportSamplesPerS: float64(len(samples)) / time.Since(t0).Seconds()}
	progress("victoriametrics: imported %d samples in %v", len(samples), time.Since(t0).Round(time.Millisecond))

	metric := func() (map[string]float64, error) {
		b, err := get("/metrics")
		if err != nil {
			return nil, err
		}
		m := map[string]float64{}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			if i < 0 {
				continue
			}
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err != nil {
				continue
			}
			m[line[:i]] = v
		}
		return m, nil
	}
	sumPrefix := func(m map[string]float64, name, typePrefix string) float64 {
		var s float64
		for k, v := range m {
			if strings.HasPrefix(k, name+"{") && strings.Contains(k, `type="`+typePrefix) {
				s += v
			}
		}
		return s
	}
	// Wait until every row is in a file part (not in memory), then force a merge.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		m, err := metric()
		if err != nil {
			return nil, err
		}
		if int(sumPrefix(m, "vm_rows", "storage/")) >= len(samples) &&
			sumPrefix(m, "vm_rows", "storage/inmemory") == 0 && sumPrefix(m, "vm_rows", "indexdb/inmemory") == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("rows did not reach %d: %v", len(samples), sumPrefix(m, "vm_rows", "storage/"))
		}
		get("/internal/force_flush")
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := get("/internal/force_merge"); err != nil {
		return nil, err
	}
	deadline = time.Now().Add(5 * time.Minute)
	for {
		time.Sleep(500 * time.Millisecond)
		m, err := metric()
		if err != nil {
			return nil, err
		}
		if sumPrefix(m, "vm_active_merges", "storage/") == 0 && sumPrefix(m, "vm_active_merges", "indexdb/") == 0 &&
			sumPrefix(m, "vm_rows", "storage/inmemory") == 0 {
			res.Rows = int64(sumPrefix(m, "vm_rows", "storage/"))
			res.DataBytes = int64(sumPrefix(m, "vm_data_size_bytes", "storage/"))
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("merges did not finish")
		}
	}
	// Let VictoriaMetrics delete the parts it merged away.
	time.Sleep(3 * time.Second)
	disk, err := dirSize(dir)
	if err != nil {
		return nil, err
	}
	res.DiskBytes = disk
	res.DataBytesPerSample = float64(res.DataBytes) / float64(len(samples))
	res.DiskBytesPerSample = float64(disk) / float64(len(samples))
	progress("victoriametrics: %d rows, data %d bytes (%.3f B/sample), directory %d bytes (%.3f B/sample)", res.Rows, res.DataBytes, res.DataBytesPerSample, disk, res.DiskBytesPerSample)

	q := url.Values{}
	q.Set("query", `avg_over_time({__name__=~".+"}[1d])`)
	q.Set("start", strconv.FormatInt(from.Unix()+86400, 10))
	q.Set("end", strconv.FormatInt(to.Unix()+1, 10))
	q.Set("step", "1d")
	q.Set("nocache", "1")
	var times []float64
	var size int
	for r := 0; r < runs; r++ {
		t0 := time.Now()
		b, err := get("/api/v1/query_range?" + q.Encode())
		if err != nil {
			return nil, err
		}
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
		size = len(b)
	}
	res.DailyAvg1yMs = median(times)
	progress("victoriametrics: daily avg query median %.3f ms (%d bytes of JSON)", res.DailyAvg1yMs, size)
	return res, nil
}
