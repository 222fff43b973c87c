// Package prefetch asks the processor to start loading a cache line that
// will be read soon, without waiting for it.
//
// A load that misses the cache holds up every instruction after it until
// it returns, so a loop that reads scattered memory overlaps only the few
// misses it reaches before the processor's reorder window fills. A
// prefetch instruction retires at once: code can request a whole batch's
// lines, do other work while they arrive, and then find them in the cache.
// Go has no prefetch builtin for user code, hence this package's few lines
// of assembly on amd64 and arm64; elsewhere (and with the purego build tag)
// Line does nothing, which changes no result, only the speed.
//
// A prefetch never faults and changes no memory, so its address need not
// be valid; it is only a hint.
package prefetch
