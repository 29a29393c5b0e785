package wire_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/collector"
	"github.com/quantrac/quantrac/collector/wire"
)

const envChild = "QUANTRAC_WIRE_CHILD_CONFIG"

func TestMain(m *testing.M) {
	if path := os.Getenv(envChild); path != "" {
		if err := childMain(path); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childMain is a collector process with the real drivers.
func childMain(path string) error {
	cfg, err := collector.LoadConfig(path)
	if err != nil {
		return err
	}
	log := zerolog.New(os.Stderr).Level(zerolog.ErrorLevel)
	c, err := collector.New(cfg, collector.Options{Logger: log, Drivers: wire.Drivers()})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err = c.Run(ctx)
	c.Close()
	return err
}

// ingestRecorder is an ingest endpoint that keeps the set of (series, time) it got.
type ingestRecorder struct {
	mu   sync.Mutex
	seen map[string]map[int64]bool
	srv  *http.Server
	url  string
}

func newIngestRecorder(t *testing.T) *ingestRecorder {
	r := &ingestRecorder{seen: map[string]map[int64]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.url = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/stations", func(w http.ResponseWriter, req *http.Request) { io.Copy(io.Discard, req.Body) })
	mux.HandleFunc("/api/v1/ingest", func(w http.ResponseWriter, req *http.Request) {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var body struct {
			Series []struct {
				Labels map[string]string `json:"labels"`
				T      []int64           `json:"t"`
			} `json:"series"`
		}
		if err := json.NewDecoder(zr).Decode(&body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		r.mu.Lock()
		for _, s := range body.Series {
			k := s.Labels["__name__"] + "/" + s.Labels["station"]
			if r.seen[k] == nil {
				r.seen[k] = map[int64]bool{}
			}
			for _, t := range s.T {
				r.seen[k][t] = true
			}
		}
		r.mu.Unlock()
		w.Write([]byte(`{"stored":0,"rejected":0}`))
	})
	r.srv = &http.Server{Handler: mux}
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Close() })
	return r
}

func (r *ingestRecorder) has(series string, t int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[series][t]
}

// startMosquitto runs a real broker that keeps every queued message of an
// offline persistent session.
func startMosquitto(t *testing.T) string {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/mosquitto"); serr != nil {
			t.Skip("mosquitto not installed (apt-get install mosquitto); skipping the real-broker kill test")
		}
		bin = "/usr/sbin/mosquitto"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	runAs := ""
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		runAs = "user root\n"
	}
	conf := runAs + fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 100\nmax_queued_messages 0\nlog_dest stderr\nlog_type error\n", port)
	os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(conf), 0o600)
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "mosquitto.conf"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("mosquitto did not start")
		}
	}
	return fmt.Sprintf("tcp://127.0.0.1:%d", port)
}

// TestKill9MQTT publishes QoS 1 readings to a real mosquitto while the
// collector process is killed with SIGKILL again and again: every message
// the broker accepted reaches the sink once the collector runs again (the
// collector acks a message only after it is in its disk queue, so the broker
// redelivers whatever a killed process had not queued).
func TestKill9MQTT(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a collector process many times; skipped with -short")
	}
	broker := startMosquitto(t)
	rec := newIngestRecorder(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "collector.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %s
sink: {type: api, url: %q, min_backoff: 50ms, max_backoff: 200ms}
mqtt:
  broker: %q
  client_id: kill-test-collector
  subscriptions: [{topic: "stations/{province}/{station}", format: json}]
stations:
  - {id: K1, kind: air, province: HN, driver: mqtt}
`, filepath.Join(dir, "queue"), rec.url, broker)), 0o644)

	// Publisher: QoS 1; a message counts once the broker acknowledged it.
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID("kill-test-station").SetCleanSession(true)
	pub := paho.NewClient(opts)
	if tok := pub.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"="+cfgPath)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	base := time.Now().Add(-2*time.Hour).UnixMilli() / 1000 * 1000

	// The broker queues for the collector's session only once it has
	// subscribed: run a first collector until a probe reading comes through.
	first := start()
	for deadline := time.Now().Add(30 * time.Second); !rec.has("pm25_ugm3/K1", base-1000); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first collector never delivered the probe reading")
		}
		pub.Publish("stations/HN/K1", 1, false, fmt.Sprintf(`{"time":%d,"pm25_ugm3":1}`, base-1000)).Wait()
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()

	var mu sync.Mutex
	var acked []int64
	stopPub := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for seq := int64(0); ; seq++ {
			select {
			case <-stopPub:
				return
			default:
			}
			payload := fmt.Sprintf(`{"time":%d,"status":"00","pm25_ugm3":%d,"pm10_ugm3":%d}`, base+seq*1000, seq%400, seq%700)
			tok := pub.Publish("stations/HN/K1", 1, false, payload)
			if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
				mu.Lock()
				acked = append(acked, seq)
				mu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()

	rng := rand.New(rand.NewPCG(3, 4))
	const rounds = 10
	for i := 0; i < rounds; i++ {
		cmd := start()
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		// Sometimes stay away a while: the broker queues for the session.
		if i%3 == 2 {
			time.Sleep(300 * time.Millisecond)
		}
	}
	close(stopPub)
	<-pubDone
	mu.Lock()
	sent := append([]int64(nil), acked...)
	mu.Unlock()
	if len(sent) < 100 {
		t.Fatalf("only %d messages published", len(sent))
	}

	cmd := start()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	missing := func() (int, int64) {
		n, first := 0, int64(-1)
		for _, seq := range sent {
			for _, m := range []string{"pm25_ugm3/K1", "pm10_ugm3/K1"} {
				if !rec.has(m, base+seq*1000) {
					if first < 0 {
						first = seq
					}
					n++
				}
			}
		}
		return n, first
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		n, first := missing()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged readings never reached the sink (first: message %d)", n, 2*len(sent), first)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d rounds of kill -9: all %d messages the broker accepted reached the sink", rounds, len(sent))
}
