// Command privrec-bench runs privrec's accuracy-against-privacy benchmarks
// and the differencing-attack simulation on real data, and writes
// benchmarks/RESULTS.md with tables, CSV files and PNG plots. `privrec bench`
// runs the same harness.
//
//	go run ./benchmarks/cmd/privrec-bench                     # Online Retail from ../shared
//	go run ./benchmarks/cmd/privrec-bench -online-retail PATH -movielens u.data -csv events.csv
//	go run ./benchmarks/cmd/privrec-bench -quick              # fewer ε values and repeats
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/privrec/privrec/benchmarks"
)

func main() {
	var o benchmarks.RunOptions
	fs := o.Flags()
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: privrec-bench [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	o.Command = strings.TrimSpace("go run ./benchmarks/cmd/privrec-bench " + strings.Join(os.Args[1:], " "))
	o.Progress = os.Stderr
	if err := benchmarks.Run(o); err != nil {
		fmt.Fprintln(os.Stderr, "privrec-bench:", err)
		os.Exit(1)
	}
}
