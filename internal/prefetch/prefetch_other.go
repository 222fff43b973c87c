//go:build (!amd64 && !arm64) || purego

package prefetch

// Line starts loading the cache line that holds addr; on this platform it
// does nothing.
func Line(addr uintptr) {}
