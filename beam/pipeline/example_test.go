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
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/recommend"
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
	var events strings.Builder
	events.WriteString("user,item,time\n")
	for u := range 40 { // tea goes with cups, honey with spoons
		pair := [2]string{"tea", "cups"}
		if u >= 24 {
			pair = [2]string{"honey", "spoon"}
		}
		fmt.Fprintf(&events, "u%d,%s,2026-11-02\nu%d,%s,2026-11-03\n", u, pair[0], u, pair[1])
		if u%5 == 0 {
			fmt.Fprintf(&events, "u%d,spoon,2026-11-04\n", u)
		}
	}
	opts := pipeline.Options{
		Events:  write("events.csv", events.String(), 0o644),
		Format:  recommend.FormatCSV,
		Catalog: write("catalog.csv", "id\ntea\ncups\nhoney\nspoon\n", 0o644),
		KeyFile: write("key", hex.EncodeToString([]byte("an example secret of 32 bytes!!!")), 0o600),
		Window: recommend.Window{
			Start: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),
			End:   time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC),
		},
		Params:     dp.Params{MaxItemsPerUser: 4, HeadSize: 4},
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
	similar, _ := res.Model.Similar("tea", 2, recommend.QueryOptions{})
	for _, r := range similar.Items {
		fmt.Println(r.Item, r.Reason)
	}
	// Output:
	// accepted events: 88
	// cups context
	// spoon popular
}
