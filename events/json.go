package events

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/privrec/privrec/internal/jsonerr"
)

// jsonEvent is the JSON shape of an event. Pointers tell a missing field
// from an empty one.
type jsonEvent struct {
	User *string `json:"user"`
	Item *string `json:"item"`
	Kind *string `json:"kind"`
	Time *string `json:"time"`
}

// DecodeJSON decodes one event from a JSON object with the fields user and
// item (required, non-empty) and kind and time (optional; opts give their
// defaults, and without opts.DefaultTime the time is required). Times are
// RFC 3339, or "2006-01-02 15:04:05", "2006-01-02T15:04:05",
// "2006-01-02 15:04" or "2006-01-02" in UTC. Unknown fields and trailing
// values are refused. Every JSON event privrec reads, from a file or an HTTP
// request, goes through DecodeJSON, so the two accept the same events.
//
// Errors are *ParseError with Line 0 (the caller knows where b came from);
// they never quote the user ID.
func DecodeJSON(b []byte, opts ReaderOptions) (Event, error) {
	opts = opts.withDefaults()
	var je jsonEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&je); err != nil {
		msg := jsonerr.Describe(err)
		if bytes.HasPrefix(bytes.TrimSpace([]byte(msg)), []byte("unknown field")) {
			msg += " (only user, item, kind, time are collected)"
		}
		return Event{}, &ParseError{Err: errors.New(msg)}
	}
	if dec.More() {
		return Event{}, &ParseError{Err: errors.New("more than one JSON value")}
	}
	if je.User == nil || *je.User == "" {
		return Event{}, &ParseError{Field: "user", Err: errors.New("missing or empty")}
	}
	if je.Item == nil || *je.Item == "" {
		return Event{}, &ParseError{Field: "item", Err: errors.New("missing or empty")}
	}
	e := Event{UserID: *je.User, Item: *je.Item, Kind: opts.DefaultKind, Time: opts.DefaultTime}
	if je.Kind != nil {
		k, err := ParseKind(*je.Kind)
		if err != nil {
			return Event{}, &ParseError{Field: "kind", Err: err}
		}
		e.Kind = k
	}
	switch {
	case je.Time != nil:
		t, err := parseTime(*je.Time)
		if err != nil {
			return Event{}, &ParseError{Field: "time", Err: err}
		}
		e.Time = t
	case e.Time.IsZero():
		return Event{}, &ParseError{Field: "time", Err: errors.New("missing")}
	}
	return e, nil
}
