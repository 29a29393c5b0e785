package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// envClusterBin names the directory of vminsert, vmselect and vmstorage.
const envClusterBin = "QUANTRAC_VM_CLUSTER_BIN"

// clusterBin finds the VictoriaMetrics cluster binaries: $QUANTRAC_VM_CLUSTER_BIN,
// else ../shared/bin next to the repository; it skips the test when absent.
func clusterBin(t *testing.T) string {
	t.Helper()
	dirs := []string{os.Getenv(envClusterBin), filepath.Join(repoRoot, "..", "shared", "bin")}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		ok := true
		for _, b := range []string{"vminsert", "vmselect", "vmstorage"} {
			if fi, err := os.Stat(filepath.Join(d, b)); err != nil || fi.Mode()&0o111 == 0 {
				ok = false
			}
		}
		if ok {
			abs, _ := filepath.Abs(d)
			return abs
		}
	}
	t.Skipf("VictoriaMetrics cluster binaries (vminsert, vmselect, vmstorage v1.150.0-cluster) not found: set %s to their directory "+
		"(from the VictoriaMetrics releases page) or put them in ../shared/bin; skipping the scale-out test", envClusterBin)
	return ""
}

// vmCluster is the cluster started by scripts/scaleout-cluster.
type vmCluster struct {
	insertURL, selectURL string
	dataDir              string
}

// startCluster runs scripts/scaleout-cluster start on a free port base and
// registers its stop.
func startCluster(t *testing.T) vmCluster {
	t.Helper()
	bin := clusterBin(t)
	dir := t.TempDir()
	base := freePortBase(t)
	env := append(os.Environ(), envClusterBin+"="+bin, "QUANTRAC_SCALEOUT_DIR="+dir, "QUANTRAC_SCALEOUT_PORT="+strconv.Itoa(base))
	script := filepath.Join(repoRoot, "scripts", "scaleout-cluster")
	cmd := exec.Command(script, "start")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() {
		stop := exec.Command(script, "stop")
		stop.Env = env
		if out, err := stop.CombinedOutput(); err != nil {
			t.Logf("scaleout-cluster stop: %v: %s", err, out)
		}
	})
	if err != nil {
		t.Fatalf("scripts/scaleout-cluster start: %v\n%s", err, out)
	}
	c := vmCluster{dataDir: dir}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "QUANTRAC_VMINSERT_URL="); ok {
			c.insertURL = v
		}
		if v, ok := strings.CutPrefix(line, "QUANTRAC_VMSELECT_URL="); ok {
			c.selectURL = v
		}
	}
	if c.insertURL == "" || c.selectURL == "" {
		t.Fatalf("scripts/scaleout-cluster start printed no URLs:\n%s", out)
	}
	return c
}

// freePortBase finds B such that the script's ports B+0, 1, 10, 11,
// 80..83 are free.
func freePortBase(t *testing.T) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 20000 + (os.Getpid()*7+try*397)%40000
		ok := true
		for _, off := range []int{0, 1, 10, 11, 80, 81, 82, 83} {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+off))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port base for the cluster")
	return 0
}

// seriesAnswer is /api/v1/series of the api.
type seriesAnswer struct {
	Series []struct {
		Labels map[string]string `json:"labels"`
		Points [][]any           `json:"points"`
	} `json:"series"`
}

// apiSeries queries /api/v1/series with params.
func apiSeries(t *testing.T, base, token string, params url.Values) seriesAnswer {
	t.Helper()
	var a seriesAnswer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := getJSON(ctx, base+"/api/v1/series?"+params.Encode(), token, &a); err != nil {
		t.Fatalf("series: %v", err)
	}
	return a
}

// canonical renders an answer as sorted lines "labels t v" (values with
// 9 significant digits) for comparison.
func (a seriesAnswer) canonical() []string {
	var out []string
	for _, s := range a.Series {
		ls := model.FromMap(s.Labels).String()
		for _, p := range s.Points {
			t, v, ok := point(p)
			if !ok {
				continue
			}
			out = append(out, fmt.Sprintf("%s %d %.9g", ls, t, v))
		}
	}
	sort.Strings(out)
	return out
}

// storedFrom turns an answer into the ledger's stored form.
func (a seriesAnswer) stored() stored {
	st := stored{points: map[sampleKey]storedPoint{}}
	for _, s := range a.Series {
		for _, p := range s.Points {
			t, v, ok := point(p)
			if !ok {
				continue
			}
			k := sampleKey{s.Labels[model.LabelStation], s.Labels[model.MetricName], t}
			if _, ok := st.points[k]; ok {
				st.dups++
			}
			q := model.Quality(0)
			if len(p) > 2 {
				if qs, ok := p[2].(string); ok {
					q, _ = model.ParseStatus(qs)
				}
			}
			st.points[k] = storedPoint{V: v, Q: q}
		}
	}
	return st
}

// point reads [ms, value, quality?] of an answer.
func point(p []any) (int64, float64, bool) {
	if len(p) < 2 {
		return 0, 0, false
	}
	t, ok1 := p[0].(float64)
	var v float64
	ok2 := true
	switch x := p[1].(type) {
	case float64:
		v = x
	case string:
		f, err := strconv.ParseFloat(x, 64)
		v, ok2 = f, err == nil
	default:
		ok2 = false
	}
	return int64(t), v, ok1 && ok2
}

// diff returns up to n lines that are in a and not in b.
func diff(a, b []string, n int) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
			if len(out) == n {
				break
			}
		}
	}
	return out
}

// TestScaleOutCluster runs the same simulated province twice: into the
// api's embedded tsdb through one collector, and into a two-storage-node
// VictoriaMetrics cluster through two collectors with split shards, each
// province its own tenant. The api in victoriametrics mode must answer the
// same queries and raise the same alerts as the embedded one; a province
// token sees its province only, an admin token sees both, and each
// tenant of the cluster holds its province only.
func TestScaleOutCluster(t *testing.T) {
	cl := startCluster(t)
	sim := startSim(t, "")
	tenants := map[string]int{"HN": 1, "HP": 2}
	rules := filepath.Join(repoRoot, "e2e", "testdata", "rules-scaleout")
	alerting := fmt.Sprintf("alerting: {enabled: true, rules_dir: %q}\n", rules)

	emb := newAPI(t, "api-embedded", t.TempDir(), alerting)
	emb.start()
	vm := newAPI(t, "api-vm", t.TempDir(), alerting+fmt.Sprintf(
		"storage: victoriametrics\nvictoriametrics: {cluster: true, insert_url: %q, select_url: %q, tenants: {HN: 1, HP: 2}}\n",
		cl.insertURL, cl.selectURL))
	vm.start()
	hnEmb, hnVM := emb.token("hn-viewer", "viewer", "HN"), vm.token("hn-viewer", "viewer", "HN")
	// Tokens are read at start: restart both to pick up the province tokens.
	for _, a := range []*apiServer{emb, vm} {
		if err := a.p.stop(); err != nil {
			t.Fatalf("%s stop: %v", a.name, err)
		}
		a.start()
	}

	recEmb := newRecorder(t, emb.URL())
	cEmb := newCollector(t, "collector-embedded", collectorSpec{SinkType: "api", SinkURL: recEmb.URL(), SinkToken: emb.ingest,
		Broker: sim.BrokerURL(), ClientID: "e2e-so-embedded", Stations: sim.Stations()})
	var shards []*collectorProc
	for i := 0; i < 2; i++ {
		shards = append(shards, newCollector(t, fmt.Sprintf("collector-shard-%d", i), collectorSpec{
			SinkType: "victoriametrics", SinkURL: cl.insertURL, Tenants: tenants,
			Broker: sim.BrokerURL(), ClientID: fmt.Sprintf("e2e-so-shard-%d", i), Stations: sim.Stations(), Shard: [2]int{i, 2}}))
	}
	start := time.Now()
	cEmb.start()
	for _, c := range shards {
		c.start()
	}
	time.Sleep(dur(25*time.Second, 60*time.Second))
	from, to := start.Add(3*time.Second), time.Now().Add(-3*time.Second)
	ids := stationIDs(sim.Stations())
	windows := map[string][]window{}
	for _, id := range ids {
		windows[id] = []window{{from.UnixMilli(), to.UnixMilli()}}
	}
	exp := expectFromTruth(t, sim, ids, windows)
	raw := url.Values{"match": {`{station=~".+"}`}, "from": {strconv.FormatInt(from.UnixMilli(), 10)},
		"to": {strconv.FormatInt(to.UnixMilli(), 10)}, "quality": {"all"}}
	// Wait until both stores hold everything the stations served in the window.
	var aEmb, aVM seriesAnswer
	deadline := time.Now().Add(60 * time.Second)
	for {
		aEmb, aVM = apiSeries(t, emb.URL(), emb.admin, raw), apiSeries(t, vm.URL(), vm.admin, raw)
		le, lv := count(sim, exp, nil, aEmb.stored()).Lost, count(sim, exp, nil, aVM.stored()).Lost
		if le == 0 && lv == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s the embedded store misses %d and VictoriaMetrics %d samples of the window", le, lv)
		}
		time.Sleep(time.Second)
	}
	tlVM := count(sim, exp, nil, aVM.stored())
	tlVM.check(t)
	ce, cv := aEmb.canonical(), aVM.canonical()
	if len(ce) != len(cv) || len(diff(ce, cv, 1)) > 0 || len(diff(cv, ce, 1)) > 0 {
		t.Errorf("raw series differ: %d points embedded, %d in VictoriaMetrics; only embedded %v; only VictoriaMetrics %v",
			len(ce), len(cv), diff(ce, cv, 5), diff(cv, ce, 5))
	}
	compared := []string{fmt.Sprintf("raw points %d", len(ce))}

	// Aggregates in local time on whole buckets, then on a window that
	// starts and ends inside buckets.
	af, at5 := (from.UnixMilli()/5000+1)*5000, to.UnixMilli()/5000*5000-1
	agg := url.Values{"match": {"water_level_m"}, "from": {strconv.FormatInt(af, 10)}, "to": {strconv.FormatInt(at5, 10)},
		"step": {"5s"}, "agg": {"avg"}, "tz": {"Asia/Ho_Chi_Minh"}}
	ge, gv := apiSeries(t, emb.URL(), emb.admin, agg).canonical(), apiSeries(t, vm.URL(), vm.admin, agg).canonical()
	if len(ge) == 0 || len(diff(ge, gv, 1)) > 0 || len(diff(gv, ge, 1)) > 0 {
		t.Errorf("avg by 5s differs: embedded %d buckets, VictoriaMetrics %d; e.g. %v / %v", len(ge), len(gv), diff(ge, gv, 3), diff(gv, ge, 3))
	}
	compared = append(compared, fmt.Sprintf("5s averages %d", len(ge)))
	agg.Set("from", strconv.FormatInt(af-2500, 10))
	agg.Set("to", strconv.FormatInt(at5-2500, 10))
	pe, pv := apiSeries(t, emb.URL(), emb.admin, agg), apiSeries(t, vm.URL(), vm.admin, agg)
	if d := diff(pe.canonical(), pv.canonical(), 3); len(d) > 0 {
		// Which one averaged exactly the raw points inside [from, to]?
		rawAvg := func(bucket int64) float64 {
			sum, n := 0.0, 0
			for _, se := range aEmb.Series {
				if se.Labels[model.MetricName] != "water_level_m" {
					continue
				}
				for _, p := range se.Points {
					tt, v, ok := point(p)
					if ok && tt >= bucket && tt < bucket+5000 && tt >= af-2500 && tt <= at5-2500 {
						sum, n = sum+v, n+1
					}
				}
			}
			return sum / float64(n)
		}
		var first int64
		fmt.Sscanf(d[0][strings.LastIndex(d[0][:strings.LastIndex(d[0], " ")], " ")+1:], "%d", &first)
		knownBug(t, fmt.Sprintf("partial buckets differ between backends for from/to inside a bucket: embedded %v, victoriametrics %v; "+
			"the average of the raw points inside [from, to] for bucket %d is %.9g", d, diff(pv.canonical(), pe.canonical(), 3), first, rawAvg(first)))
	}
	get := func(a *apiServer, token, path string) string {
		var v any
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := getJSON(ctx, a.URL()+path, token, &v); err != nil {
			t.Errorf("%s %s: %v", a.name, path, err)
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	at := strconv.FormatInt(to.UnixMilli()/1000, 10)
	for _, path := range []string{
		"/api/v1/label/station/values",
		"/api/v1/label/province/values",
		"/api/v1/query?time=" + at + "&query=" + url.QueryEscape(`max by (province) (pm25_ugm3)`),
		"/api/v1/query?time=" + at + "&query=" + url.QueryEscape(`count by (station) (count_over_time(water_level_m[10s]))`),
		"/api/v1/query_range?start=" + strconv.FormatInt(from.Unix()+5, 10) + "&end=" + at + "&step=5&query=" + url.QueryEscape(`avg by (province) (pm25_ugm3)`),
	} {
		e, v := get(emb, emb.admin, path), get(vm, vm.admin, path)
		if !sameJSON(e, v) {
			t.Errorf("GET %s differs:\n embedded        %.600s\n victoriametrics %.600s", path, e, v)
		}
		compared = append(compared, strings.SplitN(strings.TrimPrefix(path, "/api/v1/"), "?", 2)[0])
	}

	// Provinces as tenants.
	for _, c := range []struct {
		a     *apiServer
		token string
	}{{emb, hnEmb}, {vm, hnVM}} {
		var vals struct {
			Data []string `json:"data"`
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := getJSON(ctx, c.a.URL()+"/api/v1/label/province/values", c.token, &vals)
		cancel()
		if err != nil || len(vals.Data) != 1 || vals.Data[0] != "HN" {
			t.Errorf("%s: an HN token sees provinces %v (%v), want [HN]", c.a.name, vals.Data, err)
		}
	}
	for prov, id := range tenants {
		var vals struct {
			Data []string `json:"data"`
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := getJSON(ctx, fmt.Sprintf("%s/select/%d/prometheus/api/v1/label/province/values", cl.selectURL, id), "", &vals)
		cancel()
		if err != nil || len(vals.Data) != 1 || vals.Data[0] != prov {
			t.Errorf("tenant %d holds provinces %v (%v), want [%s]", id, vals.Data, err, prov)
		}
	}

	// The shards split the stations and together cover all of them.
	owned := map[string]int{}
	for _, c := range shards {
		st, err := c.status()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st.Stations {
			if s.LastSuccess > 0 {
				owned[s.ID]++
			}
		}
	}
	for _, id := range ids {
		if owned[id] != 1 {
			t.Errorf("station %s is read by %d shards, want 1", id, owned[id])
		}
	}

	// The same alerts fire in both modes.
	alerts := func(a *apiServer) []string {
		var v struct {
			Alerts []struct {
				Rule   string            `json:"rule"`
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := getJSON(ctx, a.URL()+"/api/v1/alerts", a.admin, &v); err != nil {
			t.Errorf("%s alerts: %v", a.name, err)
		}
		var out []string
		for _, x := range v.Alerts {
			out = append(out, x.Rule+" "+x.Labels["station"]+" "+x.State)
		}
		sort.Strings(out)
		return out
	}
	var ae, av []string
	waitFor(t, 30*time.Second, "alerts in both modes", func() bool {
		ae, av = alerts(emb), alerts(vm)
		return len(ae) > 0 && strings.Join(ae, ",") == strings.Join(av, ",")
	})
	compared = append(compared, fmt.Sprintf("alerts %d", len(ae)))

	for _, c := range append(shards, cEmb) {
		if err := c.p.stop(); err != nil {
			t.Errorf("%s stop: %v", c.name, err)
		}
	}
	// Messages of the other shard's MQTT stations should be skipped and
	// counted (quantrac_collector_other_shard_samples_total), not logged as
	// bad messages.
	bad := 0
	for _, c := range shards {
		b, _ := os.ReadFile(c.logPath)
		bad += strings.Count(string(b), "mqtt: bad message")
	}
	if bad > 0 {
		t.Errorf("%d MQTT messages logged as bad by sharded collectors: messages of another shard's stations must be counted as that shard's", bad)
	}
	report(row{Scenario: "scale-out: 2 shards → VM cluster (2 storage nodes)", Cycles: 1, tally: tlVM,
		Note: "VictoriaMetrics mode equals embedded mode on: " + strings.Join(compared, ", ") + "; HN token sees HN only; tenant 1 = HN, 2 = HP"})
}

// sameJSON compares two JSON documents, numbers to 9 significant digits.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return equalish(x, y)
}

func equalish(x, y any) bool {
	switch xv := x.(type) {
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for k, v := range xv {
			if !equalish(v, yv[k]) {
				return false
			}
		}
		return true
	case []any:
		yv, ok := y.([]any)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for i := range xv {
			if !equalish(xv[i], yv[i]) {
				return false
			}
		}
		return true
	case string:
		ys, ok := y.(string)
		if !ok {
			return false
		}
		if xs, err1 := strconv.ParseFloat(xv, 64); err1 == nil {
			if yf, err2 := strconv.ParseFloat(ys, 64); err2 == nil {
				return math.Abs(xs-yf) <= 1e-9*math.Max(1, math.Abs(xs))
			}
		}
		return xv == ys
	case float64:
		yf, ok := y.(float64)
		return ok && math.Abs(xv-yf) <= 1e-9*math.Max(1, math.Abs(xv))
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
