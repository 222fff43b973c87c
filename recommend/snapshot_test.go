package recommend_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/recommend"
)

func snapshotBytes(t testing.TB, m *recommend.Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	return buf.Bytes()
}

// assertSameModel checks that got holds what want holds: the same report,
// the same snapshot bytes, and the same answer to every single-item query.
func assertSameModel(t *testing.T, want, got *recommend.Model) {
	t.Helper()
	assert.Equal(t, want.Report(), got.Report())
	assert.Equal(t, snapshotBytes(t, want), snapshotBytes(t, got))
	cat := want.Catalog()
	for i := range cat.Len() {
		q := recommend.Query{Context: []string{cat.Item(i).ID}, N: 5}
		assert.Equal(t, recommendOK(t, want, q), recommendOK(t, got, q))
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	m := clusteredModel(t)
	data := snapshotBytes(t, m)
	got, err := decode(data)
	require.NoError(t, err)
	assertSameModel(t, m, got)
	assert.Equal(t, 20, got.Catalog().Len())
	assert.Equal(t, []string{"even", "odd"}, got.Catalog().Categories())

	path := filepath.Join(t.TempDir(), "model.prm")
	// A save killed before its rename left a temporary file; another
	// model's is not ours to remove.
	leftover, others := path+".tmp-123", filepath.Join(filepath.Dir(path), "other.prm.tmp-123")
	for _, p := range []string{leftover, others} {
		require.NoError(t, os.WriteFile(p, []byte("partial"), 0o600))
	}
	require.NoError(t, recommend.SaveModel(m, path))
	loaded, err := recommend.LoadModel(path)
	require.NoError(t, err)
	assertSameModel(t, m, loaded)
	assert.NoFileExists(t, leftover)
	require.NoError(t, os.Remove(others))
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")
}

// A model with both kinds of evidence, as the default release builds it,
// round-trips: the category section keeps α, and the shares it needs come
// back from the popularity.
func TestSnapshotRoundTripWithCategories(t *testing.T) {
	base := clusteredModel(t)
	cat := base.Catalog()
	pop := make([]float64, cat.Len())
	for i := range pop {
		pop[i], _ = base.Popularity(cat.Item(i).ID)
	}
	ev, err := recommend.NewCategoryEvidence(0.7)
	require.NoError(t, err)
	m, err := recommend.NewModel(cat, pop, base.Report(), ev)
	require.NoError(t, err)
	got, err := decode(snapshotBytes(t, m))
	require.NoError(t, err)
	assertSameModel(t, m, got)
	assert.Equal(t, 0.7, got.Report().Contents.CategoryConcentration)
	res := recommendOK(t, got, recommend.Query{Context: []string{"i00"}, N: 3})
	assert.Equal(t, recommend.ReasonCategory, res.Items[0].Reason)
	assert.Equal(t, "even", res.Items[0].Category)
}

func TestSnapshotRejectsDamage(t *testing.T) {
	data := snapshotBytes(t, clusteredModel(t))
	for n := 0; n < len(data); n += 1 + n/50 {
		_, err := decode(data[:n])
		require.ErrorIs(t, err, recommend.ErrBadSnapshot, "truncated to %d bytes", n)
	}
	for i := 0; i < len(data); i += 1 + i/40 {
		bad := bytes.Clone(data)
		bad[i] ^= 0x10
		_, err := decode(bad)
		require.ErrorIs(t, err, recommend.ErrBadSnapshot, "bit flipped at %d", i)
	}
	_, err := decode(append(bytes.Clone(data), 0))
	require.ErrorIs(t, err, recommend.ErrBadSnapshot)
	_, err = recommend.LoadModel(filepath.Join(t.TempDir(), "missing.prm"))
	require.ErrorContains(t, err, "no such file")
}

// resum replaces the trailing checksum so that the decoder's structural
// checks, not the checksum, are what a test or fuzzer exercises.
func resum(body []byte) []byte {
	sum := sha256.Sum256(body)
	return append(bytes.Clone(body), sum[:]...)
}

// sectionAt returns the offset of the first section with the given tag in a
// snapshot body, or -1.
func sectionAt(body []byte, tag string) int {
	for off := 16; off+12 <= len(body); {
		if string(body[off:off+4]) == tag {
			return off
		}
		off += 12 + int(binary.LittleEndian.Uint64(body[off+4:]))
	}
	return -1
}

// editReport returns a mutation of a snapshot body that replaces its report
// section's JSON with edit's result.
func editReport(edit func(js []byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		off := sectionAt(b, "RPRT")
		n := int(binary.LittleEndian.Uint64(b[off+4:]))
		js := edit(bytes.Clone(b[off+12 : off+12+n]))
		out := binary.LittleEndian.AppendUint64(bytes.Clone(b[:off+4]), uint64(len(js)))
		out = append(out, js...)
		return append(out, b[off+12+n:]...)
	}
}

func TestSnapshotStructuralChecks(t *testing.T) {
	data := snapshotBytes(t, clusteredModel(t))
	body := data[:len(data)-sha256.Size]
	nbrs := sectionAt(body, "NBRS")
	require.Positive(t, nbrs)
	cases := []struct {
		name string
		mut  func([]byte) []byte
		want string
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, "bad magic"},
		{"future version", func(b []byte) []byte { b[8] = 9; return b }, "unsupported version 9"},
		{"version 1", func(b []byte) []byte { b[8] = 1; return b }, "Rebuild the model from the events"},
		{"flags", func(b []byte) []byte { b[12] = 1; return b }, "unknown flags"},
		{"huge section length", func(b []byte) []byte { b[20], b[27] = 0xff, 0x7f; return b }, "truncated"},
		{"report not first", func(b []byte) []byte { copy(b[16:], "XXXX"); return b }, `section "XXXX" where "RPRT" belongs`},
		{"unknown section", func(b []byte) []byte { return append(b, []byte("ZZZZ\x00\x00\x00\x00\x00\x00\x00\x00")...) }, `unknown section "ZZZZ"`},
		{"section twice", func(b []byte) []byte { return append(b, b[nbrs:]...) }, `section "NBRS" twice`},
		{"trailing bytes", func(b []byte) []byte { return append(b, 1, 2, 3) }, "truncated"},
		{"cut short", func(b []byte) []byte { return b[:len(b)-7] }, "truncated"},
		// The report is derived data in one form: re-encoding must not
		// rewrite what was read.
		{"report reformatted", editReport(func(js []byte) []byte { return append([]byte(" "), js...) }), "not in the form privrec writes"},
		{"report escapes rewritten", editReport(func(js []byte) []byte {
			return bytes.Replace(js, []byte(`"format":"p`), []byte(`"format":"\u0070`), 1)
		}), "not in the form privrec writes"},
		{"report contents edited", editReport(func(js []byte) []byte {
			return bytes.Replace(js, []byte(`"items":`), []byte(`"items":1`), 1)
		}), "disagree with the sections"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(resum(tc.mut(bytes.Clone(body))))
			require.ErrorIs(t, err, recommend.ErrBadSnapshot)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func FuzzDecodeModel(f *testing.F) {
	base := clusteredModel(f)
	data := snapshotBytes(f, base)
	f.Add(data)
	// With both kinds of evidence, so that the category section is mutated too.
	pop := make([]float64, base.Catalog().Len())
	for i := range pop {
		pop[i], _ = base.Popularity(base.Catalog().Item(i).ID)
	}
	ev, err := recommend.NewCategoryEvidence(0.7)
	require.NoError(f, err)
	nb, err := recommend.NewNeighborEvidence(make([]float32, len(pop)), make([][]recommend.Neighbor, len(pop)))
	require.NoError(f, err)
	both, err := recommend.NewModel(base.Catalog(), pop, base.Report(), nb, ev)
	require.NoError(f, err)
	f.Add(snapshotBytes(f, both))
	f.Add(data[:100])
	f.Add([]byte("PRIVRECM"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decode(data)
		if err != nil {
			require.ErrorIs(t, err, recommend.ErrBadSnapshot)
			return
		}
		var res recommend.Result
		require.NoError(t, m.Recommend(&res, recommend.Query{Context: []string{m.Catalog().Item(0).ID}, N: 3}))
	})
}

// FuzzDecodeModelBody fuzzes the structure behind the checksum: every input
// gets a valid checksum appended.
func FuzzDecodeModelBody(f *testing.F) {
	data := snapshotBytes(f, clusteredModel(f))
	f.Add(data[:len(data)-sha256.Size])
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decode(resum(body))
		if err != nil {
			require.ErrorIs(t, err, recommend.ErrBadSnapshot)
			return
		}
		// Whatever decodes can be queried and re-encoded to the same bytes.
		var res recommend.Result
		for i := range min(m.Catalog().Len(), 5) {
			require.NoError(t, m.Recommend(&res, recommend.Query{Context: []string{m.Catalog().Item(i).ID}, N: 5}))
		}
		require.NoError(t, m.Recommend(&res, recommend.Query{N: 5}))
		again := snapshotBytes(t, m)
		require.Equal(t, resum(body), again)
	})
}

// decode reads a snapshot held in memory.
func decode(data []byte) (*recommend.Model, error) { return recommend.ReadModel(bytes.NewReader(data)) }
