package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mb "github.com/goburrow/modbus"
)

// endpoint is a parsed device address.
type endpoint struct {
	scheme   string // tcp, rtu or ascii
	addr     string // host:port or serial device path
	baud     int
	dataBits int
	parity   string // N, E or O
	stopBits int
}

func (e endpoint) serial() bool { return e.scheme != "tcp" }

// key identifies the shared link: one TCP connection per gateway address,
// one handler per serial port.
func (e endpoint) key() string {
	if e.serial() {
		return "serial:" + e.addr
	}
	return "tcp:" + e.addr
}

func (e endpoint) String() string {
	if e.serial() {
		return fmt.Sprintf("%s://%s?baud=%d&data=%d&parity=%s&stop=%d", e.scheme, e.addr, e.baud, e.dataBits, e.parity, e.stopBits)
	}
	return "tcp://" + e.addr
}

var validBauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}

// parseAddress reads tcp://host[:port] (port 502 by default),
// rtu:///dev/ttyUSB0?baud=9600&parity=N&stop=1&data=8 or ascii://... .
func parseAddress(s string) (endpoint, error) {
	if s == "" {
		return endpoint{}, errors.New("missing address: want tcp://host:port, rtu:///dev/ttyX?baud=9600 or ascii:///dev/ttyX")
	}
	if !strings.Contains(s, "://") {
		// "10.0.0.5:502" or "/dev/ttyUSB0": say what is missing instead of
		// the URL parser's "first path segment cannot contain colon".
		return endpoint{}, fmt.Errorf("address %q: missing scheme: want tcp://host:port, rtu:///dev/ttyX?baud=9600 or ascii:///dev/ttyX", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return endpoint{}, fmt.Errorf("address %q: %w", s, err)
	}
	e := endpoint{scheme: strings.ToLower(u.Scheme)}
	switch e.scheme {
	case "tcp":
		if u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return endpoint{}, fmt.Errorf("address %q: want tcp://host:port", s)
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil {
			host, port = u.Host, "502"
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return endpoint{}, fmt.Errorf("address %q: bad port %q", s, port)
		}
		if host == "" {
			return endpoint{}, fmt.Errorf("address %q: missing host", s)
		}
		e.addr = net.JoinHostPort(host, port)
		return e, nil
	case "rtu", "ascii":
	default:
		return endpoint{}, fmt.Errorf("address %q: unknown scheme %q: want tcp, rtu or ascii", s, u.Scheme)
	}
	e.addr = u.Host + u.Path
	if e.addr == "" {
		return endpoint{}, fmt.Errorf("address %q: missing serial device, e.g. %s:///dev/ttyUSB0", s, e.scheme)
	}
	// RTU is 8 data bits; ASCII is most often 7E1.
	e.baud, e.dataBits, e.parity, e.stopBits = 9600, 8, "N", 1
	if e.scheme == "ascii" {
		e.dataBits, e.parity = 7, "E"
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "baud":
			n, err := strconv.Atoi(v)
			ok := err == nil
			if ok {
				ok = false
				for _, b := range validBauds {
					ok = ok || b == n
				}
			}
			if !ok {
				return endpoint{}, fmt.Errorf("address %q: baud %q: want one of %v", s, v, validBauds)
			}
			e.baud = n
		case "data":
			n, err := strconv.Atoi(v)
			if err != nil || n < 7 || n > 8 {
				return endpoint{}, fmt.Errorf("address %q: data bits %q: want 7 or 8", s, v)
			}
			e.dataBits = n
		case "parity":
			p := strings.ToUpper(v)
			if p != "N" && p != "E" && p != "O" {
				return endpoint{}, fmt.Errorf("address %q: parity %q: want N, E or O", s, v)
			}
			e.parity = p
		case "stop":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 2 {
				return endpoint{}, fmt.Errorf("address %q: stop bits %q: want 1 or 2", s, v)
			}
			e.stopBits = n
		default:
			return endpoint{}, fmt.Errorf("address %q: unknown option %q: want baud, data, parity or stop", s, k)
		}
	}
	return e, nil
}

// PoolOptions tune reconnects; zero fields take the defaults.
type PoolOptions struct {
	ReconnectMin time.Duration // wait after the first failed connect; default 1s
	ReconnectMax time.Duration // longest wait between connects; default 1m
}

// Pool holds the links devices share: one TCP connection per gateway
// address (requests of all slave ids on it take turns) and one handler per
// serial port (RTU and ASCII handlers are not safe for concurrent use, so
// every slave id on the port takes the same lock). Devices built without a
// pool use a package-wide one.
type Pool struct {
	opts  PoolOptions
	mu    sync.Mutex
	links map[string]*link
}

// NewPool returns an empty pool.
func NewPool(opts PoolOptions) *Pool {
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = time.Second
	}
	if opts.ReconnectMax <= 0 {
		opts.ReconnectMax = time.Minute
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = opts.ReconnectMin
	}
	return &Pool{opts: opts, links: make(map[string]*link)}
}

var defaultPool = NewPool(PoolOptions{})

// acquire returns the link for e, creating it on first use.
func (p *Pool) acquire(e endpoint) (*link, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.links[e.key()]
	if ok {
		if l.ep != e {
			return nil, fmt.Errorf("serial port %s is already open as %s; every device on one port needs the same settings", e.addr, l.ep)
		}
		l.refs++
		return l, nil
	}
	l = newLink(e, p.opts)
	l.refs = 1
	p.links[e.key()] = l
	return l, nil
}

// release drops one reference; the last one closes the link.
func (p *Pool) release(l *link) {
	p.mu.Lock()
	l.refs--
	last := l.refs == 0
	if last {
		delete(p.links, l.ep.key())
	}
	p.mu.Unlock()
	if last {
		l.shut()
	}
}

// Close closes every link of the pool; devices still using it reconnect on
// their next poll.
func (p *Pool) Close() error {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for _, l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.shut()
	}
	return nil
}

// link is one shared connection (TCP socket or serial port) with its
// goburrow handler. The semaphore sem serialises requests; the slave id and
// timeout are handler fields, so they are set under it.
type link struct {
	ep   endpoint
	opts PoolOptions
	sem  chan struct{}
	refs int // guarded by Pool.mu

	// Guarded by sem.
	client    mb.Client
	tcp       *mb.TCPClientHandler
	rtu       *mb.RTUClientHandler   // packager only
	ascii     *mb.ASCIIClientHandler // packager only
	serial    *serialTransport
	connected bool
	failures  int
	retryAt   time.Time
	lastErr   error
}

func newLink(e endpoint, opts PoolOptions) *link {
	l := &link{ep: e, opts: opts, sem: make(chan struct{}, 1)}
	switch e.scheme {
	case "tcp":
		h := mb.NewTCPClientHandler(e.addr)
		h.IdleTimeout = 0 // no close timer racing our requests; we close on errors
		l.tcp, l.client = h, mb.NewClient(h)
	case "rtu":
		l.rtu, l.serial = mb.NewRTUClientHandler(e.addr), newSerialTransport(e)
		l.client = mb.NewClient2(l.rtu, l.serial)
	case "ascii":
		l.ascii, l.serial = mb.NewASCIIClientHandler(e.addr), newSerialTransport(e)
		l.client = mb.NewClient2(l.ascii, l.serial)
	}
	return l
}

// lock takes the link, giving up when ctx ends.
func (l *link) lock(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", l.ep, ctx.Err())
	}
}

func (l *link) unlock() { <-l.sem }

// errBackoff marks a request refused because the link waits to reconnect.
var errBackoff = errors.New("waiting to reconnect")

// prepare sets slave id and timeout and connects if needed; caller holds
// the lock. A failed connect starts the reconnect backoff.
func (l *link) prepare(slave byte, timeout time.Duration, now time.Time) error {
	switch {
	case l.tcp != nil:
		l.tcp.SlaveId, l.tcp.Timeout = slave, timeout
	case l.rtu != nil:
		l.rtu.SlaveId, l.serial.timeout = slave, timeout
	case l.ascii != nil:
		l.ascii.SlaveId, l.serial.timeout = slave, timeout
	}
	if l.connected {
		return nil
	}
	if now.Before(l.retryAt) {
		return fmt.Errorf("%s: %w in %v (last error: %v)", l.ep, errBackoff, l.retryAt.Sub(now).Round(time.Millisecond), l.lastErr)
	}
	var err error
	switch {
	case l.tcp != nil:
		err = l.tcp.Connect()
	case l.serial != nil:
		err = l.serial.Connect()
	}
	if err != nil {
		l.failures++
		l.lastErr = err
		wait := l.opts.ReconnectMin << min(l.failures-1, 16)
		if wait > l.opts.ReconnectMax || wait <= 0 {
			wait = l.opts.ReconnectMax
		}
		wait -= time.Duration(rand.Int64N(int64(wait)/5 + 1)) // up to 20 % jitter so devices spread out
		l.retryAt = now.Add(wait)
		return fmt.Errorf("connect %s: %w", l.ep, err)
	}
	l.connected = true
	return nil
}

// succeeded resets the reconnect backoff; caller holds the lock.
func (l *link) succeeded() { l.failures = 0 }

// broken closes the connection after an error that may leave the stream
// out of step (a late answer to a timed-out request would be read as the
// answer to the next one); the next request reconnects. Caller holds the lock.
func (l *link) broken() {
	l.closeHandler()
	l.connected = false
}

func (l *link) closeHandler() {
	switch {
	case l.tcp != nil:
		l.tcp.Close()
	case l.serial != nil:
		l.serial.Close()
	}
}

// shut closes the link for good (it reopens if used again).
func (l *link) shut() {
	l.sem <- struct{}{}
	l.broken()
	<-l.sem
}

// read sends one read request; caller holds the lock.
func (l *link) read(t RegisterType, start, count uint16) ([]byte, error) {
	switch t {
	case Holding:
		return l.client.ReadHoldingRegisters(start, count)
	case Input:
		return l.client.ReadInputRegisters(start, count)
	case Coil:
		return l.client.ReadCoils(start, count)
	case Discrete:
		return l.client.ReadDiscreteInputs(start, count)
	}
	return nil, fmt.Errorf("unknown register type %q", t)
}

// stale reports errors that mean the peer closed a connection that was
// idle between polls: worth one immediate retry on a fresh connection.
func stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
