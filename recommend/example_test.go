package recommend_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

// The whole path: pseudonymize at the door, collect a window, release with
// differential privacy against a ledger, and query.
func Example() {
	quiet := slog.New(slog.DiscardHandler)
	secret := make([]byte, 32) // load with pseudonym.FromFile in production
	week := recommend.Window{
		Start: time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), // a Thursday: weekly periods start there
		End:   time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC),
	}
	kr, _ := pseudonym.New(secret, pseudonym.Options{PeriodLength: 7 * 24 * time.Hour})
	cat, _ := recommend.NewCatalog([]recommend.Item{{ID: "tea"}, {ID: "cup"}, {ID: "cake"}, {ID: "mug"}})
	col, _ := recommend.NewCollector(cat, recommend.CollectorOptions{Window: week, MaxItemsPerUser: 3, Logger: quiet,
		Now: func() time.Time { return week.End }})
	ing, err := recommend.NewIngestor(col, kr)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := week.Start.Add(time.Hour)
	for u := range 3000 {
		user := fmt.Sprint("shopper-", u)
		basket := []string{"tea", "cup"}
		if u%3 == 0 {
			basket = []string{"cake", "mug"}
		}
		for _, item := range basket {
			_ = ing.Add(recommend.RawEvent{UserID: user, Item: item, Kind: recommend.KindPurchase, Time: at})
		}
	}

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ledger, _ := dp.OpenFileLedger(filepath.Join(dir, "ledger"), dp.LedgerOptions{Budget: dp.Budget{Epsilon: 4, Delta: 1e-6}, Logger: quiet})
	defer ledger.Close()
	model, err := col.Release(context.Background(), ledger, dp.Params{Epsilon: 1, Delta: 1e-6, MaxItemsPerUser: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, _ := model.ForContext([]string{"tea"}, 1, recommend.QueryOptions{})
	r := res.Items[0]
	fmt.Println(r.Item, "-", r.Explain())
	fmt.Printf("ε = %.2f\n", model.Report().Privacy.Epsilon)
	// Output:
	// cup - bought together with tea
	// ε = 1.00
}

func ExampleModel_ForContext() {
	model, err := recommend.LoadModel("model.prm")
	if err != nil {
		fmt.Println("no model yet:", err != nil)
		return
	}
	res, _ := model.ForContext([]string{"22697", "22698"}, 5, recommend.QueryOptions{Exclude: []string{"22699"}})
	for _, r := range res.Items {
		fmt.Println(r.Item, r.Explain())
	}
	// Output:
	// no model yet: true
}

func ExampleRecommender() {
	r := recommend.NewRecommender(nil)
	var res recommend.Result // reuse across requests: queries then allocate nothing
	err := r.PopularInto(&res, 10, recommend.QueryOptions{})
	fmt.Println(err)
	// later, when a new model is released or loaded: r.Swap(model)
	// Output:
	// recommend: no model loaded
}
