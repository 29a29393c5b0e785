package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
)

// outbox delivers the messages of one receiver; one worker goroutine per
// receiver, so a dead SMS centre does not hold the webhooks back.
type outbox struct {
	st      *store
	rcv     Receiver
	log     zerolog.Logger
	wake    chan struct{}
	backoff time.Duration
	maxWait time.Duration
	maxTry  int
	timeout time.Duration
	onSent  func(om *OutMsg)

	sent, failed, retries atomic.Int64
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// enqueue writes messages for the receiver in tx (the caller's transaction
// that also removes the grouped events, so nothing is lost or doubled).
func enqueue(tx *bolt.Tx, receiver string, msgs []*Message) error {
	root := tx.Bucket([]byte(bucketOutbox))
	b, err := root.CreateBucketIfNotExists([]byte(receiver))
	if err != nil {
		return fmt.Errorf("outbox bucket %s: %w", receiver, err)
	}
	for _, m := range msgs {
		seq, err := root.NextSequence() // one sequence for all receivers: ids are unique
		if err != nil {
			return err
		}
		m.ID = strconv.FormatUint(seq, 10)
		m.Receiver = receiver
		om := &OutMsg{Seq: seq, Msg: m, Status: OutPending}
		if err := putJSON(b, u64key(seq), om); err != nil {
			return err
		}
	}
	return nil
}

// run delivers pending messages until ctx ends.
func (o *outbox) run(ctx context.Context) {
	for {
		wait := o.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-o.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// pass tries every due message once, oldest first, and returns how long to
// wait for the next one that is not due yet. Messages to one destination
// keep their order: while an earlier one waits for its retry, the later
// ones wait too (level I must not arrive after level II); other
// destinations go on.
func (o *outbox) pass(ctx context.Context) time.Duration {
	wait := time.Minute
	var all []*OutMsg
	err := o.st.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketOutbox)).Bucket([]byte(o.rcv.Name))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var om OutMsg
			if err := json.Unmarshal(v, &om); err != nil {
				o.log.Error().Err(err).Hex("key", k).Msg("outbox: undecodable message, skipped")
				return nil
			}
			all = append(all, &om)
			return nil
		})
	})
	if err != nil {
		o.log.Error().Err(err).Msg("outbox: read pending messages")
		return o.backoff
	}
	blocked := map[string]bool{}
	for _, om := range all {
		if ctx.Err() != nil {
			return 0
		}
		dest := om.Msg.To
		if blocked[dest] {
			continue
		}
		if w := time.Until(om.NextAt); w > 0 {
			blocked[dest] = true
			if w < wait {
				wait = w
			}
			continue
		}
		o.attempt(ctx, om)
		if om.Status == OutPending {
			blocked[dest] = true
			if w := time.Until(om.NextAt); w < wait {
				wait = w
			}
		}
	}
	if wait < 0 {
		wait = 0
	}
	return wait
}

func (o *outbox) attempt(ctx context.Context, om *OutMsg) {
	actx, cancel := context.WithTimeout(ctx, o.timeout)
	retry, err := o.rcv.Notifier.Notify(actx, om.Msg)
	cancel()
	if err != nil && ctx.Err() != nil {
		return // shutting down: the attempt does not count
	}
	om.Attempts++
	lg := o.log.With().Str("receiver", o.rcv.Name).Str("msg", om.Msg.ID).Str("to", om.Msg.To).Int("attempt", om.Attempts).Logger()
	switch {
	case err == nil:
		o.sent.Add(1)
		om.Status = OutSent
		om.SentAt = time.Now()
		om.LastError = ""
		if r, ok := o.rcv.Notifier.(Referencer); ok {
			om.Refs = r.Refs(om.Msg.ID)
		}
		lg.Info().Msg("notification sent")
	case !retry || (o.maxTry > 0 && om.Attempts >= o.maxTry):
		o.failed.Add(1)
		om.Status = OutFailed
		om.LastError = err.Error()
		lg.Error().Err(err).Bool("retryable", retry).Msg("notification failed, giving up")
	default:
		o.retries.Add(1)
		om.LastError = err.Error()
		om.NextAt = time.Now().Add(o.delay(om.Attempts))
		if om.Attempts == 1 || om.Attempts%10 == 0 {
			lg.Warn().Err(err).Time("next", om.NextAt).Msg("notification failed, will retry")
		}
	}
	if err := o.save(om); err != nil {
		o.log.Error().Err(err).Str("msg", om.Msg.ID).Msg("outbox: save message state")
		return
	}
	if om.Status != OutPending && o.onSent != nil {
		o.onSent(om)
	}
}

// delay is the exponential backoff after n failed attempts, capped.
func (o *outbox) delay(n int) time.Duration {
	d := o.backoff
	for i := 1; i < n && d < o.maxWait; i++ {
		d *= 2
	}
	if d > o.maxWait {
		d = o.maxWait
	}
	return d
}

// save records om: pending messages stay in the receiver's bucket; sent
// and failed ones move to the archive with their far-side refs indexed.
func (o *outbox) save(om *OutMsg) error {
	return o.st.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketOutbox)).Bucket([]byte(o.rcv.Name))
		if om.Status == OutPending {
			return putJSON(b, u64key(om.Seq), om)
		}
		if err := b.Delete(u64key(om.Seq)); err != nil {
			return err
		}
		refs := tx.Bucket([]byte(bucketRefs))
		for _, ref := range om.Refs {
			if err := refs.Put([]byte(o.rcv.Name+"\x00"+ref), u64key(om.Seq)); err != nil {
				return err
			}
			// A receipt can overtake our own bookkeeping: apply it now.
			early := []byte("early\x00" + o.rcv.Name + "\x00" + ref)
			if st := refs.Get(early); st != nil {
				om.Delivered = string(st)
				if err := refs.Delete(early); err != nil {
					return err
				}
			}
		}
		return putJSON(tx.Bucket([]byte(bucketSent)), u64key(om.Seq), om)
	})
}

// markDelivered records a delivery receipt for ref on the archived message.
func (s *store) markDelivered(receiver, ref, status string) (uint64, bool, error) {
	var seq uint64
	found := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		refs := tx.Bucket([]byte(bucketRefs))
		k := refs.Get([]byte(receiver + "\x00" + ref))
		if k == nil {
			// The receipt came before the sender's answer was recorded.
			found = true
			return refs.Put([]byte("early\x00"+receiver+"\x00"+ref), []byte(status))
		}
		b := tx.Bucket([]byte(bucketSent))
		v := b.Get(k)
		if v == nil {
			return nil
		}
		var om OutMsg
		if err := json.Unmarshal(v, &om); err != nil {
			return err
		}
		seq, found = om.Seq, true
		if om.Delivered == "" || om.Delivered == "ENROUTE" || om.Delivered == "ACCEPTD" {
			om.Delivered = status
		}
		return putJSON(b, k, &om)
	})
	return seq, found, err
}

// OutboxMessages lists messages of the outbox (pending) and the archive
// (sent, failed), oldest first. For tests, the API and the bench.
func (e *Engine) OutboxMessages() ([]*OutMsg, error) {
	var out []*OutMsg
	err := e.st.db.View(func(tx *bolt.Tx) error {
		dec := func(k, v []byte) error {
			if v == nil {
				return nil
			}
			var om OutMsg
			if err := json.Unmarshal(v, &om); err != nil {
				return fmt.Errorf("decode outbox %x: %w", k, err)
			}
			out = append(out, &om)
			return nil
		}
		root := tx.Bucket([]byte(bucketOutbox))
		if err := root.ForEachBucket(func(name []byte) error {
			return root.Bucket(name).ForEach(dec)
		}); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketSent)).ForEach(dec)
	})
	return out, err
}
