package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/privrec/privrec/recommend"
)

// EventSink takes raw events; *recommend.Ingestor is one. Add must
// pseudonymize the user ID at once and must not return it in errors.
type EventSink interface {
	Add(recommend.RawEvent) error
}

// EventJSON is one event in an ingestion request: the user ID, item, kind and
// time, nothing else.
type EventJSON struct {
	User string `json:"user"`
	Item string `json:"item"`
	Kind string `json:"kind"`
	Time string `json:"time"`
}

// IngestRequest is the body of POST /v1/events. Unknown fields are refused.
type IngestRequest struct {
	Events []EventJSON `json:"events"`
}

// IngestResponse says which events were refused and why. It never echoes a
// user ID.
type IngestResponse struct {
	Accepted int             `json:"accepted"`
	Rejected []RejectedEvent `json:"rejected"`
}

// RejectedEvent names a refused event by its position in the request.
type RejectedEvent struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

type ingestHandler struct {
	h    *handler
	sink EventSink
}

// NewIngestHandler returns the handler of POST /v1/events, which feeds sink.
// Mount it only in the process that holds the keyring; serving processes do
// not need it.
func NewIngestHandler(sink EventSink, opts Options) http.Handler {
	h := &handler{opts: opts.withDefaults(), metrics: newMetrics(), mux: http.NewServeMux()}
	ih := &ingestHandler{h: h, sink: sink}
	h.route("/v1/events", http.MethodPost, ih.events)
	h.route("/metrics", http.MethodGet, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		h.metrics.write(w, nil)
		return nil
	})
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.observe("unknown", w, r, func(http.ResponseWriter, *http.Request) error {
			return &apiError{http.StatusNotFound, CodeNotFound, "no such endpoint"}
		})
	})
	return h.mux
}

func (ih *ingestHandler) events(w http.ResponseWriter, r *http.Request) error {
	var req IngestRequest
	if err := ih.h.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Events) > ih.h.opts.MaxEventsPerRequest {
		return badRequest("at most %d events per request", ih.h.opts.MaxEventsPerRequest)
	}
	resp := IngestResponse{Rejected: []RejectedEvent{}}
	for i, ej := range req.Events {
		e, err := parseEvent(ej)
		if err == nil {
			err = ih.sink.Add(e)
		}
		if err != nil {
			resp.Rejected = append(resp.Rejected, RejectedEvent{Index: i, Error: err.Error()})
			continue
		}
		resp.Accepted++
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func parseEvent(ej EventJSON) (recommend.RawEvent, error) {
	if ej.User == "" {
		return recommend.RawEvent{}, errors.New("missing user")
	}
	e := recommend.RawEvent{UserID: ej.User, Item: ej.Item, Kind: recommend.KindPurchase}
	if ej.Kind != "" {
		k, err := recommend.ParseKind(ej.Kind)
		if err != nil {
			return recommend.RawEvent{}, err
		}
		e.Kind = k
	}
	t, err := time.Parse(time.RFC3339Nano, ej.Time)
	if err != nil {
		return recommend.RawEvent{}, fmt.Errorf("time must be RFC 3339")
	}
	e.Time = t
	return e, nil
}
