// Package httpapi serves a privrec model over HTTP, as a net/http handler
// that a backend can mount, and optionally accepts events.
//
// The serving handler ([NewHandler]) needs only a recommend.Recommender: no
// keyring, no ledger, no per-user state, and it accepts no user identifier.
// Its endpoints:
//
//	GET  /v1/similar/{item}?n=10&exclude=a,b&category=c&exclude_category=d&min_support=5
//	POST /v1/recommend        {"context":["a","b"],"n":10,"exclude":[],"categories":[],"exclude_categories":[],"min_support":0}
//	GET  /v1/popular?n=10&category=c
//	GET  /v1/privacy          the model's privacy report (JSON)
//	GET  /healthz             200 when a model is loaded, 503 otherwise
//	GET  /metrics             Prometheus text format
//
// Errors have one JSON shape, {"error":{"code":"...","message":"..."}}, with
// 400 for bad requests, 404 for unknown routes, 405 for wrong methods, 413 for
// bodies over the limit, 415 for non-JSON bodies and 503 when no model is
// loaded. Request bodies refuse unknown fields.
//
// The ingestion handler ([NewIngestHandler], POST /v1/events) is separate
// because it needs the keyring: a deployment can run serving processes
// without the key and a single ingestion process with it (least privilege).
// It takes raw events, pseudonymizes them at the door and never logs or
// echoes the user ID.
package httpapi
