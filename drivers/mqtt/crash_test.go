package mqtt

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpProxy forwards connections to target; kill drops every connection
// at once without an MQTT DISCONNECT, as a crashed collector would.
type tcpProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{l: l, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(u, c); u.Close() }()
			go func() { defer p.wg.Done(); io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(func() { p.l.Close(); p.kill(); p.wg.Wait() })
	return p
}

func (p *tcpProxy) url() string { return "tcp://" + p.l.Addr().String() }

func (p *tcpProxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST, no FIN handshake
		}
		c.Close()
	}
	p.conns = nil
}

// TestSubscriberCrashBeforeAckMosquitto: the connection of a subscriber
// that holds its acks is cut without a DISCONNECT (a crash); a new
// subscriber process with the same client id gets every message again.
func TestSubscriberCrashBeforeAckMosquitto(t *testing.T) {
	m := startMosquitto(t)
	proxy := startProxy(t, m.url()[len("tcp://"):])
	opts := testOptions(proxy.url())
	opts.MaxReconnectDelay = time.Hour // the "crashed" one must not come back
	colA := newCollector(true)
	a, err := New(opts, colA.handle)
	if err != nil {
		t.Fatal(err)
	}
	stopA := runSubscriber(t, a)
	waitConnected(t, a, 1)
	const n = 200
	topics, payloads := makeMessages(n, 0)
	newPublisher(t, m.url(), "", "").publishAll(t, topics, payloads)
	colA.waitFor(t, n, 30*time.Second)

	proxy.kill()
	_ = stopA()

	optsB := opts
	optsB.Brokers = []string{m.url()}
	colB := newCollector(false)
	b, err := New(optsB, colB.handle)
	if err != nil {
		t.Fatal(err)
	}
	runSubscriber(t, b)
	colB.waitFor(t, n, 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	colB.mu.Lock()
	defer colB.mu.Unlock()
	checkValues(t, colB.samples, n, 0)
}
