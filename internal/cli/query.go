package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/privrec/privrec/recommend"
)

// queryFlags are shared by recommend, similar and popular.
type queryFlags struct {
	model             string
	n                 int
	exclude           []string
	categories        []string
	excludeCategories []string
	minSupport        float64
}

func (q *queryFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&q.model, "model", "", "model snapshot (required)")
	c.Flags().IntVarP(&q.n, "n", "n", 10, "number of results, in [1, 100]")
	c.Flags().StringSliceVar(&q.exclude, "exclude", nil, "items never to return (comma-separated)")
	c.Flags().StringSliceVar(&q.categories, "category", nil, "only these categories")
	c.Flags().StringSliceVar(&q.excludeCategories, "exclude-category", nil, "never these categories")
	c.Flags().Float64Var(&q.minSupport, "min-support", 0, "ignore evidence from fewer (noisy) users than this")
}

// maxResults is the largest -n, the HTTP API's default limit on n
// (httpapi.Options.MaxResults), so that a query the command answers is one
// a default server answers too (TestLimitsMatchTheHTTPAPI).
const maxResults = 100

// recommend answers the query for a context (none: popular items).
func (q *queryFlags) recommend(m *recommend.Model, context []string) (*recommend.Result, error) {
	if q.n < 1 || q.n > maxResults {
		return nil, usageErr("-n must be in [1, %d], as in the HTTP API", maxResults)
	}
	res := &recommend.Result{}
	err := m.Recommend(res, recommend.Query{Context: context, N: q.n, Exclude: q.exclude, Categories: q.categories,
		ExcludeCategories: q.excludeCategories, MinSupport: q.minSupport})
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	if len(res.UnknownCategories) > 0 {
		cats := m.Catalog().Categories()
		if len(cats) == 0 {
			return nil, usageErr("unknown category %s; the model's catalog has no categories", strings.Join(res.UnknownCategories, ", "))
		}
		return nil, usageErr("unknown category %s; the model's categories are: %s",
			strings.Join(res.UnknownCategories, ", "), strings.Join(cats, ", "))
	}
	return res, nil
}

func (q *queryFlags) load() (*recommend.Model, error) { return loadModel(q.model) }

// loadModel loads the snapshot named by --model, with exit codes for a
// missing flag (usage) and a corrupt file (invalid input).
func loadModel(path string) (*recommend.Model, error) {
	if path == "" {
		return nil, usageErr("--model is required")
	}
	m, err := recommend.LoadModel(path)
	if err != nil {
		return nil, classify(err)
	}
	return m, nil
}

func (a *app) recommendCmd() *cobra.Command {
	var q queryFlags
	var ctx []string
	c := &cobra.Command{
		Use:   "recommend --model FILE --context ITEM,ITEM [-n 10]",
		Short: "Recommend items for a context (the items in a session or cart)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := q.load()
			if err != nil {
				return err
			}
			res, err := q.recommend(m, ctx)
			if err != nil {
				return err
			}
			return a.printResult(m, res, "Recommended for "+strings.Join(ctx, ", ")+":")
		},
	}
	q.register(c)
	c.Flags().StringSliceVar(&ctx, "context", nil, "context items (comma-separated); empty means popular items")
	return c
}

func (a *app) similarCmd() *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:   "similar --model FILE ITEM [-n 10]",
		Short: "Items that people who had ITEM also had",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := q.load()
			if err != nil {
				return err
			}
			if _, ok := m.Catalog().Lookup(args[0]); !ok {
				return usageErr("unknown item %q: it is not in the model's catalog", args[0])
			}
			res, err := q.recommend(m, args[:1])
			if err != nil {
				return err
			}
			return a.printResult(m, res, "People who had "+args[0]+" also had:")
		},
	}
	q.register(c)
	return c
}

func (a *app) popularCmd() *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:   "popular --model FILE [-n 10] [--category C]",
		Short: "The most popular items, optionally within categories",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := q.load()
			if err != nil {
				return err
			}
			res, err := q.recommend(m, nil)
			if err != nil {
				return err
			}
			return a.printResult(m, res, "Popular items:")
		},
	}
	q.register(c)
	return c
}

type resultOut struct {
	Items    []itemOut `json:"items"`
	Unknown  []string  `json:"unknown"`
	Fallback bool      `json:"fallback"`
}

type itemOut struct {
	Item        string   `json:"item"`
	Name        string   `json:"name,omitempty"`
	Score       float64  `json:"score"`
	Reason      string   `json:"reason"`
	Because     []string `json:"because"`
	Explanation string   `json:"explanation"`
}

func (a *app) printResult(m *recommend.Model, res *recommend.Result, title string) error {
	out := resultOut{Items: []itemOut{}, Unknown: append([]string{}, res.Unknown...), Fallback: res.Fallback}
	for i := range res.Items {
		r := &res.Items[i]
		it, _ := m.Catalog().Lookup(r.Item)
		out.Items = append(out.Items, itemOut{r.Item, it.Name, r.Score, r.Reason.String(), append([]string{}, r.BecauseItems()...), r.Explain()})
	}
	if a.json {
		return a.printJSON(out)
	}
	fmt.Fprintln(a.stdout, title)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tITEM\tNAME\tSCORE\tWHY")
	for i, it := range out.Items {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%.4f\t%s\n", i+1, it.Item, strings.ToLower(it.Name), it.Score, it.Explanation)
	}
	tw.Flush()
	if len(out.Unknown) > 0 {
		fmt.Fprintf(a.stdout, "Ignored unknown items: %s\n", strings.Join(out.Unknown, ", "))
	}
	if out.Fallback {
		fmt.Fprintln(a.stdout, "No bought-together evidence for this context: showing popular items.")
	}
	return nil
}
