package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
)

// TestReadyzReasons: /readyz fails, saying why, while a partner topic keeps refusing
// writes and while a topic is missing; a topic the job created at start is recreated
// when it disappears (a broker restarted without its data), and the log says so.
func TestReadyzReasons(t *testing.T) {
	// No automatic topic creation (a client's metadata request would bring a deleted
	// topic back at once).
	b, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg, err := config.Load(cityConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.Brokers = b.ListenAddrs()
	cfg.Kafka.Partitions = config.Partitions{Input: 2, Internal: 2, Partner: 1}
	cfg.Window.IdleAdvance = config.Duration(time.Second)
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	admin := &kafka.Client{Addr: kafka.TCP(b.ListenAddrs()...), Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The raw topic exists before the job: it did not create it.
	if _, err := admin.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: cfg.Kafka.InputTopic, NumPartitions: 2, ReplicationFactor: -1}}}); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	j, err := newJob(ctx, cfg, zerolog.New(&logs), "")
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	j.health.FailAfter = time.Second
	j.topicCheck = 100 * time.Millisecond
	if err := j.serveOps("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	readyz := func() (int, string) { return httpGet(t, "http://"+j.opsAddr+"/readyz") }
	waitReady := func(what string, ok func(code int, body string) bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			code, body := readyz()
			if ok(code, body) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: /readyz still %d %q after 30s", what, code, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var blocked atomic.Bool
	blocked.Store(true)
	partner := cfg.Partners[0].Topic
	b.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		r := req.(*kmsg.ProduceRequest)
		if !blocked.Load() || !slices.ContainsFunc(r.Topics, func(t kmsg.ProduceRequestTopic) bool { return t.Topic == partner }) {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	done := make(chan error, 1)
	go func() {
		done <- j.runStages(ctx, pipeline.StageOptions{Key: []byte(testKey), MaxWait: 100 * time.Millisecond}, "all", 10*time.Second)
	}()
	lines, err := readLines(cityInput)
	if err != nil {
		t.Fatal(err)
	}
	if err := replay(ctx, j.conn, cfg.Kafka.InputTopic, lines[:5000]); err != nil {
		t.Fatal(err)
	}
	waitReady("a partner topic refusing writes", func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, "write to "+partner+" failing for")
	})
	blocked.Store(false)
	waitReady("writes going through again", func(code int, _ string) bool { return code == http.StatusOK })

	// A topic the job created disappears: recreated, and said so.
	if _, err := admin.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{partner}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), "recreated them empty"); {
		if time.Now().After(deadline) {
			t.Fatal("a deleted partner topic was not recreated")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := j.conn.Partitions(ctx, partner); err != nil {
		t.Errorf("after the recreation: %v", err)
	}
	// One it did not create: missing, and not ready until it is back.
	if _, err := admin.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{cfg.Kafka.InputTopic}}); err != nil {
		t.Fatal(err)
	}
	waitReady("the raw topic deleted", func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, "topic "+cfg.Kafka.InputTopic+" missing")
	})
	if _, err := admin.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: cfg.Kafka.InputTopic, NumPartitions: 2, ReplicationFactor: -1}}}); err != nil {
		t.Fatal(err)
	}
	waitReady("the raw topic back", func(code int, _ string) bool { return code == http.StatusOK })

	// The cluster not answering (every connection cut on its first request): not ready
	// after FailAfter, ready again once it answers.
	var cut atomic.Bool
	cut.Store(true)
	b.ControlKey(int16(kmsg.ApiVersions), func(kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		if cut.Load() {
			return nil, errors.New("cut"), true
		}
		return nil, nil, false
	})
	waitReady("the cluster not answering", func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, "kafka unreachable for")
	})
	cut.Store(false)
	waitReady("the cluster answering again", func(code int, _ string) bool { return code == http.StatusOK })

	// The internal topic resized under the job: not ready, and said so, until restart.
	if _, err := admin.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{Name: cfg.Kafka.InternalTopic, Count: 3}}}); err != nil {
		t.Fatal(err)
	}
	waitReady("the internal topic resized", func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, "topic "+cfg.Kafka.InternalTopic+" has 3 partitions, had 2 when the job started")
	})
	if !strings.Contains(logs.String(), "the internal topic's partition count changed under the running job") {
		t.Error("the resize was not logged")
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// With no kafka.brokers and the embedded broker's address taken (by `geocloak broker`,
// say), run says how to use the broker that is there.
func TestEmbeddedAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg, err := config.Load(cityConfig)
	if err != nil {
		t.Fatal(err)
	}
	_, err = newJob(context.Background(), cfg, zerolog.Nop(), ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "then set kafka.brokers: ["+ln.Addr().String()+"]") {
		t.Errorf("newJob on a taken address: %v", err)
	}
}
