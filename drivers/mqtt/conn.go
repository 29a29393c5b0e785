package mqtt

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// readBufferSize is the read buffer put in front of the broker connection.
// paho reads each packet with several small reads (type byte, length bytes
// one at a time, body); without a buffer each is a system call.
const readBufferSize = 64 << 10

// bufferedConn is a net.Conn whose reads go through a buffer. (Combining
// paho's small PUBACK writes in a flusher goroutine was measured too: it
// saved no CPU per message, so writes go straight through.)
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// openConn dials the broker like paho does (tcp, ssl/tls, ws/wss) and
// buffers the reads.
func openConn(tlsConfig *tls.Config) paho.OpenConnectionFunc {
	return func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
		timeout := o.ConnectTimeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
		var conn net.Conn
		var err error
		switch uri.Scheme {
		case "tcp", "mqtt":
			conn, err = d.Dial("tcp", uri.Host)
		case "ssl", "tls", "mqtts":
			cfg := tlsConfig
			if cfg == nil {
				cfg = &tls.Config{}
			}
			conn, err = tls.DialWithDialer(d, "tcp", uri.Host, cfg)
		case "ws", "wss":
			u := *uri
			u.User = nil
			var cfg *tls.Config
			if uri.Scheme == "wss" {
				cfg = tlsConfig
			}
			conn, err = paho.NewWebsocket(u.String(), cfg, timeout, o.HTTPHeaders, o.WebsocketOptions)
		default:
			return nil, fmt.Errorf("unsupported scheme %q", uri.Scheme)
		}
		if err != nil {
			return nil, err
		}
		return &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, readBufferSize)}, nil
	}
}

// nullStore is a paho Store that keeps nothing. paho stores outgoing
// packets to resend them after a reconnect; a subscriber sends only
// PUBACKs (and the broker resends an unacknowledged PUBLISH itself after a
// reconnect), so storing each PUBACK and deleting it again is wasted work.
type nullStore struct{}

func (nullStore) Open()                             {}
func (nullStore) Put(string, packets.ControlPacket) {}
func (nullStore) Get(string) packets.ControlPacket  { return nil }
func (nullStore) All() []string                     { return nil }
func (nullStore) Del(string)                        {}
func (nullStore) Close()                            {}
func (nullStore) Reset()                            {}
