package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/continuity"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

type buildFlags struct {
	events, format, catalog, keyFile, ledger, out string
	windowStart, windowEnd                        string
	keyPeriod                                     time.Duration
	keyEpoch                                      string
	params                                        release.Options
	noise, mechanisms, pairs                      string
	neighbors                                     int
	budget                                        dp.Budget
	newLedger                                     bool
	strict                                        bool
	showBad                                       int
}

// badLine is one refused input line.
type badLine struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

type buildOut struct {
	Events    string           `json:"events"`
	Format    string           `json:"format"`
	Read      int              `json:"lines_read"`
	Accepted  int              `json:"events_accepted"`
	Skipped   int              `json:"lines_skipped"`
	Bad       int              `json:"bad_lines"`
	FirstBad  []badLine        `json:"first_bad_lines"`
	Window    recommend.Window `json:"window"`
	Model     string           `json:"model"`
	ModelSize int64            `json:"model_bytes"`
	Report    recommend.Report `json:"report"`
}

func (a *app) buildCmd() *cobra.Command {
	var f buildFlags
	c := &cobra.Command{
		Use:   "build --events FILE --key-file F --ledger F --epsilon E --out model.prm",
		Short: "Pseudonymize events, release a differentially private model, and write its snapshot",
		Long: `build streams events (CSV with user,item[,kind],time; JSON Lines; or the UCI Online Retail CSV;
.gz files are decompressed), pseudonymizes every user ID on arrival, keeps at most K items per
user, debits the ledger, releases noisy counts, writes the model snapshot and prints its privacy
report. Bad lines are counted and reported with their line numbers; --strict makes the first one
fatal (exit code 4). A ledger that would be overspent refuses the release (exit code 3).
The ledger must exist: create it once, with the first build, by adding --new-ledger and its cap
(--budget-epsilon, --budget-delta, --budget-horizon); privrec never creates one unasked.

Without --catalog, the catalog is every item in the events (for Online Retail, with descriptions).
Without --window-start/--window-end, the window spans the events' times (one extra pass).
Without --key-period, one key period covers the whole window (right for a one-off build on
historical data); in production, give the period your keyring rotates on.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.build(cmd, &f)
		},
	}
	fl := c.Flags()
	defaults := release.Options{}.WithDefaults()
	fl.StringVar(&f.events, "events", "", "events file (required)")
	fl.StringVar(&f.format, "format", "auto", "csv, jsonl, online-retail or auto (by extension and header)")
	fl.StringVar(&f.catalog, "catalog", "", "catalog CSV (id[,category][,name])")
	fl.StringVar(&f.keyFile, "key-file", "", "master secret from 'privrec keygen' (required, mode 0600)")
	fl.StringVar(&f.ledger, "ledger", "", "budget ledger (required; must exist unless --new-ledger)")
	fl.StringVar(&f.out, "out", "", "model snapshot to write (required)")
	fl.StringVar(&f.windowStart, "window-start", "", "window start (RFC 3339 or YYYY-MM-DD)")
	fl.StringVar(&f.windowEnd, "window-end", "", "window end, exclusive")
	fl.DurationVar(&f.keyPeriod, "key-period", 0, "key period length (default: one period covering the window)")
	fl.StringVar(&f.keyEpoch, "key-epoch", "", "start of key period 0 (default: the Unix epoch with --key-period, else the window start)")
	fl.Float64Var(&f.params.Epsilon, "epsilon", 0, "ε of this release (required)")
	fl.Float64Var(&f.params.Delta, "delta", 1e-6, "δ of this release (0 with --noise laplace)")
	fl.StringVar(&f.mechanisms, "mechanisms", "auto", "auto, or what to release: popularity, pairs, categories joined by +")
	fl.StringVar(&f.noise, "noise", "gaussian", "gaussian or laplace")
	fl.StringVar(&f.noise, "mechanism", "gaussian", "gaussian or laplace")
	_ = fl.MarkDeprecated("mechanism", "use --noise")
	fl.IntVar(&f.params.K, "k", defaults.K, "max items per user per window")
	fl.IntVar(&f.params.Keep, "keep", 0, "items kept per user, weighted to the norm of --k items (default: 64, or --k with --pairs threshold)")
	fl.Float64Var(&f.params.ItemShare, "item-share", defaults.ItemShare, "share of the budget for item counts when pairs may be released")
	fl.StringVar(&f.pairs, "pairs", "head", "pair selection: head or threshold")
	fl.IntVar(&f.params.HeadSize, "head-size", defaults.HeadSize, "most head items whose pairs are released (Auto may choose fewer)")
	fl.IntVar(&f.neighbors, "neighbors", defaults.Neighbors, "neighbours kept per item")
	fl.BoolVar(&f.newLedger, "new-ledger", false, "create the ledger (refused if it exists), with the cap given by --budget-*")
	fl.Float64Var(&f.budget.Epsilon, "budget-epsilon", 0, "cap on composed ε of a new ledger (with an existing one: must match)")
	fl.Float64Var(&f.budget.Delta, "budget-delta", 0, "δ of the cap of a new ledger")
	fl.DurationVar(&f.budget.Horizon, "budget-horizon", 0, "rolling horizon of the cap (0: forever)")
	fl.BoolVar(&f.strict, "strict", false, "fail on the first bad line")
	fl.IntVar(&f.showBad, "show-bad", 5, "how many bad lines to show")
	return c
}

func (a *app) build(cmd *cobra.Command, f *buildFlags) error {
	for name, v := range map[string]string{"--events": f.events, "--key-file": f.keyFile, "--ledger": f.ledger, "--out": f.out} {
		if v == "" {
			return usageErr("%s is required (see 'privrec build --help')", name)
		}
	}
	if !cmd.Flags().Changed("epsilon") {
		return usageErr("--epsilon is required")
	}
	var err error
	if f.params.Noise, err = dp.ParseNoise(f.noise); err != nil {
		return withCode(exitUsage, err)
	}
	if f.params.Mechanisms, err = release.ParseMechanisms(f.mechanisms); err != nil {
		return withCode(exitUsage, err)
	}
	if f.params.Pairs, err = release.ParsePairSelection(f.pairs); err != nil {
		return withCode(exitUsage, err)
	}
	if err := f.params.Validate(); err != nil {
		return optionErr(err)
	}
	if err := checkLedgerFlags(f.ledger, f.newLedger, f.budget); err != nil {
		return err
	}
	// The key is checked now, not after a scan of the whole events file.
	kr, err := pseudonym.FromFile(f.keyFile, pseudonym.Options{})
	if err != nil {
		return keyErr(err)
	}
	kr.Close()
	format, err := detectFormat(f.events, f.format)
	if err != nil {
		return err
	}
	log := a.logger()

	// Pass 1, only when needed: the catalog and/or the window from the events.
	var cat *recommend.Catalog
	if f.catalog != "" {
		cf, err := os.Open(f.catalog)
		if err != nil {
			return err
		}
		cat, err = recommend.ReadCatalogCSV(cf)
		cf.Close()
		if err != nil {
			return withCode(exitData, fmt.Errorf("%s: %w", f.catalog, err))
		}
	}
	window, err := parseWindow(f.windowStart, f.windowEnd)
	if err != nil {
		return err
	}
	if cat == nil || window.Start.IsZero() {
		scanned, err := a.scan(f.events, format, window.Start.IsZero())
		if err != nil {
			return err
		}
		if cat == nil {
			if cat, err = recommend.NewCatalog(scanned.items); err != nil {
				return withCode(exitData, fmt.Errorf("catalog from %s: %w", f.events, err))
			}
		}
		if window.Start.IsZero() {
			window = scanned.window
		}
	}

	kr, err = openKeyring(f.keyFile, f.keyPeriod, f.keyEpoch, window)
	if err != nil {
		return classify(err)
	}
	f.params.Neighbors, f.params.Logger = f.neighbors, log
	col, err := collect.New(cat, collect.Options{
		Window: window, Keep: f.params.CollectKeep(), MaxClockSkew: -1, Logger: log,
	})
	if err != nil {
		return withCode(exitUsage, err)
	}
	ing, err := collect.NewIngestor(col, kr)
	if err != nil {
		return withCode(exitUsage, err)
	}

	// Pass 2: pseudonymize at the door and collect, in batches (AddBatch
	// overlaps the state lookups of a large window).
	out := buildOut{Events: f.events, Format: format.String(), Window: window, Model: f.out, FirstBad: []badLine{}}
	bad := func(line int, err error) error {
		out.Bad++
		if len(out.FirstBad) < f.showBad {
			out.FirstBad = append(out.FirstBad, badLine{line, withoutLine(err)})
		}
		if f.strict {
			return withCode(exitData, fmt.Errorf("%s: line %d: %s (--strict)", f.events, line, withoutLine(err)))
		}
		return nil
	}
	batch := make([]events.Event, 0, eventBatch)
	lines := make([]int, 0, eventBatch)
	flush := func() error {
		var first error
		out.Accepted += ing.AddBatch(batch, func(i int, err error) {
			if err := bad(lines[i], err); first == nil {
				first = err
			}
		})
		batch, lines = batch[:0], lines[:0]
		return first
	}
	err = a.readEvents(f.events, format, "pseudonymizing", func(er *events.Reader, e events.Event, perr error) error {
		out.Read++
		if perr != nil {
			if err := flush(); err != nil { // keeps FirstBad in line order
				return err
			}
			return bad(er.Line(), perr)
		}
		batch, lines = append(batch, e), append(lines, er.Line())
		if len(batch) == eventBatch {
			return flush()
		}
		return nil
	}, &out.Skipped)
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	if out.Accepted == 0 {
		return withCode(exitData, fmt.Errorf("%s: no event was accepted (%d bad lines)", f.events, out.Bad))
	}

	ledger, err := dp.OpenFileLedger(f.ledger, dp.LedgerOptions{Budget: f.budget, Create: f.newLedger, Logger: log})
	if err != nil {
		return ledgerErr(f.ledger, err)
	}
	defer ledger.Close()
	sum, err := ledger.Summary(time.Now())
	if err != nil {
		return classify(err)
	}
	if err := continuity.Check(f.out, sum, f.newLedger); err != nil {
		return withCode(exitData, err)
	}
	model, err := release.Private(cmd.Context(), col, ledger, f.params)
	if err != nil {
		return classify(err)
	}
	if err := recommend.SaveModel(model, f.out); err != nil {
		return err
	}
	if fi, err := os.Stat(f.out); err == nil {
		out.ModelSize = fi.Size()
	}
	out.Report = model.Report()
	if share := out.Report.Contents.EvidenceShare; share < popularityWarning {
		fmt.Fprintf(a.stderr, "warning: this model is effectively popularity: evidence beyond popularity answers %.0f%% of one-item queries. "+
			"At ε = %g the data carry too little signal for the mechanisms released (see the report's decisions); "+
			"a larger ε, a longer window or a catalog with categories would help.\n", 100*share, out.Report.Privacy.Epsilon)
	}
	if a.json {
		return a.printJSON(out)
	}
	fmt.Fprintf(a.stdout, "Read %d lines of %s (%s): %d events accepted, %d bad lines, %d skipped.\n",
		out.Read, f.events, out.Format, out.Accepted, out.Bad, out.Skipped)
	for _, b := range out.FirstBad {
		fmt.Fprintf(a.stdout, "  line %d: %s\n", b.Line, b.Error)
	}
	if out.Bad > len(out.FirstBad) {
		fmt.Fprintf(a.stdout, "  … and %d more\n", out.Bad-len(out.FirstBad))
	}
	fmt.Fprintf(a.stdout, "Wrote %s (%d bytes).\n\n", f.out, out.ModelSize)
	fmt.Fprint(a.stdout, out.Report.Markdown())
	return nil
}

// popularityWarning is the evidence share below which build warns that a
// model serves popularity.
const popularityWarning = 0.05

func parseWindow(start, end string) (recommend.Window, error) {
	if (start == "") != (end == "") {
		return recommend.Window{}, usageErr("give both --window-start and --window-end, or neither")
	}
	if start == "" {
		return recommend.Window{}, nil
	}
	var w recommend.Window
	var err error
	if w.Start, err = parseTimeFlag(start); err != nil {
		return w, usageErr("--window-start: %v", err)
	}
	if w.End, err = parseTimeFlag(end); err != nil {
		return w, usageErr("--window-end: %v", err)
	}
	if err := w.Validate(); err != nil {
		return w, withCode(exitUsage, err)
	}
	return w, nil
}

func parseTimeFlag(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not RFC 3339 or YYYY-MM-DD", s)
}

func openKeyring(path string, period time.Duration, epoch string, w recommend.Window) (*pseudonym.Keyring, error) {
	opts := pseudonym.Options{PeriodLength: period}
	switch {
	case epoch != "":
		t, err := parseTimeFlag(epoch)
		if err != nil {
			return nil, usageErr("--key-epoch: %v", err)
		}
		opts.Epoch = t
	case period == 0:
		// One period covering the window, starting with it.
		opts.Epoch = w.Start
		opts.PeriodLength = w.End.Sub(w.Start).Truncate(24*time.Hour) + 24*time.Hour
	}
	return pseudonym.FromFile(path, opts)
}

// detectFormat picks the event format from the flag, the extension or the header.
func detectFormat(path, flag string) (events.Format, error) {
	if flag != "auto" {
		f, err := events.ParseFormat(flag)
		if err != nil {
			return 0, withCode(exitUsage, err)
		}
		return f, nil
	}
	base := strings.TrimSuffix(strings.ToLower(path), ".gz")
	if strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".ndjson") {
		return events.FormatJSONLines, nil
	}
	r, closeFn, err := openMaybeGzip(path, nil)
	if err != nil {
		return 0, err
	}
	defer closeFn()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return events.Sniff(line), nil
}

// openMaybeGzip opens path, decompressing .gz files; counted, when not nil,
// receives the compressed bytes read (for progress).
func openMaybeGzip(path string, counted io.Writer) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = f
	if counted != nil {
		r = io.TeeReader(f, counted)
	}
	r = bufio.NewReaderSize(r, 256<<10)
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return zr, func() { f.Close() }, nil
	}
	return r, func() { f.Close() }, nil
}

// readEvents streams the events file with a progress bar on a terminal and
// calls fn for every line: an event, or the line's parse error.
func (a *app) readEvents(path string, format events.Format, what string,
	fn func(*events.Reader, events.Event, error) error, skipped *int) error {
	var bar *progressbar.ProgressBar
	var counted io.Writer
	if fi, err := os.Stat(path); err == nil && !a.quiet && !a.json && isTerminal(a.stderr) {
		bar = progressbar.NewOptions64(fi.Size(), progressbar.OptionSetWriter(a.stderr), progressbar.OptionSetDescription(what),
			progressbar.OptionShowBytes(true), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
		counted = bar
	}
	r, closeFn, err := openMaybeGzip(path, counted)
	if err != nil {
		return err
	}
	defer closeFn()
	er := events.NewReader(r, format, events.ReaderOptions{})
	for {
		e, err := er.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *events.ParseError
		if err != nil && !errors.As(err, &pe) {
			return withCode(exitData, fmt.Errorf("%s: %w", path, err))
		}
		if pe != nil && pe.Line == 1 && format != events.FormatJSONLines {
			return withCode(exitData, fmt.Errorf("%s: %w", path, err))
		}
		if err := fn(er, e, err); err != nil {
			return err
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if skipped != nil {
		*skipped = er.Skipped()
	}
	return nil
}

// eventBatch is how many events build hands the ingestor at once.
const eventBatch = 1024

type scanResult struct {
	items  []recommend.Item
	window recommend.Window
}

// scan reads the events once for their items (and names, for Online
// Retail) and time range.
func (a *app) scan(path string, format events.Format, needWindow bool) (scanResult, error) {
	var res scanResult
	seen := map[string]bool{}
	var lo, hi time.Time
	err := a.readEvents(path, format, "scanning", func(_ *events.Reader, e events.Event, perr error) error {
		if perr != nil {
			return nil // reported in the second pass
		}
		if !seen[e.Item] {
			seen[e.Item] = true
			res.items = append(res.items, recommend.Item{ID: e.Item})
		}
		if lo.IsZero() || e.Time.Before(lo) {
			lo = e.Time
		}
		if e.Time.After(hi) {
			hi = e.Time
		}
		return nil
	}, nil)
	if err != nil {
		return res, err
	}
	if len(res.items) == 0 {
		return res, withCode(exitData, fmt.Errorf("%s: no valid events", path))
	}
	if format == events.FormatOnlineRetail {
		names, err := onlineRetailNames(path)
		if err != nil {
			return res, err
		}
		for i := range res.items {
			res.items[i].Name = sanitizeName(names[res.items[i].ID])
		}
	}
	if needWindow {
		res.window = recommend.Window{Start: lo.Truncate(24 * time.Hour), End: hi.Truncate(24 * time.Hour).Add(24 * time.Hour)}
	}
	return res, nil
}

// onlineRetailNames reads the Description of every StockCode (public product
// data) from an Online Retail file.
func onlineRetailNames(path string) (map[string]string, error) {
	r, closeFn, err := openMaybeGzip(path, nil)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	names := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for first := true; sc.Scan(); first = false {
		if first {
			continue
		}
		fields := splitCSVLine(sc.Bytes())
		if len(fields) >= 3 && names[fields[1]] == "" {
			names[fields[1]] = fields[2]
		}
	}
	return names, sc.Err()
}

// splitCSVLine splits one CSV line with simple quoting (enough for names).
func splitCSVLine(b []byte) []string {
	var out []string
	var cur bytes.Buffer
	quoted := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"' && quoted && i+1 < len(b) && b[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

func sanitizeName(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s))
	if len(s) > recommend.MaxItemNameLen {
		s = s[:recommend.MaxItemNameLen]
	}
	return strings.ToValidUTF8(s, "")
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// checkLedgerFlags refuses, before any work, a ledger that --new-ledger
// would overwrite, a missing ledger without --new-ledger (a mistyped or
// deleted path must not start a fresh budget), and a new ledger without a
// valid cap.
func checkLedgerFlags(path string, create bool, b dp.Budget) error {
	_, err := os.Stat(path)
	switch {
	case create && err == nil:
		return ledgerErr(path, fs.ErrExist)
	case !create && errors.Is(err, fs.ErrNotExist):
		return ledgerErr(path, err)
	case create && b == (dp.Budget{}):
		return ledgerErr(path, dp.ErrNoBudget)
	}
	if b != (dp.Budget{}) {
		if err := b.Validate(); err != nil {
			return budgetFlagErr(b, err)
		}
	}
	return nil
}

// budgetFlagErr names the --budget-* flag whose value dp.Budget.Validate
// refused (err), in the flags' words rather than the Go fields'.
func budgetFlagErr(b dp.Budget, err error) error {
	switch {
	case !(b.Epsilon > 0) || math.IsInf(b.Epsilon, 0):
		return usageErr("invalid --budget-epsilon %v: must be a finite number > 0", b.Epsilon)
	case !(b.Delta >= 0 && b.Delta < 1):
		return usageErr("invalid --budget-delta %v: must be in [0, 1)", b.Delta)
	case b.Horizon < 0:
		return usageErr("invalid --budget-horizon %v: must be >= 0", b.Horizon)
	}
	return usageErr("invalid --budget-* flags: %v", err)
}

// ledgerErr turns an error opening the ledger at path into one that says
// what to do.
func ledgerErr(path string, err error) error {
	switch {
	case errors.Is(err, dp.ErrNoBudget):
		return usageErr("--new-ledger needs the ledger's cap: --budget-epsilon and --budget-delta (and --budget-horizon for a rolling cap)")
	case errors.Is(err, fs.ErrExist):
		return usageErr("ledger %s already exists: drop --new-ledger to charge it (a ledger is never recreated)", path)
	case errors.Is(err, fs.ErrNotExist):
		return usageErr("ledger %s does not exist: check the path, or create a ledger with --new-ledger and its cap (--budget-epsilon, --budget-delta); "+
			"creating one resets the privacy budget, so privrec never does it unasked", path)
	}
	return classify(err)
}

// flagOf names the build flag that sets each release.Options field.
var flagOf = map[string]string{
	"Epsilon": "--epsilon", "Delta": "--delta", "K": "--k", "Keep": "--keep", "ItemShare": "--item-share",
	"HeadSize": "--head-size", "Neighbors": "--neighbors", "Noise": "--noise", "Pairs": "--pairs", "Mechanisms": "--mechanisms",
}

// optionErr reports an invalid release option by the flag that set it,
// not by its Go field name.
func optionErr(err error) error {
	var oe *release.OptionError
	if errors.As(err, &oe) {
		if name, ok := flagOf[oe.Field]; ok {
			return usageErr("invalid %s %v: %s", name, oe.Value, oe.Reason)
		}
	}
	return withCode(exitUsage, err)
}

// withoutLine renders a bad line's error without its line number, which
// the caller prints once.
func withoutLine(err error) string {
	var pe *events.ParseError
	if errors.As(err, &pe) && pe.Line > 0 {
		c := *pe
		c.Line = 0
		return c.Error()
	}
	return err.Error()
}

// keyErr gives a key file that cannot be used the exit code of invalid
// input, a missing one included.
func keyErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return withCode(exitData, fmt.Errorf("%w (create a key with 'privrec keygen --out FILE')", err))
	}
	return classify(err)
}
