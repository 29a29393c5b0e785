package sms

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
	"github.com/fiorix/go-smpp/smpp/smpptest"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/alerting"
)

// submit is one submit_sm the test SMSC accepted.
type submit struct {
	src, dst    string
	esm, coding byte
	register    byte
	data        []byte
	id          string
	at          time.Time
}

// smsc wraps smpptest with a handler that answers each submit_sm with a
// submit_sm_resp of the same sequence number, sends delivery receipts, can
// drop the bind instead of answering, and can send texts to the client.
type smsc struct {
	srv *smpptest.Server

	mu      sync.Mutex
	subs    []submit
	conns   []smpptest.Conn
	seen    int // submit_sm received, answered or not
	dropAt  map[int]bool
	onSub   func(submit)
	wmu     sync.Mutex
	noDLR   bool
	dropped int
	mute    bool // ignore enquire_link: a half-dead SMSC
	enq     int  // enquire_link received
}

func newSMSC(t testing.TB) *smsc {
	s := &smsc{dropAt: map[int]bool{}}
	s.srv = smpptest.NewUnstartedServer()
	s.srv.Handler = s.handle
	s.srv.Start()
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}

func (s *smsc) write(c smpptest.Conn, p pdu.Body) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	c.Write(p)
}

func (s *smsc) handle(c smpptest.Conn, p pdu.Body) {
	s.mu.Lock()
	known := false
	for _, k := range s.conns {
		if k == c {
			known = true
		}
	}
	if !known {
		s.conns = append(s.conns, c)
	}
	s.mu.Unlock()
	switch p.Header().ID {
	case pdu.SubmitSMID:
		f := p.Fields()
		s.mu.Lock()
		s.seen++
		if s.dropAt[s.seen] {
			s.dropped++
			s.mu.Unlock()
			c.Close() // the SMSC drops the bind without answering
			return
		}
		sub := submit{src: f[pdufield.SourceAddr].String(), dst: f[pdufield.DestinationAddr].String(),
			esm: fieldByte(f, pdufield.ESMClass), coding: fieldByte(f, pdufield.DataCoding),
			register: fieldByte(f, pdufield.RegisteredDelivery), data: append([]byte(nil), f[pdufield.ShortMessage].Bytes()...),
			id: fmt.Sprintf("M%04d", len(s.subs)+1), at: time.Now()}
		s.subs = append(s.subs, sub)
		on := s.onSub
		noDLR := s.noDLR
		s.mu.Unlock()
		if on != nil {
			on(sub)
		}
		r := pdu.NewSubmitSMResp()
		r.Header().Seq = p.Header().Seq
		r.Fields().Set(pdufield.MessageID, sub.id)
		s.write(c, r)
		if sub.register == 1 && !noDLR {
			txt := fmt.Sprintf("id:%s sub:001 dlvrd:001 submit date:2611250200 done date:2611250200 stat:DELIVRD err:000 text:", sub.id)
			s.write(c, deliverSM(sub.dst, sub.src, 0x04, 0x00, []byte(txt)))
		}
	case pdu.EnquireLinkID:
		s.mu.Lock()
		s.enq++
		mute := s.mute
		s.mu.Unlock()
		if !mute {
			s.write(c, pdu.NewEnquireLinkRespSeq(p.Header().Seq))
		}
	case pdu.UnbindID:
		r := pdu.NewUnbindResp()
		r.Header().Seq = p.Header().Seq
		s.write(c, r)
	}
}

// mo sends a text from a phone to the bound client.
func (s *smsc) mo(from, text string) {
	d := deliverSM(from, "QUANTRAC", 0x00, 0x00, []byte(text))
	s.mu.Lock()
	conns := append([]smpptest.Conn(nil), s.conns...)
	s.mu.Unlock()
	for _, c := range conns {
		s.write(c, d)
	}
}

func (s *smsc) submits() []submit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]submit(nil), s.subs...)
}

// fakeInbound records what the sender passes to the engine.
type fakeInbound struct {
	mu       sync.Mutex
	replies  []string
	receipts map[string]string
}

func (f *fakeInbound) SMSReply(ctx context.Context, from, text string) {
	f.mu.Lock()
	f.replies = append(f.replies, from+":"+text)
	f.mu.Unlock()
}

func (f *fakeInbound) DeliveryReceipt(ctx context.Context, ref, status string) {
	f.mu.Lock()
	if f.receipts == nil {
		f.receipts = map[string]string{}
	}
	f.receipts[ref] = status
	f.mu.Unlock()
}

func (f *fakeInbound) snapshot() ([]string, map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := map[string]string{}
	for k, v := range f.receipts {
		r[k] = v
	}
	return append([]string(nil), f.replies...), r
}

func startSender(t *testing.T, addr string, cfg Config) *Sender {
	t.Helper()
	cfg.Addr = addr
	cfg.User, cfg.Password = smpptest.DefaultUser, smpptest.DefaultPasswd
	if cfg.Source == "" {
		cfg.Source = "QUANTRAC"
	}
	cfg.BindInterval = 50 * time.Millisecond
	cfg.RespTimeout = 2 * time.Second
	s, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	t.Cleanup(func() { s.Close() })
	waitFor(t, "bind", s.Bound)
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reassemble groups accepted parts by (dst, UDH ref) and decodes them.
func reassemble(t *testing.T, subs []submit) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	type key struct {
		dst string
		ref byte
	}
	partsOf := map[key]map[byte]string{}
	totals := map[key]byte{}
	var order []key
	for _, s := range subs {
		body := s.data
		k := key{dst: s.dst}
		var seq, total byte = 1, 1
		if s.esm&0x40 != 0 {
			if len(body) < 6 || body[0] != 5 || body[1] != 0 || body[2] != 3 {
				t.Fatalf("bad UDH % x", body[:6])
			}
			k.ref, total, seq = body[3], body[4], body[5]
			body = body[6:]
		}
		text := DecodeUCS2(body)
		if s.coding == codingGSM7 {
			text = DecodeGSM7(body)
		}
		if partsOf[k] == nil {
			partsOf[k] = map[byte]string{}
			order = append(order, k)
		}
		if _, dup := partsOf[k][seq]; dup {
			t.Fatalf("duplicate part %d of message to %s ref %d", seq, s.dst, k.ref)
		}
		partsOf[k][seq] = text
		totals[k] = total
	}
	for _, k := range order {
		if byte(len(partsOf[k])) != totals[k] {
			t.Fatalf("message to %s ref %d: %d of %d parts", k.dst, k.ref, len(partsOf[k]), totals[k])
		}
		var s string
		for i := byte(1); i <= totals[k]; i++ {
			s += partsOf[k][i]
		}
		out[k.dst] = append(out[k.dst], s)
	}
	return out
}

func TestSMPPLongMessageReceiptsAndReplies(t *testing.T) {
	sc := newSMSC(t)
	in := &fakeInbound{}
	s := startSender(t, sc.srv.Addr(), Config{})
	s.SetInbound(in)
	msg := &alerting.Message{ID: "17", To: "+84901000001", Text: vn200}
	if retry, err := s.Notify(context.Background(), msg); err != nil {
		t.Fatalf("notify: %v (retry %v)", err, retry)
	}
	subs := sc.submits()
	if len(subs) != 3 {
		t.Fatalf("want 3 submit_sm, got %d", len(subs))
	}
	for _, sub := range subs {
		if sub.coding != 0x08 || sub.esm != 0x40 || sub.dst != "84901000001" || sub.src != "QUANTRAC" || sub.register != 1 || len(sub.data) > 140 {
			t.Fatalf("submit_sm fields: %+v", sub)
		}
	}
	if got := reassemble(t, subs)["84901000001"]; len(got) != 1 || got[0] != vn200 {
		t.Fatalf("reassembled %q", got)
	}
	refs := s.Refs("17")
	if len(refs) != 3 || refs[0] != "M0001" {
		t.Fatalf("refs %v", refs)
	}
	waitFor(t, "receipts", func() bool { _, r := in.snapshot(); return len(r) == 3 })
	if _, r := in.snapshot(); r["M0002"] != "DELIVRD" {
		t.Fatalf("receipts %v", r)
	}
	// Sending the same id again sends nothing: at most once per id.
	if _, err := s.Notify(context.Background(), msg); err != nil || len(sc.submits()) != 3 {
		t.Fatalf("resend: %v, %d submits", err, len(sc.submits()))
	}
	sc.mo("84901000006", "OK 123")
	waitFor(t, "reply", func() bool { r, _ := in.snapshot(); return len(r) == 1 })
	if r, _ := in.snapshot(); r[0] != "84901000006:OK 123" {
		t.Fatalf("reply %v", r)
	}
}

func TestSMPPDropMidSend(t *testing.T) {
	sc := newSMSC(t)
	sc.mu.Lock()
	sc.dropAt[2] = true // the SMSC drops the bind at the second part, unanswered
	sc.mu.Unlock()
	s := startSender(t, sc.srv.Addr(), Config{})
	msg := &alerting.Message{ID: "5", To: "+84901000002", Text: vn200}
	retry, err := s.Notify(context.Background(), msg)
	if err == nil || !retry {
		t.Fatalf("want a retryable error, got %v %v", retry, err)
	}
	waitFor(t, "rebind", s.Bound)
	var last error
	waitFor(t, "resend", func() bool {
		_, last = s.Notify(context.Background(), msg)
		return last == nil
	})
	got := reassemble(t, sc.submits()) // fails on any duplicate part
	if len(got["84901000002"]) != 1 || got["84901000002"][0] != vn200 {
		t.Fatalf("after drop: %q", got)
	}
	if n := len(sc.submits()); n != 3 {
		t.Fatalf("accepted %d parts, want 3", n)
	}
}

// proxy sits between the sender and the SMSC and can be switched off,
// closing every connection and refusing new ones: an SMSC that is down.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	up     bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, up: true}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.set(false); p.wg.Wait() })
	return p
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if !p.up {
			p.mu.Unlock()
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(u, c); u.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, u); c.Close() }()
	}
}

func (p *proxy) set(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

var dlvSeq atomic.Uint32

// rawPDU is a PDU serialised by hand. go-smpp's deliver_sm encoder writes
// its UDH length byte even without a UDH, which no real SMSC does.
type rawPDU struct {
	h    *pdu.Header
	body []byte
}

func (r *rawPDU) Header() *pdu.Header      { return r.h }
func (r *rawPDU) Len() int                 { return pdu.HeaderLen + len(r.body) }
func (r *rawPDU) FieldList() pdufield.List { return nil }
func (r *rawPDU) Fields() pdufield.Map     { return pdufield.Map{} }
func (r *rawPDU) TLVFields() pdutlv.Map    { return pdutlv.Map{} }
func (r *rawPDU) SerializeTo(w io.Writer) error {
	r.h.Len = uint32(r.Len())
	if err := r.h.SerializeTo(w); err != nil {
		return err
	}
	_, err := w.Write(r.body)
	return err
}

// deliverSM builds a deliver_sm as an SMSC sends it.
func deliverSM(src, dst string, esm, coding byte, sm []byte) pdu.Body {
	var b []byte
	cstr := func(s string) { b = append(append(b, s...), 0) }
	cstr("")            // service_type
	b = append(b, 1, 1) // source TON, NPI
	cstr(src)
	b = append(b, 5, 0) // dest TON, NPI
	cstr(dst)
	b = append(b, esm, 0, 0) // esm_class, protocol_id, priority_flag
	cstr("")                 // schedule_delivery_time
	cstr("")                 // validity_period
	b = append(b, 0, 0, coding, 0, byte(len(sm)))
	b = append(b, sm...)
	return &rawPDU{h: &pdu.Header{ID: pdu.DeliverSMID, Seq: 1<<20 + dlvSeq.Add(1)}, body: b}
}

// enquire_link keeps a quiet bind checked; an SMSC that stops answering
// it is dropped and the sender binds again.
func TestSMPPEnquireLinkAndRebind(t *testing.T) {
	sc := newSMSC(t)
	cfg := Config{Addr: sc.srv.Addr(), User: smpptest.DefaultUser, Password: smpptest.DefaultPasswd, Source: "QUANTRAC",
		EnquireLink: 30 * time.Millisecond, RespTimeout: 100 * time.Millisecond, BindInterval: 20 * time.Millisecond}
	s, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	defer s.Close()
	waitFor(t, "bind", s.Bound)
	waitFor(t, "enquire_link", func() bool { sc.mu.Lock(); defer sc.mu.Unlock(); return sc.enq >= 3 })
	first := s.sess.Load()
	sc.mu.Lock()
	sc.mute = true
	sc.mu.Unlock()
	waitFor(t, "drop of the silent bind", func() bool { cur := s.sess.Load(); return cur != nil && cur != first })
	sc.mu.Lock()
	sc.mute = false
	sc.mu.Unlock()
	waitFor(t, "send after rebind", func() bool {
		_, err := s.Notify(context.Background(), &alerting.Message{ID: "1", To: "+84901000001", Text: "OK"})
		return err == nil
	})
	if n := len(sc.submits()); n != 1 {
		t.Fatalf("%d submits", n)
	}
}
