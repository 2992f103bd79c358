package main

import (
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/geocloak/geocloak/config"
)

// opsListenEnv overrides ops.listen, so that two stages on one host can share one config.
const opsListenEnv = "GEOCLOAK_OPS_LISTEN"

// flagSet is the set of flags given on the command line.
func flagSet(fs *flag.FlagSet) map[string]bool {
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// overrideOpsListen applies --ops-listen, or else $GEOCLOAK_OPS_LISTEN, to cfg.Ops.Listen.
// An empty flag value turns the listener off; an empty variable is ignored.
func overrideOpsListen(fs *flag.FlagSet, cfg *config.Config, flagValue string) error {
	set := flagSet(fs)["ops-listen"]
	what, v := "--ops-listen", flagValue
	if !set {
		if v = os.Getenv(opsListenEnv); v == "" {
			return nil
		}
		what = "$" + opsListenEnv
	}
	if v != "" {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return usageError{fmt.Sprintf("%s %q: want HOST:PORT (an empty host listens on every interface)", what, v)}
		}
	}
	cfg.Ops.Listen = v
	return nil
}
