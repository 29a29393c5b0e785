package collector

import (
	"context"
	"io"
	"time"

	"github.com/quantrac/quantrac/model"
)

// Poller reads a station once; the samples carry the scheduled time at.
// drivers/modbus Device satisfies it.
type Poller interface {
	Poll(ctx context.Context, at time.Time) ([]model.Sample, error)
}

// slotAfter returns the first slot (a multiple of iv since the Unix epoch)
// whose poll time slot+jitter is not before now.
func slotAfter(now time.Time, iv, jitter time.Duration) time.Time {
	ivMs := iv.Milliseconds()
	t := now.Add(-jitter).UnixMilli()
	slot := (t / ivMs) * ivMs
	if slot < t {
		slot += ivMs
	}
	return time.UnixMilli(slot)
}

// pollTolerance is how late a poll may start and still stamp its slot: the
// smaller of half the interval and the poll timeout.
func pollTolerance(iv, timeout time.Duration) time.Duration {
	tol := iv / 2
	if timeout > 0 && timeout < tol {
		tol = timeout
	}
	return tol
}

// nextPoll decides what a poll loop does at now for the scheduled slot
// (poll time slot+jitter). When now is within tol of a slot's poll time it
// polls that slot (skipped counts the earlier slots given up). Otherwise
// those stale slots are given up and it waits for the next slot: poll is
// false and slot is the one to wait for. A late start never stamps an
// earlier slot, and the slots given up are never polled (no stacking).
func nextPoll(slot, now time.Time, iv, jitter, tol time.Duration) (at time.Time, skipped int, poll bool) {
	late := now.Sub(slot.Add(jitter))
	if late < 0 {
		return slot, 0, false
	}
	if late <= tol {
		return slot, 0, true
	}
	k := int(late / iv) // slots whose poll time has passed after slot
	cur := slot.Add(time.Duration(k) * iv)
	if late-time.Duration(k)*iv <= tol {
		return cur, k, true
	}
	return cur.Add(iv), k + 1, false
}

// pollLoop polls one station on its own schedule until ctx ends. Each poll
// happens at slot+jitter and stamps samples with the slot. A poll that
// starts late (an overrun of the previous poll, a paused process, a stalled
// machine) by more than the tolerance gives up the stale slots (counted as
// missed) and polls the current slot instead; polls never stack.
func (c *Collector) pollLoop(ctx context.Context, st *StationConfig, p Poller) {
	if cl, ok := p.(io.Closer); ok {
		defer cl.Close()
	}
	m := st.Modbus
	iv := m.Interval
	jitter := m.jitterFor(st.ID)
	tol := pollTolerance(iv, m.Timeout)
	state := c.tracker.get(st.ID, st.Driver)
	slot := slotAfter(c.now(), iv, jitter)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(slot.Add(jitter).Sub(c.now()))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := c.now()
		at, skipped, poll := nextPoll(slot, start, iv, jitter, tol)
		if skipped > 0 {
			c.tracker.missed(state, skipped)
		}
		slot = at
		if !poll {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, m.Timeout)
		samples, err := p.Poll(pctx, slot)
		cancel()
		if ctx.Err() != nil {
			return
		}
		end := c.now()
		c.tracker.polled(state, end.Sub(start), err, end)
		if len(samples) > 0 {
			if err := c.ingestStation(ctx, st, state, samples, start); err != nil {
				c.tracker.failed(state, err, end)
			}
		}
		slot = slot.Add(iv)
	}
}
