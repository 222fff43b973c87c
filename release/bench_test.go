package release_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/release"
)

// BenchmarkRelease releases the embedded Online Retail sample (4,249 users,
// 500 items, K = 16) with Gaussian noise over the 300 head items' pairs.
func BenchmarkRelease(b *testing.B) {
	quiet := slog.New(slog.DiscardHandler)
	cat, err := sampledata.Catalog()
	require.NoError(b, err)
	evs, err := sampledata.Events()
	require.NoError(b, err)
	var raw []events.Event
	for {
		e, err := evs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(b, err)
		raw = append(raw, e)
	}
	kr, err := pseudonym.New(make([]byte, 32), pseudonym.Options{PeriodLength: sampledata.KeyPeriod, Epoch: sampledata.Window.Start})
	require.NoError(b, err)
	ledger, err := dp.OpenFileLedger(filepath.Join(b.TempDir(), "ledger"), dp.LedgerOptions{
		Budget: dp.Budget{Epsilon: 1e6, Delta: 0.5}, Create: true, Logger: quiet})
	require.NoError(b, err)
	defer ledger.Close()
	params := release.Options{Epsilon: 1, Delta: 1e-5, K: 16, HeadSize: 300, Logger: quiet}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		col, err := collect.New(cat, collect.Options{Window: sampledata.Window, MaxClockSkew: -1, Logger: quiet,
			Now: func() time.Time { return sampledata.Window.End }})
		require.NoError(b, err)
		ing, err := collect.NewIngestor(col, kr)
		require.NoError(b, err)
		for _, e := range raw {
			require.NoError(b, ing.Add(e))
		}
		b.StartTimer()
		_, err = release.Private(context.Background(), col, ledger, params)
		require.NoError(b, err)
	}
}
