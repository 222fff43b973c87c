// Package nocore disables core dumps for the processes that hold the
// master secret (privrec's command-line tool, privrec-beam, the example
// shop): a crash must not write the secret, the subkeys or a window's
// pseudonyms to disk.
package nocore
