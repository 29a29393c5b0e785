package mqtt

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/quantrac/quantrac/model"
)

// Test users of the embedded broker.
const (
	testUser     = "collector"
	testPassword = "secret"
	pubUser      = "station"
	pubPassword  = "station-secret"
)

// startMochi starts the embedded broker on 127.0.0.1:0 with an auth ledger:
// the collector may read stations/# and senml/#, the station may write
// them, everything else is denied. It returns tcp://host:port.
func startMochi(t testing.TB) string {
	t.Helper()
	srv := mochi.New(&mochi.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ledger := &auth.Ledger{
		Auth: auth.AuthRules{
			{Username: testUser, Password: testPassword, Allow: true},
			{Username: pubUser, Password: pubPassword, Allow: true},
		},
		ACL: auth.ACLRules{
			{Username: testUser, Filters: auth.Filters{"stations/#": auth.ReadOnly, "senml/#": auth.ReadOnly, "#": auth.Deny}},
			{Username: pubUser, Filters: auth.Filters{"stations/#": auth.WriteOnly, "senml/#": auth.WriteOnly, "#": auth.Deny}},
			{Filters: auth.Filters{"#": auth.Deny}},
		},
	}
	if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: ledger}); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t1", Address: "127.0.0.1:0"})
	if err := srv.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return "tcp://" + tcp.Address()
}

// mosquitto is a real broker process started by a test.
type mosquitto struct {
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// mosquittoPath finds the broker binary, or skips the test.
func mosquittoPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("QUANTRAC_MOSQUITTO"), "/usr/sbin/mosquitto"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	t.Skip("mosquitto not installed (apt-get install mosquitto, or set QUANTRAC_MOSQUITTO); skipping the real-broker test")
	return ""
}

// startMosquitto starts mosquitto with persistence in a temp dir on a free
// port of 127.0.0.1.
func startMosquitto(t testing.TB) *mosquitto {
	t.Helper()
	bin := mosquittoPath(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	m := &mosquitto{t: t, dir: t.TempDir(), port: port}
	runAs := ""
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		runAs = "user root\n" // otherwise mosquitto drops to user mosquitto and cannot write its persistence file
	}
	conf := runAs + fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
persistence true
persistence_location %s/
autosave_interval 1
max_inflight_messages 1000
max_queued_messages 200000
log_dest stderr
log_type error
`, port, m.dir)
	if err := os.WriteFile(filepath.Join(m.dir, "mosquitto.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m.start(bin)
	t.Cleanup(m.stop)
	return m
}

func (m *mosquitto) url() string { return fmt.Sprintf("tcp://127.0.0.1:%d", m.port) }

func (m *mosquitto) start(bin string) {
	m.t.Helper()
	m.cmd = exec.Command(bin, "-c", filepath.Join(m.dir, "mosquitto.conf"))
	m.cmd.Stderr = &testLogWriter{t: m.t, prefix: "mosquitto: "}
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(m.cmd, m.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-m.done:
			m.t.Fatalf("mosquitto exited at start")
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto did not listen on %d: %v", m.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the broker with SIGTERM (it saves its persistence file).
func (m *mosquitto) stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

func (m *mosquitto) restart() {
	m.t.Helper()
	m.stop()
	m.start(mosquittoPath(m.t))
}

type testLogWriter struct {
	t      testing.TB
	prefix string
	mu     sync.Mutex
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Logf("%s%s", w.prefix, p)
	return len(p), nil
}

// publisher is a plain paho client that publishes test messages.
type publisher struct {
	c paho.Client
}

func newPublisher(t testing.TB, broker, user, password string) *publisher {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("pub-%d", time.Now().UnixNano())).
		SetUsername(user).SetPassword(password).SetCleanSession(true).SetAutoReconnect(true).
		SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond).
		SetProtocolVersion(4)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &publisher{c: c}
}

// newTLSPublisher connects a plain paho client over TLS.
func newTLSPublisher(t testing.TB, broker string, cfg *tls.Config) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("pub-%d", time.Now().UnixNano())).
		SetUsername(pubUser).SetPassword(pubPassword).SetTLSConfig(cfg).SetProtocolVersion(4)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// publishAll publishes at QoS 1 and waits for every PUBACK.
func (p *publisher) publishAll(t testing.TB, topics []string, payloads [][]byte) {
	t.Helper()
	toks := make([]paho.Token, 0, len(topics))
	for i := range topics {
		toks = append(toks, p.c.Publish(topics[i], 1, false, payloads[i]))
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
}

// collector is a test handler that records samples and acks (or not).
type collector struct {
	mu      sync.Mutex
	samples []model.Sample
	acks    []func()
	noAck   bool
	changed chan struct{}
}

func newCollector(noAck bool) *collector {
	return &collector{noAck: noAck, changed: make(chan struct{}, 1)}
}

func (c *collector) handle(_ context.Context, batch []model.Sample, ack func()) {
	c.mu.Lock()
	c.samples = append(c.samples, batch...)
	noAck := c.noAck
	if noAck {
		c.acks = append(c.acks, ack)
	}
	c.mu.Unlock()
	if !noAck {
		ack()
	}
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.samples)
}

// waitFor waits until the collector holds at least n samples.
func (c *collector) waitFor(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for c.count() < n {
		select {
		case <-c.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("got %d samples, want %d", c.count(), n)
		}
	}
}

// testStations is the station table of the subscriber tests.
var testStations = []model.Station{
	{ID: "HN-01", Kind: model.KindAir, Province: "HN"},
	{ID: "HN-02", Kind: model.KindAir, Province: "HN"},
	{ID: "HP-01", Kind: model.KindHydrological, Province: "HP"},
}

func testOptions(broker string) Options {
	return Options{
		Brokers:           []string{broker},
		ClientID:          fmt.Sprintf("quantrac-test-%d", time.Now().UnixNano()),
		Subscriptions:     defaultTestSubscriptions(),
		Stations:          testStations,
		MinReconnectDelay: 50 * time.Millisecond,
		MaxReconnectDelay: 500 * time.Millisecond,
		ConnectTimeout:    5 * time.Second,
		MaxInFlight:       5000,
	}
}

func defaultTestSubscriptions() []Subscription {
	return []Subscription{
		{Topic: "stations/{province}/{station}/{parameter}", Format: FormatNumber},
		{Topic: "stations/{province}/{station}", Format: FormatJSON},
		{Topic: "senml/{province}/{station}", Format: FormatSenML},
	}
}

// runSubscriber starts Run in a goroutine; the returned stop cancels it and
// waits for Run to return, giving its error.
func runSubscriber(t testing.TB, s *Subscriber) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(30 * time.Second):
				err = fmt.Errorf("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitConnected waits until the subscriber has subscribed n times.
func waitConnected(t testing.TB, s *Subscriber, n uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().Connects < n || !s.Stats().Connected {
		if time.Now().After(deadline) {
			t.Fatalf("subscriber not connected: %+v", s.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
