//go:build !unix && !windows

package benchmarks

import "time"

// cpuTime would be the CPU time the process has used; this platform has
// no clock for it, so the release rows' CPU times read zero here.
func cpuTime() time.Duration { return 0 }
