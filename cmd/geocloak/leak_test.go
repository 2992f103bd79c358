package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Commands stop every goroutine they start: brokers, stages, the ops listener.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
