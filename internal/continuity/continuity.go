package continuity

import (
	"errors"
	"fmt"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/recommend"
)

// ErrLedgerBehind is wrapped when the ledger is not the one, or not as new
// as the one, that the previous model was charged to.
var ErrLedgerBehind = errors.New("the budget ledger is behind the previous model")

// Check compares ledger summary s with the report of the model snapshot
// at modelPath, the previous release of the same pipeline. It returns nil
// when there is no such model, when the model or the ledger predates
// ledger IDs, or when the model is not private; an error wrapping
// ErrLedgerBehind when the model was charged to another ledger (unless
// newLedger: the operator created a new ledger on purpose) or to a later
// charge than the ledger holds. A snapshot that cannot be read is not
// checked: the release replaces it.
func Check(modelPath string, s dp.Summary, newLedger bool) error {
	m, err := recommend.LoadModel(modelPath)
	if err != nil {
		return nil
	}
	prev := m.Report().Ledger
	if prev == nil || prev.ID == "" || s.LedgerID == "" {
		return nil
	}
	if prev.ID != s.LedgerID {
		if newLedger {
			return nil
		}
		return fmt.Errorf("%w: %s was charged to ledger %s, but this ledger is %s; "+
			"check the ledger path, or, if you replaced the ledger on purpose, move the old model away first",
			ErrLedgerBehind, modelPath, prev.ID, s.LedgerID)
	}
	if prev.Seq > uint64(s.AllCharges) {
		return fmt.Errorf("%w: %s was charge %d of ledger %s, which now holds only %d charges: "+
			"the ledger was restored from an older copy or truncated, and releasing against it would spend budget twice; "+
			"restore the newest copy of the ledger",
			ErrLedgerBehind, modelPath, prev.Seq, s.LedgerID, s.AllCharges)
	}
	return nil
}
