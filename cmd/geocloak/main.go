// Command geocloak keeps ad partners from tracking people through check-ins: it releases
// each check-in only as an H3 cell that at least k distinct people share in the same time
// window, with every identifier and free-text field removed.
//
// Usage:
//
//	geocloak evaluate --config FILE --input FILE [--audit FILE] [--out DIR]
//	geocloak config check FILE
//	geocloak synth [--seed N] [--out FILE]
//
// Run "geocloak help" for every command.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
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

type env struct {
	stdout, stderr io.Writer
	log            zerolog.Logger
}

const usage = `geocloak: publish check-ins to ad partners only as crowded H3 cells.

Commands:
  evaluate --config FILE --input FILE [--audit FILE] [--out DIR]
                         run the release engine offline on a JSONL file (plain or gzip)
                         and print what each partner would get
  config check FILE      validate a config and print the effective policy per partner
  synth [--seed N] [--out FILE] [--lines N]
                         write the synthetic test city's check-ins (JSONL)
  version                print the version
  help                   print this help

Run "geocloak COMMAND -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	e := &env{
		stdout: stdout,
		stderr: stderr,
		log:    zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: !isTerminal(stderr)}).With().Timestamp().Logger(),
	}
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
	case "version":
		fmt.Fprintln(stdout, version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
