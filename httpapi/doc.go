// Package httpapi serves a privrec model over HTTP, as a net/http handler
// that a backend can mount.
//
// The serving handler ([NewHandler]) needs only the current model: no
// keyring, no ledger, no per-user state, and it accepts no user identifier.
// Its endpoints:
//
//	GET  /v1/similar/{item}?n=10&exclude=a,b&category=c&exclude_category=d&min_support=5
//	POST /v1/recommend        {"context":["a","b"],"n":10,"exclude":[],"categories":[],"exclude_categories":[],"min_support":0}
//	GET  /v1/popular?n=10&category=c
//	GET  /v1/privacy          the model's privacy report (JSON)
//	GET  /healthz             200 while the process serves (liveness)
//	GET  /readyz              200 when a model is loaded, 503 otherwise (readiness)
//	GET  /openapi.json        the API's OpenAPI 3 description
//	GET  /metrics             Prometheus text format
//
// The query endpoints answer
//
//	{"items":[{"item":"22699","name":"...","category":"kitchen","score":0.76,"reason":"context",
//	           "because":["22698"],"support":83,"explanation":"bought together with 22698"}],
//	 "unknown":[],"fallback":false,"release":"7649f8cc8941443c"}
//
// "unknown" lists context items the model does not know (they are
// ignored); "unknown_categories", present only when needed, lists the
// query's categories that the catalog does not have (an allowed one
// matches no item). "n" is optional in a body (default 10) and must be in
// [1, 100] when given, as in a query string.
//
// Errors have one JSON shape, {"error":{"code":"...","message":"..."}}: code
// bad_request (400), not_found (404, unknown route), method_not_allowed
// (405), body_too_large (413), unsupported_media_type (415, a body that is
// not JSON), no_model (503, none loaded yet) or internal (500). Request
// bodies refuse unknown fields.
//
// The ingestion handler (package httpapi/ingest, POST /v1/events) is
// separate because it needs the keyring: a deployment can run serving
// processes without the key and a single ingestion process with it (least
// privilege). This package does not link the keyring at all; a test fails
// if it does.
package httpapi
