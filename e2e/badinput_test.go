package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantrac/quantrac/simulator"
)

// badBodies are malformed ingest payloads.
var badBodies = []string{
	``, `{`, `null`, `[]`, `{"series":null}`, `{"series":[{}]}`,
	`{"series":[{"labels":{},"t":[1],"v":[1]}]}`,
	`{"series":[{"labels":{"__name__":"x y"},"t":[1],"v":[1]}]}`,
	`{"series":[{"labels":{"__name__":"pm25_ugm3","station":"HN-Bad"},"t":[1,2,3],"v":[1]}]}`,
	`{"series":[{"labels":{"__name__":"pm25_ugm3","station":"HN-Bad"},"t":[-9e18],"v":[1e309]}]}`,
	`{"series":[{"labels":{"__name__":"pm25_ugm3","station":"HN-Bad"},"t":["a"],"v":["b"]}]}`,
	`{"series":[{"labels":{"__name__":"pm25_ugm3","station":"` + strings.Repeat("x", 100000) + `"},"t":[1],"v":[1]}]}`,
	"\x00\x01\x02\xff\xfe",
	`{"series":[` + strings.Repeat(`[`, 10000),
}

// stormAPI sends bad HTTP requests and raw garbage to the api; it returns
// the answers by status.
func stormAPI(rng *rand.Rand, base, token, admin string, until time.Time) map[int]int {
	codes := map[int]int{}
	client := &http.Client{Timeout: 5 * time.Second}
	do := func(method, path string, body io.Reader, hdr map[string]string) {
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			return
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			codes[-1]++
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	auth := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	big := bytes.Repeat([]byte(`{"series":[`), (3<<20)/11)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("0"), 50<<20)) // a 50 MiB gzip bomb, 50 KiB on the wire
	zw.Close()
	for i := 0; time.Now().Before(until); i++ {
		switch i % 9 {
		case 0, 1, 2:
			do("POST", "/api/v1/ingest", strings.NewReader(badBodies[rng.IntN(len(badBodies))]), auth)
		case 3:
			do("POST", "/api/v1/ingest", bytes.NewReader(big), auth)
		case 4:
			h := map[string]string{"Authorization": "Bearer " + token, "Content-Encoding": "gzip"}
			if rng.IntN(2) == 0 {
				do("POST", "/api/v1/ingest", bytes.NewReader(gz.Bytes()), h)
			} else {
				do("POST", "/api/v1/ingest", strings.NewReader("not gzip at all"), h)
			}
		case 5:
			b := make([]byte, rng.IntN(4096))
			for j := range b {
				b[j] = byte(rng.IntN(256))
			}
			paths := []string{"/api/v1/ingest", "/api/v1/write", "/write", "/api/v1/import/prometheus", "/api/v1/stations"}
			do("POST", paths[rng.IntN(len(paths))], bytes.NewReader(b), auth)
		case 6:
			q := url.Values{"match": {string(rune(rng.IntN(0x2000))) + `{{"`}, "from": {"yesterday"}, "step": {"-1s"}}
			ah := map[string]string{"Authorization": "Bearer " + admin}
			do("GET", "/api/v1/series?"+q.Encode(), nil, ah)
			do("GET", "/api/v1/query?query="+url.QueryEscape("sum(rate(x[5m]))[1h:1s]"), nil, ah)
			do("GET", "/api/v1/export.csv?station=%ff&from=1&to=0", nil, ah)
		case 7:
			do("POST", "/api/v1/ingest", strings.NewReader(`{"series":[]}`), map[string]string{"Authorization": "Bearer wrong"})
		case 8:
			rawGarbage(rng, strings.TrimPrefix(base, "http://"))
		}
	}
	return codes
}

// rawGarbage writes random bytes (and sometimes a plausible start) to a
// TCP port and reads whatever comes back for a moment.
func rawGarbage(rng *rand.Rand, addr string) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	prefixes := [][]byte{
		nil,
		{0x00, 0x01, 0x00, 0x00, 0xff, 0xff, 0x01, 0x03},                                 // Modbus MBAP with a huge length
		{0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0xff, 0xff, 0x00, 0x7d},         // read at the end of the address space
		{0x10, 0xff, 0xff, 0xff, 0x7f},                                                   // MQTT CONNECT with a 256 MiB remaining length
		{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00}, // MQTT CONNECT, empty client id
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", 2000) + "\r\n"),
	}
	b := append([]byte(nil), prefixes[rng.IntN(len(prefixes))]...)
	junk := make([]byte, rng.IntN(2048))
	for i := range junk {
		junk[i] = byte(rng.IntN(256))
	}
	b = append(b, junk...)
	c.Write(b)
	io.Copy(io.Discard, io.LimitReader(c, 1<<16))
}

// TestFaultBadInputStorm sends malformed payloads, oversized bodies, gzip
// bombs and random bytes at every port (api HTTP, the collector's status
// port, the simulator's Modbus servers and MQTT broker) while the stations
// report: nothing crashes, bad requests get 4xx, and the good data still
// flows complete.
func TestFaultBadInputStorm(t *testing.T) {
	span := dur(8*time.Second, 90*time.Second)
	sim := startSim(t, "")
	apiDir := t.TempDir()
	a := newAPI(t, "api", apiDir, "limits: {max_body_bytes: 1048576}\n")
	a.start()
	rec := newRecorder(t, a.URL())
	c := newCollector(t, "collector", collectorSpec{
		SinkType: "api", SinkURL: rec.URL(), SinkToken: a.ingest,
		Broker: sim.BrokerURL(), ClientID: "e2e-badinput", Stations: sim.Stations(),
	})
	c.start()
	waitAllStations(t, sim, rec)
	start := time.Now()
	until := start.Add(span)

	var ports []string
	for _, st := range sim.Stations() {
		if st.Transport == simulator.TransportModbus {
			ports = append(ports, strings.TrimPrefix(st.Address, "tcp://"))
		}
	}
	ports = append(ports, strings.TrimPrefix(sim.BrokerURL(), "tcp://"), c.listen)
	var mu sync.Mutex
	var apiCodes map[int]int
	rawSent := 0
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		codes := stormAPI(rand.New(rand.NewPCG(5, 6)), a.URL(), a.ingest, a.admin, until)
		mu.Lock()
		apiCodes = codes
		mu.Unlock()
	}()
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(7, 8))
		for time.Now().Before(until) {
			rawGarbage(rng, ports[rng.IntN(len(ports))])
			mu.Lock()
			rawSent++
			mu.Unlock()
		}
	}()
	wg.Wait()
	end := time.Now()
	for _, p := range []*proc{a.p, c.p} {
		if !p.running() {
			t.Errorf("%s crashed under the storm: %v", p.name, p.err)
		}
	}
	for code, n := range apiCodes {
		if code >= 500 && code != 503 {
			t.Errorf("the api answered %d bad requests with HTTP %d", n, code)
		}
		if code == 200 || code == 204 {
			t.Logf("note: %d bad requests answered %d", n, code)
		}
	}
	windows := map[string][]window{}
	ids := stationIDs(sim.Stations())
	for _, id := range ids {
		windows[id] = []window{{start.UnixMilli(), end.Add(-2 * time.Second).UnixMilli()}}
	}
	exp := expectFromTruth(t, sim, ids, windows)
	excused := excuse(t, exp, c)
	waitFor(t, 60*time.Second, "the good data sent during the storm", func() bool { return rec.covers(exp) == 0 })
	if err := c.p.stop(); err != nil {
		t.Errorf("collector stop: %v", err)
	}
	if err := a.p.stop(); err != nil {
		t.Errorf("api stop: %v", err)
	}
	st, _ := readTSDB(t, fmt.Sprintf("%s/tsdb", apiDir))
	tl := count(sim, exp, rec, st)
	tl.check(t)
	var codes []string
	for code, n := range apiCodes {
		codes = append(codes, fmt.Sprintf("%d×%d", n, code))
	}
	sort.Strings(codes)
	report(row{Scenario: "bad input storm", Cycles: 1, tally: tl,
		Note: fmt.Sprintf("%s of bad requests to the api answered %s (-1: connection closed; 200: a batch answered stored 0 with its samples rejected one by one); %d raw garbage connections to %d Modbus, MQTT and status ports",
			span, strings.Join(codes, " "), rawSent, len(ports)) + excused})
}

// TestAPIHugeSubquery sends one PromQL subquery of a year at 1 ms
// resolution. The api should refuse it (4xx) or answer within its limits;
// the promql engine it embeds allocates per-step arrays for every
// subquery step (3e10 here), so without a guard one viewer request kills
// the server with "fatal error: runtime: out of memory".
func TestAPIHugeSubquery(t *testing.T) {
	a := newAPI(t, "api", t.TempDir(), "")
	a.start()
	req, _ := http.NewRequest("GET", a.URL()+"/api/v1/query?query="+url.QueryEscape("sum(rate(x[5m]))[1y:1ms]"), nil)
	req.Header.Set("Authorization", "Bearer "+a.admin)
	resp, err := httpClient.Do(req)
	code := -1
	if err == nil {
		code = resp.StatusCode
		resp.Body.Close()
	}
	time.Sleep(500 * time.Millisecond)
	if !a.p.running() {
		t.Fatal("the subquery sum(rate(x[5m]))[1y:1ms] crashed the api")
	}
	t.Logf("huge subquery answered HTTP %d (%v)", code, err)
	if code != 400 {
		t.Errorf("huge subquery answered HTTP %d, want 400 (subquery steps are bounded)", code)
	}
}
