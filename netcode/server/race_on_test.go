//go:build race

package server_test

// raceEnabled is true when the tests run under the race detector, which
// makes every packet 5 to 10 times dearer: load tests scale down.
const raceEnabled = true
