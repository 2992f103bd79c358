package main

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// embeddedBroker is the embedded Kafka-protocol broker (kfake) with the janitor that
// removes the group members of killed processes (see watchGroups).
type embeddedBroker struct {
	*kfake.Cluster
	stop context.CancelFunc
	done chan struct{}
}

// Close stops the janitor, then the broker.
func (b *embeddedBroker) Close() {
	b.stop()
	<-b.done
	b.Cluster.Close()
}

// groupSeen is the last request the broker saw from each member of each group.
type groupSeen struct {
	mu      sync.Mutex
	members map[string]map[string]time.Time // group → member → last JoinGroup, SyncGroup or Heartbeat
	session map[string]time.Duration        // group → longest session timeout its members asked for
}

func (g *groupSeen) saw(group, member string, session time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.members[group] == nil {
		g.members[group] = make(map[string]time.Time)
	}
	if member != "" {
		g.members[group][member] = time.Now()
	}
	g.session[group] = max(g.session[group], session)
}

// watchGroups works around a behaviour of kfake that Apache Kafka does not have. When
// a JoinGroup completes, kfake starts the session timer of a member only if the
// member's JoinGroup response could be delivered, and once the group leader has sent
// its SyncGroup it stops the timer that drops members that never sync. A process killed
// while its JoinGroup was waiting (a restart loop, six SIGKILLs in a row) thus leaves a
// member that never heartbeats and is never removed: the group is stable with that
// member holding partitions, and nothing of them is read until something else
// rebalances the group (the last process of TestSIGKILL waited for more than two
// minutes). Kafka starts every member's session timer at the end of a join.
//
// The janitor sees every JoinGroup, SyncGroup and Heartbeat, and makes a member of a
// stable group that has sent none of them for longer than the group's session timeout
// (plus a second) leave the group, as Kafka's session timeout would: a live member of a
// stable group heartbeats every few seconds. It checks every second until ctx ends.
func watchGroups(ctx context.Context, b *kfake.Cluster, log zerolog.Logger) {
	seen := &groupSeen{members: make(map[string]map[string]time.Time), session: make(map[string]time.Duration)}
	for _, key := range []kmsg.Key{kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat} {
		b.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
			b.KeepControl()
			switch r := req.(type) {
			case *kmsg.JoinGroupRequest:
				seen.saw(r.Group, r.MemberID, time.Duration(r.SessionTimeoutMillis)*time.Millisecond)
			case *kmsg.SyncGroupRequest:
				seen.saw(r.Group, r.MemberID, 0)
			case *kmsg.HeartbeatRequest:
				seen.saw(r.Group, r.MemberID, 0)
			}
			return nil, nil, false // observed only: the broker handles it
		})
	}
	transport := &kafka.Transport{DialTimeout: 5 * time.Second}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(b.ListenAddrs()...), Transport: transport, Timeout: 5 * time.Second}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for group, members := range seen.ghosts(b) {
			res, err := client.LeaveGroup(ctx, &kafka.LeaveGroupRequest{GroupID: group, Members: members})
			if err == nil {
				err = res.Error
			}
			if err != nil {
				if ctx.Err() == nil {
					log.Warn().Err(err).Str("group", group).Int("members", len(members)).Msg("embedded broker: removing silent group members failed")
				}
				continue
			}
			log.Warn().Str("group", group).Int("members", len(members)).
				Msg("embedded broker: removed group members silent for longer than their session timeout (processes killed while joining)")
		}
	}
}

// ghosts returns, by group, the members of stable groups silent for longer than the
// session timeout. A member the broker has listed but never heard from by id (killed
// during its first JoinGroup, whose id only the response carried) counts from when it
// was first listed.
func (g *groupSeen) ghosts(b *kfake.Cluster) map[string][]kafka.LeaveGroupRequestMember {
	g.mu.Lock()
	groups := make(map[string]time.Duration, len(g.session))
	for group, s := range g.session {
		groups[group] = s
	}
	g.mu.Unlock()
	out := make(map[string][]kafka.LeaveGroupRequestMember)
	for group, session := range groups {
		info := b.GroupInfo(group)
		if info == nil || info.State != "Stable" || session <= 0 {
			continue
		}
		now := time.Now()
		g.mu.Lock()
		seen := g.members[group]
		for _, m := range info.Members {
			at, ok := seen[m.MemberID]
			if !ok {
				seen[m.MemberID] = now
				continue
			}
			if now.Sub(at) > session+time.Second {
				out[group] = append(out[group], kafka.LeaveGroupRequestMember{ID: m.MemberID})
				delete(seen, m.MemberID)
			}
		}
		// Forget members the broker no longer lists.
		for id := range seen {
			if !listed(info, id) {
				delete(seen, id)
			}
		}
		g.mu.Unlock()
	}
	return out
}

func listed(info *kfake.GroupInfo, member string) bool {
	for _, m := range info.Members {
		if m.MemberID == member {
			return true
		}
	}
	return false
}
