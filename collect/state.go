package collect

// State is a window's bounded state, taken out of its collector for a
// release: for each user, the catalog indexes of the items kept. It holds
// pseudonyms only as keys that ForEachUser never shows. The release owns it
// and must Wipe it when done.
type State struct {
	inline int
	shards []userState
}

// ForEachUser calls fn with each user's kept items (catalog indexes, in no
// particular order). fn must not retain or modify the slice.
func (s *State) ForEachUser(fn func(items []uint32)) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.users.each(func(u *user) { fn(sh.itemsOf(u, s.inline)[:u.n]) })
	}
}

// Wipe zeroes and drops the state. It is safe to call more than once.
func (s *State) Wipe() {
	for i := range s.shards {
		s.shards[i].wipe()
	}
	s.shards = nil
}

// lockAll locks every shard and returns the function that unlocks them.
func (c *Collector) lockAll() (unlock func()) {
	for i := range c.shards {
		c.shards[i].mu.Lock()
	}
	return func() {
		for i := range c.shards {
			c.shards[i].mu.Unlock()
		}
	}
}

// Take ends the window and moves its bounded state out, for a release.
// Under the collector's locks it first calls commit, when not nil: a
// release debits its budget ledger there, so that no two releases of one
// window can both be charged. If commit fails, nothing changes: the window
// stays open with its state, and Take returns commit's error. Otherwise
// the collector refuses every later event (ErrWindowReleased), its state
// file is deleted, and the caller owns the state and must Wipe it.
func (c *Collector) Take(commit func() error) (*State, error) {
	unlock := c.lockAll()
	if c.shards[0].released {
		unlock()
		return nil, ErrWindowReleased
	}
	if commit != nil {
		if err := commit(); err != nil {
			unlock()
			return nil, err
		}
	}
	st := &State{inline: c.inline, shards: make([]userState, numShards)}
	for i := range c.shards {
		s := &c.shards[i]
		st.shards[i], s.userState = s.userState, userState{}
		s.freeInline, s.freeOver = nil, nil
		s.released = true
	}
	unlock()
	if err := c.removeStore(); err != nil {
		// The window is released either way (a commit may have spent
		// budget); the file's pseudonyms go with PurgeStateFiles.
		c.opts.Logger.Error("privrec collect: could not delete the released window's state file; PurgeStateFiles will", "error", err.Error())
	}
	return st, nil
}
