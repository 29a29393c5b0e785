package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// groupLoop waits for events, lets GroupWait pass so that simultaneous
// crossings travel together, then turns them into outbox messages.
func (e *Engine) groupLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.groupSig:
		}
		t := time.NewTimer(e.opts.GroupWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := e.flush(); err != nil {
			e.log.Error().Err(err).Msg("group notifications")
		}
	}
}

// flush turns every stored event into messages: one SMS per person with
// all their events, one message per broadcast receiver. Events and messages
// change in one transaction, so a crash neither loses nor doubles them.
func (e *Engine) flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	var touched []*Alert
	receivers := map[string]bool{}
	err := e.st.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketEvents))
		var events []*Event
		var keys [][]byte
		err := b.ForEach(func(k, v []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			var ev Event
			if err := json.Unmarshal(v, &ev); err != nil {
				e.log.Error().Err(err).Hex("key", k).Msg("undecodable event dropped")
				return nil
			}
			if a := e.nameStation(&ev); a != nil {
				touched = append(touched, a)
			}
			events = append(events, &ev)
			return nil
		})
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		var personOrder []string
		perPerson := map[string][]*Event{}
		sentTo := map[uint64][]string{}
		var broadcast []*Event
		for _, ev := range events {
			if ev.Kind != EventAcknowledged && e.silenced(ev.Labels, now) {
				e.log.Info().Uint64("alert", ev.AlertID).Str("event", ev.Kind).Msg("notification silenced")
				if a := e.byID[ev.AlertID]; a != nil && a.State == StateFiring && ev.Kind != EventResolved && ev.Kind != EventLevelDown {
					a.Held = true
					touched = append(touched, a)
				}
				continue
			}
			broadcast = append(broadcast, ev)
			if !ev.SMS {
				continue
			}
			to := append([]string(nil), ev.To...)
			switch {
			case ev.Kind == EventAcknowledged:
				// only the people in To: those told about the alert
			case ev.Kind == EventResolved || ev.Kind == EventLevelDown:
				// Everyone told before, including by events of this
				// same flush (an alert that rose and fell within it).
				to = append(to, sentTo[ev.AlertID]...)
			case len(to) == 0:
				for _, pp := range e.roster.OnDuty(ev.Team, now).People {
					to = append(to, pp.ID)
				}
			}
			sentTo[ev.AlertID] = append(sentTo[ev.AlertID], to...)
			seen := map[string]bool{}
			for _, id := range to {
				if seen[id] {
					continue
				}
				seen[id] = true
				if _, ok := perPerson[id]; !ok {
					personOrder = append(personOrder, id)
				}
				perPerson[id] = append(perPerson[id], ev)
			}
		}
		for _, id := range personOrder {
			ps := e.roster.Person(id)
			if ps == nil || ps.Phone == "" {
				if !e.warned[id] {
					e.warned[id] = true
					e.log.Warn().Str("person", id).Msg("no phone for person on duty: SMS not sent (said once)")
				}
				continue
			}
			rcv := ps.Receiver
			if rcv == "" {
				rcv = e.smsRcv
			}
			if e.outboxes[rcv] == nil {
				if !e.warned[id] {
					e.warned[id] = true
					e.log.Warn().Str("person", id).Str("receiver", rcv).Msg("no SMS receiver configured: SMS to this person not sent (said once)")
				}
				continue
			}
			evs := perPerson[id]
			msg := &Message{To: ps.Phone, Person: id, Text: e.groupText(evs), Events: evs, Created: now}
			if err := enqueue(tx, rcv, []*Message{msg}); err != nil {
				return err
			}
			receivers[rcv] = true
			for _, ev := range evs {
				if a := e.byID[ev.AlertID]; a != nil && !a.notified(id) {
					a.Notified = append(a.Notified, id)
					touched = append(touched, a)
				}
			}
		}
		if len(broadcast) > 0 {
			for name, ob := range e.outboxes {
				if ob.rcv.SMS {
					continue
				}
				texts := make([]string, len(broadcast))
				for i, ev := range broadcast {
					texts[i] = ev.Text
				}
				msg := &Message{Text: strings.Join(texts, "\n"), Events: broadcast, Created: now}
				if err := enqueue(tx, name, []*Message{msg}); err != nil {
					return err
				}
				receivers[name] = true
			}
		}
		for _, a := range touched {
			if err := putAlert(tx, a); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("flush events: %w", err)
	}
	for name := range receivers {
		e.outboxes[name].signal()
	}
	return nil
}

// nameStation puts the station's name in the text of an event rendered
// while only its id was known (a station registered after its first
// alert), so that the texts of one SMS all name their stations. Caller
// holds mu. It returns the alert whose last message it renamed too.
func (e *Engine) nameStation(ev *Event) *Alert {
	id := ev.Unnamed
	if id == "" {
		return nil
	}
	name := e.stationName(id)
	if name == id {
		return nil
	}
	old := ev.Text
	if strings.Contains(old, id+":") {
		ev.Text = strings.Replace(old, id+":", name+":", 1)
	} else {
		ev.Text = strings.Replace(old, id, name, 1)
	}
	ev.Unnamed = ""
	if a := e.byID[ev.AlertID]; a != nil && strings.Contains(a.Message, id+":") {
		a.Message = strings.Replace(a.Message, id+":", name+":", 1)
		return a
	}
	return nil
}

// groupText builds one SMS for several events, within MaxSMSChars.
func (e *Engine) groupText(evs []*Event) string {
	if len(evs) == 1 {
		return evs[0].Text
	}
	// Acknowledgements collapse into one line per person who took them.
	var acks []*Event
	var rest []*Event
	for _, ev := range evs {
		if ev.Kind == EventAcknowledged {
			acks = append(acks, ev)
		} else {
			rest = append(rest, ev)
		}
	}
	if len(acks) > 1 {
		var order []string
		ids := map[string][]string{}
		for _, ev := range acks {
			if _, ok := ids[ev.By]; !ok {
				order = append(order, ev.By)
			}
			ids[ev.By] = append(ids[ev.By], fmt.Sprintf("#%d", ev.AlertID))
		}
		var lines []string
		for _, by := range order {
			lines = append(lines, fmt.Sprintf("Đã ghi nhận: %s nhận xử lý cảnh báo %s", by, strings.Join(ids[by], ", ")))
		}
		ackText := strings.Join(lines, " | ")
		if len(rest) == 0 {
			return ackText
		}
		return ackText + " | " + e.groupText(rest)
	}
	max := e.opts.MaxSMSChars
	head := fmt.Sprintf("%d cảnh báo: ", len(evs))
	var b strings.Builder
	b.WriteString(head)
	for i, ev := range evs {
		part := ev.Text
		if i > 0 {
			part = " | " + part
		}
		rest := len(evs) - i
		tail := fmt.Sprintf(" | và %d cảnh báo khác", rest)
		if utf8.RuneCountInString(b.String())+utf8.RuneCountInString(part)+utf8.RuneCountInString(tail) > max && i > 0 {
			b.WriteString(tail)
			return b.String()
		}
		b.WriteString(part)
	}
	return b.String()
}

// silenced reports whether an active silence covers labels. Caller holds mu.
func (e *Engine) silenced(labels map[string]string, now time.Time) bool {
	for _, s := range e.silences {
		if s.Active(now) && s.Matches(labels) {
			return true
		}
	}
	return false
}
