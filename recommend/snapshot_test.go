package recommend

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func snapshotBytes(t testing.TB, m *Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	return buf.Bytes()
}

// assertSameScoring checks everything but the report.
func assertSameScoring(t *testing.T, want, got *Model) {
	t.Helper()
	assert.Equal(t, want.items, got.items)
	assert.Equal(t, want.names, got.names)
	assert.Equal(t, want.itemCat, got.itemCat)
	assert.Equal(t, want.categories, got.categories)
	assert.Equal(t, want.pop, got.pop)
	assert.Equal(t, want.popOrder, got.popOrder)
	assert.Equal(t, want.smoothing, got.smoothing)
	assert.Equal(t, want.base, got.base)
	assert.Equal(t, want.nbrOff, got.nbrOff)
	assert.Equal(t, want.nbrItem, got.nbrItem)
	assert.Equal(t, want.nbrWeight, got.nbrWeight)
	assert.Equal(t, want.nbrSupport, got.nbrSupport)
}

func assertSameModel(t *testing.T, want, got *Model) {
	t.Helper()
	assertSameScoring(t, want, got)
	assert.Equal(t, want.report, got.report)
}

func TestSnapshotRoundTrip(t *testing.T) {
	m := clusteredModel(t)
	data := snapshotBytes(t, m)
	got, err := DecodeModel(data)
	require.NoError(t, err)
	assertSameModel(t, m, got)

	a, err := m.ForContext([]string{"i00", "i01"}, 10, QueryOptions{})
	require.NoError(t, err)
	b, err := got.ForContext([]string{"i00", "i01"}, 10, QueryOptions{})
	require.NoError(t, err)
	assert.Equal(t, a, b)

	path := filepath.Join(t.TempDir(), "model.prm")
	require.NoError(t, SaveModel(m, path))
	loaded, err := LoadModel(path)
	require.NoError(t, err)
	assertSameModel(t, m, loaded)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")
}

func TestSnapshotRejectsDamage(t *testing.T) {
	data := snapshotBytes(t, clusteredModel(t))
	for n := 0; n < len(data); n += 1 + n/50 {
		_, err := DecodeModel(data[:n])
		require.ErrorIs(t, err, ErrBadSnapshot, "truncated to %d bytes", n)
	}
	for i := 0; i < len(data); i += 1 + i/40 {
		bad := bytes.Clone(data)
		bad[i] ^= 0x10
		_, err := DecodeModel(bad)
		require.ErrorIs(t, err, ErrBadSnapshot, "bit flipped at %d", i)
	}
	_, err := DecodeModel(append(bytes.Clone(data), 0))
	require.ErrorIs(t, err, ErrBadSnapshot)
	_, err = LoadModel(filepath.Join(t.TempDir(), "missing.prm"))
	require.ErrorContains(t, err, "no such file")
}

// resum replaces the trailing checksum so that the decoder's structural
// checks, not the checksum, are what a test or fuzzer exercises.
func resum(body []byte) []byte {
	sum := sha256.Sum256(body)
	return append(bytes.Clone(body), sum[:]...)
}

func TestSnapshotStructuralChecks(t *testing.T) {
	data := snapshotBytes(t, clusteredModel(t))
	body := data[:len(data)-sha256.Size]
	cases := []struct {
		name string
		mut  func([]byte) []byte
		want string
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, "bad magic"},
		{"future version", func(b []byte) []byte { b[8] = 9; return b }, "unsupported version 9"},
		{"flags", func(b []byte) []byte { b[12] = 1; return b }, "unknown flags"},
		{"huge report length", func(b []byte) []byte { b[16], b[17], b[18], b[19] = 0xff, 0xff, 0xff, 0x7f; return b }, "exceeds the remaining"},
		{"trailing bytes", func(b []byte) []byte { return append(b, 1, 2, 3) }, "trailing bytes"},
		{"cut short", func(b []byte) []byte { return b[:len(b)-7] }, "exceeds the remaining"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeModel(resum(tc.mut(bytes.Clone(body))))
			require.ErrorIs(t, err, ErrBadSnapshot)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func FuzzDecodeModel(f *testing.F) {
	data := snapshotBytes(f, clusteredModel(f))
	f.Add(data)
	f.Add(data[:100])
	f.Add([]byte("PRIVRECM"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeModel(data)
		if err != nil {
			require.ErrorIs(t, err, ErrBadSnapshot)
			return
		}
		_, err = m.ForContext([]string{m.items[0]}, 3, QueryOptions{})
		require.NoError(t, err)
	})
}

// FuzzDecodeModelBody fuzzes the structure behind the checksum: every input
// gets a valid checksum appended.
func FuzzDecodeModelBody(f *testing.F) {
	data := snapshotBytes(f, clusteredModel(f))
	f.Add(data[:len(data)-sha256.Size])
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeModel(resum(body))
		if err != nil {
			require.ErrorIs(t, err, ErrBadSnapshot)
			return
		}
		// Whatever decodes can be queried and re-encoded to the same bytes.
		for i := range min(m.Len(), 5) {
			_, err = m.Similar(m.items[i], 5, QueryOptions{})
			require.NoError(t, err)
		}
		_, err = m.Popular(5, QueryOptions{})
		require.NoError(t, err)
		again := snapshotBytes(t, m)
		m2, err := DecodeModel(again)
		require.NoError(t, err)
		require.Equal(t, m.items, m2.items)
	})
}
