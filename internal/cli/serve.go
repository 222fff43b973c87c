package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/privrec/privrec/httpapi"
	"github.com/privrec/privrec/internal/serving"
	"github.com/privrec/privrec/recommend"
)

func (a *app) serveCmd() *cobra.Command {
	var model, addr string
	var reload time.Duration
	c := &cobra.Command{
		Use:   "serve --model FILE [--addr 127.0.0.1:8080]",
		Short: "Serve the model over HTTP, reloading it when the file changes",
		Long: `serve runs the HTTP API (GET /v1/similar/{item}, POST /v1/recommend, GET /v1/popular,
GET /v1/privacy, GET /healthz, GET /readyz, GET /metrics). It needs only the model: no key, no
ledger, no user data. When the model file changes (privrec build writes it atomically), the new
model is loaded and swapped in without dropping requests: serve watches the file's directory for
changes and also polls the file; a file that fails to load is logged, counted in
privrec_model_reloads_total{result="failed"} and ignored. /metrics has Prometheus client metrics
(Go runtime, process, build info, requests, fallbacks to popularity, the model's age and ε).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadModel(model)
			if err != nil {
				return err
			}
			log := a.logger()
			if !a.quiet {
				log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			}
			rec := new(atomic.Pointer[recommend.Model])
			rec.Store(m)
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), ln, rec, model, reload, log, a)
		},
	}
	c.Flags().StringVar(&model, "model", "", "model snapshot (required)")
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	c.Flags().DurationVar(&reload, "reload-interval", 30*time.Second, "how often to poll the model file, besides watching it for changes (negative: never)")
	return c
}

func serve(ctx context.Context, ln net.Listener, rec *atomic.Pointer[recommend.Model], path string, every time.Duration, log *slog.Logger, a *app) error {
	metrics := serving.NewMetrics(rec, nil)
	srv := &http.Server{
		Handler:           httpapi.NewHandler(rec.Load, httpapi.Options{Logger: log, Metrics: metrics.Handler(), Observe: metrics.Observe}),
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	fmt.Fprintf(a.stdout, "serving %s on http://%s\n", path, ln.Addr())
	watch, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	reloader := &serving.Reloader{Path: path, Current: rec, Poll: every, Logger: log, Metrics: metrics}
	go func() {
		if err := reloader.Run(watch); err != nil {
			log.Error("privrec serve: cannot watch the model file; serving the loaded model only", "error", err.Error())
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
