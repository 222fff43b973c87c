//go:build ignore

// Mutants applies, one at a time, deliberate bugs in privrec's privacy and
// safety code, and checks that a test catches each: a change that blinds
// a test shows up here as a surviving mutant. Run from the repository
// root: go run .ci/mutants.go (CI does; a few minutes), or go run
// .ci/mutants.go WORD for the mutants whose name contains WORD. Every mutant names
// the exact text it replaces, so a mutant that no longer applies fails the
// run too: update the list with the code.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"
)

// A mutant replaces old by new in file (exactly one occurrence); go test
// -run tests in pkg must then fail.
type mutant struct {
	name, file, old, new, pkg, tests string
}

// also holds the second replacement of the mutants that need one.
var also = map[string][2]string{
	"δ cap relaxed by 50%":            {"\tif s.Total.Delta > b.Delta {\n\t\treturn fmt.Errorf(", "\tif s.Total.Delta > 1.5*b.Delta {\n\t\treturn fmt.Errorf("},
	"pseudonym in a log line, base64": {"import (\n", "import (\n\t\"encoding/base64\"\n\t\"log/slog\"\n"},
}

var mutants = []mutant{
	{"noise skips zero counts", "release/counter.go",
		"\t\tfor i, x := range sums {\n\t\t\ty, err := c.Noisy(int64(x))",
		"\t\tfor i, x := range sums {\n\t\t\tif x == 0 {\n\t\t\t\tcontinue\n\t\t\t}\n\t\t\ty, err := c.Noisy(int64(x))",
		"./release", "TestEveryReleasedValueCarriesNoise"},
	{"category user count left exact", "release/categories.go",
		"noisyUsers, err := ctr.Noisy(users)", "noisyUsers, err := users, error(nil)",
		"./release", "TestEveryReleasedValueCarriesNoise"},
	{"pair sensitivity K(K-1)/4", "release/options.go",
		"return int64(k) * int64(k-1) / 2", "return int64(k) * int64(k-1) / 4",
		"./release", "TestPlanParts"},
	{"pair decoys not mirrored below σ = 1", "release/pairs.go",
		"\tif sigma > 0 && sigma < 1 && !universal {\n\t\tscore = func", "\tif false {\n\t\tscore = func",
		"./release", "TestNoEvidenceFromSkewedSampling"},
	{"release keeps the window state", "release/release.go",
		"\tdefer st.Wipe()\n\tif tookState != nil {\n\t\ttookState(st)\n\t}\n\to.Logger",
		"\tif tookState != nil {\n\t\ttookState(st)\n\t}\n\to.Logger",
		"./release", "TestReleasesWipeTheState"},
	{"Wipe leaves overflow lists", "collect/users.go",
		"\t\tclear(o)\n", "\t\t_ = o\n",
		"./collect", "TestWipeZeroesOverflowLists"},
	{"Wipe leaves the user entries (pseudonyms)", "collect/users.go",
		"\tclear(st.users.entries)\n", "",
		"./collect", "TestCollectorTakeLifecycle"},
	{"the user table's growth leaves pseudonyms behind", "collect/users.go",
		"\tclear(old)\n", "",
		"./collect", "TestUserTableGrowZeroesOldEntries"},
	{"Forget leaves a person's items in memory", "collect/collector.go",
		"\t\tclear(s.itemsOf(u, c.inline))\n", "",
		"./collect", "TestForgetReusesZeroedStorage"},
	{"AddBatch leaves pseudonyms in its pool", "collect/ingest.go",
		"\tclear(b.ev) // pseudonyms do not wait in the pool\n\tclear(b.byShard)\n", "",
		"./collect", "TestAddBatchLeavesNoPseudonymInItsPool"},
	{"a failed batched state-file write still changes memory", "collect/batch.go",
		"\t\t\tb.errs[ch.ev.pos] = err\n\t\t}\n\t\treturn\n", "\t\t\tb.errs[ch.ev.pos] = err\n\t\t}\n",
		"./collect", "TestAddBatchPersistFailureChangesNothing"},
	{"AddBatch reports a refusal against the wrong event", "collect/batch.go",
		"b.errs[evs[i].pos] = c.addLocked", "b.errs[i] = c.addLocked",
		"./collect", "TestAddBatch"},
	{"AddBatch takes its shard locks in decreasing order", "collect/batch.go",
		"\tfor si := range numShards {\n\t\tif b.start[si+1] > b.start[si] {", "\tfor si := numShards - 1; si >= 0; si-- {\n\t\tif b.start[si+1] > b.start[si] {",
		"./collect", "TestAddBatchAndLockAllDoNotDeadlock"},
	{"bottom-K keeps one item too many", "collect/collector.go",
		"\tif n < c.k {\n\t\treturn n, false", "\tif n < c.k+1 {\n\t\treturn n, false",
		"./collect", "TestCollector"},
	{"leftover temporary state kept", "collect/persist.go",
		"\tif err := removeTemps(path); err != nil {\n\t\treturn err\n\t}\n", "",
		"./collect", "TestOpenRemovesLeftoverTemporaryFiles"},
	{"purge misses temporary state", "collect/persist.go",
		"e.Name() != base && !strings.HasPrefix(e.Name(), base+tempSuffix)", "e.Name() != base",
		"./collect", "TestPurgeStateFiles"},
	{"pseudonym in a log line, base64", "collect/ingest.go",
		"\tid, err := in.kr.Pseudonymize(in.period, e.UserID)\n\tif err != nil {\n\t\treturn pseudonym.ID{}, 0, err\n\t}\n\treturn id, idx, nil",
		"\tid, err := in.kr.Pseudonymize(in.period, e.UserID)\n\tif err != nil {\n\t\treturn pseudonym.ID{}, 0, err\n\t}\n\tif idx%97 == 0 {\n\t\tslog.Debug(\"admitted\", \"subject\", base64.StdEncoding.EncodeToString(id[:]))\n\t}\n\treturn id, idx, nil",
		"./internal/trusttest", "TestNoIdentifierOrKeyInAnyArtefact"},
	{"ledger fsync removed", "dp/fileledger.go",
		"\treturn syncFile(f)\n}", "\treturn nil\n}",
		"./dp", "TestLedgerSyncsEveryRecord"},
	{"ε cap relaxed by 0.5%", "dp/ledger.go",
		"s.Epsilon > b.Epsilon*(1+1e-12)", "s.Epsilon > b.Epsilon*1.005",
		"./dp", "Conformance"},
	{"δ cap relaxed by 50%", "dp/ledger.go",
		"\tif s.Total.Delta > b.Delta {\n\t\ts.Epsilon = math.Inf(1)", "\tif s.Total.Delta > 1.5*b.Delta {\n\t\ts.Epsilon = math.Inf(1)",
		"./dp", "Conformance"},
	{"noise calibrated for 4ε (σ about a quarter)", "dp/counter.go",
		"y, err := c.nz.AddNoiseFloat64(x, c.l0, c.lInf, c.eps, c.delta)", "y, err := c.nz.AddNoiseFloat64(x, c.l0, c.lInf, 4*c.eps, c.delta)",
		"./dp", "TestNoiseHasPromisedStandardDeviation"},
	{"a person's repeated item counted twice", "collect/collector.go",
		"\t\tif it == idx {\n\t\t\treturn 0, true\n\t\t}", "\t\tif false && it == idx {\n\t\t\treturn 0, true\n\t\t}",
		"./collect", "TestCollector"},
	{"caller dates the charge", "dp/ledger.go",
		"\tc.At = now.UTC()\n\treturn nil", "\tif c.At.IsZero() {\n\t\tc.At = now\n\t}\n\tc.At = c.At.UTC()\n\treturn nil",
		"./dp", "Conformance"},
	{"ledger created on open", "dp/fileledger.go",
		"\tif opts.Create {\n\t\tflags |= os.O_CREATE\n\t}", "\tflags |= os.O_CREATE",
		"./dp", "TestLedgerIsCreatedOnlyWhenAsked"},
	{"restored ledger accepted", "internal/continuity/continuity.go",
		"if prev.Seq > uint64(s.AllCharges) {", "if false && prev.Seq > uint64(s.AllCharges) {",
		"./internal/cli", "TestBuildRefusesALedgerBehindThePreviousModel"},
	{"secret not zeroed at Close", "pseudonym/keyring.go",
		"\tclear(s.secret)\n\ts.secret = nil", "\ts.secret = nil",
		"./pseudonym", "TestCloseZeroesTheSecret"},
	{"subkey kept after keying", "pseudonym/keyring.go",
		"hmac.New(sha256.New, key).(hash.Cloner)\n\tclear(key)", "hmac.New(sha256.New, key).(hash.Cloner)\n\t_ = key",
		"./pseudonym", "TestMacPoolZeroesTheSubkey"},
	{"secret left in the environment", "pseudonym/keyring.go",
		"if err := os.Unsetenv(name); err != nil {", "if err := error(nil); err != nil {",
		"./pseudonym", "TestFromEnv"},
	{"key file owner ignored", "pseudonym/owner_unix.go",
		"if uid := os.Geteuid(); int(st.Uid) != uid && st.Uid != 0 {", "if uid := os.Geteuid(); false && int(st.Uid) != uid {",
		"./pseudonym", "TestCheckOwner"},
	{"ingest acknowledges before fsync", "httpapi/ingest/ingest.go",
		"if s, ok := sink.(Syncer); ok && !opts.NoSync && resp.Accepted > 0 {", "if s, ok := sink.(Syncer); ok && false {",
		"./httpapi/ingest", "TestIngestSyncsBeforeAcknowledging"},
	{"Kafka offsets committed before the events are durable", "kafka/consumer.go",
		"\tif s, ok := c.sink.(Syncer); ok && accepted > 0 {\n\t\tif err := s.Sync(); err != nil {",
		"\tif err := c.cl.CommitRecords(ctx, records...); err != nil {\n\t\treturn err\n\t}\n\tif s, ok := c.sink.(Syncer); ok && accepted > 0 {\n\t\tif err := s.Sync(); err != nil {",
		"./kafka", "TestConsumerDoesNotCommitWhatIsNotDurable"},
	{"Beam pair counts left without noise", "beam/pipeline/transforms.go",
		"c := noiseConfig{Private: v.private, Catalog: v.opts.Catalog}", "c := noiseConfig{Private: false, Catalog: v.opts.Catalog}",
		"./beam/pipeline", "TestEveryCountCarriesThePlansNoise"},
	{"Beam drops a bundle's partial bottom-K sets when it flushes early", "beam/pipeline/transforms.go",
		"\t\t\t\tf.flush(emit)\n\t\t\t}\n\t\t\tf.partial[id]", "\t\t\t\tclear(f.partial)\n\t\t\t}\n\t\t\tf.partial[id]",
		"./beam/pipeline", "TestAdmitFlushingChangesNoKeptItem"},
	{"Beam counts a bundle's pairs twice", "beam/pipeline/transforms.go",
		"\t\temit(k, c)\n\t}\n\tclear(f.counts)\n", "\t\temit(k, c)\n\t}\n",
		"./beam/pipeline", "TestHeadPairsFlushingKeepsExactCounts"},
	{"privrec run charges a window twice after a crash", "internal/service/service.go",
		"\tif s.charged(w) {", "\tif false && s.charged(w) {",
		"./internal/service", "TestChargedWindowIsNotChargedAgain"},
	{"privrec run keeps old key periods' subkeys", "internal/service/service.go",
		"\ts.forgetKeys()\n", "",
		"./internal/service", "TestOldKeyPeriodsForgotten"},
	{"privrec run keeps expired window state", "internal/service/service.go",
		"collect.PurgeStateFiles(s.opts.StateDir, cutoff)", "[]string(nil), error(nil)",
		"./internal/service", "TestRefusedReleaseKeepsStateUntilRetention"},
	{"privrec run windows span key periods", "internal/service/service.go",
		"End: ws.Add(s.opts.Window)}", "End: ws.Add(s.opts.Window + time.Minute)}",
		"./internal/service", "TestWindowsTileKeyPeriods"},
	{"privrec run keeps window state in memory only", "internal/service/service.go",
		"Logger: s.log, StateDir: s.opts.StateDir,", "Logger: s.log,",
		"./internal/cli", "TestRunSurvivesSIGKILL"},
	{"explanation drops a context item", "recommend/run.go",
		"\t\tt[2], t[1] = t[1], c", "\t\tt[1] = c",
		"./recommend", "TestRecommendMatchesBruteForce"},
}

func main() {
	// Restore the file being mutated if the run is interrupted.
	var restore func()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	go func() {
		<-sig
		if restore != nil {
			restore()
		}
		os.Exit(2)
	}()
	// An argument runs only the mutants whose name contains it.
	if len(os.Args) > 1 {
		var some []mutant
		for _, m := range mutants {
			if strings.Contains(m.name, os.Args[1]) {
				some = append(some, m)
			}
		}
		mutants = some
	}
	survived, stale := 0, 0
	for _, m := range mutants {
		orig, err := os.ReadFile(m.file)
		if err != nil {
			fmt.Printf("STALE    %s: %v\n", m.name, err)
			stale++
			continue
		}
		if n := bytes.Count(orig, []byte(m.old)); n != 1 {
			fmt.Printf("STALE    %s: %q occurs %d times in %s\n", m.name, m.old, n, m.file)
			stale++
			continue
		}
		mutated := bytes.Replace(orig, []byte(m.old), []byte(m.new), 1)
		if a, ok := also[m.name]; ok {
			if n := bytes.Count(mutated, []byte(a[0])); n != 1 {
				fmt.Printf("STALE    %s: %q occurs %d times in %s\n", m.name, a[0], n, m.file)
				stale++
				continue
			}
			mutated = bytes.Replace(mutated, []byte(a[0]), []byte(a[1]), 1)
		}
		restore = func() { os.WriteFile(m.file, orig, 0o644) }
		if err := os.WriteFile(m.file, mutated, 0o644); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		start := time.Now()
		// The Beam and Kafka modules are their own modules: test them from
		// their directories.
		cmd := exec.Command("go", "test", "-count=1", "-run", m.tests, m.pkg)
		for _, mod := range []string{"beam", "kafka"} {
			if m.pkg == "./"+mod || strings.HasPrefix(m.pkg, "./"+mod+"/") {
				cmd = exec.Command("go", "test", "-count=1", "-run", m.tests, "."+strings.TrimPrefix(m.pkg, "./"+mod))
				cmd.Dir = mod
			}
		}
		out, err := cmd.CombinedOutput()
		restore()
		restore = nil
		switch {
		case err == nil:
			fmt.Printf("SURVIVED %s (%s, %s): no test failed\n", m.name, m.pkg, m.tests)
			survived++
		case bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]")):
			fmt.Printf("STALE    %s: the mutant does not compile:\n%s\n", m.name, out)
			stale++
		default:
			fmt.Printf("caught   %s (%s, %.0fs)\n", m.name, m.tests, time.Since(start).Seconds())
		}
	}
	fmt.Printf("%d mutants: %d caught, %d survived, %d stale\n", len(mutants), len(mutants)-survived-stale, survived, stale)
	if survived+stale > 0 {
		os.Exit(1)
	}
}
