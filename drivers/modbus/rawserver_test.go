package modbus

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

type atomicBool struct{ v atomic.Bool }

func (b *atomicBool) set(v bool) { b.v.Store(v) }
func (b *atomicBool) get() bool  { return b.v.Load() }

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }

// serveRawTCP runs a minimal Modbus TCP responder whose answers come from
// answer(unit, request PDU) → (unit, response PDU), for faults a real
// server will not produce. It stops with the test.
func serveRawTCP(t *testing.T, answer func(unit byte, pdu []byte) (byte, []byte)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				var hdr [7]byte
				for {
					if _, err := io.ReadFull(c, hdr[:]); err != nil {
						return
					}
					n := int(binary.BigEndian.Uint16(hdr[4:]))
					if n < 2 || n > 254 {
						return
					}
					pdu := make([]byte, n-1)
					if _, err := io.ReadFull(c, pdu); err != nil {
						return
					}
					unit, resp := answer(hdr[6], pdu)
					out := make([]byte, 7+len(resp))
					copy(out, hdr[:4])
					binary.BigEndian.PutUint16(out[4:], uint16(len(resp)+1))
					out[6] = unit
					copy(out[7:], resp)
					if _, err := c.Write(out); err != nil && !errors.Is(err, net.ErrClosed) {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}
