package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// clock is a settable clock for the service, its collectors and ledger.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// period0 is the start of a key period of one hour.
var period0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

type fixture struct {
	t       *testing.T
	clock   *clock
	kr      *pseudonym.Keyring
	ledger  dp.Ledger
	cat     *recommend.Catalog
	dir     string
	results []error
	mu      sync.Mutex
}

func newFixture(t *testing.T, budget float64) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: &clock{t: period0.Add(time.Minute)}, dir: t.TempDir()}
	var err error
	f.kr, err = pseudonym.New([]byte("a secret of at least thirty-two bytes!!"), pseudonym.Options{PeriodLength: time.Hour})
	require.NoError(t, err)
	f.ledger, err = dp.OpenFileLedger(filepath.Join(f.dir, "ledger"), dp.LedgerOptions{Create: true, Budget: dp.Budget{Epsilon: budget, Delta: 1e-5}, Now: f.clock.Now})
	require.NoError(t, err)
	var items []recommend.Item
	for i := range 20 {
		items = append(items, recommend.Item{ID: fmt.Sprintf("sku%02d", i)})
	}
	f.cat, err = recommend.NewCatalog(items)
	require.NoError(t, err)
	return f
}

func (f *fixture) options() Options {
	return Options{
		Catalog: f.cat, Keyring: f.kr, Ledger: f.ledger,
		Release:   release.Options{Epsilon: 1, Delta: 1e-6, Mechanisms: release.Popularity},
		Window:    20 * time.Minute,
		Grace:     time.Minute,
		StateDir:  filepath.Join(f.dir, "state"),
		ModelPath: filepath.Join(f.dir, "model.bin"),
		Logger:    slog.New(slog.DiscardHandler),
		Now:       f.clock.Now,
		Released: func(w recommend.Window, m *recommend.Model, err error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.results = append(f.results, err)
		},
	}
}

func (f *fixture) start() *Service {
	f.t.Helper()
	s, err := New(f.options())
	require.NoError(f.t, err)
	return s
}

// addUsers adds n people with three items each at the clock's time.
func (f *fixture) addUsers(s *Service, from, n int) {
	f.t.Helper()
	for u := from; u < from+n; u++ {
		for i := range 3 {
			require.NoError(f.t, s.Add(events.Event{UserID: fmt.Sprintf("person-%d", u), Item: fmt.Sprintf("sku%02d", (u+i)%20), Kind: events.KindPurchase, Time: f.clock.Now()}))
		}
	}
	require.NoError(f.t, s.Sync())
}

func (f *fixture) charges() []dp.Charge {
	sum, err := f.ledger.Summary(f.clock.Now())
	require.NoError(f.t, err)
	return sum.Charges
}

func stateFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "window-*.state"))
	require.NoError(t, err)
	return m
}

func TestOptionsRefused(t *testing.T) {
	f := newFixture(t, 10)
	for name, change := range map[string]func(*Options){
		"no catalog":                 func(o *Options) { o.Catalog = nil },
		"no keyring":                 func(o *Options) { o.Keyring = nil },
		"no ledger":                  func(o *Options) { o.Ledger = nil },
		"no state dir":               func(o *Options) { o.StateDir = "" },
		"no model path":              func(o *Options) { o.ModelPath = "" },
		"no epsilon":                 func(o *Options) { o.Release.Epsilon = 0 },
		"window not dividing period": func(o *Options) { o.Window = 25 * time.Minute },
		"window below a second":      func(o *Options) { o.Window = 500 * time.Millisecond },
		"grace over half a window":   func(o *Options) { o.Grace = 11 * time.Minute },
		"retention below a window":   func(o *Options) { o.Retention = 5 * time.Minute },
	} {
		o := f.options()
		change(&o)
		_, err := New(o)
		assert.Error(t, err, name)
	}
}

// Windows tile each key period from its start: none spans two periods.
func TestWindowsTileKeyPeriods(t *testing.T) {
	f := newFixture(t, 10)
	s := f.start()
	defer s.Close()
	for m := range 24 * 60 {
		at := period0.Add(time.Duration(m) * time.Minute)
		w := s.windowAt(at)
		require.True(t, w.Contains(at))
		require.Equal(t, 20*time.Minute, w.End.Sub(w.Start))
		p := f.kr.Period(w.Start)
		_, end := f.kr.Bounds(p)
		require.False(t, w.End.After(end), "window %v spans a key period boundary", w)
		require.Equal(t, time.Duration(0), w.Start.Sub(period0)%(20*time.Minute))
	}
}

// A window is released once its grace has passed: charged once, published,
// its state deleted, later events for it refused; the next window is open.
func TestRotateReleasesAndPublishes(t *testing.T) {
	f := newFixture(t, 10)
	s := f.start()
	defer s.Close()
	f.addUsers(s, 0, 50)
	require.Len(t, stateFiles(t, f.options().StateDir), 1)

	f.clock.Set(period0.Add(20*time.Minute + 30*time.Second)) // in the grace
	require.NoError(t, s.Rotate(context.Background()))
	assert.Empty(t, f.charges(), "not released during its grace")
	require.NoError(t, s.Add(events.Event{UserID: "late", Item: "sku01", Kind: events.KindView, Time: period0.Add(19 * time.Minute)}), "a late event in the grace")

	f.clock.Set(period0.Add(21*time.Minute + time.Second))
	require.NoError(t, s.Rotate(context.Background()))
	require.Len(t, f.charges(), 1)
	assert.Contains(t, f.charges()[0].Note, chargePrefix(recommend.Window{Start: period0, End: period0.Add(20 * time.Minute)}))
	require.NotNil(t, s.Model())
	m, err := recommend.LoadModel(f.options().ModelPath)
	require.NoError(t, err)
	assert.Equal(t, s.Model().Report().ReleaseID, m.Report().ReleaseID)
	assert.Equal(t, []error{nil}, f.results)

	err = s.Add(events.Event{UserID: "later", Item: "sku01", Kind: events.KindView, Time: period0.Add(19 * time.Minute)})
	require.ErrorIs(t, err, ErrNoWindow)
	require.ErrorIs(t, err, collect.ErrWindowReleased)
	assert.NotContains(t, err.Error(), "later")
	require.NoError(t, s.Add(events.Event{UserID: "now", Item: "sku01", Kind: events.KindView, Time: f.clock.Now()}))
	assert.Equal(t, []recommend.Window{{Start: period0.Add(20 * time.Minute), End: period0.Add(40 * time.Minute)}}, s.OpenWindows())

	// A window without events is not released and costs nothing.
	f.clock.Set(period0.Add(62 * time.Minute))
	require.NoError(t, s.Rotate(context.Background()))
	require.Len(t, f.charges(), 2, "the second window (one event) is charged, the empty third is not")
}

// A restart replays the open window's state; windows an earlier run left
// are released at the first Rotate.
func TestRestartReplaysAndReleasesLeftWindows(t *testing.T) {
	f := newFixture(t, 10)
	s := f.start()
	f.addUsers(s, 0, 30)
	// Crash: the service is dropped without Close.
	s2 := f.start()
	defer s2.Close()
	require.Len(t, s2.OpenWindows(), 1)
	f.clock.Set(period0.Add(25 * time.Minute))
	s3 := f.start() // a later start, after the window ended
	defer s3.Close()
	require.NoError(t, s3.Rotate(context.Background()))
	require.Len(t, f.charges(), 1)
	require.NotNil(t, s3.Model())
	assert.Empty(t, stateFiles(t, f.options().StateDir)[0:0])
	for _, p := range stateFiles(t, f.options().StateDir) {
		assert.NotContains(t, p, fmt.Sprint(period0.Unix()), "the released window's state is deleted")
	}
}

// A crash between the ledger's debit and the deletion of the state file
// must not charge the window twice.
func TestChargedWindowIsNotChargedAgain(t *testing.T) {
	f := newFixture(t, 10)
	s := f.start()
	f.addUsers(s, 0, 30)
	files := stateFiles(t, f.options().StateDir)
	require.Len(t, files, 1)
	saved, err := os.ReadFile(files[0])
	require.NoError(t, err)
	f.clock.Set(period0.Add(22 * time.Minute))
	require.NoError(t, s.Rotate(context.Background()))
	require.Len(t, f.charges(), 1)
	require.NoError(t, s.Close())
	// As if the process died before the state file was deleted.
	require.NoError(t, os.WriteFile(files[0], saved, 0o600))

	s2 := f.start()
	defer s2.Close()
	require.NoError(t, s2.Rotate(context.Background()))
	assert.Len(t, f.charges(), 1, "charged once")
	assert.NoFileExists(t, files[0])
	require.Len(t, f.results, 2)
	assert.ErrorContains(t, f.results[1], "charged by an earlier run")
}

// A release the ledger refuses keeps the window's state until the
// retention deletes it.
func TestRefusedReleaseKeepsStateUntilRetention(t *testing.T) {
	f := newFixture(t, 0.5) // below one release's ε = 1
	o := f.options()
	o.Retention = 40 * time.Minute
	s, err := New(o)
	require.NoError(t, err)
	defer s.Close()
	f.addUsers(s, 0, 30)
	f.clock.Set(period0.Add(22 * time.Minute))
	require.NoError(t, s.Rotate(context.Background()))
	require.Len(t, f.results, 1)
	require.ErrorIs(t, f.results[0], dp.ErrBudgetExceeded)
	assert.Empty(t, f.charges())
	assert.Nil(t, s.Model())
	assert.Len(t, stateFiles(t, o.StateDir), 2, "the refused window's state is kept, and the new window's")
	f.clock.Set(period0.Add(61 * time.Minute))
	require.NoError(t, s.Rotate(context.Background()))
	for _, p := range stateFiles(t, o.StateDir) {
		assert.NotContains(t, p, fmt.Sprintf("window-%d-", period0.Unix()), "expired state deleted")
	}
}

// Once no open window is in a key period, its subkey is forgotten.
func TestOldKeyPeriodsForgotten(t *testing.T) {
	f := newFixture(t, 10)
	s := f.start()
	defer s.Close()
	p0 := f.kr.Period(period0)
	_, err := f.kr.Pseudonymize(p0, "someone")
	require.NoError(t, err)
	f.clock.Set(period0.Add(62 * time.Minute))
	require.NoError(t, s.Rotate(context.Background()))
	_, err = f.kr.Pseudonymize(p0, "someone")
	assert.ErrorIs(t, err, pseudonym.ErrPeriodForgotten)
}

// Forget removes a person's pending events from every open window.
func TestForget(t *testing.T) {
	f := newFixture(t, 10)
	s := f.start()
	defer s.Close()
	f.addUsers(s, 0, 2)
	ok, err := s.Forget("person-1")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.Forget("person-1")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestClosedRefusesEvents(t *testing.T) {
	f := newFixture(t, 10)
	s := f.start()
	require.NoError(t, s.Close())
	err := s.Add(events.Event{UserID: "x", Item: "sku01", Kind: events.KindView, Time: f.clock.Now()})
	assert.True(t, errors.Is(err, ErrClosed))
}

// A refused window is tried again at later rotations: once the rolling
// horizon frees budget, it is released.
func TestRefusedReleaseIsRetried(t *testing.T) {
	f := newFixture(t, 1)
	var err error
	f.ledger, err = dp.NewMemLedger(dp.Budget{Epsilon: 1.1, Delta: 1e-5, Horizon: 30 * time.Minute}, f.clock.Now)
	require.NoError(t, err)
	s := f.start()
	defer s.Close()
	f.addUsers(s, 0, 30)
	f.clock.Set(period0.Add(21*time.Minute + time.Second))
	require.NoError(t, s.Rotate(context.Background()))
	require.Equal(t, []error{nil}, f.results, "the first window is released")

	f.addUsers(s, 100, 30)
	f.clock.Set(period0.Add(41*time.Minute + time.Second))
	require.NoError(t, s.Rotate(context.Background()))
	require.Len(t, f.results, 2)
	require.ErrorIs(t, f.results[1], dp.ErrBudgetExceeded, "two releases of ε = 1 exceed 1.1")

	f.clock.Set(period0.Add(52 * time.Minute)) // the first charge has left the 30-minute horizon
	require.NoError(t, s.Rotate(context.Background()))
	require.Len(t, f.results, 3)
	require.NoError(t, f.results[2], "released at the retry")
	assert.True(t, s.Model().Report().Window.Start.Equal(period0.Add(20*time.Minute)))
}

// AddBatch is Add in turn: the same refusals, in order, with the same
// errors, and the same state in every window, for a batch that spans the
// window in its grace, the current window (not open yet: AddBatch opens
// it), a later window, an earlier one, and unknown items.
func TestAddBatchEqualsAdd(t *testing.T) {
	one, many := newFixture(t, 10), newFixture(t, 10)
	a, b := one.start(), many.start()
	defer a.Close()
	defer b.Close()
	one.addUsers(a, 0, 10)
	many.addUsers(b, 0, 10)
	grace := period0.Add(20*time.Minute + 30*time.Second)
	one.clock.Set(grace)
	many.clock.Set(grace)

	var evs []events.Event
	for u := range 400 {
		at := []time.Time{period0.Add(19 * time.Minute), grace, period0.Add(41 * time.Minute), period0.Add(-time.Minute)}[u%4]
		item := fmt.Sprintf("sku%02d", u%20)
		if u%7 == 0 {
			item = "nope"
		}
		evs = append(evs, events.Event{UserID: fmt.Sprintf("person-%d", u%50), Item: item, Kind: events.KindView, Time: at})
	}
	var want []string
	for i, e := range evs {
		if err := a.Add(e); err != nil {
			want = append(want, fmt.Sprint(i, ": ", err))
		}
	}
	var got []string
	accepted := b.AddBatch(evs, func(i int, err error) { got = append(got, fmt.Sprint(i, ": ", err)) })
	require.NotEmpty(t, want)
	assert.Equal(t, want, got)
	assert.Equal(t, len(evs)-len(want), accepted)
	require.Len(t, b.OpenWindows(), 2)
	assert.Equal(t, a.OpenWindows(), b.OpenWindows())
	for i := range a.windows {
		assert.Equal(t, a.windows[i].col.Stats(), b.windows[i].col.Stats(), "window %d", i)
	}

	require.NoError(t, b.Close())
	refused := 0
	assert.Zero(t, b.AddBatch(evs[:3], func(_ int, err error) {
		if errors.Is(err, ErrClosed) {
			refused++
		}
	}))
	assert.Equal(t, 3, refused)
}
