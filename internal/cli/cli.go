// Package cli is the privrec command line (cmd/privrec): every command,
// its flags, exit codes and output. It is a package rather than the main
// package so that the Kafka module can build the same command with a
// Kafka event source for privrec run (kafka/cmd/privrec).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Main executes the command line args (without the program name) and
// returns the exit code: 0 success, 1 failure, 2 usage error, 3 privacy
// budget exceeded, 4 invalid input. sources add event sources to privrec
// run besides HTTP.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, sources ...EventSource) int {
	return runWith(ctx, args, stdout, stderr, sources)
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
	return runWith(ctx, args, stdout, stderr, nil)
}

func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, sources []EventSource) int {
	root := newRoot(stdout, stderr, sources...)
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
