package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the command's writer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunDemoScenario(t *testing.T) {
	dir := t.TempDir()
	cc := filepath.Join(dir, "collector.yaml")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"-scenario", "../../configs/demo/scenario.yaml",
			"-control", "127.0.0.1:0", "-mqtt-listen", "127.0.0.1:0", "-modbus-base-port", "0",
			"-spool", filepath.Join(dir, "spool"), "-emit-collector-config", cc,
			"-status", "200ms", "-list", "-1",
		}, &out, &errOut)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), "HN-LongBien 7.") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	o := out.String()
	for _, want := range []string{"HN-LongBien", "tcp://127.0.0.1:", "senml/HN/HN-MinhKhai", "HN_NMYENSO_HN-YenSo_", "24 stations", "mqtt broker tcp://", "control http://", "HN-LongBien 7.", "stopping"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	if data, err := os.ReadFile(cc); err != nil || !bytes.Contains(data, []byte("driver: modbus")) {
		t.Errorf("collector config: %v\n%s", err, data)
	}
}

func TestRunBadInput(t *testing.T) {
	f := func(args ...string) {
		t.Helper()
		var out, errOut syncBuffer
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	f("-scenario", "nope.yaml")
	f("-log-level", "loud")
	f("-no-such-flag")
	f("-speed", "-3")
	f("-modbus-base-port", "70000")
	f("-status", "-1s")
	f("stray-argument")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("stations:\n  - {id: X, kind: lake, province: HN, transport: mqtt}\n"), 0o644)
	f("-scenario", bad)
}

// TestRunRelativeSpool: -spool is relative to the working directory (it
// used to land next to the scenario file, e.g. configs/demo/data/spool).
func TestRunRelativeSpool(t *testing.T) {
	scenario, err := filepath.Abs("../../configs/demo/scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-scenario", scenario, "-control", "-", "-mqtt-listen", "127.0.0.1:0", "-modbus-base-port", "0",
			"-spool", "spool", "-status", "0", "-list", "-1"}, &out, &errOut)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), "txt spool") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := "txt spool " + filepath.Join(dir, "spool"); !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
}
