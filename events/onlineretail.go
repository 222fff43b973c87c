package events

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// onlineRetail is FormatOnlineRetail.
type onlineRetail struct{}

func (onlineRetail) allowed() []string {
	return []string{"invoiceno", "stockcode", "description", "quantity", "invoicedate", "unitprice", "customerid", "country"}
}

func (onlineRetail) required(ReaderOptions) []string {
	return []string{"invoiceno", "stockcode", "quantity", "invoicedate", "customerid"}
}

func (onlineRetail) event(rec []string, c *columns, _ ReaderOptions) (Event, bool, error) {
	if err := c.checkWidth(rec); err != nil {
		return Event{}, false, err
	}
	inv, _, _ := c.field(rec, "invoiceno")
	qty, qcol, _ := c.field(rec, "quantity")
	cust, ccol, _ := c.field(rec, "customerid")
	if strings.HasPrefix(inv, "C") || cust == "" {
		return Event{}, true, nil
	}
	q, err := strconv.ParseFloat(qty, 64)
	if err != nil || math.IsNaN(q) {
		return Event{}, false, &ParseError{Line: c.line, Column: qcol, Field: "Quantity", Err: errors.New("not a number")}
	}
	if q <= 0 {
		return Event{}, true, nil
	}
	item, icol, _ := c.field(rec, "stockcode")
	if item == "" {
		return Event{}, false, &ParseError{Line: c.line, Column: icol, Field: "StockCode", Err: errors.New("empty")}
	}
	ds, dcol, _ := c.field(rec, "invoicedate")
	t, err := parseTime(ds)
	if err != nil {
		return Event{}, false, &ParseError{Line: c.line, Column: dcol, Field: "InvoiceDate", Err: err}
	}
	user := strings.TrimSuffix(cust, ".0")
	if user == "" {
		return Event{}, false, &ParseError{Line: c.line, Column: ccol, Field: "CustomerID", Err: errors.New("not a customer ID")}
	}
	return Event{UserID: user, Item: item, Kind: KindPurchase, Time: t}, false, nil
}
