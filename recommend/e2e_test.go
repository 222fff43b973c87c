package recommend_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndToEnd goes raw events → pseudonyms → release → snapshot → reload →
// recommendations on the embedded Online Retail sample, and checks that no
// raw user ID, pseudonym or key material appears in the snapshot, the
// ledger, the report or the debug-level logs.
func TestEndToEnd(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(prev) })

	secret := bytes.Repeat([]byte{0x5e, 0xc7}, 16)
	w := sampledata.Window
	kr, err := pseudonym.New(secret, pseudonym.Options{PeriodLength: sampledata.KeyPeriod, Epoch: w.Start})
	require.NoError(t, err)
	cat, err := sampledata.Catalog()
	require.NoError(t, err)
	col, err := recommend.NewCollector(cat, recommend.CollectorOptions{Window: w, MaxItemsPerUser: 16, MaxClockSkew: -1, Logger: logger})
	require.NoError(t, err)
	ing, err := recommend.NewIngestor(col, kr)
	require.NoError(t, err)

	events, err := sampledata.Events()
	require.NoError(t, err)
	rawIDs := map[string]bool{}
	var pseudonyms []pseudonym.ID
	for {
		e, err := events.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		e.UserID = "customer#" + e.UserID // distinctive, so a match cannot be a coincidence
		if !rawIDs[e.UserID] {
			rawIDs[e.UserID] = true
			id, err := kr.Pseudonymize(kr.Period(w.Start), e.UserID)
			require.NoError(t, err)
			pseudonyms = append(pseudonyms, id)
		}
		require.NoError(t, ing.Add(e))
	}
	require.Greater(t, len(rawIDs), 4000)

	dir := t.TempDir()
	ledgerPath := filepath.Join(dir, "ledger")
	ledger, err := dp.OpenFileLedger(ledgerPath, dp.LedgerOptions{Budget: dp.Budget{Epsilon: 3, Delta: 1e-5}, Logger: logger})
	require.NoError(t, err)
	defer ledger.Close()
	params := dp.Params{Epsilon: 1, Delta: 1e-5, MaxItemsPerUser: 16, HeadSize: 300}
	model, err := col.Release(context.Background(), ledger, params)
	require.NoError(t, err)

	// The report's ε is the accountant's and the ledger's.
	plan, err := dp.NewPlan(params)
	require.NoError(t, err)
	rep := model.Report()
	assert.True(t, rep.Privacy.DifferentiallyPrivate)
	assert.Equal(t, plan.Epsilon, rep.Privacy.Epsilon)
	assert.Equal(t, plan.Cost.Rho, rep.Privacy.Rho)
	assert.LessOrEqual(t, rep.Privacy.Epsilon, params.Epsilon)
	sum, err := ledger.Summary(rep.CreatedAt)
	require.NoError(t, err)
	require.Len(t, sum.Charges, 1)
	assert.Equal(t, plan.Epsilon, sum.Charges[0].Epsilon)
	assert.Equal(t, plan.Cost, sum.Charges[0].Cost)
	require.NotNil(t, rep.Ledger)
	assert.Equal(t, sum.Epsilon, rep.Ledger.EpsilonSpent)
	assert.Equal(t, 500, rep.Released.Items)
	assert.Equal(t, model.NeighborCount(), rep.Released.Neighbors)

	modelPath := filepath.Join(dir, "model.prm")
	require.NoError(t, recommend.SaveModel(model, modelPath))
	loaded, err := recommend.LoadModel(modelPath)
	require.NoError(t, err)
	assert.Equal(t, rep, loaded.Report())

	res, err := loaded.ForContext([]string{"22697", "22698"}, 10, recommend.QueryOptions{})
	require.NoError(t, err)
	require.Len(t, res.Items, 10)
	for _, r := range res.Items {
		assert.Contains(t, []recommend.Reason{recommend.ReasonContext, recommend.ReasonPopular}, r.Reason)
		assert.NotContains(t, []string{"22697", "22698"}, r.Item)
	}
	sim, err := loaded.Similar("22423", 5, recommend.QueryOptions{})
	require.NoError(t, err)
	require.Len(t, sim.Items, 5)

	// Scan every artefact.
	snapshot, err := os.ReadFile(modelPath)
	require.NoError(t, err)
	ledgerBytes, err := os.ReadFile(ledgerPath)
	require.NoError(t, err)
	repJSON, err := rep.JSON()
	require.NoError(t, err)
	artefacts := map[string][]byte{
		"snapshot": snapshot, "ledger": ledgerBytes, "report json": repJSON,
		"report markdown": []byte(rep.Markdown()), "logs": logs.Bytes(),
	}
	require.Contains(t, logs.String(), "budget debited", "the logs were captured")
	forbidden := [][]byte{[]byte("customer#"), secret, []byte(hex.EncodeToString(secret))}
	for _, id := range pseudonyms {
		forbidden = append(forbidden, id[:], []byte(hex.EncodeToString(id[:])))
	}
	for name, data := range artefacts {
		for _, f := range forbidden {
			require.False(t, bytes.Contains(data, f), "%s contains forbidden bytes %q", name, f)
		}
	}
}
