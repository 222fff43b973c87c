package recommend_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
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
	col, _ := collect.New(cat, collect.Options{Window: week, Keep: 3, Logger: quiet,
		Now: func() time.Time { return week.End }})
	ing, err := collect.NewIngestor(col, kr)
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
			_ = ing.Add(events.Event{UserID: user, Item: item, Kind: events.KindPurchase, Time: at})
		}
	}

	ledger, _ := dp.NewMemLedger(dp.Budget{Epsilon: 4, Delta: 1e-6}, nil) // dp.OpenFileLedger in production
	model, err := release.Private(context.Background(), col, ledger, release.Options{Epsilon: 1, Delta: 1e-6, K: 3, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	var res recommend.Result
	_ = model.Recommend(&res, recommend.Query{Context: []string{"tea"}, N: 1})
	r := res.Items[0]
	fmt.Println(r.Item, "-", r.Explain())
	fmt.Printf("ε = %.2f\n", model.Report().Privacy.Epsilon)
	// Output:
	// cup - bought together with tea
	// ε = 1.00
}

func ExampleModel_Recommend() {
	model, err := recommend.LoadModel("model.prm")
	if err != nil {
		fmt.Println("no model yet:", err != nil)
		return
	}
	var res recommend.Result // reuse across requests: queries then allocate nothing
	cart := []string{"22697", "22698"}
	_ = model.Recommend(&res, recommend.Query{Context: cart, N: 5, Exclude: []string{"22699"}})
	for _, r := range res.Items {
		fmt.Println(r.Item, r.Explain())
	}
	// Output:
	// no model yet: true
}

// A model is immutable, so a server swaps a new one in with an
// atomic.Pointer while queries run.
func Example_hotSwap() {
	var current atomic.Pointer[recommend.Model] // current.Store(model) when a model is released or loaded
	var res recommend.Result                    // one per goroutine, reused: queries then allocate nothing
	serve := func(cart []string) error {
		m := current.Load() // a query in flight keeps the model it started with
		if m == nil {
			return errors.New("no model yet")
		}
		return m.Recommend(&res, recommend.Query{Context: cart, N: 10})
	}
	fmt.Println(serve([]string{"22697"}))
	// Output:
	// no model yet
}
