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
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/privrec/privrec/benchmarks"
)

func main() {
	var o benchmarks.RunOptions
	flag.StringVar(&o.OnlineRetail, "online-retail", "../shared/data/online-retail/online_retail.csv.gz", "UCI Online Retail CSV (.gz ok); empty to skip")
	flag.StringVar(&o.MovieLens, "movielens", "", "MovieLens u.data file (optional)")
	flag.StringVar(&o.CSV, "csv", "", "generic user,item[,time] CSV (optional)")
	flag.StringVar(&o.Out, "out", "benchmarks", "directory for RESULTS.md and results/")
	flag.IntVar(&o.Repeats, "repeats", 3, "releases per ε")
	flag.IntVar(&o.AttackTrials, "attack-trials", 200, "differencing attacks per ε")
	flag.BoolVar(&o.Quick, "quick", false, "ε ∈ {1, 4} with 2 repeats and 60 attacks: a smoke run")
	flag.IntVar(&o.K, "k", 16, "max items per user per window (K)")
	flag.IntVar(&o.HeadSize, "head-size", 500, "head items whose pairs are released")
	flag.Parse()
	o.Command = strings.TrimSpace("go run ./benchmarks/cmd/privrec-bench " + strings.Join(os.Args[1:], " "))
	o.Progress = os.Stderr
	if err := benchmarks.Run(o); err != nil {
		fmt.Fprintln(os.Stderr, "privrec-bench:", err)
		os.Exit(1)
	}
}
