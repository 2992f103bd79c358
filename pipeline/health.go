package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// DefaultFailAfter is how long a write may keep failing before the job reports itself
// unready: longer than a leader election or a rolling broker restart.
const DefaultFailAfter = 30 * time.Second

// Health is what makes the job unready: writes that keep failing, topics that are
// missing, a cluster the topic watcher cannot reach, an internal topic resized under the
// job. The stages and the topic watcher report to it; /readyz shows Problems. Safe
// for concurrent use. The zero value is not usable; use NewHealth.
type Health struct {
	// FailAfter: a write failing for this long makes the job unready.
	FailAfter time.Duration
	now       func() time.Time

	mu          sync.Mutex
	failing     map[string]map[string]writeFailure // topic → writer (stage/partition) → failure
	missing     map[string]bool
	unreachable writeFailure // the cluster's metadata unreadable since (zero: readable)
	resized     string       // a topic whose partition count changed under the job
}

type writeFailure struct {
	since time.Time
	err   error
}

// NewHealth returns a Health with nothing wrong; now is the wall clock (nil: time.Now).
func NewHealth(now func() time.Time) *Health {
	if now == nil {
		now = time.Now
	}
	return &Health{FailAfter: DefaultFailAfter, now: now, failing: make(map[string]map[string]writeFailure), missing: make(map[string]bool)}
}

// writeFailed records that writer's write to topic failed with err; the failure dates
// from the first of a run of failures.
func (h *Health) writeFailed(topic, writer string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ws := h.failing[topic]
	if ws == nil {
		ws = make(map[string]writeFailure)
		h.failing[topic] = ws
	}
	f, ok := ws[writer]
	if !ok {
		f.since = h.now()
	}
	f.err = err
	ws[writer] = f
}

// writeDone records that writer's write to topic succeeded.
func (h *Health) writeDone(topic, writer string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ws := h.failing[topic]; ws != nil {
		delete(ws, writer)
		if len(ws) == 0 {
			delete(h.failing, topic)
		}
	}
}

func (h *Health) setMissing(topic string, missing bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if missing {
		h.missing[topic] = true
	} else {
		delete(h.missing, topic)
	}
}

// setUnreachable records whether the topic watcher could read the cluster's metadata
// (err nil: it could).
func (h *Health) setUnreachable(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.unreachable = writeFailure{}
	case h.unreachable.err == nil:
		h.unreachable = writeFailure{since: h.now(), err: err}
	default:
		h.unreachable.err = err
	}
}

// setRepartitioned records topic's partition count, was when the job first saw it.
func (h *Health) setRepartitioned(topic string, was, now int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resized = ""
	if was != now {
		h.resized = fmt.Sprintf("topic %s has %d partitions, had %d when the job started: restart the job", topic, now, was)
	}
}

// Problems lists, sorted, what makes the job unready now: each topic a write to has
// been failing for FailAfter or more (the oldest failure, its latest error), each topic
// missing. Empty when the job is fine.
func (h *Health) Problems() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	var out []string
	for topic, ws := range h.failing {
		var oldest writeFailure
		for _, f := range ws {
			if oldest.err == nil || f.since.Before(oldest.since) {
				oldest = f
			}
		}
		if d := now.Sub(oldest.since); d >= h.FailAfter {
			out = append(out, fmt.Sprintf("write to %s failing for %s: %v", topic, d.Round(time.Second), oldest.err))
		}
	}
	for topic := range h.missing {
		out = append(out, fmt.Sprintf("topic %s missing", topic))
	}
	if u := h.unreachable; u.err != nil {
		if d := now.Sub(u.since); d >= h.FailAfter {
			out = append(out, fmt.Sprintf("kafka unreachable for %s: %v", d.Round(time.Second), u.err))
		}
	}
	if h.resized != "" {
		out = append(out, h.resized)
	}
	slices.Sort(out)
	return out
}

// tooLarge returns the indexes of msgs that a failed write refused as too large, by the
// broker (MESSAGE_TOO_LARGE, RECORD_BATCH_TOO_LARGE) or by the client's batch limit
// (then every message at least as large as the one it named), or nil.
func tooLarge(err error, msgs []kafka.Message) []int {
	var idx []int
	var one kafka.MessageTooLargeError
	if errors.As(err, &one) {
		for i := range msgs {
			if messageBytes(&msgs[i]) >= messageBytes(&one.Message) {
				idx = append(idx, i)
			}
		}
		return idx
	}
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) {
		return nil
	}
	for i, e := range werrs {
		if i < len(msgs) && (errors.Is(e, kafka.MessageSizeTooLarge) || errors.Is(e, kafka.RecordListTooLarge)) {
			idx = append(idx, i)
		}
	}
	return idx
}

// messageBytes is the size of a message's key, value and headers.
func messageBytes(m *kafka.Message) int {
	n := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// kafkaMaxMessageBytes is Apache Kafka's default message.max.bytes: the largest record
// batch a broker takes unless configured otherwise.
const kafkaMaxMessageBytes = 1048588

// MaxMessageBytes is the largest record batch topic takes (its max.message.bytes), or
// Kafka's default when the cluster does not say.
func (c *Conn) MaxMessageBytes(ctx context.Context, topic string) int {
	res, err := c.client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"max.message.bytes"}},
	}})
	if err != nil {
		return kafkaMaxMessageBytes
	}
	for _, r := range res.Resources {
		if r.Error != nil {
			continue
		}
		for _, e := range r.ConfigEntries {
			if n, err := strconv.Atoi(e.ConfigValue); err == nil && e.ConfigName == "max.message.bytes" && n > 0 {
				return n
			}
		}
	}
	return kafkaMaxMessageBytes
}
