package httpapi_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"

	"github.com/privrec/privrec/httpapi"
	"github.com/privrec/privrec/recommend"
)

// The serving handler needs only the current model: mount it in any
// net/http server, and swap models in while it serves.
func ExampleNewHandler() {
	var current atomic.Pointer[recommend.Model] // current.Store(model) once one is released or loaded
	h := httpapi.NewHandler(current.Load, httpapi.Options{Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/v1/recommend", "application/json", strings.NewReader(`{"context":["22697"],"n":3}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	// Output:
	// 503 {"error":{"code":"no_model","message":"no model loaded yet"}}
}
