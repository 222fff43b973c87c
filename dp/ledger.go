package dp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/privrec/privrec/internal/human"
)

// Budget is a ledger's cap: the composed spend of all charges within the
// horizon must stay within (Epsilon, Delta).
type Budget struct {
	// Epsilon is the cap on composed ε, > 0.
	Epsilon float64 `json:"epsilon"`
	// Delta is the δ at which composed ε is measured and the cap on δ spent by
	// thresholding, in [0, 1).
	Delta float64 `json:"delta"`
	// Horizon is the rolling window over which charges compose; charges
	// older than Horizon no longer count. Zero means forever.
	Horizon time.Duration `json:"horizon_ns"`
}

// Validate reports whether b is usable.
func (b Budget) Validate() error {
	switch {
	case math.IsNaN(b.Epsilon) || math.IsInf(b.Epsilon, 0) || b.Epsilon <= 0:
		return fmt.Errorf("dp: invalid Budget.Epsilon = %v: must be a finite number > 0", b.Epsilon)
	case math.IsNaN(b.Delta) || b.Delta < 0 || b.Delta >= 1:
		return fmt.Errorf("dp: invalid Budget.Delta = %v: must be in [0, 1)", b.Delta)
	case b.Horizon < 0:
		return fmt.Errorf("dp: invalid Budget.Horizon = %v: must be >= 0", b.Horizon)
	}
	return nil
}

// Charge is one release's entry in a ledger.
type Charge struct {
	// Seq numbers charges from 1; the ledger assigns it.
	Seq uint64 `json:"seq"`
	// Release names the release (not a person), e.g. a random hex string.
	Release string `json:"release"`
	// At is when the charge was made. The ledger dates every charge with its
	// own clock: leave At zero, or set it within MaxChargeSkew of the
	// ledger's clock (Debit refuses it otherwise, with ErrChargeTime). A
	// caller-chosen date could otherwise move a charge out of the rolling
	// horizon, early or late, and let the composed spend exceed the cap.
	At time.Time `json:"at"`
	// Cost is what the release spends.
	Cost Cost `json:"cost"`
	// Epsilon and Delta are the release's own (ε, δ), for people to read.
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// Note describes the release for people, e.g. its window and mechanism.
	// It must not contain identifiers of people.
	Note string `json:"note,omitempty"`
}

// Summary is the state of a ledger at a point in time.
type Summary struct {
	// Budget is the ledger's cap.
	Budget Budget `json:"budget"`
	// Charges are the charges that count now (within the horizon), oldest first.
	Charges []Charge `json:"charges"`
	// Total is their composed cost.
	Total Cost `json:"total"`
	// Epsilon is Total's ε at Budget.Delta; Delta is the δ spent on
	// thresholding (included in Budget.Delta).
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// AllCharges counts every charge ever recorded, expired ones included:
	// it is the sequence number of the newest charge.
	AllCharges int `json:"all_charges"`
	// LedgerID identifies the ledger: random, drawn when it was created, so
	// that a model's report can name the ledger it was charged to. Empty for
	// ledgers created before IDs existed.
	LedgerID string `json:"ledger_id,omitempty"`
}

// Ledger is the durable record of what releases have spent. Implementations
// must make Debit durable before returning nil, must date every charge with
// their own clock (refusing, with ErrChargeTime, an At further than
// MaxChargeSkew from it), and must refuse a charge that would take the
// composed spend over the budget (see CheckBudget). dp/ledgertest checks all
// three.
type Ledger interface {
	// Debit records c, or returns an error wrapping ErrBudgetExceeded when c
	// would overspend. After nil is returned, the charge survives a crash.
	Debit(ctx context.Context, c Charge) (Charge, error)
	// Summary returns the spend that counts at time now.
	Summary(now time.Time) (Summary, error)
}

// ErrBudgetExceeded is wrapped by Debit when a charge would overspend.
var ErrBudgetExceeded = errors.New("dp: privacy budget exceeded")

// ErrChargeTime is wrapped by Debit when a charge's At is further than
// MaxChargeSkew from the ledger's clock.
var ErrChargeTime = errors.New("dp: charge is dated away from the ledger's clock")

// MaxChargeSkew is how far a charge's At may be from the ledger's clock. It
// allows for the few seconds between a caller reading its clock and the
// debit, not for dating a charge by its data's window.
const MaxChargeSkew = time.Minute

// stamp dates c with the ledger's clock now, or refuses an At that is
// further than MaxChargeSkew from it. The ledgers here call it under their
// write lock, before CheckBudget.
func stamp(c *Charge, now time.Time) error {
	if !c.At.IsZero() {
		if d := c.At.Sub(now); d > MaxChargeSkew || d < -MaxChargeSkew {
			return fmt.Errorf("%w: dated %s, the ledger's clock says %s (leave Charge.At zero)",
				ErrChargeTime, c.At.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	c.At = now.UTC()
	return nil
}

// ErrLedgerCorrupt is wrapped when a ledger's stored records fail their checks.
var ErrLedgerCorrupt = errors.New("dp: ledger is corrupt")

// Summarize composes the charges that count at time now under budget b.
func Summarize(b Budget, all []Charge, now time.Time) (Summary, error) {
	s := Summary{Budget: b, AllCharges: len(all)}
	for _, c := range all {
		if b.Horizon > 0 && !c.At.After(now.Add(-b.Horizon)) {
			continue
		}
		s.Charges = append(s.Charges, c)
		s.Total = s.Total.Add(c.Cost)
	}
	s.Delta = s.Total.Delta
	if s.Total.Delta > b.Delta {
		s.Epsilon = math.Inf(1)
		return s, nil
	}
	eps, err := s.Total.Epsilon(b.Delta)
	if err != nil {
		return s, err
	}
	s.Epsilon = eps
	return s, nil
}

// CheckBudget returns an error wrapping ErrBudgetExceeded if adding c to the
// charges that count at c.At would exceed b. Ledger implementations call it
// under their write lock.
func CheckBudget(b Budget, all []Charge, c Charge) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if err := validateCost(c.Cost); err != nil {
		return err
	}
	s, err := Summarize(b, append(all[:len(all):len(all)], c), c.At)
	if err != nil {
		return err
	}
	if s.Total.Delta > b.Delta {
		return fmt.Errorf("%w: thresholding would spend δ = %g of the cap δ = %g", ErrBudgetExceeded, s.Total.Delta, b.Delta)
	}
	if s.Epsilon > b.Epsilon*(1+1e-12) {
		before, _ := Summarize(b, all, c.At)
		return fmt.Errorf("%w: this release needs ε = %.4g; %.4g of the cap ε = %.4g is already spent (δ = %g, %s)",
			ErrBudgetExceeded, c.Epsilon, before.Epsilon, b.Epsilon, b.Delta, horizonText(b.Horizon))
	}
	return nil
}

func horizonText(h time.Duration) string {
	if h == 0 {
		return "no horizon"
	}
	return "horizon " + human.Duration(h)
}

func validateCost(c Cost) error {
	for _, v := range []float64{c.Rho, c.PureEpsilon, c.PureRho, c.Delta} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("dp: invalid charge cost %+v: parts must be finite and >= 0", c)
		}
	}
	if c == (Cost{}) {
		return errors.New("dp: refusing an empty charge: every release spends something")
	}
	return nil
}
