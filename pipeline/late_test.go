package pipeline

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// Late check-ins are logged with their counts, windows and the watermark, at most once
// per interval per partition, and whatever is pending when the partition stops.
func TestLateLog(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	lines := func() []map[string]any {
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("not JSON: %s", l)
			}
			out = append(out, m)
		}
		buf.Reset()
		return out
	}
	const hour = int64(time.Hour / time.Millisecond)
	w0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).UnixMilli()
	wm := w0 + 5*hour
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := lateLog{every: 10 * time.Second}

	l.flush(t0, wm, 300_000, false, log)
	if got := lines(); len(got) != 0 {
		t.Fatalf("a line with nothing late: %v", got)
	}
	l.add(3, w0+hour, w0+2*hour)
	l.flush(t0, wm, 300_000, false, log)
	got := lines()
	if len(got) != 1 {
		t.Fatalf("first late round: %d lines, want 1 at once", len(got))
	}
	want := map[string]any{"level": "warn", "late": 3.0, "late_since_start": 3.0,
		"window_oldest": "2026-03-02T11:00:00Z", "window_newest": "2026-03-02T12:00:00Z",
		"watermark": "2026-03-02T15:00:00Z", "allowed_lateness": "5m"}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("%s = %v, want %v", k, got[0][k], v)
		}
	}

	// Within the interval: counted, not logged.
	for i := range 1000 {
		l.add(2, w0, w0+3*hour)
		l.flush(t0.Add(time.Duration(i)*time.Millisecond), wm, 300_000, false, log)
	}
	l.add(0, 0, 0) // a round without late check-ins changes nothing
	if got := lines(); len(got) != 0 {
		t.Fatalf("%d lines within 10 s of the last", len(got))
	}
	l.flush(t0.Add(10*time.Second), wm, 300_000, false, log)
	got = lines()
	if len(got) != 1 || got[0]["late"] != 2000.0 || got[0]["late_since_start"] != 2003.0 ||
		got[0]["window_oldest"] != "2026-03-02T10:00:00Z" || got[0]["window_newest"] != "2026-03-02T13:00:00Z" {
		t.Fatalf("after the interval: %v", got)
	}

	// Pending at stop: logged at once.
	l.add(1, w0, w0)
	l.flush(t0.Add(11*time.Second), wm, 300_000, true, log)
	if got := lines(); len(got) != 1 || got[0]["late"] != 1.0 {
		t.Fatalf("at stop: %v", got)
	}
	l.flush(t0.Add(time.Hour), wm, 300_000, true, log)
	if got := lines(); len(got) != 0 {
		t.Fatalf("a second line for the same check-ins: %v", got)
	}
}
