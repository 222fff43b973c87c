package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's first command must keep working and keep showing what it
// promises: similar items, context recommendations with explanations, and
// the privacy report.
func TestQuickstartRuns(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	s := out.String()
	for _, want := range []string{
		"Ingested 207065 purchase events",
		"Customers who bought regency cakestand 3 tier (22423) also bought:",
		"Recommended for a cart with",
		"come from bought-together evidence",
		// At ε = 1 on the sample, the teacups' pairs are far above the
		// noise, and the kitchen category clearly preferred: both kinds of
		// evidence show, not only popularity.
		"bought with your",
		"popular in kitchen, like your",
		"(ignored unknown items: NOT-A-SKU)",
		"Popular in the christmas category:",
		"# Privacy report for release",
		"-differentially private for one user",
		"No user ID, pseudonym or per-person history is in the model.",
	} {
		assert.Contains(t, s, want)
	}
}
