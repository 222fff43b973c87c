package recommend

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
