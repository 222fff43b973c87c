package collect

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/privrec/privrec/internal/bottomk"
	"github.com/privrec/privrec/internal/fsutil"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

// Window state files.
//
// With Options.StateDir set, a collector keeps its bounded state in
// one file per window, so that a restart mid-window loses no accepted event:
//
//	privrec-window v1 <start RFC 3339> <end RFC 3339> k=<K> key=<sample key, hex> catalog=<fingerprint, hex>\n
//	record × N: pseudonym (16 bytes) ‖ catalog index (u32 LE) ‖ CRC-32C of the previous 20 bytes (u32 LE)
//
// A record is appended, with one write, for every event that changes the
// state (a new item kept, or one displacing another), before Add returns:
// an acknowledged event survives the process being killed. (Sync flushes to
// the disk as well, for power loss.) Replaying the records into an empty
// collector gives back the same state, because bottom-K sets do not depend
// on order or repetition. A torn last record is dropped on replay (its Add
// never returned); damage anywhere else is refused with ErrStateCorrupt.
// Forget and Merge rewrite the file from memory, so a forgotten person's
// records are gone from disk too. Take deletes the file once the release
// has been debited. The file holds pseudonyms and item indexes, never a raw
// user ID.

const (
	stateMagic     = "privrec-window v1 "
	stateRecordLen = 16 + 4 + 4
)

// ErrStateCorrupt is wrapped when a window state file fails its checks.
var ErrStateCorrupt = errors.New("collect: window state file is corrupt")

type windowStore struct {
	mu   sync.Mutex
	path string
	f    *os.File
	buf  [stateRecordLen]byte
}

// tempSuffix follows a state file's name in the name of the temporary file
// a rewrite writes before renaming it over the state file, so that a
// leftover can be told apart and removed with its window.
const tempSuffix = ".tmp-"

// removeTemps removes the temporary files of interrupted rewrites of the
// state file at path.
func removeTemps(path string) error {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("collect: state dir: %w", err)
	}
	prefix := filepath.Base(path) + tempSuffix
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(filepath.Dir(path), e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("collect: remove leftover window state: %w", err)
		}
	}
	return nil
}

// stateFile returns the name of the state file of window w in dir.
func stateFile(dir string, w recommend.Window) string {
	return filepath.Join(dir, fmt.Sprintf("window-%d-%d.state", w.Start.Unix(), w.End.Unix()))
}

func catalogFingerprint(cat *recommend.Catalog) string {
	h := sha256.New()
	for i := range cat.Len() {
		h.Write([]byte(cat.Item(i).ID))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (c *Collector) stateHeader() string {
	w := c.opts.Window
	return fmt.Sprintf("%s%s %s k=%d key=%s catalog=%s\n", stateMagic,
		w.Start.UTC().Format(time.RFC3339Nano), w.End.UTC().Format(time.RFC3339Nano),
		c.k, hex.EncodeToString(c.opts.SampleKey[:]), catalogFingerprint(c.cat))
}

// openStore opens or creates the window's state file and replays it. It
// runs from New, before the collector is shared.
func (c *Collector) openStore(dir string, keyGiven bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("collect: state dir: %w", err)
	}
	path := stateFile(dir, c.opts.Window)
	// A rewrite killed between creating its temporary file and renaming it
	// leaves the file behind; it holds pseudonyms, so it goes.
	if err := removeTemps(path); err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c.writeState(path)
	case err != nil:
		return fmt.Errorf("collect: read window state: %w", err)
	}
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 || !bytes.HasPrefix(data, []byte(stateMagic)) {
		return fmt.Errorf("%w: %s: bad header", ErrStateCorrupt, path)
	}
	header := string(data[:nl+1])
	fields := strings.Fields(header[len(stateMagic):])
	if len(fields) != 5 || !strings.HasPrefix(fields[3], "key=") {
		return fmt.Errorf("%w: %s: bad header", ErrStateCorrupt, path)
	}
	key, err := hex.DecodeString(strings.TrimPrefix(fields[3], "key="))
	if err != nil || len(key) != 16 {
		return fmt.Errorf("%w: %s: bad sample key", ErrStateCorrupt, path)
	}
	if keyGiven && !bytes.Equal(key, c.opts.SampleKey[:]) {
		return fmt.Errorf("collect: %s was written with another SampleKey", path)
	}
	copy(c.opts.SampleKey[:], key)
	c.hash = bottomk.New(c.opts.SampleKey)
	if header != c.stateHeader() {
		return fmt.Errorf("collect: %s belongs to another window, Keep or catalog (header %q)", path, strings.TrimSpace(header))
	}
	recs := data[nl+1:]
	n := len(recs) / stateRecordLen
	for i := 0; i < n; i++ {
		r := recs[i*stateRecordLen : (i+1)*stateRecordLen]
		if crc32.Checksum(r[:20], castagnoli) != binary.LittleEndian.Uint32(r[20:]) {
			if i == n-1 && len(recs)%stateRecordLen == 0 {
				n-- // a torn last record: its Add never returned
				break
			}
			return fmt.Errorf("%w: %s: record %d fails its checksum", ErrStateCorrupt, path, i+1)
		}
		var id pseudonym.ID
		copy(id[:], r[:16])
		idx := binary.LittleEndian.Uint32(r[16:20])
		if int(idx) >= c.cat.Len() {
			return fmt.Errorf("%w: %s: record %d: item index out of range", ErrStateCorrupt, path, i+1)
		}
		s := &c.shards[id[0]%numShards]
		c.insertLocked(s, id, idx)
	}
	// Drop a torn tail before appending, so later records stay aligned.
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("collect: open window state: %w", err)
	}
	if err := f.Truncate(int64(nl + 1 + n*stateRecordLen)); err != nil {
		f.Close()
		return fmt.Errorf("collect: truncate window state: %w", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return err
	}
	c.store = &windowStore{path: path, f: f}
	return nil
}

// writeState writes the whole in-memory state to a new file and swaps it in
// atomically. The caller holds every shard lock (or is the only user).
func (c *Collector) writeState(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+tempSuffix+"*")
	if err != nil {
		return fmt.Errorf("collect: write window state: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	w.WriteString(c.stateHeader())
	var rec [stateRecordLen]byte
	for i := range c.shards {
		s := &c.shards[i]
		s.users.each(func(u *user) {
			for _, idx := range s.itemsOf(u, c.inline)[:u.n] {
				encodeRecord(&rec, u.id, idx)
				w.Write(rec[:])
			}
		})
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("collect: write window state: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("collect: write window state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		tmp.Close()
		return fmt.Errorf("collect: write window state: %w", err)
	}
	if err := fsutil.SyncDir(filepath.Dir(path)); err != nil {
		tmp.Close()
		return fmt.Errorf("collect: write window state: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekEnd); err != nil {
		tmp.Close()
		return err
	}
	if c.store == nil {
		c.store = &windowStore{path: path}
	}
	c.store.mu.Lock()
	if c.store.f != nil {
		c.store.f.Close()
	}
	c.store.f = tmp
	c.store.mu.Unlock()
	return fsutil.SyncDir(filepath.Dir(path))
}

func encodeRecord(rec *[stateRecordLen]byte, id pseudonym.ID, idx uint32) {
	copy(rec[:16], id[:])
	binary.LittleEndian.PutUint32(rec[16:20], idx)
	binary.LittleEndian.PutUint32(rec[20:], crc32.Checksum(rec[:20], castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// append writes one record with a single write call.
func (st *windowStore) append(id pseudonym.ID, idx uint32) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	encodeRecord(&st.buf, id, idx)
	return st.writeLocked(st.buf[:])
}

// appendRecords writes encoded records with a single write call.
func (st *windowStore) appendRecords(recs []byte) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.writeLocked(recs)
}

func (st *windowStore) writeLocked(b []byte) error {
	if st.f == nil {
		return errors.New("collect: window state file is closed")
	}
	if _, err := st.f.Write(b); err != nil {
		return fmt.Errorf("collect: persist window state: %w", err)
	}
	return nil
}

// compact rewrites the state file from memory (after Forget or Merge).
func (c *Collector) compact() error {
	if c.store == nil {
		return nil
	}
	defer c.lockAll()()
	if c.shards[0].released {
		return nil
	}
	return c.writeState(c.store.path)
}

// removeStore deletes the state file: the window has been released.
func (c *Collector) removeStore() error {
	if c.store == nil {
		return nil
	}
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	if c.store.f != nil {
		c.store.f.Close()
		c.store.f = nil
	}
	if err := os.Remove(c.store.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("collect: delete window state: %w", err)
	}
	return fsutil.SyncDir(filepath.Dir(c.store.path))
}

// Sync flushes the window state file to the disk. Accepted events already
// survive a crash of the process; Sync makes them survive a power failure.
func (c *Collector) Sync() error {
	if c.store == nil {
		return nil
	}
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	if c.store.f == nil {
		return nil
	}
	return c.store.f.Sync()
}

// Close closes the window state file, keeping it for the next
// New of the same window. Further Adds fail.
func (c *Collector) Close() error {
	if c.store == nil {
		return nil
	}
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	if c.store.f == nil {
		return nil
	}
	err := c.store.f.Close()
	c.store.f = nil
	return err
}

// StateWindows returns the windows that have a state file in dir, oldest
// first: windows whose collectors were closed or crashed before a release
// (a release deletes its window's file). New with the same window and
// StateDir replays one.
func StateWindows(dir string) ([]recommend.Window, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("collect: state windows: %w", err)
	}
	var ws []recommend.Window
	for _, e := range entries {
		var start, end int64
		if _, err := fmt.Sscanf(e.Name(), "window-%d-%d.state", &start, &end); err != nil || e.IsDir() ||
			e.Name() != fmt.Sprintf("window-%d-%d.state", start, end) {
			continue
		}
		ws = append(ws, recommend.Window{Start: time.Unix(start, 0).UTC(), End: time.Unix(end, 0).UTC()})
	}
	slices.SortFunc(ws, func(a, b recommend.Window) int { return a.Start.Compare(b.Start) })
	return ws, nil
}

// PurgeStateFiles deletes the state files in dir of windows that ended
// before cutoff: pending state older than a retention period, which must
// not be kept even if it was never released. It returns the files removed.
func PurgeStateFiles(dir string, cutoff time.Time) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("collect: purge: %w", err)
	}
	var removed []string
	for _, e := range entries {
		var start, end int64
		if _, err := fmt.Sscanf(e.Name(), "window-%d-%d.state", &start, &end); err != nil || e.IsDir() {
			continue
		}
		// The state file itself, or a temporary file of an interrupted
		// rewrite of it.
		if base := fmt.Sprintf("window-%d-%d.state", start, end); e.Name() != base && !strings.HasPrefix(e.Name(), base+tempSuffix) {
			continue
		}
		if time.Unix(end, 0).After(cutoff) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil {
			return removed, fmt.Errorf("collect: purge: %w", err)
		}
		removed = append(removed, p)
	}
	if len(removed) > 0 {
		if err := fsutil.SyncDir(dir); err != nil {
			return removed, err
		}
	}
	return removed, nil
}
