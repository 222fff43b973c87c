package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/recommend"
)

// serve answers while the model file is replaced, then serves the new model,
// without a failed request.
func TestServeReloadsModelWithoutDroppingRequests(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.prm")
	src, err := os.ReadFile(filepath.Join("testdata", "model.prm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, src, 0o644))
	first, err := recommend.LoadModel(path)
	require.NoError(t, err)

	// A second model: the same snapshot with a different release ID.
	b := sampleFiles(t)
	code, _, stderr := privrec(t, buildArgs(b, "--quiet")...)
	require.Equal(t, 0, code, stderr)
	second, err := recommend.LoadModel(filepath.Join(b, "model.prm"))
	require.NoError(t, err)
	require.NotEqual(t, first.Report().ReleaseID, second.Report().ReleaseID)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	a := &app{stdout: io.Discard, stderr: io.Discard}
	go func() {
		rec := new(atomic.Pointer[recommend.Model])
		rec.Store(first)
		done <- serve(ctx, ln, rec, path, -1, slog.New(slog.DiscardHandler), a) // file-system events only

	}()
	url := "http://" + ln.Addr().String()

	release := func() (string, bool) {
		resp, err := http.Post(url+"/v1/recommend", "application/json", strings.NewReader(`{"context":["22697"],"n":3}`))
		if err != nil {
			return "", false
		}
		defer resp.Body.Close()
		var out struct {
			Items   []json.RawMessage `json:"items"`
			Release string            `json:"release"`
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil || len(out.Items) != 3 {
			return "", false
		}
		return out.Release, true
	}
	require.Eventually(t, func() bool { r, ok := release(); return ok && r == first.Report().ReleaseID }, 5*time.Second, 10*time.Millisecond)

	var failed, total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				total.Add(1)
				if _, ok := release(); !ok {
					failed.Add(1)
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, recommend.SaveModel(second, path)) // atomic rename, as build does
	assert.Eventually(t, func() bool { r, _ := release(); return r == second.Report().ReleaseID }, 5*time.Second, 10*time.Millisecond)

	// A corrupt file is ignored; the current model keeps serving.
	require.NoError(t, os.WriteFile(path+".tmp", []byte("garbage"), 0o644))
	require.NoError(t, os.Rename(path+".tmp", path))
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	r, ok := release()
	assert.True(t, ok)
	assert.Equal(t, second.Report().ReleaseID, r)
	assert.Zero(t, failed.Load(), "of %d requests", total.Load())

	// /metrics is client_golang's, with the reloads (the corrupt file's
	// failure is counted once it has settled) and the requests.
	scrape := func() string {
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	require.Eventually(t, func() bool { return strings.Contains(scrape(), `privrec_model_reloads_total{result="failed"} 1`) }, 10*time.Second, 10*time.Millisecond)
	body := scrape()
	for _, want := range []string{"go_goroutines ", "process_cpu_seconds_total ", `privrec_model_reloads_total{result="ok"} 1`,
		`privrec_http_requests_total{code="200",route="/v1/recommend"}`} {
		assert.Contains(t, body, want)
	}
	resp, err := http.Get(url + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	cancel()
	require.NoError(t, <-done)
}

// build reads the Online Retail format directly, skipping cancellations and
// lines without a customer, and derives the catalog (with names) from it.
func TestBuildOnlineRetailWithoutCatalog(t *testing.T) {
	dir := sampleFiles(t)
	var sb strings.Builder
	sb.WriteString("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
	items := []struct{ code, name string }{{"22697", "GREEN REGENCY TEACUP AND SAUCER"}, {"22698", "PINK REGENCY TEACUP AND SAUCER"}, {"22423", "REGENCY CAKESTAND 3 TIER"}}
	for u := range 300 {
		for i, it := range items {
			if (u+i)%3 == 0 {
				continue
			}
			sb.WriteString("500000," + it.code + ",\"" + it.name + "\",2,2011-03-0" + string(rune('1'+i)) + " 10:00:00,2.95," + strconv.Itoa(12000+u) + ".0,United Kingdom\n")
		}
	}
	sb.WriteString("C536379,22697,GREEN REGENCY TEACUP AND SAUCER,-1,2011-03-01 10:00:00,2.95,12000.0,United Kingdom\n")
	sb.WriteString("536380,22697,GREEN REGENCY TEACUP AND SAUCER,1,2011-03-01 10:00:00,2.95,,United Kingdom\n")
	events := filepath.Join(dir, "retail.csv")
	require.NoError(t, os.WriteFile(events, []byte(sb.String()), 0o600))
	p := func(n string) string { return filepath.Join(dir, n) }
	code, out, stderr := privrec(t, "build", "--events", events, "--key-file", p("privrec.key"), "--ledger", p("l"), "--new-ledger",
		"--budget-epsilon", "10", "--budget-delta", "1e-5", "--epsilon", "4", "--delta", "1e-5", "--k", "3", "--head-size", "3", "--out", p("retail.prm"), "--json")
	require.Equal(t, 0, code, stderr)
	var res buildOut
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, "online-retail", res.Format)
	assert.Equal(t, 600, res.Accepted)
	assert.Equal(t, 2, res.Skipped)
	assert.Equal(t, 3, res.Report.Contents.Items)
	assert.Equal(t, "2011-03-01T00:00:00Z", res.Window.Start.Format(time.RFC3339))
	m, err := recommend.LoadModel(p("retail.prm"))
	require.NoError(t, err)
	it, ok := m.Catalog().Lookup("22423")
	require.True(t, ok)
	assert.Equal(t, "REGENCY CAKESTAND 3 TIER", it.Name)
	assert.NotContains(t, out, "12000")
}
