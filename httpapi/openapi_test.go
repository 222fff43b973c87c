package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/recommend"
)

// TestOpenAPIDescribesEveryAnswer checks the committed OpenAPI description
// against the handler's real answers: the description is valid, every
// route the handler serves is in it, and each case below (each endpoint's
// success and each error it documents) has a request the description
// accepts, where the case is a valid request, and a response whose status,
// content type and body it describes. A status the description does not
// list fails too.
func TestOpenAPIDescribesEveryAnswer(t *testing.T) {
	ctx := context.Background()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPI)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(ctx))
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)

	m := sampleModels(t)[0]
	var current func() *recommend.Model
	h := NewHandler(func() *recommend.Model { return current() }, Options{Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 4096})
	loaded := func() *recommend.Model { return m }
	none := func() *recommend.Model { return nil }

	cases := []struct {
		name        string
		model       func() *recommend.Model
		method, url string
		contentType string
		body        string
		// op is the documented method for the path, when the request's
		// own method is not (405).
		op     string
		status int
		valid  bool // the request itself is valid by the description
	}{
		{"similar", loaded, "GET", "/v1/similar/22697?n=3&exclude=22698&min_support=1", "", "", "", 200, true},
		{"similar, categories", loaded, "GET", "/v1/similar/22697?category=kitchen,nope&exclude_category=christmas", "", "", "", 200, true},
		{"similar, bad n", loaded, "GET", "/v1/similar/22697?n=0", "", "", "", 400, false},
		{"similar, wrong method", loaded, "POST", "/v1/similar/22697", "", "", "GET", 405, true},
		{"similar, no model", none, "GET", "/v1/similar/22697", "", "", "", 503, true},
		{"recommend", loaded, "POST", "/v1/recommend", "application/json", `{"context":["22697","22698","NOT-A-SKU"],"n":4}`, "", 200, true},
		{"recommend, all fields", loaded, "POST", "/v1/recommend", "application/json", `{"context":[],"n":2,"exclude":["22423"],"categories":["kitchen"],"exclude_categories":["christmas"],"min_support":0}`, "", 200, true},
		{"recommend, bad n", loaded, "POST", "/v1/recommend", "application/json", `{"context":["22697"],"n":0}`, "", 400, false},
		{"recommend, unknown field", loaded, "POST", "/v1/recommend", "application/json", `{"user":"alice"}`, "", 400, false},
		{"recommend, wrong method", loaded, "GET", "/v1/recommend", "", "", "POST", 405, true},
		{"recommend, too large", loaded, "POST", "/v1/recommend", "application/json", `{"context":["` + strings.Repeat("x", 5000) + `"]}`, "", 413, false},
		{"recommend, not JSON", loaded, "POST", "/v1/recommend", "text/plain", `context=22697`, "", 415, false},
		{"recommend, no model", none, "POST", "/v1/recommend", "application/json", `{"context":["22697"]}`, "", 503, true},
		{"popular", loaded, "GET", "/v1/popular?n=5&category=christmas", "", "", "", 200, true},
		{"popular, unknown parameter", loaded, "GET", "/v1/popular?user=alice", "", "", "", 400, true},
		{"popular, no model", none, "GET", "/v1/popular", "", "", "", 503, true},
		{"privacy", loaded, "GET", "/v1/privacy", "", "", "", 200, true},
		{"privacy, no model", none, "GET", "/v1/privacy", "", "", "", 503, true},
		{"healthz", none, "GET", "/healthz", "", "", "", 200, true},
		{"readyz", loaded, "GET", "/readyz", "", "", "", 200, true},
		{"readyz, no model", none, "GET", "/readyz", "", "", "", 503, true},
		{"metrics", loaded, "GET", "/metrics", "", "", "", 200, true},
		{"openapi", none, "GET", "/openapi.json", "", "", "", 200, true},
		{"openapi, wrong method", none, "DELETE", "/openapi.json", "", "", "GET", 405, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			current = tc.model
			req := httptest.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			rr := httptest.NewRecorder()
			h.ServeHTTP(rr, req)
			require.Equal(t, tc.status, rr.Code, rr.Body.String())

			// The route as documented (for a 405, under its documented method).
			find := httptest.NewRequest(tc.method, "http://localhost"+tc.url, strings.NewReader(tc.body))
			if tc.op != "" {
				find.Method = tc.op
			}
			if tc.contentType != "" {
				find.Header.Set("Content-Type", tc.contentType)
			}
			route, params, err := router.FindRoute(find)
			require.NoError(t, err, "the description has %s %s", find.Method, tc.url)
			in := &openapi3filter.RequestValidationInput{Request: find, PathParams: params, Route: route,
				Options: &openapi3filter.Options{IncludeResponseStatus: true}}
			if tc.valid && tc.op == "" {
				assert.NoError(t, openapi3filter.ValidateRequest(ctx, in), "the request")
			}
			out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rr.Code, Header: rr.Header(),
				Options: &openapi3filter.Options{IncludeResponseStatus: true}}
			out.SetBodyBytes(rr.Body.Bytes())
			assert.NoError(t, openapi3filter.ValidateResponse(ctx, out), "the response: %s", rr.Body.String())
		})
	}

	t.Run("unknown route", func(t *testing.T) {
		current = none
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("GET", "/v2/anything", nil))
		require.Equal(t, 404, rr.Code)
		var body any
		require.NoError(t, json.Unmarshal(rr.Body.Bytes(), &body))
		assert.NoError(t, doc.Components.Schemas["Error"].Value.VisitJSON(body), "the one error shape")
	})

	t.Run("every route is described", func(t *testing.T) {
		for _, path := range []string{"/v1/similar/{item}", "/v1/recommend", "/v1/popular", "/v1/privacy", "/healthz", "/readyz", "/metrics", "/openapi.json"} {
			assert.NotNil(t, doc.Paths.Find(path), path)
		}
		assert.Equal(t, 8, doc.Paths.Len(), "no route described that the handler lacks")
	})

	t.Run("served as committed", func(t *testing.T) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/openapi.json")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		assert.True(t, bytes.Equal(openAPI, b))
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	})
}
