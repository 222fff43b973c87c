//go:build unix

package pseudonym

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwner refuses a key file owned by someone other than the user the
// process runs as or root: whoever owns the file can change its mode.
func checkOwner(fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid && st.Uid != 0 {
		return fmt.Errorf("is owned by uid %d, not by this process's user (uid %d) or root", st.Uid, uid)
	}
	return nil
}
