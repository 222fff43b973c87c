//go:build unix

package pseudonym

import (
	"io/fs"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// ownedBy is a file whose Unix owner is uid.
type ownedBy uint32

func (ownedBy) Name() string       { return "key" }
func (ownedBy) Size() int64        { return 65 }
func (ownedBy) Mode() fs.FileMode  { return 0o600 }
func (ownedBy) ModTime() time.Time { return time.Time{} }
func (ownedBy) IsDir() bool        { return false }
func (o ownedBy) Sys() any         { return &syscall.Stat_t{Uid: uint32(o)} }

func TestCheckOwner(t *testing.T) {
	me := uint32(os.Geteuid())
	assert.NoError(t, checkOwner(ownedBy(me)), "owned by this process's user")
	assert.NoError(t, checkOwner(ownedBy(0)), "owned by root")
	assert.ErrorContains(t, checkOwner(ownedBy(me+1)), "not by this process's user", "owned by someone else")
}
