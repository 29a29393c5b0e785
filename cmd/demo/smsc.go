package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/smpptest"

	"github.com/quantrac/quantrac/alerting/sms"
)

// consoleSMSC is the demo's stand-in for a carrier's SMS centre: a real
// SMPP 3.4 server (go-smpp's smpptest) that answers every submit_sm,
// joins the parts of long messages and prints each whole SMS, so the demo
// shows exactly what a duty officer's phone would receive.
type consoleSMSC struct {
	srv *smpptest.Server
	out io.Writer

	mu    sync.Mutex
	parts map[string][][]byte // dst/ref → parts received so far
	seq   int
	count int
	wmu   sync.Mutex
}

func startConsoleSMSC(out io.Writer) *consoleSMSC {
	s := &consoleSMSC{out: out, parts: map[string][][]byte{}}
	s.srv = smpptest.NewUnstartedServer()
	s.srv.Handler = s.handle
	s.srv.Start()
	return s
}

// Addr is host:port of the SMPP listener.
func (s *consoleSMSC) Addr() string { return s.srv.Addr() }

// Count is the number of whole messages printed so far.
func (s *consoleSMSC) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

func (s *consoleSMSC) Close() { s.srv.Close() }

func (s *consoleSMSC) reply(c smpptest.Conn, p pdu.Body) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = c.Write(p)
}

func (s *consoleSMSC) handle(c smpptest.Conn, p pdu.Body) {
	switch p.Header().ID {
	case pdu.SubmitSMID:
		f := p.Fields()
		dst := f[pdufield.DestinationAddr].String()
		text, done := s.collect(dst, byteField(f, pdufield.ESMClass), byteField(f, pdufield.DataCoding), f[pdufield.ShortMessage].Bytes())
		s.mu.Lock()
		s.seq++
		id := fmt.Sprintf("DEMO%06d", s.seq)
		s.mu.Unlock()
		r := pdu.NewSubmitSMResp()
		r.Header().Seq = p.Header().Seq
		_ = r.Fields().Set(pdufield.MessageID, id)
		s.reply(c, r)
		if done {
			fmt.Fprintf(s.out, "%s  SMS → %s: %s\n", time.Now().Format("15:04:05"), dst, text)
		}
	case pdu.EnquireLinkID:
		s.reply(c, pdu.NewEnquireLinkRespSeq(p.Header().Seq))
	case pdu.UnbindID:
		r := pdu.NewUnbindResp()
		r.Header().Seq = p.Header().Seq
		s.reply(c, r)
	}
}

// collect adds one part and returns the whole text once every part of a
// concatenated message (UDH IEI 0x00) has arrived.
func (s *consoleSMSC) collect(dst string, esm, coding byte, data []byte) (string, bool) {
	decode := func(b []byte) string {
		if coding == 0x08 {
			return sms.DecodeUCS2(b)
		}
		return sms.DecodeGSM7(b)
	}
	if esm&0x40 == 0 || len(data) < 6 || data[0] < 5 || data[1] != 0x00 {
		s.mu.Lock()
		s.count++
		s.mu.Unlock()
		return decode(data), true
	}
	ref, total, seq := data[3], int(data[4]), int(data[5])
	body := data[1+int(data[0]):]
	if seq < 1 || seq > total {
		return "", false
	}
	key := fmt.Sprintf("%s/%d", dst, ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.parts[key]
	if ps == nil {
		ps = make([][]byte, total)
		s.parts[key] = ps
	}
	ps[seq-1] = append([]byte(nil), body...)
	var b strings.Builder
	for _, p := range ps {
		if p == nil {
			return "", false
		}
		b.WriteString(decode(p))
	}
	delete(s.parts, key)
	s.count++
	return b.String(), true
}

func byteField(f pdufield.Map, name pdufield.Name) byte {
	if v, ok := f[name]; ok {
		if b := v.Bytes(); len(b) > 0 {
			return b[0]
		}
	}
	return 0
}

// receiversYAML configures the alert engine to send SMS to the console SMSC.
func receiversYAML(addr string) string {
	return fmt.Sprintf(`# Written by the demo: SMS over SMPP to the in-process SMS centre.
receivers:
  - name: demo-smsc
    type: smpp
    smpp:
      addr: %q
      user: %q
      password: %q
      source: QUANTRAC
`, addr, smpptest.DefaultUser, smpptest.DefaultPasswd)
}
