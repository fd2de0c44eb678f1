//go:build !race

package httproute_test

// raceEnabled reports whether the tests run with the race detector, under
// which sync.Pool drops some of what it is given on purpose.
const raceEnabled = false
