package continuity

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/dp"
)

// The cases that cannot be checked pass; the refusals are tested end to
// end in internal/cli (TestBuildRefusesALedgerBehindThePreviousModel).
func TestCheckPassesWhatItCannotCheck(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.prm")
	require.NoError(t, os.WriteFile(garbage, []byte("not a model"), 0o600))
	s := dp.Summary{LedgerID: "0123456789abcdef0123456789abcdef", AllCharges: 0}
	for _, path := range []string{filepath.Join(dir, "missing.prm"), garbage} {
		assert.NoError(t, Check(path, s, false), path)
	}
}
