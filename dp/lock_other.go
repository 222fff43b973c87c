//go:build !unix

package dp

import (
	"errors"
	"os"
)

// lockFile refuses where flock is not available: without a lock, two
// processes could both debit the ledger and together overspend its cap.
func lockFile(*os.File) error {
	return errors.New("file ledgers need an exclusive file lock, which privrec implements on Unix only; use a Unix host or your own dp.Ledger (run dp/ledgertest on it)")
}
