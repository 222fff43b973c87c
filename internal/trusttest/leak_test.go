package trusttest

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/httpapi"
	"github.com/privrec/privrec/httpapi/ingest"
	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// TestNoIdentifierOrKeyInAnyArtefact runs ingestion (good and bad events),
// release, snapshot, reports, the HTTP API (including the ingestion
// endpoint) and the ledger with every logger at debug level, then scans all
// of it — files, logs, error strings, HTTP responses and metrics — for the
// raw user IDs, their pseudonyms and the key material.
func TestNoIdentifierOrKeyInAnyArtefact(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(prev) })

	secret := bytes.Repeat([]byte{0xC3, 0x5A, 0x0F, 0x96}, 8)
	w := sampledata.Window
	kr, err := pseudonym.New(secret, pseudonym.Options{PeriodLength: sampledata.KeyPeriod, Epoch: w.Start})
	require.NoError(t, err)
	period := kr.Period(w.Start)
	cat, err := sampledata.Catalog()
	require.NoError(t, err)
	col, err := collect.New(cat, collect.Options{Window: w, MaxClockSkew: -1, Logger: logger})
	require.NoError(t, err)
	ing, err := collect.NewIngestor(col, kr)
	require.NoError(t, err)

	var errorsSeen []string
	rawIDs := map[string]bool{}
	evs, err := sampledata.Events()
	require.NoError(t, err)
	for n := 0; ; n++ {
		e, err := evs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		e.UserID = "shopper:" + e.UserID + "@example.org"
		rawIDs[e.UserID] = true
		require.NoError(t, ing.Add(e))
		if n%5000 == 0 { // the same person, with bad events: their errors must not name them
			for _, bad := range []events.Event{
				{UserID: e.UserID, Item: "NOT-A-SKU", Kind: events.KindView, Time: e.Time},
				{UserID: e.UserID, Item: e.Item, Kind: 0, Time: e.Time},
				{UserID: e.UserID, Item: e.Item, Kind: events.KindView, Time: w.End.Add(time.Hour)},
				{UserID: e.UserID + strings.Repeat("x", 2000), Item: e.Item, Kind: events.KindView, Time: e.Time},
			} {
				if err := ing.Add(bad); err != nil {
					errorsSeen = append(errorsSeen, err.Error())
				}
			}
		}
	}
	require.NotEmpty(t, errorsSeen)

	dir := t.TempDir()
	ledgerPath := filepath.Join(dir, "ledger")
	ledger, err := dp.OpenFileLedger(ledgerPath, dp.LedgerOptions{Budget: dp.Budget{Epsilon: 1.2, Delta: 1e-5}, Create: true, Logger: logger})
	require.NoError(t, err)
	model, err := release.Private(context.Background(), col, ledger, release.Options{Epsilon: 1, Delta: 1e-5, HeadSize: 300})
	require.NoError(t, err)
	// A refused release, for its error and log line.
	col2, err := collect.New(cat, collect.Options{Window: w, MaxClockSkew: -1, Logger: logger})
	require.NoError(t, err)
	_, err = release.Private(context.Background(), col2, ledger, release.Options{Epsilon: 1, Delta: 1e-5})
	require.ErrorIs(t, err, dp.ErrBudgetExceeded)
	errorsSeen = append(errorsSeen, err.Error())
	require.NoError(t, ledger.Close())

	modelPath := filepath.Join(dir, "model.prm")
	require.NoError(t, recommend.SaveModel(model, modelPath))
	rep := model.Report()
	repJSON, err := json.Marshal(rep)
	require.NoError(t, err)

	// The HTTP API: queries, errors, metrics, and ingestion.
	api := httptest.NewServer(httpapi.NewHandler(func() *recommend.Model { return model }, httpapi.Options{Logger: logger}))
	defer api.Close()
	ingestCol, err := collect.New(cat, collect.Options{Window: w, MaxClockSkew: -1, Logger: logger})
	require.NoError(t, err)
	ingestIng, err := collect.NewIngestor(ingestCol, kr)
	require.NoError(t, err)
	ingestAPI := httptest.NewServer(ingest.NewHandler(ingestIng, ingest.Options{Logger: logger}))
	defer ingestAPI.Close()
	var httpOut bytes.Buffer
	some := ""
	for id := range rawIDs {
		some = id
		break
	}
	for _, req := range []struct{ method, url, body string }{
		{"GET", api.URL + "/v1/similar/22423", ""},
		{"POST", api.URL + "/v1/recommend", `{"context":["22697","22698"]}`},
		{"POST", api.URL + "/v1/recommend", fmt.Sprintf(`{"context":["22697"],"user":%q}`, some)},
		{"GET", api.URL + "/v1/popular?user=" + some, ""},
		{"GET", api.URL + "/v1/privacy", ""},
		{"POST", ingestAPI.URL + "/v1/events", fmt.Sprintf(`{"events":[{"user":%q,"item":"22423","time":"2011-01-05T10:00:00Z"},{"user":%q,"item":"NOPE","time":"2011-01-05T10:00:00Z"}]}`, some, some)},
		{"POST", ingestAPI.URL + "/v1/events", fmt.Sprintf(`{"events":[{"user":%q,"item":"22423","time":"2011-01-05T10:00:00Z","email":%q}]}`, some, some)},
		{"GET", api.URL + "/metrics", ""},
		{"GET", ingestAPI.URL + "/metrics", ""},
	} {
		r, err := http.NewRequest(req.method, req.url, strings.NewReader(req.body))
		require.NoError(t, err)
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		require.NoError(t, err)
		_, _ = io.Copy(&httpOut, resp.Body)
		resp.Body.Close()
	}

	snapshot, err := os.ReadFile(modelPath)
	require.NoError(t, err)
	ledgerBytes, err := os.ReadFile(ledgerPath)
	require.NoError(t, err)
	artefacts := map[string][]byte{
		"snapshot": snapshot, "ledger": ledgerBytes, "report json": repJSON, "report markdown": []byte(rep.Markdown()),
		"debug logs": logs.Bytes(), "error strings": []byte(strings.Join(errorsSeen, "\n")), "http responses and metrics": httpOut.Bytes(),
		"keyring rendering": []byte(fmt.Sprintf("%v %+v %#v %s", kr, kr, kr, kr)),
	}
	require.Contains(t, logs.String(), "budget debited")
	require.Contains(t, httpOut.String(), "privrec_http_requests_total")

	// The secret, the period's subkey (derived here independently, per the
	// documented HKDF construction) and every pseudonym are forbidden in
	// every encoding a careless serializer might use.
	var info [8]byte
	binary.BigEndian.PutUint64(info[:], uint64(period))
	subkey, err := hkdf.Key(sha256.New, secret, []byte("privrec/pseudonym/v1"), pseudonym.DefaultPurpose+"\x00"+string(info[:]), 32)
	require.NoError(t, err)
	forbidden := [][]byte{[]byte("shopper:"), []byte("@example.org")}
	forbidden = append(forbidden, encodings(secret)...)
	forbidden = append(forbidden, encodings(subkey)...)
	for id := range rawIDs {
		p, err := kr.Pseudonymize(period, id)
		require.NoError(t, err)
		forbidden = append(forbidden, encodings(p[:])...)
	}
	for name, data := range artefacts {
		for _, f := range forbidden {
			if bytes.Contains(data, f) {
				t.Errorf("%s contains forbidden bytes %q", name, f)
			}
		}
	}
}

// encodings returns b raw and in the text encodings a serializer might
// use: hex (both cases), base64 (standard and URL, padded or not) and
// base32 (standard and hex alphabets, padded or not).
func encodings(b []byte) [][]byte {
	out := [][]byte{b, []byte(hex.EncodeToString(b)), []byte(strings.ToUpper(hex.EncodeToString(b)))}
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		out = append(out, []byte(e.EncodeToString(b)))
	}
	for _, e := range []*base32.Encoding{base32.StdEncoding, base32.HexEncoding, base32.StdEncoding.WithPadding(base32.NoPadding), base32.HexEncoding.WithPadding(base32.NoPadding)} {
		s := e.EncodeToString(b)
		out = append(out, []byte(s), []byte(strings.ToLower(s)))
	}
	return out
}
