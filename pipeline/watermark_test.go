package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"pgregory.net/rapid"

	"github.com/geocloak/geocloak/config"
)

// watermarkSequence draws a sequence of (user, time) observations: random, or
// adversarial (a few users dated far ahead, alone or among honest users in order, or
// honest users at one time and attackers just after).
func watermarkSequence(t *rapid.T, m int) []WatermarkUser {
	kind := rapid.SampledFrom([]string{"random", "attackers-ahead", "attackers-only", "ties", "one-user"}).Draw(t, "kind")
	n := rapid.IntRange(0, 300).Draw(t, "n")
	users := rapid.IntRange(1, 3*config.MaxWatermarkUsers).Draw(t, "users")
	attackers := rapid.IntRange(0, m).Draw(t, "attackers") // users 1000..: dated far ahead
	var seq []WatermarkUser
	clock := int64(1_000_000)
	for range n {
		clock += rapid.Int64Range(0, 5000).Draw(t, "step")
		u := WatermarkUser{User: Pseudonym(rapid.IntRange(0, users-1).Draw(t, "user")), Time: clock - rapid.Int64Range(0, 20_000).Draw(t, "disorder")}
		switch kind {
		case "attackers-ahead":
			if attackers > 0 && rapid.IntRange(0, 4).Draw(t, "attack") == 0 {
				u = WatermarkUser{User: Pseudonym(1000 + rapid.IntRange(0, attackers-1).Draw(t, "attacker")), Time: clock + rapid.Int64Range(1, 1e9).Draw(t, "ahead")}
			}
		case "attackers-only":
			u.User = Pseudonym(1000 + rapid.IntRange(0, max(attackers, 1)-1).Draw(t, "attacker"))
			u.Time = clock + rapid.Int64Range(0, 1e9).Draw(t, "ahead")
		case "ties":
			u.Time = 1_000_000 + rapid.Int64Range(0, 2).Draw(t, "tie")
		case "one-user":
			u.User = 7
		}
		seq = append(seq, u)
	}
	return seq
}

// TestWatermarkProperties: over random and adversarial sequences, the watermark is the
// m-th latest of the users' latest times minus the lateness (a naive reference); it never
// moves backward; no set of fewer than m users can move it past the latest time the other
// users have reached; and a watermark restored from Users and Value goes on exactly as
// the original.
func TestWatermarkProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := rapid.IntRange(1, config.MaxWatermarkUsers).Draw(t, "m")
		lateness := rapid.Int64Range(0, 10_000).Draw(t, "lateness")
		seq := watermarkSequence(t, m)
		cut := rapid.IntRange(0, len(seq)).Draw(t, "restart at")
		w := NewWatermark(lateness, m)
		var restored Watermark
		latest := make(map[Pseudonym]int64)
		prev := int64(NoWatermark)
		for i, o := range seq {
			if i == cut {
				restored = NewWatermark(lateness, m)
				restored.Restore(w.Value(), w.Users())
			}
			w.Observe(o.Time, o.User)
			if i >= cut {
				restored.Observe(o.Time, o.User)
				if restored.Value() != w.Value() {
					t.Fatalf("after a restore at %d: watermark %d, without the restore %d", cut, restored.Value(), w.Value())
				}
			}
			if t0, ok := latest[o.User]; !ok || o.Time > t0 {
				latest[o.User] = o.Time
			}
			var ts []int64
			for _, v := range latest {
				ts = append(ts, v)
			}
			slices.Sort(ts)
			want := int64(NoWatermark)
			if len(ts) >= m {
				want = ts[len(ts)-m] - lateness
			}
			if w.Value() != want {
				t.Fatalf("after %d observations: watermark %d, want the %d-th latest user time minus lateness: %d", i+1, w.Value(), m, want)
			}
			if w.Value() < prev {
				t.Fatalf("watermark moved backward: %d after %d", w.Value(), prev)
			}
			prev = w.Value()
			// The m-1 users with the latest times are the strongest set of fewer than m
			// users: the watermark may not pass what the others reached.
			if w.Value() != NoWatermark {
				bound := ts[len(ts)-m] // the latest time of the users outside that set
				if w.Value() > bound-lateness {
					t.Fatalf("%d users moved the watermark to %d, past %d (the others' latest, minus lateness)", m-1, w.Value(), bound-lateness)
				}
			}
			if len(w.Users()) > m {
				t.Fatalf("keeps %d users, want at most %d", len(w.Users()), m)
			}
		}
	})
}

// TestWatermarkFewUsersCannotMove: however many records fewer than m users send, at any
// time, the watermark does not move.
func TestWatermarkFewUsersCannotMove(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := rapid.IntRange(2, config.MaxWatermarkUsers).Draw(t, "m")
		w := NewWatermark(0, m)
		users := rapid.IntRange(1, m-1).Draw(t, "users")
		for range rapid.IntRange(0, 500).Draw(t, "n") {
			w.Observe(rapid.Int64Range(math.MinInt64/2, math.MaxInt64/2).Draw(t, "time"), Pseudonym(rapid.IntRange(0, users-1).Draw(t, "user")))
			if w.Value() != NoWatermark {
				t.Fatalf("%d users moved a watermark that needs %d to %d", users, m, w.Value())
			}
		}
	})
}

// poisonedCity is a small city of check-ins with, in the middle, one valid check-in of
// its own user dated a day ahead of its neighbours, far from the city (a cell no class
// can share, so that it changes no record but its own suppression).
func poisonedCity(t *testing.T, users, days int) (clean, poisoned [][]byte) {
	t.Helper()
	clean = cityLines(t, users, days)
	mid := len(clean) / 2
	at := time.UnixMilli(eventTime(t, clean[mid])).Add(24 * time.Hour).UTC().Format(time.RFC3339)
	poison := fmt.Appendf(nil, `{"event_id":"poison","user_id":"poisoner","lat":-33.9,"lng":18.4,"ts":%q,"venue_category":"Park"}`, at)
	poisoned = slices.Concat(clean[:mid], [][]byte{poison}, clean[mid:])
	return clean, poisoned
}

// TestPoisonedRecordEvaluate: one valid check-in dated a day ahead makes no other
// check-in late in evaluate, on the file as a whole and per raw partition; each partner
// gets exactly the records of the city without it. With window.watermark_users 1 (a
// single record moves the watermark) it silences most of the next day: the test can fail.
func TestPoisonedRecordEvaluate(t *testing.T) {
	cfg := streamConfig(t)
	clean, poisoned := poisonedCity(t, 600, 3)
	for _, partitions := range []int{0, cfg.Kafka.Partitions.Input} {
		t.Run(fmt.Sprintf("partitions=%d", partitions), func(t *testing.T) {
			opt := EvalOptions{Partitions: partitions, Partitioner: "fnv1a"}
			want, wantSum := evaluateRaw(t, cfg, clean, opt)
			got, sum := evaluateRaw(t, cfg, poisoned, opt)
			if sum.Late != wantSum.Late {
				t.Errorf("%d check-ins late with the poisoned record, %d without", sum.Late, wantSum.Late)
			}
			for _, p := range cfg.Partners {
				if !slices.Equal(got[p.Name], want[p.Name]) {
					t.Errorf("partner %s: %d records with the poisoned record, %d without", p.Name, len(got[p.Name]), len(want[p.Name]))
				}
			}
			one := *cfg
			one.Window.WatermarkUsers = 1
			if _, sum := evaluateRaw(t, &one, poisoned, opt); sum.Late <= wantSum.Late {
				t.Errorf("with watermark_users 1 the poisoned record made nothing late (%d): the test does not test it", sum.Late)
			}
		})
	}
}

// evaluateRaw runs evaluate on lines: each partner's records, sorted, and the summary.
func evaluateRaw(t *testing.T, cfg *config.Config, lines [][]byte, opt EvalOptions) (map[string][]string, *Summary) {
	t.Helper()
	pols := NewPolicies(cfg)
	bufs := make([]bytes.Buffer, len(pols))
	ws := make([]io.Writer, len(pols))
	for i := range bufs {
		ws[i] = &bufs[i]
	}
	out := NewWriterOutput(pols, ws, nil)
	opt.Config, opt.Key = cfg, testStageKey
	sum, err := Evaluate(context.Background(), bytes.NewReader(append(bytes.Join(lines, []byte("\n")), '\n')), opt, out)
	if err != nil {
		t.Fatal(err)
	}
	out.Flush()
	res := make(map[string][]string)
	for i, p := range pols {
		for _, l := range strings.Split(strings.TrimSpace(bufs[i].String()), "\n") {
			if l != "" {
				res[p.Name] = append(res[p.Name], l)
			}
		}
		slices.Sort(res[p.Name])
	}
	return res, sum
}

// TestPoisonedRecordStream: the same poisoned record through Kafka makes no other
// check-in of its raw partition late, in the run that reads it and after a restart from
// what that run committed (the watermark and the users it stands on are in the commit
// metadata): each partner gets exactly evaluate's records of the city without it.
func TestPoisonedRecordStream(t *testing.T) {
	cfg := streamConfig(t)
	clean, poisoned := poisonedCity(t, 600, 3)
	want, wantSum := evaluateRaw(t, cfg, clean, EvalOptions{Partitions: cfg.Kafka.Partitions.Input, Partitioner: "fnv1a"})
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	m := NewMetrics(nil)
	// The first run reads the poisoned record and a sixth of the city after it, then
	// stops; it must not go idle meanwhile (an idle partition moves to the wall clock,
	// months after this replayed city, which would make the rest late).
	first := *cfg
	first.Window.IdleAdvance = config.Duration(time.Hour)
	cut := len(poisoned)/2 + len(poisoned)/6
	produce(t, conn, cfg.Kafka.InputTopic, poisoned[:cut])
	opt := StageOptions{Config: &first, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, Metrics: m,
		MaxWait: 100 * time.Millisecond}
	s := startStages(t, context.Background(), opt, true, true)
	waitFor(t, 60*time.Second, "the first part read", func() bool {
		return counterValue(m.EventsIn.WithLabelValues("ingest")) >= float64(cut)
	})
	s.stop(t)
	if late := counterValue(m.Late); late > 0 {
		t.Errorf("%.0f check-ins late before the restart", late)
	}
	// What was committed is not the poisoned watermark: none is past the latest honest
	// check-in read.
	var honest int64
	for _, l := range poisoned[:cut] {
		if !bytes.Contains(l, []byte(`"poison"`)) {
			honest = max(honest, eventTime(t, l))
		}
	}
	committed, err := conn.committed(context.Background(), cfg.Kafka.GroupID+".ingest", cfg.Kafka.InputTopic, []int{0, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	for p, o := range committed {
		if meta := parseCommitMeta(o.Metadata); meta.Watermark == nil || *meta.Watermark > honest {
			t.Errorf("raw partition %d committed %q: past the latest honest check-in, %s", p, o.Metadata, time.UnixMilli(honest).UTC())
		}
	}
	produce(t, conn, cfg.Kafka.InputTopic, poisoned[cut:])
	opt.Config = cfg
	s = startStages(t, context.Background(), opt, true, true)
	waitRecords(t, conn, cfg, want, 90*time.Second)
	s.stop(t)
	if late := counterValue(m.Late); late != float64(wantSum.Late) {
		t.Errorf("%.0f check-ins late in all, %d without the poisoned record", late, wantSum.Late)
	}
	checkOutput(t, conn, cfg, want)
}

// TestFewUsersStillAdvance: a raw partition whose only new records come from fewer users
// than window.watermark_users (one device sending all the time) cannot move its
// watermark with them, and is never idle for want of records; idle_advance still bounds
// how long it holds windows back, so the last windows of the city close.
func TestFewUsersStillAdvance(t *testing.T) {
	cfg := streamConfig(t)
	lines := cityLines(t, 600, 2)
	want := evaluateRecords(t, cfg, lines)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	// One user, live, on raw partition 0 (the key decides: find one that hashes there).
	user := ""
	for i := 0; user == ""; i++ {
		if u := fmt.Sprintf("device-%d", i); (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(u)}, 0, 1, 2, 3) == 0 {
			user = u
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := conn.Writer(cfg.Kafka.InputTopic, nil)
		defer w.Close()
		for i := 0; ; i++ {
			line := fmt.Sprintf(`{"event_id":"live-%d","user_id":%q,"lat":-33.9,"lng":18.4,"ts":%q}`, i, user, time.Now().UTC().Format(time.RFC3339Nano))
			if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(user), Value: []byte(line)}); err != nil && ctx.Err() != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond): // a live device, not a synchronization
			}
		}
	}()
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, MaxWait: 100 * time.Millisecond}
	s := startStages(t, context.Background(), opt, true, true)
	waitRecords(t, conn, cfg, want, 60*time.Second)
	cancel()
	<-done
	s.stop(t)
	checkOutput(t, conn, cfg, want)
}
