package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/synth"
)

// The rebalance timeout is shorter than the session timeout, as in DefaultGroupTiming.
var testTiming = GroupTiming{Session: 6 * time.Second, Heartbeat: 300 * time.Millisecond, Rebalance: 3 * time.Second, JoinBackoff: 200 * time.Millisecond}

var testStageKey = []byte("stage-test-pseudonym-key-0123456789")

// cluster starts an in-memory Kafka-protocol broker on a random port.
func cluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// streamConfig is the three-partner city policy with small topics and a short idle
// advance, so that a replay finishes quickly once every partition is read.
func streamConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load("../testdata/city.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Window.IdleAdvance = config.Duration(time.Second)
	cfg.Kafka.Partitions = config.Partitions{Input: 4, Internal: 3, Partner: 2}
	cfg.Kafka.MaxBufferedEvents = config.MinBufferedEvents
	return cfg
}

// cityLines is a small synthetic city without late or invalid records.
func cityLines(t *testing.T, users, days int) [][]byte {
	t.Helper()
	sc := synth.DefaultConfig()
	sc.Users, sc.Days, sc.Seed = users, days, 7
	var b bytes.Buffer
	if _, err := synth.Generate(sc, &b); err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n"))
}

// evaluateRecords runs evaluate on lines and returns each partner's records.
func evaluateRecords(t *testing.T, cfg *config.Config, lines [][]byte) map[string][]string {
	t.Helper()
	pols := cloak.NewPolicies(cfg)
	out, bufs := cloak.NewBufferOutput(pols, nil)
	_, err := cloak.Evaluate(context.Background(), bytes.NewReader(append(bytes.Join(lines, []byte("\n")), '\n')),
		cloak.EvalOptions{Config: cfg, Key: testStageKey}, out)
	if err != nil {
		t.Fatal(err)
	}
	out.Flush()
	res := make(map[string][]string)
	for i, p := range pols {
		res[p.Name] = strings.Split(strings.TrimSpace(bufs[i].String()), "\n")
		if res[p.Name][0] == "" {
			res[p.Name] = nil
		}
		slices.Sort(res[p.Name])
	}
	return res
}

func dialTest(t *testing.T, c *kfake.Cluster, cfg *config.Config) *Conn {
	t.Helper()
	conn, err := Dial(context.Background(), cfg.Kafka, c.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := conn.EnsureTopics(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return conn
}

// produce writes raw check-ins keyed by user, as the app would.
func produce(t *testing.T, conn *Conn, topic string, lines [][]byte) {
	t.Helper()
	w := conn.Writer(topic, nil)
	defer w.Close()
	msgs := make([]kafka.Message, len(lines))
	for i, l := range lines {
		var rec struct {
			User string `json:"user_id"`
		}
		json.Unmarshal(l, &rec)
		msgs[i] = kafka.Message{Key: []byte(rec.User), Value: l}
	}
	// Small writes make small record batches, so that small fetches really are small.
	for i := 0; i < len(msgs); i += 100 {
		if err := w.WriteMessages(context.Background(), msgs[i:min(i+100, len(msgs))]...); err != nil {
			t.Fatal(err)
		}
	}
}

// partnerRecords reads every record of a partner topic: key → values seen.
func partnerRecords(t *testing.T, conn *Conn, topic string) map[string][]string {
	t.Helper()
	var out map[string][]string
	retryTest(t, func() error {
		out = make(map[string][]string)
		return conn.ReadTopic(context.Background(), topic, func(_ int, key, value []byte, ts time.Time) error {
			out[string(key)] = append(out[string(key)], string(value))
			// G5: the key is partner/window start/cell[/index] and the timestamp the window
			// end, both taken from the record itself: nothing derived from a user.
			var rec struct {
				Cell  string `json:"cell"`
				Start string `json:"window_start"`
				End   string `json:"window_end"`
			}
			if err := json.Unmarshal(value, &rec); err != nil {
				return err
			}
			start, _ := time.Parse(time.RFC3339, rec.Start)
			end, _ := time.Parse(time.RFC3339, rec.End)
			partner := strings.TrimPrefix(topic, "sanitized.")
			prefix := fmt.Sprintf("%s/%d/%s", partner, start.Unix(), rec.Cell)
			if rec.Cell == "" { // a policy without cell: partner/x and 16 hex digits
				if k, ok := strings.CutPrefix(string(key), partner+"/x"); !ok || len(k) != 16 || strings.Trim(k, "0123456789abcdef") != "" {
					return fmt.Errorf("G5: key %q of a record without cell is not opaque", key)
				}
			} else if k := string(key); k != prefix && !strings.HasPrefix(k, prefix+"/") {
				return fmt.Errorf("G5: key %q does not derive from the record %s", key, value)
			}
			if !ts.Equal(end) {
				return fmt.Errorf("G5: timestamp %s is not the window end %s", ts, rec.End)
			}
			return nil
		})
	})
	return out
}

// retryTest runs fn until it succeeds, for a few seconds: a test's own reads meet the
// same dropped connections (broker restarts, cut connections) as the stages.
func retryTest(t *testing.T, fn func() error) {
	t.Helper()
	var err error
	for range 50 {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(err)
}

// topicSize is the number of messages in topic (sum of high watermarks).
func topicSize(t *testing.T, conn *Conn, topic string) int64 {
	t.Helper()
	var res *kafka.ListOffsetsResponse
	retryTest(t, func() error {
		var err error
		res, err = conn.client.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{
			Topics: map[string][]kafka.OffsetRequest{topic: partitionsLast(t, conn, topic)},
		})
		return err
	})
	var n int64
	for _, p := range res.Topics[topic] {
		n += p.LastOffset
	}
	return n
}

func partitionsLast(t *testing.T, conn *Conn, topic string) []kafka.OffsetRequest {
	var n int
	retryTest(t, func() error {
		var err error
		n, err = conn.Partitions(context.Background(), topic)
		return err
	})
	var out []kafka.OffsetRequest
	for p := range n {
		out = append(out, kafka.LastOffsetOf(p))
	}
	return out
}

// dedupe checks that no key has two contents (G3) and returns the values, one per key,
// sorted.
func dedupe(t *testing.T, partner string, recs map[string][]string) []string {
	t.Helper()
	var out []string
	for k, vs := range recs {
		for _, v := range vs[1:] {
			if v != vs[0] {
				t.Fatalf("G3: partner %s key %s has two contents:\n%s\n%s", partner, k, vs[0], v)
			}
		}
		out = append(out, vs[0])
	}
	sort.Strings(out)
	return out
}

type stageSet struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stops  []func()
	errs   chan error
}

// start runs an ingest and/or a cloak instance; ctx cancellation is a hard stop.
func startStages(t *testing.T, ctx context.Context, opt StageOptions, ingest, cloak bool) *stageSet {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	s := &stageSet{cancel: cancel, errs: make(chan error, 2)}
	if ingest {
		in, err := NewIngest(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		s.stops = append(s.stops, in.Stop)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.errs <- in.Run(ctx) }()
	}
	if cloak {
		cl, err := NewCloak(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		s.stops = append(s.stops, cl.Stop)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.errs <- cl.Run(ctx) }()
	}
	return s
}

// stop stops gracefully and waits.
func (s *stageSet) stop(t *testing.T) {
	t.Helper()
	for _, f := range s.stops {
		f()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("stages did not stop within 30s")
	}
	s.cancel()
	close(s.errs)
	for err := range s.errs {
		if err != nil {
			t.Errorf("stage: %v", err)
		}
	}
}

// kill stops at once, without committing or flushing: a crash.
func (s *stageSet) kill() {
	s.cancel()
	s.wg.Wait()
}

// waitRecords waits until every partner topic holds at least want[partner] distinct
// keys (duplicates of a re-release do not count).
func waitRecords(t *testing.T, conn *Conn, cfg *config.Config, want map[string][]string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		var status []string
		for _, p := range cfg.Partners {
			n := len(want[p.Name])
			if topicSize(t, conn, p.Topic) >= int64(n) {
				n = len(partnerRecords(t, conn, p.Topic))
			} else {
				n = -1
			}
			status = append(status, fmt.Sprintf("%s %d/%d", p.Name, n, len(want[p.Name])))
			if n < len(want[p.Name]) {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("partner topics incomplete after %s: %s", timeout, strings.Join(status, ", "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func testLogger(t *testing.T) zerolog.Logger {
	if testing.Verbose() {
		return zerolog.New(zerolog.NewConsoleWriter(func(w *zerolog.ConsoleWriter) { w.Out = testWriter{t} })).Level(zerolog.InfoLevel)
	}
	return zerolog.Nop()
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestStreamMatchesEvaluate: a file replayed through Kafka, with raw partitions read at
// very different speeds, gives each partner exactly the records evaluate gives.
func TestStreamMatchesEvaluate(t *testing.T) {
	cfg := streamConfig(t)
	lines := cityLines(t, 600, 3)
	want := evaluateRecords(t, cfg, lines)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)

	// Small fetches; raw partition 0 is read one small fetch every 100 ms, long after the
	// others have been read to the end and gone idle (their watermarks then jump to the
	// wall clock): windows must wait for partition 0 and lose nothing.
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming,
		MaxWait: 100 * time.Millisecond, FetchBytes: 16 << 10,
		FetchDelay: func(p int) time.Duration {
			if p == 0 {
				return 100 * time.Millisecond
			}
			return 0
		}}
	s := startStages(t, context.Background(), opt, true, true)
	waitRecords(t, conn, cfg, want, 90*time.Second)
	s.stop(t)
	checkOutput(t, conn, cfg, want)
}

// TestCrashRestart: the job is stopped without shutdown three times in the middle of
// windows and restarted; deduplicated by key, the partner topics equal evaluate's output,
// and no key ever has two contents (G3).
func TestCrashRestart(t *testing.T) {
	cfg := streamConfig(t)
	lines := cityLines(t, 600, 3)
	want := evaluateRecords(t, cfg, lines)
	total := recordCount(want)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming,
		MaxWait: 100 * time.Millisecond, FetchBytes: 16 << 10,
		FetchDelay: func(int) time.Duration { return 20 * time.Millisecond }}
	for i, frac := range []float64{0.2, 0.45, 0.7} {
		s := startStages(t, context.Background(), opt, true, true)
		waitTotal(t, conn, cfg, int64(frac*float64(total)), 60*time.Second)
		s.kill()
		t.Logf("crash %d at %.0f%% of the records", i+1, 100*frac)
	}
	s := startStages(t, context.Background(), opt, true, true)
	waitRecords(t, conn, cfg, want, 90*time.Second)
	s.stop(t)
	dups := 0
	for _, p := range cfg.Partners {
		recs := partnerRecords(t, conn, p.Topic)
		for _, vs := range recs {
			dups += len(vs) - 1
		}
		got := dedupe(t, p.Name, recs)
		if !slices.Equal(got, want[p.Name]) {
			t.Errorf("partner %s: %d distinct records after crashes, %d from evaluate", p.Name, len(got), len(want[p.Name]))
		}
	}
	t.Logf("%d records were released again with the same key and content", dups)
}

// waitTotal waits until the partner topics hold n records in all.
func waitTotal(t *testing.T, conn *Conn, cfg *config.Config, n int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var got int64
		for _, p := range cfg.Partners {
			got += topicSize(t, conn, p.Topic)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d records after %s", got, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCloakInstanceLeaves: two cloak instances share the internal partitions; one
// leaves mid-stream and the other takes its partitions over from their commits.
func TestCloakInstanceLeaves(t *testing.T) {
	cfg := streamConfig(t)
	cfg.Kafka.Partitions.Internal = 4
	lines := cityLines(t, 600, 3)
	want := evaluateRecords(t, cfg, lines)
	total := recordCount(want)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming,
		MaxWait: 100 * time.Millisecond, FetchBytes: 16 << 10,
		FetchDelay: func(int) time.Duration { return 20 * time.Millisecond }}
	in := startStages(t, context.Background(), opt, true, false)
	optA, optB := opt, opt
	optA.ID, optB.ID = "a", "b"
	a := startStages(t, context.Background(), optA, false, true)
	b := startStages(t, context.Background(), optB, false, true)
	waitTotal(t, conn, cfg, int64(total)/3, 60*time.Second)
	b.stop(t)
	waitRecords(t, conn, cfg, want, 90*time.Second)
	a.stop(t)
	in.stop(t)
	checkOutput(t, conn, cfg, want)
}

// TestBadInputThroughKafka: invalid JSON, missing fields, NaN and out-of-range
// coordinates, far-future times and oversized messages each end in the dead-letter topic
// with a reason; nothing crashes, and the rest flows exactly as evaluate says.
func TestBadInputThroughKafka(t *testing.T) {
	cfg := streamConfig(t)
	lines := cityLines(t, 400, 2)
	bad := map[string]string{
		`{"event_id":"b1","user_id":"x","lat":45.7,"lng":4.8,"ts":"2026-03-02T10:00:00Z"`: "not valid JSON",
		`not json at all`: "not a JSON object",
		`{"event_id":"b3","lat":45.7,"lng":4.8,"ts":"2026-03-02T10:00:00Z"}`:                                                              "user_id: missing",
		`{"event_id":"b4","user_id":"x","lat":NaN,"lng":4.8,"ts":"2026-03-02T10:00:00Z"}`:                                                 "lat: must be a JSON number",
		`{"event_id":"b5","user_id":"x","lat":91,"lng":4.8,"ts":"2026-03-02T10:00:00Z"}`:                                                  "lat/lng: latitude out of range [-90, 90]",
		`{"event_id":"b6","user_id":"x","lat":45.7,"lng":-181,"ts":"2026-03-02T10:00:00Z"}`:                                               "lat/lng: longitude out of range [-180, 180]",
		`{"event_id":"b7","user_id":"x","lat":45.7,"lng":4.8,"ts":"2126-03-02T10:00:00Z"}`:                                                "time: later than now + input.max_future",
		`{"event_id":"b8","user_id":"x","lat":45.7,"lng":4.8,"ts":"2026-03-02T10:00:00Z","caption":"` + strings.Repeat("A", 70000) + `"}`: "record larger than input.max_record_bytes",
		`{"event_id":"b9","user_id":"x","lat":"45.7","lng":4.8,"ts":"2026-03-02T10:00:00Z"}`:                                              "lat: must be a JSON number",
		"{\"event_id\":\"b10\",\"user_id\":\"x\",\"lat\":45.7,\"lng\":4.8,\"ts\":\"2026-03-02T10:00:00Z\",\"venue_category\":\"\xff\"}":   "category: not valid UTF-8",
	}
	var all [][]byte
	i := 0
	for l := range bad {
		// Spread the bad records through the stream.
		all = append(all, lines[i*len(lines)/len(bad):(i+1)*len(lines)/len(bad)]...)
		all = append(all, []byte(l))
		i++
	}
	want := evaluateRecords(t, cfg, all)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, all)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, MaxWait: 100 * time.Millisecond}
	s := startStages(t, context.Background(), opt, true, true)
	waitRecords(t, conn, cfg, want, 60*time.Second)
	s.stop(t)
	checkOutput(t, conn, cfg, want)
	dl := deadLetters(t, conn, cfg.Kafka.DeadLetterTopic)
	if len(dl) != len(bad) {
		t.Errorf("%d dead letters, want %d", len(dl), len(bad))
	}
	for payload, reason := range bad {
		got, ok := dl[payload]
		if reason == "record larger than input.max_record_bytes" {
			got, ok = dl[""] // its payload is not kept
		}
		if !ok || !strings.Contains(got, reason) {
			t.Errorf("dead letter for %.60q: reason %q, want %q", payload, got, reason)
		}
	}
}

// deadLetters reads the dead-letter topic: payload → reason header.
func deadLetters(t *testing.T, conn *Conn, topic string) map[string]string {
	t.Helper()
	n, err := conn.Partitions(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for p := range n {
		res, err := conn.client.Fetch(context.Background(), &kafka.FetchRequest{Topic: topic, Partition: p, Offset: 0, MaxBytes: 8 << 20, MaxWait: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		for {
			r, err := res.Records.ReadRecord()
			if err != nil {
				break
			}
			v, _ := readBytes(r.Value, nil)
			reason, source := "", ""
			for _, h := range r.Headers {
				switch h.Key {
				case HeaderReason:
					reason = string(h.Value)
				case HeaderSource:
					source = string(h.Value)
				}
			}
			if !strings.HasPrefix(source, "checkins.raw/") {
				t.Errorf("dead letter without its source: %q", source)
			}
			out[string(v)] = reason
		}
	}
	return out
}

// TestBufferCap: with one raw partition held back, no window can close and events pile
// up; at kafka.max_buffered_events the cloak pauses taking events instead of growing, never
// releases early and never drops: once the partition is read, the output equals
// evaluate's.
func TestBufferCap(t *testing.T) {
	cfg := streamConfig(t)
	cfg.Kafka.MaxBufferedEvents = config.MinBufferedEvents
	lines := cityLines(t, 4000, 2)
	want := evaluateRecords(t, cfg, lines)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	m := NewMetrics(nil)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, Metrics: m,
		MaxWait: 100 * time.Millisecond, FetchBytes: 64 << 10}
	// Raw partition 0 is not read until the cap has been reached: the three others hold
	// about 12,000 of the 16,000 check-ins, over the cap of 10,000.
	unblock := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(unblock) }) }
	defer release()
	optIn := opt
	optIn.FetchDelay = func(p int) time.Duration {
		if p == 0 {
			<-unblock
		}
		return 0
	}
	in := startStages(t, context.Background(), optIn, true, false)
	s := startStages(t, context.Background(), opt, false, true)
	var peak float64
	stopPeak := make(chan struct{})
	peakDone := make(chan struct{})
	go func() {
		defer close(peakDone)
		for {
			select {
			case <-stopPeak:
				return
			case <-time.After(5 * time.Millisecond):
				peak = max(peak, gaugeValue(m.Buffered))
			}
		}
	}()
	for deadline := time.Now().Add(60 * time.Second); counterValue(m.Pauses) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the cap of %d events was never reached (peak %.0f)", cfg.Kafka.MaxBufferedEvents, peak)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := topicSize(t, conn, cfg.Partners[0].Topic); n != 0 {
		t.Errorf("%d records released while a raw partition had not been read", n)
	}
	release()
	waitRecords(t, conn, cfg, want, 120*time.Second)
	close(stopPeak)
	<-peakDone
	s.stop(t)
	in.stop(t)
	if counterValue(m.Pauses) == 0 {
		t.Errorf("the cap of %d events was never reached (peak %.0f): the test does not test it", cfg.Kafka.MaxBufferedEvents, peak)
	}
	// A message in flight may carry a few thousand events past the cap; never more.
	if limit := float64(cfg.Kafka.MaxBufferedEvents + 8000); peak > limit {
		t.Errorf("buffered up to %.0f events; cap %d", peak, cfg.Kafka.MaxBufferedEvents)
	}
	checkOutput(t, conn, cfg, want)
	t.Logf("peak %.0f buffered events, %.0f pauses, %d check-ins", peak, counterValue(m.Pauses), len(lines))
}

// TestDPReReleaseIdentical: noisy counts cannot be drawn again identically, so a dp
// window released before a restart whose commit was lost is released again from the
// records already written. Here every commit is lost (a new consumer group on the same
// topics): the dp partner's keys must keep their contents (G3).
func TestDPReReleaseIdentical(t *testing.T) {
	cfg := streamConfig(t)
	for i := range cfg.Partners {
		if cfg.Partners[i].Mode == config.ModeCounts {
			// at one resolution, the noise of epsilon 1 (the most a dp partner with
			// classes of its own may have) and a large delta: many classes pass
			cfg.Partners[i].DP = &config.DP{Epsilon: 1, Delta: 1e-3}
			cfg.Partners[i].MaxResolution = cfg.Partners[i].MinResolution
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	lines := cityLines(t, 3000, 1)
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	want := evaluateRecords(t, cfg, lines)
	var plain []config.Partner
	for _, p := range cfg.Partners {
		if p.DP == nil {
			plain = append(plain, p)
		}
	}
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, MaxWait: 100 * time.Millisecond}
	run := func(group string) {
		c := *cfg
		c.Kafka.GroupID = group
		o := opt
		o.Config = &c
		s := startStages(t, context.Background(), o, true, true)
		onlyPlain := c
		onlyPlain.Partners = plain
		waitRecords(t, conn, &onlyPlain, want, 60*time.Second)
		time.Sleep(time.Second) // the dp partner's windows close in the same rounds
		s.stop(t)
	}
	run("first")
	dpTopic := ""
	for _, p := range cfg.Partners {
		if p.DP != nil {
			dpTopic = p.Topic
		}
	}
	before := partnerRecords(t, conn, dpTopic)
	if len(before) == 0 {
		t.Fatal("the dp partner received nothing")
	}
	run("second")
	after := partnerRecords(t, conn, dpTopic)
	dedupe(t, "dp", after) // no key with two contents
	again := 0
	for k, vs := range after {
		if len(vs) > 1 && len(before[k]) == 1 {
			again++
		}
	}
	if again == 0 {
		t.Error("nothing was released again: the test does not exercise the read-back")
	}
	t.Logf("%d dp records before, %d keys after, %d released again identically", len(before), len(after), again)
}

// TestStreamMatchesPartitionedEvaluate: with check-ins late by up to 90 minutes, the
// stream's lateness (judged per raw partition) differs from evaluate's on the file as a
// whole; evaluate told the partition count and the producer's partitioner judges it
// exactly as the stream does, and the outputs are equal.
func TestStreamMatchesPartitionedEvaluate(t *testing.T) {
	cfg := streamConfig(t)
	sc := synth.DefaultConfig()
	sc.Users, sc.Days, sc.Seed, sc.LateFraction = 600, 3, 9, 0.03
	var buf bytes.Buffer
	if _, err := synth.Generate(sc, &buf); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	evaluateWith := func(opt cloak.EvalOptions) map[string][]string {
		pols := cloak.NewPolicies(cfg)
		out, bufs := cloak.NewBufferOutput(pols, nil)
		opt.Config, opt.Key = cfg, testStageKey
		if _, err := cloak.Evaluate(context.Background(), bytes.NewReader(buf.Bytes()), opt, out); err != nil {
			t.Fatal(err)
		}
		out.Flush()
		res := make(map[string][]string)
		for i, p := range pols {
			res[p.Name] = strings.Split(strings.TrimSpace(bufs[i].String()), "\n")
			slices.Sort(res[p.Name])
		}
		return res
	}
	whole := evaluateWith(cloak.EvalOptions{})
	want := evaluateWith(cloak.EvalOptions{Partitions: cfg.Kafka.Partitions.Input, Partition: testPartitioner(t, "fnv1a", cfg.Kafka.Partitions.Input)}) // produce() uses kafka-go's Hash
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, MaxWait: 100 * time.Millisecond}
	s := startStages(t, context.Background(), opt, true, true)
	waitRecords(t, conn, cfg, want, 90*time.Second)
	s.stop(t)
	differs := false
	for _, p := range cfg.Partners {
		got := dedupe(t, p.Name, partnerRecords(t, conn, p.Topic))
		if !slices.Equal(got, want[p.Name]) {
			t.Errorf("partner %s: %d records through Kafka, %d from evaluate --partitions", p.Name, len(got), len(want[p.Name]))
		}
		differs = differs || !slices.Equal(got, whole[p.Name])
	}
	if !differs {
		t.Error("evaluate on the whole file gives the same records: the late check-ins do not exercise the partitioned judgement")
	}
}

// With kafka.dead_letter_payloads false, dead letters keep only their reason and source:
// the dead-letter topic holds no personal data.
func TestDeadLettersWithoutPayloads(t *testing.T) {
	cfg := streamConfig(t)
	cfg.Kafka.DeadLetterPayloads = false
	lines := append(cityLines(t, 100, 1)[:200], []byte(`{"event_id":"bad","user_id":"SENTINEL-user","lat":91,"lng":4.8,"ts":"2026-03-02T10:00:00Z"}`))
	c := cluster(t)
	conn := dialTest(t, c, cfg)
	produce(t, conn, cfg.Kafka.InputTopic, lines)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, MaxWait: 100 * time.Millisecond}
	s := startStages(t, context.Background(), opt, true, false)
	deadline := time.Now().Add(30 * time.Second)
	for topicSize(t, conn, cfg.Kafka.DeadLetterTopic) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no dead letter")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop(t)
	dl := deadLetters(t, conn, cfg.Kafka.DeadLetterTopic)
	if reason, ok := dl[""]; len(dl) != 1 || !ok || !strings.Contains(reason, "latitude out of range") {
		t.Fatalf("dead letters by payload: %v; want one, without payload", dl)
	}
	// Nor the key: it is the user id.
	retryTest(t, func() error {
		return conn.ReadTopic(context.Background(), cfg.Kafka.DeadLetterTopic, func(_ int, key, value []byte, _ time.Time) error {
			if len(key) > 0 || len(value) > 0 {
				t.Errorf("dead letter holds key %q, value %q", key, value)
			}
			return nil
		})
	})
}

// recordCount is the number of records of all partners.
func recordCount(want map[string][]string) int {
	n := 0
	for _, r := range want {
		n += len(r)
	}
	return n
}

// testPartitioner is a producer's partitioner, for evaluate to judge lateness per raw
// partition as the stream does.
func testPartitioner(t testing.TB, name string, n int) func([]byte) int {
	t.Helper()
	p, err := Partitioner(name, n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
