package cloak

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the stages start can be stopped and waited for: none may be left once
// the tests (and their brokers) are done.
func TestMain(m *testing.M) {
	// glog, which google/differential-privacy logs through, starts a flush goroutine
	// at init that lives as long as the process.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}
