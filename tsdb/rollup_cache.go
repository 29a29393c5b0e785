package tsdb

import (
	"container/list"
	"sync"
)

// rollupCache keeps recently used decoded rollups (per part and series)
// within a byte budget, least recently used out first, so repeated daily
// and hourly queries skip decompression and decoding.
type rollupCache struct {
	mu     sync.Mutex
	budget int64
	size   int64
	ll     *list.List // front: most recent
	items  map[rollupCacheKey]*list.Element
}

type rollupCacheKey struct {
	p   *part
	ref uint32
}

type rollupCacheEntry struct {
	key  rollupCacheKey
	val  decodedRollups
	size int64
}

func newRollupCache(budget int64) *rollupCache {
	return &rollupCache{budget: budget, ll: list.New(), items: map[rollupCacheKey]*list.Element{}}
}

func (c *rollupCache) get(k rollupCacheKey) (decodedRollups, bool) {
	if c == nil {
		return decodedRollups{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return decodedRollups{}, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*rollupCacheEntry).val, true
}

func (c *rollupCache) put(k rollupCacheKey, v decodedRollups) {
	if c == nil || c.budget <= 0 {
		return
	}
	size := int64(64)
	for _, r := range []*rollupRows{v.hourly, v.daily} {
		if r != nil {
			size += int64(len(r.keys)) * 7 * 8
		}
	}
	if size > c.budget/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok {
		return
	}
	c.items[k] = c.ll.PushFront(&rollupCacheEntry{key: k, val: v, size: size})
	c.size += size
	for c.size > c.budget {
		el := c.ll.Back()
		e := el.Value.(*rollupCacheEntry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.size -= e.size
	}
}

// dropPart forgets the entries of a part that is no longer read.
func (c *rollupCache) dropPart(p *part) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.ll.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*rollupCacheEntry); e.key.p == p {
			c.ll.Remove(el)
			delete(c.items, e.key)
			c.size -= e.size
		}
		el = next
	}
}
