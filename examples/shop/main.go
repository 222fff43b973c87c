// Command shop is a small web shop that shows privrec's recommendations in
// a browser: a product page with "customers who bought this also bought", a
// cart with "recommended for your cart" computed from the cart's contents at
// request time, and a "Your privacy" page that explains, in plain language,
// what is collected and what ε the model spent.
//
// The model is built at start-up from the embedded Online Retail sample and
// served by privrec's HTTP API on a loopback port; the shop asks it for
// every recommendation through the Go client (httpapi/client), as a shop's
// backend asks a separate privrec server. With -api it asks that server
// instead (privrec serve or privrec run over the same catalog). The shop
// sets one cookie, the cart (item IDs only), and tracks nobody.
//
//	go run ./examples/shop            # then open http://127.0.0.1:8080
//	go run ./examples/shop -addr 127.0.0.1:8081 -api http://127.0.0.1:8080
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/privrec/privrec/internal/nocore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	eps := flag.Float64("epsilon", 4, "ε of the model's release")
	api := flag.String("api", "", "base URL of a privrec server (privrec serve or run) to ask; default: release the embedded sample and serve it")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// The shop holds the master secret: a crash must not dump it to disk.
	if err := nocore.Disable(); err != nil {
		log.Warn("could not disable core dumps", "error", err.Error())
	}
	if err := run(*addr, *eps, *api, log); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		os.Exit(1)
	}
}

func run(addr string, eps float64, api string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "privrec-shop-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := newShop(ctx, Options{Epsilon: eps, Dir: dir, Logger: log, API: api})
	if err != nil {
		return err
	}
	defer s.stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
	fmt.Printf("privrec shop: open http://%s (ε = %g; Ctrl-C to stop)\n", ln.Addr(), eps)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
