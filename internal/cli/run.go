package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/httpapi"
	"github.com/privrec/privrec/httpapi/ingest"
	"github.com/privrec/privrec/internal/service"
	"github.com/privrec/privrec/internal/serving"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

type runFlags struct {
	catalog, keyFile, ledger, model, stateDir, addr string
	keyPeriod, window, grace, retention             time.Duration
	keyEpoch                                        string
	params                                          release.Options
	mechanisms, noise                               string
	budget                                          dp.Budget
	newLedger, noSync                               bool
}

func (a *app) runCmd() *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run --catalog F --key-file F --ledger F --epsilon E --state-dir D --model F",
		Short: "Run privrec as a service: ingest events over HTTP, release each window on schedule, serve the model",
		Long: `run is privrec as one long-running process. It accepts events at POST /v1/events
({"events": [{"user": ..., "item": ..., "kind": ..., "time": ...}, ...]}), pseudonymizes
every user ID on arrival and keeps each person's bounded window state in --state-dir. A request
is acknowledged only once its accepted events are on disk (fsync; --no-sync trades that for
throughput: events then survive a crash of the process but not of the machine).

Windows of length --window tile each key period (--key-period, which --window must divide), so
no window spans two periods. When a window ends (plus --grace for late events), run debits the
ledger, releases the window with --epsilon and publishes the model atomically at --model; a
release the ledger refuses is logged, counted in privrec_releases_total{result="refused"}, and
its state kept until --retention deletes it. Window state older than --retention is deleted,
released or not, and the subkeys of past key periods are forgotten. After a crash or a restart,
run replays the current window's state and releases the windows left behind; a window already
charged is never charged again.

It also serves the model (the routes of 'privrec serve': /v1/recommend, /v1/similar/{item},
/v1/popular, /v1/privacy, /healthz, /readyz, /metrics). Keyless serving processes can run
'privrec serve --model' on the same file. SIGTERM or SIGINT stops accepting requests, lets
running ones finish, and syncs the state; nothing is released early.

Events from Kafka: the build of this command in the Kafka module (go build
github.com/privrec/privrec/kafka/cmd/privrec) adds --kafka-brokers, --kafka-topics and
--kafka-group; offsets are committed only after the events are on disk.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			current := new(atomic.Pointer[recommend.Model])
			metrics := serving.NewMetrics(current, nil)
			svc, cleanup, err := a.newService(cmd, &f, func(_ recommend.Window, m *recommend.Model, err error) {
				if m != nil {
					current.Store(m)
				}
				metrics.Released(err)
			})
			if err != nil {
				return err
			}
			defer cleanup()
			current.Store(svc.Model())
			ln, err := net.Listen("tcp", f.addr)
			if err != nil {
				return err
			}
			return runService(cmd.Context(), svc, ln, current, metrics, f, a)
		},
	}
	fl := c.Flags()
	defaults := release.Options{}.WithDefaults()
	fl.StringVar(&f.catalog, "catalog", "", "catalog CSV (id[,category][,name]) (required)")
	fl.StringVar(&f.keyFile, "key-file", "", "master secret from 'privrec keygen' (required, mode 0600)")
	fl.DurationVar(&f.keyPeriod, "key-period", pseudonym.DefaultPeriodLength, "key period length; windows tile it")
	fl.StringVar(&f.keyEpoch, "key-epoch", "", "start of key period 0 (default: the Unix epoch)")
	fl.StringVar(&f.ledger, "ledger", "", "budget ledger (required; must exist unless --new-ledger)")
	fl.BoolVar(&f.newLedger, "new-ledger", false, "create the ledger (refused if it exists), with the cap given by --budget-*")
	fl.Float64Var(&f.budget.Epsilon, "budget-epsilon", 0, "cap on composed ε of a new ledger (with an existing one: must match)")
	fl.Float64Var(&f.budget.Delta, "budget-delta", 0, "δ of the cap of a new ledger")
	fl.DurationVar(&f.budget.Horizon, "budget-horizon", 0, "rolling horizon of the cap (0: forever)")
	fl.Float64Var(&f.params.Epsilon, "epsilon", 0, "ε of each window's release (required)")
	fl.Float64Var(&f.params.Delta, "delta", 1e-6, "δ of each window's release (0 with --noise laplace)")
	fl.StringVar(&f.mechanisms, "mechanisms", "auto", "auto, or what to release: popularity, pairs, categories joined by +")
	fl.StringVar(&f.noise, "noise", "gaussian", "gaussian or laplace")
	fl.IntVar(&f.params.K, "k", defaults.K, "max items per user per window")
	fl.StringVar(&f.stateDir, "state-dir", "", "directory of the open windows' state (required)")
	fl.StringVar(&f.model, "model", "", "where each window's model is published (required)")
	fl.DurationVar(&f.window, "window", 24*time.Hour, "release window length; must divide --key-period")
	fl.DurationVar(&f.grace, "grace", time.Minute, "how long late events of an ended window are accepted")
	fl.DurationVar(&f.retention, "retention", 0, "delete window state older than this, released or not (default: the key period plus one window)")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address")
	fl.BoolVar(&f.noSync, "no-sync", false, "acknowledge events before they are fsynced (survive a process crash, not a power failure)")
	for _, src := range a.sources {
		src.AddFlags(fl)
	}
	return c
}

// newService checks the flags and opens the service; cleanup closes the
// ledger and the keyring.
func (a *app) newService(cmd *cobra.Command, f *runFlags, released func(recommend.Window, *recommend.Model, error)) (*service.Service, func(), error) {
	for name, v := range map[string]string{"--catalog": f.catalog, "--key-file": f.keyFile, "--ledger": f.ledger, "--state-dir": f.stateDir, "--model": f.model} {
		if v == "" {
			return nil, nil, usageErr("%s is required (see 'privrec run --help')", name)
		}
	}
	if !cmd.Flags().Changed("epsilon") {
		return nil, nil, usageErr("--epsilon is required")
	}
	var err error
	if f.params.Noise, err = dp.ParseNoise(f.noise); err != nil {
		return nil, nil, withCode(exitUsage, err)
	}
	if f.params.Mechanisms, err = release.ParseMechanisms(f.mechanisms); err != nil {
		return nil, nil, withCode(exitUsage, err)
	}
	if err := f.params.Validate(); err != nil {
		return nil, nil, optionErr(err)
	}
	if err := checkLedgerFlags(f.ledger, f.newLedger, f.budget); err != nil {
		return nil, nil, err
	}
	cf, err := os.Open(f.catalog)
	if err != nil {
		return nil, nil, err
	}
	cat, err := recommend.ReadCatalogCSV(cf)
	cf.Close()
	if err != nil {
		return nil, nil, withCode(exitData, fmt.Errorf("%s: %w", f.catalog, err))
	}
	opts := pseudonym.Options{PeriodLength: f.keyPeriod}
	if f.keyEpoch != "" {
		if opts.Epoch, err = parseTimeFlag(f.keyEpoch); err != nil {
			return nil, nil, usageErr("--key-epoch: %v", err)
		}
	}
	kr, err := pseudonym.FromFile(f.keyFile, opts)
	if err != nil {
		return nil, nil, keyErr(err)
	}
	log := a.serviceLogger()
	ledger, err := dp.OpenFileLedger(f.ledger, dp.LedgerOptions{Budget: f.budget, Create: f.newLedger, Logger: log})
	if err != nil {
		kr.Close()
		return nil, nil, ledgerErr(f.ledger, err)
	}
	cleanup := func() { ledger.Close(); kr.Close() }
	f.params.Logger = log
	svc, err := service.New(service.Options{
		Catalog: cat, Keyring: kr, Ledger: ledger, Release: f.params,
		Window: f.window, Grace: f.grace, Retention: f.retention,
		StateDir: f.stateDir, ModelPath: f.model, Logger: log,
		Released: released,
	})
	if err != nil {
		cleanup()
		return nil, nil, withCode(exitUsage, err)
	}
	return svc, cleanup, nil
}

// serviceLogger logs at Info unless --quiet: a service's log is its
// record of windows opened, released and refused.
func (a *app) serviceLogger() *slog.Logger {
	if a.quiet {
		return a.logger()
	}
	level := slog.LevelInfo
	if a.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

// runService serves HTTP on ln (ingestion and the model's routes) and runs
// the service's schedule until ctx is done, then shuts both down.
func runService(ctx context.Context, svc *service.Service, ln net.Listener, current *atomic.Pointer[recommend.Model], metrics *serving.Metrics, f runFlags, a *app) error {
	log := a.serviceLogger()
	api := httpapi.NewHandler(current.Load, httpapi.Options{Logger: log, Metrics: metrics.Handler(), Observe: metrics.Observe})
	mux := http.NewServeMux()
	mux.Handle("/v1/events", ingest.NewHandler(svc, ingest.Options{Logger: log, NoSync: f.noSync, Counted: metrics.Events}))
	mux.Handle("/", api)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	fmt.Fprintf(a.stdout, "privrec run: accepting events at http://%s/v1/events, serving %s\n", ln.Addr(), f.model)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	errc := make(chan error, 1+len(a.sources))
	go func() { errc <- srv.Serve(ln) }()
	var sources sync.WaitGroup
	for _, src := range a.sources {
		if !src.Enabled() {
			continue
		}
		sources.Add(1)
		go func() {
			defer sources.Done()
			if err := src.Run(runCtx, svc, log); err != nil {
				errc <- fmt.Errorf("event source: %w", err)
			}
		}()
	}
	var err error
	select {
	case err = <-errc:
	case err = <-done:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if e := srv.Shutdown(shutdown); e != nil && err == nil {
		err = e
	}
	stop()
	sources.Wait()
	if e := <-done; e != nil && err == nil {
		err = e
	}
	if err := svc.Close(); err != nil {
		log.Error("privrec run: could not close the window state", "error", err.Error())
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
