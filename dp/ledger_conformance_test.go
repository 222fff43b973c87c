package dp_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/dp/ledgertest"
)

func TestFileLedgerConformance(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	type opened struct {
		path string
		now  func() time.Time
	}
	files := map[dp.Ledger]opened{}
	ledgertest.Run(t, ledgertest.Harness{
		New: func(t *testing.T, b dp.Budget, now func() time.Time) dp.Ledger {
			path := filepath.Join(t.TempDir(), "ledger")
			l, err := dp.OpenFileLedger(path, dp.LedgerOptions{Budget: b, Create: true, Now: now, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			files[l] = opened{path, now}
			return l
		},
		Reopen: func(t *testing.T, l dp.Ledger) dp.Ledger {
			f := files[l]
			if err := l.(*dp.FileLedger).Close(); err != nil {
				t.Fatal(err)
			}
			again, err := dp.OpenFileLedger(f.path, dp.LedgerOptions{Now: f.now, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { again.Close() })
			return again
		},
	})
}

func TestMemLedgerConformance(t *testing.T) {
	ledgertest.Run(t, ledgertest.Harness{
		New: func(t *testing.T, b dp.Budget, now func() time.Time) dp.Ledger {
			l, err := dp.NewMemLedger(b, now)
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
	})
}
