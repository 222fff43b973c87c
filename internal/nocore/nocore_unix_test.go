//go:build unix

package nocore

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDisable(t *testing.T) {
	require.NoError(t, Disable())
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_CORE, &lim))
	assert.Zero(t, lim.Cur, "soft limit")
	assert.Zero(t, lim.Max, "hard limit")
}
