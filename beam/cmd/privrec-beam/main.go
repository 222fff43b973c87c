// Command privrec-beam builds a privrec model on Apache Beam: the same
// release as `privrec build`, run by Privacy on Beam on any Beam runner.
//
// Locally, with Beam's in-process prism runner (no servers):
//
//	go run ./cmd/privrec-beam --events 'events/*.csv' --catalog catalog.csv \
//	    --key-file privrec.key --ledger budget.ledger --new-ledger --budget-epsilon 10 --budget-delta 1e-5 \
//	    --window-start 2011-01-01 --window-end 2011-02-01 --epsilon 1 --out model.prm
//
// On a cluster, add Beam's own flags: --runner=flink or --runner=spark with
// --endpoint=HOST:8099 (the runner's Beam job service) and
// --environment_type=DOCKER, or --runner=dataflow with --project, --region
// and --temp_location. See the README's "Scale out on Beam" section.
//
// Exit codes: 0 success, 1 failure, 2 bad usage, 3 budget refused, 4 no
// event accepted.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs" // gs:// paths
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"

	"github.com/privrec/privrec/beam/pipeline"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/continuity"
	"github.com/privrec/privrec/internal/nocore"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

const (
	exitFailure = 1
	exitUsage   = 2
	exitBudget  = 3
	exitNoData  = 4
)

func main() {
	flag.Usage = usage
	flag.Parse()
	// Workers hold the master secret and pseudonyms: no core dumps.
	if err := nocore.Disable(); err != nil {
		fmt.Fprintln(os.Stderr, "privrec-beam: warning:", err)
	}
	beam.Init() // a worker started by a cluster runner never returns from here
	os.Exit(run(context.Background(), cli, os.Stdout, os.Stderr))
}

func usage() {
	fmt.Fprintf(flag.CommandLine.Output(), `privrec-beam builds a differentially private privrec model on Apache Beam.

Usage: privrec-beam --events GLOB --catalog FILE --key-file F --ledger F --epsilon E
                    --window-start T --window-end T --out model.prm [flags]

Flags (privrec's; Beam's own flags such as --runner, --endpoint, --environment_type,
--project, --region and --temp_location are listed with them):
`)
	flag.PrintDefaults()
}

type cliFlags struct {
	events, format, catalog, keyFile, keyEnv string
	keyPeriod                                time.Duration
	keyEpoch, windowStart, windowEnd         string
	ledger                                   string
	budget                                   dp.Budget
	newLedger                                bool
	params                                   release.Options
	mechanism, mechanisms                    string
	out, tempDir                             string
	nonPrivate, jsonOut                      bool
	timeout                                  time.Duration
}

// flags registers privrec's flags on fs (Beam's are already on the
// command line's flag set).
func flags(fs *flag.FlagSet) *cliFlags {
	f := &cliFlags{}
	defaults := release.Options{}.WithDefaults()
	fs.StringVar(&f.events, "events", "", "events file or pattern, on any Beam filesystem (required)")
	fs.StringVar(&f.format, "format", "auto", "csv, jsonl, online-retail, or auto (jsonl by extension, else by header)")
	fs.StringVar(&f.catalog, "catalog", "", "catalog CSV (id[,category][,name]) that every worker can read (required)")
	fs.StringVar(&f.keyFile, "key-file", "", "master secret from 'privrec keygen', mode 0600, at this path on every worker")
	fs.StringVar(&f.keyEnv, "key-env", "", "environment variable holding the master secret on every worker (instead of --key-file)")
	fs.DurationVar(&f.keyPeriod, "key-period", 0, "key period length (default: one period covering the window)")
	fs.StringVar(&f.keyEpoch, "key-epoch", "", "start of key period 0 (default: the Unix epoch with --key-period)")
	fs.StringVar(&f.windowStart, "window-start", "", "window start, RFC 3339 or YYYY-MM-DD (required)")
	fs.StringVar(&f.windowEnd, "window-end", "", "window end, exclusive (required)")
	fs.StringVar(&f.ledger, "ledger", "", "budget ledger (required unless --non-private; must exist unless --new-ledger)")
	fs.BoolVar(&f.newLedger, "new-ledger", false, "create the ledger (refused if it exists), with the cap given by --budget-*")
	fs.Float64Var(&f.budget.Epsilon, "budget-epsilon", 0, "cap on composed ε of a new ledger (with an existing one: must match)")
	fs.Float64Var(&f.budget.Delta, "budget-delta", 0, "δ of the cap of a new ledger")
	fs.DurationVar(&f.budget.Horizon, "budget-horizon", 0, "rolling horizon of the cap (0: forever)")
	fs.Float64Var(&f.params.Epsilon, "epsilon", 0, "ε of this release (required unless --non-private)")
	fs.Float64Var(&f.params.Delta, "delta", 1e-6, "δ of this release (0 with --mechanism laplace)")
	fs.StringVar(&f.mechanisms, "mechanisms", "popularity+pairs", "what to release: popularity+pairs or popularity (Beam does not run the core's auto, categories)")
	fs.StringVar(&f.mechanism, "mechanism", "gaussian", "gaussian or laplace")
	fs.IntVar(&f.params.K, "k", defaults.K, "max items per user per window")
	fs.Float64Var(&f.params.ItemShare, "item-share", defaults.ItemShare, "share of the budget for item counts")
	fs.IntVar(&f.params.HeadSize, "head-size", defaults.HeadSize, "head items whose pairs are released")
	fs.IntVar(&f.params.Neighbors, "neighbors", defaults.Neighbors, "neighbours kept per item")
	fs.StringVar(&f.out, "out", "", "model snapshot to write, a local path (required)")
	fs.StringVar(&f.tempDir, "temp-dir", "", "directory on a Beam filesystem for the released counts (default: next to --out)")
	fs.DurationVar(&f.timeout, "timeout", 0, "cancel the job if it has not finished after this long (0: no limit); a charged ledger stays charged")
	fs.BoolVar(&f.nonPrivate, "non-private", false, "no noise, no ledger: an ε = ∞ reference model for tests and benchmarks, never for serving")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	return f
}

var cli = flags(flag.CommandLine)

type usageError struct{ error }

// run executes one release and returns the exit code.
func run(ctx context.Context, f *cliFlags, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	res, err := runRelease(ctx, f, log)
	if err != nil {
		fmt.Fprintf(stderr, "privrec-beam: %v\n", err)
		var ue usageError
		switch {
		case errors.As(err, &ue):
			return exitUsage
		case errors.Is(err, dp.ErrBudgetExceeded):
			return exitBudget
		case errors.Is(err, pipeline.ErrNoEvents):
			return exitNoData
		}
		return exitFailure
	}
	if err := recommend.SaveModel(res.Model, f.out); err != nil {
		fmt.Fprintf(stderr, "privrec-beam: %v\n", err)
		return exitFailure
	}
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Model  string           `json:"model"`
			Lines  pipeline.Stats   `json:"lines"`
			Report recommend.Report `json:"report"`
		}{f.out, res.Stats, res.Model.Report()}); err != nil {
			return exitFailure
		}
		return 0
	}
	fmt.Fprintf(stdout, "%d events accepted, %d bad lines, %d skipped.\n", res.Stats.Accepted, res.Stats.Bad, res.Stats.Skipped)
	for _, b := range res.Stats.FirstBad {
		fmt.Fprintf(stdout, "  %s\n", b)
	}
	fmt.Fprintf(stdout, "Wrote %s.\n\n%s", f.out, res.Model.Report().Markdown())
	return 0
}

func runRelease(ctx context.Context, f *cliFlags, log *slog.Logger) (*pipeline.Result, error) {
	for name, v := range map[string]string{"--events": f.events, "--catalog": f.catalog, "--out": f.out, "--window-start": f.windowStart, "--window-end": f.windowEnd} {
		if v == "" {
			return nil, usageError{fmt.Errorf("%s is required (see --help)", name)}
		}
	}
	if (f.keyFile == "") == (f.keyEnv == "") {
		return nil, usageError{errors.New("give exactly one of --key-file and --key-env")}
	}
	opts := pipeline.Options{
		Events: f.events, Catalog: f.catalog, KeyFile: f.keyFile, KeyEnv: f.keyEnv, KeyPeriod: f.keyPeriod,
		Release: f.params, NonPrivate: f.nonPrivate, Logger: log,
		Runner: *runners.Runner, TempDir: f.tempDir,
	}
	if opts.Runner == "" {
		opts.Runner = "prism"
	}
	if opts.TempDir == "" {
		opts.TempDir = filepath.Join(filepath.Dir(f.out), ".privrec-beam")
	}
	if err := preflight(f, &opts, *jobopts.Endpoint); err != nil {
		return nil, err
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	var err error
	opts.Release.Logger = log
	if opts.Release.Mechanisms, err = release.ParseMechanisms(f.mechanisms); err != nil {
		return nil, usageError{err}
	}
	if opts.Release.Noise, err = dp.ParseNoise(f.mechanism); err != nil {
		return nil, usageError{err}
	}
	if opts.Format, err = detectFormat(opts.Events, f.format); err != nil {
		return nil, usageError{err}
	}
	if opts.Window.Start, err = parseTime(f.windowStart); err != nil {
		return nil, usageError{fmt.Errorf("--window-start: %w", err)}
	}
	if opts.Window.End, err = parseTime(f.windowEnd); err != nil {
		return nil, usageError{fmt.Errorf("--window-end: %w", err)}
	}
	if f.keyEpoch != "" {
		if opts.KeyEpoch, err = parseTime(f.keyEpoch); err != nil {
			return nil, usageError{fmt.Errorf("--key-epoch: %w", err)}
		}
	}
	if f.nonPrivate {
		return pipeline.Release(ctx, nil, opts)
	}
	if f.ledger == "" || f.params.Epsilon == 0 {
		return nil, usageError{errors.New("--ledger and --epsilon are required (or --non-private for a reference model)")}
	}
	if err := opts.Release.Validate(); err != nil {
		return nil, usageError{err}
	}
	ledger, err := dp.OpenFileLedger(f.ledger, dp.LedgerOptions{Budget: f.budget, Create: f.newLedger, Logger: log})
	switch {
	case errors.Is(err, dp.ErrNoBudget):
		return nil, usageError{errors.New("--new-ledger needs the ledger's cap: --budget-epsilon and --budget-delta")}
	case errors.Is(err, fs.ErrExist):
		return nil, usageError{fmt.Errorf("ledger %s already exists: drop --new-ledger to charge it (a ledger is never recreated)", f.ledger)}
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageError{fmt.Errorf("ledger %s does not exist: check the path, or create a ledger with --new-ledger and its cap (--budget-epsilon, --budget-delta); "+
			"creating one resets the privacy budget, so privrec never does it unasked", f.ledger)}
	case err != nil:
		return nil, err
	}
	defer ledger.Close()
	sum, err := ledger.Summary(time.Now())
	if err != nil {
		return nil, err
	}
	if err := continuity.Check(f.out, sum, f.newLedger); err != nil {
		return nil, err // before the debit: a restored or swapped ledger is refused
	}
	res, err := pipeline.Release(ctx, ledger, opts)
	if err != nil {
		// Say whether the failure came after the debit: that budget is
		// spent whether or not a model came out (the job may have run).
		if after, serr := ledger.Summary(time.Now()); serr == nil && after.AllCharges > sum.AllCharges {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w (--timeout %v: the job was cancelled)", err, f.timeout)
			}
			return nil, fmt.Errorf("%w; the ledger was charged for this release (charge %d of ledger %s) before it failed, and that budget stays spent",
				err, after.AllCharges, after.LedgerID)
		}
		return nil, err
	}
	return res, nil
}

// localRunner reports whether runner r runs the workers on this machine
// (prism, in-process): they see this process's files.
func localRunner(r string) bool {
	switch r {
	case "", "prism", "direct", "go":
		return true
	}
	return false
}

// preflight checks, before anything is charged, what would otherwise make
// a job fail after its debit (issue: a relative path, an unreachable job
// server or a missing key spent ε on an infrastructure failure). Local
// paths become absolute for prism; with a cluster runner they must be
// absolute (and exist on every worker) or Beam filesystem URLs, and
// --temp-dir is required. The key is checked here too: the process that
// submits the job must hold it as the workers do. The job server is
// dialled.
func preflight(f *cliFlags, opts *pipeline.Options, endpoint string) error {
	local := localRunner(opts.Runner)
	if !local && f.tempDir == "" {
		return usageError{fmt.Errorf("--temp-dir is required with the %s runner: a directory on a Beam filesystem (gs://…) that the workers and this process can reach", opts.Runner)}
	}
	for _, p := range []struct {
		flag string
		path *string
	}{{"--events", &opts.Events}, {"--catalog", &opts.Catalog}, {"--key-file", &opts.KeyFile}, {"--temp-dir", &opts.TempDir}} {
		if *p.path == "" || strings.Contains(*p.path, "://") {
			continue
		}
		if local {
			abs, err := filepath.Abs(*p.path)
			if err != nil {
				return usageError{fmt.Errorf("%s %s: %w", p.flag, *p.path, err)}
			}
			*p.path = abs
			continue
		}
		if !filepath.IsAbs(*p.path) {
			return usageError{fmt.Errorf("%s %s: %s workers cannot read a relative path; give a Beam filesystem URL (gs://…) or an absolute path that exists on every worker",
				p.flag, *p.path, opts.Runner)}
		}
	}
	switch {
	case opts.KeyFile != "" && !strings.Contains(opts.KeyFile, "://"):
		kr, err := pseudonym.FromFile(opts.KeyFile, pseudonym.Options{})
		if err != nil {
			return usageError{fmt.Errorf("--key-file (checked where the job is submitted, before anything is charged): %w", err)}
		}
		kr.Close()
	case opts.KeyEnv != "":
		// Checked without FromEnv, which would unset the variable that
		// in-process workers read.
		v, ok := os.LookupEnv(opts.KeyEnv)
		if !ok {
			return usageError{fmt.Errorf("--key-env %s: the variable is not set here; set it where the job is submitted as well as on every worker", opts.KeyEnv)}
		}
		secret, err := pseudonym.DecodeSecret(v)
		if err != nil {
			return usageError{fmt.Errorf("--key-env %s: %w", opts.KeyEnv, err)}
		}
		clear(secret)
	}
	if !local && opts.Runner != "dataflow" {
		if endpoint == "" {
			return usageError{fmt.Errorf("--endpoint is required with the %s runner: the address of its Beam job service", opts.Runner)}
		}
		conn, err := net.DialTimeout("tcp", endpoint, 10*time.Second)
		if err != nil {
			return usageError{fmt.Errorf("--endpoint %s: cannot reach the job service (%v); nothing was charged", endpoint, err)}
		}
		conn.Close()
	}
	return nil
}

// detectFormat picks the format from the flag or the pattern's extension;
// CSV files are told apart by their header.
func detectFormat(pattern, format string) (events.Format, error) {
	if format != "auto" {
		return events.ParseFormat(format)
	}
	base := strings.TrimSuffix(strings.ToLower(pattern), ".gz")
	if strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".ndjson") {
		return events.FormatJSONLines, nil
	}
	line, err := pipeline.FirstLine(context.Background(), pattern)
	if err != nil {
		return 0, err
	}
	return events.Sniff(line), nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not RFC 3339 or YYYY-MM-DD", s)
}
