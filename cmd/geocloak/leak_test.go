package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Commands stop every goroutine they start: brokers, stages, the ops listener.
func TestMain(m *testing.M) {
	// glog, which google/differential-privacy logs through, starts a flush goroutine
	// at init that lives as long as the process.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}
