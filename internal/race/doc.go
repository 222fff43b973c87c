// Package race reports whether the binary was built with the race detector.
//
// Allocation tests use it: under -race, sync.Pool drops pooled objects at
// random on purpose, so allocation counts are meaningless there. Those tests
// skip under -race and .ci/run runs them once more without it.
package race
