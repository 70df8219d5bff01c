package redisbackend

import (
	"testing"

	"go.uber.org/goleak"
)

// Every hub's follower and every client must end when the test closes
// them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
