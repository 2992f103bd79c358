package pipeline

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
)

// checkOutput is what every fault test asserts once the job has caught up: each
// partner's records, deduplicated by key, are exactly evaluate's on the same input (so
// every event is accounted for, G4, and nothing was released below k, G1), no key has
// two contents (G3), and counts records carry at least k users.
func checkOutput(t *testing.T, conn *Conn, cfg *config.Config, want map[string][]string) {
	t.Helper()
	for _, p := range cfg.Partners {
		got := dedupe(t, p.Name, partnerRecords(t, conn, p.Topic))
		if !slices.Equal(got, want[p.Name]) {
			t.Errorf("partner %s: %d records, fault-free evaluate gives %d", p.Name, len(got), len(want[p.Name]))
		}
		if p.Mode != config.ModeCounts {
			continue
		}
		for _, v := range got {
			var rec struct{ Users int }
			if err := json.Unmarshal([]byte(v), &rec); err != nil || rec.Users < p.K {
				t.Fatalf("G1: counts record %s below k=%d", v, p.K)
			}
		}
	}
}

// produceErrors makes the broker answer produce requests to topic with err while
// blocked is set; it counts the requests refused.
func produceErrors(c *kfake.Cluster, topic string, blocked *atomic.Bool, refused *atomic.Int64, err *kerr.Error) {
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.ProduceRequest)
		if !blocked.Load() || !slices.ContainsFunc(r.Topics, func(t kmsg.ProduceRequestTopic) bool { return t.Topic == topic }) {
			return nil, nil, false
		}
		refused.Add(1)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = err.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
}

// TestPartnerTopicUnwritable: while a partner topic refuses writes, the job holds its
// offsets and retries; nothing is skipped and nothing of the blocked windows reaches
// any partner out of order; once the topic takes writes again, the output is complete.
func TestPartnerTopicUnwritable(t *testing.T) {
	cfg := streamConfig(t)
	lines := cityLines(t, 600, 3)
	want := evaluateRecords(t, cfg, lines)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	var blocked atomic.Bool
	var refused atomic.Int64
	blocked.Store(true)
	produceErrors(c, cfg.Partners[0].Topic, &blocked, &refused, kerr.TopicAuthorizationFailed)
	m := NewMetrics(nil)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, Metrics: m,
		MaxWait: 100 * time.Millisecond}
	s := startStages(t, context.Background(), opt, true, true)
	time.Sleep(3 * time.Second)
	if n := topicSize(t, conn, cfg.Partners[0].Topic); n != 0 {
		t.Fatalf("%d records reached the blocked topic", n)
	}
	// The cloak has not committed past what it could not release.
	committed, err := conn.committed(context.Background(), cfg.Kafka.GroupID+".cloak", cfg.Kafka.InternalTopic, []int{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	for p, o := range committed {
		if meta := parseCommitMeta(o.Metadata); meta.Released != nil && *meta.Released != cloak.NoWatermark {
			t.Errorf("internal partition %d committed a release (through %d) while a partner topic refused writes", p, *meta.Released)
		}
	}
	blocked.Store(false)
	waitRecords(t, conn, cfg, want, 90*time.Second)
	s.stop(t)
	checkOutput(t, conn, cfg, want)
	if refused.Load() == 0 || counterValue(m.Retries.WithLabelValues("cloak")) == 0 {
		t.Errorf("no write was refused (%d) or retried: the fault was not exercised", refused.Load())
	}
}

// TestBrokerRestart: the broker stops in the middle of the run and comes back on the same
// address with its data; the job reconnects and the result is unchanged.
func TestBrokerRestart(t *testing.T) {
	cfg := streamConfig(t)
	lines := cityLines(t, 600, 3)
	want := evaluateRecords(t, cfg, lines)
	total := recordCount(want)
	dir := t.TempDir()
	c1, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	addr := c1.ListenAddrs()[0]
	_, portText, _ := strings.Cut(addr, ":")
	port, _ := strconv.Atoi(portText)
	conn := dialTest(t, c1, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming,
		MaxWait: 100 * time.Millisecond, FetchBytes: 16 << 10, FetchDelay: func(int) time.Duration { return 20 * time.Millisecond }}
	s := startStages(t, context.Background(), opt, true, true)
	waitTotal(t, conn, cfg, int64(total)/3, 60*time.Second)
	c1.Close()
	time.Sleep(2 * time.Second) // the stages see connections refused
	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	waitRecords(t, conn, cfg, want, 120*time.Second)
	s.stop(t)
	checkOutput(t, conn, cfg, want)
}

// TestSlowAndDroppedConnections: fetches answer slowly and some connections are cut in
// the middle of requests; the result is unchanged.
func TestSlowAndDroppedConnections(t *testing.T) {
	cfg := streamConfig(t)
	lines := cityLines(t, 600, 3)
	want := evaluateRecords(t, cfg, lines)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	var fetches, cuts atomic.Int64
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		n := fetches.Add(1)
		if n > 400 {
			return nil, nil, false
		}
		if n%9 == 0 {
			cuts.Add(1)
			return nil, errConnectionCut, true // the connection is closed
		}
		c.SleepControl(func() { time.Sleep(150 * time.Millisecond) })
		return nil, nil, false
	})
	var produces atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if n := produces.Add(1); n <= 200 && n%7 == 0 {
			cuts.Add(1)
			return nil, errConnectionCut, true
		}
		return nil, nil, false
	})
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, MaxWait: 100 * time.Millisecond}
	s := startStages(t, context.Background(), opt, true, true)
	waitRecords(t, conn, cfg, want, 120*time.Second)
	s.stop(t)
	checkOutput(t, conn, cfg, want)
	if cuts.Load() == 0 {
		t.Error("no connection was cut: the fault was not exercised")
	}
	t.Logf("%d fetches slowed or cut, %d connections cut", min(fetches.Load(), 400), cuts.Load())
}

var errConnectionCut = kerr.NetworkException

// TestRebalanceDuringRelease: a second cloak instance joins while the first is in the
// middle of releasing windows (its partner writes are being refused and retried); the
// partitions move, the windows are released by their new owners, the result is unchanged.
func TestRebalanceDuringRelease(t *testing.T) {
	cfg := streamConfig(t)
	cfg.Kafka.Partitions.Internal = 4
	lines := cityLines(t, 600, 3)
	want := evaluateRecords(t, cfg, lines)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	var blocked atomic.Bool
	var refused atomic.Int64
	blocked.Store(true)
	produceErrors(c, cfg.Partners[1].Topic, &blocked, &refused, kerr.NotLeaderForPartition)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, MaxWait: 100 * time.Millisecond}
	in := startStages(t, context.Background(), opt, true, false)
	optA, optB := opt, opt
	optA.ID, optB.ID = "a", "b"
	a := startStages(t, context.Background(), optA, false, true)
	deadline := time.Now().Add(30 * time.Second)
	for refused.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no release was attempted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := startStages(t, context.Background(), optB, false, true) // joins mid-release
	time.Sleep(2 * time.Second)
	blocked.Store(false)
	waitRecords(t, conn, cfg, want, 90*time.Second)
	a.stop(t)
	b.stop(t)
	in.stop(t)
	checkOutput(t, conn, cfg, want)
}

// TestRetentionOvertakes: raw records deleted by retention before the ingest stage read
// them (the job was down longer than the topic keeps data) are counted as lost and logged;
// the stage goes on from the first record left instead of retrying forever.
func TestRetentionOvertakes(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.BrokerConfigs(map[string]string{"log.retention.ms": "300"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := streamConfig(t)
	conn := dialTest(t, c, cfg)
	lines := cityLines(t, 600, 1)
	first, second, third := lines[:300], lines[300:600], lines[600:900]
	m := NewMetrics(nil)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, Metrics: m, MaxWait: 100 * time.Millisecond}
	produce(t, conn, cfg.Kafka.InputTopic, first)
	in := startStages(t, context.Background(), opt, true, false)
	for deadline := time.Now().Add(30 * time.Second); counterValue(m.EventsIn.WithLabelValues("ingest")) < float64(len(first)); {
		if time.Now().After(deadline) {
			t.Fatal("the first records were not read")
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.stop(t) // commits after the first records
	produce(t, conn, cfg.Kafka.InputTopic, second)
	time.Sleep(time.Second)
	c.ApplyRetention() // the first and second records are gone; the second were never read
	produce(t, conn, cfg.Kafka.InputTopic, third)
	in = startStages(t, context.Background(), opt, true, false)
	want := float64(len(first) + len(third))
	for deadline := time.Now().Add(30 * time.Second); counterValue(m.EventsIn.WithLabelValues("ingest")) < want; {
		if time.Now().After(deadline) {
			t.Fatalf("read %.0f of %.0f records: stuck on the deleted offsets?", counterValue(m.EventsIn.WithLabelValues("ingest")), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.stop(t)
	if lost := counterValue(m.Lost.WithLabelValues("ingest")); lost != float64(len(second)) {
		t.Errorf("lost %.0f records, want the %d deleted before they were read", lost, len(second))
	}
}
