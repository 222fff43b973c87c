package dp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/privrec/privrec/internal/fsutil"
)

// ledgerMagic starts the first line of a ledger file; ledgerMagicV1 that of
// a ledger written before ledgers had an ID, which is still read.
const (
	ledgerMagic   = "privrec-ledger v2 "
	ledgerMagicV1 = "privrec-ledger v1 "
)

// ledgerHeader is the JSON of a version 2 ledger's first line.
type ledgerHeader struct {
	ID string `json:"id"`
	Budget
}

// maxLedgerLine bounds one record, so that a hostile file cannot exhaust memory.
const maxLedgerLine = 64 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBudgetMismatch is returned when a ledger is opened with a cap other
// than the one it was created with.
var ErrBudgetMismatch = errors.New("dp: ledger was created with a different budget")

// ErrNoBudget is returned by OpenFileLedger when LedgerOptions.Create is set
// without a Budget to create the ledger with.
var ErrNoBudget = errors.New("dp: creating a ledger needs a Budget")

// LedgerOptions configures OpenFileLedger.
type LedgerOptions struct {
	// Budget is the cap. It is required to create a ledger and is stored in
	// it; when opening an existing ledger, the zero Budget means "the stored
	// one", and any other value must equal it (ErrBudgetMismatch): a cap
	// cannot be raised by reopening. Make a new ledger to change the cap.
	Budget Budget
	// Create makes a new ledger at path with Budget. It fails, wrapping
	// fs.ErrExist, when a ledger is already there (an empty file, left by a
	// crash while creating one, is taken over). Without Create, a missing
	// path is an error wrapping fs.ErrNotExist: a ledger is never created
	// as a side effect of opening one, so a mistyped or deleted path cannot
	// start a fresh budget.
	Create bool
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Logger receives one Info line per debit and per refusal; slog.Default()
	// when nil. Lines carry amounts and release names only.
	Logger *slog.Logger
}

// FileLedger is the embedded durable Ledger: an append-only text file with
// one checksummed JSON record per line.
//
// File format, version 2:
//
//	privrec-ledger v2 <crc32c of JSON, 8 lowercase hex digits> <JSON of the ID and the Budget>\n
//	<crc32c of JSON> <JSON of a Charge>\n
//	...
//
// The ID is 16 random bytes in hex, drawn when the ledger is created: a
// model's report names the ledger and the sequence number of its charge,
// so a ledger that was replaced, or restored from an older copy, can be
// told from the one a model was charged to (see Summary.LedgerID). Version
// 1 files (no ID) are still read; their ID is empty.
//
// Seq runs 1, 2, 3, ... without gaps. Opening fails with ErrLedgerCorrupt if
// any line is torn (no final newline), fails its checksum, does not parse, or
// breaks the sequence: a damaged ledger is never read as "less spent". A
// FileLedger holds an exclusive lock on the file (on Unix) so that two
// processes cannot both debit it. It is safe for concurrent use.
type FileLedger struct {
	path   string
	budget Budget
	id     string
	now    func() time.Time
	log    *slog.Logger

	mu      sync.Mutex
	f       *os.File
	charges []Charge
	broken  error // set when a write may have been torn; refuses further debits
}

var _ Ledger = (*FileLedger)(nil)

// OpenFileLedger opens the ledger file at path, or creates it (mode 0600)
// when opts.Create is set.
func OpenFileLedger(path string, opts LedgerOptions) (*FileLedger, error) {
	if opts.Budget != (Budget{}) {
		if err := opts.Budget.Validate(); err != nil {
			return nil, err
		}
	}
	if opts.Create && opts.Budget == (Budget{}) {
		return nil, fmt.Errorf("%w: %s", ErrNoBudget, path)
	}
	l := &FileLedger{path: path, budget: opts.Budget, now: opts.Now, log: opts.Logger}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	flags := os.O_RDWR | os.O_APPEND
	if opts.Create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !opts.Create {
			return nil, fmt.Errorf("dp: ledger %s does not exist (a ledger is only created when asked to, with LedgerOptions.Create): %w", path, err)
		}
		return nil, fmt.Errorf("dp: open ledger: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("dp: ledger %s is in use by another process: %w", path, err)
	}
	data, err := readAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dp: read ledger %s: %w", path, err)
	}
	if len(data) == 0 {
		if !opts.Create {
			f.Close()
			return nil, &corruptError{path: path, detail: "the file is empty (a crash while creating it?); create it again with LedgerOptions.Create"}
		}
		l.id = newLedgerID()
		header, err := formatHeader(ledgerHeader{ID: l.id, Budget: opts.Budget})
		if err == nil {
			err = writeDurably(f, header)
		}
		if err == nil {
			err = fsutil.SyncDir(filepath.Dir(path))
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("dp: create ledger %s: %w", path, err)
		}
	} else if opts.Create {
		f.Close()
		return nil, fmt.Errorf("dp: create ledger %s: %w (open it without Create to use it)", path, fs.ErrExist)
	} else {
		stored, charges, err := parseLedger(data)
		if err != nil {
			f.Close()
			return nil, inLedger(path, err)
		}
		if opts.Budget != (Budget{}) && opts.Budget != stored.Budget {
			f.Close()
			return nil, fmt.Errorf("%w: %s has cap ε = %g, δ = %g, %s; asked for ε = %g, δ = %g, %s (make a new ledger to change the cap)",
				ErrBudgetMismatch, path, stored.Epsilon, stored.Delta, horizonText(stored.Horizon),
				opts.Budget.Epsilon, opts.Budget.Delta, horizonText(opts.Budget.Horizon))
		}
		l.budget, l.id, l.charges = stored.Budget, stored.ID, charges
	}
	l.f = f
	return l, nil
}

func readAll(f *os.File) ([]byte, error) {
	if _, err := f.Seek(0, 0); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(f)
	return buf.Bytes(), err
}

// parseLedger decodes a whole ledger file: its budget and its charges. It
// returns an error wrapping ErrLedgerCorrupt, naming the line, for any damage.
func parseLedger(data []byte) (ledgerHeader, []Charge, error) {
	var h ledgerHeader
	v2 := bytes.HasPrefix(data, []byte(ledgerMagic))
	if !v2 && !bytes.HasPrefix(data, []byte(ledgerMagicV1)) {
		return h, nil, corrupt("line 1: not a privrec ledger (want %q)", strings.TrimSpace(ledgerMagic))
	}
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return h, nil, corrupt("line 1: torn header")
	}
	body, err := checkRecord(data[len(ledgerMagic):i])
	if err == nil && v2 {
		err = strictJSON(body, &h)
		if err == nil && !validLedgerID(h.ID) {
			err = fmt.Errorf("malformed ledger ID %q", h.ID)
		}
	} else if err == nil {
		err = strictJSON(body, &h.Budget)
	}
	if err == nil {
		err = h.Budget.Validate()
	}
	if err != nil {
		return h, nil, corrupt("line 1: %v", err)
	}
	rest := data[i+1:]
	var charges []Charge
	for line := 2; len(rest) > 0; line++ {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return h, nil, corrupt("line %d: torn record (no final newline): the last debit did not complete, so nothing was released for it; to recover, keep a copy of the file and delete the partial last line", line)
		}
		var c Charge
		body, err := checkRecord(rest[:i])
		if err == nil {
			err = strictJSON(body, &c)
		}
		if err == nil {
			err = validateCost(c.Cost)
		}
		if err != nil {
			return h, nil, corrupt("line %d: %v", line, err)
		}
		rest = rest[i+1:]
		if want := uint64(len(charges) + 1); c.Seq != want {
			return h, nil, corrupt("line %d: sequence number %d, want %d", line, c.Seq, want)
		}
		charges = append(charges, c)
	}
	return h, charges, nil
}

// checkRecord verifies "<crc32c hex> <body>" and returns the body.
func checkRecord(rec []byte) ([]byte, error) {
	if len(rec) > maxLedgerLine {
		return nil, errors.New("record too long")
	}
	if len(rec) < 10 || rec[8] != ' ' {
		return nil, errors.New("malformed record")
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], rec[:8]); err != nil {
		return nil, errors.New("malformed checksum")
	}
	body := rec[9:]
	want := uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
	if crc32.Checksum(body, castagnoli) != want {
		return nil, errors.New("checksum mismatch")
	}
	return body, nil
}

func strictJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %v", err)
	}
	if dec.More() {
		return errors.New("bad JSON: trailing data")
	}
	return nil
}

// formatRecord renders v as "<crc32c hex> <JSON>\n".
func formatRecord(v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := fmt.Appendf(nil, "%08x ", crc32.Checksum(body, castagnoli))
	out = append(out, body...)
	return append(out, '\n'), nil
}

func formatHeader(h ledgerHeader) ([]byte, error) {
	if h.ID == "" { // a version 1 ledger, rewritten as it was (tests only)
		rec, err := formatRecord(h.Budget)
		if err != nil {
			return nil, err
		}
		return append([]byte(ledgerMagicV1), rec...), nil
	}
	rec, err := formatRecord(h)
	if err != nil {
		return nil, err
	}
	return append([]byte(ledgerMagic), rec...), nil
}

// Debit implements Ledger. The record is written with one write call and
// fsync'd before Debit returns. If the write or fsync fails, the ledger
// refuses every further debit until it is reopened (the file may hold a torn
// record, which reopening reports).
func (l *FileLedger) Debit(ctx context.Context, c Charge) (Charge, error) {
	if err := ctx.Err(); err != nil {
		return Charge{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return Charge{}, errors.New("dp: ledger is closed")
	}
	if l.broken != nil {
		return Charge{}, fmt.Errorf("dp: ledger refuses debits after a failed write; reopen it: %w", l.broken)
	}
	c.Seq = uint64(len(l.charges) + 1)
	if err := stamp(&c, l.now()); err != nil {
		return Charge{}, err
	}
	if err := CheckBudget(l.budget, l.charges, c); err != nil {
		l.log.Info("privacy budget debit refused", "release", c.Release, "epsilon", c.Epsilon, "reason", err.Error())
		return Charge{}, err
	}
	rec, err := formatRecord(c)
	if err != nil {
		return Charge{}, fmt.Errorf("dp: encode charge: %w", err)
	}
	if len(rec) > maxLedgerLine {
		return Charge{}, errors.New("dp: charge note too long")
	}
	if err := writeDurably(l.f, rec); err != nil {
		l.broken = err
		return Charge{}, fmt.Errorf("dp: write ledger %s: %w", l.path, err)
	}
	l.charges = append(l.charges, c)
	l.log.Info("privacy budget debited", "release", c.Release, "seq", c.Seq, "epsilon", c.Epsilon, "delta", c.Delta)
	return c, nil
}

// Summary implements Ledger.
func (l *FileLedger) Summary(now time.Time) (Summary, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := Summarize(l.budget, append([]Charge(nil), l.charges...), now)
	s.LedgerID = l.id
	return s, err
}

// Close releases the file and its lock.
func (l *FileLedger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// writeHook lets tests inject write and fsync failures.
var writeHook func(f *os.File, b []byte) error

func writeDurably(f *os.File, b []byte) error {
	if writeHook != nil {
		return writeHook(f, b)
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	return syncFile(f)
}

// syncFile is f.Sync; tests wrap it to check that every record is synced
// after it is written.
var syncFile = (*os.File).Sync

// ReadLedgerFile parses a ledger file without locking or modifying it, for
// inspection tools.
func ReadLedgerFile(path string) (Budget, []Charge, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Budget{}, nil, fmt.Errorf("dp: read ledger: %w", err)
	}
	h, ch, err := parseLedger(data)
	if err != nil {
		return Budget{}, nil, inLedger(path, err)
	}
	return h.Budget, ch, nil
}

// newLedgerID draws a ledger's random ID.
func newLedgerID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// validLedgerID reports whether id is 32 lowercase hex digits.
func validLedgerID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// corruptError is damage found in a ledger file; it matches
// ErrLedgerCorrupt with errors.Is.
type corruptError struct{ path, detail string }

func (e *corruptError) Error() string {
	if e.path == "" {
		return ErrLedgerCorrupt.Error() + ": " + e.detail
	}
	return "dp: ledger " + e.path + " is corrupt: " + e.detail
}

func (e *corruptError) Is(target error) bool { return target == ErrLedgerCorrupt }

// corrupt returns the damage described by format and args.
func corrupt(format string, args ...any) error {
	return &corruptError{detail: fmt.Sprintf(format, args...)}
}

// inLedger names the ledger file in an error from parseLedger.
func inLedger(path string, err error) error {
	var ce *corruptError
	if errors.As(err, &ce) {
		return &corruptError{path: path, detail: ce.detail}
	}
	return fmt.Errorf("dp: ledger %s: %w", path, err)
}
