package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/privrec/privrec/benchmarks"
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
	c.Flags().AddGoFlagSet(o.Flags())
	return c
}
