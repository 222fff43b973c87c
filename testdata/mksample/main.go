// Command mksample writes the Online Retail sample that privrec embeds for
// its demo and tests (internal/sampledata/testdata). It reads the full UCI
// Online Retail CSV (never committed) and keeps, for the most popular items,
// one line per customer, item and day. Categories come from the
// descriptions (internal/retailcat); products that match no keyword have
// none.
//
//	go run ./testdata/mksample -in ../shared/data/online-retail/online_retail.csv.gz
package main

import (
	"compress/gzip"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/privrec/privrec/internal/retailcat"
)

func main() {
	in := flag.String("in", "../shared/data/online-retail/online_retail.csv.gz", "Online Retail CSV (.gz)")
	out := flag.String("out", "internal/sampledata/testdata", "output directory")
	items := flag.Int("items", 500, "keep this many most popular items")
	flag.Parse()
	if err := run(*in, *out, *items); err != nil {
		log.Fatal(err)
	}
}

type line struct{ user, item, day, ts string }

func run(in, out string, keep int) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	r := csv.NewReader(gz)
	if _, err := r.Read(); err != nil {
		return err
	}
	names := map[string]string{}
	users := map[string]map[string]bool{}
	seen := map[line]bool{}
	var lines []line
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		inv, code, desc, qty, date, cust := rec[0], rec[1], strings.TrimSpace(rec[2]), rec[3], rec[4], rec[6]
		q, _ := strconv.ParseFloat(qty, 64)
		if strings.HasPrefix(inv, "C") || cust == "" || q <= 0 || desc == "" {
			continue
		}
		cust = strings.TrimSuffix(cust, ".0")
		if _, ok := names[code]; !ok {
			names[code] = desc
		}
		if users[code] == nil {
			users[code] = map[string]bool{}
		}
		users[code][cust] = true
		l := line{cust, code, date[:10], strings.Replace(date, " ", "T", 1) + "Z"}
		key := line{cust, code, l.day, ""}
		if !seen[key] {
			seen[key] = true
			lines = append(lines, l)
		}
	}
	codes := make([]string, 0, len(users))
	for c := range users {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool {
		if len(users[codes[i]]) != len(users[codes[j]]) {
			return len(users[codes[i]]) > len(users[codes[j]])
		}
		return codes[i] < codes[j]
	})
	codes = codes[:min(keep, len(codes))]
	kept := map[string]bool{}
	for _, c := range codes {
		kept[c] = true
	}
	sort.Strings(codes)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	cf, err := os.Create(filepath.Join(out, "catalog.csv"))
	if err != nil {
		return err
	}
	cw := csv.NewWriter(cf)
	cw.Write([]string{"id", "category", "name"})
	for _, c := range codes {
		cw.Write([]string{c, retailcat.Category(names[c]), names[c]})
	}
	cw.Flush()
	if err := cf.Close(); err != nil {
		return err
	}
	ef, err := os.Create(filepath.Join(out, "events.csv.gz"))
	if err != nil {
		return err
	}
	gw, _ := gzip.NewWriterLevel(ef, gzip.BestCompression)
	ew := csv.NewWriter(gw)
	ew.Write([]string{"user", "item", "kind", "time"})
	n := 0
	for _, l := range lines {
		if kept[l.item] {
			ew.Write([]string{l.user, l.item, "purchase", l.ts})
			n++
		}
	}
	ew.Flush()
	if err := gw.Close(); err != nil {
		return err
	}
	if err := ef.Close(); err != nil {
		return err
	}
	fmt.Printf("%d items, %d events\n", len(codes), n)
	return nil
}
