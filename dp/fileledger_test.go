package dp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func gaussianCharge(t *testing.T, eps float64) Charge {
	t.Helper()
	plan, err := NewPlan(PlanOptions{Epsilon: eps, Delta: 1e-7, Parts: []PartSpec{{Name: "counts", L0: 16, LInf: 1, Share: 1}}})
	require.NoError(t, err)
	return Charge{Release: "r", Cost: plan.Cost, Epsilon: plan.Epsilon, Delta: 1e-7}
}

// openLedger opens the ledger at path, creating it when it does not exist.
func openLedger(t *testing.T, path string, b Budget, now *time.Time) *FileLedger {
	t.Helper()
	_, statErr := os.Stat(path)
	l, err := OpenFileLedger(path, LedgerOptions{
		Budget: b,
		Create: errors.Is(statErr, fs.ErrNotExist),
		Now:    func() time.Time { return *now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLedgerRefusesOverspendAndSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	now := t0
	b := Budget{Epsilon: 3, Delta: 1e-6}
	l := openLedger(t, path, b, &now)
	ctx := context.Background()

	var debited []Charge
	for range 10 {
		c, err := l.Debit(ctx, gaussianCharge(t, 1))
		if err != nil {
			require.ErrorIs(t, err, ErrBudgetExceeded)
			assert.Contains(t, err.Error(), "already spent")
			break
		}
		debited = append(debited, c)
	}
	// ρ adds up, so three ε=1 releases at δ=1e-7 cost less than ε=3 at
	// δ=1e-6; more than three fit, but not ten.
	require.Greater(t, len(debited), 3)
	require.Less(t, len(debited), 10)
	s, err := l.Summary(now)
	require.NoError(t, err)
	assert.LessOrEqual(t, s.Epsilon, b.Epsilon)
	assert.Len(t, s.Charges, len(debited))
	require.NoError(t, l.Close())

	// Reopen: exactly the same spend, and still refusing.
	l2 := openLedger(t, path, b, &now)
	s2, err := l2.Summary(now)
	require.NoError(t, err)
	assert.Equal(t, s.Total, s2.Total)
	assert.Equal(t, s.Epsilon, s2.Epsilon)
	assert.Equal(t, debited, s2.Charges)
	_, err = l2.Debit(ctx, gaussianCharge(t, 1))
	require.ErrorIs(t, err, ErrBudgetExceeded)

	// The file holds the mode it was created with.
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestLedgerHorizonLetsOldChargesExpire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	now := t0
	l := openLedger(t, path, Budget{Epsilon: 1.1, Delta: 1e-6, Horizon: 7 * 24 * time.Hour}, &now)
	ctx := context.Background()
	_, err := l.Debit(ctx, gaussianCharge(t, 1))
	require.NoError(t, err)
	_, err = l.Debit(ctx, gaussianCharge(t, 1))
	require.ErrorIs(t, err, ErrBudgetExceeded)
	now = t0.Add(7*24*time.Hour - time.Second)
	_, err = l.Debit(ctx, gaussianCharge(t, 1))
	require.ErrorIs(t, err, ErrBudgetExceeded, "still inside the horizon")
	now = t0.Add(7 * 24 * time.Hour)
	_, err = l.Debit(ctx, gaussianCharge(t, 1))
	require.NoError(t, err)
	s, err := l.Summary(now)
	require.NoError(t, err)
	assert.Len(t, s.Charges, 1)
	assert.Equal(t, 2, s.AllCharges)
}

// A crash after Debit and before the release is returned loses budget: the
// charge is on disk, the release never happened.
func TestLedgerCrashBetweenDebitAndRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	now := t0
	b := Budget{Epsilon: 10, Delta: 1e-6}
	l := openLedger(t, path, b, &now)
	c, err := l.Debit(context.Background(), gaussianCharge(t, 1))
	require.NoError(t, err)
	// "Crash": drop the ledger without Close and without releasing anything.
	require.NoError(t, l.f.Close())
	l.f = nil

	l2 := openLedger(t, path, b, &now)
	s, err := l2.Summary(now)
	require.NoError(t, err)
	require.Len(t, s.Charges, 1)
	assert.Equal(t, c, s.Charges[0])
	want, err := c.Cost.Epsilon(b.Delta)
	require.NoError(t, err)
	assert.Equal(t, want, s.Epsilon)
}

func TestLedgerRefusesCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	now := t0
	b := Budget{Epsilon: 10, Delta: 1e-6}
	good := filepath.Join(dir, "good")
	l := openLedger(t, good, b, &now)
	for range 3 {
		_, err := l.Debit(context.Background(), gaussianCharge(t, 1))
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	lines := bytes.SplitAfter(data, []byte("\n"))

	flip := append([]byte(nil), data...)
	flip[len(flip)-20] ^= 0x01
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"torn last record", data[:len(data)-5], "line 4: torn record"},
		{"flipped bit", flip, "line 4: checksum mismatch"},
		{"dropped middle record", bytes.Join([][]byte{lines[0], lines[1], lines[3]}, nil), "line 3: sequence number 3, want 2"},
		{"duplicated record", bytes.Join([][]byte{lines[0], lines[1], lines[1]}, nil), "line 3: sequence number 1, want 2"},
		{"not a ledger", []byte("hello\n"), "line 1: not a privrec ledger"},
		{"garbage record", append(bytes.Clone(lines[0]), "zzzzzzzz {}\n"...), "line 2: malformed checksum"},
		{"short record", append(bytes.Clone(lines[0]), "x\n"...), "line 2: malformed record"},
		{"torn header", lines[0][:20], "line 1: torn header"},
		{"edited cap", bytes.Replace(data, []byte(`"epsilon":10`), []byte(`"epsilon":99`), 1), "line 1: checksum mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			require.NoError(t, os.WriteFile(p, tc.data, 0o600))
			_, err := OpenFileLedger(p, LedgerOptions{Budget: b})
			require.ErrorIs(t, err, ErrLedgerCorrupt)
			assert.Contains(t, err.Error(), tc.want)
			_, _, err = ReadLedgerFile(p)
			require.ErrorIs(t, err, ErrLedgerCorrupt)
		})
	}
}

func TestLedgerWriteFailureStopsDebits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	now := t0
	b := Budget{Epsilon: 10, Delta: 1e-6}
	l := openLedger(t, path, b, &now)
	fsyncErr := errors.New("injected fsync failure")
	writeHook = func(f *os.File, p []byte) error {
		_, _ = f.Write(p[:len(p)/2]) // torn write, then the "fsync" fails
		return fsyncErr
	}
	_, err := l.Debit(context.Background(), gaussianCharge(t, 1))
	writeHook = nil
	require.ErrorIs(t, err, fsyncErr)
	_, err = l.Debit(context.Background(), gaussianCharge(t, 1))
	require.ErrorContains(t, err, "refuses debits after a failed write")
	require.NoError(t, l.Close())
	_, err = OpenFileLedger(path, LedgerOptions{Budget: b})
	require.ErrorIs(t, err, ErrLedgerCorrupt, "the torn record is detected, never read as nothing spent")
}

func TestLedgerIsLockedAgainstASecondOpener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	now := t0
	openLedger(t, path, Budget{Epsilon: 1, Delta: 1e-6}, &now)
	_, err := OpenFileLedger(path, LedgerOptions{Budget: Budget{Epsilon: 1, Delta: 1e-6}})
	require.ErrorContains(t, err, "in use by another process")
}

func TestLedgerRejectsBadBudgetsAndCharges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	for _, b := range []Budget{{}, {Epsilon: -1}, {Epsilon: 1, Delta: 1}, {Epsilon: 1, Horizon: -1}} {
		_, err := OpenFileLedger(path, LedgerOptions{Budget: b, Create: true})
		require.Error(t, err, "%+v", b)
	}
	now := t0
	l := openLedger(t, path, Budget{Epsilon: 1, Delta: 1e-6}, &now)
	for _, c := range []Cost{{}, {Rho: -1}, {PureEpsilon: math.Inf(1)}} {
		_, err := l.Debit(context.Background(), Charge{Cost: c})
		require.Error(t, err, "%+v", c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.Debit(ctx, gaussianCharge(t, 0.1))
	require.ErrorIs(t, err, context.Canceled)
}

func TestLedgerConcurrentDebitsNeverOverspend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	now := t0
	b := Budget{Epsilon: 2, Delta: 1e-6}
	l := openLedger(t, path, b, &now)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				_, _ = l.Debit(context.Background(), gaussianCharge(t, 0.3))
			}
		}()
	}
	wg.Wait()
	s, err := l.Summary(now)
	require.NoError(t, err)
	assert.LessOrEqual(t, s.Epsilon, b.Epsilon)
	assert.Greater(t, s.Epsilon, b.Epsilon-0.35)
}

func FuzzParseLedger(f *testing.F) {
	c := Charge{Seq: 1, Release: "r", At: t0, Cost: Cost{Rho: 0.1}, Epsilon: 1, Delta: 1e-6}
	rec, err := formatRecord(c)
	require.NoError(f, err)
	header, err := formatHeader(ledgerHeader{ID: newLedgerID(), Budget: Budget{Epsilon: 2, Delta: 1e-6, Horizon: time.Hour}})
	require.NoError(f, err)
	v1, err := formatHeader(ledgerHeader{Budget: Budget{Epsilon: 2, Delta: 1e-6}})
	require.NoError(f, err)
	f.Add(header)
	f.Add(append(v1, rec...))
	f.Add(append(bytes.Clone(header), rec...))
	f.Add(append(bytes.Clone(header), rec[:len(rec)-3]...))
	f.Add([]byte("privrec-ledger v1 00000000 {}\n00000000 {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		budget, charges, err := parseLedger(data)
		if err != nil {
			require.ErrorIs(t, err, ErrLedgerCorrupt)
			return
		}
		// Whatever parses must re-encode and parse to the same values.
		out, err := formatHeader(budget)
		require.NoError(t, err)
		for _, c := range charges {
			r, err := formatRecord(c)
			require.NoError(t, err)
			out = append(out, r...)
		}
		b2, again, err := parseLedger(out)
		require.NoError(t, err)
		assert.Equal(t, budget, b2)
		assert.Equal(t, charges, again)
	})
}

func TestLedgerStoresItsBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	now := t0
	b := Budget{Epsilon: 2, Delta: 1e-6, Horizon: time.Hour}
	l := openLedger(t, path, b, &now)
	require.NoError(t, l.Close())

	fresh := filepath.Join(t.TempDir(), "new")
	_, err := OpenFileLedger(fresh, LedgerOptions{Create: true})
	require.ErrorIs(t, err, ErrNoBudget)
	assert.NoFileExists(t, fresh, "a refused ledger leaves no file")

	same, err := OpenFileLedger(path, LedgerOptions{})
	require.NoError(t, err)
	assert.Equal(t, b, same.budget)
	require.NoError(t, same.Close())

	_, err = OpenFileLedger(path, LedgerOptions{Budget: Budget{Epsilon: 20, Delta: 1e-6, Horizon: time.Hour}})
	require.ErrorIs(t, err, ErrBudgetMismatch)
	assert.Contains(t, err.Error(), "make a new ledger to change the cap")

	got, charges, err := ReadLedgerFile(path)
	require.NoError(t, err)
	assert.Equal(t, b, got)
	assert.Empty(t, charges)
}

// TestLedgerIsCreatedOnlyWhenAsked pins issue 10's "budget reset by
// accident": opening a missing path (a typo, a deleted ledger) must not
// start a fresh budget, and Create must not overwrite a ledger.
func TestLedgerIsCreatedOnlyWhenAsked(t *testing.T) {
	dir := t.TempDir()
	b := Budget{Epsilon: 2, Delta: 1e-6}
	quiet := slog.New(slog.DiscardHandler)

	missing := filepath.Join(dir, "mistyped")
	_, err := OpenFileLedger(missing, LedgerOptions{Budget: b, Logger: quiet})
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "LedgerOptions.Create")
	assert.NoFileExists(t, missing, "opening a missing ledger must not create it")

	path := filepath.Join(dir, "ledger")
	l, err := OpenFileLedger(path, LedgerOptions{Budget: b, Create: true, Logger: quiet})
	require.NoError(t, err)
	_, err = l.Debit(context.Background(), Charge{Release: "r", Cost: Cost{PureEpsilon: 1, PureRho: 0.5}, Epsilon: 1})
	require.NoError(t, err)
	require.NoError(t, l.Close())

	_, err = OpenFileLedger(path, LedgerOptions{Budget: b, Create: true, Logger: quiet})
	require.ErrorIs(t, err, fs.ErrExist, "Create on an existing ledger must not reset it")
	_, charges, err := ReadLedgerFile(path)
	require.NoError(t, err)
	assert.Len(t, charges, 1, "the refused Create left the ledger as it was")

	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	_, err = OpenFileLedger(empty, LedgerOptions{Logger: quiet})
	require.ErrorIs(t, err, ErrLedgerCorrupt, "an empty file is not read as a fresh budget")
	l, err = OpenFileLedger(empty, LedgerOptions{Budget: b, Create: true, Logger: quiet})
	require.NoError(t, err, "Create takes over an empty file left by a crash while creating")
	require.NoError(t, l.Close())
}

// Every debit is fsync'd after its record is written and before Debit
// returns; creating a ledger syncs its header. The fault-injection tests
// replace the whole write path, so this one counts the real Sync calls.
func TestLedgerSyncsEveryRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	var synced []int // the ledger's line count at each sync
	syncFile = func(f *os.File) error {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		synced = append(synced, bytes.Count(data, []byte("\n")))
		return f.Sync()
	}
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	now := t0
	l := openLedger(t, path, Budget{Epsilon: 10, Delta: 1e-6}, &now)
	require.Equal(t, []int{1}, synced, "the header is synced when the ledger is created")
	for i := range 3 {
		_, err := l.Debit(context.Background(), gaussianCharge(t, 1))
		require.NoError(t, err)
		require.Equal(t, i+2, len(synced), "debit %d returned before its record was synced", i+1)
		assert.Equal(t, i+2, synced[i+1], "debit %d synced before its record was written", i+1)
	}
}

// A ledger written before ledgers had IDs (version 1) still opens and
// debits; its LedgerID is empty, and it stays a version 1 file.
func TestLedgerReadsVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	b := Budget{Epsilon: 2, Delta: 1e-6}
	header, err := formatHeader(ledgerHeader{Budget: b})
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(header, []byte("privrec-ledger v1 ")))
	require.NoError(t, os.WriteFile(path, header, 0o600))
	now := t0
	l := openLedger(t, path, b, &now)
	_, err = l.Debit(context.Background(), gaussianCharge(t, 1))
	require.NoError(t, err)
	s, err := l.Summary(now)
	require.NoError(t, err)
	assert.Empty(t, s.LedgerID)
	assert.Equal(t, 1, s.AllCharges)
}

// A damaged ledger is refused with one message that names the file and
// the line, matches ErrLedgerCorrupt, and says "dp:" once; a torn last
// record says how to recover.
func TestCorruptLedgerMessages(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "budget.ledger")
	l, err := OpenFileLedger(path, LedgerOptions{Budget: Budget{Epsilon: 4, Delta: 1e-5}, Create: true, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	_, err = l.Debit(context.Background(), Charge{Release: "r1", Cost: Cost{Rho: 0.01}, At: time.Now()})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	cases := []struct {
		name, data, want string
	}{
		{"torn last record", string(good) + `{"seq":2,"rel`, "line 3: torn record (no final newline): the last debit did not complete, so nothing was released for it; to recover, keep a copy of the file and delete the partial last line"},
		{"not a ledger", "hello\n", "line 1: not a privrec ledger"},
		{"empty", "", "the file is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, []byte(tc.data), 0o600))
			_, err := OpenFileLedger(path, LedgerOptions{Logger: slog.New(slog.DiscardHandler)})
			require.ErrorIs(t, err, ErrLedgerCorrupt)
			assert.Equal(t, "dp: ledger "+path+" is corrupt: ", err.Error()[:len("dp: ledger "+path+" is corrupt: ")])
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, 1, strings.Count(err.Error(), "dp:"))
			if tc.name != "empty" {
				_, _, err = ReadLedgerFile(path)
				require.ErrorIs(t, err, ErrLedgerCorrupt)
				assert.Contains(t, err.Error(), path+" is corrupt: "+tc.want)
			}
		})
	}
}
