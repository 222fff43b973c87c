package recommend

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/pseudonym"
)

// Window is a release window [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Contains reports whether t is in [Start, End).
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// Validate reports whether the window is usable.
func (w Window) Validate() error {
	if w.Start.IsZero() || w.End.IsZero() {
		return errors.New("recommend: window needs both Start and End")
	}
	if !w.Start.Before(w.End) {
		return fmt.Errorf("recommend: window start %v is not before end %v", w.Start, w.End)
	}
	return nil
}

// DefaultNeighbors is how many neighbours per item a model keeps by default.
const DefaultNeighbors = 100

// DefaultMaxClockSkew is how far in the future an event may be stamped.
const DefaultMaxClockSkew = 5 * time.Minute

// CollectorOptions configures a Collector. Window is required; zero values
// elsewhere mean defaults.
type CollectorOptions struct {
	// Window is the release window; events outside it are refused.
	Window Window
	// MaxItemsPerUser is how many distinct items are kept per user; it
	// must equal dp.Params.KeepItems at release (which is
	// dp.Params.MaxItemsPerUser unless weighting is asked for). Default
	// dp.DefaultMaxItemsPerUser.
	MaxItemsPerUser int
	// Kinds lists the event kinds collected; all kinds when empty.
	Kinds []Kind
	// SampleKey keys the hash that chooses which K items a user keeps when
	// they interact with more. Collectors that will be merged must share it;
	// a random key is used when it is zero. Sampling is not a privacy
	// mechanism (the bound holds whatever is kept), so the key is not secret.
	SampleKey [16]byte
	// MaxClockSkew is how far past Now an event may be stamped before it is
	// refused as coming from the future. Default DefaultMaxClockSkew;
	// negative disables the check (for replaying historical data).
	MaxClockSkew time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Neighbors is how many neighbours per item the released model keeps.
	// Default DefaultNeighbors.
	Neighbors int
	// Logger receives release progress; slog.Default() when nil. privrec
	// never logs identifiers of people.
	Logger *slog.Logger
	// Scoring tunes how the released counts become a model
	// (post-processing only); the zero value is the default.
	Scoring ScoringOptions
	// StateDir, when set, persists the window's bounded state in one file
	// there (see StateFile), replayed by the next NewCollector of the same
	// window after a restart and deleted at release. Empty keeps the state
	// in memory only.
	StateDir string
}

// CollectorStats are operational counters of a collector.
type CollectorStats struct {
	Accepted        int64 // events accepted
	DroppedByBound  int64 // accepted events whose item was not kept because the user had K items already
	DuplicateEvents int64 // accepted events for an item the user already had
}

const numShards = 64

// Collector holds the bounded state of one release window: for each
// pseudonym, at most K items, chosen as the K with the smallest keyed hash,
// so that repeated events change nothing and two collectors of the same
// window can be merged. It holds no times, no kinds and no order of events.
// It is safe for concurrent use.
type Collector struct {
	cat       *Catalog
	opts      CollectorOptions
	k         int
	kinds     uint8 // bit per accepted Kind
	k0, k1    uint64
	zeros     []uint32
	keyPeriod time.Duration // set by NewIngestor, for the report
	store     *windowStore  // nil unless CollectorOptions.StateDir is set

	shards [numShards]shard
}

type shard struct {
	mu       sync.Mutex
	released bool
	slots    map[pseudonym.ID]uint32 // pseudonym -> slot
	items    []uint32                // K catalog indexes per slot
	n        []uint16                // items kept per slot
	worst    []uint64                // per full slot: the largest rank kept
	worstAt  []uint16                // per full slot: its position
	stats    CollectorStats
	_        [64]byte // keep shards on separate cache lines
}

// NewCollector returns an empty collector for one window over cat.
func NewCollector(cat *Catalog, opts CollectorOptions) (*Collector, error) {
	if cat == nil {
		return nil, errors.New("recommend: nil catalog")
	}
	if err := opts.Window.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxItemsPerUser == 0 {
		opts.MaxItemsPerUser = dp.DefaultMaxItemsPerUser
	}
	if opts.MaxItemsPerUser < 1 || opts.MaxItemsPerUser > dp.MaxItemsPerUserCap {
		return nil, fmt.Errorf("recommend: MaxItemsPerUser = %d must be in [1, %d]", opts.MaxItemsPerUser, dp.MaxItemsPerUserCap)
	}
	if opts.Neighbors == 0 {
		opts.Neighbors = DefaultNeighbors
	}
	if opts.Neighbors < 1 || opts.Neighbors > 10000 {
		return nil, fmt.Errorf("recommend: Neighbors = %d must be in [1, 10000]", opts.Neighbors)
	}
	if opts.MaxClockSkew == 0 {
		opts.MaxClockSkew = DefaultMaxClockSkew
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Collector{cat: cat, opts: opts, k: opts.MaxItemsPerUser}
	var err error
	if c.kinds, err = kindMask(opts.Kinds); err != nil {
		return nil, fmt.Errorf("recommend: CollectorOptions.Kinds: %w", err)
	}
	key := opts.SampleKey
	keyGiven := key != ([16]byte{})
	if !keyGiven {
		if _, err := rand.Read(key[:]); err != nil {
			return nil, fmt.Errorf("recommend: sample key: %w", err)
		}
		c.opts.SampleKey = key
	}
	c.k0 = binary.LittleEndian.Uint64(key[:8])
	c.k1 = binary.LittleEndian.Uint64(key[8:])
	c.zeros = make([]uint32, c.k)
	for i := range c.shards {
		c.shards[i].slots = make(map[pseudonym.ID]uint32)
	}
	if opts.StateDir != "" {
		if err := c.openStore(opts.StateDir, keyGiven); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Window returns the collector's window.
func (c *Collector) Window() Window { return c.opts.Window }

// MaxItemsPerUser returns K.
func (c *Collector) MaxItemsPerUser() int { return c.k }

// Catalog returns the catalog events are checked against.
func (c *Collector) Catalog() *Catalog { return c.cat }

// check validates everything about an event but its subject and returns the
// item's catalog index. Errors never include the subject.
func (c *Collector) check(item string, kind Kind, at time.Time) (uint32, error) {
	if item == "" {
		return 0, ErrEmptyItem
	}
	if !kind.valid() {
		return 0, fmt.Errorf("%w %d", ErrUnknownKind, kind)
	}
	if c.kinds&(1<<kind) == 0 {
		return 0, fmt.Errorf("%w: %v", ErrKindNotAccepted, kind)
	}
	if !c.opts.Window.Contains(at) {
		return 0, ErrOutsideWindow
	}
	if c.opts.MaxClockSkew > 0 && at.After(c.opts.Now().Add(c.opts.MaxClockSkew)) {
		return 0, ErrFutureEvent
	}
	idx, ok := c.cat.index[item]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownItem, truncate(item, 64))
	}
	return idx, nil
}

// Add records one pseudonymous event. It refuses, with an error wrapping
// one of the Err* values, an empty or unknown item, an unknown or
// uncollected kind, a time outside the window or in the future, and any
// event after Release. A refused event changes nothing. An accepted event
// may still not be kept, when its subject already has K items with smaller
// hashes. Add allocates nothing once the subject has been seen.
func (c *Collector) Add(e Event) error {
	idx, err := c.check(e.Item, e.Kind, e.Time)
	if err != nil {
		return err
	}
	return c.add(e.Subject, idx)
}

func (c *Collector) add(id pseudonym.ID, idx uint32) error {
	s := &c.shards[id[0]%numShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return ErrWindowReleased
	}
	slot, exists := s.slots[id]
	pos := 0
	if exists {
		var dup bool
		if pos, dup = c.place(s, slot, id, idx); dup || pos < 0 {
			s.stats.Accepted++
			if dup {
				s.stats.DuplicateEvents++
			} else {
				s.stats.DroppedByBound++
			}
			return nil
		}
	}
	// Persist before changing memory, so a failed write changes nothing.
	if c.store != nil {
		if err := c.store.append(id, idx); err != nil {
			return err
		}
	}
	s.stats.Accepted++
	if !exists {
		slot = c.slot(s, id)
	}
	c.put(s, slot, id, pos, idx)
	return nil
}

// insertLocked adds idx to id's bottom-K set without persisting (for replay
// and merge); the caller holds s.mu.
func (c *Collector) insertLocked(s *shard, id pseudonym.ID, idx uint32) {
	slot := c.slot(s, id)
	if pos, dup := c.place(s, slot, id, idx); !dup && pos >= 0 {
		c.put(s, slot, id, pos, idx)
	}
}

// slot returns id's slot in s, creating an empty one if needed.
func (c *Collector) slot(s *shard, id pseudonym.ID) uint32 {
	slot, ok := s.slots[id]
	if !ok {
		slot = uint32(len(s.n))
		s.slots[id] = slot
		s.n = append(s.n, 0)
		s.items = append(s.items, c.zeros...)
		s.worst = append(s.worst, 0)
		s.worstAt = append(s.worstAt, 0)
	}
	return slot
}

// place says where idx would go in the slot's bottom-K set: at position n
// (appended) while there is room, else over the item with the largest rank
// if idx ranks below it, else nowhere (-1). dup reports an item already kept.
// A full slot caches its largest rank, so that an event ranked out (the
// common case for heavy users) costs one hash and no scan.
func (c *Collector) place(s *shard, slot uint32, id pseudonym.ID, idx uint32) (pos int, dup bool) {
	base := int(slot) * c.k
	n := int(s.n[slot])
	if n == c.k && c.rank(id, idx) > s.worst[slot] {
		return -1, false // ranked out; a kept item cannot rank above the worst
	}
	for _, it := range s.items[base : base+n] {
		if it == idx {
			return 0, true
		}
	}
	if n < c.k {
		return n, false
	}
	if c.rank(id, idx) < s.worst[slot] {
		return int(s.worstAt[slot]), false
	}
	return -1, false
}

// put stores idx at pos as decided by place, and keeps a full slot's
// largest rank up to date.
func (c *Collector) put(s *shard, slot uint32, id pseudonym.ID, pos int, idx uint32) {
	base := int(slot) * c.k
	if pos == int(s.n[slot]) {
		s.n[slot]++
	} else {
		s.stats.DroppedByBound++ // an item was displaced
	}
	s.items[base+pos] = idx
	if int(s.n[slot]) == c.k {
		c.updateWorst(s, slot, id)
	}
}

// updateWorst recomputes the largest rank of a full slot.
func (c *Collector) updateWorst(s *shard, slot uint32, id pseudonym.ID) {
	base := int(slot) * c.k
	worst, at := uint64(0), 0
	for j, it := range s.items[base : base+c.k] {
		if h := c.rank(id, it); h >= worst {
			worst, at = h, j
		}
	}
	s.worst[slot], s.worstAt[slot] = worst, uint16(at)
}

// rank is the keyed hash that orders a user's items for bottom-K sampling.
func (c *Collector) rank(id pseudonym.ID, item uint32) uint64 { return rank(c.k0, c.k1, id, item) }

func rank(k0, k1 uint64, id pseudonym.ID, item uint32) uint64 {
	a := binary.LittleEndian.Uint64(id[0:8]) ^ k0
	b := binary.LittleEndian.Uint64(id[8:16]) ^ k1
	return mix64(a ^ mix64(b^(uint64(item)+1)*0x9E3779B97F4A7C15))
}

// BoundItems returns the items that a Collector with this SampleKey and
// MaxItemsPerUser k keeps for subject id when the subject's events name the
// given catalog indexes: the k distinct ones with the smallest keyed hash.
// It reorders items in place and returns a prefix of it, in no particular
// order. An engine that groups a window's events per subject itself
// (privrec/beam) calls it so that its bounded state equals a Collector's.
func BoundItems(sampleKey [16]byte, k int, id pseudonym.ID, items []uint32) []uint32 {
	slices.Sort(items)
	items = slices.Compact(items)
	if k < 1 {
		return items[:0]
	}
	if len(items) <= k {
		return items
	}
	k0 := binary.LittleEndian.Uint64(sampleKey[:8])
	k1 := binary.LittleEndian.Uint64(sampleKey[8:])
	slices.SortFunc(items, func(a, b uint32) int {
		return cmp.Compare(rank(k0, k1, id, a), rank(k0, k1, id, b))
	})
	return items[:k]
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// Forget removes a subject's pending state, as for a deletion request, from
// memory and from the state file. It reports whether the subject had any. Once a window is released, a person's
// influence is covered by the differential-privacy guarantee instead: their
// events are not stored anywhere and changed the released model at most as
// much as ε allows.
func (c *Collector) Forget(id pseudonym.ID) (bool, error) {
	s := &c.shards[id[0]%numShards]
	s.mu.Lock()
	slot, ok := s.slots[id]
	if ok {
		delete(s.slots, id)
		base := int(slot) * c.k
		clear(s.items[base : base+c.k])
		s.n[slot] = 0
	}
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	return true, c.compact() // the person's records leave the disk too
}

// Stats returns operational counters. They count events, not people, and are
// not differentially private: keep them out of public reports.
func (c *Collector) Stats() CollectorStats {
	var st CollectorStats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Accepted += s.stats.Accepted
		st.DroppedByBound += s.stats.DroppedByBound
		st.DuplicateEvents += s.stats.DuplicateEvents
		s.mu.Unlock()
	}
	return st
}

// Merge adds the state of other, a collector of the same window, catalog, K
// and SampleKey (for example another shard or process), into c. The result
// equals what one collector would hold had it seen both streams. other is
// left unchanged.
func (c *Collector) Merge(other *Collector) error {
	switch {
	case other == c:
		return errors.New("recommend: cannot merge a collector into itself")
	case other.cat != c.cat:
		return errors.New("recommend: merge: collectors use different catalogs")
	case !other.opts.Window.Start.Equal(c.opts.Window.Start) || !other.opts.Window.End.Equal(c.opts.Window.End):
		return errors.New("recommend: merge: collectors have different windows")
	case other.k != c.k:
		return errors.New("recommend: merge: collectors have different MaxItemsPerUser")
	case other.opts.SampleKey != c.opts.SampleKey:
		return errors.New("recommend: merge: collectors have different sample keys")
	}
	for i := range c.shards {
		src, dst := &other.shards[i], &c.shards[i]
		src.mu.Lock()
		dst.mu.Lock()
		if dst.released || src.released {
			dst.mu.Unlock()
			src.mu.Unlock()
			return ErrWindowReleased
		}
		for id, sslot := range src.slots {
			base := int(sslot) * c.k
			for _, idx := range src.items[base : base+int(src.n[sslot])] {
				c.insertLocked(dst, id, idx)
			}
		}
		dst.mu.Unlock()
		src.mu.Unlock()
	}
	return c.compact()
}

// windowState is the bounded state taken out of a collector at release.
type windowState struct {
	k      int
	shards []shardState
}

type shardState struct {
	slots map[pseudonym.ID]uint32
	items []uint32
	n     []uint16
}

// forEachUser calls fn with each user's kept items (catalog indexes). fn
// must not retain the slice.
func (w *windowState) forEachUser(fn func(items []uint32)) {
	for _, s := range w.shards {
		for _, slot := range s.slots {
			base := int(slot) * w.k
			fn(s.items[base : base+int(s.n[slot])])
		}
	}
}

// wipe zeroes and drops the state.
func (w *windowState) wipe() {
	for i := range w.shards {
		clear(w.shards[i].items)
		clear(w.shards[i].n)
		clear(w.shards[i].slots)
	}
	w.shards = nil
}

// Release debits the ledger for params, then turns the window's state into
// a Model with differentially private counts and wipes the state. After a
// successful debit the collector accepts no more events (ErrWindowReleased).
//
// If the ledger refuses the debit, nothing is released and the state is
// kept. If anything fails after the debit, the budget stays spent: a failed
// release loses budget, it never overspends.
func (c *Collector) Release(ctx context.Context, ledger dp.Ledger, params dp.Params) (*Model, error) {
	if ledger == nil {
		return nil, errors.New("recommend: Release needs a ledger")
	}
	plan, err := dp.NewPlan(params)
	if err != nil {
		return nil, err
	}
	if plan.Params.KeepItems != c.k {
		return nil, keepMismatch(plan.Params, c.k)
	}
	charge, err := NewCharge(plan, c.opts.Window)
	if err != nil {
		return nil, err
	}

	for i := range c.shards {
		c.shards[i].mu.Lock()
	}
	unlockAll := func() {
		for i := range c.shards {
			c.shards[i].mu.Unlock()
		}
	}
	if c.shards[0].released {
		unlockAll()
		return nil, ErrWindowReleased
	}
	charged, err := ledger.Debit(ctx, charge)
	if err != nil {
		unlockAll()
		return nil, fmt.Errorf("recommend: release refused: %w", err)
	}
	state := c.moveStateLocked()
	unlockAll()
	defer state.wipe()
	if err := c.removeStore(); err != nil {
		c.opts.Logger.Warn("privrec release: could not delete the window state file", "error", err.Error())
	}

	c.opts.Logger.Info("privrec release: budget debited", "release", charged.Release, "epsilon", charged.Epsilon, "delta", charged.Delta)
	m, err := build(state, c.cat, privateSpec(plan), buildInfo{
		releaseID: charged.Release,
		at:        charged.At,
		window:    c.opts.Window,
		neighbors: c.opts.Neighbors,
		keyPeriod: c.keyPeriod,
		kinds:     c.kinds,
		scoring:   c.opts.Scoring,
	})
	if err != nil {
		return nil, fmt.Errorf("recommend: release %s (budget spent): %w", charged.Release, err)
	}
	if sum, err := ledger.Summary(charged.At); err == nil {
		m.report.Ledger = ledgerReport(sum)
	}
	c.opts.Logger.Info("privrec release: model built", "release", charged.Release,
		"items", len(m.items), "pairs", m.report.Released.Pairs)
	return m, nil
}

func keepNote(p dp.Params) string {
	if p.KeepItems == p.MaxItemsPerUser {
		return ""
	}
	return fmt.Sprintf(" (%d kept, weighted)", p.KeepItems)
}

func keepMismatch(p dp.Params, k int) error {
	if p.KeepItems == p.MaxItemsPerUser {
		return fmt.Errorf("recommend: Params.MaxItemsPerUser = %d, but the collector kept K = %d items per user", p.MaxItemsPerUser, k)
	}
	return fmt.Errorf("recommend: Params.KeepItems = %d, but the collector kept %d items per user", p.KeepItems, k)
}

// NewCharge returns the ledger charge for releasing window w under plan,
// with a fresh random release ID. Collector.Release debits it; an engine
// that releases through AssembleModel debits it before computing any noisy
// count.
func NewCharge(plan *dp.Plan, w Window) (dp.Charge, error) {
	if plan == nil {
		return dp.Charge{}, errors.New("recommend: charge needs a plan")
	}
	var rid [8]byte
	if _, err := rand.Read(rid[:]); err != nil {
		return dp.Charge{}, fmt.Errorf("recommend: release ID: %w", err)
	}
	return dp.Charge{
		Release: fmt.Sprintf("%x", rid),
		Cost:    plan.Cost,
		Epsilon: plan.Epsilon,
		Delta:   plan.Params.Delta,
		Note: fmt.Sprintf("window %s..%s, %v noise, %v pairs, K=%d%s",
			w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339),
			plan.Params.Mechanism, plan.Params.Pairs, plan.Params.MaxItemsPerUser, keepNote(plan.Params)),
	}, nil
}

// ReleaseNonPrivate builds a model from the window's exact counts, with no
// noise and no ledger. The model is NOT differentially private and its
// report says so; it exists as the ε = ∞ reference for benchmarks and
// equivalence tests, never for serving real users. Only K, HeadSize and
// Pairs of params are used. Like Release, it ends the window and wipes the
// state.
func (c *Collector) ReleaseNonPrivate(params dp.Params) (*Model, error) {
	p := params.WithDefaults()
	check := p
	check.Epsilon, check.Delta, check.Mechanism = 1, 1e-6, dp.Gaussian
	if err := check.Validate(); err != nil {
		return nil, err
	}
	if p.KeepItems != c.k {
		return nil, keepMismatch(p, c.k)
	}
	state, err := c.take()
	if err != nil {
		return nil, err
	}
	defer state.wipe()
	if err := c.removeStore(); err != nil {
		return nil, err
	}
	spec := releaseSpec{params: p, items: exactCounter{}}
	if c.k > 1 {
		spec.pairs = exactCounter{}
	}
	return build(state, c.cat, spec, buildInfo{
		releaseID: "non-private",
		at:        c.opts.Now(),
		window:    c.opts.Window,
		neighbors: c.opts.Neighbors,
		keyPeriod: c.keyPeriod,
		kinds:     c.kinds,
		scoring:   c.opts.Scoring,
	})
}

// take ends the window and moves its state out.
func (c *Collector) take() (*windowState, error) {
	for i := range c.shards {
		c.shards[i].mu.Lock()
	}
	defer func() {
		for i := range c.shards {
			c.shards[i].mu.Unlock()
		}
	}()
	if c.shards[0].released {
		return nil, ErrWindowReleased
	}
	return c.moveStateLocked(), nil
}

// moveStateLocked moves the state out and marks the window released; the
// caller holds every shard lock.
func (c *Collector) moveStateLocked() *windowState {
	state := &windowState{k: c.k, shards: make([]shardState, numShards)}
	for i := range c.shards {
		s := &c.shards[i]
		state.shards[i] = shardState{slots: s.slots, items: s.items, n: s.n}
		s.slots, s.items, s.n, s.worst, s.worstAt = nil, nil, nil, nil, nil
		s.released = true
	}
	return state
}
