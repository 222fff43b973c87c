package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// app holds what every command shares.
type app struct {
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool) // os.LookupEnv
	json           bool
	quiet          bool
	verbose        bool
	sources        []EventSource // for privrec run, besides HTTP
}

func newRoot(stdout, stderr io.Writer, sources ...EventSource) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv, sources: sources}
	root := &cobra.Command{
		Use:   "privrec",
		Short: "Privacy-preserving recommendations: build, inspect and serve differentially private models",
		Long: `privrec builds recommendation models from shop events without keeping anyone's history:
user IDs are pseudonymized on arrival, each person's contribution is bounded, and only
differentially private aggregate counts are released, charged to a durable budget ledger.

Every flag can also be set by an environment variable: PRIVREC_ and the flag's name in
upper case with - as _ (--key-file is PRIVREC_KEY_FILE, --budget-epsilon PRIVREC_BUDGET_EPSILON).
A flag on the command line wins over the environment, which wins over the default.

Exit codes: 0 success, 1 failure, 2 usage error, 3 privacy budget exceeded,
4 invalid input (bad lines with --strict, corrupt model or ledger, bad key file).`,
		PersistentPreRunE: func(c *cobra.Command, _ []string) error { return flagsFromEnv(c, a.lookupEnv) },
		SilenceUsage:      true,
		SilenceErrors:     true,
		Version:           version(),
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{exitUsage, fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.Flags().Bool("version", false, "print the build, Go and DP library versions")
	root.PersistentFlags().BoolVar(&a.json, "json", false, "print machine-readable JSON instead of text")
	root.PersistentFlags().BoolVarP(&a.quiet, "quiet", "q", false, "no progress bars or informational logs")
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "debug logs on stderr (never include user IDs, pseudonyms or keys)")
	root.AddCommand(
		a.keygenCmd(), a.buildCmd(), a.recommendCmd(), a.similarCmd(), a.popularCmd(),
		a.reportCmd(), a.ledgerCmd(), a.serveCmd(), a.runCmd(), a.demoCmd(), a.benchCmd(),
	)
	// Shell completion (privrec completion bash|zsh|fish|powershell);
	// added now rather than at Execute so that run's Find knows it.
	root.InitDefaultCompletionCmd()
	return root
}

func (a *app) logger() *slog.Logger {
	level := slog.LevelWarn
	if a.verbose {
		level = slog.LevelDebug
	}
	if a.quiet {
		level = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s takes %d argument(s), got %d (see '%s --help')", c.Name(), n, len(args), c.CommandPath())
		}
		return nil
	}
}

// classify maps library errors to exit codes.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	var pe *release.OptionError
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, dp.ErrBudgetExceeded):
		return withCode(exitBudget, err)
	case errors.Is(err, recommend.ErrBadSnapshot), errors.Is(err, dp.ErrLedgerCorrupt),
		errors.Is(err, pseudonym.ErrInsecureKeyFile), errors.Is(err, pseudonym.ErrInvalidSecretEnc),
		errors.Is(err, pseudonym.ErrSecretTooShort), errors.Is(err, dp.ErrBudgetMismatch):
		return withCode(exitData, err)
	case errors.As(err, &pe):
		return withCode(exitUsage, err)
	}
	return err
}
