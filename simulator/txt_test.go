package simulator

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const txtScenario = `
seed: 5
speed: 60
interval: 1s
stations:
  - {id: X-Water, kind: hydrological, province: HN, transport: txt, facility: NMYENSO, parameters: [ph, cod_mgl, water_level_m]}
  - {id: X-Air, kind: air, province: HD, transport: txt}
`

// parseTXT reads a spool file: parameter → value, plus stamp and status.
func parseTXT(t *testing.T, path string) (map[string]float64, time.Time, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vals := map[string]float64{}
	var stamp time.Time
	status := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != 5 {
			t.Fatalf("%s: line %q: want 5 tab-separated fields", path, sc.Text())
		}
		v, err := strconv.ParseFloat(fs[1], 64)
		if err != nil {
			t.Fatalf("%s: value %q: %v", path, fs[1], err)
		}
		vals[fs[0]] = v
		stamp, err = time.ParseInLocation("20060102150405", fs[3], VietnamTime)
		if err != nil {
			t.Fatal(err)
		}
		status = fs[4]
	}
	return vals, stamp, status
}

func listTXT(dir string) []string {
	ms, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	return ms
}

func waitFiles(t *testing.T, dir string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if fs := listTXT(dir); len(fs) >= n {
			return fs
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fewer than %d files in %s", n, dir)
	return nil
}

func TestTXTFilesMatchTruth(t *testing.T) {
	sim := startTest(t, txtScenario)
	files := waitFiles(t, sim.Spool(), 4)
	for _, p := range files {
		name := filepath.Base(p)
		parts := strings.Split(strings.TrimSuffix(name, ".txt"), "_")
		if len(parts) != 4 {
			t.Fatalf("file name %s: want province_facility_station_time.txt", name)
		}
		id := parts[2]
		vals, stamp, status := parseTXT(t, p)
		if want := TXTFileName(parts[0], parts[1], id, stamp); want != name {
			t.Errorf("file %s: stamp in lines gives name %s", name, want)
		}
		if status != "00" {
			t.Errorf("%s: status %s", name, status)
		}
		// The file time has whole seconds; the step starts there or within
		// the same second.
		for param, v := range vals {
			rd, err := sim.Truth(id, param, stamp)
			if err != nil || !rd.OK || *rd.V != v {
				t.Errorf("%s %s: %v, truth %+v (%v)", name, param, v, rd, err)
			}
		}
		if id == "X-Water" && (parts[1] != "NMYENSO" || len(vals) != 3) {
			t.Errorf("%s: facility %s, %d values", name, parts[1], len(vals))
		}
	}
	// No temporary file stays behind.
	if tmp, _ := filepath.Glob(filepath.Join(sim.Spool(), ".*.tmp")); len(tmp) > 0 {
		time.Sleep(100 * time.Millisecond)
		if tmp2, _ := filepath.Glob(filepath.Join(sim.Spool(), ".*.tmp")); len(tmp2) == len(tmp) && len(tmp) > 2 {
			t.Errorf("temporary files left: %v", tmp2)
		}
	}
}

func TestTXTHalfWrittenAndStatus(t *testing.T) {
	sc := txtScenario
	sim := startTest(t, sc)
	sim.AddFault(Fault{Station: "X-Water", Kind: FaultHalfWritten, Delay: 600 * time.Millisecond}, 0)
	sim.AddFault(Fault{Station: "X-Water", Kind: FaultCalibration}, 0)
	// Watch for a file of X-Water whose last line is cut.
	deadline := time.Now().Add(10 * time.Second)
	sawHalf := false
	for time.Now().Before(deadline) && !sawHalf {
		for _, p := range listTXT(sim.Spool()) {
			if !strings.Contains(p, "X-Water") {
				continue
			}
			data, _ := os.ReadFile(p)
			if len(data) > 0 && !strings.HasSuffix(string(data), "\n") {
				sawHalf = true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawHalf {
		t.Fatal("half_written: never saw a cut file")
	}
	time.Sleep(900 * time.Millisecond)
	for _, p := range listTXT(sim.Spool()) {
		if strings.Contains(p, "X-Water") {
			data, _ := os.ReadFile(p)
			if !strings.HasSuffix(string(data), "\n") {
				continue // the next one, being written
			}
			_, _, status := parseTXT(t, p)
			if status != "01" {
				t.Errorf("%s: status %s, want 01 (calibration)", p, status)
			}
		}
	}
}
