package trusttest

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// Daily windows aligned with daily key periods: each window's state is
// persisted; three are released (their files go), two are abandoned. A
// retention of two days then purges the abandoned state and the keyring
// forgets the old periods' subkeys.
func TestRetentionPurgesStateAndForgetsKeys(t *testing.T) {
	day := 24 * time.Hour
	epoch := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	kr, err := pseudonym.New(make([]byte, 32), pseudonym.Options{PeriodLength: day, Epoch: epoch})
	require.NoError(t, err)
	cat, err := recommend.NewCatalog([]recommend.Item{{ID: "a"}, {ID: "b"}, {ID: "c"}})
	require.NoError(t, err)
	dir := t.TempDir()

	var ids []pseudonym.ID
	for d := range 5 {
		start := epoch.Add(time.Duration(d) * day)
		col, err := collect.New(cat, collect.Options{
			Window: recommend.Window{Start: start, End: start.Add(day)}, Keep: 2, MaxClockSkew: -1,
			StateDir: dir, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		ing, err := collect.NewIngestor(col, kr)
		require.NoError(t, err)
		require.NoError(t, ing.Add(events.Event{UserID: "alice", Item: "a", Kind: events.KindView, Time: start.Add(time.Hour)}))
		id, err := kr.Pseudonymize(kr.Period(start), "alice")
		require.NoError(t, err)
		ids = append(ids, id)
		if d == 1 || d == 3 || d == 4 {
			_, err := release.Exact(col, release.Options{K: 2, HeadSize: 3})
			require.NoError(t, err)
		} else {
			require.NoError(t, col.Close()) // abandoned: its state stays on disk
		}
	}
	// Key periods advanced on schedule: one pseudonym per day, all different.
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			assert.NotEqual(t, ids[i], ids[j])
		}
	}
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, files, 2, "the abandoned windows 0 and 2")

	now := epoch.Add(5 * day)
	cutoff := now.Add(-2 * day) // retention: two days
	removed, err := collect.PurgeStateFiles(dir, cutoff)
	require.NoError(t, err)
	assert.Len(t, removed, 2)
	kr.Forget(kr.Period(cutoff))
	_, err = kr.Pseudonymize(kr.Period(epoch.Add(2*day)), "alice")
	require.ErrorIs(t, err, pseudonym.ErrPeriodForgotten)
	_, err = kr.Pseudonymize(kr.Period(epoch.Add(3*day)), "alice")
	require.NoError(t, err)
}
