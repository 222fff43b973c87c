package benchmarks

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/internal/race"
	"github.com/privrec/privrec/release"
)

type fixedScorer struct{ list []int32 }

func (f fixedScorer) Name() string { return "fixed" }
func (f fixedScorer) Recommend(train []int32, n int, out []int32) []int32 {
	return append(out, f.list[:n]...)
}

// Metrics on a hand-computed example: one user, relevant {2, 5}, ranking
// [2, 7, 5] at k = 3.
func TestEvaluateByHand(t *testing.T) {
	s := Split{Train: [][]int32{{0}}, Test: [][]int32{{2, 5}}, Items: 10}
	m := Evaluate(s, fixedScorer{[]int32{2, 7, 5}}, 3)
	assert.Equal(t, 1.0, m.HR)
	assert.InDelta(t, 2.0/3, m.Precision, 1e-12)
	assert.Equal(t, 1.0, m.Recall)
	dcg := 1 + 1/math.Log2(4)
	idcg := 1 + 1/math.Log2(3)
	assert.InDelta(t, dcg/idcg, m.NDCG, 1e-12)
	assert.InDelta(t, (1+2.0/3)/2, m.MAP, 1e-12)
	assert.InDelta(t, 0.3, m.Coverage, 1e-12)
}

func TestSplits(t *testing.T) {
	day := int64(86400)
	d := &Dataset{Items: []string{"a", "b", "c", "d"}, Users: [][]Interaction{
		{{0, 0}, {1, day}, {2, 2 * day}, {3, 2 * day}},
		{{0, 0}, {1, 0}},
		{{2, 5}},
	}}
	ts := TemporalSplit(d)
	assert.Equal(t, []int32{0, 1}, ts.Train[0])
	assert.Equal(t, []int32{2, 3}, ts.Test[0])
	assert.Empty(t, ts.Test[1], "one active day: train only")
	assert.Equal(t, 1, ts.TestUsers())
	rs := RandomSplit(d, 1)
	assert.Len(t, rs.Train[0], 3)
	assert.Len(t, rs.Test[0], 1)
	assert.Len(t, rs.Train[2], 1)
	assert.Empty(t, rs.Test[2])
}

func TestLoadersNameFileLineAndColumn(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	good := write("u.data", "1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\t4\t881250951\n")
	d, err := LoadMovieLens(good)
	require.NoError(t, err)
	assert.Len(t, d.Users, 2)
	assert.Equal(t, 3, d.NumInteractions())

	cases := []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"empty", write("empty.data", ""), "empty file"},
		{"fields", write("f.data", "1\t2\t3\n"), "f.data: line 1: 3 tab-separated fields"},
		{"time", write("t.data", "1\t2\t3\tx\n"), "t.data: line 1, column 4: time"},
		{"rating", write("r.data", "1\t2\tgood\t5\n"), "r.data: line 1, column 3: rating"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadMovieLens(tc.path)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err = LoadCSV(write("bad.csv", "user,item\nu1,i1\n,i2\n"))
	require.ErrorContains(t, err, "bad.csv: line 3, column 1 (user): empty")
	csvd, err := LoadCSV(write("ok.csv", "user,item\nu1,i1\nu1,i2\nu2,i1\n"))
	require.NoError(t, err)
	assert.Len(t, csvd.Items, 2)
	retail, err := LoadOnlineRetail(write("retail.csv", "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"+
		"1,A,x,1,2011-01-01 10:00:00,1,17850.0,UK\nC2,A,x,-1,2011-01-01 10:00:00,1,17850.0,UK\n3,B,y,1,2011-01-01 10:00:00,1,,UK\n"))
	require.NoError(t, err)
	assert.Equal(t, 2, retail.Dropped)
	assert.Equal(t, 1, retail.NumInteractions())
}

// A small end-to-end run of the sweep and the attack on synthetic baskets
// with a strong pair structure: the non-private model must find it, and the
// non-private attack must beat guessing by far.
func TestSweepAndAttackSmoke(t *testing.T) {
	d := &Dataset{Name: "toy"}
	for i := range 30 {
		d.Items = append(d.Items, "item"+strings.Repeat("x", i%3)+string(rune('A'+i)))
	}
	for u := range 600 {
		g := int32(u % 10 * 3) // users buy within triples
		last := int64(86400 * 3)
		if (u/10)%2 == 0 {
			last = 3 // half buy the whole triple on one day: training data only
		}
		d.Users = append(d.Users, []Interaction{{g, 1}, {g + 1, 2}, {g + 2, last}})
	}
	s := TemporalSplit(d)
	rows, err := AccuracySweep(d, s, SweepOptions{Epsilons: []float64{4}, Repeats: 2, Params: release.Options{Delta: 1e-6, K: 4, HeadSize: 30}})
	require.NoError(t, err)
	byModel := map[string]Row{}
	for _, r := range rows {
		byModel[r.Model+"@"+epsText(r.Epsilon)] = r
	}
	assert.Greater(t, byModel["privrec@∞"].Mean.HR, 0.99, "the third item of a triple is predictable")
	assert.Greater(t, byModel["privrec@4"].Mean.HR, byModel["popularity only@4"].Mean.HR)
	var md strings.Builder
	MarkdownTable(&md, rows, 10)
	assert.Contains(t, md.String(), "| privrec | ∞ |")
	var png strings.Builder
	require.NoError(t, PlotNDCGByEpsilon(&png, "toy", rows, 10))
	assert.True(t, strings.HasPrefix(png.String(), "\x89PNG"))

	attack, err := DifferencingAttack(d, RandomSplit(d, 1), AttackOptions{Trials: 20, Epsilons: []float64{1}, Items: 30, Known: 2,
		Params: release.Options{Delta: 1e-6, K: 4}})
	require.NoError(t, err)
	require.Len(t, attack, 2)
	assert.Greater(t, attack[0].Rate, 0.5, "the non-private model leaks the new purchase")
	assert.InDelta(t, math.Exp(1)/28+1e-6, attack[1].Bound, 1e-9)
}

// A small run of the performance mode: every figure comes out positive and
// queries allocate nothing.
func TestPerfSmoke(t *testing.T) {
	r, err := Perf(PerfOptions{ReleaseSizes: [][2]int{{2000, 300}}, QueryItems: 500, QueryUsers: 3000, Events: 20000, IngestUsers: 5000, LatencyBytes: 1 << 20, MemoryUsers: 20000})
	require.NoError(t, err)
	assert.Positive(t, r.HMACPerSec)
	assert.Positive(t, r.IngestPerSec)
	assert.Positive(t, r.IngestBatchPerSec)
	assert.Positive(t, r.AdmitPerSec)
	assert.Equal(t, 5000, r.IngestUsers)
	assert.Positive(t, r.MemLatency)
	require.Len(t, r.Releases, 1)
	assert.Positive(t, r.Releases[0].Seconds)
	require.Len(t, r.SmallReleases, 4, "default and popularity+pairs, on 1 and 2 cores")
	for _, sr := range r.SmallReleases {
		assert.Positive(t, sr.Values)
		assert.NotEmpty(t, sr.Mechanisms)
	}
	assert.Greater(t, r.SmallReleases[2].Values, 10*r.SmallReleases[0].Values, "popularity+pairs releases the head's pairs")
	require.Len(t, r.Queries, 4, "contexts of 1, 5, 20 and 50 items")
	for _, q := range r.Queries {
		assert.Positive(t, q.P99)
		assert.Positive(t, q.P99Work)
		assert.LessOrEqual(t, q.P99Work, q.P99, "a context's best run is no slower than the runs' p99")
		if !race.Enabled {
			assert.Zero(t, q.AllocsPerOp, "context %d", q.Context)
		}
	}
	assert.Positive(t, r.BytesPerUser)
}

// The synthetic generator reproduces basket sizes and concentrates on
// popular items; the scaling curve runs end to end on tiny sizes.
func TestSynthSmoke(t *testing.T) {
	d := &Dataset{Name: "toy"}
	for i := range 40 {
		d.Items = append(d.Items, "sku"+string(rune('A'+i)))
	}
	for u := range 400 {
		g := int32(u % 8 * 5)
		d.Users = append(d.Users, []Interaction{{g, 1}, {g + 1, 2}, {g + 2, 3}, {int32(u % 40), 4}})
	}
	s, err := FitSynth(d, 40, 4)
	require.NoError(t, err)
	gen := s.Generate(2000, 1)
	require.Len(t, gen.Users, 2000)
	again := s.Generate(2000, 1)
	assert.Equal(t, gen.Users, again.Users, "seeded and reproducible")
	total := 0
	for _, u := range gen.Users {
		total += len(u)
		assert.LessOrEqual(t, len(u), 20)
	}
	assert.InDelta(t, 3.75, float64(total)/2000, 1.0, "basket sizes like the real ones")
	rows, err := ScalingCurve(SynthGenerator(s), []int{500, 2000}, 4, release.Options{Delta: 1e-6, K: 4, HeadSize: 40}, 1, 500, nil)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Positive(t, rows[1].NonPrivate)
	var png strings.Builder
	require.NoError(t, PlotScaling(&png, rows))
	erows, err := EmbeddingScaling(SynthGenerator(s), []int{500, 2000}, 4, 1e-6, EmbeddingOptions{K: 4, Dim: 4, Iterations: 2}, 500, nil)
	require.NoError(t, err)
	require.Len(t, erows, 2)
	for _, r := range erows {
		assert.Positive(t, r.NonPrivate)
		assert.Positive(t, r.Seconds)
	}
}

// A small ablation run on triples: every lever releases (but the one that
// needs categories: the toy catalog has none), the table has one row per
// lever, and at a large ε the defaults beat the popularity-only release.
func TestAblationSmoke(t *testing.T) {
	d := &Dataset{Name: "toy"}
	for i := range 30 {
		d.Items = append(d.Items, fmt.Sprintf("item%02d", i))
	}
	for u := range 900 {
		g := int32(u % 10 * 3)
		d.Users = append(d.Users, []Interaction{{g, 1}, {g + 1, 2}, {g + 2, 3}, {int32((u * 7) % 30), 4}})
	}
	s := RandomSplit(d, 1)
	rows, err := Ablation(d, s, AblationOptions{Epsilons: []float64{8}, Repeats: 2, Params: release.Options{Delta: 1e-6, K: 2, HeadSize: 30}})
	require.NoError(t, err)
	require.Len(t, rows, len(AblationLevers)-2, "the two category levers skip a catalog without categories")
	require.Equal(t, "popularity only", rows[1].Lever)
	assert.Greater(t, rows[0].Mean, rows[1].Mean, "the defaults beat the popularity-only release at ε = 8")
	var md bytes.Buffer
	AblationTable(&md, rows, 10)
	assert.Equal(t, len(rows)+2, strings.Count(md.String(), "\n"))
	assert.Contains(t, md.String(), "| no weighting")
	assert.Contains(t, md.String(), "| item embeddings, d = 16")
	assert.Contains(t, md.String(), "%) |")
}

// cpuTime reads the process's CPU clock: 50 ms of busy work moves it. (A
// broken reading, such as the zero it falls back to on an error, fails.)
func TestCPUTimeAdvances(t *testing.T) {
	before := cpuTime()
	x := uint64(1)
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		for range 1000 {
			x = x*6364136223846793005 + 1
		}
	}
	assert.Positive(t, cpuTime()-before, "x = %d", x)
}
