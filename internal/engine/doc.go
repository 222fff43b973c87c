// Package engine is what the core library shares with an engine that runs
// a release's steps itself, such as privrec/beam on Apache Beam: the door
// of collection (a Gate checks and pseudonymizes raw events exactly as a
// collect.Ingestor does), the release's calibration and post-processing (a
// Release gives the counters to noise with, the ledger charge and the
// model assembly of release.Private), and the choice of the head items.
//
// It is internal so that these entry points, which exist for engines
// built in this repository, are not part of the library's public surface.
// The implementations live in the packages that own the code (collect and
// release) and are installed here when those packages are linked: a
// program that calls NewGate imports collect for its Options, and one that
// calls NewRelease imports release for its Options.
package engine
