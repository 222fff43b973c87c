package recommend

import "github.com/privrec/privrec/dp"

// takeForTest moves the collector's state out, as Release does, without
// debiting a ledger.
func (c *Collector) takeForTest() *windowState {
	st := &windowState{k: c.k, shards: make([]shardState, numShards)}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.shards[i] = shardState{slots: s.slots, items: s.items, n: s.n}
		s.mu.Unlock()
	}
	return st
}

// itemCounts takes the collector's state and counts the users per item.
func (c *Collector) itemCounts() []int64 {
	sums := foldItems(c.takeForTest(), c.cat.Len(), dp.Params{MaxItemsPerUser: c.k}.WithDefaults())
	counts := make([]int64, len(sums))
	for i, x := range sums {
		counts[i] = int64(x)
	}
	return counts
}
