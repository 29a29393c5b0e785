package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
	parts   [][]byte // short_message of every submit_sm
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
			s.parts = append(s.parts, append([]byte(nil), p.Fields()[pdufield.ShortMessage].Bytes()...))
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

// ucs2 encodes s as UCS-2 big endian, as the SMPP sender writes it.
func ucs2(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r>>8), byte(r))
	}
	return b
}

// TestFaultSMSCDownAPI is the SMSC-down scenario through the api process:
// alerts fire from ingested samples, the api's SMPP receiver cannot reach
// the SMSC, the api is killed with SIGKILL during the outage and started
// again; once the SMSC is back every alert's SMS arrives, once.
func TestFaultSMSCDownAPI(t *testing.T) {
	n := cycles(4, 12)
	outage := dur(4*time.Second, 30*time.Second)
	sc := newSMSC(t)
	px := newSwitchProxy(t, sc.srv.Addr())
	dir := t.TempDir()
	recv := filepath.Join(dir, "receivers.yaml")
	if err := os.WriteFile(recv, []byte(fmt.Sprintf(`receivers:
  - name: smsc
    type: smpp
    smpp: {addr: %q, user: %q, password: %q, source: QUANTRAC, no_receipts: true, bind_interval: 200ms, resp_timeout: 2s}
`, px.ln.Addr().String(), smpptest.DefaultUser, smpptest.DefaultPasswd)), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	a := newAPI(t, "api", filepath.Join(dir, "api"), fmt.Sprintf("alerting: {enabled: true, rules_dir: %q, roster: %q, receivers: %q}\n",
		filepath.Join(wd, "testdata", "rules"), filepath.Join(wd, "testdata", "oncall.yaml"), recv))
	a.start()
	px.set(false)
	post := func(station string, v float64, at time.Time) {
		body := fmt.Sprintf(`{"series":[{"labels":{"__name__":"water_level_m","station":%q,"province":"E2E","kind":"hydrological"},"t":[%d],"v":[%g]}]}`,
			station, at.UnixMilli(), v)
		req, _ := http.NewRequest("POST", a.URL()+"/api/v1/ingest", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.ingest)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatalf("ingest: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("ingest: HTTP %d", resp.StatusCode)
		}
	}
	var ids []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("E2E-%02d", i)
		ids = append(ids, id)
		now := time.Now()
		post(id, 8, now.Add(-time.Minute))
		post(id, 10.5+float64(i)/10, now)
		time.Sleep(400 * time.Millisecond) // past the engine's group wait: one SMS per alert
	}
	firing := func() int {
		var v struct {
			Alerts []struct{ State string } `json:"alerts"`
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := getJSON(ctx, a.URL()+"/api/v1/alerts", a.admin, &v); err != nil {
			return -1
		}
		return len(v.Alerts)
	}
	waitFor(t, 20*time.Second, "every alert firing", func() bool { return firing() == n })
	time.Sleep(time.Second) // messages into the outbox
	a.p.kill9()
	a.start()
	time.Sleep(outage)
	if got := sc.count(); got != 0 {
		t.Errorf("the SMSC was down but accepted %d submits", got)
	}
	px.set(true)
	delivered := func() (map[string]int, int) {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		per := map[string]int{}
		for _, id := range ids {
			for _, p := range sc.parts {
				if bytes.Contains(p, ucs2(id)) || bytes.Contains(p, []byte(id)) {
					per[id]++
				}
			}
		}
		return per, len(sc.parts)
	}
	waitFor(t, dur(60*time.Second, 5*time.Minute), "an SMS for every alert", func() bool { per, _ := delivered(); return len(per) == n })
	time.Sleep(2 * time.Second) // a late duplicate would show now
	per, parts := delivered()
	dup := 0
	seen := map[string]int{}
	sc.mu.Lock()
	for _, p := range sc.parts {
		seen[string(p)]++
	}
	sc.mu.Unlock()
	for _, c := range seen {
		dup += c - 1
	}
	for id, c := range per {
		if c != 1 {
			t.Errorf("alert of %s: its station id is in %d SMS parts, want 1", id, c)
		}
	}
	if dup > 0 {
		t.Errorf("%d SMS parts submitted twice", dup)
	}
	if err := a.p.stop(); err != nil {
		t.Errorf("api stop: %v", err)
	}
	report(row{Scenario: "SMSC down, api SIGKILLed during it", Cycles: 1, SMS: &smsTally{Sent: n, Delivered: len(per), Duplicated: dup},
		Note: fmt.Sprintf("%d alerts fired through /api/v1/ingest while the SMSC was down %s; %d SMS parts at the SMSC", n, outage, parts)})
}
