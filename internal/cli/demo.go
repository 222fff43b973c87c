package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/privrec/privrec/internal/sampledata"
)

func (a *app) demoCmd() *cobra.Command {
	var keep string
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run keygen, build, report, recommend, similar and ledger on the embedded Online Retail sample",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := keep
			if dir == "" {
				d, err := os.MkdirTemp("", "privrec-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				dir = d
			} else if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			events, err := sampledata.EventsCSV()
			if err != nil {
				return err
			}
			files := map[string][]byte{"events.csv": events, "catalog.csv": sampledata.CatalogCSV()}
			for name, data := range files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					return err
				}
			}
			p := func(name string) string { return filepath.Join(dir, name) }
			build := []string{"build", "--events", p("events.csv"), "--catalog", p("catalog.csv"), "--key-file", p("privrec.key"),
				"--ledger", p("budget.ledger"), "--budget-epsilon", "4", "--budget-delta", "1e-5",
				"--epsilon", "1", "--delta", "1e-5", "--head-size", "300", "--out", p("model.prm")}
			if _, err := os.Stat(p("budget.ledger")); errors.Is(err, fs.ErrNotExist) {
				build = append(build, "--new-ledger") // a --keep directory reuses its ledger
			}
			steps := [][]string{
				{"keygen", "--out", p("privrec.key"), "--force"},
				build,
				{"similar", "--model", p("model.prm"), "22423", "-n", "5"},
				{"recommend", "--model", p("model.prm"), "--context", "22697,22698", "-n", "5"},
				{"popular", "--model", p("model.prm"), "--category", "christmas", "-n", "3"},
				{"ledger", "--ledger", p("budget.ledger")},
			}
			for _, step := range steps {
				if !a.json {
					fmt.Fprintf(a.stdout, "\n$ privrec %s\n", displayArgs(step, dir))
				}
				sub := newRoot(a.stdout, a.stderr)
				flags := step
				if a.json {
					flags = append(flags, "--json")
				}
				if a.quiet {
					flags = append(flags, "--quiet")
				}
				sub.SetArgs(flags)
				if err := sub.ExecuteContext(cmd.Context()); err != nil {
					return err
				}
			}
			if !a.json {
				fmt.Fprintf(a.stdout, "\nData: a sample of the UCI Online Retail dataset (CC BY 4.0). %s\n", sampledata.Attribution)
			}
			return nil
		},
	}
	c.Flags().StringVar(&keep, "dir", "", "keep the demo's files in this directory (default: a temporary one, removed)")
	return c
}

func displayArgs(args []string, dir string) string {
	out := ""
	for i, s := range args {
		if rel, err := filepath.Rel(dir, s); err == nil && filepath.IsAbs(s) {
			s = rel
		}
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}
