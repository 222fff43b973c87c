package dp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ledgerHeader is the first line of a ledger file.
const ledgerHeader = "privrec-ledger v1\n"

// MaxLedgerLine bounds one record, so that a hostile file cannot exhaust memory.
const MaxLedgerLine = 64 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// LedgerOptions configures OpenFileLedger.
type LedgerOptions struct {
	// Budget is the cap; required.
	Budget Budget
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Logger receives one Info line per debit and per refusal; slog.Default()
	// when nil. Lines carry amounts and release names only.
	Logger *slog.Logger
}

// FileLedger is the embedded durable Ledger: an append-only text file with
// one checksummed JSON record per line.
//
// File format, version 1:
//
//	privrec-ledger v1\n
//	<crc32c of JSON, 8 lowercase hex digits> <JSON of a Charge>\n
//	...
//
// Seq runs 1, 2, 3, ... without gaps. Opening fails with ErrLedgerCorrupt if
// any line is torn (no final newline), fails its checksum, does not parse, or
// breaks the sequence: a damaged ledger is never read as "less spent". A
// FileLedger holds an exclusive lock on the file (on Unix) so that two
// processes cannot both debit it. It is safe for concurrent use.
type FileLedger struct {
	path   string
	budget Budget
	now    func() time.Time
	log    *slog.Logger

	mu      sync.Mutex
	f       *os.File
	charges []Charge
	broken  error // set when a write may have been torn; refuses further debits
}

var _ Ledger = (*FileLedger)(nil)

// OpenFileLedger opens the ledger file at path, creating it (mode 0600) if it
// does not exist.
func OpenFileLedger(path string, opts LedgerOptions) (*FileLedger, error) {
	if err := opts.Budget.Validate(); err != nil {
		return nil, err
	}
	l := &FileLedger{path: path, budget: opts.Budget, now: opts.Now, log: opts.Logger}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
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
		if err := writeDurably(f, []byte(ledgerHeader)); err != nil {
			f.Close()
			return nil, fmt.Errorf("dp: create ledger %s: %w", path, err)
		}
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("dp: create ledger %s: %w", path, err)
		}
	} else if l.charges, err = ParseLedger(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("dp: ledger %s: %w", path, err)
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

// ParseLedger decodes a whole ledger file. It returns an error wrapping
// ErrLedgerCorrupt, naming the line, for any damage.
func ParseLedger(data []byte) ([]Charge, error) {
	if !bytes.HasPrefix(data, []byte(ledgerHeader)) {
		return nil, fmt.Errorf("%w: line 1: not a privrec ledger (want %q)", ErrLedgerCorrupt, ledgerHeader[:len(ledgerHeader)-1])
	}
	rest := data[len(ledgerHeader):]
	var charges []Charge
	for line := 2; len(rest) > 0; line++ {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return nil, fmt.Errorf("%w: line %d: torn record (no final newline); the last debit may not have completed", ErrLedgerCorrupt, line)
		}
		rec := rest[:i]
		rest = rest[i+1:]
		c, err := parseRecord(rec)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrLedgerCorrupt, line, err)
		}
		if want := uint64(len(charges) + 1); c.Seq != want {
			return nil, fmt.Errorf("%w: line %d: sequence number %d, want %d", ErrLedgerCorrupt, line, c.Seq, want)
		}
		charges = append(charges, c)
	}
	return charges, nil
}

func parseRecord(rec []byte) (Charge, error) {
	var c Charge
	if len(rec) > MaxLedgerLine {
		return c, errors.New("record too long")
	}
	if len(rec) < 10 || rec[8] != ' ' {
		return c, errors.New("malformed record")
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], rec[:8]); err != nil {
		return c, errors.New("malformed checksum")
	}
	body := rec[9:]
	want := uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
	if crc32.Checksum(body, castagnoli) != want {
		return c, errors.New("checksum mismatch")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("bad JSON: %v", err)
	}
	if err := validateCost(c.Cost); err != nil {
		return c, err
	}
	return c, nil
}

func formatRecord(c Charge) ([]byte, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	out := fmt.Appendf(nil, "%08x ", crc32.Checksum(body, castagnoli))
	out = append(out, body...)
	return append(out, '\n'), nil
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
	if c.At.IsZero() {
		c.At = l.now()
	}
	c.At = c.At.UTC()
	if err := CheckBudget(l.budget, l.charges, c); err != nil {
		l.log.Info("privacy budget debit refused", "release", c.Release, "epsilon", c.Epsilon, "reason", err.Error())
		return Charge{}, err
	}
	rec, err := formatRecord(c)
	if err != nil {
		return Charge{}, fmt.Errorf("dp: encode charge: %w", err)
	}
	if len(rec) > MaxLedgerLine {
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
	return Summarize(l.budget, append([]Charge(nil), l.charges...), now)
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
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// ReadLedgerFile parses a ledger file without locking or modifying it, for
// inspection tools.
func ReadLedgerFile(path string) ([]Charge, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dp: open ledger: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(bufio.NewReader(f)); err != nil {
		return nil, fmt.Errorf("dp: read ledger %s: %w", path, err)
	}
	ch, err := ParseLedger(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("dp: ledger %s: %w", path, err)
	}
	return ch, nil
}
