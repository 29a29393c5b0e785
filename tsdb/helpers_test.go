package tsdb

import (
	"context"
	"math/rand"
	"sort"
	"testing"

	"github.com/quantrac/quantrac/model"
)

// refModel is the simple in-memory model the engine is checked against:
// last write wins per series and timestamp.
type refModel map[string]map[int64]model.Point

func (m refModel) add(s model.Sample) {
	k := s.Labels.String()
	if m[k] == nil {
		m[k] = map[int64]model.Point{}
	}
	m[k][s.T] = model.Point{T: s.T, V: s.V, Q: s.Q}
}

func (m refModel) points(key string, from, to int64, includeBad bool) []model.Point {
	var out []model.Point
	for _, p := range m[key] {
		if p.T >= from && p.T <= to && (includeBad || p.Q.Good()) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}

// crash abandons db as a killed process would: no seal, no flush beyond
// what Append already made durable.
func crash(t *testing.T, db *DB) {
	t.Helper()
	db.appendMu.Lock()
	db.mu.Lock()
	db.closed = true
	db.mu.Unlock()
	db.appendMu.Unlock()
	db.cancel()
	db.wg.Wait()
	db.wal.flushMu.Lock()
	db.wal.f.Close()
	db.wal.flushMu.Unlock()
	db.closeParts()
	unlockDir(db.lockF)
}

func mustAppend(t *testing.T, db *DB, batch []model.Sample) model.AppendResult {
	t.Helper()
	res, err := db.Append(context.Background(), batch)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res
}

func checkAgainst(t *testing.T, db *DB, ref refModel, from, to int64, includeBad bool) {
	t.Helper()
	ms := []*model.Matcher{model.MustMatcher(model.MatchRegexp, model.MetricName, ".+")}
	got := map[string][]model.Point{}
	var prev model.Labels
	err := db.Select(context.Background(), model.SelectQuery{Matchers: ms, From: from, To: to, IncludeBad: includeBad}, func(ls model.Labels, pts []model.Point) error {
		if prev != nil && prev.Compare(ls) >= 0 {
			t.Errorf("series out of label order: %s after %s", ls, prev)
		}
		prev = ls
		got[ls.String()] = append([]model.Point(nil), pts...)
		return nil
	})
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	for k := range ref {
		want := ref.points(k, from, to, includeBad)
		g := got[k]
		if len(want) != len(g) {
			t.Fatalf("series %s [%d,%d]: got %d points, want %d", k, from, to, len(g), len(want))
		}
		for i := range want {
			if want[i] != g[i] {
				t.Fatalf("series %s point %d: got %+v, want %+v", k, i, g[i], want[i])
			}
		}
	}
	for k, g := range got {
		if ref[k] == nil && len(g) > 0 {
			t.Fatalf("unexpected series %s", k)
		}
	}
}

func randomValue(rng *rand.Rand) float64 {
	switch rng.Intn(4) {
	case 0:
		return float64(rng.Intn(500))
	case 1:
		return float64(rng.Intn(100000)) / 100
	case 2:
		return rng.NormFloat64() * 1e3
	}
	return -float64(rng.Intn(1000)) / 10
}
