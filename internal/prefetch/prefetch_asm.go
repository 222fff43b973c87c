//go:build (amd64 || arm64) && !purego

package prefetch

// Line starts loading the cache line that holds addr into every cache
// level and returns without waiting for it.
func Line(addr uintptr)
