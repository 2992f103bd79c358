package pipeline

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the stages start can be stopped and waited for: none may be left once
// the tests (and their brokers) are done.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
