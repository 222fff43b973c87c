//go:build !unix

package dp

import "os"

// lockFile is a no-op where flock is not available: one process per ledger
// file is then the caller's responsibility.
func lockFile(*os.File) error { return nil }
