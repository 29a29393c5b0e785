package sms

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
)

// session is one bound SMPP connection: the PDU codec comes from go-smpp,
// the connection handling is ours (one reader goroutine, responses matched
// to requests by sequence number, enquire_link, unbind) so that a rebind
// never shares state with the connection that died.
type session struct {
	conn    net.Conn
	wmu     sync.Mutex
	seq     atomic.Uint32
	mu      sync.Mutex
	waiting map[uint32]chan pdu.Body
	dead    chan struct{}
	once    sync.Once
	err     error
	lastRx  atomic.Int64 // unix ns of the last PDU received
}

// errConnLost fails requests in flight when the connection dies.
var errConnLost = errors.New("smpp: connection lost")

func newSession(conn net.Conn) *session {
	s := &session{conn: conn, waiting: map[uint32]chan pdu.Body{}, dead: make(chan struct{})}
	s.lastRx.Store(time.Now().UnixNano())
	return s
}

func (s *session) close(err error) {
	s.once.Do(func() {
		s.err = err
		s.conn.Close()
		close(s.dead)
		s.mu.Lock()
		for seq, ch := range s.waiting {
			close(ch)
			delete(s.waiting, seq)
		}
		s.mu.Unlock()
	})
}

func (s *session) write(p pdu.Body) error {
	var b bytes.Buffer
	if err := p.SerializeTo(&b); err != nil {
		return fmt.Errorf("encode %s: %w", p.Header().ID, err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.conn.Write(b.Bytes()); err != nil {
		s.close(err)
		return fmt.Errorf("write %s: %w", p.Header().ID, err)
	}
	return nil
}

// request sends p with a fresh sequence number and waits for the response
// with the same number.
func (s *session) request(ctx context.Context, p pdu.Body, timeout time.Duration) (pdu.Body, error) {
	seq := s.seq.Add(1)
	p.Header().Seq = seq
	ch := make(chan pdu.Body, 1)
	s.mu.Lock()
	select {
	case <-s.dead:
		s.mu.Unlock()
		return nil, errConnLost
	default:
	}
	s.waiting[seq] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiting, seq)
		s.mu.Unlock()
	}()
	if err := s.write(p); err != nil {
		return nil, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, errConnLost
		}
		return r, nil
	case <-s.dead:
		return nil, errConnLost
	case <-t.C:
		return nil, fmt.Errorf("smpp: no response to %s seq %d within %v", p.Header().ID, seq, timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readPDU reads one PDU frame. Framing errors are fatal; a PDU type the
// codec does not know is returned as errUnknownPDU with its header.
func readPDU(r io.Reader) (pdu.Body, *pdu.Header, error) {
	var hb [pdu.HeaderLen]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return nil, nil, err
	}
	n := binary.BigEndian.Uint32(hb[0:4])
	if n < pdu.HeaderLen || n > pdu.MaxSize {
		return nil, nil, fmt.Errorf("smpp: bad PDU length %d", n)
	}
	buf := make([]byte, n)
	copy(buf, hb[:])
	if _, err := io.ReadFull(r, buf[pdu.HeaderLen:]); err != nil {
		return nil, nil, err
	}
	h := &pdu.Header{Len: n, ID: pdu.ID(binary.BigEndian.Uint32(hb[4:8])), Status: pdu.Status(binary.BigEndian.Uint32(hb[8:12])), Seq: binary.BigEndian.Uint32(hb[12:16])}
	p, err := decodePDU(buf)
	if err != nil {
		return nil, h, errUnknownPDU
	}
	return p, h, nil
}

// decodePDU decodes one framed PDU; a malformed body is an error, even
// where the codec would panic on it.
func decodePDU(buf []byte) (p pdu.Body, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("smpp: malformed PDU: %v", r)
		}
	}()
	return pdu.Decode(bytes.NewReader(buf))
}

var errUnknownPDU = errors.New("smpp: PDU not understood")

// readLoop dispatches incoming PDUs until the connection ends: responses to
// their waiting request, deliver_sm to onDeliver (answered with
// deliver_sm_resp), enquire_link and unbind answered.
func (s *session) readLoop(onDeliver func(pdu.Body)) {
	r := bufio.NewReader(s.conn)
	for {
		p, h, err := readPDU(r)
		if err == errUnknownPDU {
			nack := pdu.NewGenericNACK()
			nack.Header().Seq = h.Seq
			nack.Header().Status = 0x03 // ESME_RINVCMDID
			if h.ID&0x80000000 == 0 {
				s.write(nack)
			}
			continue
		}
		if err != nil {
			s.close(err)
			return
		}
		s.lastRx.Store(time.Now().UnixNano())
		id := p.Header().ID
		switch {
		case id == pdu.GenericNACKID || id&0x80000000 != 0:
			s.mu.Lock()
			ch := s.waiting[p.Header().Seq]
			delete(s.waiting, p.Header().Seq)
			s.mu.Unlock()
			if ch != nil {
				ch <- p
			}
		case id == pdu.DeliverSMID:
			onDeliver(p)
			s.write(pdu.NewDeliverSMRespSeq(p.Header().Seq))
		case id == pdu.EnquireLinkID:
			s.write(pdu.NewEnquireLinkRespSeq(p.Header().Seq))
		case id == pdu.UnbindID:
			r := pdu.NewUnbindResp()
			r.Header().Seq = p.Header().Seq
			s.write(r)
			s.close(errors.New("smpp: SMSC unbound"))
			return
		}
	}
}

// bind dials addr and binds as transceiver.
func bindSession(ctx context.Context, cfg *Config) (*session, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smpp: dial %s: %w", cfg.Addr, err)
	}
	s := newSession(conn)
	p := pdu.NewBindTransceiver()
	f := p.Fields()
	f.Set(pdufield.SystemID, cfg.User)
	f.Set(pdufield.Password, cfg.Password)
	f.Set(pdufield.SystemType, cfg.SystemType)
	f.Set(pdufield.InterfaceVersion, uint8(0x34))
	p.Header().Seq = s.seq.Add(1)
	if err := s.write(p); err != nil {
		conn.Close()
		return nil, fmt.Errorf("smpp: bind to %s: %w", cfg.Addr, err)
	}
	conn.SetReadDeadline(time.Now().Add(cfg.RespTimeout))
	resp, _, err := readPDU(conn) // unbuffered: nothing after the response is consumed
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("smpp: bind to %s: read response: %w", cfg.Addr, err)
	}
	if resp.Header().ID != pdu.BindTransceiverRespID {
		conn.Close()
		return nil, fmt.Errorf("smpp: bind to %s: unexpected %s", cfg.Addr, resp.Header().ID)
	}
	if st := resp.Header().Status; st != 0 {
		conn.Close()
		return nil, fmt.Errorf("smpp: bind to %s refused: %w", cfg.Addr, st)
	}
	return s, nil
}
