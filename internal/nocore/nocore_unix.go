//go:build unix

package nocore

import (
	"fmt"
	"syscall"
)

// Disable sets the process's core-file size limit (RLIMIT_CORE) to zero,
// soft and hard, so that neither this process nor its children can dump
// core. It cannot be raised again without privileges.
func Disable() error {
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		return fmt.Errorf("nocore: disable core dumps: %w", err)
	}
	return nil
}
