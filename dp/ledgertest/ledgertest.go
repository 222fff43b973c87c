// Package ledgertest checks that a dp.Ledger implementation keeps the
// Ledger contract, as testing/fstest does for file systems: a ledger that
// passes Run records what it accepts, composes spend over its rolling
// horizon, dates every charge with its own clock, refuses a charge that
// would exceed its cap (to the last bit, under concurrency), and, when it
// is durable, keeps all of that across a
// reopen.
//
//	func TestMyLedger(t *testing.T) {
//		ledgertest.Run(t, ledgertest.Harness{
//			New: func(t *testing.T, b dp.Budget, now func() time.Time) dp.Ledger { ... },
//		})
//	}
package ledgertest

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/privrec/privrec/dp"
)

// Harness makes the ledgers the suite runs on.
type Harness struct {
	// New returns a new, empty ledger with cap b whose clock is now: the
	// ledger must stamp charges whose At is zero with now(), and the suite
	// moves that clock.
	New func(t *testing.T, b dp.Budget, now func() time.Time) dp.Ledger
	// Reopen, for a durable ledger, closes l and returns it opened again
	// from its storage, with the same clock. Nil skips the durability
	// checks.
	Reopen func(t *testing.T, l dp.Ledger) dp.Ledger
}

// clock is a test clock the suite moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// pure is a charge of pure ε-DP: with δ = 0 its ε composes by addition, so
// the suite can put charges exactly on the cap.
func pure(name string, eps float64) dp.Charge {
	return dp.Charge{Release: name, Cost: dp.Cost{PureEpsilon: eps, PureRho: eps * eps / 2}, Epsilon: eps}
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	newLedger := func(t *testing.T, b dp.Budget) (dp.Ledger, *clock) {
		c := &clock{t: start}
		l := h.New(t, b, c.now)
		if l == nil {
			t.Fatal("Harness.New returned nil")
		}
		return l, c
	}
	ctx := context.Background()

	t.Run("RecordsAndComposes", func(t *testing.T) {
		l, c := newLedger(t, dp.Budget{Epsilon: 10, Delta: 1e-6})
		g := dp.Charge{Release: "gaussian", Cost: dp.Cost{Rho: 0.03}, Epsilon: 1, Delta: 1e-6, Note: "a note"}
		got, err := l.Debit(ctx, g)
		if err != nil {
			t.Fatalf("Debit: %v", err)
		}
		if got.Seq != 1 || !got.At.Equal(start) || got.Release != "gaussian" || got.Cost != g.Cost {
			t.Errorf("Debit returned %+v: want Seq 1, At the ledger's clock (%v), the charge's fields", got, start)
		}
		c.add(time.Minute)
		if got, err = l.Debit(ctx, g); err != nil || got.Seq != 2 {
			t.Fatalf("second Debit: %+v, %v; want Seq 2", got, err)
		}
		s, err := l.Summary(c.now())
		if err != nil {
			t.Fatalf("Summary: %v", err)
		}
		if len(s.Charges) != 2 || s.AllCharges != 2 {
			t.Fatalf("Summary has %d charges (%d in all), want 2", len(s.Charges), s.AllCharges)
		}
		if s.Total != (dp.Cost{Rho: 0.06}) {
			t.Errorf("Summary.Total = %+v, want ρ = 0.06", s.Total)
		}
		want, _ := s.Total.Epsilon(1e-6)
		if s.Epsilon != want || s.Budget != (dp.Budget{Epsilon: 10, Delta: 1e-6}) {
			t.Errorf("Summary = ε %v, budget %+v; want ε %v and the ledger's cap", s.Epsilon, s.Budget, want)
		}
		if s.Charges[0].Note != "a note" {
			t.Errorf("the charge's note was not kept: %q", s.Charges[0].Note)
		}
	})

	t.Run("HasAnIdentity", func(t *testing.T) {
		l1, c := newLedger(t, dp.Budget{Epsilon: 1})
		l2, _ := newLedger(t, dp.Budget{Epsilon: 1})
		s1, err1 := l1.Summary(c.now())
		s2, err2 := l2.Summary(c.now())
		if err1 != nil || err2 != nil {
			t.Fatalf("Summary: %v, %v", err1, err2)
		}
		if len(s1.LedgerID) < 16 || s1.LedgerID == s2.LedgerID {
			t.Errorf("LedgerIDs %q and %q: want a random ID per ledger, at least 16 characters", s1.LedgerID, s2.LedgerID)
		}
		if _, err := l1.Debit(ctx, pure("r", 0.5)); err != nil {
			t.Fatal(err)
		}
		if again, _ := l1.Summary(c.now()); again.LedgerID != s1.LedgerID {
			t.Errorf("the LedgerID changed from %q to %q", s1.LedgerID, again.LedgerID)
		}
	})

	t.Run("RefusesOverTheCap", func(t *testing.T) {
		l, c := newLedger(t, dp.Budget{Epsilon: 2})
		for i := range 2 {
			if _, err := l.Debit(ctx, pure("r", 1)); err != nil {
				t.Fatalf("charge %d of ε = 1 under a cap of 2: %v", i+1, err)
			}
		}
		_, err := l.Debit(ctx, pure("over", 1e-3))
		if !errors.Is(err, dp.ErrBudgetExceeded) {
			t.Fatalf("a charge over the cap: err = %v, want dp.ErrBudgetExceeded", err)
		}
		s, err := l.Summary(c.now())
		if err != nil || len(s.Charges) != 2 || s.Epsilon != 2 {
			t.Fatalf("after a refusal: %d charges, ε = %v, err %v; want 2 and 2: a refused charge is not recorded", len(s.Charges), s.Epsilon, err)
		}
	})

	t.Run("CapBoundaryIsExact", func(t *testing.T) {
		l, _ := newLedger(t, dp.Budget{Epsilon: 1.5})
		if _, err := l.Debit(ctx, pure("half", 0.5)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Debit(ctx, pure("over", 1.0*(1+1e-6))); !errors.Is(err, dp.ErrBudgetExceeded) {
			t.Errorf("a charge over the cap by a relative 1e-6: err = %v, want dp.ErrBudgetExceeded", err)
		}
		if _, err := l.Debit(ctx, pure("exact", 1.0)); err != nil {
			t.Errorf("a charge landing exactly on the cap was refused: %v", err)
		}
		if _, err := l.Debit(ctx, pure("tiny", 1e-9)); !errors.Is(err, dp.ErrBudgetExceeded) {
			t.Errorf("a charge past a full cap: err = %v, want dp.ErrBudgetExceeded", err)
		}
	})

	t.Run("DeltaCap", func(t *testing.T) {
		l, _ := newLedger(t, dp.Budget{Epsilon: 100, Delta: 1e-6})
		sel := dp.Charge{Release: "threshold", Cost: dp.Cost{PureEpsilon: 0.1, PureRho: 0.005, Delta: 6e-7}, Epsilon: 0.1, Delta: 6e-7}
		if _, err := l.Debit(ctx, sel); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Debit(ctx, sel); !errors.Is(err, dp.ErrBudgetExceeded) {
			t.Errorf("thresholding past the δ cap: err = %v, want dp.ErrBudgetExceeded", err)
		}
	})

	t.Run("DeltaCapBoundaryIsExact", func(t *testing.T) {
		// δ adds up exactly in binary for these values: 2⁻²¹ + 2⁻²¹ = 2⁻²⁰.
		capDelta := math.Ldexp(1, -20)
		l, _ := newLedger(t, dp.Budget{Epsilon: 100, Delta: capDelta})
		sel := func(name string, delta float64) dp.Charge {
			return dp.Charge{Release: name, Cost: dp.Cost{PureEpsilon: 0.1, PureRho: 0.005, Delta: delta}, Epsilon: 0.1, Delta: delta}
		}
		if _, err := l.Debit(ctx, sel("half", capDelta/2)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Debit(ctx, sel("over", capDelta/2*(1+1e-6))); !errors.Is(err, dp.ErrBudgetExceeded) {
			t.Errorf("δ over the cap by a relative 1e-6: err = %v, want dp.ErrBudgetExceeded", err)
		}
		if _, err := l.Debit(ctx, sel("exact", capDelta/2)); err != nil {
			t.Errorf("δ landing exactly on the cap was refused: %v", err)
		}
		if _, err := l.Debit(ctx, sel("tiny", capDelta*1e-9)); !errors.Is(err, dp.ErrBudgetExceeded) {
			t.Errorf("δ past a full cap: err = %v, want dp.ErrBudgetExceeded", err)
		}
	})

	t.Run("RollingHorizon", func(t *testing.T) {
		l, c := newLedger(t, dp.Budget{Epsilon: 1, Horizon: time.Hour})
		if _, err := l.Debit(ctx, pure("first", 1)); err != nil {
			t.Fatal(err)
		}
		c.add(30 * time.Minute)
		if _, err := l.Debit(ctx, pure("too soon", 0.5)); !errors.Is(err, dp.ErrBudgetExceeded) {
			t.Errorf("within the horizon: err = %v, want dp.ErrBudgetExceeded", err)
		}
		c.add(30*time.Minute + time.Second)
		s, err := l.Summary(c.now())
		if err != nil || len(s.Charges) != 0 || s.AllCharges != 1 {
			t.Errorf("past the horizon: %d charges count (%d in all), err %v; want 0 (1 in all)", len(s.Charges), s.AllCharges, err)
		}
		if _, err := l.Debit(ctx, pure("later", 1)); err != nil {
			t.Errorf("a charge after the horizon was refused: %v", err)
		}
	})

	t.Run("OwnsTime", func(t *testing.T) {
		// A charge dated by its caller could leave the horizon early (dated
		// in the past) or count only later (dated in the future): with a cap
		// of 1.05 and a 1 h horizon, charges of ε = 1 dated now, +2 h and
		// +4 h would compose to more than the cap at some instant.
		l, c := newLedger(t, dp.Budget{Epsilon: 1.05, Horizon: time.Hour})
		if _, err := l.Debit(ctx, pure("now", 1)); err != nil {
			t.Fatal(err)
		}
		for _, off := range []time.Duration{2 * time.Hour, 4 * time.Hour, -59 * time.Minute, -2 * time.Hour, dp.MaxChargeSkew + time.Second, -dp.MaxChargeSkew - time.Second} {
			ch := pure("dated", 1)
			ch.At = c.now().Add(off)
			if _, err := l.Debit(ctx, ch); !errors.Is(err, dp.ErrChargeTime) {
				t.Errorf("a charge dated %v from the ledger's clock: err = %v, want dp.ErrChargeTime", off, err)
			}
		}
		ch := pure("small", 0.01)
		ch.At = c.now().Add(dp.MaxChargeSkew / 2)
		got, err := l.Debit(ctx, ch)
		if err != nil {
			t.Fatalf("a charge dated within MaxChargeSkew: %v", err)
		}
		if !got.At.Equal(c.now()) {
			t.Errorf("a charge dated within MaxChargeSkew was recorded at %v, want the ledger's clock %v", got.At, c.now())
		}
		if s, err := l.Summary(c.now()); err != nil || s.AllCharges != 2 {
			t.Errorf("%d charges recorded (err %v), want 2: refused charges are not recorded", s.AllCharges, err)
		}
	})

	t.Run("ConcurrentDebitsNeverOverspend", func(t *testing.T) {
		const cap, tries = 5, 40
		l, c := newLedger(t, dp.Budget{Epsilon: cap})
		var wg sync.WaitGroup
		var mu sync.Mutex
		seqs := map[uint64]bool{}
		refused, other := 0, 0
		for range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := l.Debit(ctx, pure("concurrent", 1))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					seqs[got.Seq] = true
				case errors.Is(err, dp.ErrBudgetExceeded):
					refused++
				default:
					other++
				}
			}()
		}
		wg.Wait()
		if len(seqs) != cap || refused != tries-cap || other != 0 {
			t.Fatalf("%d accepted (distinct Seq), %d refused, %d other errors; want %d, %d, 0", len(seqs), refused, other, cap, tries-cap)
		}
		for s := uint64(1); s <= cap; s++ {
			if !seqs[s] {
				t.Errorf("Seq %d missing: sequence numbers must run 1, 2, ... without gaps", s)
			}
		}
		s, err := l.Summary(c.now())
		if err != nil || s.Epsilon != cap {
			t.Errorf("composed ε = %v (err %v), want %d", s.Epsilon, err, cap)
		}
	})

	t.Run("RefusesInvalidCharges", func(t *testing.T) {
		l, c := newLedger(t, dp.Budget{Epsilon: 10, Delta: 1e-6})
		for _, bad := range []dp.Charge{
			{Release: "empty"},
			{Release: "NaN", Cost: dp.Cost{Rho: math.NaN()}},
			{Release: "negative", Cost: dp.Cost{PureEpsilon: -1}},
			{Release: "infinite", Cost: dp.Cost{Rho: math.Inf(1)}},
		} {
			if _, err := l.Debit(ctx, bad); err == nil {
				t.Errorf("charge %q accepted", bad.Release)
			}
		}
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Debit(canceled, pure("canceled", 1)); err == nil {
			t.Error("Debit with a canceled context succeeded")
		}
		if s, err := l.Summary(c.now()); err != nil || s.AllCharges != 0 {
			t.Errorf("refused charges were recorded: %d (err %v)", s.AllCharges, err)
		}
	})

	if h.Reopen == nil {
		return
	}
	t.Run("SurvivesReopen", func(t *testing.T) {
		b := dp.Budget{Epsilon: 3, Horizon: 24 * time.Hour}
		l, c := newLedger(t, b)
		for range 2 {
			if _, err := l.Debit(ctx, pure("before", 1)); err != nil {
				t.Fatal(err)
			}
		}
		before, err := l.Summary(c.now())
		if err != nil {
			t.Fatal(err)
		}
		l = h.Reopen(t, l)
		after, err := l.Summary(c.now())
		if err != nil {
			t.Fatalf("Summary after reopening: %v", err)
		}
		if after.LedgerID != before.LedgerID {
			t.Errorf("the LedgerID changed across the reopen: %q, was %q", after.LedgerID, before.LedgerID)
		}
		if len(after.Charges) != 2 || after.Epsilon != before.Epsilon || after.Budget != b {
			t.Fatalf("after reopening: %d charges, ε = %v, cap %+v; want %d, %v, %+v",
				len(after.Charges), after.Epsilon, after.Budget, len(before.Charges), before.Epsilon, b)
		}
		for i := range after.Charges {
			if after.Charges[i] != before.Charges[i] {
				t.Errorf("charge %d changed across the reopen: %+v, was %+v", i+1, after.Charges[i], before.Charges[i])
			}
		}
		got, err := l.Debit(ctx, pure("after", 1))
		if err != nil || got.Seq != 3 {
			t.Fatalf("Debit after reopening: %+v, %v; want Seq 3", got, err)
		}
		if _, err := l.Debit(ctx, pure("over", 0.5)); !errors.Is(err, dp.ErrBudgetExceeded) {
			t.Errorf("the cap was not enforced across the reopen: err = %v", err)
		}
	})
}
