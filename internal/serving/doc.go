// Package serving holds what a long-running serving process adds around
// httpapi's handler: Prometheus metrics through prometheus/client_golang
// (Go, process and build collectors, requests by route, answers that fell
// back to popularity, the current model's age and ε, model reloads) and a
// Reloader that swaps in a model file's new version as soon as it is
// written (fsnotify, with a slow poll as a fallback).
//
// It is internal and linked only by privrec's commands, so that the
// library packages stay on the standard library, the DP library and gonum.
package serving
