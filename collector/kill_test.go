package collector

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/quantrac/quantrac/model"
)

// Environment of the collector child process started by TestKill9.
const (
	envChildConfig = "QUANTRAC_COLLECTOR_CHILD_CONFIG"
	envChildAckLog = "QUANTRAC_COLLECTOR_CHILD_ACKLOG"
	envChildBase   = "QUANTRAC_COLLECTOR_CHILD_BASE"
	envChildIdle   = "QUANTRAC_COLLECTOR_CHILD_IDLE"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envChildConfig); path != "" {
		if err := childMain(path); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of http.DefaultTransport-like clients.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// readAckLog returns the batch numbers acknowledged so far; a torn last
// line is ignored.
func readAckLog(path string) ([]int64, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasSuffix(line, ";") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(line, ";"), 10, 64)
		if err == nil {
			out = append(out, n)
		}
	}
	return out, sc.Err()
}

// childMain runs a collector whose push source numbers its batches and
// logs each acknowledgement (like a broker forgetting an acked message).
func childMain(path string) error {
	cfg, err := LoadConfig(path)
	if err != nil {
		return err
	}
	ackPath := os.Getenv(envChildAckLog)
	acked, err := readAckLog(ackPath)
	if err != nil {
		return err
	}
	var next int64
	for _, a := range acked {
		next = max(next, a+1)
	}
	base, _ := strconv.ParseInt(os.Getenv(envChildBase), 10, 64)
	ackLog, err := os.OpenFile(ackPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer ackLog.Close()
	src := &pushSource{stations: []string{"P1", "P2"}, every: 2 * time.Millisecond, perBatch: 3, base: base, next: next}
	if os.Getenv(envChildIdle) != "" {
		src.limit = next // deliver what is queued, emit nothing new
		if next == 0 {
			src.limit = -1
		}
	}
	drivers := Drivers{MQTT: func(_ *MQTTConfig, _ []model.Station, h PushHandler, _ zerolog.Logger) (Runner, error) {
		return runnerFunc(func(ctx context.Context) error {
			return src.Run(ctx, func(ctx context.Context, batch []model.Sample, ack func()) {
				h(ctx, batch, func() {
					ack()
					src.mu.Lock()
					seq := src.acked[len(src.acked)-1]
					src.mu.Unlock()
					fmt.Fprintf(ackLog, "%d;\n", seq)
				})
			})
		}), nil
	}}
	log := zerolog.New(os.Stderr).Level(zerolog.ErrorLevel)
	c, err := New(cfg, Options{Logger: log, Drivers: drivers})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err = c.Run(ctx)
	c.Close()
	return err
}

// TestKill9 kills the collector process with SIGKILL many times while it
// takes batches in and sends them out (the sink is down half of the time):
// every batch it acknowledged reaches the sink in the end.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process many times; skipped with -short")
	}
	api := newIngestServer(t)
	dir := t.TempDir()
	pushConfig(t, dir, api.url(), "")
	path := filepath.Join(dir, "collector.yaml")
	ackLog := filepath.Join(dir, "acked.log")
	base := time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000
	rng := rand.New(rand.NewPCG(1, 2))

	start := func(idle bool) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChildConfig+"="+path, envChildAckLog+"="+ackLog, envChildBase+"="+strconv.FormatInt(base, 10))
		if idle {
			cmd.Env = append(cmd.Env, envChildIdle+"=1")
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	const rounds = 10
	for i := 0; i < rounds; i++ {
		if i%2 == 1 {
			api.stop()
		} else {
			api.start()
		}
		cmd := start(false)
		time.Sleep(time.Duration(200+rng.IntN(500)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	api.start()
	acked, err := readAckLog(ackLog)
	if err != nil {
		t.Fatal(err)
	}
	if len(acked) < rounds {
		t.Fatalf("only %d batches acknowledged in %d rounds", len(acked), rounds)
	}
	cmd := start(true)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	src := &pushSource{stations: []string{"P1", "P2"}, perBatch: 3, base: base, acked: acked}
	waitFor(t, "every acknowledged batch at the sink", 60*time.Second, func() bool {
		got := api.snapshot()
		for _, seq := range acked {
			for _, pts := range got {
				found := false
				for _, p := range pts {
					if p.T == base+seq*1000 {
						found = true
						break
					}
				}
				if !found {
					return false
				}
			}
		}
		return len(got) == 6
	})
	got := api.snapshot()
	checkComplete(t, src, got)
	total := api.total()
	api.mu.Lock()
	dups := api.dups
	api.mu.Unlock()
	t.Logf("%d rounds, %d batches acknowledged, %d samples stored, %d duplicates resent", rounds, len(acked), total, dups)
}
