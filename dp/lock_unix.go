//go:build unix

package dp

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking advisory lock on f; it is
// released when f is closed.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
