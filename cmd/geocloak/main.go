// Command geocloak keeps ad partners from tracking people through check-ins: it releases
// each check-in only as an H3 cell that at least k distinct people share in the same time
// window, with every identifier and free-text field removed.
//
// It only wires: flags, files, the logger, the embedded broker, the operations listener
// and the commands, around the release engine (package cloak), the Kafka stages
// (pipeline) and the reviewer's report (report).
//
// Usage:
//
//	geocloak demo [--keep-running]
//	geocloak run --config FILE [--stage all|ingest|cloak]
//	geocloak evaluate --config FILE --input FILE [--audit FILE] [--out DIR] [--report FILE.html]
//	geocloak config check FILE
//
// Run "geocloak help" for every command and flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

func main() {
	// The first SIGINT/SIGTERM cancels ctx: commands stop gracefully. A second one, a
	// second or more after the first, exits at once (status 130).
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sigs
		first := time.Now()
		cancel()
		for range sigs {
			// A supervisor that signals the whole process group (timeout, go run) delivers
			// one stop twice: only a signal a second later means "now".
			if time.Since(first) < time.Second {
				continue
			}
			fmt.Fprintln(os.Stderr, "geocloak: second signal: exiting without waiting")
			os.Exit(130)
		}
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "geocloak:", err)
			os.Exit(2)
		}
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "geocloak:", err)
		}
		os.Exit(1)
	}
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errReported means the command already told the user what went wrong.
var errReported = errors.New("reported")

// loggedError is an error the command wrote to its JSON log as its last line: main does
// not print it again (errors.Is(err, errReported)), so that a service's stderr stays one
// JSON object per line to the end.
type loggedError struct{ error }

func (e loggedError) Is(target error) bool { return target == errReported }
func (e loggedError) Unwrap() error        { return e.error }

// logged writes err, unless it is nil, a usage error or already reported, as the JSON
// log's last line, and returns it as a loggedError. On a console log main prints it as
// text, its lines as they are.
func (e *env) logged(err error) error {
	var ue usageError
	if err == nil || !e.jsonLogs || errors.As(err, &ue) || errors.Is(err, errReported) {
		return err
	}
	e.log.Error().Str("error", err.Error()).Msg("geocloak stopped")
	return loggedError{err}
}

type env struct {
	stdout, stderr io.Writer
	log            zerolog.Logger
	jsonLogs       bool // the log writes JSON lines
}

const usage = `geocloak: publish check-ins to ad partners only as crowded H3 cells.

Commands:
  geocloak demo [--keep-running] [--config FILE] [--input FILE] [--addr HOST:PORT]
                [--sample N] [--timeout D]
      the whole pipeline on an embedded broker with the bundled city: progress, sample
      records, and a check against evaluate
  geocloak run --config FILE [--stage all|ingest|cloak] [--dev] [--ops-listen HOST:PORT]
      the streaming job (embedded broker when no brokers are configured); --ops-listen
      (or $GEOCLOAK_OPS_LISTEN) overrides ops.listen
  geocloak broker [--addr HOST:PORT] [--partitions N] [--retention D] [--data-dir DIR]
      the embedded Kafka-protocol broker alone, for any Kafka client (in memory, or
      kept in DIR across restarts)
  geocloak evaluate --config FILE --input FILE [--audit FILE] [--out DIR]
                [--report FILE.html [--basemap FILE.geojson]] [--geojson FILE] [--sweep]
                [--partitions N --partitioner crc32|murmur2|fnv1a] [--alternatives]
                [--workers N] [--quiet]
      run the release engine offline on a JSONL file (plain or gzip), print what each
      partner would get; --report writes the privacy reviewer's HTML report (maps,
      threshold sweep, attack figures)
  geocloak config check FILE
      validate a config and print the effective policy per partner
  geocloak bench [--events N] [--engine] [--config FILE] [--cpuprofile FILE]
  geocloak bench --soak D [--rate N] [--interval D] [--window D] [--cap N] [--broker HOST:PORT]
      throughput side by side: kafka-go passthrough vs the pipeline (or, with --engine,
      the encoding/json floor vs evaluate; with --soak, steady load with throughput and
      memory over time)
  geocloak synth [--seed N] [--users N] [--days N] [--late-fraction F]
                [--invalid-fraction F] [--out FILE]
      write the synthetic test city's check-ins (JSONL)
  geocloak version
      print the version, VCS revision and time, and Go version
  geocloak help
      print this help

Every command with flags also takes --log-format auto|json|console (auto, the default:
console text on a terminal, else one JSON object per line) and --log-level
debug|info|warn|error (default info). Logs go to stderr.

Run "geocloak COMMAND -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	log, err := newLogger(stderr, "auto", "info")
	if err != nil {
		return err
	}
	e := &env{stdout: stdout, stderr: stderr, log: log}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "evaluate":
		return e.evaluate(ctx, args[1:])
	case "config":
		if len(args) < 2 || args[1] != "check" {
			return usageError{"usage: geocloak config check FILE"}
		}
		return e.configCheck(args[2:])
	case "synth":
		return e.synth(ctx, args[1:])
	case "run":
		return e.logged(e.runJob(ctx, args[1:]))
	case "demo":
		return e.demo(ctx, args[1:])
	case "bench":
		return e.benchCmd(ctx, args[1:])
	case "broker":
		return e.logged(e.brokerCmd(ctx, args[1:]))
	case "version":
		fmt.Fprintln(stdout, readBuildInfo())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// parseFlags parses a command's flags, with the log flags every command takes, and builds
// the command's logger from them. Asking for help is not an error; a bad flag is a usage
// error (exit status 2).
func (e *env) parseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	lf := addLogFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, usageError{err.Error()}
	}
	log, err := newLogger(e.stderr, *lf.format, *lf.level)
	if err != nil {
		return false, err
	}
	e.log, e.jsonLogs = log, jsonLogs(e.stderr, *lf.format)
	return false, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
