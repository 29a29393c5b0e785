package tsdb

import "testing"

func TestRollupCache(t *testing.T) {
	rows := func(n int) *rollupRows { return &rollupRows{keys: make([]int64, n)} }
	c := newRollupCache(4 * (64 + 10*7*8))
	p1, p2 := &part{}, &part{}
	for i := uint32(0); i < 6; i++ {
		c.put(rollupCacheKey{p1, i}, decodedRollups{daily: rows(10)})
	}
	if _, ok := c.get(rollupCacheKey{p1, 0}); ok {
		t.Fatal("oldest entry not evicted")
	}
	if _, ok := c.get(rollupCacheKey{p1, 5}); !ok {
		t.Fatal("newest entry missing")
	}
	c.put(rollupCacheKey{p2, 1}, decodedRollups{daily: rows(10)})
	c.put(rollupCacheKey{p2, 2}, decodedRollups{daily: rows(1000)}) // larger than a quarter: not kept
	if _, ok := c.get(rollupCacheKey{p2, 2}); ok {
		t.Fatal("oversized entry kept")
	}
	c.dropPart(p1)
	if _, ok := c.get(rollupCacheKey{p1, 5}); ok {
		t.Fatal("entry of a dropped part kept")
	}
	if _, ok := c.get(rollupCacheKey{p2, 1}); !ok || c.size != 64+10*7*8 {
		t.Fatalf("other part's entry lost or size %d", c.size)
	}
}
