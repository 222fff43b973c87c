// Command privrec builds, inspects and serves privacy-preserving
// recommendation models from the command line, and runs them as a
// service.
//
//	privrec keygen --out privrec.key
//	privrec build --events events.csv --catalog catalog.csv --key-file privrec.key \
//	    --ledger budget.ledger --epsilon 1 --out model.prm
//	privrec recommend --model model.prm --context 22697,22698
//	privrec similar --model model.prm 22423
//	privrec report --model model.prm
//	privrec ledger --ledger budget.ledger
//	privrec serve --model model.prm --addr 127.0.0.1:8080
//	privrec run --catalog catalog.csv --key-file privrec.key --ledger budget.ledger \
//	    --epsilon 1 --state-dir state --model model.prm
//	privrec demo
//
// Exit codes: 0 success, 1 failure, 2 usage error, 3 privacy budget
// exceeded, 4 invalid input (bad event lines with --strict, corrupt model
// or ledger, insecure or malformed key file).
//
// The commands live in internal/cli; kafka/cmd/privrec builds the same
// command with a Kafka event source for privrec run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/privrec/privrec/internal/cli"
	"github.com/privrec/privrec/internal/nocore"
)

func main() {
	// A crash must not dump the master secret or pseudonyms to disk.
	if err := nocore.Disable(); err != nil {
		fmt.Fprintln(os.Stderr, "privrec: warning:", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
