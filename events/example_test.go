package events_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/privrec/privrec/events"
)

func ExampleReader() {
	in := "user,item,kind,time\n" +
		"c-17850,22423,purchase,2011-01-04T10:00:00Z\n" +
		"c-17850,22697,,2011-01-04 10:05:00\n" +
		"c-13047,22697,smell,2011-01-05T09:00:00Z\n"
	r := events.NewReader(strings.NewReader(in), events.FormatCSV, events.ReaderOptions{})
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println("refused:", err) // never quotes the user ID
			continue
		}
		fmt.Println(e.Item, e.Kind, e.Time.Format("2006-01-02 15:04"))
	}
	// Output:
	// 22423 purchase 2011-01-04 10:00
	// 22697 purchase 2011-01-04 10:05
	// refused: line 4, column 3 (kind): events: unknown event kind "smell" (want view, cart or purchase)
}

func ExampleDecodeJSON() {
	e, err := events.DecodeJSON([]byte(`{"user":"c-17850","item":"22423","kind":"cart","time":"2011-01-04T10:00:00Z"}`), events.ReaderOptions{})
	fmt.Println(e.Item, e.Kind, err)
	_, err = events.DecodeJSON([]byte(`{"user":"c-17850","item":"22423","email":"x@example.com"}`), events.ReaderOptions{})
	fmt.Println(err)
	// Output:
	// 22423 cart <nil>
	// bad event: unknown field "email" (only user, item, kind, time are collected)
}
