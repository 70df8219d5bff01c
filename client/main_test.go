package client

import (
	"testing"

	"go.uber.org/goleak"
)

// The client starts no goroutine of its own; goleak checks that requests
// (including cancelled ones) leave none behind either.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
