package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/simulator"
	"github.com/quantrac/quantrac/tsdb"
)

// sampleKey names one sample independently of extra labels a register map
// adds: station, metric and time.
type sampleKey struct {
	Station, Metric string
	T               int64
}

func (k sampleKey) String() string {
	return fmt.Sprintf("%s/%s@%s", k.Station, k.Metric, time.UnixMilli(k.T).UTC().Format("15:04:05.000"))
}

// recorder is a reverse proxy between the collector and the api. It
// records every sample the collector sent and every sample the api
// acknowledged (HTTP 200 with nothing rejected): the collector is told a
// batch is stored exactly when the recorder counts it as acknowledged.
type recorder struct {
	target atomic.Value // base URL of the api
	srv    *http.Server
	addr   string

	mu       sync.Mutex
	sent     map[sampleKey]int // times a sample was sent
	acked    map[sampleKey]int // times a sample was acknowledged
	ackedV   map[sampleKey]float64
	statuses map[int]int // ingest answers by HTTP status (0: api unreachable)
	rejected int
	bodies   []string // a few non-200 answers, for the report
}

// newRecorder starts a recorder on loopback forwarding to target.
func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	r := &recorder{sent: map[sampleKey]int{}, acked: map[sampleKey]int{}, ackedV: map[sampleKey]float64{}, statuses: map[int]int{}}
	r.target.Store(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Close() })
	return r
}

// URL is where the collector sends.
func (r *recorder) URL() string { return "http://" + r.addr }

var proxyClient = &http.Client{Timeout: 30 * time.Second}

// ingestBody is the collector's POST /api/v1/ingest body.
type ingestBody struct {
	Series []struct {
		Labels map[string]string `json:"labels"`
		T      []int64           `json:"t"`
		V      []float64         `json:"v"`
	} `json:"series"`
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 256<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ingest := req.URL.Path == "/api/v1/ingest"
	var keys []sampleKey
	var vals []float64
	if ingest {
		keys, vals = decodeIngest(req.Header.Get("Content-Encoding"), body)
		r.mu.Lock()
		for _, k := range keys {
			r.sent[k]++
		}
		r.mu.Unlock()
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, r.target.Load().(string)+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = req.Header.Clone()
	resp, err := proxyClient.Do(out)
	if err != nil {
		if ingest {
			r.mu.Lock()
			r.statuses[0]++
			r.mu.Unlock()
		}
		http.Error(w, "api unreachable: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	rbody, err := io.ReadAll(resp.Body)
	if err != nil {
		// The answer was lost on the way: the collector sees a failure.
		http.Error(w, "read api answer: "+err.Error(), http.StatusBadGateway)
		return
	}
	if ingest {
		r.mu.Lock()
		r.statuses[resp.StatusCode]++
		if resp.StatusCode == http.StatusOK {
			var res struct {
				Rejected int `json:"rejected"`
			}
			_ = json.Unmarshal(rbody, &res)
			if res.Rejected > 0 {
				r.rejected += res.Rejected
				r.bodies = append(r.bodies, string(rbody))
			} else {
				for i, k := range keys {
					r.acked[k]++
					r.ackedV[k] = vals[i]
				}
			}
		} else if len(r.bodies) < 20 {
			r.bodies = append(r.bodies, fmt.Sprintf("HTTP %d %s", resp.StatusCode, bytes.TrimSpace(rbody)))
		}
		r.mu.Unlock()
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(rbody)
}

// decodeIngest lists the samples of an ingest body.
func decodeIngest(encoding string, body []byte) ([]sampleKey, []float64) {
	var rd io.Reader = bytes.NewReader(body)
	if strings.Contains(encoding, "gzip") {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, nil
		}
		rd = zr
	}
	var b ingestBody
	if err := json.NewDecoder(rd).Decode(&b); err != nil {
		return nil, nil
	}
	var keys []sampleKey
	var vals []float64
	for _, s := range b.Series {
		for i, ts := range s.T {
			keys = append(keys, sampleKey{s.Labels[model.LabelStation], s.Labels[model.MetricName], ts})
			if i < len(s.V) {
				vals = append(vals, s.V[i])
			} else {
				vals = append(vals, math.NaN())
			}
		}
	}
	return keys, vals
}

// snapshot copies the recorder's counts.
func (r *recorder) snapshot() (sent, acked map[sampleKey]int, statuses map[int]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sent, acked, statuses = map[sampleKey]int{}, map[sampleKey]int{}, map[int]int{}
	for k, v := range r.sent {
		sent[k] = v
	}
	for k, v := range r.acked {
		acked[k] = v
	}
	for k, v := range r.statuses {
		statuses[k] = v
	}
	return
}

// storedPoint is one point read back from the store.
type storedPoint struct {
	V float64
	Q model.Quality
}

// stored maps sample keys to what the store holds, plus the number of
// points that share a series and timestamp with another (duplicates).
type stored struct {
	points map[sampleKey]storedPoint
	dups   int
}

// readTSDB opens the api's embedded tsdb (after the api stopped) and reads
// every point: the store must open after all the kills.
func readTSDB(t *testing.T, dir string) (stored, *tsdb.Stats) {
	t.Helper()
	db, err := tsdb.Open(dir, tsdb.DefaultOptions())
	if err != nil {
		t.Fatalf("the store does not open after the faults: %v", err)
	}
	defer db.Close()
	out := stored{points: map[sampleKey]storedPoint{}}
	m := model.MustMatcher(model.MatchRegexp, model.MetricName, ".+")
	err = db.Select(context.Background(), model.SelectQuery{Matchers: []*model.Matcher{m}, From: 0, To: model.MaxTime - 1, IncludeBad: true},
		func(ls model.Labels, pts []model.Point) error {
			st, metric := ls.Get(model.LabelStation), ls.Metric()
			for i, p := range pts {
				if i > 0 && pts[i-1].T >= p.T {
					out.dups++
				}
				k := sampleKey{st, metric, p.T}
				if _, ok := out.points[k]; ok {
					out.dups++
				}
				out.points[k] = storedPoint{p.V, p.Q}
			}
			return nil
		})
	if err != nil {
		t.Fatalf("read the store: %v", err)
	}
	return out, db.Stats()
}

// window is a span of wall time in which a station's samples are expected
// (Unix ms, inclusive).
type window struct{ From, To int64 }

// expectation builds the set of samples the ground truth says must be
// stored: every step of every parameter a station delivered inside its
// windows.
type expectation struct {
	keys  map[sampleKey]float64
	truth map[sampleKey]simulator.Reading
	// allow is, per station, how many whole poll slots may be missing
	// because the collector reported that many failed or missed polls.
	allow map[string]int
}

// expectFromTruth lists the truth of stations ids inside windows.
func expectFromTruth(t *testing.T, sim *simulator.Simulator, ids []string, windows map[string][]window) expectation {
	t.Helper()
	e := expectation{keys: map[sampleKey]float64{}, truth: map[sampleKey]simulator.Reading{}, allow: map[string]int{}}
	for _, id := range ids {
		rs, err := sim.TruthAll(id, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			for _, w := range windows[id] {
				if w.To < w.From {
					continue
				}
				steps, err := sim.TruthRange(id, r.Param, time.UnixMilli(w.From), time.UnixMilli(w.To), 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range steps {
					if !s.OK || s.V == nil || s.T < w.From || s.T > w.To {
						continue
					}
					k := sampleKey{id, s.Param, s.T}
					e.keys[k] = *s.V
					e.truth[k] = s
				}
			}
		}
	}
	return e
}

// tally is the outcome of one scenario.
type tally struct {
	Expected  int // samples the truth or the acknowledgements say must be stored
	Sent      int // distinct samples the collector sent to the api
	Acked     int // distinct samples the api acknowledged
	Stored    int // expected or acknowledged samples found in the store
	Lost      int // expected or acknowledged samples missing from the store
	Wrong     int // stored samples whose value differs from the truth
	Dups      int // points stored twice under one series and timestamp
	Resent    int // samples acknowledged more than once (sent again after an ack)
	Unpolled  int // whole poll slots missing that the collector reported as failed or missed
	Late      int // Modbus samples holding the next step's reading (a late poll stamped with a missed slot; must be 0)
	Missing   []sampleKey
	WrongKeys []string
	LateKeys  []string
}

// count compares the store with the expectation and the acknowledgements.
func count(sim *simulator.Simulator, exp expectation, rec *recorder, st stored) tally {
	var tl tally
	want := map[sampleKey]bool{}
	for k := range exp.keys {
		want[k] = true
	}
	if rec != nil {
		sent, acked, _ := rec.snapshot()
		tl.Sent, tl.Acked = len(sent), len(acked)
		for _, n := range acked {
			if n > 1 {
				tl.Resent += n - 1
			}
		}
		for k := range acked {
			want[k] = true
		}
	}
	tl.Expected = len(want)
	// Missing samples of a station whose collector reported failed polls
	// are excused when whole slots are missing and no more slots than the
	// reported failures (and none of them was acknowledged).
	var acked map[sampleKey]int
	if rec != nil {
		_, acked, _ = rec.snapshot()
	}
	slotMissing := map[string]map[int64]int{} // station → slot → missing samples
	slotSize := map[string]map[int64]int{}    // station → slot → expected samples
	for k := range exp.keys {
		if slotSize[k.Station] == nil {
			slotSize[k.Station] = map[int64]int{}
			slotMissing[k.Station] = map[int64]int{}
		}
		slotSize[k.Station][k.T]++
		if _, ok := st.points[k]; !ok && acked[k] == 0 {
			slotMissing[k.Station][k.T]++
		}
	}
	excused := map[sampleKey]bool{}
	for id, slots := range slotMissing {
		whole := 0
		for ts, n := range slots {
			if n == slotSize[id][ts] {
				whole++
			}
		}
		if whole == 0 || whole > exp.allow[id] {
			continue
		}
		for k := range exp.keys {
			if k.Station == id && slots[k.T] == slotSize[id][k.T] {
				excused[k] = true
			}
		}
		tl.Unpolled += whole
	}
	for k := range want {
		p, ok := st.points[k]
		if !ok {
			if excused[k] {
				tl.Expected--
				continue
			}
			tl.Lost++
			if len(tl.Missing) < 10 {
				tl.Missing = append(tl.Missing, k)
			}
			continue
		}
		tl.Stored++
		if r, ok := exp.truth[k]; ok {
			if q, err := model.ParseStatus(r.Status); err == nil && q != p.Q.Status() {
				tl.Wrong++
				if len(tl.WrongKeys) < 10 {
					tl.WrongKeys = append(tl.WrongKeys, fmt.Sprintf("%s stored status %s truth %s", k, p.Q.Status(), r.Status))
				}
				continue
			}
		}
		if v, ok := exp.keys[k]; ok && !sameValue(v, p.V) {
			// The reading of the next step under this step's time: a poll
			// that started after its slot (collector paused).
			if sim != nil {
				if info, ok := sim.Station(k.Station); ok && info.Transport == simulator.TransportModbus {
					if r, err := sim.Truth(k.Station, k.Metric, time.UnixMilli(k.T).Add(info.Interval)); err == nil && r.V != nil && sameValue(*r.V, p.V) {
						tl.Late++
						if len(tl.LateKeys) < 3 {
							tl.LateKeys = append(tl.LateKeys, fmt.Sprintf("%s stored %v = reading of the next step, truth %v", k, p.V, v))
						}
						continue
					}
				}
			}
			tl.Wrong++
			if len(tl.WrongKeys) < 10 {
				tl.WrongKeys = append(tl.WrongKeys, fmt.Sprintf("%s stored %v truth %v", k, p.V, v))
			}
		}
	}
	sort.Slice(tl.Missing, func(i, j int) bool { return tl.Missing[i].String() < tl.Missing[j].String() })
	tl.Dups = st.dups
	return tl
}

func sameValue(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a))
}

// check fails the test when anything was lost, wrong or duplicated.
func (tl tally) check(t *testing.T) {
	t.Helper()
	t.Logf("expected %d, sent %d, acked %d, stored %d, lost %d, wrong %d, dups %d, resent %d",
		tl.Expected, tl.Sent, tl.Acked, tl.Stored, tl.Lost, tl.Wrong, tl.Dups, tl.Resent)
	if tl.Expected == 0 {
		t.Errorf("nothing was expected: the scenario measured nothing")
	}
	if tl.Lost > 0 {
		t.Errorf("%d samples lost, e.g. %v", tl.Lost, tl.Missing)
	}
	if tl.Wrong > 0 {
		t.Errorf("%d samples differ from the ground truth, e.g. %v", tl.Wrong, tl.WrongKeys)
	}
	if tl.Dups > 0 {
		t.Errorf("%d duplicate points in the store", tl.Dups)
	}
	if tl.Late > 0 {
		t.Errorf("%d Modbus samples hold a later interval's reading under an earlier slot time (a late poll must skip its slot), e.g. %v", tl.Late, tl.LateKeys)
	}
}

// firstStored returns, per station, the first timestamp in the store.
func firstStored(st stored) map[string]int64 {
	out := map[string]int64{}
	for k := range st.points {
		if v, ok := out[k.Station]; !ok || k.T < v {
			out[k.Station] = k.T
		}
	}
	return out
}

// covers returns how many samples of exp are not acknowledged yet,
// leaving out whole poll slots the collector reported as failed (up to
// exp.allow per station).
func (r *recorder) covers(exp expectation) (missing int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	slotMissing := map[string]map[int64]int{}
	slotSize := map[string]map[int64]int{}
	for k := range exp.keys {
		if slotSize[k.Station] == nil {
			slotSize[k.Station] = map[int64]int{}
			slotMissing[k.Station] = map[int64]int{}
		}
		slotSize[k.Station][k.T]++
		if r.acked[k] == 0 {
			slotMissing[k.Station][k.T]++
		}
	}
	for id, slots := range slotMissing {
		whole, n := 0, 0
		for ts, m := range slots {
			n += m
			if m == slotSize[id][ts] {
				whole++
			}
		}
		if n > 0 && (whole > exp.allow[id] || n != wholeSamples(slots, slotSize[id])) {
			missing += n
		}
	}
	return missing
}

// wholeSamples counts the samples of slots missing entirely.
func wholeSamples(missing, size map[int64]int) int {
	n := 0
	for ts, m := range missing {
		if m == size[ts] {
			n += m
		}
	}
	return n
}

// firstAcked returns, per station, the earliest acknowledged timestamp.
func (r *recorder) firstAcked() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int64{}
	for k := range r.acked {
		if v, ok := out[k.Station]; !ok || k.T < v {
			out[k.Station] = k.T
		}
	}
	return out
}

// excuse reads the collector's /status and allows, per station, as many
// wholly missing poll slots as it reports failed and missed polls (a
// datalogger that did not answer in time on a loaded machine is not a
// loss: nothing was read, nothing acknowledged). It returns a note naming
// them, "" when none.
func excuse(t *testing.T, exp expectation, c *collectorProc) string {
	t.Helper()
	st, err := c.status()
	if err != nil {
		t.Fatalf("collector /status: %v", err)
	}
	var notes []string
	for _, s := range st.Stations {
		if s.Errors == 0 && s.MissedPolls == 0 {
			continue
		}
		exp.allow[s.ID] += int(s.Errors + s.MissedPolls)
		notes = append(notes, fmt.Sprintf("%s %d failed, %d missed", s.ID, s.Errors, s.MissedPolls))
		t.Logf("collector reports poll trouble at %s: %d errors, %d missed polls, last error %q", s.ID, s.Errors, s.MissedPolls, s.LastError)
	}
	if len(notes) == 0 {
		return ""
	}
	sort.Strings(notes)
	return "; polls the collector reported failed or missed (their slots may be absent): " + strings.Join(notes, ", ")
}
