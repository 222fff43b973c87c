package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/httpapi"
	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/recommend"
)

var update = flag.Bool("update", false, "rewrite testdata/model.prm, testdata/budget.ledger and the golden files")

// privrec runs the command line in-process.
func privrec(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// sampleFiles writes the embedded sample and a key to a temp dir.
func sampleFiles(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	events, err := sampledata.EventsCSV()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "events.csv"), events, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "catalog.csv"), sampledata.CatalogCSV(), 0o600))
	code, _, stderr := privrec(t, "keygen", "--out", filepath.Join(dir, "privrec.key"))
	require.Equal(t, 0, code, stderr)
	return dir
}

// buildArgs is a build of the sample files in dir, creating the ledger
// (--new-ledger) when it does not exist yet.
func buildArgs(dir string, extra ...string) []string {
	p := func(n string) string { return filepath.Join(dir, n) }
	args := []string{"build", "--events", p("events.csv"), "--catalog", p("catalog.csv"), "--key-file", p("privrec.key"),
		"--ledger", p("budget.ledger"), "--budget-epsilon", "2", "--budget-delta", "1e-5",
		"--epsilon", "1", "--delta", "1e-5", "--head-size", "300", "--out", p("model.prm")}
	if _, err := os.Stat(p("budget.ledger")); errors.Is(err, fs.ErrNotExist) {
		args = append(args, "--new-ledger")
	}
	return append(args, extra...)
}

// normalize removes what legitimately changes between runs: paths, release
// IDs, timestamps, noise-dependent counts and sizes.
func normalize(s, dir string) string {
	s = strings.ReplaceAll(s, dir, "DIR")
	for _, r := range []struct{ re, with string }{
		{`\b[0-9a-f]{32}\b`, "LEDGER"},
		{`release [0-9a-f]{16}`, "release RELEASE"},
		{`"release(_id)?": "[0-9a-f]{16}"`, `"release$1": "RELEASE"`},
		{`\b[0-9a-f]{16}\b`, "RELEASE"},
		{`Built \S+ by`, "Built TIME by"},
		{`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z  `, "TIME  "},
		{`\d+ neighbour entries`, "N neighbour entries"},
		// What the release chose and why depends on noisy values.
		{`(?m)^- (categories|auto): .*$`, "- $1: DECISION"},
		{`concentration α = [0-9.e+-]+`, "concentration α = A"},
		{`answers \d+% of`, "answers P% of"},
		{`\(\d+ bytes\)`, "(N bytes)"},
	} {
		s = regexp.MustCompile(r.re).ReplaceAllString(s, r.with)
	}
	return s
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run 'go test ./internal/cli -update' to create golden files")
	assert.Equal(t, string(want), got, "golden %s differs (run with -update if the change is intended)", name)
}

// TestGoldenBuild builds a model from the embedded sample. With -update it
// also refreshes the committed model and ledger the other golden tests read.
func TestGoldenBuild(t *testing.T) {
	dir := sampleFiles(t)
	code, out, stderr := privrec(t, buildArgs(dir)...)
	require.Equal(t, 0, code, stderr)
	golden(t, "build.txt", normalize(out, dir))
	if *update {
		for _, f := range []string{"model.prm", "budget.ledger"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join("testdata", f), b, 0o644))
		}
	}
}

func TestGoldenQueries(t *testing.T) {
	model := filepath.Join("testdata", "model.prm")
	cases := []struct {
		name string
		args []string
	}{
		{"similar.txt", []string{"similar", "--model", model, "22423", "-n", "5"}},
		{"recommend.txt", []string{"recommend", "--model", model, "--context", "22697,22698,NOPE", "-n", "5"}},
		{"recommend.json", []string{"recommend", "--model", model, "--context", "22697", "-n", "3", "--json"}},
		{"popular.txt", []string{"popular", "--model", model, "--category", "christmas", "-n", "3"}},
		{"report.md", []string{"report", "--model", model}},
		{"report.json", []string{"report", "--model", model, "--format", "json"}},
		{"ledger.txt", []string{"ledger", "--ledger", filepath.Join("testdata", "budget.ledger")}},
		{"help.txt", []string{"--help"}},
		{"build-help.txt", []string{"build", "--help"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := privrec(t, tc.args...)
			require.Equal(t, 0, code, stderr)
			golden(t, tc.name, out)
		})
	}
}

func TestErrorPathsAndExitCodes(t *testing.T) {
	dir := sampleFiles(t)
	p := func(n string) string { return filepath.Join(dir, n) }

	insecure := p("insecure.key")
	b, err := os.ReadFile(p("privrec.key"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(insecure, b, 0o644))
	require.NoError(t, os.Chmod(insecure, 0o644))

	corrupt := p("corrupt.prm")
	m, err := os.ReadFile(filepath.Join("testdata", "model.prm"))
	require.NoError(t, err)
	m[len(m)/2] ^= 0xff
	require.NoError(t, os.WriteFile(corrupt, m, 0o600))

	bad := p("bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("user,item,kind,time\nu1,22423,purchase,2011-01-01T10:00:00Z\nu2,22423,smell,2011-01-01T10:00:00Z\nu3,NOPE,purchase,2011-01-01T10:00:00Z\n,22423,view,2011-01-02T00:00:00Z\n"), 0o600))

	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"unknown flag", []string{"report", "--modle", "x"}, exitUsage, "unknown flag"},
		{"missing model flag", []string{"report"}, exitUsage, "--model is required"},
		{"too many args", []string{"similar", "--model", "x", "a", "b"}, exitUsage, "takes 1 argument"},
		{"missing model file", []string{"report", "--model", p("nope.prm")}, exitFailure, "no such file"},
		{"corrupt model", []string{"similar", "--model", corrupt, "22423"}, exitData, "bad model snapshot"},
		{"missing events file", buildArgs(dir, "--events", p("nope.csv")), exitFailure, "no such file"},
		{"insecure key file", buildArgs(dir, "--key-file", insecure), exitData, "readable by group or others"},
		{"missing key file", buildArgs(dir, "--key-file", p("nokey")), exitData, "privrec keygen"},
		{"strict bad line, one line number", buildArgs(dir, "--events", bad, "--strict", "--window-start", "2011-01-01", "--window-end", "2011-02-01"), exitData, "line 3: column"},
		{"bad epsilon", buildArgs(dir, "--epsilon", "-1"), exitUsage, "invalid --epsilon -1"},
		{"zero epsilon", buildArgs(dir, "--epsilon", "0"), exitUsage, "invalid --epsilon 0: must be > 0"},
		{"unknown item", []string{"similar", "--model", filepath.Join("testdata", "model.prm"), "NOPE"}, exitUsage, `unknown item "NOPE"`},
		{"unknown category", []string{"popular", "--model", filepath.Join("testdata", "model.prm"), "--category", "nope"}, exitUsage, "unknown category nope; the model's categories are: "},
		{"strict bad line", buildArgs(dir, "--events", bad, "--strict", "--window-start", "2011-01-01", "--window-end", "2011-02-01"), exitData, "line 3"},
		{"new ledger without cap", []string{"build", "--events", bad, "--catalog", p("catalog.csv"), "--key-file", p("privrec.key"), "--ledger", p("new.ledger"), "--new-ledger", "--epsilon", "1", "--out", p("x.prm")}, exitUsage, "--budget-epsilon"},
		{"mistyped ledger path", []string{"build", "--events", bad, "--catalog", p("catalog.csv"), "--key-file", p("privrec.key"), "--ledger", p("budegt.ledger"), "--budget-epsilon", "2", "--budget-delta", "1e-5", "--epsilon", "1", "--out", p("x.prm")}, exitUsage, "does not exist"},
		{"bad budget", []string{"build", "--events", bad, "--catalog", p("catalog.csv"), "--key-file", p("privrec.key"), "--ledger", p("new.ledger"), "--new-ledger", "--budget-epsilon", "-2", "--budget-delta", "1e-5", "--epsilon", "1", "--out", p("x.prm")}, exitUsage, "invalid --budget-epsilon -2: must be a finite number > 0"},
		{"bad budget delta", []string{"build", "--events", bad, "--catalog", p("catalog.csv"), "--key-file", p("privrec.key"), "--ledger", p("new.ledger"), "--new-ledger", "--budget-epsilon", "2", "--budget-delta", "1.5", "--epsilon", "1", "--out", p("x.prm")}, exitUsage, "invalid --budget-delta 1.5: must be in [0, 1)"},
		{"corrupt ledger", []string{"ledger", "--ledger", corrupt}, exitData, "corrupt.prm is corrupt: line 1: not a privrec ledger"},
		{"keygen refuses overwrite", []string{"keygen", "--out", p("privrec.key")}, exitFailure, "refusing to overwrite"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := privrec(t, tc.args...)
			assert.Equal(t, tc.code, code, stderr)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
}

func TestBuildReportsBadLinesAndExhaustsBudget(t *testing.T) {
	dir := sampleFiles(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	bad := p("bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("user,item,kind,time\n"+
		"u1,22423,purchase,2011-01-01T10:00:00Z\nu1,22697,purchase,2011-01-01T10:00:00Z\n"+
		"u2,22423,smell,2011-01-01T10:00:00Z\nu3,NOPE,purchase,2011-01-01T10:00:00Z\n,22423,view,2011-01-02T00:00:00Z\n"), 0o600))
	args := func() []string {
		return buildArgs(dir, "--events", bad, "--window-start", "2011-01-01", "--window-end", "2011-02-01")
	}
	code, out, stderr := privrec(t, args()...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "Read 5 lines")
	assert.Contains(t, out, "2 events accepted, 3 bad lines")
	assert.Contains(t, out, "line 4: column 3 (kind): events: unknown event kind")
	assert.Contains(t, out, `line 5: collect: item not in catalog: "NOPE"`)
	assert.Contains(t, out, "line 6: column 1 (user): empty")
	assert.NotContains(t, out+stderr, "u1", "no user ID in the output")

	// The cap is ε = 2 at δ = 1e-5. Gaussian releases compose in ρ, so three
	// ε = 1 releases fit (1.99), the fourth does not.
	for i := 2; i <= 3; i++ {
		code, _, stderr = privrec(t, args()...)
		require.Equal(t, 0, code, "release %d: %s", i, stderr)
	}
	code, _, stderr = privrec(t, args()...)
	assert.Equal(t, exitBudget, code)
	assert.Contains(t, stderr, "privacy budget exceeded")
}

// build warns when the release is effectively popularity, and says
// nothing when it personalizes; --mechanisms chooses what is released.
func TestBuildWarnsWhenTheModelIsPopularity(t *testing.T) {
	for _, tc := range []struct {
		mechanisms string
		warn       bool
		code       int
	}{
		{"popularity", true, 0},
		{"auto", false, 0},
		{"popularity+categories", false, 0},
		{"popularity+embeddings", false, exitUsage},
	} {
		t.Run(tc.mechanisms, func(t *testing.T) {
			dir := sampleFiles(t)
			code, out, stderr := privrec(t, buildArgs(dir, "--mechanisms", tc.mechanisms)...)
			require.Equal(t, tc.code, code, stderr)
			if code != 0 {
				assert.Contains(t, stderr, `unknown mechanism "embeddings"`)
				return
			}
			assert.Equal(t, tc.warn, strings.Contains(stderr, "warning: this model is effectively popularity"), stderr)
			if tc.mechanisms == "auto" {
				assert.Contains(t, out, "(asked for: auto)")
			} else {
				assert.Contains(t, out, "- Mechanisms: "+tc.mechanisms+".\n")
			}
		})
	}
}

func TestDemoRuns(t *testing.T) {
	code, out, stderr := privrec(t, "demo", "--quiet")
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"$ privrec keygen", "$ privrec build", "# Privacy report", "$ privrec similar", "People who had 22423 also had:",
		"$ privrec recommend", "$ privrec ledger", "Spent: ε = ", "CC BY 4.0"} {
		assert.Contains(t, out, want)
	}
}

// privrec bench runs the harness; here on a small generic CSV so that the
// test needs no external data.
func TestBenchRuns(t *testing.T) {
	dir := t.TempDir()
	var sb strings.Builder
	sb.WriteString("user,item,time\n")
	for u := range 300 {
		g := u % 10 * 3
		for i := range 3 {
			fmt.Fprintf(&sb, "u%d,item%02d,2011-01-%02dT10:00:00Z\n", u, g+i, 1+i*(u/10%2)*3)
		}
	}
	events := filepath.Join(dir, "events.csv")
	require.NoError(t, os.WriteFile(events, []byte(sb.String()), 0o600))
	code, _, stderr := privrec(t, "bench", "--online-retail", "", "--csv", events, "--out", dir, "--quick", "--attack-trials", "5", "--k", "4", "--head-size", "30", "--quiet")
	require.Equal(t, 0, code, stderr)
	res, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	require.NoError(t, err)
	for _, want := range []string{"# privrec benchmark results", "Generated by `privrec bench", "| privrec | ∞ |", "Differencing attack", "results/"} {
		assert.Contains(t, string(res), want)
	}
	_, err = os.Stat(filepath.Join(dir, "results", "accuracy.csv"))
	require.NoError(t, err)
}

// Issue 10's restore scenario: a ledger restored from an older copy, or a
// ledger swapped for another, is refused before anything is charged,
// because the previous model's report names its ledger and its charge.
func TestBuildRefusesALedgerBehindThePreviousModel(t *testing.T) {
	dir := sampleFiles(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	build := func() (int, string) {
		code, _, stderr := privrec(t, buildArgs(dir, "--quiet")...)
		return code, stderr
	}
	code, stderr := build()
	require.Equal(t, 0, code, stderr)
	backup, err := os.ReadFile(p("budget.ledger"))
	require.NoError(t, err)
	code, stderr = build()
	require.Equal(t, 0, code, stderr)

	// Restore the older copy: the model at --out was charge 2, the ledger
	// holds 1.
	require.NoError(t, os.WriteFile(p("budget.ledger"), backup, 0o600))
	code, stderr = build()
	assert.Equal(t, exitData, code)
	assert.Contains(t, stderr, "restored from an older copy")
	_, charges, err := dp.ReadLedgerFile(p("budget.ledger"))
	require.NoError(t, err)
	assert.Len(t, charges, 1, "nothing was charged")

	// Another ledger: refused, unless it was created on purpose.
	other := buildArgs(dir, "--quiet", "--ledger", p("other.ledger"), "--new-ledger")
	code, _, stderr = privrec(t, other...)
	require.Equal(t, 0, code, "a deliberate new ledger: %s", stderr)
	code, stderr = build()
	assert.Equal(t, exitData, code, "the model was charged to other.ledger")
	assert.Contains(t, stderr, "was charged to ledger")
}

// --version names the build, the Go version and the DP library's version,
// which calibrates the noise. A test binary of a non-main package carries
// no module list, so the real command is built and asked.
func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"--version"}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "privrec version ")
	assert.Contains(t, out.String(), runtime.Version())
	assert.Equal(t, "0123456789ab+dirty (go1.99, differential-privacy/go v2.1.0)", versionOf(&debug.BuildInfo{
		GoVersion: "go1.99",
		Main:      debug.Module{Version: "(devel)"},
		Deps:      []*debug.Module{{Path: "github.com/google/differential-privacy/go/v2", Version: "v2.1.0"}},
		Settings:  []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}},
	}))
	if testing.Short() {
		return
	}
	b, err := exec.Command(privrecBinary(t), "--version").CombinedOutput()
	require.NoError(t, err, "%s", b)
	assert.Contains(t, string(b), "differential-privacy/go v2.1.0")
}

// Flags come from PRIVREC_* environment variables where the command line
// leaves them unset; the command line wins, and a bad value is a usage
// error that names the variable.
func TestFlagsFromEnvironment(t *testing.T) {
	model := filepath.Join("testdata", "model.prm")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string // in stdout, or stderr when code != 0
	}{
		{"model from the environment", map[string]string{"PRIVREC_MODEL": model, "PRIVREC_N": "2"}, []string{"popular"}, 0, "  2  "},
		{"the command line wins", map[string]string{"PRIVREC_MODEL": "no-such-file.prm"}, []string{"popular", "--model", model, "-n", "1"}, 0, "  1  "},
		{"a boolean", map[string]string{"PRIVREC_MODEL": model, "PRIVREC_JSON": "true"}, []string{"popular", "-n", "1"}, 0, `"items"`},
		{"a bad value names its variable", map[string]string{"PRIVREC_N": "many"}, []string{"popular", "--model", model}, exitUsage, "PRIVREC_N="},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := privrec(t, tc.args...)
			require.Equal(t, tc.code, code, stderr)
			if tc.code == 0 {
				assert.Contains(t, stdout, tc.want)
			} else {
				assert.Contains(t, stderr, tc.want)
			}
		})
	}
}

// cobra's shell completion is reachable through run.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, stdout, stderr := privrec(t, "completion", shell)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "privrec", shell)
	}
}

// Durations read as people write them in the ledger listing ("rolling
// horizon 375 days", not "9000h0m0s"), and a category query against a
// catalog without categories says so instead of listing nothing.
func TestOutputsForPeople(t *testing.T) {
	dir := sampleFiles(t)
	code, _, stderr := privrec(t, buildArgs(dir, "--budget-horizon", "9000h", "--quiet")...)
	require.Equal(t, 0, code, stderr)
	code, out, stderr := privrec(t, "ledger", "--ledger", filepath.Join(dir, "budget.ledger"))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "rolling horizon 375 days")
	assert.NotContains(t, out, "9000h")
	// JSON gives durations one way, as the report does.
	code, out, stderr = privrec(t, "ledger", "--json", "--ledger", filepath.Join(dir, "budget.ledger"))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"horizon": "9000h0m0s"`)
	assert.NotContains(t, out, "horizon_ns")
	code, out, stderr = privrec(t, "report", "--json", "--model", filepath.Join(dir, "model.prm"))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"horizon": "9000h0m0s"`)

	// The same events with a catalog of IDs only.
	var ids strings.Builder
	ids.WriteString("id\n")
	cat, err := os.ReadFile(filepath.Join(dir, "catalog.csv"))
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(cat)), "\n")[1:] {
		id, _, _ := strings.Cut(line, ",")
		ids.WriteString(id + "\n")
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ids.csv"), []byte(ids.String()), 0o600))
	plain := filepath.Join(dir, "plain.prm")
	code, _, stderr = privrec(t, buildArgs(dir, "--catalog", filepath.Join(dir, "ids.csv"), "--out", plain, "--budget-horizon", "9000h", "--quiet")...)
	require.Equal(t, 0, code, stderr)
	code, _, stderr = privrec(t, "popular", "--model", plain, "--category", "kitchen")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "unknown category kitchen; the model's catalog has no categories")
}

// The command and a default HTTP server accept the same n: the limit of
// one is the limit of the other.
func TestLimitsMatchTheHTTPAPI(t *testing.T) {
	model := filepath.Join("testdata", "model.prm")
	m, err := recommend.LoadModel(model)
	require.NoError(t, err)
	h := httpapi.NewHandler(func() *recommend.Model { return m }, httpapi.Options{Logger: slog.New(slog.DiscardHandler)})
	for _, n := range []int{0, 1, maxResults, maxResults + 1} {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("GET", "/v1/popular?n="+strconv.Itoa(n), nil))
		code, _, stderr := privrec(t, "popular", "--model", model, "-n", strconv.Itoa(n))
		assert.Equal(t, rr.Code == 200, code == 0, "n = %d: HTTP %d, command exit %d (%s)", n, rr.Code, code, stderr)
	}
}

var binary struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// privrecBinary builds cmd/privrec once per test run.
func privrecBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "privrec-bin-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "privrec")
		binary.out, binary.err = exec.Command("go", "build", "-o", binary.path, "../../cmd/privrec").CombinedOutput()
	})
	require.NoError(t, binary.err, "%s", binary.out)
	return binary.path
}

// Bad lines are reported by line number in file order, parse errors and
// refused events alike, although build hands the ingestor its events in
// batches: here bad lines sit inside, at the ends of and across batches.
func TestBuildReportsBadLinesInOrder(t *testing.T) {
	dir := sampleFiles(t)
	raw, err := os.ReadFile(filepath.Join(dir, "events.csv"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	lines = lines[:4*eventBatch]
	want := []int{3, eventBatch, eventBatch + 1, eventBatch + 2, 2*eventBatch + 7, 3*eventBatch + 1}
	for k, n := range want { // line n is lines[n-1]
		f := strings.Split(lines[n-1], ",")
		if k%2 == 0 {
			f[1] = "NOPE" // not in the catalog: the ingestor refuses it
		} else {
			f[2] = "smell" // the reader refuses it
		}
		lines[n-1] = strings.Join(f, ",")
	}
	events := filepath.Join(dir, "bad-events.csv")
	require.NoError(t, os.WriteFile(events, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	code, stdout, stderr := privrec(t, append(buildArgs(dir, "--events", events, "--show-bad", "10"), "--json")...)
	require.Equal(t, 0, code, stderr)
	var out buildOut
	require.NoError(t, json.Unmarshal([]byte(stdout), &out))
	var got []int
	for _, b := range out.FirstBad {
		got = append(got, b.Line)
	}
	assert.Equal(t, want, got)
	assert.Equal(t, len(want), out.Bad)
	assert.Equal(t, len(lines)-1-len(want), out.Accepted+out.Skipped)
}
