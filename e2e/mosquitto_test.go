package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// mosquittoBin is where Debian installs the broker.
func mosquittoBin(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/bin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	t.Skip("mosquitto is not installed (apt-get install mosquitto); skipping the broker restart scenario")
	return ""
}

// mosquitto is a broker child process with persistence on disk.
type mosquitto struct {
	t       *testing.T
	bin     string
	cfg     string
	addr    string
	logPath string
	p       *proc
}

func newMosquitto(t *testing.T) *mosquitto {
	t.Helper()
	m := &mosquitto{t: t, bin: mosquittoBin(t), addr: freeAddr(t)}
	dir := t.TempDir()
	_, port, _ := strings.Cut(m.addr, ":")
	m.cfg = filepath.Join(dir, "mosquitto.conf")
	m.logPath = filepath.Join(dir, "mosquitto.log")
	conf := fmt.Sprintf(`listener %s 127.0.0.1
allow_anonymous true
persistence true
persistence_location %s/
autosave_interval 1
max_queued_messages 0
max_inflight_messages 100
log_dest stderr
`, port, dir)
	if os.Getuid() == 0 {
		// As root mosquitto drops to user mosquitto, which cannot write
		// the test's private directory.
		conf += "user root\n"
	}
	if err := os.WriteFile(m.cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *mosquitto) start() {
	m.t.Helper()
	m.p = startProc(m.t, "mosquitto", m.logPath, m.bin, "-c", m.cfg)
	waitFor(m.t, 10*time.Second, "mosquitto to listen", func() bool {
		c, err := dialTCP(m.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// TestFaultMosquittoRestart restarts a real mosquitto (persistence on)
// under a QoS 1 publisher: the collector's persistent session resumes and
// every message the broker acknowledged to the publisher is stored.
func TestFaultMosquittoRestart(t *testing.T) {
	n := cycles(2, 10)
	m := newMosquitto(t)
	m.start()
	apiDir := t.TempDir()
	a := newAPI(t, "api", apiDir, "")
	a.start()
	rec := newRecorder(t, a.URL())
	stations := []stationYAML{{"HN-MQA", "air", "HN"}, {"HN-MQB", "air", "HN"}, {"HP-MQC", "weather", "HP"}}
	c := newCollector(t, "collector", collectorSpec{
		SinkType: "api", SinkURL: rec.URL(), SinkToken: a.ingest,
		Broker: "tcp://" + m.addr, ClientID: "e2e-mosquitto", Extra: stations,
	})
	c.start()

	// The publisher: QoS 1, one message per station every 100ms, values
	// numbered so each message is a distinct sample.
	o := paho.NewClientOptions().AddBroker("tcp://" + m.addr).SetClientID("e2e-publisher").
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(500 * time.Millisecond).SetCleanSession(true)
	pub := paho.NewClient(o)
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	var mu sync.Mutex
	acked := expectation{keys: map[sampleKey]float64{}}
	published, refused := 0, 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		seq := 0
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			now := time.Now().UnixMilli()
			for _, st := range stations {
				seq++
				v := float64(seq)
				topic := "stations/" + st.Province + "/" + st.ID
				payload := `{"time":` + strconv.FormatInt(now, 10) + `,"status":"00","pm25_ugm3":` + strconv.Itoa(seq) + `}`
				tok := pub.Publish(topic, 1, false, payload)
				ok := tok.WaitTimeout(2*time.Second) && tok.Error() == nil
				mu.Lock()
				published++
				if ok {
					acked.keys[sampleKey{st.ID, "pm25_ugm3", now}] = v
				} else {
					refused++
				}
				mu.Unlock()
			}
		}
	}()
	time.Sleep(2 * time.Second)
	for i := 0; i < n; i++ {
		if err := m.p.stop(); err != nil {
			t.Fatalf("mosquitto stop: %v", err)
		}
		time.Sleep(2 * time.Second)
		m.start()
		time.Sleep(3 * time.Second)
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	exp := acked
	mu.Unlock()
	waitFor(t, 60*time.Second, "the collector to store every acknowledged message", func() bool { return rec.covers(exp) == 0 })
	if err := c.p.stop(); err != nil {
		t.Errorf("collector stop: %v", err)
	}
	if err := a.p.stop(); err != nil {
		t.Errorf("api stop: %v", err)
	}
	st, _ := readTSDB(t, filepath.Join(apiDir, "tsdb"))
	tl := count(nil, exp, rec, st)
	tl.check(t)
	report(row{Scenario: "mosquitto restart (QoS 1)", Cycles: n, tally: tl,
		Note: fmt.Sprintf("publisher sent %d messages, broker acknowledged %d, refused or timed out while down %d", published, len(exp.keys), refused)})
}
