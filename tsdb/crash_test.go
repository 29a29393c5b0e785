package tsdb

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/quantrac/quantrac/model"
)

const crashChildEnv = "QUANTRAC_TSDB_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	// lib/encoding's dependencies start package-level goroutines at init.
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/VictoriaMetrics/VictoriaMetrics/lib/bytesutil.newInternStringMap.func1"),
		goleak.IgnoreAnyFunction("github.com/VictoriaMetrics/VictoriaMetrics/lib/timeutil.init.0.func1"),
		goleak.IgnoreAnyFunction("github.com/VictoriaMetrics/VictoriaMetrics/lib/fasttime.init.0.func1"),
	)
}

// crashBatch is batch n of the child writer: 3 series, 5 samples each.
func crashBatch(n int) []model.Sample {
	var b []model.Sample
	for s := 0; s < 3; s++ {
		ls := model.New("water_level_m", "station", fmt.Sprintf("S%d", s), "province", "HN")
		for i := 0; i < 5; i++ {
			b = append(b, model.Sample{Labels: ls, T: int64(n*5+i) * 1000, V: float64(n) + float64(i)/10})
		}
	}
	return b
}

// crashChild appends numbered batches forever, printing "ack N" after
// each acknowledged one, until it is killed.
func crashChild(dir string) {
	opts := DefaultOptions()
	opts.HeadMaxSamples = 500 // seal often, so kills land in seals too
	if os.Getenv(crashChildEnv+"_SYNC") == "interval" {
		// Written to the OS before Append returns: survives a process kill.
		opts.Sync = SyncInterval
		opts.SyncInterval = time.Second
	}
	db, err := Open(dir, opts)
	if err != nil {
		fmt.Println("open error:", err)
		os.Exit(3)
	}
	start, _ := strconv.Atoi(os.Getenv(crashChildEnv + "_START"))
	w := bufio.NewWriter(os.Stdout)
	for n := start; ; n++ {
		if _, err := db.Append(context.Background(), crashBatch(n)); err != nil {
			fmt.Println("append error:", err)
			os.Exit(3)
		}
		fmt.Fprintf(w, "ack %d\n", n)
		w.Flush()
		time.Sleep(200 * time.Microsecond) // bound the data the parent checks
	}
}

// TestCrashSIGKILL runs a real child process that writes and is killed with
// SIGKILL at random moments, under both fsync policies; after each kill
// every acknowledged batch must be readable and the directory must open
// cleanly.
func TestCrashSIGKILL(t *testing.T) {
	cycles := 20
	if testing.Short() {
		cycles = 5
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(1))
	acked := -1
	ref := refModel{}
	inRef := 0 // batches [0, inRef) are in ref
	for c := 0; c < cycles; c++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		sync := "every_batch"
		if c%2 == 1 {
			sync = "interval"
		}
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, fmt.Sprintf("%s_START=%d", crashChildEnv, acked+1), crashChildEnv+"_SYNC="+sync)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		killAt := time.After(time.Duration(30+rng.Intn(150)) * time.Millisecond)
		killed := false
		for !killed {
			select {
			case <-killAt:
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child exited early: %v", cmd.Wait())
				}
				if strings.HasPrefix(l, "ack ") {
					n, _ := strconv.Atoi(l[4:])
					acked = n
				} else {
					t.Fatalf("child: %s", l)
				}
			}
		}
		// Acks already printed before the kill count too.
		for l := range lines {
			if strings.HasPrefix(l, "ack ") {
				acked, _ = strconv.Atoi(l[4:])
			}
		}
		cmd.Wait()

		t0 := time.Now()
		db, err := Open(dir, DefaultOptions())
		if err != nil {
			t.Fatalf("cycle %d: open after kill: %v", c, err)
		}
		t1 := time.Now()
		for ; inRef <= acked; inRef++ {
			for _, s := range crashBatch(inRef) {
				ref.add(s)
			}
		}
		// Unacknowledged batches may or may not be there; look only at
		// the acknowledged range.
		checkAgainst(t, db, ref, 0, int64(acked*5+4)*1000, true)
		t2 := time.Now()
		if err := db.Close(); err != nil {
			t.Fatalf("cycle %d: close: %v", c, err)
		}
		t.Logf("cycle %d (%s): %d batches acknowledged; open %v, check %v, close %v", c, sync, acked+1, t1.Sub(t0), t2.Sub(t1), time.Since(t2))
	}
	if acked < cycles {
		t.Fatalf("only %d batches acknowledged in %d cycles", acked, cycles)
	}
}
