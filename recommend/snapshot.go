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
	"strings"

	"github.com/privrec/privrec/internal/fsutil"
)

// Snapshot format, version 2. All integers little-endian.
//
//	magic     8 bytes  "PRIVRECM"
//	version   u32      2
//	flags     u32      0
//	sections  each: tag (4 ASCII bytes), u64 payload length, payload
//	checksum  32 bytes: SHA-256 of every byte before it
//
// The sections, in this order:
//
//	"RPRT"  the Report as JSON
//	"CATL"  the catalog: u32 nCats, nCats × (u16 length + UTF-8);
//	        u32 nItems, nItems × (u16 length + ID, u16 length + name,
//	        i32 category or -1)
//	"POPL"  popularity: nItems × f64
//
// then one section per kind of evidence the model holds, each at most once,
// in any order:
//
//	"NBRS"  neighbour lists: base nItems × f32; offsets (nItems+1) × u32,
//	        from 0, non-decreasing; then nnz = offsets[nItems] entries of
//	        item u32, weight f32, support f32 (three arrays)
//	"CATG"  category evidence: alpha f64; nCats+1 × f64, the share of
//	        popularity of each category and last of items without one
//
// A snapshot holds the public catalog, noisy aggregates derived from it and
// the privacy report: no pseudonym, no user ID and no per-user data. A
// decoder refuses unknown sections (a model written by a newer privrec).
//
// Version 1 (privrec before the release mechanisms became named parts) is
// refused with an error that says to rebuild the model: its report does not
// say what each part spent.
const (
	snapshotMagic   = "PRIVRECM"
	snapshotVersion = 2
	// MaxSnapshotSize bounds what ReadModel accepts.
	MaxSnapshotSize = 4 << 30
)

// sectionTag names a snapshot section.
type sectionTag [4]byte

func (t sectionTag) String() string { return string(t[:]) }

var (
	tagReport     = sectionTag{'R', 'P', 'R', 'T'}
	tagCatalog    = sectionTag{'C', 'A', 'T', 'L'}
	tagPopularity = sectionTag{'P', 'O', 'P', 'L'}
	tagNeighbors  = sectionTag{'N', 'B', 'R', 'S'}
	tagCategories = sectionTag{'C', 'A', 'T', 'G'}
)

// evidenceDecoders reads each kind of evidence's section for a catalog of n
// items.
var evidenceDecoders = map[sectionTag]func(d *decoder, cat *Catalog) (evidence, error){
	tagNeighbors:  func(d *decoder, cat *Catalog) (evidence, error) { return decodeNeighbors(d, cat) },
	tagCategories: func(d *decoder, cat *Catalog) (evidence, error) { return decodeCategories(d, cat) },
}

// ErrBadSnapshot is wrapped by every snapshot decoding error.
var ErrBadSnapshot = errors.New("recommend: bad model snapshot")

// encoder writes little-endian values to a buffered writer.
type encoder struct {
	w       *bufio.Writer
	scratch [8]byte
}

func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.scratch[:], v)
	e.w.Write(e.scratch[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.scratch[:], v)
	e.w.Write(e.scratch[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.scratch[:], v)
	e.w.Write(e.scratch[:8])
}
func (e *encoder) f32(v float32) { e.u32(math.Float32bits(v)) }
func (e *encoder) f64(v float64) { e.u64(math.Float64bits(v)) }
func (e *encoder) str(s string)  { e.u16(uint16(len(s))); e.w.WriteString(s) }

// section writes one section: its payload goes to a buffer first, for the
// length.
func (e *encoder) section(tag sectionTag, payload func(e *encoder)) {
	var buf bytes.Buffer
	inner := &encoder{w: bufio.NewWriter(&buf)}
	payload(inner)
	inner.w.Flush()
	e.w.Write(tag[:])
	e.u64(uint64(buf.Len()))
	e.w.Write(buf.Bytes())
}

// WriteTo writes the model's snapshot to w.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	rep, err := json.Marshal(m.report)
	if err != nil {
		return 0, fmt.Errorf("recommend: encode report: %w", err)
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	e := &encoder{w: bufio.NewWriterSize(cw, 64<<10)}
	e.w.WriteString(snapshotMagic)
	e.u32(snapshotVersion)
	e.u32(0)
	e.section(tagReport, func(e *encoder) { e.w.Write(rep) })
	e.section(tagCatalog, func(e *encoder) {
		e.u32(uint32(len(m.cat.categories)))
		for _, c := range m.cat.categories {
			e.str(c)
		}
		e.u32(uint32(len(m.cat.items)))
		for i, it := range m.cat.items {
			e.str(it.ID)
			e.str(it.Name)
			e.u32(uint32(m.cat.itemCat[i]))
		}
	})
	e.section(tagPopularity, func(e *encoder) {
		for _, p := range m.pop {
			e.f64(p)
		}
	})
	for _, ev := range m.evidence {
		e.section(ev.tag(), ev.encode)
	}
	if err := e.w.Flush(); err != nil {
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
	m, err := decodeModel(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	return m, nil
}

// SaveModel writes the snapshot to path atomically: to a temporary file in
// the same directory (named after path, ".tmp-" and a random suffix),
// fsync'd, renamed over path, and the directory fsync'd. Temporary files
// left by an earlier SaveModel to path that was killed before its rename
// are removed first.
func SaveModel(m *Model, path string) error {
	dir := filepath.Dir(path)
	prefix := filepath.Base(path) + ".tmp-"
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) && !e.IsDir() {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	f, err := os.CreateTemp(dir, prefix+"*")
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
	if err := fsutil.SyncDir(dir); err != nil {
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

// decoder reads little-endian values; the first failure sticks in err.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errors.New("truncated")
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) f32() float32 { return math.Float32frombits(d.u32()) }
func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }
func (d *decoder) str() string  { return string(d.take(uint64(d.u16()))) }

// need fails unless n records of at least size bytes each can still follow.
func (d *decoder) need(n uint64, size int) bool {
	if d.err == nil && (n > math.MaxUint32 || n*uint64(size) > uint64(len(d.b))) {
		d.err = fmt.Errorf("count %d exceeds the remaining %d bytes", n, len(d.b))
	}
	return d.err == nil
}

// done fails unless every byte was read.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d unexpected trailing bytes", len(d.b))
	}
	return d.err
}

func decodeModel(data []byte) (*Model, error) {
	const headerLen = len(snapshotMagic) + 8
	if len(data) < headerLen+sha256.Size {
		return nil, errors.New("too short")
	}
	if string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, errors.New("not a privrec model (bad magic)")
	}
	switch v := binary.LittleEndian.Uint32(data[8:]); v {
	case snapshotVersion:
	case 1:
		return nil, errors.New("snapshot format 1 was written by an earlier privrec and cannot be read: its report does not say what each part of the release spent. Rebuild the model from the events (privrec build)")
	default:
		return nil, fmt.Errorf("unsupported version %d (this build reads %d)", v, snapshotVersion)
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, errors.New("checksum mismatch (corrupted or truncated)")
	}
	d := &decoder{b: body[len(snapshotMagic)+4:]}
	if flags := d.u32(); flags != 0 {
		return nil, fmt.Errorf("unknown flags %#x", flags)
	}
	next := func() (sectionTag, *decoder, error) {
		var tag sectionTag
		copy(tag[:], d.take(4))
		n := d.u64()
		payload := d.take(n)
		if d.err != nil {
			return tag, nil, fmt.Errorf("section %q: %v", tag, d.err)
		}
		return tag, &decoder{b: payload}, nil
	}
	want := func(w sectionTag) (*decoder, error) {
		tag, sd, err := next()
		if err != nil {
			return nil, err
		}
		if tag != w {
			return nil, fmt.Errorf("section %q where %q belongs", tag, w)
		}
		return sd, nil
	}

	var rep Report
	sd, err := want(tagReport)
	if err != nil {
		return nil, err
	}
	reportJSON := sd.b
	if err := strictJSON(reportJSON, &rep); err != nil {
		return nil, fmt.Errorf("report: %v", err)
	}
	if rep.Format != ReportFormat {
		return nil, fmt.Errorf("report format %q, want %q", rep.Format, ReportFormat)
	}
	if sd, err = want(tagCatalog); err != nil {
		return nil, err
	}
	cat, err := decodeCatalog(sd)
	if err != nil {
		return nil, fmt.Errorf("catalog: %v", err)
	}
	if sd, err = want(tagPopularity); err != nil {
		return nil, err
	}
	n := cat.Len()
	if !sd.need(uint64(n), 8) {
		return nil, fmt.Errorf("popularity: %v", sd.err)
	}
	pop := make([]float64, n)
	for i := range pop {
		if pop[i] = sd.f64(); !finiteNonNeg(pop[i]) {
			return nil, fmt.Errorf("popularity of item %d invalid", i)
		}
	}
	if err := sd.done(); err != nil {
		return nil, fmt.Errorf("popularity: %v", err)
	}
	var evs []Evidence
	seen := map[sectionTag]bool{}
	for len(d.b) > 0 {
		tag, sd, err := next()
		if err != nil {
			return nil, err
		}
		dec, ok := evidenceDecoders[tag]
		if !ok {
			return nil, fmt.Errorf("unknown section %q (written by a newer privrec?)", tag)
		}
		if seen[tag] {
			return nil, fmt.Errorf("section %q twice", tag)
		}
		seen[tag] = true
		ev, err := dec(sd, cat)
		if err == nil {
			err = sd.done()
		}
		if err != nil {
			return nil, fmt.Errorf("section %q: %v", tag, err)
		}
		evs = append(evs, ev)
	}
	// The evidence share is kept as the release measured it (measuring it
	// again would cost 2,000 queries, and re-encoding must give back the
	// same bytes).
	share := rep.Contents.EvidenceShare
	if !(share >= 0 && share <= 1) {
		return nil, fmt.Errorf("report: evidence share %v outside [0, 1]", share)
	}
	m, err := newModel(cat, pop, rep, evs)
	if err != nil {
		return nil, err
	}
	m.report.Contents.EvidenceShare = share
	// The report's contents are derived from the sections, and the report
	// is stored as WriteTo marshals it: a snapshot has one encoding, so a
	// report edited by hand (or a section swapped under it) is refused
	// rather than silently rewritten on the next save.
	if m.report.Contents != rep.Contents {
		return nil, fmt.Errorf("report: contents %+v disagree with the sections (%+v)", rep.Contents, m.report.Contents)
	}
	if canon, err := json.Marshal(m.report); err != nil || !bytes.Equal(canon, reportJSON) {
		return nil, errors.New("report: not in the form privrec writes (edited by hand?)")
	}
	return m, nil
}

func decodeCatalog(d *decoder) (*Catalog, error) {
	nCats := d.u32()
	if !d.need(uint64(nCats), 2) {
		return nil, d.err
	}
	cats := make([]string, nCats)
	seen := make(map[string]bool, nCats)
	for i := range cats {
		c := d.str()
		if err := checkText(c, MaxItemIDLen, false); d.err == nil && (err != nil || seen[c]) {
			return nil, fmt.Errorf("category %d invalid or duplicate", i)
		}
		seen[c] = true
		cats[i] = c
	}
	nItems := d.u32()
	if nItems == 0 || nItems > maxCatalogSize {
		return nil, fmt.Errorf("item count %d out of range", nItems)
	}
	// Per item at least: ID (2+1), name (2), category (4).
	if !d.need(uint64(nItems), 3+2+4) {
		return nil, d.err
	}
	items := make([]Item, nItems)
	for i := range items {
		items[i] = Item{ID: d.str(), Name: d.str()}
		ci := int32(d.u32())
		if d.err != nil {
			return nil, d.err
		}
		if ci < -1 || ci >= int32(nCats) {
			return nil, fmt.Errorf("item %d: category %d out of range", i, ci)
		}
		if ci >= 0 {
			items[i].Category = cats[ci]
		}
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	cat, err := NewCatalog(items)
	if err != nil {
		return nil, err
	}
	// NewCatalog orders categories by first use; a snapshot may list one
	// that no item uses, or in another order: both are refused, so that a
	// catalog has one encoding.
	if !equalStrings(cat.categories, cats) {
		return nil, errors.New("categories are not listed in order of first use")
	}
	return cat, nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// strictJSON decodes exactly one JSON value into v, refusing unknown fields.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
