package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The systemd units in deploy/ pass systemd-analyze verify with no
// warning, pointed at a freshly built privrec (verify refuses a missing
// executable). Skipped where systemd-analyze is not installed.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	if testing.Short() {
		t.Skip("builds the command")
	}
	dir := t.TempDir()
	bin := privrecBinary(t)
	units, err := filepath.Glob(filepath.Join("..", "..", "deploy", "privrec-*"))
	require.NoError(t, err)
	require.Len(t, units, 4)
	var names []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		require.NoError(t, err)
		text := strings.ReplaceAll(string(b), "/usr/local/bin/privrec", bin)
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(u)), []byte(text), 0o644))
		names = append(names, filepath.Base(u))
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, names...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "verify warns")
}
