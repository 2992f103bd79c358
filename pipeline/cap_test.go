package pipeline

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/geocloak/geocloak/config"
)

// TestBufferCapLaggingPartition: raw partition 0 is produced only after the others (as
// in the issue: 15 s later), while the cloak is paused at its buffering cap, and it is
// read in one large round, so its watermark reaches the cloak far ahead of the windows
// the cloak passed over during the pause. Going back over them must not let that
// watermark close a window before all of its events are read again: no window is
// released with part of its events, and every event is accounted for by every partner.
func TestBufferCapLaggingPartition(t *testing.T) {
	cfg := streamConfig(t)
	cfg.Kafka.MaxBufferedEvents = config.MinBufferedEvents
	lines := cityLines(t, 4000, 2) // the others hold more than the cap
	want := evaluateRecords(t, cfg, lines)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	// produce() routes by kafka-go's Hash of the user id: split the lines the same way.
	var lagging, others [][]byte
	parts := make([]int, cfg.Kafka.Partitions.Input)
	for i := range parts {
		parts[i] = i
	}
	for _, l := range lines {
		var rec struct {
			User string `json:"user_id"`
		}
		json.Unmarshal(l, &rec)
		if (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(rec.User)}, parts...) == 0 {
			lagging = append(lagging, l)
		} else {
			others = append(others, l)
		}
	}
	m := NewMetrics(nil)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, Metrics: m,
		MaxWait: 50 * time.Millisecond}
	optIn := opt
	optIn.FetchBytes = 4 << 20 // a raw partition's whole backlog in one round
	produced := make(chan struct{})
	optIn.FetchDelay = func(p int) time.Duration {
		if p == 0 {
			<-produced // until all of it is there
		}
		return 0
	}
	optCloak := opt
	optCloak.FetchBytes = 4 << 10 // going back over what was passed takes many fetches
	in := startStages(t, context.Background(), optIn, true, false)
	defer func() {
		select {
		case <-produced:
		default:
			close(produced)
		}
	}()
	s := startStages(t, context.Background(), optCloak, false, true)
	// The others arrive as a live stream would (two hours at a time, each read before
	// the next is produced), so that the cloak's windows open one after the other and the
	// cap is reached with later windows still to come.
	read := 0
	for i := 0; i < len(others); {
		j := i
		for j < len(others) && eventTime(t, others[j]) < eventTime(t, others[i])+2*time.Hour.Milliseconds() {
			j++
		}
		produce(t, conn, cfg.Kafka.InputTopic, others[i:j])
		read += j - i
		waitFor(t, 30*time.Second, "ingest reads what was produced", func() bool {
			return counterValue(m.EventsIn.WithLabelValues("ingest")) >= float64(read)
		})
		i = j
	}
	waitFor(t, 30*time.Second, "the buffering cap", func() bool { return counterValue(m.Pauses) > 0 })
	if n := topicSize(t, conn, cfg.Partners[0].Topic); n != 0 {
		t.Fatalf("%d records released before raw partition 0 had any record", n)
	}
	produce(t, conn, cfg.Kafka.InputTopic, lagging)
	close(produced)
	partners := make([]string, len(cfg.Partners))
	for i, p := range cfg.Partners {
		partners[i] = p.Name
	}
	// Accounted for by every partner: never more than what came in, and once the last
	// window has closed, exactly what came in.
	settled := func() bool {
		tot := m.Totals(partners)
		for _, p := range partners {
			if a := tot.Accounted(p); a > tot.IngestIn {
				t.Fatalf("partner %s: %d events accounted for, %d in", p, a, tot.IngestIn)
			}
		}
		if tot.IngestIn < int64(len(lines)) || tot.Buffered > 0 {
			return false
		}
		for _, p := range partners {
			if tot.Accounted(p) != tot.IngestIn {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(90 * time.Second)
	for !settled() {
		if time.Now().After(deadline) {
			tot := m.Totals(partners)
			for _, p := range partners {
				t.Errorf("partner %s: %d of %d events accounted for (%d buffered)", p, tot.Accounted(p), tot.IngestIn, tot.Buffered)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop(t)
	in.stop(t)
	checkOutput(t, conn, cfg, want)
	t.Logf("%.0f pauses; %d check-ins, %d of them in the lagging partition", counterValue(m.Pauses), len(lines), len(lagging))
}

// eventTime is a test line's time, Unix ms.
func eventTime(t *testing.T, line []byte) int64 {
	t.Helper()
	var rec struct {
		TS time.Time `json:"ts"`
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.TS.UnixMilli()
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
