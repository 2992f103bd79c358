package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/geocloak/geocloak/cloak"
)

// Ingest is the stateless first stage: it reads raw check-ins, dead-letters invalid
// ones with their reason, suppresses late ones, and writes the rest, minimized, to the
// internal topic in compact batches keyed by partition cell. For each raw partition it
// also carries the partition's watermark to every internal partition, so that the cloak
// stage can take the minimum over all raw partitions.
//
// Lateness is decided here, on each raw partition's own sequence, so the outcome of a
// check-in does not depend on how fast other partitions are read.
type Ingest struct {
	opt       StageOptions
	internal  messageWriter
	dlq       messageWriter
	nInternal int
	// dlqBytes bounds a dead letter: what the dead-letter topic takes in one record
	// batch, less room for the batch's own framing. A larger one keeps its headers only.
	dlqBytes int
	stopper
}

// NewIngest prepares the ingest stage; the topics must exist.
func NewIngest(ctx context.Context, opt StageOptions) (*Ingest, error) {
	opt.defaults()
	n, err := opt.Conn.Partitions(ctx, opt.Config.Kafka.InternalTopic)
	if err != nil {
		return nil, err
	}
	dlq := opt.Conn.Writer(opt.Config.Kafka.DeadLetterTopic, nil)
	// One batch never holds more than the topic takes; a batch of one larger message is
	// refused by the client at once (kafka.MessageTooLargeError), without a round trip.
	dlq.BatchBytes = int64(min(opt.Conn.MaxMessageBytes(ctx, opt.Config.Kafka.DeadLetterTopic), int(dlq.BatchBytes)) - batchOverhead)
	return &Ingest{
		opt:       opt,
		internal:  opt.Conn.Writer(opt.Config.Kafka.InternalTopic, toPartition),
		dlq:       dlq,
		nInternal: n,
		dlqBytes:  int(dlq.BatchBytes),
		stopper:   newStopper(),
	}, nil
}

// Run consumes until ctx is cancelled (a hard stop: nothing more is written or
// committed, as in a crash) or Stop is called (graceful).
func (s *Ingest) Run(ctx context.Context) error {
	defer closeWriters(s.internal, s.dlq)
	return s.opt.Conn.runGroup(ctx, s.ch, s.opt.Config.Kafka.GroupID+".ingest", s.opt.Config.Kafka.InputTopic,
		s.opt.Timing, s.opt.Log.With().Str("stage", "ingest").Logger(), s.partition)
}

func closeWriters(ws ...messageWriter) {
	for _, w := range ws {
		if c, ok := w.(interface{ Close() error }); ok {
			c.Close()
		}
	}
}

// Dead-letter headers.
const (
	HeaderReason  = "geocloak-reason"
	HeaderSource  = "geocloak-source"  // topic/partition/offset of the raw record
	HeaderPayload = "geocloak-payload" // "dropped" when the raw record is not kept
	// HeaderPayloadReason says why the payload was dropped.
	HeaderPayloadReason = "geocloak-payload-reason"
	payloadDropped      = "dropped"
	reasonOversized     = "record larger than input.max_record_bytes"
	// Why a payload is dropped.
	droppedOversized = "larger than input.max_record_bytes"
	droppedByConfig  = "kafka.dead_letter_payloads is false"
	droppedTooLarge  = "larger than the dead-letter topic takes"
)

// batchOverhead is room for a record batch's framing around one record (61 bytes of
// batch header, a record's own varints and attributes), with a margin.
const batchOverhead = 512

// dropPayload removes a dead letter's key and value (the raw record) and says why in its
// headers. It reports whether there was anything to drop.
func dropPayload(m *kafka.Message, why string) bool {
	if m.Key == nil && m.Value == nil {
		return false
	}
	m.Key, m.Value = nil, nil
	m.Headers = append(m.Headers, kafka.Header{Key: HeaderPayload, Value: []byte(payloadDropped)},
		kafka.Header{Key: HeaderPayloadReason, Value: []byte(why)})
	return true
}

// ingestRound is the output of one fetch of one raw partition.
type ingestRound struct {
	batches []Batch
	dlq     []kafka.Message
	late    int
	lateWin [2]int64 // window starts (Unix ms) of the oldest and newest late check-in
	in      int
	sent    []int64 // per internal partition: the watermark last sent to it
}

func (s *Ingest) partition(ctx context.Context, cl *claim, stop <-chan struct{}) {
	cfg := s.opt.Config
	p := cl.Partition
	log := s.opt.Log.With().Str("stage", "ingest").Int("partition", p).Logger()
	m := cloak.NewMinimizer(cfg, s.opt.Key)
	lateness := cfg.Window.AllowedLateness.D().Milliseconds()
	size := cfg.Window.Size.D().Milliseconds()
	wm := cloak.NewWatermark(lateness, cfg.Window.WatermarkUsers)
	parseCommitMeta(cl.Metadata).restoreWatermark(&wm)
	offset := cl.Offset
	if offset < 0 {
		offset = kafka.FirstOffset
	}
	round := ingestRound{batches: make([]Batch, s.nInternal), sent: make([]int64, s.nInternal)}
	for i := range round.sent {
		round.sent[i] = cloak.NoWatermark
	}
	var ck cloak.Checkin
	var ev cloak.Event
	lastMoved := s.opt.Now() // the watermark last moved (or the partition was claimed)
	lastIdleRaise := time.Time{}
	warnedEmpty := false
	late := lateLog{every: lateLogEvery}
	started := log.Info().Int64("offset", offset)
	if wm.Value() != cloak.NoWatermark {
		started = started.Str("watermark", time.UnixMilli(wm.Value()).UTC().Format(time.RFC3339))
	}
	started.Msg("partition started")
	commit := func() {
		if offset < 0 {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalCommitTimeout)
		defer cancel()
		if err := cl.Commit(cctx, offset, watermarkMeta(&wm).String()); err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Int64("offset", offset).Msg("commit failed")
		}
	}
	defer func() {
		late.flush(s.opt.Now(), wm.Value(), lateness, true, log)
		// A graceful stop commits even when the generation ended under it.
		if stopping(stop) {
			commit()
			log.Info().Int64("offset", offset).Msg("partition stopped")
		}
	}()
	for {
		if stopping(stop) || ctx.Err() != nil {
			return
		}
		if s.opt.FetchDelay != nil && !sleep(ctx, stop, s.opt.FetchDelay(p)) {
			continue
		}
		now := s.opt.Now()
		nowMs := now.UnixMilli()
		round.reset()
		// The round works on a copy of the watermark; it becomes the partition's (and is
		// committed) only once the round is written.
		rwm := wm
		next, high, err := s.opt.Conn.fetchRecords(ctx, cfg.Kafka.InputTopic, p, offset, s.opt.MaxWait, s.opt.FetchBytes,
			func(off int64, key, value []byte, _ time.Time) error {
				round.in++
				err := m.Minimize(value, nowMs, &ck, &ev)
				var ie *cloak.InvalidError
				if errors.As(err, &ie) {
					msg := kafka.Message{Headers: []kafka.Header{
						{Key: HeaderReason, Value: []byte(ie.Reason)},
						{Key: HeaderSource, Value: fmt.Appendf(nil, "%s/%d/%d", cfg.Kafka.InputTopic, p, off)},
					}}
					switch {
					case cfg.Kafka.DeadLetterPayloads && ie.Reason != reasonOversized:
						// The raw record, key (the user id) included: the dead-letter
						// topic is as personal as the raw topic. Unless the topic would
						// refuse it: a dead letter is written whatever its size (a
						// refused one would hold the partition, and every window, back).
						msg.Key, msg.Value = bytes.Clone(key), bytes.Clone(value)
						if messageBytes(&msg) > s.dlqBytes {
							dropPayload(&msg, droppedTooLarge)
						}
					case cfg.Kafka.DeadLetterPayloads:
						msg.Key = bytes.Clone(key)
						msg.Headers = append(msg.Headers, kafka.Header{Key: HeaderPayload, Value: []byte(payloadDropped)},
							kafka.Header{Key: HeaderPayloadReason, Value: []byte(droppedOversized)})
						if messageBytes(&msg) > s.dlqBytes {
							msg.Key = nil // a key that large is not a user id worth keeping
						}
					default:
						msg.Headers = append(msg.Headers, kafka.Header{Key: HeaderPayload, Value: []byte(payloadDropped)},
							kafka.Header{Key: HeaderPayloadReason, Value: []byte(droppedByConfig)})
					}
					round.dlq = append(round.dlq, msg)
					s.opt.Metrics.DeadLetters.WithLabelValues(ie.Reason).Inc()
					return nil
				}
				if err != nil {
					return err
				}
				start := cloak.WindowStart(ev.Time, size)
				if rwm.Late(start + size) {
					// Its window may be released already: releasing it later would
					// change a released class (G3).
					if round.late == 0 {
						round.lateWin = [2]int64{start, start}
					}
					round.lateWin = [2]int64{min(round.lateWin[0], start), max(round.lateWin[1], start)}
					round.late++
					return nil
				}
				b := &round.batches[internalPartition(ev.Cell, cfg.PartitionResolution, s.nInternal)]
				b.Events = append(b.Events, ev)
				b.Offsets = append(b.Offsets, off)
				rwm.Observe(ev.Time, ev.User)
				return nil
			})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if next, lost, ok := s.opt.Conn.resumeAfterRetention(ctx, cfg.Kafka.InputTopic, p, offset, err); ok {
				// The records are gone: nothing can account for them now.
				log.Error().Int64("offset", offset).Int64("resume_at", next).Int64("lost", lost).
					Msg("raw records deleted by retention before they were read; reading resumes at the first one left")
				s.opt.Metrics.Lost.WithLabelValues("ingest").Add(float64(lost))
				offset = next
				continue
			}
			// Nothing of this round was written: fetch it again.
			log.Warn().Err(err).Int64("offset", offset).Msg("fetch failed; retrying")
			sleep(ctx, stop, time.Second)
			continue
		}
		if high >= 0 && next >= 0 {
			s.opt.Metrics.CommitLag.WithLabelValues("ingest", partitionLabel(p)).Set(float64(high - next))
		}
		if round.in == 0 {
			late.flush(now, wm.Value(), lateness, false, log)
		}
		if rwm.Value() > wm.Value() {
			lastMoved = now
		}
		// Idle: after window.idle_advance without its watermark moving (no records, or
		// records from fewer than window.watermark_users users), this partition stops
		// holding windows back: its watermark moves to the wall clock, again every
		// idle_advance while it stays so. A partition that has never had a record does
		// not: it would make a replay that starts after the job late as a whole. It holds
		// windows back until its first record arrives.
		if idle := cfg.Window.IdleAdvance.D(); now.Sub(lastMoved) >= idle && now.Sub(lastIdleRaise) >= idle {
			lastIdleRaise = now
			switch {
			case offset >= 0 || round.in > 0:
				rwm.Raise(nowMs - lateness)
			case !warnedEmpty:
				warnedEmpty = true
				log.Warn().Str("idle", now.Sub(lastMoved).Round(time.Second).String()).Msg("raw partition has had no record yet: windows wait for its first one")
			}
		}
		if round.in == 0 && rwm.Value() == wm.Value() {
			continue
		}
		if err := s.writeRound(ctx, &round, int32(p), rwm.Value(), log); err != nil {
			return
		}
		wm = rwm
		s.opt.Metrics.EventsIn.WithLabelValues("ingest").Add(float64(round.in))
		s.opt.Metrics.Late.Add(float64(round.late))
		late.add(round.late, round.lateWin[0], round.lateWin[1])
		late.flush(now, wm.Value(), lateness, false, log)
		if next >= 0 {
			offset = next
		}
		commit()
	}
}

func (r *ingestRound) reset() {
	for i := range r.batches {
		r.batches[i].Events, r.batches[i].Offsets = r.batches[i].Events[:0], r.batches[i].Offsets[:0]
	}
	r.dlq = r.dlq[:0]
	r.late, r.in, r.lateWin = 0, 0, [2]int64{}
}

// writeRound writes a round's dead letters, then one message per internal partition that
// has events or has not yet heard of the current watermark. It returns only when all
// are acknowledged, or ctx ends (then nothing may be committed).
func (s *Ingest) writeRound(ctx context.Context, r *ingestRound, src int32, wm int64, l zerolog.Logger) error {
	if len(r.dlq) > 0 {
		// The topic's limit may be lower than it said at start, or a batch of several
		// larger than one: what it refuses as too large goes again without payload.
		shrink := func(m *kafka.Message) bool { return dropPayload(m, droppedTooLarge) }
		if err := s.opt.writeAll(ctx, s.dlq, s.opt.Config.Kafka.DeadLetterTopic, "ingest", int(src), r.dlq, l, shrink); err != nil {
			return err
		}
	}
	cats := make(map[string]uint64)
	var msgs []kafka.Message
	for i := range r.batches {
		b := &r.batches[i]
		if len(b.Events) == 0 && r.sent[i] == wm {
			continue
		}
		b.Source, b.Watermark = src, wm
		msgs = append(msgs, kafka.Message{Partition: i, Key: []byte(strconv.Itoa(int(src))), Value: AppendBatch(nil, b, cats)})
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := s.opt.writeAll(ctx, s.internal, s.opt.Config.Kafka.InternalTopic, "ingest", int(src), msgs, l, nil); err != nil {
		return err
	}
	for i := range r.sent {
		r.sent[i] = wm
	}
	return nil
}
