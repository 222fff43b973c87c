// Package ingest accepts raw events over HTTP (POST /v1/events) and feeds
// them to a sink, normally a collect.Ingestor that pseudonymizes every user
// ID at the door. It is separate from the serving handler (package httpapi)
// because it needs the keyring: mount it only in the process that holds
// the key.
//
// Events are decoded with events.DecodeJSON, the decoder of privrec's JSON
// Lines files, so an event accepted from a file is accepted here and the
// other way round. Responses and logs never echo a user ID. A sink with
// AddBatch ([BatchSink]: *collect.Ingestor, privrec run's service) gets
// each request's events in one call.
//
// Durability: the handler acknowledges a request only when its accepted
// events are durable. After adding them it calls the sink's Sync, when the
// sink has one (*collect.Ingestor does: it fsyncs the collector's window
// state file), so an acknowledged event survives a crash of the process
// and a power failure. If Sync fails the request fails with status 500:
// the events may or may not be kept, and sending the request again is safe
// (a person's items in a window are a set, so a repeated event changes
// nothing). Options.NoSync trades this for throughput: acknowledged events
// then survive a crash of the process (they are in the state file) but not
// a power failure. BenchmarkIngestHandler measures the cost.
package ingest

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/httpx"
)

// Sink takes raw events; *collect.Ingestor is one. Add must pseudonymize
// the user ID at once and must not return it in errors.
type Sink interface {
	Add(events.Event) error
}

// BatchSink is implemented by sinks that add a group of events faster
// than one at a time (*collect.Ingestor does); the handler then adds each
// request's events with one AddBatch. AddBatch must behave as Add on each
// event in turn, calling refused in order for those not accepted.
type BatchSink interface {
	Sink
	AddBatch(evs []events.Event, refused func(i int, err error)) int
}

// Options configure the handler. Zero values mean the defaults.
type Options struct {
	// MaxBodyBytes limits request bodies; default 1 MiB.
	MaxBodyBytes int64
	// MaxEvents limits one request; default 1000.
	MaxEvents int
	// Logger receives one line per failed request (route and status only);
	// slog.Default() when nil.
	Logger *slog.Logger
	// NoSync acknowledges events without calling the sink's Sync: they
	// survive a crash of the process but not a power failure.
	NoSync bool
	// Counted, when set, is also told every count the handler's own
	// privrec_ingest_events_total takes: n events with one result
	// ("accepted", "malformed", or why the sink refused them), for a
	// process with its own metrics registry.
	Counted func(result string, n int)
}

// refusal names why the sink refused an event, for the metrics.
func refusal(err error) string {
	switch {
	case errors.Is(err, collect.ErrUnknownItem):
		return "unknown_item"
	case errors.Is(err, collect.ErrKindNotAccepted):
		return "kind_not_collected"
	case errors.Is(err, collect.ErrOutsideWindow):
		return "outside_window"
	case errors.Is(err, collect.ErrFutureEvent):
		return "from_the_future"
	case errors.Is(err, collect.ErrWindowReleased):
		return "window_released"
	}
	return "refused"
}

// Syncer is implemented by sinks that can make what they accepted durable
// (*collect.Ingestor); the handler calls Sync before acknowledging.
type Syncer interface {
	Sync() error
}

// response says how many events were accepted and which were refused, and
// why: {"accepted": n, "rejected": [{"index": i, "error": "..."}]}. It
// never echoes a user ID.
type response struct {
	Accepted int        `json:"accepted"`
	Rejected []rejected `json:"rejected"`
}

// rejected names a refused event by its position in the request.
type rejected struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// request is the body of POST /v1/events: {"events": [event, ...]}, each
// event an object events.DecodeJSON reads. Unknown fields are refused.
type request struct {
	Events []json.RawMessage `json:"events"`
}

// NewHandler returns the handler of POST /v1/events (and GET /metrics),
// which feeds sink.
func NewHandler(sink Sink, opts Options) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	mux := httpx.NewMux(opts.Logger)
	count := func(result string, n int) {
		mux.Metrics.AddEvents(result, n)
		if opts.Counted != nil && n > 0 {
			opts.Counted(result, n)
		}
	}
	mux.Route("/v1/events", http.MethodPost, func(w http.ResponseWriter, r *http.Request) error {
		var req request
		if err := httpx.DecodeJSON(w, r, opts.MaxBodyBytes, &req); err != nil {
			return err
		}
		if len(req.Events) > opts.MaxEvents {
			return httpx.BadRequest("at most %d events per request", opts.MaxEvents)
		}
		resp := response{Rejected: []rejected{}}
		errs := make([]error, len(req.Events))
		evs := make([]events.Event, 0, len(req.Events))
		at := make([]int, 0, len(req.Events)) // request index of evs[j]
		for i, raw := range req.Events {
			e, err := events.DecodeJSON(raw, events.ReaderOptions{})
			if err != nil {
				count("malformed", 1)
				errs[i] = err
				continue
			}
			evs, at = append(evs, e), append(at, i)
		}
		refuse := func(j int, err error) {
			count(refusal(err), 1)
			errs[at[j]] = err
		}
		if bs, ok := sink.(BatchSink); ok {
			bs.AddBatch(evs, refuse)
		} else {
			for j, e := range evs {
				if err := sink.Add(e); err != nil {
					refuse(j, err)
				}
			}
		}
		for i, err := range errs {
			if err != nil {
				resp.Rejected = append(resp.Rejected, rejected{Index: i, Error: err.Error()})
				continue
			}
			resp.Accepted++
		}
		count("accepted", resp.Accepted)
		if s, ok := sink.(Syncer); ok && !opts.NoSync && resp.Accepted > 0 {
			if err := s.Sync(); err != nil {
				opts.Logger.Error("ingest: events not made durable", "error", err.Error())
				return &httpx.Error{Status: http.StatusInternalServerError, Code: httpx.CodeInternal,
					Message: "events could not be made durable; sending the request again is safe"}
			}
		}
		httpx.WriteJSON(w, http.StatusOK, resp)
		return nil
	})
	mux.Route("/metrics", http.MethodGet, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		mux.Metrics.Write(w, nil)
		return nil
	})
	return mux
}
