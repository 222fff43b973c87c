// Package sampledata embeds a small sample of the UCI Online Retail
// transactions (CC BY 4.0; see testdata/NOTICE.md for the attribution and how
// the sample was made) so that the demo, the examples and the tests run on a
// fresh clone with no files to prepare.
package sampledata

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"time"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/recommend"
)

//go:embed testdata/catalog.csv testdata/events.csv.gz
var files embed.FS

// Attribution is the dataset's required CC BY 4.0 attribution.
const Attribution = `Daqing Chen, Sai Liang Sain, and Kun Guo. Data mining for the online retail industry: ` +
	`A case study of RFM model-based customer segmentation using data mining. Journal of Database Marketing ` +
	`and Customer Strategy Management, 19(3):197-208, 2012. doi:10.1057/dbm.2012.17. ` +
	`Data: UCI Machine Learning Repository, "Online Retail" (CC BY 4.0).`

// Window covers every event in the sample: 2010-12-01 to 2011-12-10 (UTC).
var Window = recommend.Window{
	Start: time.Date(2010, 12, 1, 0, 0, 0, 0, time.UTC),
	End:   time.Date(2011, 12, 10, 0, 0, 0, 0, time.UTC),
}

// KeyPeriod is a key period length that holds the whole sample window when
// periods start at Window.Start.
const KeyPeriod = 400 * 24 * time.Hour

// Catalog returns the sample's catalog (500 items with category and name).
func Catalog() (*recommend.Catalog, error) {
	f, err := files.Open("testdata/catalog.csv")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return recommend.ReadCatalogCSV(f)
}

// CatalogCSV returns the raw catalog file.
func CatalogCSV() []byte {
	b, _ := files.ReadFile("testdata/catalog.csv")
	return b
}

// EventsCSV returns the uncompressed events file (user,item,kind,time).
func EventsCSV() ([]byte, error) {
	gz, err := files.ReadFile("testdata/events.csv.gz")
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("sampledata: %w", err)
	}
	return io.ReadAll(zr)
}

// Events returns a reader over the sample's raw events.
func Events() (*events.Reader, error) {
	b, err := EventsCSV()
	if err != nil {
		return nil, err
	}
	return events.NewReader(bytes.NewReader(b), events.FormatCSV, events.ReaderOptions{}), nil
}
