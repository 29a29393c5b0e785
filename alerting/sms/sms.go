package sms

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/alerting"
)

// Sender is an alerting receiver speaking SMPP 3.4 as a transceiver.
type Sender struct {
	cfg Config
	log zerolog.Logger

	sess    atomic.Pointer[session]
	inbound atomic.Pointer[inboundBox]

	mu       sync.Mutex
	progress map[string]*progress // message id → parts sent

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

type inboundBox struct{ in alerting.Inbound }

// progress remembers which parts of a message the SMSC accepted, so a
// retry after a dropped bind sends only the missing parts: no duplicates.
type progress struct {
	parts []part
	done  []bool
	ids   []string
	used  time.Time
	sent  bool
}

// New checks cfg and prepares a sender; Start binds.
func New(cfg Config, log zerolog.Logger) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Sender{cfg: cfg, log: log.With().Str("receiver", "smpp").Str("smsc", cfg.Addr).Logger(),
		progress: map[string]*progress{}}
	return s, nil
}

// SetInbound receives the engine that handles replies and receipts.
func (s *Sender) SetInbound(in alerting.Inbound) { s.inbound.Store(&inboundBox{in}) }

// Start binds as transceiver in the background and keeps the bind up,
// rebinding BindInterval after the SMSC drops it, until ctx ends or Close.
func (s *Sender) Start(ctx context.Context) {
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.keepBound(s.ctx)
	}()
}

func (s *Sender) keepBound(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		sess, err := bindSession(ctx, &s.cfg)
		if err != nil {
			failures++
			if failures == 1 || failures%30 == 0 {
				s.log.Warn().Err(err).Int("attempts", failures).Msg("SMPP bind failed, retrying")
			}
			if !sleepCtx(ctx, s.cfg.BindInterval) {
				return
			}
			continue
		}
		failures = 0
		s.log.Info().Msg("SMPP bound as transceiver")
		s.sess.Store(sess)
		readDone := make(chan struct{})
		go func() { defer close(readDone); sess.readLoop(s.handle) }()
		s.enquireLoop(ctx, sess)
		s.sess.Store(nil)
		if ctx.Err() != nil {
			// Polite unbind, then close.
			uctx, cancel := context.WithTimeout(context.Background(), time.Second)
			sess.request(uctx, pdu.NewUnbind(), time.Second)
			cancel()
			sess.close(errors.New("closed"))
			<-readDone
			return
		}
		<-readDone
		s.log.Warn().Err(sess.err).Msg("SMPP connection lost, rebinding")
		if !sleepCtx(ctx, s.cfg.BindInterval) {
			return
		}
	}
}

// enquireLoop sends enquire_link every EnquireLink while the line is quiet
// and closes a session whose SMSC stopped answering. It returns when the
// session dies or ctx ends.
func (s *Sender) enquireLoop(ctx context.Context, sess *session) {
	t := time.NewTicker(s.cfg.EnquireLink)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sess.dead:
			return
		case <-t.C:
			if time.Since(time.Unix(0, sess.lastRx.Load())) < s.cfg.EnquireLink {
				continue
			}
			r, err := sess.request(ctx, pdu.NewEnquireLink(), s.cfg.RespTimeout)
			if err != nil || r.Header().ID != pdu.EnquireLinkRespID {
				sess.close(fmt.Errorf("enquire_link unanswered: %v", err))
				return
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Close unbinds and waits for the connection goroutines.
func (s *Sender) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	<-s.done
	return nil
}

// Bound reports whether the transceiver is bound now.
func (s *Sender) Bound() bool { return s.sess.Load() != nil }

// ErrNotBound is returned (retryable) while there is no bind to the SMSC.
var ErrNotBound = errors.New("smpp: not bound to the SMSC")

// Notify submits msg to msg.To, one submit_sm per part. It returns once
// the SMSC accepted every part (submit_sm_resp status 0).
func (s *Sender) Notify(ctx context.Context, msg *alerting.Message) (bool, error) {
	if msg.To == "" {
		return false, fmt.Errorf("smpp message %s: no destination number", msg.ID)
	}
	pr := s.progressFor(msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	if pr.sent {
		return false, nil // already accepted: at most once per message id
	}
	sess := s.sess.Load()
	if sess == nil {
		return true, fmt.Errorf("smpp message %s to %s: %w", msg.ID, msg.To, ErrNotBound)
	}
	dst := strings.TrimPrefix(msg.To, "+")
	for i, p := range pr.parts {
		if pr.done[i] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return true, err
		}
		id, err := s.submit(ctx, sess, dst, p)
		if err != nil {
			retry := Classify(err)
			return retry, fmt.Errorf("smpp message %s to %s part %d/%d: %w", msg.ID, msg.To, i+1, len(pr.parts), err)
		}
		pr.done[i] = true
		pr.ids[i] = id
	}
	pr.sent = true
	return false, nil
}

func (s *Sender) progressFor(msg *alerting.Message) *progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	pr := s.progress[msg.ID]
	if pr == nil {
		h := fnv.New32a()
		h.Write([]byte(msg.ID))
		ref := byte(h.Sum32())
		var parts []part
		if s.cfg.GSM7 {
			parts = splitGSM7(msg.Text, ref)
		} else {
			parts = splitUCS2(msg.Text, ref)
		}
		pr = &progress{parts: parts, done: make([]bool, len(parts)), ids: make([]string, len(parts)), used: now}
		s.progress[msg.ID] = pr
		for id, old := range s.progress { // forget finished messages after a day
			if now.Sub(old.used) > 24*time.Hour {
				delete(s.progress, id)
			}
		}
	}
	pr.used = now
	return pr
}

// Refs returns the SMSC message ids of the parts of message msgID, for
// matching delivery receipts.
func (s *Sender) Refs(msgID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.progress[msgID]
	if pr == nil {
		return nil
	}
	var out []string
	for _, id := range pr.ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

// submit sends one submit_sm and returns the SMSC message id.
func (s *Sender) submit(ctx context.Context, sess *session, dst string, p part) (string, error) {
	sm := pdu.NewSubmitSM(nil)
	f := sm.Fields()
	f.Set(pdufield.SourceAddrTON, *s.cfg.SourceTON)
	f.Set(pdufield.SourceAddrNPI, *s.cfg.SourceNPI)
	f.Set(pdufield.SourceAddr, s.cfg.Source)
	f.Set(pdufield.DestAddrTON, *s.cfg.DestTON)
	f.Set(pdufield.DestAddrNPI, *s.cfg.DestNPI)
	f.Set(pdufield.DestinationAddr, dst)
	esm := uint8(0)
	if p.udh {
		esm = esmClassUDH
	}
	f.Set(pdufield.ESMClass, esm)
	f.Set(pdufield.ProtocolID, uint8(0))
	f.Set(pdufield.PriorityFlag, uint8(1))
	f.Set(pdufield.ScheduleDeliveryTime, "")
	f.Set(pdufield.ValidityPeriod, validity(s.cfg.Validity))
	reg := uint8(1)
	if s.cfg.NoReceipts {
		reg = 0
	}
	f.Set(pdufield.RegisteredDelivery, reg)
	f.Set(pdufield.ReplaceIfPresentFlag, uint8(0))
	f.Set(pdufield.SMDefaultMsgID, uint8(0))
	f.Set(pdufield.ShortMessage, rawText{coding: p.coding, data: p.data})
	resp, err := sess.request(ctx, sm, s.cfg.RespTimeout)
	if err != nil {
		return "", err
	}
	if resp.Header().ID != pdu.SubmitSMRespID {
		return "", fmt.Errorf("smpp: unexpected %s to submit_sm (status %v)", resp.Header().ID, resp.Header().Status)
	}
	if st := resp.Header().Status; st != 0 {
		return "", st
	}
	id := ""
	if b := resp.Fields()[pdufield.MessageID]; b != nil {
		id = b.String()
	}
	return id, nil
}

// validity renders a relative validity period ("000000hhmmss000R").
func validity(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	sec := int(d / time.Second)
	days := sec / 86400
	sec %= 86400
	return fmt.Sprintf("0000%02d%02d%02d%02d000R", days, sec/3600, sec%3600/60, sec%60)
}

// rawText is a pre-encoded short_message with its data_coding.
type rawText struct {
	coding byte
	data   []byte
}

func (t rawText) Type() pdutext.DataCoding { return pdutext.DataCoding(t.coding) }
func (t rawText) Encode() []byte           { return t.data }
func (t rawText) Decode() []byte           { return t.data }

var receiptRe = regexp.MustCompile(`(?i)id:(\S+).*stat:(\S+)`)

// handle receives deliver_sm: delivery receipts (esm_class 0x04) go to
// DeliveryReceipt, other texts to SMSReply. The library answers each with
// deliver_sm_resp.
func (s *Sender) handle(p pdu.Body) {
	if p.Header().ID != pdu.DeliverSMID {
		return
	}
	f := p.Fields()
	esm := fieldByte(f, pdufield.ESMClass)
	coding := fieldByte(f, pdufield.DataCoding)
	var raw []byte
	if b := f[pdufield.ShortMessage]; b != nil {
		raw = b.Bytes()
	}
	// With the UDHI flag the codec has already split the header off
	// (fields UDHLength and GSMUserData); raw is the text only.
	var text string
	switch coding {
	case codingUCS2:
		text = DecodeUCS2(raw)
	case codingGSM7:
		text = DecodeGSM7(raw)
	default:
		text = string(raw)
	}
	from := ""
	if b := f[pdufield.SourceAddr]; b != nil {
		from = b.String()
	}
	box := s.inbound.Load()
	if esm&0x3C == 0x04 || esm&0x3C == 0x08 {
		ref, stat := "", ""
		if m := receiptRe.FindStringSubmatch(text); m != nil {
			ref, stat = m[1], strings.ToUpper(m[2])
		}
		if tl := p.TLVFields(); tl != nil {
			if v := tl[pdutlv.TagReceiptedMessageID]; v != nil {
				ref = strings.TrimRight(string(v.Bytes()), "\x00")
			}
		}
		s.log.Debug().Str("ref", ref).Str("stat", stat).Msg("delivery receipt")
		if box != nil && ref != "" {
			box.in.DeliveryReceipt(s.ctx, ref, stat)
		}
		return
	}
	s.log.Info().Str("from", from).Str("text", text).Msg("SMS received")
	if box != nil {
		box.in.SMSReply(s.ctx, from, text)
	}
}

func fieldByte(f pdufield.Map, name pdufield.Name) byte {
	if b := f[name]; b != nil {
		if bs := b.Bytes(); len(bs) > 0 {
			return bs[0]
		}
	}
	return 0
}
