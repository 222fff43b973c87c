package release_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
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
	col, err := collect.New(cat, collect.Options{Window: w, Keep: 16, MaxClockSkew: -1, Logger: logger})
	require.NoError(t, err)
	ing, err := collect.NewIngestor(col, kr)
	require.NoError(t, err)

	evs, err := sampledata.Events()
	require.NoError(t, err)
	rawIDs := map[string]bool{}
	var pseudonyms []pseudonym.ID
	for {
		e, err := evs.Next()
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
	ledger, err := dp.OpenFileLedger(ledgerPath, dp.LedgerOptions{Budget: dp.Budget{Epsilon: 3, Delta: 1e-5}, Create: true, Logger: logger})
	require.NoError(t, err)
	defer ledger.Close()
	params := release.Options{Epsilon: 1, Delta: 1e-5, K: 16, HeadSize: 300, Logger: logger}
	model, err := release.Private(context.Background(), col, ledger, params)
	require.NoError(t, err)

	// The report's ε is the accountant's and the ledger's.
	plan, err := params.Plan(cat)
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
	assert.Equal(t, 500, rep.Contents.Items)
	assert.Equal(t, 500, model.Catalog().Len())

	modelPath := filepath.Join(dir, "model.prm")
	require.NoError(t, recommend.SaveModel(model, modelPath))
	loaded, err := recommend.LoadModel(modelPath)
	require.NoError(t, err)
	assert.Equal(t, rep, loaded.Report())

	var res recommend.Result
	require.NoError(t, loaded.Recommend(&res, recommend.Query{Context: []string{"22697", "22698"}, N: 10}))
	require.Len(t, res.Items, 10)
	for _, r := range res.Items {
		assert.Contains(t, []recommend.Reason{recommend.ReasonContext, recommend.ReasonPopular, recommend.ReasonCategory}, r.Reason)
		assert.NotContains(t, []string{"22697", "22698"}, r.Item)
	}
	require.NoError(t, loaded.Recommend(&res, recommend.Query{Context: []string{"22423"}, N: 5}))
	require.Len(t, res.Items, 5)

	// Scan every artefact.
	snapshot, err := os.ReadFile(modelPath)
	require.NoError(t, err)
	ledgerBytes, err := os.ReadFile(ledgerPath)
	require.NoError(t, err)
	repJSON, err := json.Marshal(rep)
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
