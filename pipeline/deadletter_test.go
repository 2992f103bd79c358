package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestOversizedDeadLetters: invalid records larger than the dead-letter topic takes (the
// raw topic takes records of up to 8 MiB, input.max_record_bytes is 16 MiB) are
// dead-lettered without their payload, with a header saying why, instead of being
// retried forever while every window waits. One is larger than the topic said it takes
// when the stage started (refused by the client at once), one larger than the limit the
// topic was given afterwards (refused by the broker). The rest flows as evaluate says.
func TestOversizedDeadLetters(t *testing.T) {
	cfg := streamConfig(t)
	cfg.Input.MaxRecordBytes = 16 << 20
	c := cluster(t)
	conn, err := Dial(context.Background(), cfg.Kafka, c.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = conn.client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: cfg.Kafka.InputTopic, NumPartitions: cfg.Kafka.Partitions.Input, ReplicationFactor: -1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: fmt.Sprint(8 << 20)}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.EnsureTopics(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	huge := func(id string, n int) []byte {
		return fmt.Appendf(nil, `{"event_id":%q,"user_id":"x","lat":91,"lng":4.8,"ts":"2026-03-02T10:00:00Z","caption":"%s"}`, id, strings.Repeat("A", n))
	}
	lines := cityLines(t, 400, 2)
	all := append(append(append([][]byte(nil), lines[:len(lines)/2]...), huge("huge", 2<<20), huge("large", 300<<10)), lines[len(lines)/2:]...)
	want := evaluateRecords(t, cfg, all)
	m := NewMetrics(nil)
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, Metrics: m, MaxWait: 100 * time.Millisecond}
	s := startStages(t, context.Background(), opt, true, true)
	// The ingest stage has read the dead-letter topic's limit (1 MB, Kafka's default);
	// now the topic takes less.
	res, err := conn.client.AlterConfigs(context.Background(), &kafka.AlterConfigsRequest{Resources: []kafka.AlterConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: cfg.Kafka.DeadLetterTopic,
		Configs: []kafka.AlterConfigRequestConfig{{Name: "max.message.bytes", Value: fmt.Sprint(100 << 10)}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range res.Errors {
		if err != nil {
			t.Fatal(err)
		}
	}
	w := conn.Writer(cfg.Kafka.InputTopic, nil)
	w.BatchBytes = 8 << 20
	defer w.Close()
	for i := 0; i < len(all); i += 100 {
		var msgs []kafka.Message
		for _, l := range all[i:min(i+100, len(all))] {
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(len(l) % 97)), Value: l})
		}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
	waitRecords(t, conn, cfg, want, 60*time.Second)
	s.stop(t)
	checkOutput(t, conn, cfg, want)
	var letters []string
	retryTest(t, func() error {
		letters = nil
		return conn.ReadTopic(context.Background(), cfg.Kafka.DeadLetterTopic, func(_ int, key, value []byte, _ time.Time) error {
			letters = append(letters, fmt.Sprintf("key %d bytes, value %d bytes", len(key), len(value)))
			return nil
		})
	})
	hdrs := deadLetterHeaders(t, conn, cfg.Kafka.DeadLetterTopic)
	if len(hdrs) != 2 || len(letters) != 2 {
		t.Fatalf("dead letters: %v, headers %v; want the two invalid records", letters, hdrs)
	}
	for i, h := range hdrs {
		if h[HeaderPayload] != payloadDropped || h[HeaderPayloadReason] != droppedTooLarge || !strings.Contains(h[HeaderReason], "latitude out of range") {
			t.Errorf("dead letter %d (%s): headers %v; want its reason and the payload dropped as too large", i, letters[i], h)
		}
		if letters[i] != "key 0 bytes, value 0 bytes" {
			t.Errorf("dead letter %d holds %s", i, letters[i])
		}
	}
}

// deadLetterHeaders reads the headers of every dead letter.
func deadLetterHeaders(t *testing.T, conn *Conn, topic string) []map[string]string {
	t.Helper()
	n, err := conn.Partitions(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
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
			h := make(map[string]string)
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			out = append(out, h)
		}
	}
	return out
}
