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

// pollLoop polls one station on its own schedule until ctx ends. Each poll
// happens at slot+jitter and stamps samples with the slot; a poll that
// overruns skips the slots it covered (counted as missed), never stacks.
func (c *Collector) pollLoop(ctx context.Context, st *StationConfig, p Poller) {
	if cl, ok := p.(io.Closer); ok {
		defer cl.Close()
	}
	m := st.Modbus
	iv := m.Interval
	jitter := m.jitterFor(st.ID)
	state := c.tracker.get(st.ID, st.Driver)
	slot := slotAfter(c.now(), iv, jitter)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(time.Until(slot.Add(jitter)))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := c.now()
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
		next := slot.Add(iv)
		if late := end.Sub(next.Add(jitter)); late >= 0 {
			skipped := int(late/iv) + 1
			c.tracker.missed(state, skipped)
			next = next.Add(time.Duration(skipped) * iv)
		}
		slot = next
	}
}
