package collector

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// vmBinary finds the single-node VictoriaMetrics binary: env QUANTRAC_VM_BIN,
// else <repo>/bin/victoria-metrics (built by scripts/build-vm).
func vmBinary(t *testing.T) string {
	if p := os.Getenv("QUANTRAC_VM_BIN"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "bin", "victoria-metrics")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("VictoriaMetrics single-node binary not found (set QUANTRAC_VM_BIN or run scripts/build-vm): %v", err)
	}
	return p
}

func startVM(t *testing.T) string {
	bin := vmBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-storageDataPath="+t.TempDir(), "-httpListenAddr="+addr, "-loggerLevel=ERROR", "-retentionPeriod=100y")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	base := "http://" + addr
	waitFor(t, "VictoriaMetrics to start", 30*time.Second, func() bool {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return base
}

// vmExport returns the points VictoriaMetrics holds for a selector.
func vmExport(t *testing.T, base, match string) map[string][]model.Point {
	resp, err := http.Get(base + "/api/v1/export?match[]=" + url.QueryEscape(match) + "&start=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string][]model.Point{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var line vmLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		k := model.FromMap(line.Metric).String()
		for i := range line.Values {
			out[k] = append(out[k], model.Point{T: line.Timestamps[i], V: line.Values[i]})
		}
	}
	return out
}

// TestVictoriaMetricsSink sends through a real single-node VictoriaMetrics:
// every acknowledged sample is queryable there, with quality companions for
// flagged ones.
func TestVictoriaMetricsSink(t *testing.T) {
	base := startVM(t)
	src := &pushSource{stations: []string{"P1", "P2"}, every: 5 * time.Millisecond, perBatch: 3, base: time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000, limit: 100}
	dir := t.TempDir()
	path := writeConfig(t, dir, fmt.Sprintf(`data_dir: %s
sink: {type: victoriametrics, url: %q, min_backoff: 50ms}
validation: {limits: {pm25_ugm3: {max: 50}}}
mqtt: {broker: "tcp://127.0.0.1:1", client_id: c1, subscriptions: [{topic: "a/{station}", format: number}]}
stations:
  - {id: P1, kind: air, province: HN, driver: mqtt}
  - {id: P2, kind: air, province: HN, driver: mqtt}
`, filepath.Join(dir, "queue"), base))
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	startCollector(t, cfg, Options{Logger: testLog(t), Drivers: pushDrivers(src)})
	waitFor(t, "all batches acknowledged", 30*time.Second, func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return len(src.acked) == 100
	})
	var got map[string][]model.Point
	waitFor(t, "samples queryable in VictoriaMetrics", 60*time.Second, func() bool {
		got = vmExport(t, base, `{station=~"P1|P2"}`)
		n := 0
		for k, pts := range got {
			if !strings.HasPrefix(k, QualityMetric) {
				n += len(pts)
			}
		}
		return n == 100*6
	})
	checkComplete(t, src, got)
	// pm25 values above 50 are flagged out of range: a quality point each.
	q := got[model.New(QualityMetric, "station", "P1", "province", "HN", "kind", "air", "metric", "pm25_ugm3").String()]
	if len(q) != 49 || q[0].V != float64(model.QualityOutOfRange) {
		t.Fatalf("quality companion points: %d (first %+v), want 49 out_of_range", len(q), q)
	}
}

func TestVMSinkURL(t *testing.T) {
	f := func(c SinkConfig, want string) {
		t.Helper()
		if got := NewVMSink(c, nil).(*vmSink).url; got != want {
			t.Fatalf("url %q, want %q", got, want)
		}
	}
	f(SinkConfig{URL: "http://vm:8428/"}, "http://vm:8428/api/v1/import")
	f(SinkConfig{URL: "http://vminsert:8480", AccountID: "42"}, "http://vminsert:8480/insert/42/prometheus/api/v1/import")
	f(SinkConfig{URL: "http://vminsert:8480", AccountID: "0"}, "http://vminsert:8480/insert/0/prometheus/api/v1/import")
}
