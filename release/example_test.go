package release_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// Every noisy statistic of a release is a named part with its sensitivity,
// share of the budget, noise σ and cost; the plan composes them. Here the
// mechanisms are chosen explicitly: popularity and pairs, half the budget
// each.
func ExampleOptions_Plan() {
	cat, _ := recommend.NewCatalog([]recommend.Item{{ID: "tea"}, {ID: "cups"}, {ID: "cake"}})
	o := release.Options{Epsilon: 1, Delta: 1e-6, K: 16, Mechanisms: release.Popularity | release.Pairs}
	plan, err := o.Plan(cat)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range plan.Parts {
		fmt.Printf("%s: %d values per user, σ = %.1f, ρ = %.4f\n", p.Name, p.L0, p.Sigma(), p.Cost().Rho)
	}
	fmt.Printf("together: ε = %.3f at δ = 1e-6\n", plan.Epsilon)
	// Output:
	// item counts: 16 values per user, σ = 23.9, ρ = 0.0140
	// pair counts: 120 values per user, σ = 65.5, ρ = 0.0140
	// together: ε = 1.000 at δ = 1e-6
}

// Private debits the ledger, then releases the window: here 2,000 shoppers
// who buy tea with cups or cake with plates.
func ExamplePrivate() {
	quiet := slog.New(slog.DiscardHandler)
	week := recommend.Window{Start: time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)}
	cat, _ := recommend.NewCatalog([]recommend.Item{{ID: "tea"}, {ID: "cups"}, {ID: "cake"}, {ID: "plates"}})
	col, _ := collect.New(cat, collect.Options{Window: week, Keep: 2, Logger: quiet, Now: func() time.Time { return week.End }})
	kr, _ := pseudonym.New(make([]byte, 32), pseudonym.Options{PeriodLength: 7 * 24 * time.Hour})
	ing, _ := collect.NewIngestor(col, kr)
	for u := range 2000 {
		basket := []string{"tea", "cups"}
		if u%2 == 1 {
			basket = []string{"cake", "plates"}
		}
		for _, item := range basket {
			_ = ing.Add(events.Event{UserID: fmt.Sprint("u", u), Item: item, Kind: events.KindPurchase, Time: week.Start.Add(time.Hour)})
		}
	}
	ledger, _ := dp.NewMemLedger(dp.Budget{Epsilon: 2, Delta: 1e-6}, nil)
	m, err := release.Private(context.Background(), col, ledger, release.Options{Epsilon: 1, Delta: 1e-6, K: 2, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	var res recommend.Result
	_ = m.Recommend(&res, recommend.Query{Context: []string{"cake"}, N: 1})
	fmt.Println(res.Items[0].Item, "-", res.Items[0].Explain())
	_, err = release.Private(context.Background(), col, ledger, release.Options{Epsilon: 1, Delta: 1e-6, K: 2})
	fmt.Println(err)
	// Output:
	// plates - bought together with cake
	// collect: window already released
}
