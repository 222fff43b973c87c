package prefetch

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestLineIsOnlyAHint checks the promise callers rely on: Line changes no
// memory and does not fault, whatever the address (collect prefetches
// addresses computed before it knows an entry is there). A faulting
// prefetch would crash the test binary.
func TestLineIsOnlyAHint(t *testing.T) {
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i)
	}
	for _, addr := range []uintptr{
		uintptr(unsafe.Pointer(&buf[0])),
		uintptr(unsafe.Pointer(&buf[len(buf)-1])),
		0,
		1 << 12,
		^uintptr(0),
		^uintptr(0) &^ 63,
	} {
		Line(addr)
	}
	for i := range buf {
		assert.Equal(t, byte(i), buf[i])
	}
}
