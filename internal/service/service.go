package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// Options configure a Service. Catalog, Keyring, Ledger, Release.Epsilon,
// StateDir and ModelPath are required; zero values elsewhere mean the
// defaults.
type Options struct {
	// Catalog is the public catalog events are checked against.
	Catalog *recommend.Catalog
	// Keyring pseudonymizes user IDs at the door. Its period length sets
	// the windows' alignment: a window never spans two key periods.
	Keyring *pseudonym.Keyring
	// Ledger is debited before each release and refuses one that would
	// overspend its cap.
	Ledger dp.Ledger
	// Release configures every window's release; Epsilon is per release.
	Release release.Options
	// Window is the length of a release window. It must divide the key
	// period length into whole seconds; the key period when zero.
	Window time.Duration
	// Grace is how long after a window ends its late events (stamped inside
	// it) are still accepted before it is released; default 1 minute, at
	// most half a window.
	Grace time.Duration
	// Retention bounds how long unreleased window state is kept: state
	// files of windows that ended longer ago are deleted, released or not.
	// Default: the key period length plus one window.
	Retention time.Duration
	// StateDir holds the open windows' state files (collect.Options.
	// StateDir).
	StateDir string
	// ModelPath is where each released model is published, atomically
	// (recommend.SaveModel), and read back at start.
	ModelPath string
	// Kinds are the event kinds collected; all when empty.
	Kinds []events.Kind
	// Logger receives one line per window opened, released, refused or
	// purged; slog.Default() when nil. It never sees a user ID.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Released, when set, is called after each window's release attempt
	// with its outcome: a published model, or the error (errors.Is
	// dp.ErrBudgetExceeded when the ledger refused). For metrics.
	Released func(w recommend.Window, m *recommend.Model, err error)
}

// Service runs ingestion, window rotation and releases for one catalog:
// see the package documentation. Its methods are safe for concurrent use.
type Service struct {
	opts  Options
	log   *slog.Logger
	model atomic.Pointer[recommend.Model]

	mu      sync.RWMutex
	windows []*window // open windows, oldest first
	closed  bool
}

type window struct {
	w   recommend.Window
	col *collect.Collector
	in  *collect.Ingestor
}

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("service: closed")

// ErrNoWindow is returned by Add for an event whose window is not open:
// it was released already (the error also matches
// collect.ErrWindowReleased), or lies beyond the current one
// (collect.ErrOutsideWindow).
var ErrNoWindow = errors.New("service: no open window for the event's time")

// New validates opts, loads the last published model if there is one, and
// opens the current window, replaying its state file. Windows left over
// from an earlier run are released by the first Rotate (Run calls it at
// once).
func New(opts Options) (*Service, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Service{opts: opts, log: opts.Logger}
	if m, err := recommend.LoadModel(opts.ModelPath); err == nil {
		s.model.Store(m)
	} else if !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("privrec run: the published model does not load; serving none until the next release", "error", err.Error())
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("service: state directory: %w", err)
	}
	if _, err := s.open(s.windowAt(opts.Now())); err != nil {
		return nil, err
	}
	return s, nil
}

func (o *Options) validate() error {
	switch {
	case o.Catalog == nil:
		return errors.New("service: Options.Catalog is required")
	case o.Keyring == nil:
		return errors.New("service: Options.Keyring is required")
	case o.Ledger == nil:
		return errors.New("service: Options.Ledger is required")
	case o.StateDir == "":
		return errors.New("service: Options.StateDir is required (window state must survive a restart)")
	case o.ModelPath == "":
		return errors.New("service: Options.ModelPath is required")
	}
	if err := o.Release.Validate(); err != nil {
		return err
	}
	period := o.Keyring.PeriodLength()
	if o.Window == 0 {
		o.Window = period
	}
	if start, _ := o.Keyring.Bounds(0); start.Nanosecond() != 0 {
		return fmt.Errorf("service: the keyring's epoch %v must be a whole second", start)
	}
	if o.Window < time.Second || o.Window%time.Second != 0 || period%o.Window != 0 {
		return fmt.Errorf("service: window %v must be whole seconds and divide the key period %v, so that no window spans two key periods", o.Window, period)
	}
	if o.Grace == 0 {
		o.Grace = min(time.Minute, o.Window/2)
	}
	if o.Grace < 0 || o.Grace > o.Window/2 {
		return fmt.Errorf("service: grace %v must be in [0, %v] (half a window)", o.Grace, o.Window/2)
	}
	if o.Retention == 0 {
		o.Retention = period + o.Window
	}
	if o.Retention < o.Window+o.Grace {
		return fmt.Errorf("service: retention %v must be at least a window and its grace (%v)", o.Retention, o.Window+o.Grace)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// windowAt returns the window holding t: windows tile each key period from
// its start.
func (s *Service) windowAt(t time.Time) recommend.Window {
	kr := s.opts.Keyring
	start, _ := kr.Bounds(kr.Period(t))
	n := t.Sub(start) / s.opts.Window
	ws := start.Add(n * s.opts.Window).UTC()
	return recommend.Window{Start: ws, End: ws.Add(s.opts.Window)}
}

// open opens w's collector (replaying its state file) and, for a window
// not yet ended, its ingestor. The caller must not hold s.mu.
func (s *Service) open(w recommend.Window) (*window, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	for _, x := range s.windows {
		if x.w == w {
			return x, nil
		}
	}
	col, err := collect.New(s.opts.Catalog, collect.Options{
		Window: w, Keep: s.opts.Release.CollectKeep(), Kinds: s.opts.Kinds,
		Now: s.opts.Now, Logger: s.log, StateDir: s.opts.StateDir,
	})
	if err != nil {
		return nil, fmt.Errorf("service: window %s: %w", windowText(w), err)
	}
	in, err := collect.NewIngestor(col, s.opts.Keyring)
	if err != nil {
		col.Close()
		return nil, fmt.Errorf("service: window %s: %w", windowText(w), err)
	}
	x := &window{w: w, col: col, in: in}
	s.windows = append(s.windows, x)
	slices.SortFunc(s.windows, func(a, b *window) int { return a.w.Start.Compare(b.w.Start) })
	s.log.Info("privrec run: window open", "window", windowText(w), "people_replayed", col.Stats().Users)
	return x, nil
}

// Add validates e, pseudonymizes its user ID and adds it to the open window
// holding its time, opening the current window if the clock has moved into
// it. An event for a window already released (or past its grace), or for a
// later window, is refused with ErrNoWindow; other refusals are the
// collector's (collect.ErrUnknownItem...). Errors never contain the user ID.
func (s *Service) Add(e events.Event) error {
	if err, ok := s.add(e); ok {
		return err
	}
	if cur := s.windowAt(s.opts.Now()); cur.Contains(e.Time) {
		if _, err := s.open(cur); err != nil {
			return err
		}
		if err, ok := s.add(e); ok {
			return err
		}
	}
	why := collect.ErrOutsideWindow
	if e.Time.Before(s.windowAt(s.opts.Now()).Start) {
		why = collect.ErrWindowReleased
	}
	return fmt.Errorf("%w (event at %s): %w", ErrNoWindow, e.Time.UTC().Format(time.RFC3339), why)
}

// AddBatch adds evs as Add would add each, and returns how many it
// accepted; refused, when not nil, is called for every event not accepted,
// in order, with its index and Add's error. The events of each open window
// go to its collect.Ingestor.AddBatch together; events of no open window
// go through Add, which may open the current one.
func (s *Service) AddBatch(evs []events.Event, refused func(i int, err error)) int {
	errs := make([]error, len(evs))
	placed := make([]bool, len(evs))
	var sel []events.Event
	var at []int
	s.mu.RLock()
	for _, x := range s.windows {
		if s.closed {
			break // Add refuses them
		}
		sel, at = sel[:0], at[:0]
		for i, e := range evs {
			if !placed[i] && x.w.Contains(e.Time) {
				sel, at = append(sel, e), append(at, i)
				placed[i] = true
			}
		}
		if len(sel) > 0 {
			x.in.AddBatch(sel, func(j int, err error) { errs[at[j]] = err })
		}
	}
	s.mu.RUnlock()
	accepted := 0
	for i, e := range evs {
		if !placed[i] {
			errs[i] = s.Add(e)
		}
		if errs[i] == nil {
			accepted++
		} else if refused != nil {
			refused(i, errs[i])
		}
	}
	return accepted
}

// add adds e to the open window holding its time and reports whether one
// did.
func (s *Service) add(e events.Event) (error, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed, true
	}
	for _, x := range s.windows {
		if x.w.Contains(e.Time) {
			return x.in.Add(e), true
		}
	}
	return nil, false
}

// Sync makes every event Add accepted durable (fsync of the open windows'
// state files). The HTTP and Kafka sources call it before acknowledging.
func (s *Service) Sync() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var errs []error
	for _, x := range s.windows {
		if err := x.col.Sync(); err != nil && !errors.Is(err, collect.ErrWindowReleased) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Forget removes a person's pending state from every open window (a
// deletion request) and reports whether there was any.
func (s *Service) Forget(userID string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	found := false
	for _, x := range s.windows {
		ok, err := x.in.Forget(userID)
		if err != nil {
			return found, err
		}
		found = found || ok
	}
	return found, nil
}

// Model returns the last published model, or nil before the first.
func (s *Service) Model() *recommend.Model { return s.model.Load() }

// Run calls Rotate at once, then at each window's start and whenever an
// open window's grace ends, until ctx is done; it then closes the service
// (Close) and returns nil. It returns an error only if the current window
// cannot be opened.
func (s *Service) Run(ctx context.Context) error {
	defer s.Close()
	for {
		if err := s.Rotate(ctx); err != nil {
			return err
		}
		now := s.opts.Now()
		next := s.windowAt(now).End
		for _, w := range s.OpenWindows() {
			if end := w.End.Add(s.opts.Grace); end.Before(next) {
				next = end
			}
		}
		t := time.NewTimer(max(next.Sub(now), 0) + 10*time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Rotate brings the service up to the clock: it opens the current window,
// releases every window whose grace has passed (windows left by an earlier
// run too), publishes each model, deletes state older than the retention,
// and forgets the key periods no open window needs. A release refused by
// the ledger keeps its window's state (until the retention purges it) and
// is reported through Options.Released and the log; it does not stop the
// service. Rotate returns an error only if the current window cannot be
// opened.
func (s *Service) Rotate(ctx context.Context) error {
	now := s.opts.Now()
	if _, err := s.open(s.windowAt(now)); err != nil {
		return err
	}
	cutoff := now.Add(-s.opts.Retention)
	// Windows left over from an earlier run.
	if left, err := collect.StateWindows(s.opts.StateDir); err == nil {
		for _, w := range left {
			if w.End.After(cutoff) && !w.End.Add(s.opts.Grace).After(now) {
				if _, err := s.open(w); err != nil {
					s.log.Error("privrec run: cannot reopen a window left by an earlier run", "window", windowText(w), "error", err.Error())
				}
			}
		}
	}
	for _, x := range s.due(now) {
		s.releaseWindow(ctx, x)
	}
	if removed, err := collect.PurgeStateFiles(s.opts.StateDir, cutoff); err != nil {
		s.log.Error("privrec run: purge of expired window state failed", "error", err.Error())
	} else if len(removed) > 0 {
		s.log.Info("privrec run: expired window state deleted", "files", len(removed), "retention", s.opts.Retention.String())
	}
	s.forgetKeys()
	return nil
}

// due takes the windows whose grace has passed out of the routing table:
// no Add reaches them once due returns.
func (s *Service) due(now time.Time) []*window {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*window
	keep := s.windows[:0]
	for _, x := range s.windows {
		if !x.w.End.Add(s.opts.Grace).After(now) {
			out = append(out, x)
		} else {
			keep = append(keep, x)
		}
	}
	clear(s.windows[len(keep):])
	s.windows = keep
	return out
}

// releaseWindow releases x, publishes the model and closes x's collector.
// A window the ledger shows as charged already (a crash between the debit
// and the deletion of its state file) is not charged again: its state is
// deleted, and the budget it spent stays spent.
func (s *Service) releaseWindow(ctx context.Context, x *window) {
	defer x.col.Close()
	w := x.w
	if s.charged(w) {
		s.log.Warn("privrec run: window was charged by an earlier run that stopped before publishing; its state is deleted and its budget stays spent", "window", windowText(w))
		if st, err := x.col.Take(nil); err == nil {
			st.Wipe()
		}
		s.report(w, nil, fmt.Errorf("service: window %s: charged by an earlier run, not released again", windowText(w)))
		return
	}
	if x.col.Stats().Users == 0 {
		s.log.Info("privrec run: window had no events; nothing released, nothing charged", "window", windowText(w))
		if st, err := x.col.Take(nil); err == nil {
			st.Wipe()
		}
		return
	}
	o := s.opts.Release
	o.Logger = s.log
	m, err := release.Private(ctx, x.col, s.opts.Ledger, o)
	if err != nil {
		if errors.Is(err, dp.ErrBudgetExceeded) {
			s.log.Error("privrec run: the ledger refused the release: the budget cap would be exceeded; the window's state is kept until the retention deletes it", "window", windowText(w), "error", err.Error())
		} else {
			s.log.Error("privrec run: release failed", "window", windowText(w), "error", err.Error())
		}
		s.report(w, nil, err)
		return
	}
	if err := recommend.SaveModel(m, s.opts.ModelPath); err != nil {
		s.log.Error("privrec run: the model was released but could not be published; its budget is spent", "window", windowText(w), "error", err.Error())
		s.model.Store(m) // served from memory at least
		s.report(w, nil, err)
		return
	}
	s.model.Store(m)
	s.log.Info("privrec run: model published", "window", windowText(w), "path", s.opts.ModelPath, "epsilon", m.Report().Privacy.Epsilon)
	s.report(w, m, nil)
}

func (s *Service) report(w recommend.Window, m *recommend.Model, err error) {
	if s.opts.Released != nil {
		s.opts.Released(w, m, err)
	}
}

// chargePrefix is how a release's ledger charge names its window
// (release.Private's charge note).
func chargePrefix(w recommend.Window) string {
	return fmt.Sprintf("window %s..%s,", w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339))
}

// charged reports whether the ledger holds a charge for w.
func (s *Service) charged(w recommend.Window) bool {
	sum, err := s.opts.Ledger.Summary(s.opts.Now())
	if err != nil {
		return false
	}
	for _, c := range sum.Charges {
		if strings.HasPrefix(c.Note, chargePrefix(w)) {
			return true
		}
	}
	return false
}

// forgetKeys drops the subkeys of key periods before the oldest open
// window's: no event can be pseudonymized for them any more.
func (s *Service) forgetKeys() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.windows) == 0 {
		return
	}
	s.opts.Keyring.Forget(s.opts.Keyring.Period(s.windows[0].w.Start))
}

// Close syncs and closes the open windows' state files, keeping them for
// the next run, and refuses further events. It does not release anything.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, x := range s.windows {
		if err := x.col.Sync(); err != nil && !errors.Is(err, collect.ErrWindowReleased) {
			errs = append(errs, err)
		}
		errs = append(errs, x.col.Close())
	}
	s.windows = nil
	return errors.Join(errs...)
}

// OpenWindows returns the open windows, oldest first.
func (s *Service) OpenWindows() []recommend.Window {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]recommend.Window, len(s.windows))
	for i, x := range s.windows {
		out[i] = x.w
	}
	return out
}

func windowText(w recommend.Window) string {
	return w.Start.UTC().Format(time.RFC3339) + ".." + w.End.UTC().Format(time.RFC3339)
}
