package collect_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

// An Ingestor replaces the user ID by its pseudonym at the door; the
// collector keeps at most Keep items per pseudonym and nothing else.
func ExampleIngestor() {
	week := recommend.Window{Start: time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)}
	cat, _ := recommend.NewCatalog([]recommend.Item{{ID: "tea"}, {ID: "cups"}, {ID: "cake"}})
	col, _ := collect.New(cat, collect.Options{Window: week, Keep: 2, Now: func() time.Time { return week.End }, SampleKey: [16]byte{2}}) // a fixed key: the same 2 items kept every run
	kr, _ := pseudonym.New(make([]byte, 32), pseudonym.Options{PeriodLength: 7 * 24 * time.Hour})                                         // pseudonym.FromFile in production
	ing, err := collect.NewIngestor(col, kr)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := week.Start.Add(time.Hour)
	for _, item := range []string{"tea", "cups", "cake", "tea"} {
		_ = ing.Add(events.Event{UserID: "alice@example.com", Item: item, Kind: events.KindPurchase, Time: at})
	}
	err = ing.Add(events.Event{UserID: "alice@example.com", Item: "scones", Kind: events.KindPurchase, Time: at})
	fmt.Println(errors.Is(err, collect.ErrUnknownItem), err)
	st := col.Stats()
	fmt.Printf("accepted %d, duplicates %d, beyond the bound %d\n", st.Accepted, st.DuplicateEvents, st.DroppedByBound)
	// Output:
	// true collect: item not in catalog: "scones"
	// accepted 4, duplicates 1, beyond the bound 1
}

// AddBatch takes a group of events (an HTTP request's, a Kafka fetch's)
// at once and reports each refused one by its index.
func ExampleIngestor_AddBatch() {
	week := recommend.Window{Start: time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)}
	cat, _ := recommend.NewCatalog([]recommend.Item{{ID: "tea"}, {ID: "cups"}, {ID: "cake"}})
	col, _ := collect.New(cat, collect.Options{Window: week, Now: func() time.Time { return week.End }})
	kr, _ := pseudonym.New(make([]byte, 32), pseudonym.Options{PeriodLength: 7 * 24 * time.Hour})
	ing, err := collect.NewIngestor(col, kr)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := week.Start.Add(time.Hour)
	batch := []events.Event{
		{UserID: "alice@example.com", Item: "tea", Kind: events.KindPurchase, Time: at},
		{UserID: "bob@example.com", Item: "scones", Kind: events.KindPurchase, Time: at},
		{UserID: "bob@example.com", Item: "cake", Kind: events.KindView, Time: week.End.Add(time.Hour)},
		{UserID: "bob@example.com", Item: "cake", Kind: events.KindView, Time: at},
	}
	accepted := ing.AddBatch(batch, func(i int, err error) { fmt.Printf("event %d: %v\n", i, err) })
	fmt.Println("accepted", accepted)
	// Output:
	// event 1: collect: item not in catalog: "scones"
	// event 2: collect: event outside the release window
	// accepted 2
}
