package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory, or skips.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("disk-full scenario needs a size-limited tmpfs; mount -t tmpfs is not permitted here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file until the file system is full and returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	// Whatever is left in smaller pieces too.
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	return path
}

// TestFaultDiskFull fills the api's disk under ingest: the api answers the
// collector with an error (no sample is acknowledged that was not stored),
// the collector buffers, and once space returns everything arrives; the
// store opens afterwards.
func TestFaultDiskFull(t *testing.T) {
	full := dur(8*time.Second, time.Minute)
	mnt := mountTmpfs(t, "32m")
	sim := startSim(t, "")
	apiDir := filepath.Join(mnt, "api")
	a := newAPI(t, "api", apiDir, "")
	a.start()
	rec := newRecorder(t, a.URL())
	c := newCollector(t, "collector", collectorSpec{
		SinkType: "api", SinkURL: rec.URL(), SinkToken: a.ingest,
		Broker: sim.BrokerURL(), ClientID: "e2e-diskfull", Stations: sim.Stations(),
	})
	c.start()
	waitAllStations(t, sim, rec)
	start := time.Now()
	_, _, before := rec.snapshot()
	filler := fillDisk(t, mnt)
	time.Sleep(full)
	if !a.p.running() {
		t.Errorf("the api exited when the disk filled: %v", a.p.err)
	}
	_, _, during := rec.snapshot()
	errs := map[int]int{}
	for code, n := range during {
		if d := n - before[code]; d > 0 && code != 200 {
			errs[code] = d
		}
	}
	if len(errs) == 0 {
		t.Errorf("no ingest request failed while the disk was full (answers %v)", during)
	}
	if errs[503] == 0 {
		t.Logf("note: no 503 while the disk was full; answers %v", errs)
	}
	logText := a.p.logTail(4000)
	clear := strings.Contains(logText, "no space left on device")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	// Recovery by itself: new samples acknowledged after space returned.
	selfRecovered := true
	waitDeadline := time.Now().Add(dur(10*time.Second, 30*time.Second))
	for {
		_, _, now := rec.snapshot()
		if now[200] > during[200] {
			break
		}
		if time.Now().After(waitDeadline) {
			selfRecovered = false
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	restarted := ""
	if !selfRecovered {
		t.Errorf("the api still answers 503 after space returned: the tsdb WAL must recover by itself after ENOSPC")
		if err := a.p.stop(); err != nil {
			t.Logf("api stop after the disk-full: %v", err)
		}
		a.start()
		restarted = "; the api did not recover by itself and was restarted (a failure)"
	}
	if !a.p.running() {
		a.start()
	}
	exp := expectAll(t, sim, rec, start, time.Now().Add(-2*time.Second))
	excused := excuse(t, exp, c)
	waitFor(t, 90*time.Second, "the backlog after space returned", func() bool { return rec.covers(exp) == 0 })
	recovered := time.Since(freed)
	if err := c.p.stop(); err != nil {
		t.Errorf("collector stop: %v", err)
	}
	if err := a.p.stop(); err != nil {
		t.Errorf("api stop: %v", err)
	}
	checkAPIFiles(t, apiDir)
	st, stats := readTSDB(t, filepath.Join(apiDir, "tsdb"))
	tl := count(sim, exp, rec, st)
	tl.check(t)
	rec.mu.Lock()
	sample := ""
	for _, b := range rec.bodies {
		if strings.HasPrefix(b, "HTTP 5") {
			sample = b
			break
		}
	}
	rec.mu.Unlock()
	report(row{Scenario: "disk full (tmpfs 32 MiB)", Cycles: 1, tally: tl,
		Note: fmt.Sprintf("full for %s: answers to the collector %v; api log names ENOSPC: %v; first error body %.160q; backlog delivered %s after space returned%s; WAL repairs at open %d",
			full, errs, clear, sample, recovered.Round(100*time.Millisecond), restarted, stats.WALRepairs.Load()) + excused})
}
