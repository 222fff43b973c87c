// Package client is a small Go client for privrec's HTTP API: the serving
// routes of httpapi (recommendations for a context, similar items, popular
// items, the privacy report) and the ingestion route of httpapi/ingest
// (POST /v1/events, as privrec run serves it).
//
// Errors from the server are *Error values with the HTTP status and the
// API's error code; nothing a request carries is put in an error message.
// A Client is safe for concurrent use.
package client
