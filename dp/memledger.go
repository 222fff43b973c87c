package dp

import (
	"context"
	"sync"
	"time"
)

// memLedger is NewMemLedger's Ledger.
type memLedger struct {
	budget Budget
	now    func() time.Time
	id     string

	mu      sync.Mutex
	charges []Charge
}

var _ Ledger = (*memLedger)(nil)

// NewMemLedger returns an empty Ledger in memory with cap b; now is the
// clock (time.Now when nil). It enforces its Budget like a FileLedger, but
// forgets everything when the process ends: it is for tests, benchmarks and
// experiments; never let it guard real releases. It is safe for concurrent
// use.
func NewMemLedger(b Budget, now func() time.Time) (Ledger, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &memLedger{budget: b, now: now, id: newLedgerID()}, nil
}

// Debit implements Ledger.
func (l *memLedger) Debit(ctx context.Context, c Charge) (Charge, error) {
	if err := ctx.Err(); err != nil {
		return Charge{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c.Seq = uint64(len(l.charges) + 1)
	if err := stamp(&c, l.now()); err != nil {
		return Charge{}, err
	}
	if err := CheckBudget(l.budget, l.charges, c); err != nil {
		return Charge{}, err
	}
	l.charges = append(l.charges, c)
	return c, nil
}

// Summary implements Ledger.
func (l *memLedger) Summary(now time.Time) (Summary, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := Summarize(l.budget, append([]Charge(nil), l.charges...), now)
	s.LedgerID = l.id
	return s, err
}
