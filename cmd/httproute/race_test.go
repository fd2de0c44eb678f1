//go:build race

package main

// raceBuild makes TestMain build the binary with the race detector when
// the tests run with it, so that go test -race checks the program too.
const raceBuild = true
