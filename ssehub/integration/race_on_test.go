//go:build race

package integration

// raceEnabled: binaries the tests build match the test's own build, so
// they reuse its compiled packages instead of building Caddy a second way.
const raceEnabled = true
