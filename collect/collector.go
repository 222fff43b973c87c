package collect

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/bottomk"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

// Defaults and limits of Options.
const (
	defaultMaxClockSkew = 5 * time.Minute
	defaultKeep         = 64  // the release's default Keep (release.Options.Keep)
	maxKeep             = 256 // the release's largest K
)

// Options configures a Collector. Window is required; zero values elsewhere
// mean defaults.
type Options struct {
	// Window is the release window; events outside it are refused.
	Window recommend.Window
	// Keep is how many distinct items are kept per user, in [1, 256]; 64
	// (the release's default Keep) when zero. It must equal the release's
	// Keep (which is its contribution bound K unless the release weights
	// kept items).
	Keep int
	// Kinds lists the event kinds collected; all kinds when empty.
	Kinds []events.Kind
	// SampleKey keys the hash that chooses which K items a user keeps when
	// they interact with more. Collectors that will be merged must share it;
	// a random key is used when it is zero. Sampling is not a privacy
	// mechanism (the bound holds whatever is kept), so the key is not secret.
	SampleKey [16]byte
	// MaxClockSkew is how far past Now an event may be stamped before it is
	// refused as coming from the future. Default 5 minutes;
	// negative disables the check (for replaying historical data).
	MaxClockSkew time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Logger receives warnings about the state file; slog.Default() when
	// nil. privrec never logs identifiers of people.
	Logger *slog.Logger
	// StateDir, when set, persists the window's bounded state in one file
	// there (window-<start>-<end>.state), replayed by the next New of the
	// same window after a restart and deleted at release. Empty keeps the state
	// in memory only.
	StateDir string
}

// Stats are operational counters of a collector.
type Stats struct {
	Accepted        int64 // events accepted
	DroppedByBound  int64 // accepted events whose item was not kept because the user had K items already
	DuplicateEvents int64 // accepted events for an item the user already had
	// Users counts the pseudonyms that have kept items now, replayed state
	// included (the other counters start at zero in each process).
	Users int64
}

const numShards = 64

// Collector holds the bounded state of one release window: for each
// pseudonym, at most Keep items, chosen as the Keep with the smallest keyed
// hash,
// so that repeated events change nothing and two collectors of the same
// window can be merged. It holds no times, no kinds and no order of events.
// It is safe for concurrent use.
type Collector struct {
	cat       *recommend.Catalog
	opts      Options
	k         int   // Keep
	kinds     uint8 // bit per accepted Kind
	hash      bottomk.Hash
	zeros     []uint32      // an inline region of zeros, to append for a new user
	inline    int           // items kept inline per user: min(Keep, inlineItems)
	keyPeriod time.Duration // set by NewIngestor, for the report
	store     *windowStore  // nil unless CollectorOptions.StateDir is set

	shards [numShards]shard
}

type shard struct {
	mu       sync.Mutex
	released bool
	userState
	freeInline []uint32 // inline regions no user holds, for reuse
	freeOver   []uint32 // arrays of over no user holds, for reuse
	stats      Stats
	_          [64]byte // keep shards on separate cache lines
}

// New returns an empty collector for one window over cat.
func New(cat *recommend.Catalog, opts Options) (*Collector, error) {
	if cat == nil {
		return nil, errors.New("collect: nil catalog")
	}
	if err := opts.Window.Validate(); err != nil {
		return nil, err
	}
	if opts.Keep == 0 {
		opts.Keep = defaultKeep
	}
	if opts.Keep < 1 || opts.Keep > maxKeep {
		return nil, fmt.Errorf("collect: Keep = %d must be in [1, %d]", opts.Keep, maxKeep)
	}
	if opts.MaxClockSkew == 0 {
		opts.MaxClockSkew = defaultMaxClockSkew
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Collector{cat: cat, opts: opts, k: opts.Keep}
	var err error
	if c.kinds, err = kindMask(opts.Kinds); err != nil {
		return nil, fmt.Errorf("collect: Options.Kinds: %w", err)
	}
	key := opts.SampleKey
	keyGiven := key != ([16]byte{})
	if !keyGiven {
		if _, err := rand.Read(key[:]); err != nil {
			return nil, fmt.Errorf("collect: sample key: %w", err)
		}
		c.opts.SampleKey = key
	}
	c.hash = bottomk.New(key)
	c.inline = min(c.k, inlineItems)
	c.zeros = make([]uint32, c.inline)
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("collect: table seed: %w", err)
	}
	for i := range c.shards {
		c.shards[i].users.seed = binary.LittleEndian.Uint64(seed[:])
	}
	if opts.StateDir != "" {
		if err := c.openStore(opts.StateDir, keyGiven); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Options returns the collector's options, defaults filled in: its
// window, Keep, the event kinds it accepts, and its sample key.
func (c *Collector) Options() Options {
	o := c.opts
	o.Kinds = kindsOf(c.kinds)
	return o
}

// Catalog returns the catalog events are checked against.
func (c *Collector) Catalog() *recommend.Catalog { return c.cat }

// KeyPeriod returns the key period length of the keyring that feeds the
// collector (through NewIngestor), or zero.
func (c *Collector) KeyPeriod() time.Duration { return c.keyPeriod }

// check validates everything about an event but its subject and returns the
// item's catalog index. Errors never include the subject.
func (c *Collector) check(item string, kind events.Kind, at time.Time) (uint32, error) {
	if item == "" {
		return 0, fmt.Errorf("%w: empty item", ErrUnknownItem)
	}
	if !kind.Valid() {
		return 0, fmt.Errorf("%w %d", events.ErrUnknownKind, kind)
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
	idx, ok := c.cat.Index(item)
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownItem, truncate(item, 64))
	}
	return uint32(idx), nil
}

// Add records one pseudonymous event. It refuses, with an error wrapping
// one of the Err* values (or events.ErrUnknownKind), an empty or unknown
// item, an unknown or uncollected kind, a time outside the window or in the
// future, and any event after Take. A refused event changes nothing. An
// accepted event may still not be kept, when its subject already has Keep
// items with smaller hashes. Add allocates nothing once the subject has been seen.
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
	return c.addLocked(s, id, idx)
}

// addLocked is add with s.mu held.
func (c *Collector) addLocked(s *shard, id pseudonym.ID, idx uint32) error {
	if s.released {
		return ErrWindowReleased
	}
	u := s.users.find(id)
	pos := 0
	if u != nil {
		var dup bool
		if pos, dup = c.place(s, u, id, idx); dup || pos < 0 {
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
	if u == nil {
		u = c.newUser(s, id)
	}
	c.put(s, u, id, pos, idx)
	return nil
}

// insertLocked adds idx to id's bottom-K set without persisting (for replay
// and merge); the caller holds s.mu.
func (c *Collector) insertLocked(s *shard, id pseudonym.ID, idx uint32) {
	u := s.users.find(id)
	if u == nil {
		u = c.newUser(s, id)
	}
	if pos, dup := c.place(s, u, id, idx); !dup && pos >= 0 {
		c.put(s, u, id, pos, idx)
	}
}

// inlineItems is how many items a user holds before moving to a
// Keep-sized array: the release's default K, what most users keep.
const inlineItems = 16

// newUser adds an entry for id, which must not have one, with an empty
// inline region.
func (c *Collector) newUser(s *shard, id pseudonym.ID) *user {
	var at uint32
	if n := len(s.freeInline); n > 0 {
		at, s.freeInline = s.freeInline[n-1], s.freeInline[:n-1]
	} else {
		at = uint32(len(s.items) / c.inline)
		s.items = append(s.items, c.zeros...)
	}
	u := s.users.insert(id)
	u.at = at
	return u
}

// place says where idx would go in u's bottom-K set: at position n
// (appended) while there is room, else over the item with the largest rank
// if idx ranks below it, else nowhere (-1). dup reports an item already kept.
// A full user caches its largest rank, so that an event ranked out (the
// common case for heavy users) costs one hash and no scan.
func (c *Collector) place(s *shard, u *user, id pseudonym.ID, idx uint32) (pos int, dup bool) {
	n := int(u.n)
	if n == c.k && c.rank(id, idx) > u.worst {
		return -1, false // ranked out; a kept item cannot rank above the worst
	}
	for _, it := range s.itemsOf(u, c.inline)[:n] {
		if it == idx {
			return 0, true
		}
	}
	if n < c.k {
		return n, false
	}
	if c.rank(id, idx) < u.worst {
		return int(u.worstAt), false
	}
	return -1, false
}

// put stores idx at pos as decided by place, and keeps a full user's
// largest rank up to date.
func (c *Collector) put(s *shard, u *user, id pseudonym.ID, pos int, idx uint32) {
	items := s.itemsOf(u, c.inline)
	if pos == len(items) { // the inline region is full: move to a Keep-sized array
		at, grown := s.newOver(c.k)
		copy(grown, items)
		clear(items)
		s.freeInline = append(s.freeInline, u.at)
		u.at = at // u.n becomes inline+1 below, so itemsOf looks in over
		items = grown
	}
	if pos == int(u.n) {
		u.n++
	} else {
		s.stats.DroppedByBound++ // an item was displaced
	}
	items[pos] = idx
	if int(u.n) == c.k {
		c.updateWorst(s, u, id)
	}
}

// newOver returns a zeroed Keep-sized array of s.over and its index.
func (s *shard) newOver(k int) (uint32, []uint32) {
	if n := len(s.freeOver); n > 0 {
		at := s.freeOver[n-1]
		s.freeOver = s.freeOver[:n-1]
		return at, s.over[at]
	}
	s.over = append(s.over, make([]uint32, k))
	return uint32(len(s.over) - 1), s.over[len(s.over)-1]
}

// updateWorst recomputes the largest rank of a full user.
func (c *Collector) updateWorst(s *shard, u *user, id pseudonym.ID) {
	worst, at := uint64(0), 0
	for j, it := range s.itemsOf(u, c.inline)[:c.k] {
		if h := c.rank(id, it); h >= worst {
			worst, at = h, j
		}
	}
	u.worst, u.worstAt = worst, uint8(at)
}

// rank is the keyed hash that orders a user's items for bottom-K sampling.
func (c *Collector) rank(id pseudonym.ID, item uint32) uint64 { return c.hash.Rank(id, item) }

// Forget removes a subject's pending state, as for a deletion request, from
// memory and from the state file. It reports whether the subject had any. Once a window is released, a person's
// influence is covered by the differential-privacy guarantee instead: their
// events are not stored anywhere and changed the released model at most as
// much as ε allows.
func (c *Collector) Forget(id pseudonym.ID) (bool, error) {
	s := &c.shards[id[0]%numShards]
	s.mu.Lock()
	u := s.users.find(id)
	ok := u != nil
	if ok {
		clear(s.itemsOf(u, c.inline))
		if int(u.n) > c.inline {
			s.freeOver = append(s.freeOver, u.at)
		} else {
			s.freeInline = append(s.freeInline, u.at)
		}
		s.users.remove(id)
	}
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	return true, c.compact() // the person's records leave the disk too
}

// Stats returns operational counters. They are not differentially
// private: keep them out of public reports.
func (c *Collector) Stats() Stats {
	var st Stats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Accepted += s.stats.Accepted
		st.DroppedByBound += s.stats.DroppedByBound
		st.DuplicateEvents += s.stats.DuplicateEvents
		st.Users += int64(s.users.n)
		s.mu.Unlock()
	}
	return st
}

// Merge adds the state of other, a collector of the same window, catalog,
// Keep and SampleKey (for example another shard or process), into c. The result
// equals what one collector would hold had it seen both streams. other is
// left unchanged.
func (c *Collector) Merge(other *Collector) error {
	switch {
	case other == c:
		return errors.New("collect: cannot merge a collector into itself")
	case other.cat != c.cat:
		return errors.New("collect: merge: collectors use different catalogs")
	case !other.opts.Window.Start.Equal(c.opts.Window.Start) || !other.opts.Window.End.Equal(c.opts.Window.End):
		return errors.New("collect: merge: collectors have different windows")
	case other.k != c.k:
		return errors.New("collect: merge: collectors have different Keep")
	case other.opts.SampleKey != c.opts.SampleKey:
		return errors.New("collect: merge: collectors have different sample keys")
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
		src.users.each(func(u *user) {
			for _, idx := range src.itemsOf(u, c.inline)[:u.n] {
				c.insertLocked(dst, u.id, idx)
			}
		})
		dst.mu.Unlock()
		src.mu.Unlock()
	}
	return c.compact()
}
