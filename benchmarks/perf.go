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
	IngestUsers  int      // users in the window that ingest adds to; default 1M (2^20)
	LatencyBytes int      // memory the latency measure reads at random; default 128 MB
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
	Context  int
	P50, P99 time.Duration
	// P99Work is the 99th percentile over contexts of each context's
	// fastest of its 10 timed runs: the query's own work, without the
	// pauses of the machine (Pauses), which hit one run of a context and
	// not all ten.
	P99Work     time.Duration
	AllocsPerOp float64
}

// Pauses are the machine's own stalls, seen by a goroutine that does
// nothing but read the clock for a second: how often the clock jumps by
// more than 10 µs (interrupts, the hypervisor, other processes), by how
// much, and what share of the time they take. A query of duration d is hit
// by one with probability about d × PerSecond, which bounds how low a p99
// this machine can show.
type Pauses struct {
	PerSecond float64
	P50, Max  time.Duration
	Share     float64
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
	HMACPerSec, IngestPerSec float64       // one goroutine
	IngestBatchPerSec        float64       // collect.Ingestor.AddBatch, one goroutine
	AdmitPerSec              float64       // an event validated and its user pseudonymized, without the collector: the part of ingest that is not window state
	IngestUsers              int           // users in the window ingest adds to
	MemLatency               time.Duration // one dependent random read in PerfOptions.LatencyBytes: what a cache miss costs here
	Pauses                   Pauses
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

// quantile returns the q-quantile of d, which it sorts.
func quantile(d []time.Duration, q float64) time.Duration {
	slices.Sort(d)
	return d[int(math.Min(float64(len(d)-1), q*float64(len(d))))]
}

// machinePauses reads the clock in a loop for the given time and reports
// the jumps over 10 µs.
func machinePauses(span time.Duration) Pauses {
	const over = 10 * time.Microsecond
	var gaps []time.Duration
	start := time.Now()
	last := start
	for last.Sub(start) < span {
		now := time.Now()
		if d := now.Sub(last); d > over {
			gaps = append(gaps, d)
		}
		last = now
	}
	elapsed := last.Sub(start)
	p := Pauses{}
	if len(gaps) == 0 {
		return p
	}
	var total time.Duration
	for _, g := range gaps {
		total += g
	}
	p.PerSecond = float64(len(gaps)) / elapsed.Seconds()
	p.Share = total.Seconds() / elapsed.Seconds()
	p.P50 = quantile(gaps, 0.5)
	p.Max = gaps[len(gaps)-1]
	return p
}

// memoryLatency is the time of one read that misses every cache: a chase
// through a random cycle over size bytes, each read's address the value
// of the last, so that no two overlap.
func memoryLatency(size, reads int) time.Duration {
	next := make([]uint32, size/4)
	for i := range next {
		next[i] = uint32(i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := len(next) - 1; i > 0; i-- { // Sattolo: one cycle through every entry
		j := rng.IntN(i)
		next[i], next[j] = next[j], next[i]
	}
	at := uint32(0)
	start := time.Now()
	for range reads {
		at = next[at]
	}
	d := time.Since(start) / time.Duration(reads)
	runtime.KeepAlive(at)
	return d
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// eventStream makes the ingest measures' events: users in turn, items by
// a stride, with counters rather than divisions, so that making an event
// costs about what the HMAC baseline's own loop does (one string read) and
// the ratios charge ingest with its own work only.
type eventStream struct {
	names, ids []string
	u, it      int
	stride     int // < len(ids)
	at         time.Time
}

func (s *eventStream) next() events.Event {
	e := events.Event{UserID: s.names[s.u], Item: s.ids[s.it], Kind: events.KindView, Time: s.at}
	if s.u++; s.u == len(s.names) {
		s.u = 0
	}
	if s.it += s.stride; s.it >= len(s.ids) {
		s.it -= len(s.ids)
	}
	return e
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
	if o.IngestUsers == 0 {
		o.IngestUsers = 1 << 20
	}
	if o.LatencyBytes == 0 {
		o.LatencyBytes = 128 << 20
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

	// 0. The machine's own pauses, which set a floor under any p99.
	progress("perf: the machine's pauses")
	res.Pauses = machinePauses(time.Second)
	res.MemLatency = memoryLatency(o.LatencyBytes, 1<<21)

	// 1. Bare HMAC-SHA-256 against ingest (pseudonymize + collect), into
	// a window that holds o.IngestUsers users.
	progress("perf: HMAC and ingest")
	names := make([]string, o.IngestUsers)
	for i := range names {
		names[i] = "customer-" + strconv.Itoa(i)
	}
	res.IngestUsers = len(names)
	mac := hmac.New(sha256.New, make([]byte, 32))
	var sum [32]byte
	msg := make([]byte, 0, 64) // reused: a conversion per call would allocate and slow the baseline
	n := o.Events
	runtime.GC() // no collection of the set-up's garbage runs beside the timed loop
	start := time.Now()
	for i, u := 0, 0; i < n; i++ {
		msg = append(msg[:0], names[u]...)
		if u++; u == len(names) {
			u = 0
		}
		mac.Reset()
		mac.Write(msg)
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
	stream := eventStream{names: names, ids: ids, stride: 7919 % len(ids), at: at}
	// What every ingest path does before the collector: validate the
	// event and pseudonymize its user (Ingestor's own checks, spelled out).
	period := kr.Period(at)
	var sink byte
	runtime.GC() // no collection of the set-up's garbage runs beside the timed loop
	start = time.Now()
	for i := range n {
		e := stream.next()
		idx, ok := cat.Index(e.Item)
		if !ok || !e.Kind.Valid() || !perfWindow.Contains(e.Time) {
			return res, fmt.Errorf("perf: event %d refused", i)
		}
		id, err := kr.Pseudonymize(period, e.UserID)
		if err != nil {
			return res, err
		}
		sink += id[0] + byte(idx)
	}
	res.AdmitPerSec = float64(n) / time.Since(start).Seconds()
	runtime.KeepAlive(sink)
	runtime.GC() // no collection of the set-up's garbage runs beside the timed loop
	start = time.Now()
	for range n {
		_ = ing.Add(stream.next())
	}
	res.IngestPerSec = float64(n) / time.Since(start).Seconds()
	batch := make([]events.Event, 1000) // an HTTP request's worth (httpapi/ingest's MaxEvents)
	runtime.GC()                        // no collection of the set-up's garbage runs beside the timed loop
	start = time.Now()
	for i := 0; i < n; i += len(batch) {
		for j := range batch {
			batch[j] = stream.next()
		}
		ing.AddBatch(batch, nil)
	}
	res.IngestBatchPerSec = float64(n/len(batch)*len(batch)) / time.Since(start).Seconds()
	col, ing = nil, nil

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
		best := make([]time.Duration, len(ctxs))
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		for run := range 10 {
			for k, c := range ctxs {
				t := time.Now()
				_ = model.Recommend(&r, recommend.Query{Context: c})
				d := time.Since(t)
				lat = append(lat, d)
				if run == 0 || d < best[k] {
					best[k] = d
				}
			}
		}
		runtime.ReadMemStats(&ms1)
		allocs := float64(ms1.Mallocs-ms0.Mallocs) / float64(len(lat))
		res.Queries = append(res.Queries, QueryTiming{Context: size, P50: quantile(lat, 0.5), P99: quantile(lat, 0.99),
			P99Work: quantile(best, 0.99), AllocsPerOp: allocs})
	}
	runtime.KeepAlive(model)
	return res, nil
}
