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
	root := repoRoot()
	if root == "" {
		return ""
	}
	p := filepath.Join(root, "bin", "victoria-metrics")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// repoRoot returns the nearest directory holding go.mod at or above the
// working directory, or "".
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
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
	t.Cleanup(func() { stop(cmd) })
	return "http://" + addr
}

// stop interrupts a started process and kills it if it has not exited
// after 10 s.
func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
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

// ClusterDir finds vminsert, vmselect and vmstorage: env
// QUANTRAC_VM_CLUSTER_DIR, else <repo>/bin, else the shared/bin directory
// beside the repository. It returns "" when they are absent.
func ClusterDir() string {
	has := func(dir string) bool {
		for _, b := range []string{"vminsert", "vmselect", "vmstorage"} {
			if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("QUANTRAC_VM_CLUSTER_DIR"); d != "" {
		if has(d) {
			return d
		}
		return ""
	}
	root := repoRoot()
	if root == "" {
		return ""
	}
	for _, d := range []string{filepath.Join(root, "bin"), filepath.Join(filepath.Dir(root), "shared", "bin")} {
		if has(d) {
			return d
		}
	}
	return ""
}

// Cluster is a running VictoriaMetrics cluster on loopback.
type Cluster struct {
	InsertURL string // vminsert
	SelectURL string // vmselect
	Storage   string // vmstorage http, for force_flush
}

// StartCluster runs one vmstorage, one vminsert and one vmselect until the
// test ends; it skips the test when the binaries are absent.
func StartCluster(t testing.TB) Cluster {
	t.Helper()
	dir := ClusterDir()
	if dir == "" {
		t.Skip("VictoriaMetrics cluster binaries (vminsert, vmselect, vmstorage) not found: set QUANTRAC_VM_CLUSTER_DIR")
	}
	addrs := make([]string, 5)
	for i := range addrs {
		a, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = a
	}
	storHTTP, storInsert, storSelect, insHTTP, selHTTP := addrs[0], addrs[1], addrs[2], addrs[3], addrs[4]
	start := func(name string, args ...string) {
		cmd := exec.Command(filepath.Join(dir, name), append(args, "-loggerLevel=ERROR")...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() { stop(cmd) })
	}
	start("vmstorage", "-storageDataPath="+t.TempDir(), "-httpListenAddr="+storHTTP, "-vminsertAddr="+storInsert,
		"-vmselectAddr="+storSelect, "-retentionPeriod=100y", "-dedup.minScrapeInterval=1ms")
	if !waitHealthy("http://"+storHTTP, 20*time.Second) {
		t.Fatal("vmstorage did not become healthy")
	}
	start("vminsert", "-httpListenAddr="+insHTTP, "-storageNode="+storInsert)
	start("vmselect", "-httpListenAddr="+selHTTP, "-storageNode="+storSelect, "-dedup.minScrapeInterval=1ms",
		"-search.latencyOffset=0s", "-search.disableCache", "-cacheDataPath="+t.TempDir())
	for _, a := range []string{insHTTP, selHTTP} {
		if !waitHealthy("http://"+a, 20*time.Second) {
			t.Fatalf("%s did not become healthy", a)
		}
	}
	return Cluster{InsertURL: "http://" + insHTTP, SelectURL: "http://" + selHTTP, Storage: "http://" + storHTTP}
}
