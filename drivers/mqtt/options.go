package mqtt

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

// Handler receives decoded samples. It must call ack once the batch is
// durably stored (for example in the collector's disk queue); only then are
// the MQTT messages of the batch acknowledged to the broker. A batch never
// acked is redelivered by the broker after the next reconnect. ack may be
// called from any goroutine, later than the handler returns, and more than
// once (calls after the first do nothing). The handler is called from one
// goroutine, in message order; it should hand the batch on quickly.
type Handler func(ctx context.Context, batch []model.Sample, ack func())

// Subscription is one topic template with its payload format.
type Subscription struct {
	// Topic is a template such as "stations/{province}/{station}/{parameter}";
	// see Template.
	Topic string `yaml:"topic" json:"topic"`
	// Format is number, json, senml or jsonpath.
	Format Format `yaml:"format" json:"format"`
	// Mapping is required for format jsonpath.
	Mapping *PathMapping `yaml:"mapping,omitempty" json:"mapping,omitempty"`
	// Labels are added to every sample of the subscription when neither
	// the topic nor the station table gives them, e.g. {kind: air}.
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	// Rename maps payload parameter names to metric names, e.g.
	// {"PM2.5": pm25_ugm3}; a name mapped to "" is dropped.
	Rename map[string]string `yaml:"rename,omitempty" json:"rename,omitempty"`
}

// Options configure a Subscriber. Zero values take the defaults noted.
type Options struct {
	// Brokers are URLs tcp://host:1883, ssl://host:8883 (or tls://),
	// ws:// or wss://. At least one is required; paho tries them in order.
	Brokers []string
	// ClientID is required and must be fixed: the broker keeps the
	// persistent session (subscriptions, unacknowledged messages) under it.
	ClientID string
	// Username and Password for the broker; empty for anonymous.
	Username string
	Password string
	// TLS configures ssl:// and wss:// connections (CA, client certificate).
	// Nil uses the system roots.
	TLS *tls.Config
	// CleanSession drops the broker session on connect. Default false:
	// the session persists so nothing is lost while we are away.
	CleanSession bool
	// QoS of the subscriptions: 0 or 1. Default 1.
	QoS *byte
	// Subscriptions to make; at least one.
	Subscriptions []Subscription
	// ShareGroup, when set, subscribes as a shared subscription
	// ($share/<group>/<filter>): the broker spreads the messages over all
	// collectors of the group (each with its own ClientID), for scale-out.
	ShareGroup string
	// Stations give province and kind for a station id; every sample needs
	// station, province and kind labels (from the topic, the subscription's
	// labels or this table). Samples without them are dropped and reported.
	Stations []model.Station
	// MaxInFlight caps messages received but not yet acknowledged. At the
	// cap the subscriber stops reading from the broker until the handler
	// acks (TCP backpressure); nothing is dropped. Default 1000.
	MaxInFlight int
	// MaxBatch is the number of samples after which a batch is handed over
	// even if more messages are waiting. Default 1000.
	MaxBatch int
	// MaxPayload rejects larger payloads unread. Default 64 KiB.
	MaxPayload int
	// ConnectTimeout bounds one connection attempt. Default 10 s.
	ConnectTimeout time.Duration
	// KeepAlive is the MQTT keep-alive. Default 30 s.
	KeepAlive time.Duration
	// MinReconnectDelay and MaxReconnectDelay bound the backoff between
	// failed first-connection attempts (doubling). Defaults 1 s and 1 min;
	// MaxReconnectDelay also caps paho's reconnect backoff.
	MinReconnectDelay time.Duration
	MaxReconnectDelay time.Duration
	// Logger receives connection events and malformed-message reports.
	Logger zerolog.Logger
	// Now returns the receive time; default time.Now.
	Now func() time.Time
}

// DefaultQoS is the subscription QoS unless Options.QoS says otherwise.
const DefaultQoS byte = 1

func (o *Options) setDefaults() {
	if o.QoS == nil {
		q := DefaultQoS
		o.QoS = &q
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1000
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = 64 << 10
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.MinReconnectDelay <= 0 {
		o.MinReconnectDelay = time.Second
	}
	if o.MaxReconnectDelay <= 0 {
		o.MaxReconnectDelay = time.Minute
	}
	if o.MaxReconnectDelay < o.MinReconnectDelay {
		o.MaxReconnectDelay = o.MinReconnectDelay
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func (o *Options) validate() error {
	if len(o.Brokers) == 0 {
		return fmt.Errorf("mqtt: no broker configured")
	}
	for _, b := range o.Brokers {
		u, err := url.Parse(b)
		if err != nil {
			return fmt.Errorf("mqtt broker %q: %w", b, err)
		}
		switch u.Scheme {
		case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
		default:
			return fmt.Errorf("mqtt broker %q: scheme %q: want tcp, ssl, tls, ws or wss", b, u.Scheme)
		}
		if u.Host == "" {
			return fmt.Errorf("mqtt broker %q: no host", b)
		}
	}
	if o.ClientID == "" {
		return fmt.Errorf("mqtt: client_id is required (a fixed id keeps the persistent session)")
	}
	if strings.ContainsAny(o.ShareGroup, "/+#") {
		return fmt.Errorf("mqtt: share_group %q must not contain /, + or #", o.ShareGroup)
	}
	if *o.QoS > 1 {
		return fmt.Errorf("mqtt: qos %d: want 0 or 1", *o.QoS)
	}
	if len(o.Subscriptions) == 0 {
		return fmt.Errorf("mqtt: no subscriptions")
	}
	return nil
}
