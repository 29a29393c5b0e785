package e2e

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// envMeasure runs TestScaleOutMeasure, which prints the numbers
// docs/scale-out.md uses.
const envMeasure = "QUANTRAC_E2E_MEASURE"

// TestScaleOutMeasure imports a synthetic national data set (30 provinces
// as tenants, 100 stations each, 10 parameters, 1-minute samples) into the
// two-storage-node cluster through vminsert, and into the api's embedded
// tsdb through POST /api/v1/ingest, and prints samples/s and bytes/sample.
// It runs only with QUANTRAC_E2E_MEASURE=1 (it loads the machine).
func TestScaleOutMeasure(t *testing.T) {
	if os.Getenv(envMeasure) == "" {
		t.Skipf("set %s=1 to measure the scale-out numbers", envMeasure)
	}
	cl := startCluster(t)
	const provinces, stations, params, points = 30, 100, 10, 240
	total := provinces * stations * params * points
	start := time.Now().Add(-time.Duration(points) * time.Minute).Truncate(time.Minute).UnixMilli()
	// One body per province and parameter block: JSON lines of VictoriaMetrics' import.
	type body struct {
		tenant int
		data   []byte
		n      int
	}
	var bodies []body
	var ingest [][]byte
	for p := 0; p < provinces; p++ {
		var vmb, apib bytes.Buffer
		apib.WriteString(`{"series":[`)
		n := 0
		for s := 0; s < stations; s++ {
			for k := 0; k < params; k++ {
				st := fmt.Sprintf("P%02d-S%03d", p, s)
				fmt.Fprintf(&vmb, `{"metric":{"__name__":"param_%d","station":%q,"province":"P%02d","kind":"air"},"values":[`, k, st, p)
				if n > 0 {
					apib.WriteByte(',')
				}
				fmt.Fprintf(&apib, `{"labels":{"__name__":"param_%d","station":%q,"province":"P%02d","kind":"air"},"t":[`, k, st, p)
				var vs, ts strings.Builder
				for i := 0; i < points; i++ {
					if i > 0 {
						vs.WriteByte(',')
						ts.WriteByte(',')
					}
					v := float64(50+(s*7+k*13+i)%40) + float64(i%10)/10
					fmt.Fprintf(&vs, "%g", v)
					fmt.Fprintf(&ts, "%d", start+int64(i)*60000)
				}
				vmb.WriteString(vs.String() + `],"timestamps":[` + ts.String() + "]}\n")
				apib.WriteString(ts.String() + `],"v":[` + vs.String() + "]}")
				n++
			}
		}
		apib.WriteString("]}")
		bodies = append(bodies, body{tenant: p + 1, data: vmb.Bytes(), n: n * points})
		ingest = append(ingest, apib.Bytes())
	}
	post := func(url, token string, data []byte) {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(data))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: HTTP %d %s", url, resp.StatusCode, b)
		}
	}
	run := func(n int, f func(i int)) time.Duration {
		t0 := time.Now()
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					f(i)
				}
			}()
		}
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		return time.Since(t0)
	}
	dVM := run(len(bodies), func(i int) {
		post(fmt.Sprintf("%s/insert/%d/prometheus/api/v1/import", cl.insertURL, bodies[i].tenant), "", bodies[i].data)
	})
	a := newAPI(t, "api", t.TempDir(), "")
	a.start()
	dAPI := run(len(ingest), func(i int) { post(a.URL()+"/api/v1/ingest", a.ingest, ingest[i]) })
	if err := a.p.stop(); err != nil {
		t.Fatal(err)
	}
	// Disk: wait for the storage nodes to flush, then sum their data dirs.
	time.Sleep(5 * time.Second)
	vmBytes := dirSize(filepath.Join(cl.dataDir, "storage-1")) + dirSize(filepath.Join(cl.dataDir, "storage-2"))
	apiBytes := dirSize(filepath.Join(a.dir, "tsdb"))
	t.Logf("%d samples (%d provinces x %d stations x %d params x %d points)", total, provinces, stations, params, points)
	t.Logf("vminsert → 2 vmstorage: %s, %.0f samples/s; on disk %d bytes (%.2f bytes/sample, includes index and a fresh, unmerged part layout)",
		dVM.Round(time.Millisecond), float64(total)/dVM.Seconds(), vmBytes, float64(vmBytes)/float64(total))
	t.Logf("api /api/v1/ingest → embedded tsdb: %s, %.0f samples/s; on disk %d bytes (%.2f bytes/sample after shutdown)",
		dAPI.Round(time.Millisecond), float64(total)/dAPI.Seconds(), apiBytes, float64(apiBytes)/float64(total))
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
