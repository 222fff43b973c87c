package events

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeJSON(t *testing.T) {
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		in   string
		opts ReaderOptions
		want Event
		err  string
	}{
		{"all fields", `{"user":"u1","item":"i1","kind":"cart","time":"2026-11-02T10:00:00Z"}`, ReaderOptions{},
			Event{UserID: "u1", Item: "i1", Kind: KindCart, Time: at}, ""},
		{"default kind", `{"user":"u1","item":"i1","time":"2026-11-02T10:00:00Z"}`, ReaderOptions{},
			Event{UserID: "u1", Item: "i1", Kind: KindPurchase, Time: at}, ""},
		{"file layouts are accepted too", `{"user":"u1","item":"i1","time":"2026-11-02 10:00:00"}`, ReaderOptions{},
			Event{UserID: "u1", Item: "i1", Kind: KindPurchase, Time: at}, ""},
		{"a zone is honoured", `{"user":"u1","item":"i1","time":"2026-11-02T11:00:00+01:00"}`, ReaderOptions{},
			Event{UserID: "u1", Item: "i1", Kind: KindPurchase, Time: at.In(time.FixedZone("", 3600))}, ""},
		{"default time", `{"user":"u1","item":"i1","kind":"view"}`, ReaderOptions{DefaultTime: at},
			Event{UserID: "u1", Item: "i1", Kind: KindView, Time: at}, ""},
		{"default kind option", `{"user":"u1","item":"i1"}`, ReaderOptions{DefaultTime: at, DefaultKind: KindView},
			Event{UserID: "u1", Item: "i1", Kind: KindView, Time: at}, ""},
		{"missing time", `{"user":"u1","item":"i1"}`, ReaderOptions{}, Event{}, "bad event (time): missing"},
		{"bad time", `{"user":"u1","item":"i1","time":"yesterday"}`, ReaderOptions{}, Event{}, `(time): unrecognized time "yesterday"`},
		{"unknown field", `{"user":"u1","item":"i1","email":"a@b"}`, ReaderOptions{}, Event{}, `unknown field "email" (only user, item, kind, time are collected)`},
		{"empty user", `{"user":"","item":"i1"}`, ReaderOptions{}, Event{}, "(user): missing or empty"},
		{"no item", `{"user":"u1"}`, ReaderOptions{}, Event{}, "(item): missing or empty"},
		{"bad kind", `{"user":"u1","item":"i1","kind":"smell"}`, ReaderOptions{}, Event{}, `(kind): events: unknown event kind "smell"`},
		{"wrong type", `{"user":7,"item":"i1"}`, ReaderOptions{}, Event{}, `field "user" has the wrong type`},
		{"two values", `{"user":"u1","item":"i1","time":"2026-11-02"} {}`, ReaderOptions{}, Event{}, "more than one JSON value"},
		{"truncated", `{"user":"u1",`, ReaderOptions{}, Event{}, "invalid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := DecodeJSON([]byte(tc.in), tc.opts)
			if tc.err != "" {
				require.Error(t, err)
				var pe *ParseError
				require.ErrorAs(t, err, &pe)
				assert.Contains(t, err.Error(), tc.err)
				assert.NotContains(t, err.Error(), "u1", "errors never quote the user ID")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, e)
		})
	}
}

// FuzzDecodeJSON checks that the decoder never panics, that what it accepts
// is a complete event, and that its errors never quote the user ID.
func FuzzDecodeJSON(f *testing.F) {
	f.Add(`{"user":"u","item":"i","kind":"view","time":"2026-11-02T10:00:00Z"}`)
	f.Add(`{"user":"u","item":"i","time":"2026-11-02"}`)
	f.Add(`{"user":"secret-user","item":"i","time":"x"}`)
	f.Fuzz(func(t *testing.T, in string) {
		e, err := DecodeJSON([]byte(in), ReaderOptions{})
		if err != nil {
			if len(e.UserID) == 0 {
				require.NotContains(t, err.Error(), "secret-user")
			}
			return
		}
		require.NotEmpty(t, e.UserID)
		require.NotEmpty(t, e.Item)
		require.True(t, e.Kind.Valid())
		require.False(t, e.Time.IsZero())
	})
}
