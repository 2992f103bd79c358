package pipeline

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
)

// lateLogEvery is the least time between two late-check-in lines of one raw partition.
const lateLogEvery = 10 * time.Second

// lateLog gathers the check-ins one raw partition suppresses as late and logs them at
// most once per lateLogEvery: old data produced into a live job (a backfill, a producer
// that was down for hours) would otherwise log a line per record. A line holds counts,
// window starts and the watermark only: no user, place or payload (G6). Not safe for
// concurrent use: one per partition goroutine.
type lateLog struct {
	every          time.Duration
	last           time.Time // when the last line was written; zero: never
	n, total       int64     // late since the last line; late since the partition was claimed
	oldest, newest int64     // window starts (Unix ms) of the n late check-ins
}

// add counts a round's late check-ins, in windows starting from oldest to newest.
func (l *lateLog) add(n int, oldest, newest int64) {
	if n == 0 {
		return
	}
	if l.n == 0 || oldest < l.oldest {
		l.oldest = oldest
	}
	if l.n == 0 || newest > l.newest {
		l.newest = newest
	}
	l.n += int64(n)
	l.total += int64(n)
}

// flush writes a line for the late check-ins not yet logged, when there are some and the
// last line is at least l.every old (or force is set: the partition is stopping).
func (l *lateLog) flush(now time.Time, watermark, lateness int64, force bool, log zerolog.Logger) {
	if l.n == 0 || !force && !l.last.IsZero() && now.Sub(l.last) < l.every {
		return
	}
	ev := log.Warn().Int64("late", l.n).Int64("late_since_start", l.total).
		Str("window_oldest", formatMs(l.oldest)).Str("window_newest", formatMs(l.newest)).
		Str("allowed_lateness", config.Duration(lateness*int64(time.Millisecond)).String())
	if watermark != cloak.NoWatermark {
		ev = ev.Str("watermark", formatMs(watermark))
	}
	ev.Msg("check-ins suppressed as late: their windows had closed on this raw partition (to backfill old data, see the README)")
	l.last, l.n = now, 0
}

func formatMs(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }
