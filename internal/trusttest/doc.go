// Package trusttest holds cross-package tests of privrec's promises: no
// identifier or key material in any artefact, and exact counts under
// concurrent load. It has no non-test code.
package trusttest
