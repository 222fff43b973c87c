package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/privrec/privrec/httpapi"
	"github.com/privrec/privrec/httpapi/client"
	"github.com/privrec/privrec/recommend"
)

// A shop's backend asks a privrec server for recommendations for a cart.
func Example() {
	// A server without a model yet, standing in for privrec serve.
	srv := httptest.NewServer(httpapi.NewHandler(func() *recommend.Model { return nil }, httpapi.Options{Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()

	c, err := client.New(srv.URL, nil)
	if err != nil {
		panic(err)
	}
	ready, _ := c.Ready(context.Background())
	fmt.Println("ready:", ready)
	_, err = c.Recommend(context.Background(), client.Query{Context: []string{"22697", "22698"}, N: 4})
	fmt.Println(strings.SplitN(err.Error(), ":", 3)[1])
	// Output:
	// ready: false
	//  503 no_model
}
