package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/privrec/privrec/recommend"
)

// maxResponseBytes bounds what the client reads from one response.
const maxResponseBytes = 4 << 20

// Client calls one privrec server.
type Client struct {
	base *url.URL
	hc   *http.Client
}

// New returns a client of the server at baseURL (e.g.
// "http://127.0.0.1:8080"). hc is the HTTP client to use; a client with a
// 10-second timeout when nil.
func New(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q needs http:// or https:// and a host", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, hc: hc}, nil
}

// Item is one recommendation.
type Item struct {
	Item     string  `json:"item"`
	Name     string  `json:"name,omitempty"`
	Category string  `json:"category,omitempty"`
	Score    float64 `json:"score"`
	// Reason is "context", "category" or "popular".
	Reason string `json:"reason"`
	// Because are the context items that led to it.
	Because []string `json:"because"`
	// Support is the released evidence behind it (users, noisy).
	Support     float64 `json:"support"`
	Explanation string  `json:"explanation"`
}

// Result is the answer of the query routes.
type Result struct {
	Items []Item `json:"items"`
	// Unknown are context items the model does not know.
	Unknown []string `json:"unknown"`
	// UnknownCategories are the query's categories the model does not have.
	UnknownCategories []string `json:"unknown_categories,omitempty"`
	// Fallback is true when the context had no evidence and the answer is
	// popularity.
	Fallback bool `json:"fallback"`
	// Release names the model's release.
	Release string `json:"release"`
}

// Query is a request for recommendations (POST /v1/recommend, GET
// /v1/similar, GET /v1/popular use the fields they have). N zero means the
// server's default.
type Query struct {
	Context           []string `json:"context,omitempty"`
	N                 int      `json:"n,omitempty"`
	Exclude           []string `json:"exclude,omitempty"`
	Categories        []string `json:"categories,omitempty"`
	ExcludeCategories []string `json:"exclude_categories,omitempty"`
	MinSupport        float64  `json:"min_support,omitempty"`
}

// Error is an error answer of the server.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the API's error code, e.g. "bad_request", "no_model".
	Code string
	// Message is the server's explanation.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("privrec server: %d %s: %s", e.Status, e.Code, e.Message)
}

// Recommend returns recommendations for q's context (a cart or session).
func (c *Client) Recommend(ctx context.Context, q Query) (*Result, error) {
	var r Result
	return &r, c.do(ctx, http.MethodPost, "/v1/recommend", nil, q, &r)
}

// Similar returns the items bought with item; q's context is ignored.
func (c *Client) Similar(ctx context.Context, item string, q Query) (*Result, error) {
	var r Result
	return &r, c.do(ctx, http.MethodGet, "/v1/similar/"+url.PathEscape(item), queryValues(q), nil, &r)
}

// Popular returns the most popular items; q's context is ignored.
func (c *Client) Popular(ctx context.Context, q Query) (*Result, error) {
	var r Result
	return &r, c.do(ctx, http.MethodGet, "/v1/popular", queryValues(q), nil, &r)
}

// Privacy returns the served model's privacy report.
func (c *Client) Privacy(ctx context.Context) (*recommend.Report, error) {
	var r recommend.Report
	return &r, c.do(ctx, http.MethodGet, "/v1/privacy", nil, nil, &r)
}

// Ready reports whether the server has a model (GET /readyz).
func (c *Client) Ready(ctx context.Context) (bool, error) {
	err := c.do(ctx, http.MethodGet, "/readyz", nil, nil, nil)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusServiceUnavailable {
		return false, nil
	}
	return err == nil, err
}

// Event is one event to send to privrec run: a user, an item, a kind
// ("view", "cart" or "purchase") and a time. The server pseudonymizes the
// user at once.
type Event struct {
	User string    `json:"user"`
	Item string    `json:"item"`
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`
}

// Rejected names an event the server refused, by its index in the call.
type Rejected struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// SendEvents sends events (at most the server's limit per call, 1000 by
// default) and returns how many were accepted, durably, and which were
// refused and why. Sending the same events again is safe: a repeated
// event changes nothing.
func (c *Client) SendEvents(ctx context.Context, evs []Event) (accepted int, rejected []Rejected, err error) {
	var r struct {
		Accepted int        `json:"accepted"`
		Rejected []Rejected `json:"rejected"`
	}
	err = c.do(ctx, http.MethodPost, "/v1/events", nil, struct {
		Events []Event `json:"events"`
	}{evs}, &r)
	return r.Accepted, r.Rejected, err
}

func queryValues(q Query) url.Values {
	v := url.Values{}
	if q.N != 0 {
		v.Set("n", strconv.Itoa(q.N))
	}
	for k, list := range map[string][]string{"exclude": q.Exclude, "category": q.Categories, "exclude_category": q.ExcludeCategories} {
		if len(list) > 0 {
			v.Set(k, strings.Join(list, ","))
		}
	}
	if q.MinSupport != 0 {
		v.Set("min_support", strconv.FormatFloat(q.MinSupport, 'g', -1, 64))
	}
	return v
}

// do sends one request with body encoded as JSON (when not nil) and
// decodes a 200 answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("client: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error.Code == "" {
			e.Error.Code, e.Error.Message = "unknown", http.StatusText(resp.StatusCode)
		}
		return &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: %s %s: decode the answer: %w", method, path, err)
	}
	return nil
}
