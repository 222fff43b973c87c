package pipeline

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A worker sets up many DoFns; FromEnv unsets the variable on the first
// read, so the others must share its keyring instead of failing.
func TestKeyringFromEnvIsReadOncePerProcess(t *testing.T) {
	t.Setenv("PRIVREC_TEST_BEAM_KEY", strings.Repeat("5a", 32))
	c := workerConfig{KeyEnv: "PRIVREC_TEST_BEAM_KEY"}
	first, err := c.keyring()
	require.NoError(t, err)
	_, set := os.LookupEnv("PRIVREC_TEST_BEAM_KEY")
	assert.False(t, set, "the secret stays in the environment")
	again, err := c.keyring()
	require.NoError(t, err)
	assert.Same(t, first, again)
}
