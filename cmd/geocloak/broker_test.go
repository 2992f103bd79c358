package main

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEmbeddedBrokerDropsGhosts: a process killed while its JoinGroup waits leaves a
// member that kfake, half the time (when the response to the dead connection is not
// taken), never times out once the leader has synced (see watchGroups): the group is
// stable with that member holding a partition, for good. The embedded broker's janitor
// removes it after the session timeout and the live member gets every partition back.
// Five killed joiners one after the other: without the janitor, the test passes only if
// kfake started a session timer for each (1 chance in 32).
func TestEmbeddedBrokerDropsGhosts(t *testing.T) {
	b, err := startBroker("127.0.0.1:0", 2, zerolog.Nop(), kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "500"}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const topic, group = "t", "g"
	if err := b.CreateTopic(topic, 2, nil); err != nil {
		t.Fatal(err)
	}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: group, Brokers: b.ListenAddrs(), Topics: []string{topic},
		GroupBalancers: []kafka.GroupBalancer{kafka.RoundRobinGroupBalancer{}},
		SessionTimeout: time.Second, HeartbeatInterval: 100 * time.Millisecond, RebalanceTimeout: 500 * time.Millisecond,
		Timeout: 5 * time.Second, JoinGroupBackoff: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// partitions waits for a generation in which the live member has n partitions.
	partitions := func(n int, within time.Duration, what string) {
		t.Helper()
		gctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		for {
			gen, err := cg.Next(gctx)
			if err != nil {
				if gctx.Err() != nil {
					t.Fatalf("%s: the live member never had %d partitions in %s", what, n, within)
				}
				continue // a rebalance under way
			}
			if len(gen.Assignments[topic]) == n {
				return
			}
		}
	}
	partitions(2, 10*time.Second, "alone")
	meta := kmsg.ConsumerMemberMetadata{Topics: []string{topic}}
	for round := range 5 {
		// A second member joins, and its process dies at once: the rebalance completes
		// when the live member rejoins; the live member, the leader, gives it a partition.
		ghost, err := net.Dial("tcp", b.ListenAddrs()[0])
		if err != nil {
			t.Fatal(err)
		}
		join := kmsg.NewPtrJoinGroupRequest()
		join.Version, join.Group, join.ProtocolType = 2, group, "consumer"
		join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 1000, 500
		join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "roundrobin", Metadata: meta.AppendTo(nil)}}
		if _, err := ghost.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("ghost")).AppendRequest(nil, join, 1)); err != nil {
			t.Fatal(err)
		}
		ghost.Close()
		partitions(1, 10*time.Second, fmt.Sprintf("round %d, the killed member joined", round+1))
		partitions(2, 10*time.Second, fmt.Sprintf("round %d, the killed member dropped", round+1))
	}
}
