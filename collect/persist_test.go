package collect

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

func persistentCollector(t testing.TB, cat *recommend.Catalog, dir string, k int) *Collector {
	t.Helper()
	c, err := New(cat, Options{Window: testWindow, Keep: k, Now: testNow, StateDir: dir,
		SampleKey: [16]byte{1, 2, 3}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return c
}

// streamEvents is a deterministic event stream: 300 users with up to 12
// items each, many repeated, so bounding and duplicates both happen.
func streamEvents() []Event {
	rng := rand.New(rand.NewPCG(3, 4))
	var evs []Event
	for range 6000 {
		u := rng.IntN(300)
		evs = append(evs, Event{Subject: sid(u), Item: fmt.Sprintf("i%02d", (u+rng.IntN(12))%20), Kind: events.KindView, Time: testStart.Add(time.Hour)})
	}
	return evs
}

func TestStateFileSurvivesRestart(t *testing.T) {
	cat := testCatalog(t)
	dir := t.TempDir()
	evs := streamEvents()

	ref := testCollector(t, cat, 4)
	for _, e := range evs {
		require.NoError(t, ref.Add(e))
	}

	a := persistentCollector(t, cat, dir, 4)
	for _, e := range evs[:3000] {
		require.NoError(t, a.Add(e))
	}
	require.NoError(t, a.Sync())
	// "Crash": the process goes away without releasing; a new one starts.
	b := persistentCollector(t, cat, dir, 4)
	for _, e := range evs[3000:] {
		require.NoError(t, b.Add(e))
	}
	sameState(t, state(ref), state(b))

	// A torn last record is dropped and the file stays appendable.
	path := stateFile(dir, testWindow)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{1, 2, 3, 4, 5})
	require.NoError(t, err)
	require.NoError(t, f.Close())
	c := persistentCollector(t, cat, dir, 4)
	sameState(t, state(b), state(c))
	require.NoError(t, c.Add(Event{Subject: sid(999), Item: "i01", Kind: events.KindView, Time: testStart}))
	d := persistentCollector(t, cat, dir, 4)
	sameState(t, state(c), state(d))

	// Take (the release) deletes the file.
	st, err := d.Take(nil)
	require.NoError(t, err)
	st.Wipe()
	_, err = os.Stat(path)
	assert.True(t, os.IsNotExist(err))
}

// sameState compares two states without printing them (they are large).
func sameState(t testing.TB, want, got map[pseudonym.ID][]string) {
	t.Helper()
	missing, differ := 0, 0
	for id, items := range want {
		g, ok := got[id]
		switch {
		case !ok:
			missing++
		case !slices.Equal(items, g):
			differ++
		}
	}
	assert.True(t, missing == 0 && differ == 0 && len(want) == len(got),
		"states differ: %d users want, %d got, %d missing, %d with other items", len(want), len(got), missing, differ)
}

func TestStateFileRefusesDamageAndMismatches(t *testing.T) {
	cat := testCatalog(t)
	dir := t.TempDir()
	a := persistentCollector(t, cat, dir, 4)
	for _, e := range streamEvents()[:500] {
		require.NoError(t, a.Add(e))
	}
	require.NoError(t, a.Close())
	path := stateFile(dir, testWindow)
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	nl := bytes.IndexByte(good, '\n')

	corrupt := bytes.Clone(good)
	corrupt[nl+1+stateRecordLen+3] ^= 0xff // the second record
	badIndex := bytes.Clone(good)
	var rec [stateRecordLen]byte
	encodeRecord(&rec, sid(1), 0xffff) // a valid record naming an item the catalog lacks
	copy(badIndex[nl+1:], rec[:])
	cases := []struct {
		name string
		data []byte
		opts func(*Options)
		want string
	}{
		{"corrupt record", corrupt, nil, "record 2 fails its checksum"},
		{"bad header", append([]byte("hello\n"), good[nl+1:]...), nil, "bad header"},
		{"other Keep", good, func(o *Options) { o.Keep = 5 }, "another window, Keep or catalog"},
		{"other key", good, func(o *Options) { o.SampleKey = [16]byte{9} }, "another SampleKey"},
		{"item out of range", badIndex, nil, "record 1: item index out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, tc.data, 0o600))
			opts := Options{Window: testWindow, Keep: 4, StateDir: dir}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			_, err := New(cat, opts)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestForgetRemovesRecordsFromDisk(t *testing.T) {
	cat := testCatalog(t)
	dir := t.TempDir()
	c := persistentCollector(t, cat, dir, 4)
	for u := range 5 {
		require.NoError(t, c.Add(Event{Subject: sid(u), Item: "i03", Kind: events.KindView, Time: testStart}))
	}
	target := sid(2)
	data, err := os.ReadFile(stateFile(dir, testWindow))
	require.NoError(t, err)
	require.True(t, bytes.Contains(data, target[:]))
	forgot, err := c.Forget(target)
	require.NoError(t, err)
	require.True(t, forgot)
	data, err = os.ReadFile(stateFile(dir, testWindow))
	require.NoError(t, err)
	assert.False(t, bytes.Contains(data, target[:]), "the forgotten pseudonym is gone from the file")
	require.NoError(t, c.Add(Event{Subject: sid(7), Item: "i04", Kind: events.KindView, Time: testStart}))
	again := persistentCollector(t, cat, dir, 4)
	sameState(t, state(c), state(again))
	assert.Len(t, state(again), 5)
}

func TestPurgeStateFiles(t *testing.T) {
	dir := t.TempDir()
	day := 24 * time.Hour
	for d := range 5 {
		w := recommend.Window{Start: testStart.Add(time.Duration(d) * day), End: testStart.Add(time.Duration(d+1) * day)}
		require.NoError(t, os.WriteFile(stateFile(dir, w), []byte("x"), 0o600))
		// A rewrite killed before its rename leaves a temporary file, which
		// holds pseudonyms too.
		require.NoError(t, os.WriteFile(stateFile(dir, w)+tempSuffix+"123", []byte("x"), 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.txt"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "window-1-2.statement"), []byte("x"), 0o600))
	// Retention of two days at testStart+5d: windows that ended by +3d go.
	removed, err := PurgeStateFiles(dir, testStart.Add(3*day))
	require.NoError(t, err)
	assert.Len(t, removed, 6, "three windows' state files and their leftover temporary files")
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, left, 6, "two recent windows with their temporary files, and the unrelated files")
}

// A collector opening its window removes the temporary files of rewrites
// that were killed before their rename, and keeps other windows' files.
func TestOpenRemovesLeftoverTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	c := persistentCollector(t, testCatalog(t), dir, 4)
	require.NoError(t, c.Close())
	mine := stateFile(dir, testWindow) + tempSuffix + "42"
	other := stateFile(dir, recommend.Window{Start: testStart.Add(-time.Hour), End: testStart}) + tempSuffix + "42"
	for _, p := range []string{mine, other} {
		require.NoError(t, os.WriteFile(p, []byte("pseudonyms"), 0o600))
	}
	c = persistentCollector(t, testCatalog(t), dir, 4)
	t.Cleanup(func() { c.Close() })
	assert.NoFileExists(t, mine)
	assert.FileExists(t, other)
}

// TestStateKillHelper is the child of TestStateSurvivesSIGKILL: it replays
// the window's state file, adds events from index PRIVREC_STATE_FROM on, and
// acknowledges each accepted one on stdout.
func TestStateKillHelper(t *testing.T) {
	dir := os.Getenv("PRIVREC_STATE_HELPER")
	if dir == "" {
		t.Skip("helper process for TestStateSurvivesSIGKILL")
	}
	from, _ := strconv.Atoi(os.Getenv("PRIVREC_STATE_FROM"))
	c := persistentCollector(t, testCatalog(t), dir, 4)
	w := bufio.NewWriter(os.Stdout)
	for i, e := range streamEvents()[from:] {
		if err := c.Add(e); err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		fmt.Fprintln(w, "ack", from+i)
		if i%50 == 0 {
			w.Flush()
		}
	}
	w.Flush()
	fmt.Println("done")
}

// TestStateSurvivesSIGKILL streams events into a child process that is
// killed at random points and restarted from the first unacknowledged event;
// at the end the state equals that of a collector that saw every event once,
// with no crash.
func TestStateSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	cat := testCatalog(t)
	dir := t.TempDir()
	evs := streamEvents()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	next, kills := 0, 0
	for attempt := 0; next < len(evs) && attempt < 50; attempt++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStateKillHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "PRIVREC_STATE_HELPER="+dir, "PRIVREC_STATE_FROM="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		killAfter := 50 + rng.IntN(600)
		if attempt >= 20 {
			killAfter = len(evs) // let it finish
		}
		lines := bufio.NewScanner(out)
		seen := 0
		for lines.Scan() {
			line := lines.Text()
			if n, ok := strings.CutPrefix(line, "ack "); ok {
				v, _ := strconv.Atoi(n)
				next = v + 1
				if seen++; seen >= killAfter {
					require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
					kills++
					break
				}
			} else if line == "done" {
				next = len(evs)
			} else if strings.HasPrefix(line, "error:") {
				t.Fatalf("child: %s", line)
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
	}
	require.Equal(t, len(evs), next, "the stream was not completed")
	require.Positive(t, kills)

	got := persistentCollector(t, cat, dir, 4)
	ref := testCollector(t, cat, 4) // the same events, once, no crash, same sample key
	for _, e := range evs {
		require.NoError(t, ref.Add(e))
	}
	sameState(t, state(ref), state(got))
	t.Logf("%d kills; every acknowledged event counted exactly once", kills)
	st, err := got.Take(nil)
	require.NoError(t, err)
	st.Wipe()
}

// FuzzWindowState feeds arbitrary bytes to the state-file replay: it must
// return an error or a consistent collector, never panic, and whatever it
// accepts must survive a rewrite and a second replay unchanged.
func FuzzWindowState(f *testing.F) {
	cat := testCatalog(f)
	seedDir := f.TempDir()
	c := persistentCollector(f, cat, seedDir, 4)
	for _, e := range streamEvents()[:40] {
		require.NoError(f, c.Add(e))
	}
	good, err := os.ReadFile(stateFile(seedDir, testWindow))
	require.NoError(f, err)
	f.Add(good)
	f.Add(good[:len(good)-7])
	f.Add([]byte(c.stateHeader()))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(stateFile(dir, testWindow), data, 0o600))
		got, err := New(cat, Options{Window: testWindow, Keep: 4, StateDir: dir, SampleKey: [16]byte{1, 2, 3}})
		if err != nil {
			return
		}
		for _, items := range state(got) {
			require.LessOrEqual(t, len(items), 4)
		}
		require.NoError(t, got.compact())
		again, err := New(cat, Options{Window: testWindow, Keep: 4, StateDir: dir, SampleKey: [16]byte{1, 2, 3}})
		require.NoError(t, err)
		sameState(t, state(got), state(again))
	})
}
