package pipeline

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/geo"
)

// TestStreamMultiCell: the synthetic region spans many partition cells, with users who
// cross them within a window; spread over 8 internal partitions held by two cloak
// instances (and two ingest instances), the partner topics, deduplicated by key, equal
// evaluate record for record. Every tie-break uses only the events of one partition
// cell, so which cells an instance holds changes nothing.
func TestStreamMultiCell(t *testing.T) {
	cfg := streamConfig(t)
	cfg.Kafka.Partitions.Internal = 8
	lines := cityLines(t, 2000, 2)

	// The data must really span partition cells, with users in several of them in one
	// window: otherwise the test proves nothing.
	cells := make(map[geo.Cell]bool)
	type userWindow struct {
		user  string
		start int64
	}
	seen := make(map[userWindow]geo.Cell)
	crossers := 0
	for _, l := range lines {
		var r struct {
			User string  `json:"user_id"`
			Lat  float64 `json:"lat"`
			Lng  float64 `json:"lng"`
			TS   string  `json:"ts"`
		}
		if json.Unmarshal(l, &r) != nil {
			continue
		}
		p, err := geo.NewPoint(r.Lat, r.Lng)
		ts, err2 := time.Parse(time.RFC3339Nano, r.TS)
		if err != nil || err2 != nil {
			continue
		}
		c, _ := geo.CellOf(p, cfg.PartitionResolution)
		cells[c] = true
		uw := userWindow{r.User, cloak.WindowStart(ts.UnixMilli(), cfg.Window.Size.D().Milliseconds())}
		if prev, ok := seen[uw]; ok && prev != c {
			crossers++
			seen[uw] = c
		} else if !ok {
			seen[uw] = c
		}
	}
	parts := make(map[int]bool)
	for c := range cells {
		parts[internalPartition(c, cfg.PartitionResolution, cfg.Kafka.Partitions.Internal)] = true
	}
	if len(cells) < 8 || len(parts) < 4 || crossers == 0 {
		t.Fatalf("the data spans %d partition cells on %d internal partitions, %d user-windows cross cells: too few", len(cells), len(parts), crossers)
	}
	t.Logf("%d check-ins over %d partition cells, %d internal partitions; %d user-windows cross partition cells", len(lines), len(cells), len(parts), crossers)

	want := evaluateRecords(t, cfg, lines)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming,
		MaxWait: 100 * time.Millisecond, FetchBytes: 32 << 10}
	a := opt
	a.ID = "a"
	b := opt
	b.ID = "b"
	s1 := startStages(t, context.Background(), a, true, true)
	s2 := startStages(t, context.Background(), b, true, true)
	waitRecords(t, conn, cfg, want, 120*time.Second)
	s2.stop(t)
	s1.stop(t)
	checkOutput(t, conn, cfg, want)
}
