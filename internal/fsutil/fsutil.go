// Package fsutil holds file-system helpers shared by privrec's durable files.
package fsutil

import (
	"errors"
	"os"
)

// SyncDir fsyncs a directory, so that a file created, renamed or removed in
// it survives a crash. File systems that cannot sync directories are
// tolerated.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
