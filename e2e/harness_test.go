package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment switches of the suite.
const (
	// envFull runs every scenario with its full cycle count and durations.
	envFull = "QUANTRAC_E2E_FULL"
	// envSummary, when set, is a file the summary table is written to.
	envSummary = "QUANTRAC_E2E_SUMMARY"
	// envSrc, when set, is the source tree the binaries are built from
	// (default: this repository).
	envSrc = "QUANTRAC_E2E_SRC"
	// envStrict makes the known bugs of other packages (worked around
	// and reported otherwise) fail the suite; the full run sets it too.
	envStrict = "QUANTRAC_E2E_STRICT"
)

// bins are the binaries built once by TestMain.
var bins struct {
	dir       string
	api       string
	collector string
	err       error
}

// repoRoot is the repository root (the parent of e2e/).
var repoRoot string

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	repoRoot = filepath.Dir(wd)
	code := func() int {
		dir, err := os.MkdirTemp("", "quantrac-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		bins.dir = dir
		code := m.Run()
		printSummary(os.Stdout)
		return code
	}()
	os.Exit(code)
}

var buildOnce sync.Once

// needBinaries builds cmd/api and cmd/collector once (without -race, so
// they run at full speed next to a race-enabled test binary).
func needBinaries(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		bins.api = filepath.Join(bins.dir, "api")
		bins.collector = filepath.Join(bins.dir, "collector")
		cmd := exec.Command("go", "build", "-o", bins.dir+string(os.PathSeparator), "./cmd/api", "./cmd/collector")
		cmd.Dir = repoRoot
		if src := os.Getenv(envSrc); src != "" {
			cmd.Dir = src
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			bins.err = fmt.Errorf("go build ./cmd/api ./cmd/collector: %v\n%s", err, out)
		}
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
}

// full reports whether the full suite runs.
func full() bool { return os.Getenv(envFull) != "" }

// cycles returns ci or, in the full run, fullN.
func cycles(ci, fullN int) int {
	if full() {
		return fullN
	}
	return ci
}

// dur returns ci or, in the full run, fullD.
func dur(ci, fullD time.Duration) time.Duration {
	if full() {
		return fullD
	}
	return ci
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// proc is a child process whose output goes to a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// startProc starts bin with args; output is appended to logPath.
func startProc(t *testing.T, name, logPath, bin string, args ...string) *proc {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "=== %s start %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group (a terminal's Ctrl-C goes to the test only); killed
	// with the test process if that dies without its cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill9()
		if t.Failed() {
			kept := keepLog(t, name, logPath)
			t.Logf("--- %s log (whole log kept in %s), last 3000 bytes:\n%s", name, kept, p.logTail(3000))
		}
	})
	return p
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill9 sends SIGKILL and waits for the exit.
func (p *proc) kill9() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to 30s, then SIGKILL. It returns the
// exit error of a process that did not exit cleanly.
func (p *proc) stop() error {
	if !p.running() {
		return p.err
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(30 * time.Second):
		p.kill9()
		return fmt.Errorf("%s did not stop within 30s of SIGTERM", p.name)
	}
}

// logTail returns the last n bytes of the process log.
func (p *proc) logTail(n int) string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// waitFor polls cond every 100ms until it is true or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// httpClient is used for every request of the suite.
var httpClient = &http.Client{Timeout: 10 * time.Second}

// getJSON GETs url with an optional bearer token into v.
func getJSON(ctx context.Context, url, token string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %s", url, resp.StatusCode, bytes.TrimSpace(body))
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", url, err)
	}
	return nil
}

// healthy reports whether GET url answers 200.
func healthy(url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return getJSON(ctx, url, "", nil) == nil
}

// cpuNote says how many cores the suite had, for the logs.
func cpuNote() string { return "GOMAXPROCS=" + strconv.Itoa(runtime.GOMAXPROCS(0)) }

var errStopped = errors.New("stopped")

// dialTCP connects to addr with a short timeout.
func dialTCP(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }

// knownBug records a bug of another package that the scenario works
// around: an error in the full or strict run, a loud log line otherwise
// (so that the CI-sized suite stays green until the owner fixes it).
func knownBug(t *testing.T, what string) {
	t.Helper()
	if full() || os.Getenv(envStrict) != "" {
		t.Errorf("KNOWN BUG: %s", what)
		return
	}
	t.Logf("KNOWN BUG (worked around; %s=1 fails on it): %s", envStrict, what)
}

// keepLog copies a failed test's process log out of its temporary
// directory and returns where it is.
func keepLog(t *testing.T, name, path string) string {
	dir := filepath.Join(os.TempDir(), "quantrac-e2e-logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return path
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return path
	}
	dst := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+name+".log")
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return path
	}
	return dst
}
