package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/geocloak/geocloak/config"
)

// logTimeLayout is RFC 3339 with milliseconds and the zone: 2026-03-02T10:00:00.123Z.
const logTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Values of --log-format and --log-level.
var (
	logFormats = []string{"auto", "json", "console"}
	logLevels  = []string{"debug", "info", "warn", "error"}
)

// newLogger builds the one logger of a command. format is auto (console text on a
// terminal, JSON lines otherwise), json or console; level is one of logLevels.
func newLogger(w io.Writer, format, level string) (zerolog.Logger, error) {
	if !slices.Contains(logFormats, format) {
		return zerolog.Nop(), usageError{fmt.Sprintf("--log-format %q: want one of %s", format, strings.Join(logFormats, ", "))}
	}
	if !slices.Contains(logLevels, level) {
		return zerolog.Nop(), usageError{fmt.Sprintf("--log-level %q: want one of %s", level, strings.Join(logLevels, ", "))}
	}
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), usageError{fmt.Sprintf("--log-level %q: %v", level, err)}
	}
	out := w
	if !jsonLogs(w, format) {
		out = zerolog.ConsoleWriter{Out: w, NoColor: !isTerminal(w), TimeFormat: logTimeLayout}
	}
	return zerolog.New(&timedWriter{w: out, now: time.Now}).Level(lvl), nil
}

// jsonLogs reports whether a logger of format writes JSON lines to w: json, or auto
// when w is not a terminal.
func jsonLogs(w io.Writer, format string) bool {
	return format == "json" || format == "auto" && !isTerminal(w)
}

// timedWriter puts the time first in every JSON log line. It stands in for zerolog's
// Timestamp, whose format is a package-level setting of zerolog: every logger of the
// process would share it. Safe for concurrent use; one Write per line.
type timedWriter struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
	buf []byte
}

func (t *timedWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(p) < 2 || p[0] != '{' {
		return t.w.Write(p)
	}
	b := append(t.buf[:0], `{"time":"`...)
	b = t.now().AppendFormat(b, logTimeLayout)
	b = append(b, '"')
	if p[1] != '}' {
		b = append(b, ',')
	}
	b = append(b, p[1:]...)
	t.buf = b
	if _, err := t.w.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}

// atLeast returns l logging only from level up (and never below l's own level).
func atLeast(l zerolog.Logger, level zerolog.Level) zerolog.Logger {
	if l.GetLevel() >= level {
		return l
	}
	return l.Level(level)
}

// logFlags registers the flags every command takes for its logs.
type logFlags struct{ format, level *string }

func addLogFlags(fs *flag.FlagSet) logFlags {
	return logFlags{
		format: fs.String("log-format", "auto", "logs on stderr: json (one JSON object per line), console (text), or auto (console on a terminal, else json)"),
		level:  fs.String("log-level", "info", "least severe log level shown: debug, info, warn or error"),
	}
}

// logStartup writes the one line that says what this process is about to run: version,
// topics and each partner's policy. Nothing in it comes from the data.
func logStartup(log zerolog.Logger, cfg *config.Config, stage string) {
	bi := readBuildInfo()
	brokers := cfg.Kafka.Brokers
	if len(brokers) == 0 {
		brokers = []string{"embedded"}
	}
	partners := zerolog.Arr()
	for _, p := range cfg.Partners {
		partners.Dict(zerolog.Dict().Str("name", p.Name).Str("topic", p.Topic).Str("mode", string(p.Mode)).Int("k", p.K).
			Int("max_resolution", p.MaxResolution).Int("min_resolution", p.MinResolution).
			Str("window", cfg.Window.Size.String()))
	}
	log.Info().Str("version", bi.Version).Str("revision", bi.Revision).Str("vcs_time", bi.VCSTime).Str("go_version", bi.GoVersion).
		Str("stage", stage).Strs("brokers", brokers).
		Str("input_topic", cfg.Kafka.InputTopic).Str("internal_topic", cfg.Kafka.InternalTopic).
		Str("dead_letter_topic", cfg.Kafka.DeadLetterTopic).Str("group_id", cfg.Kafka.GroupID).
		Str("window", cfg.Window.Size.String()).Str("allowed_lateness", cfg.Window.AllowedLateness.String()).
		Str("ops_listen", cfg.Ops.Listen).Array("partners", partners).
		Msg("geocloak starting")
}

// logWarnings logs, once at start, every setting config check warns about.
func logWarnings(log zerolog.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings() {
		key, _, _ := strings.Cut(w, ":")
		log.Warn().Str("key", key).Str("warning", w).Msg("config weakens privacy or security")
	}
}
