// Command privrec builds, inspects and serves privacy-preserving
// recommendation models from the command line.
//
//	privrec keygen --out privrec.key
//	privrec build --events events.csv --catalog catalog.csv --key-file privrec.key \
//	    --ledger budget.ledger --epsilon 1 --out model.prm
//	privrec recommend --model model.prm --context 22697,22698
//	privrec similar --model model.prm 22423
//	privrec report --model model.prm
//	privrec ledger --ledger budget.ledger
//	privrec serve --model model.prm --addr 127.0.0.1:8080
//	privrec demo
//
// Exit codes: 0 success, 1 failure, 2 usage error, 3 privacy budget
// exceeded, 4 invalid input (bad event lines with --strict, corrupt model
// or ledger, insecure or malformed key file).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/privrec/privrec/internal/nocore"
)

func main() {
	// A crash must not dump the master secret or pseudonyms to disk.
	if err := nocore.Disable(); err != nil {
		fmt.Fprintln(os.Stderr, "privrec: warning:", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitBudget  = 3
	exitData    = 4
)

// exitError carries an exit code with an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code, err}
}

func usageErr(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	// Find fails only on an unknown command; flag errors come through the
	// root's flag error func and argument errors through exactArgs, both
	// as usage errors with their exit code.
	if _, _, err := root.Find(args); err != nil {
		fmt.Fprintf(stderr, "privrec: %v (see 'privrec --help')\n", err)
		return exitUsage
	}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "privrec:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailure
}
