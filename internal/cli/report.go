package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/internal/human"
)

func (a *app) reportCmd() *cobra.Command {
	var model, format string
	c := &cobra.Command{
		Use:   "report --model FILE [--format md|json]",
		Short: "Print a model's transparency report: what was collected, why, for how long, and ε/δ spent",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadModel(model)
			if err != nil {
				return err
			}
			rep := m.Report()
			switch {
			case a.json || format == "json":
				return a.printJSON(rep)
			case format == "md" || format == "markdown":
				fmt.Fprint(a.stdout, rep.Markdown())
				return nil
			}
			return usageErr("unknown --format %q (want md or json)", format)
		},
	}
	c.Flags().StringVar(&model, "model", "", "model snapshot (required)")
	c.Flags().StringVar(&format, "format", "md", "md or json")
	return c
}

// ledgerOut is privrec ledger --json. Its budget gives the horizon as a
// duration string ("8760h0m0s"), as the privacy report does, not as the
// ledger file's nanoseconds.
type ledgerOut struct {
	Budget   budgetOut   `json:"budget"`
	Charges  []dp.Charge `json:"charges"`
	Counting int         `json:"charges_within_horizon"`
	Epsilon  float64     `json:"epsilon_spent"`
	Delta    float64     `json:"threshold_delta_spent"`
	Left     float64     `json:"epsilon_left"`
}

type budgetOut struct {
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	Horizon string  `json:"horizon"`
}

func (a *app) ledgerCmd() *cobra.Command {
	var path string
	c := &cobra.Command{
		Use:   "ledger --ledger FILE",
		Short: "Show the privacy budget spent, per release, against the ledger's cap",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return usageErr("--ledger is required")
			}
			budget, charges, err := dp.ReadLedgerFile(path)
			if err != nil {
				return classify(err)
			}
			sum, err := dp.Summarize(budget, charges, time.Now())
			if err != nil {
				return err
			}
			out := ledgerOut{Budget: budgetOut{budget.Epsilon, budget.Delta, budget.Horizon.String()}, Charges: charges, Counting: len(sum.Charges), Epsilon: sum.Epsilon, Delta: sum.Delta,
				Left: max(0, budget.Epsilon-sum.Epsilon)}
			if out.Charges == nil {
				out.Charges = []dp.Charge{}
			}
			if a.json {
				return a.printJSON(out)
			}
			horizon := "no horizon (charges never expire)"
			if budget.Horizon > 0 {
				horizon = "rolling horizon " + human.Duration(budget.Horizon)
			}
			fmt.Fprintf(a.stdout, "Ledger %s: cap ε = %g at δ = %g, %s\n", path, budget.Epsilon, budget.Delta, horizon)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  SEQ\tAT\tRELEASE\tε\tδ\tNOTE")
			for _, ch := range charges {
				fmt.Fprintf(tw, "  %d\t%s\t%s\t%.4g\t%g\t%s\n", ch.Seq, ch.At.Format(time.RFC3339), ch.Release, ch.Epsilon, ch.Delta, ch.Note)
			}
			tw.Flush()
			fmt.Fprintf(a.stdout, "Spent: ε = %.4g of the cap %g (%d release(s) count now).\n", sum.Epsilon, budget.Epsilon, len(sum.Charges))
			return nil
		},
	}
	c.Flags().StringVar(&path, "ledger", "", "ledger file (required)")
	return c
}
