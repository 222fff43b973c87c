// Package httpx is the plumbing privrec's HTTP handlers share: routing with
// method checks, JSON error responses, strict JSON bodies, and request
// metrics. Responses and logs never carry request data beyond the route.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/privrec/privrec/internal/jsonerr"
)

// Error codes in error responses.
const (
	CodeBadRequest       = "bad_request"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "body_too_large"
	CodeUnsupportedType  = "unsupported_media_type"
	CodeNoModel          = "no_model"
	CodeInternal         = "internal"
)

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Error is an error response.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// BadRequest returns a 400 error.
func BadRequest(format string, args ...any) error {
	return &Error{http.StatusBadRequest, CodeBadRequest, fmt.Sprintf(format, args...)}
}

// Mux routes requests to handlers that return errors, checks methods, and
// counts every request in its metrics.
type Mux struct {
	mux     *http.ServeMux
	Metrics *Metrics
	// Observe, when set, is also told of every request: its route pattern,
	// status, latency, and whether the handler marked its answer as a
	// fallback (MarkFallback).
	Observe func(route string, status int, d time.Duration, fallback bool)
	log     *slog.Logger
}

// NewMux returns a mux that answers unknown paths with 404.
func NewMux(log *slog.Logger) *Mux {
	m := &Mux{mux: http.NewServeMux(), Metrics: NewMetrics(), log: log}
	m.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		m.observe("unknown", w, r, func(http.ResponseWriter, *http.Request) error {
			return &Error{http.StatusNotFound, CodeNotFound, "no such endpoint"}
		})
	})
	return m
}

// ServeHTTP implements http.Handler.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Route serves pattern with fn for one method (GET also answers HEAD).
func (m *Mux) Route(pattern, method string, fn func(http.ResponseWriter, *http.Request) error) {
	m.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		m.observe(pattern, w, r, func(w http.ResponseWriter, r *http.Request) error {
			if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
				w.Header().Set("Allow", method)
				return &Error{http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use " + method}
			}
			return fn(w, r)
		})
	})
}

// statusWriter records the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	status   int
	fallback bool
}

// MarkFallback records, for the metrics, that the answer being written fell
// back to popularity. w must be the writer a Route handler was given.
func MarkFallback(w http.ResponseWriter) {
	if sw, ok := w.(*statusWriter); ok {
		sw.fallback = true
	}
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (m *Mux) observe(route string, w http.ResponseWriter, r *http.Request, fn func(http.ResponseWriter, *http.Request) error) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("privrec http: handler panic", "route", route)
			WriteError(sw, &Error{http.StatusInternalServerError, CodeInternal, "internal error"})
		}
		d := time.Since(start)
		m.Metrics.Observe(route, sw.status, d, sw.fallback)
		if m.Observe != nil {
			m.Observe(route, sw.status, d, sw.fallback)
		}
	}()
	if err := fn(sw, r); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{http.StatusInternalServerError, CodeInternal, "internal error"}
		}
		if e.Status >= 500 {
			m.log.Warn("privrec http: request failed", "route", route, "status", e.Status)
		}
		WriteError(sw, e)
	}
}

// WriteError writes e as a JSON error response.
func WriteError(w http.ResponseWriter, e *Error) {
	var body ErrorBody
	body.Error.Code, body.Error.Message = e.Code, e.Message
	WriteJSON(w, e.Status, body)
}

// WriteJSON writes v as a JSON response that no cache keeps.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads a JSON body strictly: JSON content type (or none), at
// most maxBytes, one value, no unknown fields.
func DecodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &Error{http.StatusUnsupportedMediaType, CodeUnsupportedType, "the body must be application/json"}
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBytes)}
		}
		desc := jsonerr.Describe(err)
		if rest, ok := strings.CutPrefix(desc, "invalid JSON"); ok {
			return BadRequest("invalid JSON body%s", rest)
		}
		return BadRequest("invalid JSON body: %s", desc)
	}
	if dec.More() {
		return BadRequest("the body must hold one JSON value")
	}
	return nil
}
