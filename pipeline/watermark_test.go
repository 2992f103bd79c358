package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
)

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
			opt := cloak.EvalOptions{Partitions: partitions}
			if partitions > 0 {
				opt.Partition = testPartitioner(t, "fnv1a", partitions)
			}
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
func evaluateRaw(t *testing.T, cfg *config.Config, lines [][]byte, opt cloak.EvalOptions) (map[string][]string, *cloak.Summary) {
	t.Helper()
	pols := cloak.NewPolicies(cfg)
	out, bufs := cloak.NewBufferOutput(pols, nil)
	opt.Config, opt.Key = cfg, testStageKey
	sum, err := cloak.Evaluate(context.Background(), bytes.NewReader(append(bytes.Join(lines, []byte("\n")), '\n')), opt, out)
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
	want, wantSum := evaluateRaw(t, cfg, clean, cloak.EvalOptions{Partitions: cfg.Kafka.Partitions.Input, Partition: testPartitioner(t, "fnv1a", cfg.Kafka.Partitions.Input)})
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
