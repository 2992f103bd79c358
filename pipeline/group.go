package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// GroupTiming are the consumer-group timeouts. Tests shorten them; kfake accepts
// sessions of 6 s or more.
type GroupTiming struct {
	Session, Heartbeat, Rebalance, JoinBackoff time.Duration
}

// DefaultGroupTiming suits a production cluster: a crashed instance's partitions move
// after the session timeout (10 s), plus one rebalance (members are given 5 s to
// rejoin; ours take about a second).
var DefaultGroupTiming = GroupTiming{Session: 10 * time.Second, Heartbeat: time.Second, Rebalance: 5 * time.Second, JoinBackoff: time.Second}

// coordinatorTimeout is kafka-go's network timeout with the group coordinator. A join
// may be held by the coordinator until the members of killed processes are dropped:
// up to a session timeout for one that had joined, then up to a rebalance timeout for
// those that died while joining. kafka-go waits this plus the rebalance timeout for a
// join; a join given up client-side leaves a member behind that the coordinator keeps
// until a further rebalance timeout, and the member joins again under a new id: the
// delays add up (150 s and more after six kills). So it must be at least the session
// timeout plus the rebalance timeout.
func (t GroupTiming) coordinatorTimeout() time.Duration { return t.Session + t.Rebalance }

// claim is one partition assigned to this instance for one group generation.
type claim struct {
	Partition int
	Offset    int64  // committed offset, or -1 when nothing was committed
	Metadata  string // committed metadata
	commit    func(ctx context.Context, offset int64, metadata string) error
}

// Commit commits offset with metadata for this claim's generation. It fails once the
// generation has ended (the partition may belong to someone else by then).
func (c *claim) Commit(ctx context.Context, offset int64, metadata string) error {
	return c.commit(ctx, offset, metadata)
}

// runGroup joins group on topic and runs work for each claimed partition, one goroutine
// per partition, until ctx is cancelled (a hard stop: work returns at once) or stop is
// closed (a graceful stop: work commits and returns, then the group is left). work's
// context also ends at each rebalance; runGroup waits for every work of a generation to
// return before it joins the next, so a partition's state moves with its committed
// offset and two instances never own it at once (short of a zombie past its session).
func (c *Conn) runGroup(ctx context.Context, stop <-chan struct{}, group, topic string, timing GroupTiming,
	log zerolog.Logger, work func(ctx context.Context, cl *claim, stop <-chan struct{})) error {
	g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                     group,
		Brokers:                c.Brokers,
		Dialer:                 c.dialer,
		Topics:                 []string{topic},
		GroupBalancers:         []kafka.GroupBalancer{kafka.RoundRobinGroupBalancer{}},
		HeartbeatInterval:      timing.Heartbeat,
		SessionTimeout:         timing.Session,
		RebalanceTimeout:       timing.Rebalance,
		JoinGroupBackoff:       timing.JoinBackoff,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
		StartOffset:            kafka.FirstOffset,
		Timeout:                timing.coordinatorTimeout(),
	})
	if err != nil {
		return fmt.Errorf("join group %s: %w", group, err)
	}
	defer g.Close()
	nextCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Supervisors of generations are counted so that a graceful stop waits for their
	// commits before the group is left. Once stopping, no supervisor is added (a
	// WaitGroup must not grow from zero while it is waited on).
	var (
		workers sync.WaitGroup
		mu      sync.Mutex
		leaving bool
	)
	go func() {
		select {
		case <-stop:
			mu.Lock()
			leaving = true
			mu.Unlock()
			workers.Wait() // let them commit before the group is left
			cancel()
		case <-nextCtx.Done():
		}
	}()
	for {
		gen, err := g.Next(nextCtx)
		if err != nil {
			if nextCtx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			log.Warn().Err(err).Str("group", group).Msg("group join failed; retrying")
			select {
			case <-nextCtx.Done():
				return nil
			case <-time.After(timing.JoinBackoff):
			}
			continue
		}
		var parts []int
		for _, a := range gen.Assignments[topic] {
			parts = append(parts, a.ID)
		}
		log.Info().Str("group", group).Int32("generation", gen.ID).Ints("partitions", parts).Msg("partitions assigned")
		if len(parts) == 0 {
			continue
		}
		// One supervisor per generation: it reads the committed offsets (retrying: a
		// generation without its workers would never end) and runs a worker per
		// partition. kafka-go ends the generation when it returns.
		mu.Lock()
		if leaving {
			mu.Unlock()
			return nil
		}
		workers.Add(1)
		mu.Unlock()
		genID, member := int(gen.ID), gen.MemberID
		gen.Start(func(gctx context.Context) {
			defer workers.Done()
			var committed map[int]kafka.OffsetFetchPartition
			for backoff := 200 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
				var err error
				if committed, err = c.committed(gctx, group, topic, parts); err == nil {
					break
				}
				if gctx.Err() != nil || stopping(stop) {
					return
				}
				log.Warn().Err(err).Str("group", group).Msg("read committed offsets failed; retrying")
				select {
				case <-gctx.Done():
					return
				case <-time.After(backoff):
				}
			}
			var wg sync.WaitGroup
			for _, p := range parts {
				cl := &claim{Partition: p, Offset: -1}
				if o, ok := committed[p]; ok && o.CommittedOffset >= 0 {
					cl.Offset, cl.Metadata = o.CommittedOffset, o.Metadata
				}
				cl.commit = func(ctx context.Context, offset int64, metadata string) error {
					res, err := c.client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
						GroupID: group, GenerationID: genID, MemberID: member,
						Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: p, Offset: offset, Metadata: metadata}}},
					})
					if err != nil {
						return err
					}
					for _, r := range res.Topics[topic] {
						if r.Error != nil {
							return r.Error
						}
					}
					return nil
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					work(gctx, cl, stop)
				}()
			}
			wg.Wait()
		})
	}
}
