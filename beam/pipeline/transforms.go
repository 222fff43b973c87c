package pipeline

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths; cmd/privrec-beam adds gs:// and s3://
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

func init() {
	register.DoFn4x1[context.Context, string, func(string, int64), func(string), error](&admitFn{})
	register.Emitter2[string, []byte]()
	register.Emitter1[string]()
	register.DoFn3x1[context.Context, fileio.ReadableFile, func(string), error](&wholeFileLinesFn{})
	register.DoFn3x0[string, func(*int64) bool, func(string, []byte)](&boundFn{})
	register.Iter1[int64]()
	register.Function3x0[string, []byte, func(string, int64)](explodeItems)
	register.Emitter2[string, int64]()
	register.DoFn4x0[string, []byte, []int64, func(string, int64)](&headPairsFn{})
	register.DoFn2x0[[]int64, func(int64)](&headPartitionsFn{})
	register.Emitter1[int64]()
	register.Function2x1[int64, int64, itemCount](toItemCount)
	register.Combiner3[[]int64, itemCount, []int64](&vectorFn{})
	register.Function2x1[int64, int64, string](formatCount)
	register.Combiner3[[]string, string, []string](&sampleFn{})
	register.Function1x1[[]string, string](joinLines)
	beam.RegisterType(reflect.TypeOf((*itemCount)(nil)).Elem())
}

// workerConfig is what every worker needs to check and pseudonymize events.
// It travels inside the pipeline graph, so it holds where the secret is,
// never the secret.
type workerConfig struct {
	Format      int
	Header      string
	Catalog     string // path on a Beam filesystem
	KeyFile     string
	KeyEnv      string
	KeyPeriod   time.Duration
	KeyEpoch    time.Time
	WindowStart time.Time
	WindowEnd   time.Time
	Kinds       []int
}

// loadCatalog reads a catalog CSV from any Beam filesystem.
func loadCatalog(ctx context.Context, path string) (*recommend.Catalog, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	defer r.Close()
	cat, err := recommend.ReadCatalogCSV(r)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return cat, nil
}

// keyring opens the keyring the way the configuration says.
func (c workerConfig) keyring() (*pseudonym.Keyring, error) {
	opts := pseudonym.Options{PeriodLength: c.KeyPeriod, Epoch: c.KeyEpoch}
	if c.KeyFile != "" {
		return pseudonym.FromFile(c.KeyFile, opts)
	}
	// FromEnv unsets the variable (so that processes the worker starts do
	// not inherit the secret), and one worker process sets up many DoFns:
	// the first reads the environment, the others share its keyring.
	envKeyrings.Lock()
	defer envKeyrings.Unlock()
	key := envKeyring{c.KeyEnv, opts.PeriodLength, opts.Epoch.UnixNano()}
	if kr, ok := envKeyrings.m[key]; ok {
		return kr, nil
	}
	kr, err := pseudonym.FromEnv(c.KeyEnv, opts)
	if err != nil {
		return nil, err
	}
	envKeyrings.m[key] = kr
	return kr, nil
}

// envKeyrings are the keyrings this process read from the environment.
var envKeyrings = struct {
	sync.Mutex
	m map[envKeyring]*pseudonym.Keyring
}{m: map[envKeyring]*pseudonym.Keyring{}}

type envKeyring struct {
	name   string
	period time.Duration
	epoch  int64
}

func (c workerConfig) kinds() []events.Kind {
	ks := make([]events.Kind, len(c.Kinds))
	for i, k := range c.Kinds {
		ks[i] = events.Kind(k)
	}
	return ks
}

// gate builds the parser and the door for the catalog cat: the same checks
// and pseudonyms as collect.Ingestor.
func (c workerConfig) gate(cat *recommend.Catalog) (*events.LineParser, *collect.Gate, error) {
	kr, err := c.keyring()
	if err != nil {
		return nil, nil, err
	}
	g, err := collect.NewGate(cat, collect.Options{
		Window:       recommend.Window{Start: c.WindowStart, End: c.WindowEnd},
		Kinds:        c.kinds(),
		MaxClockSkew: -1,
	}, kr)
	if err != nil {
		return nil, nil, err
	}
	lp, err := events.NewLineParser(events.Format(c.Format), c.Header, events.ReaderOptions{})
	if err != nil {
		return nil, nil, err
	}
	return lp, g, nil
}

// readEvents reads the lines of every file matching pattern. Plain files go
// through textio, which splits large files across workers. Compressed
// files are read whole by one worker each: textio (Beam Go 2.71) bounds
// its read by the compressed size and silently stops early on .gz files.
func readEvents(s beam.Scope, pattern string) beam.PCollection {
	if !strings.HasSuffix(strings.ToLower(pattern), ".gz") {
		return textio.Read(s, pattern)
	}
	files := fileio.ReadMatches(s, fileio.MatchFiles(s, pattern, fileio.MatchEmptyDisallow()))
	return beam.ParDo(s, &wholeFileLinesFn{}, files)
}

// wholeFileLinesFn emits every line of a file, decompressed by extension.
type wholeFileLinesFn struct{}

func (f *wholeFileLinesFn) ProcessElement(ctx context.Context, file fileio.ReadableFile, emit func(string)) error {
	rc, err := file.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 64<<10), events.MaxLineBytes+1)
	for sc.Scan() {
		emit(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file.Metadata.Path, err)
	}
	return nil
}

// Names of the Beam metrics (namespace metricsNamespace) that count input
// lines.
const (
	metricsNamespace = "privrec"
	statAccepted     = "accepted"
	statSkipped      = "skipped"
	statBad          = "bad"
)

var (
	acceptedLines = beam.NewCounter(metricsNamespace, statAccepted)
	skippedLines  = beam.NewCounter(metricsNamespace, statSkipped)
	badLines      = beam.NewCounter(metricsNamespace, statBad)
)

// admitFn parses a line, checks the event and replaces the user ID by its
// pseudonym: the raw ID goes no further than this function. It emits
// (pseudonym, catalog index) for an accepted event and the error of a bad
// line (which never contains the user ID), and counts lines in Beam
// metrics.
type admitFn struct {
	Config workerConfig

	lp   *events.LineParser
	gate *collect.Gate
}

func (f *admitFn) Setup(ctx context.Context) error {
	cat, err := loadCatalog(ctx, f.Config.Catalog)
	if err != nil {
		return err
	}
	f.lp, f.gate, err = f.Config.gate(cat)
	return err
}

func (f *admitFn) ProcessElement(ctx context.Context, line string, emit func(string, int64), bad func(string)) error {
	e, skip, err := f.lp.Parse(line)
	if skip {
		if strings.TrimSpace(line) != "" && strings.TrimSpace(line) != strings.TrimSpace(f.Config.Header) {
			skippedLines.Inc(ctx, 1)
		}
		return nil
	}
	if err == nil {
		var id pseudonym.ID
		var idx uint32
		id, idx, err = f.gate.Admit(e)
		if err == nil {
			acceptedLines.Inc(ctx, 1)
			emit(string(id[:]), int64(idx))
			return nil
		}
	}
	badLines.Inc(ctx, 1)
	bad(err.Error())
	return nil
}

// boundFn keeps, for one pseudonym, the items a collect.Collector would
// keep (collect.Bound), and emits them packed as little-endian
// uint32s.
type boundFn struct {
	SampleKey []byte
	K         int

	buf []uint32
}

func (f *boundFn) ProcessElement(id string, items func(*int64) bool, emit func(string, []byte)) {
	var pid pseudonym.ID
	copy(pid[:], id)
	var key [16]byte
	copy(key[:], f.SampleKey)
	f.buf = f.buf[:0]
	var it int64
	for items(&it) {
		f.buf = append(f.buf, uint32(it))
	}
	kept := collect.Bound(key, f.K, pid, f.buf)
	out := make([]byte, 0, 4*len(kept))
	for _, x := range kept {
		out = binary.LittleEndian.AppendUint32(out, x)
	}
	emit(id, out)
}

// decodeItems unpacks boundFn's item list.
func decodeItems(b []byte) []uint32 {
	out := make([]uint32, len(b)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

// explodeItems emits (pseudonym, item) for each kept item.
func explodeItems(id string, kept []byte, emit func(string, int64)) {
	for _, it := range decodeItems(kept) {
		emit(id, int64(it))
	}
}

// headPairsFn emits (pseudonym, pair key) for each pair of kept items that
// are both in the head chosen from the released item counts (a side input).
type headPairsFn struct {
	HeadSize int

	inHead []bool
}

func (f *headPairsFn) ProcessElement(id string, kept []byte, itemCounts []int64, emit func(string, int64)) {
	if f.inHead == nil {
		f.inHead = make([]bool, len(itemCounts))
		for _, it := range release.HeadItems(itemCounts, f.HeadSize) {
			f.inHead[it] = true
		}
	}
	items := decodeItems(kept)
	items = slices.DeleteFunc(items, func(it uint32) bool { return int(it) >= len(f.inHead) || !f.inHead[it] })
	for x := range items {
		for y := x + 1; y < len(items); y++ {
			emit(id, pairKey(items[x], items[y]))
		}
	}
}

// headPartitionsFn emits every head pair: the public partitions of the
// pair count. The head is post-processing of released counts.
type headPartitionsFn struct{ HeadSize int }

func (f *headPartitionsFn) ProcessElement(itemCounts []int64, emit func(int64)) {
	head := release.HeadItems(itemCounts, f.HeadSize)
	for x := range head {
		for y := x + 1; y < len(head); y++ {
			emit(pairKey(head[x], head[y]))
		}
	}
}

// pairKey encodes the unordered pair of catalog indexes a and b as one
// partition key: the smaller index in the high 32 bits.
func pairKey(a, b uint32) int64 {
	if a > b {
		a, b = b, a
	}
	return int64(uint64(a)<<32 | uint64(b))
}

// splitPairKey decodes a pairKey.
func splitPairKey(k uint64) [2]uint32 { return [2]uint32{uint32(k >> 32), uint32(k)} }

// itemCount is one released item count.
type itemCount struct{ Item, Count int64 }

func toItemCount(item, count int64) itemCount { return itemCount{item, count} }

// vectorFn gathers the released item counts into one vector in catalog
// order.
type vectorFn struct{ N int }

func (f *vectorFn) CreateAccumulator() []int64 { return make([]int64, f.N) }

func (f *vectorFn) AddInput(acc []int64, c itemCount) []int64 {
	if c.Item >= 0 && c.Item < int64(len(acc)) {
		acc[c.Item] += c.Count
	}
	return acc
}

func (f *vectorFn) MergeAccumulators(a, b []int64) []int64 {
	for i := range min(len(a), len(b)) {
		a[i] += b[i]
	}
	return a
}

func (f *vectorFn) ExtractOutput(acc []int64) []int64 { return acc }

func formatCount(key, count int64) string { return fmt.Sprintf("%d\t%d", key, count) }

// sampleFn keeps the Max smallest distinct strings: examples of bad lines.
type sampleFn struct{ Max int }

func (f *sampleFn) CreateAccumulator() []string { return nil }

func (f *sampleFn) AddInput(acc []string, s string) []string {
	return f.MergeAccumulators(acc, []string{s})
}

func (f *sampleFn) MergeAccumulators(a, b []string) []string {
	out := slices.Compact(slices.Sorted(slices.Values(append(a, b...))))
	return out[:min(len(out), f.Max)]
}

func (f *sampleFn) ExtractOutput(acc []string) []string { return acc }

func joinLines(lines []string) string { return strings.Join(lines, "\n") }

// maybeGunzip decompresses files whose name ends in .gz.
func maybeGunzip(name string, r io.Reader) (io.Reader, error) {
	if !strings.HasSuffix(strings.ToLower(name), ".gz") {
		return r, nil
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return zr, nil
}

// readLines reads a text file from any Beam filesystem.
func readLines(ctx context.Context, path string) ([]string, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}

// firstLine returns the first line of the first file matching glob, and
// how many files match.
func firstLine(ctx context.Context, glob string) (string, int, error) {
	fs, err := filesystem.New(ctx, glob)
	if err != nil {
		return "", 0, err
	}
	defer fs.Close()
	files, err := fs.List(ctx, glob)
	if err != nil {
		return "", 0, err
	}
	if len(files) == 0 {
		return "", 0, fmt.Errorf("%s: %w", glob, os.ErrNotExist)
	}
	slices.Sort(files)
	r, err := fs.OpenRead(ctx, files[0])
	if err != nil {
		return "", 0, err
	}
	defer r.Close()
	rd, err := maybeGunzip(files[0], r)
	if err != nil {
		return "", 0, err
	}
	line, err := bufio.NewReader(io.LimitReader(rd, events.MaxLineBytes)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", 0, fmt.Errorf("%s: %w", files[0], err)
	}
	if line = strings.TrimRight(line, "\r\n"); line == "" {
		return "", 0, fmt.Errorf("%s: empty file", files[0])
	}
	return line, len(files), nil
}
