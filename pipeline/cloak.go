package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/geo"
)

// Cloak is the stateful second stage: one state per internal partition (its open
// windows), closed by the minimum watermark over all raw partitions, released through
// the same Releaser as evaluate to each partner's topic.
//
// Delivery: offsets are committed only after a window's records are acknowledged
// (RequireAll), and never past the oldest event still held in an open window; the commit
// metadata records the last window released. After a crash or rebalance, the new owner
// rebuilds the open windows from the committed offset, skips windows already released,
// and re-releases a window whose commit was lost with exactly the same records and keys:
// at-least-once with stable keys, never a class with other content (G3).
type Cloak struct {
	opt      StageOptions
	partners []messageWriter
	policies []*cloak.Policy
	stopper

	buffered atomic.Int64 // events held by all partitions of this instance
	windows  atomic.Int64

	mu       sync.Mutex
	sources  int // raw partitions
	sourcesT time.Time

	nInternal int // internal partitions, to tell which partner records are this partition's
}

// NewCloak prepares the cloak stage; the topics must exist.
func NewCloak(ctx context.Context, opt StageOptions) (*Cloak, error) {
	opt.defaults()
	n, err := opt.Conn.Partitions(ctx, opt.Config.Kafka.InputTopic)
	if err != nil {
		return nil, err
	}
	ni, err := opt.Conn.Partitions(ctx, opt.Config.Kafka.InternalTopic)
	if err != nil {
		return nil, err
	}
	c := &Cloak{opt: opt, policies: cloak.NewPolicies(opt.Config), stopper: newStopper(), sources: n, sourcesT: opt.Now(), nInternal: ni}
	for _, p := range opt.Config.Partners {
		c.partners = append(c.partners, opt.Conn.Writer(p.Topic, nil))
	}
	return c, nil
}

// Run consumes until ctx is cancelled (a hard stop: nothing more is written or
// committed, as in a crash) or Stop is called (graceful).
func (s *Cloak) Run(ctx context.Context) error {
	defer closeWriters(s.partners...)
	return s.opt.Conn.runGroup(ctx, s.ch, s.opt.Config.Kafka.GroupID+".cloak", s.opt.Config.Kafka.InternalTopic,
		s.opt.Timing, s.opt.Log.With().Str("stage", "cloak").Logger(), s.partition)
}

// numSources is the number of raw partitions, refreshed every 30 s (partitions may be
// added; a new one holds windows back until its ingest reports a watermark).
func (s *Cloak) numSources(ctx context.Context) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opt.Now().Sub(s.sourcesT) >= 30*time.Second {
		if n, err := s.opt.Conn.Partitions(ctx, s.opt.Config.Kafka.InputTopic); err == nil {
			s.sources = n
		}
		s.sourcesT = s.opt.Now()
	}
	return s.sources
}

// cloakPartition is the state of one internal partition.
type cloakPartition struct {
	s        *Cloak
	p        int
	log      zerolog.Logger
	windows  *cloak.Windows
	releaser *cloak.Releaser
	srcWM    map[int32]int64 // watermark per raw partition
	released int64           // end of the last window released
	minOff   map[int64]int64 // per open window start: its oldest internal offset
	// Scan mode, while the buffering cap is reached: events of windows newer than
	// horizon (the newest window open when the cap was reached) are passed over, so no
	// window opens; older windows still get their events and close as the watermark
	// passes. Once the buffer is below 90% of the cap, reading goes back to resumeAt.
	scanning  bool
	resumeAt  int64
	horizon   int64
	minPassed int64 // earliest window start among the events passed over
	// resumeWM is srcWM as it was at resumeAt. Watermarks read ahead during the scan
	// speak for events up to where the scan got, which include the ones passed over:
	// going back, they are put back, or they would close the windows being read again
	// before their events are (released in part, the rest dropped as released).
	resumeWM map[int32]int64
	// After going back: events below rereadUntil of windows up to rereadHorizon were
	// taken during the scan. (Taking them again would be harmless, only wasteful: copies
	// of an event are dropped at release.)
	rereadUntil, rereadHorizon int64
	// ledger holds, per dp partner, the records written for windows after the last
	// committed release: noise cannot be drawn again identically, so a window released
	// before a crash but not committed is released again from here (G3).
	ledger map[int]map[int64][]kafka.Message
}

func (s *Cloak) partition(ctx context.Context, cl *claim, stop <-chan struct{}) {
	cfg := s.opt.Config
	cp := &cloakPartition{
		s:        s,
		p:        cl.Partition,
		log:      s.opt.Log.With().Str("stage", "cloak").Int("partition", cl.Partition).Logger(),
		windows:  cloak.NewWindows(cfg.Window.Size.D().Milliseconds(), false),
		releaser: cloak.NewReleaser(s.policies, cloak.RecordKeySecret(s.opt.Key)),
		srcWM:    make(map[int32]int64),
		released: cloak.NoWatermark,
		minOff:   make(map[int64]int64),
	}
	if meta := parseCommitMeta(cl.Metadata); meta.Released != nil {
		cp.released = *meta.Released
	}
	defer cp.drop()
	offset := cl.Offset
	if offset < 0 {
		offset = kafka.FirstOffset
	}
	// Until the dp records are read back, nothing may be released: retry (returning would
	// leave the partition unowned until the next rebalance).
	for backoff := 200 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		cp.ledger = nil
		err := cp.loadLedger(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil || stopping(stop) {
			return
		}
		cp.log.Warn().Err(err).Msg("read back of dp partner records failed; retrying")
		sleep(ctx, stop, backoff)
	}
	started := cp.log.Info().Int64("offset", offset)
	if cp.released != cloak.NoWatermark {
		started = started.Str("released_through", time.UnixMilli(cp.released).UTC().Format(time.RFC3339))
	}
	started.Msg("partition started")
	res := cfg.CellResolution
	size := cfg.Window.Size.D().Milliseconds()
	maxBuffered := int64(cfg.Kafka.MaxBufferedEvents)
	var b Batch
	committed, committedMeta := int64(-1), ""
	lastCommit := time.Time{}
	commit := func(next int64, force bool) {
		off := next
		if cp.scanning {
			off = min(off, cp.resumeAt)
		}
		for _, o := range cp.minOff {
			off = min(off, o)
		}
		if off < 0 {
			return
		}
		rel := cp.released
		meta := commitMeta{Released: &rel}.String()
		if off == committed && meta == committedMeta {
			return
		}
		if !force && s.opt.Now().Sub(lastCommit) < time.Second {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalCommitTimeout)
		defer cancel()
		if err := cl.Commit(cctx, off, meta); err != nil {
			if ctx.Err() == nil {
				cp.log.Warn().Err(err).Int64("offset", off).Msg("commit failed")
			}
			return
		}
		committed, committedMeta, lastCommit = off, meta, s.opt.Now()
	}
	defer func() {
		// A graceful stop commits even when the generation ended under it.
		if stopping(stop) {
			commit(offset, true)
			cp.log.Info().Int64("offset", committed).Msg("partition stopped")
		}
	}()
	for {
		if stopping(stop) || ctx.Err() != nil {
			return
		}
		if s.opt.FetchDelay != nil && !sleep(ctx, stop, s.opt.FetchDelay(cp.p)) {
			continue
		}
		next, high, err := s.opt.Conn.fetchRecords(ctx, cfg.Kafka.InternalTopic, cp.p, offset, s.opt.MaxWait, s.opt.FetchBytes,
			func(off int64, _, value []byte, _ time.Time) error {
				if err := DecodeBatch(value, res, &b); err != nil {
					// Written by geocloak's ingest: a bug or a foreign writer. Logged
					// loudly; the events in it cannot be read.
					cp.log.Error().Int64("offset", off).Msg("malformed internal message skipped")
					return nil
				}
				cp.take(off, &b, size, maxBuffered)
				return nil
			})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if next, lost, ok := s.opt.Conn.resumeAfterRetention(ctx, cfg.Kafka.InternalTopic, cp.p, offset, err); ok {
				cp.log.Error().Int64("offset", offset).Int64("resume_at", next).Int64("lost", lost).
					Msg("internal messages deleted by retention before they were read (retention shorter than window + lateness + downtime); reading resumes at the first one left")
				s.opt.Metrics.Lost.WithLabelValues("cloak").Add(float64(lost))
				offset = next
				continue
			}
			cp.log.Warn().Err(err).Int64("offset", offset).Msg("fetch failed; retrying")
			// State may hold part of the failed fetch; events carry their raw offsets,
			// so reading it again only meets duplicates.
			sleep(ctx, stop, time.Second)
			continue
		}
		if next >= 0 {
			offset = next
		}
		if high >= 0 && offset >= 0 {
			s.opt.Metrics.CommitLag.WithLabelValues("cloak", partitionLabel(cp.p)).Set(float64(high - max(committed, 0)))
		}
		wm := cp.watermark(ctx)
		if wm != cloak.NoWatermark {
			s.opt.Metrics.WatermarkLag.WithLabelValues(partitionLabel(cp.p)).Set(float64(s.opt.Now().UnixMilli()-wm) / 1000)
		}
		closeAt := wm
		if cp.scanning {
			// Windows holding passed-over events must wait for them.
			closeAt = min(closeAt, cp.minPassed)
		}
		closed := cp.windows.Close(closeAt)
		if len(closed) > 0 {
			if err := cp.release(ctx, closed); err != nil {
				return // ctx ended mid-release: nothing is committed
			}
		}
		if cp.scanning && s.buffered.Load() < maxBuffered*9/10 {
			cp.log.Info().Int64("resume_at", cp.resumeAt).Msg("buffer below the cap; reading resumes")
			cp.rereadUntil, cp.rereadHorizon = offset, cp.horizon
			offset, cp.scanning = cp.resumeAt, false
			cp.srcWM, cp.resumeWM = cp.resumeWM, nil
			s.opt.Metrics.Paused.Set(0)
		}
		commit(offset, len(closed) > 0)
	}
}

// take adds the events of one internal message, at internal offset off.
func (cp *cloakPartition) take(off int64, b *Batch, size, maxBuffered int64) {
	s := cp.s
	if !cp.scanning && len(b.Events) > 0 && s.buffered.Load() >= maxBuffered {
		// At the cap: open no new window (never release early, never drop); keep
		// reading watermarks and the events of open windows so that they can close.
		cp.scanning, cp.resumeAt, cp.horizon, cp.minPassed = true, off, cp.windows.NewestStart(), math.MaxInt64
		cp.resumeWM = maps.Clone(cp.srcWM)
		s.opt.Metrics.Paused.Set(1)
		s.opt.Metrics.Pauses.Inc()
		cp.log.Warn().Int64("buffered", s.buffered.Load()).Int64("resume_at", off).Msg("buffered-events cap reached; pausing")
	}
	if w, ok := cp.srcWM[b.Source]; !ok || b.Watermark > w {
		cp.srcWM[b.Source] = b.Watermark
	}
	for i := range b.Events {
		ev := &b.Events[i]
		start := cloak.WindowStart(ev.Time, size)
		switch {
		case start+size <= cp.released:
			continue // released already (before a restart, or a copy); its records are out
		case cp.scanning && start > cp.horizon:
			cp.minPassed = min(cp.minPassed, start)
			continue
		case !cp.scanning && off < cp.rereadUntil && start <= cp.rereadHorizon:
			continue // taken during the scan
		}
		if _, ok := cp.minOff[start]; !ok {
			cp.minOff[start] = off
			s.windows.Add(1)
		}
		cp.windows.Add(ev, b.Source, b.Offsets[i], "")
		s.buffered.Add(1)
	}
	s.opt.Metrics.EventsIn.WithLabelValues("cloak").Add(float64(len(b.Events)))
	s.opt.Metrics.Buffered.Set(float64(s.buffered.Load()))
	s.opt.Metrics.Windows.Set(float64(s.windows.Load()))
}

// watermark is the minimum over all raw partitions; NoWatermark until every one has
// reported.
func (cp *cloakPartition) watermark(ctx context.Context) int64 {
	n := cp.s.numSources(ctx)
	wm := int64(math.MaxInt64)
	for src := range n {
		w, ok := cp.srcWM[int32(src)]
		if !ok {
			return cloak.NoWatermark
		}
		wm = min(wm, w)
	}
	if n == 0 {
		return cloak.NoWatermark
	}
	return wm
}

// release writes the records of closed windows, oldest first, to every partner (the
// partners in parallel), waits for all acknowledgements, then forgets the windows.
func (cp *cloakPartition) release(ctx context.Context, closed []*cloak.Window) error {
	s := cp.s
	stats := make([]cloak.Stats, len(s.policies))
	var events int64
	// Each partner's records are gathered across windows and written a batch at a time
	// (one write per window would cost a round trip each): a window's records are copied
	// out of the release's buffers, reused by the next Release, into pending, which is
	// written whenever it holds a batch, and at the end. So memory holds at most about two
	// batches per partner, and a write returns once its records are acknowledged.
	pending := make([]pendingRecords, len(s.policies))
	errs := make([]error, len(s.policies))
	for _, w := range closed {
		events += int64(w.Len())
		rel := cp.releaser.Release(w)
		var wg sync.WaitGroup
		for i := range rel.Partners {
			pr := &rel.Partners[i]
			stats[i].Add(&pr.Stats)
			prev, again := cp.ledger[i][w.Start]
			wg.Add(1)
			go func() {
				defer wg.Done()
				pd := &pending[i]
				if again {
					// Released before a crash with noise we cannot draw again: the same
					// records once more.
					for _, m := range prev {
						pd.add(m.Key, m.Value, m.Time)
					}
				} else {
					for recs := pr.Records(cloak.RecordBatch); recs != nil; recs = pr.Records(cloak.RecordBatch) {
						for _, r := range recs {
							pd.add(r.Key, r.Value, time.UnixMilli(r.Time))
						}
						if len(pd.msgs) >= cloak.RecordBatch {
							if errs[i] = cp.write(ctx, i, pd.take()); errs[i] != nil {
								return
							}
						}
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err // ctx ended: nothing is committed, the windows are released again
			}
		}
	}
	var wg sync.WaitGroup
	for i := range pending {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cp.write(ctx, i, pending[i].take())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for _, w := range closed {
		for i := range s.policies {
			delete(cp.ledger[i], w.Start)
		}
	}
	// Counted once the records are acknowledged.
	for i, p := range s.policies {
		s.opt.Metrics.Released.WithLabelValues(p.Name).Add(float64(stats[i].Released))
		for r := cloak.SensitiveCategory; r < cloak.NumReasons; r++ {
			if k := stats[i].Suppressed[r]; k > 0 {
				s.opt.Metrics.Suppressed.WithLabelValues(p.Name, r.String()).Add(float64(k))
			}
		}
	}
	for _, w := range closed {
		cp.released = max(cp.released, w.End)
		delete(cp.minOff, w.Start)
	}
	s.buffered.Add(-events)
	s.windows.Add(-int64(len(closed)))
	s.opt.Metrics.Buffered.Set(float64(s.buffered.Load()))
	s.opt.Metrics.Windows.Set(float64(s.windows.Load()))
	cp.log.Debug().Int("windows", len(closed)).Int64("events", events).Msg("windows released")
	return nil
}

// pendingRecords are a partner's records waiting to be written, with their own copies of
// key and value.
type pendingRecords struct {
	msgs  []kafka.Message
	arena []byte
	spans []int // key start, value start, value end in arena, per message
}

func (pd *pendingRecords) add(key, value []byte, t time.Time) {
	k := len(pd.arena)
	pd.arena = append(append(pd.arena, key...), value...)
	pd.spans = append(pd.spans, k, k+len(key), len(pd.arena))
	pd.msgs = append(pd.msgs, kafka.Message{Time: t})
}

// take returns the pending messages, their keys and values pointing into the arena, and
// empties it (the slices stay valid until the next add).
func (pd *pendingRecords) take() []kafka.Message {
	for i := range pd.msgs {
		k, v, e := pd.spans[3*i], pd.spans[3*i+1], pd.spans[3*i+2]
		pd.msgs[i].Key, pd.msgs[i].Value = pd.arena[k:v:v], pd.arena[v:e:e]
	}
	out := pd.msgs
	pd.msgs, pd.arena, pd.spans = nil, nil, pd.spans[:0]
	return out
}

// write writes msgs to partner i's topic until they are acknowledged.
func (cp *cloakPartition) write(ctx context.Context, i int, msgs []kafka.Message) error {
	s := cp.s
	if len(msgs) == 0 {
		return nil
	}
	if err := s.opt.writeAll(ctx, s.partners[i], s.policies[i].Topic, "cloak", cp.p, msgs, cp.log, nil); err != nil {
		return err
	}
	s.opt.Metrics.Records.WithLabelValues(s.policies[i].Name).Add(float64(len(msgs)))
	return nil
}

// drop forgets the partition's open windows when it is revoked or the stage stops; the
// next owner rebuilds them from the committed offset.
func (cp *cloakPartition) drop() {
	cp.s.buffered.Add(-int64(cp.windows.Buffered()))
	cp.s.windows.Add(-int64(cp.windows.Open()))
	cp.s.opt.Metrics.Buffered.Set(float64(cp.s.buffered.Load()))
	cp.s.opt.Metrics.Windows.Set(float64(cp.s.windows.Load()))
}

// loadLedger reads back, for each dp partner, the records of this partition's classes
// in windows that end after the last committed release (found by timestamp: a record's
// timestamp is its window end).
func (cp *cloakPartition) loadLedger(ctx context.Context) error {
	s := cp.s
	for i, p := range s.policies {
		if p.DP == nil {
			continue
		}
		topic := p.Topic
		n, err := s.opt.Conn.Partitions(ctx, topic)
		if err != nil {
			return err
		}
		var reqs []kafka.OffsetRequest
		for part := range n {
			if cp.released == cloak.NoWatermark {
				reqs = append(reqs, kafka.FirstOffsetOf(part))
			} else {
				reqs = append(reqs, kafka.TimeOffsetOf(part, time.UnixMilli(cp.released+1)))
			}
		}
		res, err := s.opt.Conn.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
		if err != nil {
			return fmt.Errorf("list offsets of %s: %w", topic, err)
		}
		pres := s.opt.Config.PartitionResolution
		for _, po := range res.Topics[topic] {
			if po.Error != nil {
				return fmt.Errorf("list offsets of %s/%d: %w", topic, po.Partition, po.Error)
			}
			off := po.FirstOffset
			if cp.released != cloak.NoWatermark {
				off = offsetAt(po)
			}
			for off >= 0 {
				next, high, err := s.opt.Conn.fetchRecords(ctx, topic, po.Partition, off, 50*time.Millisecond, s.opt.FetchBytes,
					func(_ int64, key, value []byte, ts time.Time) error {
						start, part, ok := parseRecordKey(key, pres, s.nInternal)
						if !ok || part != cp.p || start+s.opt.Config.Window.Size.D().Milliseconds() <= cp.released {
							return nil
						}
						if cp.ledger == nil {
							cp.ledger = make(map[int]map[int64][]kafka.Message)
						}
						if cp.ledger[i] == nil {
							cp.ledger[i] = make(map[int64][]kafka.Message)
						}
						cp.ledger[i][start] = append(cp.ledger[i][start], kafka.Message{Key: bytes.Clone(key), Value: bytes.Clone(value), Time: ts})
						return nil
					})
				if err != nil {
					return fmt.Errorf("read back %s/%d: %w", topic, po.Partition, err)
				}
				if next == off || next >= high {
					break
				}
				off = next
			}
		}
	}
	return nil
}

// offsetAt is the offset ListOffsets found for a timestamp, or -1 when no record is that
// recent.
func offsetAt(po kafka.PartitionOffsets) int64 {
	for o := range po.Offsets {
		return o
	}
	return -1
}

// parseRecordKey reads a partner record key, "partner/window start (Unix s)/cell[/n]",
// and returns the window start and the internal partition that released it. The opaque
// keys of a policy without cell ("partner/window start/x<hmac>") are not read: dp
// partners, whose records are read back, release cell.
func parseRecordKey(key []byte, partitionRes, nInternal int) (start int64, partition int, ok bool) {
	parts := strings.Split(string(key), "/")
	if len(parts) < 3 {
		return 0, 0, false
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	c, err := strconv.ParseUint(parts[2], 16, 64)
	if err != nil {
		return 0, 0, false
	}
	return sec * 1000, internalPartition(geo.Cell(c), partitionRes, nInternal), true
}
