package httpapi

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServingLinksNoKeyOrBudget checks the import graph: the serving
// packages must not link the keyring, the collector, the release, the
// budget ledger or the DP library. A serving process then holds no key, no
// per-user state and no budget, whatever its code does.
func TestServingLinksNoKeyOrBudget(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	require.NoError(t, err, "the go command lists the import graph")
	forbidden := []string{
		"github.com/privrec/privrec/pseudonym",
		"github.com/privrec/privrec/collect",
		"github.com/privrec/privrec/release",
		"github.com/privrec/privrec/dp",
		"github.com/privrec/privrec/httpapi/ingest",
		"github.com/google/differential-privacy",
	}
	for _, pkg := range []string{"github.com/privrec/privrec/httpapi", "github.com/privrec/privrec/recommend"} {
		out, err := exec.Command(goCmd, "list", "-deps", pkg).CombinedOutput()
		require.NoError(t, err, "%s", out)
		deps := strings.Fields(string(out))
		require.Contains(t, deps, pkg, "go list answered")
		for _, d := range deps {
			for _, f := range forbidden {
				assert.False(t, d == f || strings.HasPrefix(d, f+"/"), "%s links %s", pkg, d)
			}
		}
	}
}

// TestLibraryLinksOnlyItsCore checks the promise the README makes to
// importers: the library packages link the standard library, the DP
// library (with glog, which it uses) and gonum, nothing else; the
// Prometheus client, fsnotify, cobra and the rest stay with the commands.
func TestLibraryLinksOnlyItsCore(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	require.NoError(t, err, "the go command lists the import graph")
	library := []string{"pseudonym", "events", "collect", "release", "dp", "recommend", "httpapi", "httpapi/ingest"}
	allowed := []string{
		"github.com/privrec/privrec/",
		"github.com/google/differential-privacy/go/v2/",
		"github.com/golang/glog",
		"gonum.org/v1/gonum/",
	}
	args := []string{"list", "-deps"}
	for _, p := range library {
		args = append(args, "github.com/privrec/privrec/"+p)
	}
	out, err := exec.Command(goCmd, args...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/privrec/privrec/httpapi", "go list answered")
	for _, d := range deps {
		first, _, _ := strings.Cut(d, "/")
		if !strings.Contains(first, ".") || strings.HasPrefix(d, "vendor/") {
			continue // the standard library
		}
		ok := false
		for _, a := range allowed {
			ok = ok || strings.HasPrefix(d, a) || d == strings.TrimSuffix(a, "/")
		}
		assert.True(t, ok, "the library links %s", d)
	}
}
