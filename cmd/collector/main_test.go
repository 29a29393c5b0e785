package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-check", "-config", filepath.Join("..", "..", "configs", "collector.yaml")}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ok, 4 stations") {
		t.Fatalf("output: %q", out.String())
	}
	example := filepath.Join("..", "..", "configs", "collector.yaml")
	out.Reset()
	if err := run([]string{"-check", "-config", example, "-sink", "victoriametrics", "-sink-url", "http://127.0.0.1:8428"}, &out, &errb); err != nil || !strings.Contains(out.String(), "sink victoriametrics") {
		t.Fatalf("sink override: %v %q", err, out.String())
	}
	if err := run([]string{"-check", "-config", example, "-sink", "kafka"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "unknown sink") {
		t.Fatalf("bad sink override: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("data_dir: x\nsink: {type: api, url: \"http://127.0.0.1:1\"}\nstations:\n  - {id: A, kind: air, province: HN, driver: carrier-pigeon}\n"), 0o644)
	err := run([]string{"-check", "-config", bad}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), bad+":4: stations[0].driver: unknown driver") {
		t.Fatalf("want an error naming file, line and key; got %v", err)
	}
	// A broken register map fails the check with the map's file and line.
	mapDir := t.TempDir()
	os.WriteFile(filepath.Join(mapDir, "m.yaml"), []byte("registers:\n  - metric: ph\n    type: holding\n    address: 0\n    data_type: float33\n"), 0o644)
	withMap := filepath.Join(mapDir, "c.yaml")
	os.WriteFile(withMap, []byte("data_dir: x\nsink: {type: api, url: \"http://127.0.0.1:1\"}\nstations:\n  - {id: A, kind: air, province: HN, driver: modbus, modbus: {address: \"tcp://127.0.0.1:1\", map: m.yaml}}\n"), 0o644)
	if err := run([]string{"-check", "-config", withMap}, &out, &errb); err == nil || !strings.Contains(err.Error(), "m.yaml:5") {
		t.Fatalf("broken map: %v", err)
	}
	// Bad flags are named even with -check, before anything starts.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-check", "-config", example, "-log-level", "loud"}, `-log-level "loud": want debug, info, warn or error`},
		{[]string{"-check", "-config", example, "-listen", "nonsense"}, `listen address "nonsense"`},
		{[]string{"-check", "-config", example, "extra"}, `unexpected argument "extra"`},
	} {
		if err := run(tc.args, &out, &errb); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	if err := run([]string{"probe", "snmp"}, &out, &errb); err == nil {
		t.Fatal("probe of an unknown protocol accepted")
	}
	if err := run([]string{"probe", "modbus", "-address", "tcp://127.0.0.1:1"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "-map") {
		t.Fatalf("probe without -map: %v", err)
	}
}

const stationTpl = `  - {id: %s, kind: air, province: HN, driver: modbus,
     modbus: {address: "tcp://127.0.0.1:1", slave_id: 1, map: air-int16-scaled.yaml, interval: 1s, timeout: 200ms}}
`

// TestProcessReload runs the built binary: SIGHUP with a new station adds
// it, SIGHUP with a broken file keeps the running config, SIGTERM exits 0.
func TestProcessReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "collector")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(filepath.Join("testdata", "air-int16-scaled.yaml"))
	os.WriteFile(filepath.Join(dir, "air-int16-scaled.yaml"), data, 0o644)
	cfgPath := filepath.Join(dir, "collector.yaml")
	write := func(body string) {
		if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	head := fmt.Sprintf("data_dir: %s\nsink: {type: api, url: \"http://127.0.0.1:1\"}\nstations:\n", filepath.Join(dir, "queue"))
	write(head + fmt.Sprintf(stationTpl, "A"))

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-config", cfgPath, "-listen", addr, "-log-level", "error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	stations := func() []string {
		resp, err := http.Get("http://" + addr + "/status")
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var st struct {
			Stations []struct{ ID string }
		}
		json.NewDecoder(resp.Body).Decode(&st)
		var ids []string
		for _, s := range st.Stations {
			ids = append(ids, s.ID)
		}
		return ids
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (stations %v)", what, stations())
			}
		}
	}
	wait("station A", func() bool { return strings.Join(stations(), ",") == "A" })
	write(head + fmt.Sprintf(stationTpl, "A") + fmt.Sprintf(stationTpl, "B"))
	cmd.Process.Signal(syscall.SIGHUP)
	wait("station B after reload", func() bool { return strings.Join(stations(), ",") == "A,B" })
	write(head + "  - {id: C, kind: lava}\n")
	cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("not healthy after a bad reload: %v", err)
	}
	resp.Body.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}
