package pipeline_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/privrec/privrec/beam/pipeline"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// Release runs a window's release on Beam's in-process prism runner. A
// real deployment points Events, Catalog and TempDir at a shared filesystem
// (gs://, s3://) and passes --runner and its flags to the binary.
func ExampleRelease() {
	dir, _ := os.MkdirTemp("", "privrec-beam-example")
	defer os.RemoveAll(dir)
	write := func(name, text string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		_ = os.WriteFile(path, []byte(text), mode)
		return path
	}
	var lines strings.Builder
	lines.WriteString("user,item,time\n")
	for u := range 40 { // tea goes with cups, honey with spoons
		pair := [2]string{"tea", "cups"}
		if u >= 24 {
			pair = [2]string{"honey", "spoon"}
		}
		fmt.Fprintf(&lines, "u%d,%s,2026-11-02\nu%d,%s,2026-11-03\n", u, pair[0], u, pair[1])
		if u%5 == 0 {
			fmt.Fprintf(&lines, "u%d,spoon,2026-11-04\n", u)
		}
	}
	opts := pipeline.Options{
		Events:  write("events.csv", lines.String(), 0o644),
		Format:  events.FormatCSV,
		Catalog: write("catalog.csv", "id\ntea\ncups\nhoney\nspoon\n", 0o644),
		KeyFile: write("key", hex.EncodeToString([]byte("an example secret of 32 bytes!!!")), 0o600),
		Window: recommend.Window{
			Start: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),
			End:   time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC),
		},
		Release:    release.Options{K: 4, HeadSize: 4, Mechanisms: release.Popularity | release.Pairs},
		TempDir:    filepath.Join(dir, "tmp"),
		NonPrivate: true, // exact counts, so that the output is stable; drop it (and pass a ledger) in production
		Logger:     slog.New(slog.DiscardHandler),
	}
	res, err := pipeline.Release(context.Background(), nil, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("accepted events:", res.Stats.Accepted)
	var similar recommend.Result
	_ = res.Model.Recommend(&similar, recommend.Query{Context: []string{"tea"}, N: 2})
	for _, r := range similar.Items {
		fmt.Println(r.Item, r.Reason)
	}
	// Output:
	// accepted events: 88
	// cups context
	// spoon popular
}
