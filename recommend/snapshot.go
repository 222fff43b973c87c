package recommend

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Snapshot format, version 1. All integers little-endian.
//
//	magic       8 bytes  "PRIVRECM"
//	version     u32      1
//	flags       u32      0
//	report      u32 length + JSON of Report
//	nItems      u32
//	nCats       u32
//	categories  nCats × (u16 length + UTF-8)
//	items       nItems × (u16 length + ID, u16 length + name, i32 category or -1)
//	smoothing   f64
//	popularity  nItems × f64
//	base        nItems × f32
//	nbrOff      (nItems+1) × u32, nbrOff[0] = 0, non-decreasing
//	nbrItem     nnz × u32      (nnz = nbrOff[nItems])
//	nbrWeight   nnz × f32
//	nbrSupport  nnz × f32
//	checksum    32 bytes: SHA-256 of every byte before it
//
// A snapshot holds the public catalog, noisy aggregates derived from it and
// the privacy report: no pseudonym, no user ID and no per-user data.
const (
	snapshotMagic   = "PRIVRECM"
	snapshotVersion = 1
	// MaxSnapshotSize bounds what ReadModel accepts.
	MaxSnapshotSize = 4 << 30
)

// ErrBadSnapshot is wrapped by every snapshot decoding error.
var ErrBadSnapshot = errors.New("recommend: bad model snapshot")

// WriteTo writes the model's snapshot to w.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	bw := bufio.NewWriterSize(cw, 64<<10)
	le := binary.LittleEndian
	var scratch [8]byte
	u16 := func(v uint16) { le.PutUint16(scratch[:], v); bw.Write(scratch[:2]) }
	u32 := func(v uint32) { le.PutUint32(scratch[:], v); bw.Write(scratch[:4]) }
	f64 := func(v float64) { le.PutUint64(scratch[:], math.Float64bits(v)); bw.Write(scratch[:8]) }
	f32 := func(v float32) { le.PutUint32(scratch[:], math.Float32bits(v)); bw.Write(scratch[:4]) }
	str := func(s string) { u16(uint16(len(s))); bw.WriteString(s) }

	rep, err := json.Marshal(m.report)
	if err != nil {
		return 0, fmt.Errorf("recommend: encode report: %w", err)
	}
	bw.WriteString(snapshotMagic)
	u32(snapshotVersion)
	u32(0)
	u32(uint32(len(rep)))
	bw.Write(rep)
	u32(uint32(len(m.items)))
	u32(uint32(len(m.categories)))
	for _, c := range m.categories {
		str(c)
	}
	for i, id := range m.items {
		str(id)
		str(m.names[i])
		u32(uint32(m.itemCat[i]))
	}
	f64(m.smoothing)
	for _, p := range m.pop {
		f64(p)
	}
	for _, b := range m.base {
		f32(b)
	}
	for _, o := range m.nbrOff {
		u32(o)
	}
	for _, j := range m.nbrItem {
		u32(j)
	}
	for _, x := range m.nbrWeight {
		f32(x)
	}
	for _, x := range m.nbrSupport {
		f32(x)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("recommend: write snapshot: %w", err)
	}
	n, err := w.Write(h.Sum(nil))
	cw.n += int64(n)
	if err != nil {
		return cw.n, fmt.Errorf("recommend: write snapshot: %w", err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadModel reads a snapshot written by WriteTo. Corrupted, truncated or
// hostile input returns an error wrapping ErrBadSnapshot; it never panics.
func ReadModel(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSnapshotSize+1))
	if err != nil {
		return nil, fmt.Errorf("recommend: read snapshot: %w", err)
	}
	if len(data) > MaxSnapshotSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadSnapshot, MaxSnapshotSize)
	}
	return DecodeModel(data)
}

// DecodeModel decodes a snapshot held in memory; see ReadModel.
func DecodeModel(data []byte) (*Model, error) {
	m, err := decodeModel(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	return m, nil
}

// SaveModel writes the snapshot to path atomically: to a temporary file in
// the same directory, fsync'd, then renamed over path.
func SaveModel(m *Model, path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".privrec-model-*")
	if err != nil {
		return fmt.Errorf("recommend: save model: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := m.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("recommend: save model: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("recommend: save model: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("recommend: save model: %w", err)
	}
	return nil
}

// LoadModel reads the snapshot at path.
func LoadModel(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recommend: load model: %w", err)
	}
	defer f.Close()
	m, err := ReadModel(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errors.New("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) f64() float64 {
	if b := r.take(8); b != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return 0
}

func (r *reader) f32() float32 {
	if b := r.take(4); b != nil {
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	}
	return 0
}

func (r *reader) str() string { return string(r.take(int(r.u16()))) }

// need fails unless n records of at least size bytes each can still follow.
func (r *reader) need(n uint32, size int) bool {
	if r.err == nil && uint64(n)*uint64(size) > uint64(len(r.b)) {
		r.err = fmt.Errorf("count %d exceeds the remaining %d bytes", n, len(r.b))
	}
	return r.err == nil
}

func finiteNonNeg(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }

func decodeModel(data []byte) (*Model, error) {
	const headerLen = len(snapshotMagic) + 8
	if len(data) < headerLen+sha256.Size {
		return nil, errors.New("too short")
	}
	if string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, errors.New("not a privrec model (bad magic)")
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != snapshotVersion {
		return nil, fmt.Errorf("unsupported version %d (this build reads %d)", v, snapshotVersion)
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, errors.New("checksum mismatch (corrupted or truncated)")
	}
	r := &reader{b: body[len(snapshotMagic)+4:]}
	if flags := r.u32(); flags != 0 {
		return nil, fmt.Errorf("unknown flags %#x", flags)
	}
	m := &Model{}
	repLen := r.u32()
	if !r.need(repLen, 1) {
		return nil, r.err
	}
	dec := json.NewDecoder(bytes.NewReader(r.take(int(repLen))))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m.report); err != nil {
		return nil, fmt.Errorf("report: %v", err)
	}
	if m.report.Format != ReportFormat {
		return nil, fmt.Errorf("report format %q, want %q", m.report.Format, ReportFormat)
	}
	nItems, nCats := r.u32(), r.u32()
	if nItems == 0 || nItems > MaxCatalogSize {
		return nil, fmt.Errorf("item count %d out of range", nItems)
	}
	// Per item at least: ID (2+1), name (2), category (4), popularity (8), base (4), offset (4).
	if !r.need(nCats, 2) || !r.need(nItems, 3+2+4+8+4+4) {
		return nil, r.err
	}
	m.categories = make([]string, nCats)
	seenCat := make(map[string]bool, nCats)
	for i := range m.categories {
		c := r.str()
		if err := checkText(c, MaxItemIDLen, false); r.err == nil && (err != nil || seenCat[c]) {
			return nil, fmt.Errorf("category %d invalid or duplicate", i)
		}
		seenCat[c] = true
		m.categories[i] = c
	}
	m.items = make([]string, nItems)
	m.names = make([]string, nItems)
	m.itemCat = make([]int32, nItems)
	for i := range m.items {
		it := Item{ID: r.str(), Name: r.str()}
		cat := int32(r.u32())
		if r.err != nil {
			return nil, r.err
		}
		if err := validateItem(it); err != nil {
			return nil, fmt.Errorf("item %d: %v", i, err)
		}
		if cat < -1 || cat >= int32(nCats) {
			return nil, fmt.Errorf("item %d: category %d out of range", i, cat)
		}
		m.items[i], m.names[i], m.itemCat[i] = it.ID, it.Name, cat
	}
	m.smoothing = r.f64()
	if !finiteNonNeg(m.smoothing) || m.smoothing <= 0 {
		return nil, fmt.Errorf("smoothing %v invalid", m.smoothing)
	}
	m.pop = make([]float64, nItems)
	for i := range m.pop {
		if m.pop[i] = r.f64(); !finiteNonNeg(m.pop[i]) {
			return nil, fmt.Errorf("popularity of item %d invalid", i)
		}
	}
	if !r.need(nItems, 4) {
		return nil, r.err
	}
	m.base = make([]float32, nItems)
	for i := range m.base {
		if m.base[i] = r.f32(); !finiteNonNeg(float64(m.base[i])) {
			return nil, fmt.Errorf("base of item %d invalid", i)
		}
	}
	m.nbrOff = make([]uint32, nItems+1)
	for i := range m.nbrOff {
		m.nbrOff[i] = r.u32()
		if r.err == nil && ((i == 0 && m.nbrOff[0] != 0) || (i > 0 && m.nbrOff[i] < m.nbrOff[i-1])) {
			return nil, fmt.Errorf("neighbour offsets not increasing at %d", i)
		}
	}
	nnz := m.nbrOff[nItems]
	if !r.need(nnz, 12) {
		return nil, r.err
	}
	m.nbrItem = make([]uint32, nnz)
	m.nbrWeight = make([]float32, nnz)
	m.nbrSupport = make([]float32, nnz)
	for k := range m.nbrItem {
		if m.nbrItem[k] = r.u32(); m.nbrItem[k] >= nItems {
			return nil, fmt.Errorf("neighbour %d: item out of range", k)
		}
	}
	for k := range m.nbrWeight {
		if m.nbrWeight[k] = r.f32(); !finiteNonNeg(float64(m.nbrWeight[k])) {
			return nil, fmt.Errorf("neighbour %d: weight invalid", k)
		}
	}
	for k := range m.nbrSupport {
		if m.nbrSupport[k] = r.f32(); !finiteNonNeg(float64(m.nbrSupport[k])) {
			return nil, fmt.Errorf("neighbour %d: support invalid", k)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d unexpected trailing bytes", len(r.b))
	}
	seen := make(map[string]struct{}, nItems)
	for i, id := range m.items {
		if _, dup := seen[id]; dup {
			return nil, fmt.Errorf("item %d: duplicate ID", i)
		}
		seen[id] = struct{}{}
	}
	m.derive()
	return m, nil
}
