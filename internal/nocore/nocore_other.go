//go:build !unix

package nocore

// Disable does nothing where there is no RLIMIT_CORE; configure the
// platform's crash dumps not to include process memory.
func Disable() error { return nil }
