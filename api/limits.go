package api

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

// tenantSeries counts distinct series per province to enforce
// limits.max_series_per_tenant.
type tenantSeries struct {
	max  int
	seed maphash.Seed
	mu   sync.Mutex
	sets map[string]map[uint64]struct{}
}

func newTenantSeries(max int) *tenantSeries {
	return &tenantSeries{max: max, seed: maphash.MakeSeed(), sets: map[string]map[uint64]struct{}{}}
}

func (ts *tenantSeries) hash(ls model.Labels) uint64 {
	var h maphash.Hash
	h.SetSeed(ts.seed)
	for _, l := range ls {
		h.WriteString(l.Name)
		h.WriteByte(0)
		h.WriteString(l.Value)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// preload counts the series already stored, so the limit holds across restarts.
func (ts *tenantSeries) preload(ctx context.Context, st model.Reader, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	all := []*model.Matcher{model.MustMatcher(model.MatchRegexp, model.MetricName, ".+")}
	n := 0
	err := st.Latest(ctx, all, func(ls model.Labels, _ model.Point) error {
		ts.admit(ls.Get(model.LabelProvince), ts.hash(ls), true)
		n++
		return nil
	})
	if err != nil {
		log.Warn().Err(err).Msg("count stored series for tenant limits")
		return
	}
	log.Debug().Int("series", n).Msg("counted stored series")
}

// admit reports whether a series may be written: known, or new while its
// province is under the limit (then it is counted).
func (ts *tenantSeries) admit(tenant string, h uint64, force bool) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	set := ts.sets[tenant]
	if set == nil {
		set = map[uint64]struct{}{}
		ts.sets[tenant] = set
	}
	if _, ok := set[h]; ok {
		return true
	}
	if !force && len(set) >= ts.max {
		return false
	}
	set[h] = struct{}{}
	return true
}

// insertGate bounds concurrent writes to the engine and how many wait, so
// an engine that falls behind yields 429/503 with Retry-After rather than
// unbounded memory.
type insertGate struct {
	slots   chan struct{}
	maxWait int64
	waiting atomic.Int64
	wait    time.Duration
}

func newInsertGate(concurrent, queued int, wait time.Duration) *insertGate {
	return &insertGate{slots: make(chan struct{}, concurrent), maxWait: int64(queued), wait: wait}
}

// acquire takes a write slot or returns a 429/503 error.
func (g *insertGate) acquire(ctx context.Context) (func(), error) {
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	default:
	}
	if g.waiting.Add(1) > g.maxWait {
		g.waiting.Add(-1)
		return nil, &httpError{status: fiber.StatusTooManyRequests, typ: errTooMany, retryAfter: 1,
			msg: "too many ingest requests are waiting for the storage engine; retry later"}
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	case <-t.C:
		return nil, &httpError{status: fiber.StatusServiceUnavailable, typ: errUnavailable, retryAfter: 5,
			msg: "the storage engine is behind: no write slot within " + g.wait.String() + "; retry later"}
	case <-ctx.Done():
		return nil, &httpError{status: fiber.StatusServiceUnavailable, typ: errUnavailable, retryAfter: 5, msg: "request cancelled while waiting for the storage engine"}
	}
}
