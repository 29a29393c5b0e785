package collector

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/collector/queue"
	"github.com/quantrac/quantrac/model"
)

// sender drains the queue in order into one sink: it gathers blocks up to
// batchSamples, sends, and acknowledges them only after the sink stored
// them; failures are retried with exponential backoff (and Retry-After),
// after which the same blocks are read again.
type sender struct {
	q            *queue.Queue
	sink         Sink
	log          zerolog.Logger
	timeout      time.Duration
	batchSamples int
	flushEvery   time.Duration
	minBackoff   time.Duration
	maxBackoff   time.Duration
	onDelivered  func(acquired time.Time, samples int)

	sent, failures, rejected, dropped, undecodable *metrics.Counter
	delay                                          *metrics.Histogram
	lastSuccess                                    *int64
	rejectLogged                                   time.Time
}

func newSender(c *Collector, cfg SinkConfig, sink Sink) *sender {
	s := &sender{
		q:            c.q,
		sink:         sink,
		log:          c.log.With().Str("sink", sink.Name()).Logger(),
		timeout:      cfg.Timeout,
		batchSamples: cfg.BatchSamples,
		flushEvery:   cfg.FlushInterval,
		minBackoff:   cfg.MinBackoff,
		maxBackoff:   cfg.MaxBackoff,
		onDelivered:  c.opts.OnDelivered,
		sent:         c.set.GetOrCreateCounter(`quantrac_collector_sent_samples_total`),
		failures:     c.set.GetOrCreateCounter(`quantrac_collector_send_failures_total`),
		rejected:     c.set.GetOrCreateCounter(`quantrac_collector_rejected_samples_total`),
		dropped:      c.set.GetOrCreateCounter(`quantrac_collector_dropped_batches_total`),
		undecodable:  c.set.GetOrCreateCounter(`quantrac_collector_undecodable_blocks_total`),
		delay:        c.set.GetOrCreateHistogram(`quantrac_collector_delivery_delay_seconds`),
		lastSuccess:  &c.lastSend,
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.batchSamples <= 0 {
		s.batchSamples = 5000
	}
	if s.flushEvery == 0 {
		s.flushEvery = 100 * time.Millisecond
	}
	if s.minBackoff <= 0 {
		s.minBackoff = 500 * time.Millisecond
	}
	if s.maxBackoff <= 0 {
		s.maxBackoff = time.Minute
	}
	if s.maxBackoff < s.minBackoff {
		s.maxBackoff = s.minBackoff
	}
	return s
}

// run sends until ctx ends; unacknowledged blocks stay in the queue.
func (s *sender) run(ctx context.Context) {
	s.q.Rewind()
	defer s.q.Rewind()
	var batch []model.Sample
	var acquired []int64 // per block: when it was read
	var counts []int     // per block: samples
	var lastSend time.Time
	for {
		b, err := s.q.Next(ctx)
		if err != nil {
			return
		}
		batch, acquired, counts = batch[:0], acquired[:0], counts[:0]
		end := b.End
		batch, acquired, counts = s.add(batch, acquired, counts, b)
		flushAt := lastSend.Add(s.flushEvery)
		for len(batch) < s.batchSamples {
			b, ok, err := s.q.TryNext()
			if err != nil {
				break
			}
			if !ok {
				// Wait for more until the flush time, then send what we have.
				wait := time.Until(flushAt)
				if wait <= 0 {
					break
				}
				wctx, cancel := context.WithTimeout(ctx, wait)
				b, err = s.q.Next(wctx)
				cancel()
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					break
				}
			}
			end = b.End
			batch, acquired, counts = s.add(batch, acquired, counts, b)
		}
		lastSend = time.Now()
		if len(batch) > 0 && !s.deliver(ctx, batch) {
			return
		}
		s.q.Ack(end)
		now := time.Now()
		for _, a := range acquired {
			s.delay.Update(now.Sub(time.UnixMilli(a)).Seconds())
		}
		if s.onDelivered != nil {
			for i, a := range acquired {
				s.onDelivered(time.UnixMilli(a), counts[i])
			}
		}
	}
}

func (s *sender) add(batch []model.Sample, acquired []int64, counts []int, b queue.Block) ([]model.Sample, []int64, []int) {
	a, out, err := decodeBatch(batch, b.Data)
	if err != nil {
		s.undecodable.Inc()
		s.log.Error().Err(err).Int64("offset", b.Offset).Msg("skipping a queue block that does not decode")
		return batch, acquired, counts
	}
	return out, append(acquired, a), append(counts, len(out)-len(batch))
}

// deliver sends batch until it is stored, refused for good, or ctx ends
// (false).
func (s *sender) deliver(ctx context.Context, batch []model.Sample) bool {
	backoff := s.minBackoff
	var lastErr string
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, s.timeout)
		err := s.sink.Send(sctx, batch)
		cancel()
		var rej *rejectedError
		var perm *PermanentError
		switch {
		case err == nil:
		case errors.As(err, &rej):
			s.rejected.Add(rej.n)
			// At most one line a minute; the counter has the rest.
			if now := time.Now(); now.Sub(s.rejectLogged) >= time.Minute {
				s.log.Warn().Err(err).Int("samples", len(batch)).Uint64("rejected_total", s.rejected.Get()).
					Msg("sink stored the batch but rejected some samples")
				s.rejectLogged = now
			}
			err = nil
		case errors.As(err, &perm):
			s.dropped.Inc()
			s.log.Error().Err(err).Int("samples", len(batch)).Msg("sink refused the batch for good; dropping it")
			return true
		}
		if err == nil {
			s.sent.Add(len(batch))
			setInt64(s.lastSuccess, time.Now().UnixMilli())
			if attempt > 1 {
				s.log.Info().Int("attempts", attempt).Msg("sink reachable again")
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		s.failures.Inc()
		wait := backoff
		var ra *RetryAfterError
		if errors.As(err, &ra) && ra.After > wait {
			wait = ra.After
		}
		// Log when the error changes, then every 10th attempt.
		if msg := err.Error(); msg != lastErr || attempt%10 == 0 {
			s.log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg("send failed; will retry")
			lastErr = msg
		}
		wait += time.Duration(rand.Int64N(int64(wait)/5 + 1))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		backoff = min(backoff*2, s.maxBackoff)
	}
}
