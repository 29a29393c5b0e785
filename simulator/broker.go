package simulator

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is the embedded MQTT broker: TCP on one address, username and
// password required, and an ACL that ends with a deny, so a topic no rule
// names is refused.
type Broker struct {
	addr   string
	ledger *auth.Ledger
	logger *slog.Logger

	mu   sync.Mutex
	srv  *mqtt.Server
	up   bool
	boot int // how many times it started
}

// NewBroker prepares a broker on addr (host:port; port 0 picks a free port
// once, so restarts keep it). stationUser may write stations/# and senml/#;
// users get what their Read and Write filters say.
func NewBroker(addr string, stationUser, stationPassword string, users []MQTTUser) (*Broker, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt broker address %q: %w", addr, err)
	}
	if port == "0" {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("mqtt broker: pick a free port on %s: %w", host, err)
		}
		addr = l.Addr().String()
		l.Close()
	}
	ledger := &auth.Ledger{
		Auth: auth.AuthRules{{Username: auth.RString(stationUser), Password: auth.RString(stationPassword), Allow: true}},
		ACL: auth.ACLRules{{Username: auth.RString(stationUser), Filters: auth.Filters{
			"stations/#": auth.WriteOnly,
			"senml/#":    auth.WriteOnly,
		}}},
	}
	for _, u := range users {
		ledger.Auth = append(ledger.Auth, auth.AuthRule{Username: auth.RString(u.Username), Password: auth.RString(u.Password), Allow: true})
		f := auth.Filters{}
		for _, t := range u.Read {
			f[auth.RString(t)] = auth.ReadOnly
		}
		for _, t := range u.Write {
			if f[auth.RString(t)] == auth.ReadOnly {
				f[auth.RString(t)] = auth.ReadWrite
			} else {
				f[auth.RString(t)] = auth.WriteOnly
			}
		}
		ledger.ACL = append(ledger.ACL, auth.ACLRule{Username: auth.RString(u.Username), Filters: f})
	}
	// The ledger allows any topic no rule matches: end with a deny-all.
	ledger.ACL = append(ledger.ACL, auth.ACLRule{Filters: auth.Filters{"#": auth.Deny}})
	return &Broker{
		addr:   addr,
		ledger: ledger,
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, nil
}

// Addr returns host:port the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// URL returns tcp://host:port.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Start starts listening; it is a no-op when the broker is up.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.up {
		return nil
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: b.logger})
	if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: b.ledger}); err != nil {
		return fmt.Errorf("mqtt broker: auth hook: %w", err)
	}
	var err error
	for i := 0; i < 50; i++ { // after a restart the port may linger briefly
		err = srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: b.addr}))
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("mqtt broker: listen on %s: %w", b.addr, err)
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return fmt.Errorf("mqtt broker: serve: %w", err)
	}
	b.srv, b.up = srv, true
	b.boot++
	return nil
}

// Stop closes the listener and disconnects every client.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.up {
		return
	}
	b.srv.Close()
	b.srv, b.up = nil, false
}

// Up reports whether the broker is running.
func (b *Broker) Up() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.up
}

// errBrokerDown is returned by Publish while the broker is stopped.
var errBrokerDown = fmt.Errorf("mqtt broker is down")

// Publish injects a message as the broker's inline client.
func (b *Broker) Publish(topic string, payload []byte, qos byte) error {
	b.mu.Lock()
	srv, up := b.srv, b.up
	b.mu.Unlock()
	if !up {
		return errBrokerDown
	}
	if err := srv.Publish(topic, payload, false, qos); err != nil {
		return fmt.Errorf("mqtt publish %s: %w", topic, err)
	}
	return nil
}
