package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Commands stop every goroutine they start: brokers, stages, the ops listener.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir) // the binary the process tests built
	}
	// glog, which google/differential-privacy logs through, starts a flush goroutine
	// at init that lives as long as the process.
	if err := goleak.Find(goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon")); code == 0 && err != nil {
		fmt.Fprintf(os.Stderr, "goleak: Errors on successful test run: %v\n", err)
		code = 1
	}
	os.Exit(code)
}
