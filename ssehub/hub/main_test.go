package hub

import (
	"testing"

	"go.uber.org/goleak"
)

// Every hub starts a janitor goroutine and every test must Close its hubs;
// goleak fails the package if any goroutine outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
