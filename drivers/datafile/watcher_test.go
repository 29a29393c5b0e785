package datafile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

var testStations = []model.Station{
	{ID: "HN-AIR1", Kind: model.KindAir, Province: "HN"},
	{ID: "HP-W1", Kind: model.KindHydrological, Province: "HP"},
	{ID: "TrạmA", Kind: model.KindAir, Province: "HN"},
	{ID: "DN-01", Kind: model.KindAir, Province: "DN"},
}

// sink is a test handler.
type sink struct {
	mu      sync.Mutex
	batches [][]model.Sample
	fail    int // fail this many calls first
}

func (s *sink) handle(_ context.Context, batch []model.Sample) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return errors.New("storage unavailable")
	}
	s.batches = append(s.batches, batch)
	return nil
}

func (s *sink) samples() []model.Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []model.Sample
	for _, b := range s.batches {
		out = append(out, b...)
	}
	return out
}

func newTestWatcher(t *testing.T, spool string, h Handler, mutate func(o *Options)) *Watcher {
	t.Helper()
	o := Options{Spool: spool, Stations: testStations, Settle: 300 * time.Millisecond, Rescan: time.Second}
	if mutate != nil {
		mutate(&o)
	}
	w, err := New(o, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func copyFixture(t *testing.T, fixture, dir, name string) string {
	t.Helper()
	if name == "" {
		name = fixture
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, readFixture(t, fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func runWatcher(t *testing.T, w *Watcher) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitFile(t *testing.T, p string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !exists(p) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStats waits until the watcher's counters satisfy ok (a file shows up
// in done/ a moment before the counter moves).
func waitStats(t *testing.T, w *Watcher, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := w.Stats()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatcherSpool(t *testing.T) {
	spool := t.TempDir()
	var s sink
	// Files present before the start are read too.
	copyFixture(t, "HN_KCN-ThangLong_HN-AIR1_20261125080000.txt", spool, "")
	w := newTestWatcher(t, spool, s.handle, nil)
	runWatcher(t, w)
	copyFixture(t, "HP_NhaMay_Nuoc_HP-W1_20261125083000.txt", spool, "")
	copyFixture(t, "HN_KCN-ThangLong_HN-AIR1_20261125090000.txt", spool, "") // broken lines
	copyFixture(t, "HP_NhaMay_Nuoc_HP-W1_20261125090000.txt", spool, "")     // wrong units
	cpName := "HN_Nha_Tr\x61\xf2mA_20261125080000.txt"                       // Windows-1258 name
	copyFixture(t, "cp1258_content.txt", spool, cpName)
	copyFixture(t, "HN_KCN-ThangLong_HN-AIR1_20261125080000.txt", spool, "HN_X_UNKNOWN_20261125080000.txt")
	if err := os.WriteFile(filepath.Join(spool, "notes.doc"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	done, rej := filepath.Join(spool, DoneDirName), filepath.Join(spool, RejectedDirName)
	waitFile(t, filepath.Join(done, "HN_KCN-ThangLong_HN-AIR1_20261125080000.txt"))
	waitFile(t, filepath.Join(done, "HP_NhaMay_Nuoc_HP-W1_20261125083000.txt"))
	waitFile(t, filepath.Join(done, cpName))
	waitFile(t, filepath.Join(rej, "HN_KCN-ThangLong_HN-AIR1_20261125090000.txt.error"))
	waitFile(t, filepath.Join(rej, "HP_NhaMay_Nuoc_HP-W1_20261125090000.txt.error"))
	waitFile(t, filepath.Join(rej, "HN_X_UNKNOWN_20261125080000.txt.error"))

	errText := func(name string) string {
		b, err := os.ReadFile(filepath.Join(rej, name+ErrorSuffix))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	broken := errText("HN_KCN-ThangLong_HN-AIR1_20261125090000.txt")
	for _, want := range []string{"5 of 7 lines could not be read; the 2 good lines were stored",
		"line 2: 2 fields, want 5", `line 3: value "abc" is not a number`, `line 6: unknown parameter "XYZ"`} {
		if !strings.Contains(broken, want) {
			t.Errorf(".error of the broken file:\n%s\nwant %q", broken, want)
		}
	}
	if u := errText("HP_NhaMay_Nuoc_HP-W1_20261125090000.txt"); !strings.Contains(u, `line 1: unit "mg/m3" for TSS`) ||
		!strings.Contains(u, `line 3: unit "km" for WaterLevel`) {
		t.Errorf(".error of the wrong-units file:\n%s", u)
	}
	if u := errText("HN_X_UNKNOWN_20261125080000.txt"); !strings.Contains(u, `station "UNKNOWN" is not in the station table`) {
		t.Errorf(".error of the unknown station:\n%s", u)
	}
	if !exists(filepath.Join(spool, "notes.doc")) {
		t.Error("a file that is not a data file was moved")
	}

	// 6 + 7 + 2 (good lines of the broken file) + 2 (wrong units) + 2 (cp1258) samples.
	ss := s.samples()
	if len(ss) != 19 {
		t.Errorf("%d samples, want 19:\n%s", len(ss), render(ss))
	}
	stations := map[string]int{}
	for _, smp := range ss {
		stations[smp.Labels.Get(model.LabelStation)]++
	}
	if stations["TrạmA"] != 2 {
		t.Errorf("samples by station %v: want 2 for TrạmA (Windows-1258 name)", stations)
	}
	st := waitStats(t, w, func(st Stats) bool { return st.Done+st.Rejected >= 6 })
	if st.Done != 3 || st.Rejected != 3 || st.Samples != 19 || st.BadLines != 7 {
		t.Errorf("stats %+v", st)
	}
}

func TestWatcherDuplicateAcrossRestart(t *testing.T) {
	spool := t.TempDir()
	var s sink
	const name = "HP_NhaMay_Nuoc_HP-W1_20261125083000.txt"
	w := newTestWatcher(t, spool, s.handle, nil)
	ctx := context.Background()
	if out, err := w.ProcessFile(ctx, copyFixture(t, name, spool, "")); out != OutcomeDone || err != nil {
		t.Fatalf("first: %s %v", out, err)
	}
	// Same station and time under another facility name: a duplicate.
	out, err := w.ProcessFile(ctx, copyFixture(t, name, spool, "HP_Other_HP-W1_20261125083000.txt"))
	if out != OutcomeDuplicate || err == nil || !strings.Contains(err.Error(), "already read from "+name) {
		t.Fatalf("second: %s %v", out, err)
	}
	w.Close()

	// A new watcher remembers it from disk.
	w2 := newTestWatcher(t, spool, s.handle, nil)
	out, err = w2.ProcessFile(ctx, copyFixture(t, name, spool, ""))
	if out != OutcomeDuplicate {
		t.Fatalf("after restart: %s %v", out, err)
	}
	if !exists(filepath.Join(spool, RejectedDirName, name)) || !exists(filepath.Join(spool, RejectedDirName, name+ErrorSuffix)) {
		t.Error("duplicate not in rejected/ with an .error file")
	}
	if n := len(s.samples()); n != 7 {
		t.Errorf("%d samples stored, want 7 (once)", n)
	}
}

func TestWatcherHandlerFailureRetries(t *testing.T) {
	spool := t.TempDir()
	s := sink{fail: 1}
	w := newTestWatcher(t, spool, s.handle, func(o *Options) { o.Rescan = 200 * time.Millisecond })
	runWatcher(t, w)
	const name = "HN_KCN-ThangLong_HN-AIR1_20261125080000.txt"
	copyFixture(t, name, spool, "")
	waitFile(t, filepath.Join(spool, DoneDirName, name))
	if st := waitStats(t, w, func(st Stats) bool { return st.Done >= 1 }); st.Retries != 1 || st.Done != 1 || len(s.samples()) != 6 {
		t.Errorf("stats %+v, %d samples", st, len(s.samples()))
	}
}

// TestWatcherTwoWrites: a file written in two steps is read once, whole.
func TestWatcherTwoWrites(t *testing.T) {
	spool := t.TempDir()
	var s sink
	now := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	w := newTestWatcher(t, spool, s.handle, func(o *Options) { o.Now = clock; o.Settle = time.Second })
	ctx := context.Background()

	data := readFixture(t, "HN_KCN-ThangLong_HN-AIR1_20261125080000.txt")
	const name = "HN_KCN-ThangLong_HN-AIR1_20261125080000.txt"
	p := filepath.Join(spool, name)
	half := len(data) / 2
	if err := os.WriteFile(p, data[:half], 0o644); err != nil {
		t.Fatal(err)
	}
	w.scan()
	advance(900 * time.Millisecond)
	w.check(ctx) // not settled yet
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data[half:]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	advance(200 * time.Millisecond)
	w.check(ctx) // size changed: the clock starts again
	if len(s.samples()) != 0 || !exists(p) {
		t.Fatal("file read while being written")
	}
	advance(1100 * time.Millisecond)
	w.check(ctx)
	if got := len(s.samples()); got != 6 {
		t.Fatalf("%d samples, want all 6", got)
	}
	if !exists(filepath.Join(spool, DoneDirName, name)) {
		t.Error("not moved to done/")
	}
}

// TestWatcherLiveTwoWritesAndRename runs the same against the real clock
// and fsnotify, with generous margins, plus a temporary name renamed into
// place.
func TestWatcherLiveTwoWritesAndRename(t *testing.T) {
	spool := t.TempDir()
	var s sink
	w := newTestWatcher(t, spool, s.handle, func(o *Options) { o.Settle = 1500 * time.Millisecond; o.Rescan = time.Hour })
	runWatcher(t, w)
	data := readFixture(t, "HN_KCN-ThangLong_HN-AIR1_20261125080000.txt")
	const name = "HN_KCN-ThangLong_HN-AIR1_20261125080000.txt"
	p := filepath.Join(spool, name)
	if err := os.WriteFile(p, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(data[len(data)/2:])
	f.Close()

	tmp := filepath.Join(spool, "HP_NhaMay_Nuoc_HP-W1_20261125083000.txt.part")
	if err := os.WriteFile(tmp, readFixture(t, "HP_NhaMay_Nuoc_HP-W1_20261125083000.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // a .part file is never read
	if exists(filepath.Join(spool, DoneDirName, filepath.Base(tmp))) || !exists(tmp) {
		t.Fatal("upload in progress was touched")
	}
	if err := os.Rename(tmp, strings.TrimSuffix(tmp, ".part")); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(spool, DoneDirName, name))
	waitFile(t, filepath.Join(spool, DoneDirName, "HP_NhaMay_Nuoc_HP-W1_20261125083000.txt"))
	if got := len(s.samples()); got != 6+7 {
		t.Errorf("%d samples, want 13", got)
	}
	if st := waitStats(t, w, func(st Stats) bool { return st.Done >= 2 }); st.Rejected != 0 || st.BadLines != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestWatcherOptions(t *testing.T) {
	h := (&sink{}).handle
	if _, err := New(Options{}, h); err == nil {
		t.Error("no spool: want an error")
	}
	if _, err := New(Options{Spool: filepath.Join(t.TempDir(), "missing")}, h); err == nil {
		t.Error("missing spool: want an error")
	}
	if _, err := New(Options{Spool: t.TempDir()}, nil); err == nil {
		t.Error("nil handler: want an error")
	}
	if _, err := New(Options{Spool: t.TempDir(), Format: Format{Columns: []string{"value"}}}, h); err == nil {
		t.Error("bad columns: want an error")
	}
	// A station not in the table is read with DefaultKind.
	spool := t.TempDir()
	var s sink
	w := newTestWatcher(t, spool, s.handle, func(o *Options) { o.DefaultKind = model.KindWeather; o.Stations = nil })
	out, err := w.ProcessFile(context.Background(), copyFixture(t, "HN_KCN-ThangLong_HN-AIR1_20261125080000.txt", spool, ""))
	if out != OutcomeDone || err != nil || s.samples()[0].Labels.Get(model.LabelKind) != model.KindWeather {
		t.Errorf("default kind: %s %v", out, err)
	}
	// Too large.
	w2 := newTestWatcher(t, spool, s.handle, func(o *Options) { o.MaxFileSize = 10 })
	out, err = w2.ProcessFile(context.Background(), copyFixture(t, "HP_NhaMay_Nuoc_HP-W1_20261125083000.txt", spool, ""))
	if out != OutcomeRejected || err == nil || !strings.Contains(err.Error(), "over max_file_size") {
		t.Errorf("too large: %s %v", out, err)
	}
}

func TestProcessedStoreRepairs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".processed")
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	old := now.Add(-500 * 24 * time.Hour).UnixMilli()
	recent := now.Add(-time.Hour).UnixMilli()
	content := "HN\tS1\t" + itoa(recent) + "\t\"a.txt\"\t1\n" +
		"garbage line\n" +
		"HN\tS2\t" + itoa(old) + "\t\"b.txt\"\t1\n" +
		"HN\tS3\t" + itoa(recent) + "\t\"c.t" // torn
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	ps, dropped, err := openProcessed(p, 400*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.close()
	if dropped < 3 || len(ps.keys) != 1 {
		t.Errorf("dropped %d, kept %d keys", dropped, len(ps.keys))
	}
	if _, ok := ps.lookup(FileName{Province: "HN", Station: "S1", T: recent}.Key()); !ok {
		t.Error("recent key lost")
	}
	if err := ps.add(FileName{Province: "HN", Station: "S4", T: recent}, "d\t.txt", now); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if strings.Count(string(b), "\n") != 2 || !strings.HasSuffix(string(b), "\"d\\t.txt\"\t"+itoa(now.UnixMilli())+"\n") {
		t.Errorf("store file:\n%s", b)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestPartialReason(t *testing.T) {
	if got, want := partialReason(2, 3, 1), "2 of 3 lines could not be read; the 1 good line was stored (resending the corrected file is safe)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := partialReason(5, 7, 2); !strings.Contains(got, "the 2 good lines were stored") {
		t.Errorf("got %q", got)
	}
}
