// Package vmtest starts a real single-node VictoriaMetrics for tests. The
// binary comes from env QUANTRAC_VM_BIN, else <repo>/bin/victoria-metrics
// (built by scripts/build-vm); tests skip with a message when it is absent.
package vmtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Binary finds the VictoriaMetrics binary or returns "".
func Binary() string {
	if p := os.Getenv("QUANTRAC_VM_BIN"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "victoria-metrics")
			if _, err := os.Stat(p); err == nil {
				return p
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Start runs VictoriaMetrics in a temporary directory until the test ends
// and returns its base URL. It deduplicates samples with equal timestamps
// and shows fresh samples to queries at once, as quantrac expects.
func Start(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("VictoriaMetrics binary not found: run scripts/build-vm or set QUANTRAC_VM_BIN")
	}
	var addr string
	var cmd *exec.Cmd
	for attempt := 0; attempt < 3; attempt++ {
		var err error
		if addr, err = freePort(); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(bin,
			"-storageDataPath="+t.TempDir(),
			"-httpListenAddr="+addr,
			"-retentionPeriod=100y",
			"-dedup.minScrapeInterval=1ms",
			"-search.latencyOffset=0s",
			"-search.disableCache",
			"-loggerLevel=ERROR",
		)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		if waitHealthy("http://"+addr, 20*time.Second) {
			break
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		cmd = nil
	}
	if cmd == nil {
		t.Fatal("VictoriaMetrics did not become healthy")
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return "http://" + addr
}

func waitHealthy(url string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Flush makes every ingested sample searchable.
func Flush(t testing.TB, url string) {
	t.Helper()
	resp, err := http.Get(url + "/internal/force_flush")
	if err != nil {
		t.Fatal(fmt.Errorf("force flush: %w", err))
	}
	resp.Body.Close()
}
