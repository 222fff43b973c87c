package benchmarks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// PerfOptions configure Perf.
type PerfOptions struct {
	ReleaseSizes [][2]int // (users, items) to release; default 100k×10k, 1M×10k, 10M×10k, 1M×100k
	QueryItems   int      // catalog size of the query model; default 100k
	QueryUsers   int      // users behind the query model; default 300k
	Events       int      // HMAC calls and ingested events timed; default 2M
	MemoryUsers  int      // users added to measure window memory; default 1M
	Progress     func(string)
}

// ReleaseTiming is one measured release.
type ReleaseTiming struct {
	Users, Items int
	Seconds      float64
}

// QueryTiming is ForContext latency for one context size.
type QueryTiming struct {
	Context     int
	P50, P99    time.Duration
	AllocsPerOp float64
}

// SmallRelease is the cost of a private release of a small window, the
// fixed cost a shop pays per window.
type SmallRelease struct {
	Users      int
	Mechanisms string  // what the release ran, as the report names it
	Values     int     // noisy values released
	CPUSeconds float64 // process CPU time of release.Private
	Procs      int     // GOMAXPROCS during the release
}

// PerfResult holds the performance figures of issue 3.
type PerfResult struct {
	HMACPerSec, IngestPerSec float64 // one goroutine
	SmallReleases            []SmallRelease
	Releases                 []ReleaseTiming
	Queries                  []QueryTiming
	BytesPerUser             float64 // window state per active user at K = 16
	BytesPerNeighbor         float64 // neighbour list arrays per entry
	QueryModel               string  // what the query model holds
}

// zipf draws items with Zipf-like popularity (exponent 1) by inverse CDF.
type zipf struct{ cdf []float64 }

func newZipf(n int) zipf {
	z := zipf{cdf: make([]float64, n)}
	s := 0.0
	for i := range n {
		s += 1 / float64(i+1)
		z.cdf[i] = s
	}
	for i := range z.cdf {
		z.cdf[i] /= s
	}
	return z
}

func (z zipf) draw(rng *rand.Rand) int {
	i, _ := slices.BinarySearch(z.cdf, rng.Float64())
	return min(i, len(z.cdf)-1)
}

func synthCatalog(items int) (*recommend.Catalog, []string, error) {
	ids := make([]string, items)
	cat := make([]recommend.Item, items)
	for i := range ids {
		ids[i] = "sku" + strconv.Itoa(i)
		cat[i] = recommend.Item{ID: ids[i]}
	}
	c, err := recommend.NewCatalog(cat)
	return c, ids, err
}

var perfWindow = recommend.Window{Start: time.Unix(0, 0).UTC(), End: time.Unix(86400*7, 0).UTC()}

// fill adds users with 16 Zipf-distributed items each.
func fill(col *collect.Collector, ids []string, users int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 1))
	z := newZipf(len(ids))
	at := perfWindow.Start.Add(time.Hour)
	for u := range users {
		id := userID(u)
		for range 16 {
			if err := col.Add(collect.Event{Subject: id, Item: ids[z.draw(rng)], Kind: events.KindPurchase, Time: at}); err != nil {
				return err
			}
		}
	}
	return nil
}

// smallUsers is the size of the window whose release cost is the fixed
// cost of a release (issue 12).
const smallUsers = 600

// smallRelease releases the first smallUsers users of the embedded Online
// Retail sample with mechanisms mech at ε = 1 and GOMAXPROCS procs, and
// measures the process's CPU time.
func smallRelease(mech release.Mechanisms, procs int) (SmallRelease, error) {
	sr := SmallRelease{Users: smallUsers, Procs: procs}
	quiet := slog.New(slog.DiscardHandler)
	cat, err := sampledata.Catalog()
	if err != nil {
		return sr, err
	}
	evs, err := sampledata.Events()
	if err != nil {
		return sr, err
	}
	kr, err := pseudonym.New(make([]byte, 32), pseudonym.Options{PeriodLength: sampledata.KeyPeriod, Epoch: sampledata.Window.Start})
	if err != nil {
		return sr, err
	}
	col, err := collect.New(cat, collect.Options{Window: sampledata.Window, MaxClockSkew: -1, Logger: quiet,
		Now: func() time.Time { return sampledata.Window.End }})
	if err != nil {
		return sr, err
	}
	ing, err := collect.NewIngestor(col, kr)
	if err != nil {
		return sr, err
	}
	users := map[string]bool{}
	for {
		e, err := evs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sr, err
		}
		if !users[e.UserID] && len(users) == smallUsers {
			continue
		}
		users[e.UserID] = true
		if err := ing.Add(e); err != nil {
			return sr, err
		}
	}
	ledger, err := dp.NewMemLedger(benchBudget, nil)
	if err != nil {
		return sr, err
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	runtime.GC()
	before := cpuTime()
	m, err := release.Private(context.Background(), col, ledger, release.Options{Epsilon: 1, Delta: 1e-7, Mechanisms: mech, Logger: quiet})
	if err != nil {
		return sr, err
	}
	sr.CPUSeconds = (cpuTime() - before).Seconds()
	var names []string
	for _, p := range m.Report().Privacy.Parts {
		sr.Values += p.Values
		names = append(names, p.Name)
	}
	sr.Mechanisms = strings.Join(names, ", ")
	return sr, nil
}

// cpuTime is the CPU time the process has used, in user and system mode.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Perf measures ingest against bare HMAC, release time by size, query
// latency on a large catalog, and memory per user and per neighbour.
func Perf(o PerfOptions) (PerfResult, error) {
	if o.ReleaseSizes == nil {
		o.ReleaseSizes = [][2]int{{100_000, 10_000}, {1_000_000, 10_000}, {10_000_000, 10_000}, {1_000_000, 100_000}}
	}
	if o.QueryItems == 0 {
		o.QueryItems = 100_000
	}
	if o.QueryUsers == 0 {
		o.QueryUsers = 300_000
	}
	if o.Events == 0 {
		o.Events = 2_000_000
	}
	if o.MemoryUsers == 0 {
		o.MemoryUsers = 1_000_000
	}
	progress := func(f string, a ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(f, a...))
		}
	}
	quiet := slog.New(slog.DiscardHandler)
	var res PerfResult

	// 1. Bare HMAC-SHA-256 against ingest (pseudonymize + collect).
	progress("perf: HMAC and ingest")
	names := make([]string, 1<<16)
	for i := range names {
		names[i] = "customer-" + strconv.Itoa(i)
	}
	mac := hmac.New(sha256.New, make([]byte, 32))
	var sum [32]byte
	n := o.Events
	start := time.Now()
	for i := range n {
		mac.Reset()
		mac.Write([]byte(names[i&(len(names)-1)]))
		mac.Sum(sum[:0])
	}
	res.HMACPerSec = float64(n) / time.Since(start).Seconds()
	cat, ids, err := synthCatalog(10_000)
	if err != nil {
		return res, err
	}
	kr, err := pseudonym.New(make([]byte, 32), pseudonym.Options{PeriodLength: 7 * 24 * time.Hour, Epoch: perfWindow.Start})
	if err != nil {
		return res, err
	}
	col, err := collect.New(cat, collect.Options{Window: perfWindow, MaxClockSkew: -1, Logger: quiet})
	if err != nil {
		return res, err
	}
	ing, err := collect.NewIngestor(col, kr)
	if err != nil {
		return res, err
	}
	at := perfWindow.Start.Add(time.Hour)
	for _, name := range names { // warm: every user exists
		_ = ing.Add(events.Event{UserID: name, Item: ids[0], Kind: events.KindView, Time: at})
	}
	start = time.Now()
	for i := range n {
		_ = ing.Add(events.Event{UserID: names[i&(len(names)-1)], Item: ids[(i*7919)%len(ids)], Kind: events.KindView, Time: at})
	}
	res.IngestPerSec = float64(n) / time.Since(start).Seconds()

	// 2. Memory per active user at K = 16.
	progress("perf: window memory")
	before := heapInUse()
	mem, err := collect.New(cat, collect.Options{Window: perfWindow, MaxClockSkew: -1, Logger: quiet})
	if err != nil {
		return res, err
	}
	if err := fill(mem, ids, o.MemoryUsers, 3); err != nil {
		return res, err
	}
	res.BytesPerUser = float64(heapInUse()-before) / float64(o.MemoryUsers)
	runtime.KeepAlive(mem)
	mem = nil

	// 2b. The fixed cost of a private release: a window of smallUsers
	// users from the embedded Online Retail sample, with the default
	// options and with popularity+pairs, on 1 and 2 cores.
	for _, mech := range []release.Mechanisms{release.Auto, release.Popularity | release.Pairs} {
		for _, procs := range []int{1, 2} {
			progress("perf: release of a %d-user window, %v, %d core(s)", smallUsers, mech, procs)
			sr, err := smallRelease(mech, procs)
			if err != nil {
				return res, err
			}
			res.SmallReleases = append(res.SmallReleases, sr)
		}
	}

	// 3. Release time by size.
	for _, sz := range o.ReleaseSizes {
		users, items := sz[0], sz[1]
		progress("perf: release %d users × %d items", users, items)
		c, ids, err := synthCatalog(items)
		if err != nil {
			return res, err
		}
		col, err := collect.New(c, collect.Options{Window: perfWindow, MaxClockSkew: -1, Logger: quiet})
		if err != nil {
			return res, err
		}
		if err := fill(col, ids, users, 5); err != nil {
			return res, err
		}
		ledger, err := dp.NewMemLedger(benchBudget, nil)
		if err != nil {
			return res, err
		}
		start := time.Now()
		if _, err := release.Private(context.Background(), col, ledger, release.Options{Epsilon: 1, Delta: 1e-7, Logger: quiet}); err != nil {
			return res, err
		}
		res.Releases = append(res.Releases, ReleaseTiming{users, items, time.Since(start).Seconds()})
	}

	// 4. Query latency on a large catalog.
	progress("perf: query model with %d items", o.QueryItems)
	qc, qids, err := synthCatalog(o.QueryItems)
	if err != nil {
		return res, err
	}
	qcol, err := collect.New(qc, collect.Options{Window: perfWindow, MaxClockSkew: -1, Logger: quiet})
	if err != nil {
		return res, err
	}
	if err := fill(qcol, qids, o.QueryUsers, 9); err != nil {
		return res, err
	}
	// The synthetic users draw their items independently, so the garrote
	// would keep almost no pair: every positive residual is kept instead,
	// giving every head item a full neighbour list, the worst case for a
	// query's cost.
	model, err := release.Exact(qcol, release.Options{HeadSize: 2000, Scoring: release.ScoringOptions{NoShrinkage: true}})
	if err != nil {
		return res, err
	}
	res.BytesPerNeighbor = 12 // item (uint32) + weight (float32) + support (float32), in CSR arrays
	res.QueryModel = fmt.Sprintf("%d items, %d neighbour entries (%d synthetic users, head 2,000, every positive pair residual kept: full neighbour lists, the worst case)", model.Catalog().Len(), model.Report().Contents.Neighbors, o.QueryUsers)
	rng := rand.New(rand.NewPCG(11, 12))
	z := newZipf(len(qids))
	var r recommend.Result
	for _, size := range []int{1, 5, 20, 50} {
		progress("perf: ForContext with %d context items", size)
		ctxs := make([][]string, 2000)
		for i := range ctxs {
			for range size {
				ctxs[i] = append(ctxs[i], qids[z.draw(rng)])
			}
		}
		for _, c := range ctxs { // warm the pool: scratch buffers grow to the largest context once
			_ = model.Recommend(&r, recommend.Query{Context: c})
		}
		// Queries allocate nothing; collect the garbage of the releases
		// above now and return it to the OS, so that neither their GC nor
		// the scavenger (gigabytes after the 10M-user release) runs
		// during the timing: a serving process has no such garbage.
		debug.FreeOSMemory()
		lat := make([]time.Duration, 0, 20000)
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		for range 10 {
			for _, c := range ctxs {
				t := time.Now()
				_ = model.Recommend(&r, recommend.Query{Context: c})
				lat = append(lat, time.Since(t))
			}
		}
		runtime.ReadMemStats(&ms1)
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[int(math.Min(float64(len(lat)-1), p*float64(len(lat))))] }
		allocs := float64(ms1.Mallocs-ms0.Mallocs) / float64(len(lat))
		res.Queries = append(res.Queries, QueryTiming{size, q(0.5), q(0.99), allocs})
	}
	runtime.KeepAlive(model)
	return res, nil
}
