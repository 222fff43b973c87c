package main

import (
	"strings"

	"github.com/privrec/privrec/benchmarks"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func (a *app) benchCmd() *cobra.Command {
	var o benchmarks.RunOptions
	c := &cobra.Command{
		Use:   "bench [--online-retail FILE] [--movielens FILE] [--csv FILE] [--out DIR] [--quick]",
		Short: "Run the accuracy-against-privacy benchmarks and the differencing attack; write RESULTS.md",
		Long: `bench evaluates privrec on real data against non-private privrec, popularity, DP popularity, a
Jaccard co-occurrence recommender and random, for ε from 0.1 to 8 on a temporal and a random split,
simulates the differencing attack of Calandrino et al., and writes DIR/RESULTS.md with tables,
CSV and PNG plots. The full run takes a few minutes on the Online Retail data; --quick is a smoke run.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			parts := []string{cmd.CommandPath()}
			cmd.Flags().Visit(func(f *pflag.Flag) { parts = append(parts, "--"+f.Name+"="+f.Value.String()) })
			o.Command = strings.Join(parts, " ")
			if !a.quiet {
				o.Progress = a.stderr
			}
			return benchmarks.Run(o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.OnlineRetail, "online-retail", "../shared/data/online-retail/online_retail.csv.gz", "UCI Online Retail CSV (.gz ok); empty to skip")
	f.StringVar(&o.MovieLens, "movielens", "", "MovieLens u.data file")
	f.StringVar(&o.CSV, "csv", "", "generic user,item[,time] CSV")
	f.StringVar(&o.Out, "out", "benchmarks", "directory for RESULTS.md and results/")
	f.IntVar(&o.Repeats, "repeats", 3, "releases per ε")
	f.IntVar(&o.AttackTrials, "attack-trials", 200, "differencing attacks per ε")
	f.BoolVar(&o.Quick, "quick", false, "ε ∈ {1, 4}, 2 repeats, 60 attacks")
	f.IntVar(&o.K, "k", 16, "max items per user per window (K)")
	f.IntVar(&o.HeadSize, "head-size", 500, "head items whose pairs are released")
	return c
}
