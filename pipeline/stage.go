package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"math/bits"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
)

// StageOptions configure the streaming stages.
type StageOptions struct {
	Config  *config.Config
	Key     cloak.Key // pseudonym key (ingest: pseudonyms; cloak: the secret of record keys without cell)
	Conn    *Conn
	Log     zerolog.Logger
	Metrics *Metrics
	// Timing of the consumer groups; zero: DefaultGroupTiming.
	Timing GroupTiming
	// Now is the wall clock; nil: time.Now.
	Now func() time.Time
	// MaxWait is how long a fetch waits for new records; zero: 500 ms.
	MaxWait time.Duration
	// FetchBytes bounds one fetch; zero: 1 MiB. It also bounds an ingest round, hence
	// the size of an internal message (under Kafka's default 1 MB message limit).
	FetchBytes int
	// FetchDelay, when set, sleeps before each fetch of a partition: tests use it to
	// consume partitions at different speeds.
	FetchDelay func(partition int) time.Duration
	// ID names this instance in logs (tests run several in one process).
	ID string
	// Health receives write failures (nil: a Health of the stage's own, which nobody
	// reads).
	Health *Health
}

func (o *StageOptions) defaults() {
	if o.Timing == (GroupTiming{}) {
		o.Timing = DefaultGroupTiming
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxWait == 0 {
		o.MaxWait = 500 * time.Millisecond
	}
	if o.FetchBytes == 0 {
		o.FetchBytes = 1 << 20
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Health == nil {
		o.Health = NewHealth(o.Now)
	}
	if o.ID != "" {
		o.Log = o.Log.With().Str("instance", o.ID).Logger()
	}
}

// stopper is a stage's graceful-stop signal.
type stopper struct {
	once sync.Once
	ch   chan struct{}
}

func newStopper() stopper { return stopper{ch: make(chan struct{})} }

// Stop asks the stage to stop gracefully: finish the current round, commit, leave the
// group. Run returns once that is done. Safe to call more than once.
func (s *stopper) Stop() { s.once.Do(func() { close(s.ch) }) }

// stopping reports whether a graceful stop was asked; it wins over a generation's end,
// so that every partition commits before the group is left.
func stopping(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// finalCommitTimeout bounds the commit of a graceful stop. It does not use the
// partition's context, which ends with the generation.
const finalCommitTimeout = 10 * time.Second

// sleep waits d or until ctx or stop is done, and reports whether to go on.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-stop:
	}
	return false
}

// writeAll writes msgs to topic until every one is acknowledged, retrying with backoff
// what was not: a failed write is never skipped (G4), it only delays. It gives up only
// when ctx ends. Failures are reported to the Health of o under writer (stage/partition),
// so that one that keeps failing makes the job unready. When the broker or the client
// refuses a message as too large and shrink is set, shrink may make it smaller (and
// report true): the write is then tried again at once.
func (o *StageOptions) writeAll(ctx context.Context, w messageWriter, topic, stage string, partition int, msgs []kafka.Message,
	log zerolog.Logger, shrink func(m *kafka.Message) bool) error {
	writer := stage + "/" + strconv.Itoa(partition)
	// Done, or given up with ctx (the partition moved, the stage stopped): this writer
	// no longer fails.
	defer o.Health.writeDone(topic, writer)
	backoff := 100 * time.Millisecond
	for {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		o.Health.writeFailed(topic, writer, err)
		shrunk := 0
		if shrink != nil {
			for _, i := range tooLarge(err, msgs) {
				if shrink(&msgs[i]) {
					shrunk++
				}
			}
		}
		msgs = unwritten(err, msgs)
		if shrunk > 0 {
			log.Warn().Err(err).Str("topic", topic).Int("messages", shrunk).Msg("messages too large for the broker; writing them again smaller")
			continue
		}
		o.Metrics.Retries.WithLabelValues(stage).Inc()
		log.Warn().Err(err).Str("topic", topic).Int("messages", len(msgs)).Str("backoff", backoff.String()).Msg("write failed; retrying")
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// unwritten returns the messages a failed write did not write: all of them, unless the
// writer says which failed. It does not modify msgs.
func unwritten(err error, msgs []kafka.Message) []kafka.Message {
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) || len(werrs) != len(msgs) {
		return msgs
	}
	var out []kafka.Message
	for i, e := range werrs {
		if e != nil {
			out = append(out, msgs[i])
		}
	}
	if len(out) == 0 {
		return msgs
	}
	return out
}

// messageWriter is what the stages need of *kafka.Writer.
type messageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// internalPartition is the internal partition of a cell: a hash of its ancestor at
// partition_resolution, so every group a partner can release lives in one partition.
func internalPartition(c geo.Cell, partitionRes, n int) int {
	x := uint64(c.Parent(partitionRes))
	// splitmix64 finalizer: spreads neighbouring cells over partitions.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	hi, _ := bits.Mul64(x, uint64(n))
	return int(hi)
}

// Commit metadata: what a partition's next owner needs besides the offset.
type commitMeta struct {
	V int `json:"v"`
	// Watermark of a raw partition at the committed offset (ingest), and the users
	// with the latest event times it was computed from (pseudonym in hex, time in Unix
	// ms), so that the next owner goes on exactly as this one would have. Pseudonyms are
	// what the internal topic holds; the metadata is as internal as that topic.
	Watermark      *int64         `json:"wm,omitempty"`
	WatermarkUsers []watermarkUse `json:"wmu,omitempty"`
	// Released is the end of the last window released from an internal partition
	// (cloak): events of windows ending at or before it were released already.
	Released *int64 `json:"released,omitempty"`
}

// watermarkUse is one entry of commitMeta.WatermarkUsers.
type watermarkUse struct {
	User string `json:"u"`
	Time int64  `json:"t"`
}

// watermarkMeta is the commit metadata of a raw partition's watermark.
func watermarkMeta(w *cloak.Watermark) commitMeta {
	v := w.Value()
	m := commitMeta{Watermark: &v}
	for _, u := range w.Users() {
		m.WatermarkUsers = append(m.WatermarkUsers, watermarkUse{User: strconv.FormatUint(uint64(u.User), 16), Time: u.Time})
	}
	return m
}

// restoreWatermark gives w the watermark committed in m, if any.
func (m commitMeta) restoreWatermark(w *cloak.Watermark) {
	if m.Watermark == nil {
		return
	}
	var users []cloak.WatermarkUser
	for _, u := range m.WatermarkUsers {
		if p, err := strconv.ParseUint(u.User, 16, 64); err == nil {
			users = append(users, cloak.WatermarkUser{User: cloak.Pseudonym(p), Time: u.Time})
		}
	}
	w.Restore(*m.Watermark, users)
}

func (m commitMeta) String() string {
	m.V = 1
	b, _ := json.Marshal(m)
	return string(b)
}

func parseCommitMeta(s string) commitMeta {
	var m commitMeta
	if s != "" && json.Unmarshal([]byte(s), &m) == nil && m.V == 1 {
		return m
	}
	return commitMeta{}
}
