package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/smpptest"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/alerting"
	"github.com/quantrac/quantrac/alerting/sms"
	"github.com/quantrac/quantrac/model"
)

// smsc is go-smpp's test SMSC answering every submit_sm with a message
// id and counting what it accepted.
type smsc struct {
	srv *smpptest.Server

	mu      sync.Mutex
	submits int
	wmu     sync.Mutex
}

func newSMSC(t *testing.T) *smsc {
	t.Helper()
	s := &smsc{}
	s.srv = smpptest.NewUnstartedServer()
	s.srv.Handler = func(c smpptest.Conn, p pdu.Body) {
		var r pdu.Body
		switch p.Header().ID {
		case pdu.SubmitSMID:
			s.mu.Lock()
			s.submits++
			id := fmt.Sprintf("E%05d", s.submits)
			s.mu.Unlock()
			r = pdu.NewSubmitSMResp()
			r.Fields().Set(pdufield.MessageID, id)
		case pdu.EnquireLinkID:
			r = pdu.NewEnquireLinkResp()
		case pdu.UnbindID:
			r = pdu.NewUnbindResp()
		default:
			return
		}
		r.Header().Seq = p.Header().Seq
		s.wmu.Lock()
		c.Write(r)
		s.wmu.Unlock()
	}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *smsc) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.submits
}

// switchProxy is a TCP proxy that can be switched off: every connection
// is closed and new ones are refused, like an SMSC that is down.
type switchProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	up     bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln, target: target, up: true}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			u, err := net.Dial("tcp", p.target)
			if !p.up || err != nil {
				p.mu.Unlock()
				c.Close()
				if u != nil {
					u.Close()
				}
				continue
			}
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(u, c); u.Close() }()
			go func() { defer p.wg.Done(); io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.set(false); p.wg.Wait() })
	return p
}

func (p *switchProxy) set(up bool) {
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

// TestFaultSMSCDown takes the SMSC down while alerts fire (and restarts
// the alert engine during the outage, its outbox on disk): once the SMSC
// is back every SMS is delivered, exactly once.
//
// The api does not host an SMPP receiver yet, so the scenario drives the
// alerting package with its SMPP sender over TCP to go-smpp's test SMSC.
func TestFaultSMSCDown(t *testing.T) {
	n := cycles(2, 8)
	perCycle := 3
	outage := dur(4*time.Second, 30*time.Second)
	sc := newSMSC(t)
	px := newSwitchProxy(t, sc.srv.Addr())
	snd, err := sms.New(sms.Config{Addr: px.ln.Addr().String(), User: smpptest.DefaultUser, Password: smpptest.DefaultPasswd,
		Source: "QUANTRAC", BindInterval: 100 * time.Millisecond, RespTimeout: 2 * time.Second, NoReceipts: true}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snd.Start(ctx)
	defer snd.Close()
	waitFor(t, 10*time.Second, "SMPP bind", snd.Bound)

	dataDir := t.TempDir()
	type running struct {
		eng    *alerting.Engine
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func() running {
		eng, err := alerting.New(alerting.Options{DataDir: dataDir, RulesDir: filepath.Join("testdata", "rules"),
			RosterFile: filepath.Join("testdata", "oncall.yaml"), Logger: zerolog.Nop(), Interval: time.Second,
			GroupWait: 20 * time.Millisecond, RetryBackoff: 100 * time.Millisecond, RetryMax: 500 * time.Millisecond,
			SendTimeout: 3 * time.Second,
			Receivers:   []alerting.Receiver{{Name: "smpp", Notifier: snd, SMS: true}}})
		if err != nil {
			t.Fatal(err)
		}
		ectx, ecancel := context.WithCancel(ctx)
		r := running{eng: eng, cancel: ecancel, done: make(chan struct{})}
		go func() { defer close(r.done); eng.Run(ectx) }()
		return r
	}
	stop := func(r running) {
		r.cancel()
		<-r.done
		if err := r.eng.Close(); err != nil {
			t.Errorf("alerting close: %v", err)
		}
	}
	eng := start()
	level := func(station string, v float64, ago time.Duration) []model.Sample {
		return []model.Sample{{Labels: model.New("water_level_m", "station", station, "province", "E2E", "kind", "hydrological"),
			T: time.Now().Add(-ago).UnixMilli(), V: v}}
	}
	fired := 0
	for c := 0; c < n; c++ {
		px.set(false)
		waitFor(t, 10*time.Second, "the SMSC to be gone", func() bool { return !snd.Bound() })
		for i := 0; i < perCycle; i++ {
			st := fmt.Sprintf("E2E-%02d-%02d", c, i)
			eng.eng.Observe(ctx, level(st, 8, time.Minute))
			eng.eng.Observe(ctx, level(st, 10.5+float64(i), 0))
			fired++
			time.Sleep(100 * time.Millisecond)
		}
		ok := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if msgs, _ := eng.eng.OutboxMessages(); len(msgs) >= fired {
				ok = true
				break
			}
		}
		if !ok {
			msgs, _ := eng.eng.OutboxMessages()
			alerts, _ := eng.eng.Alerts(alerting.AlertFilter{})
			t.Fatalf("%d alerts fired, %d messages in the outbox; alerts %d, rules %d, on call %v", fired, len(msgs), len(alerts), len(eng.eng.Rules()), eng.eng.OnCallNow())
		}
		// The engine restarts while its messages wait: the outbox is on disk.
		stop(eng)
		eng = start()
		time.Sleep(outage)
		if got := sc.count(); got != 0 && c == 0 {
			t.Errorf("the SMSC was down but accepted %d submits", got)
		}
		px.set(true)
		waitFor(t, 30*time.Second, "every SMS sent", func() bool {
			msgs, _ := eng.eng.OutboxMessages()
			sent := 0
			for _, m := range msgs {
				if m.Status == alerting.OutSent {
					sent++
				}
			}
			return sent >= fired && sent == len(msgs)
		})
	}
	time.Sleep(500 * time.Millisecond) // any late resubmission would show now
	msgs, err := eng.eng.OutboxMessages()
	if err != nil {
		t.Fatal(err)
	}
	stop(eng)
	parts, delivered := 0, 0
	maxAttempts := 0
	for _, m := range msgs {
		if m.Status == alerting.OutSent && len(m.Refs) > 0 {
			delivered++
			parts += len(m.Refs)
		}
		maxAttempts = max(maxAttempts, m.Attempts)
	}
	dup := sc.count() - parts
	if len(msgs) != fired {
		t.Errorf("%d alerts fired, %d messages in the outbox", fired, len(msgs))
	}
	if delivered != len(msgs) {
		t.Errorf("%d of %d SMS delivered", delivered, len(msgs))
	}
	if dup != 0 {
		t.Errorf("the SMSC accepted %d submits for %d parts: %d duplicated", sc.count(), parts, dup)
	}
	report(row{Scenario: "SMSC down (alerting restarted during it)", Cycles: n, SMS: &smsTally{Sent: len(msgs), Delivered: delivered, Duplicated: dup},
		Note: fmt.Sprintf("SMSC down %s per cycle while %d alerts fired; %d SMS parts at the SMSC; up to %d attempts per message", outage, perCycle, sc.count(), maxAttempts)})
}
