package cloak

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/geocloak/geocloak/config"
)

// Output receives what evaluate decides, in a deterministic order.
type Output interface {
	// Suppressed is called for an event that never reached a window: invalid (detail
	// says why) or late (window is the window it was late for). id is its event id, or
	// "line:N" when it has none.
	Suppressed(id string, reason Reason, detail string, window *Window) error
	// Released is called for each closed window, oldest first. rel is valid only
	// during the call.
	Released(rel *Release) error
}

// EvalOptions configure Evaluate.
type EvalOptions struct {
	Config *config.Config
	Key    Key // pseudonym key
	// Now is the wall clock for the far-future check (input.max_future). Zero: time.Now().
	Now time.Time
	// Workers decode in parallel (0: GOMAXPROCS). The result does not depend on it.
	Workers int
	// KeepIDs keeps event ids in open windows, for audit lines.
	KeepIDs bool
	// Progress, when set, is called about once a second from the calling goroutine.
	Progress func(Progress)
	// Partitions, when > 0, judges lateness as the stream does on a raw topic of that
	// many partitions keyed by user: each check-in against the watermark of its own
	// partition, Partition(user id), which must be in [0, Partitions): the producer's
	// partitioner (pipeline.Partitioner gives those of Kafka clients). 0 judges it on the
	// file as a whole.
	Partitions int
	Partition  func(userID []byte) int
}

// Progress of a running evaluation.
type Progress struct {
	Lines    int64
	Bytes    int64 // compressed bytes read, when the input is gzip
	Elapsed  time.Duration
	Open     int // open windows
	Buffered int // events held in them
}

// Summary is the outcome of an evaluation.
type Summary struct {
	Lines   int64 // records read (blank lines are skipped)
	Invalid int64
	// InvalidReasons counts invalid records by reason (field and rule, never values).
	InvalidReasons map[string]int64
	Late           int64
	Elapsed        time.Duration
	Partners       []PartnerSummary
	// MaxBuffered is the largest number of events held in open windows at once.
	MaxBuffered int
}

// PartnerSummary is one partner's totals.
type PartnerSummary struct {
	Policy *Policy
	Stats
}

// InvalidByCount lists the invalid reasons, most frequent first.
func (s *Summary) InvalidByCount() []string {
	reasons := make([]string, 0, len(s.InvalidReasons))
	for r := range s.InvalidReasons {
		reasons = append(reasons, r)
	}
	slices.SortFunc(reasons, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.InvalidReasons[b], s.InvalidReasons[a]), strings.Compare(a, b))
	})
	return reasons
}

// EventsPerSecond is the evaluation's throughput.
func (s *Summary) EventsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Lines) / s.Elapsed.Seconds()
}

// chunk is a run of input lines decoded by one worker.
type chunk struct {
	nums  []int64 // line number (1-based, blank lines counted) of each line
	buf   []byte
	lines [][]byte
	evs   []Event
	errs  []string // "" when the line decoded
	ids   []string // event ids, when kept
	parts []int32  // raw partition of each line (EvalOptions.Partitions)
	done  chan struct{}
}

const chunkLines = 2048

// Evaluate runs the engine over a JSONL input (plain or gzip) and reports every outcome
// to out. Windows are released as the watermark passes them, so memory is bounded by
// the open windows, not by the input.
func Evaluate(ctx context.Context, in io.Reader, opt EvalOptions, out Output) (*Summary, error) {
	cfg := opt.Config
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var part func(user []byte) int32
	if opt.Partitions > 0 {
		if opt.Partition == nil {
			return nil, errors.New("evaluate: Partitions without a Partition function")
		}
		part = func(user []byte) int32 {
			p := opt.Partition(user)
			if p < 0 || p >= opt.Partitions {
				p = 0 // a broken partitioner; judged like partition 0 rather than crashing
			}
			return int32(p)
		}
	}
	counted := &countingReader{r: in}
	r, err := Decompress(counted)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Reader → workers (any order) and → the engine (input order). Buffers are bounded:
	// at most 4 chunks per worker are in flight.
	work := make(chan *chunk, workers)
	ordered := make(chan *chunk, 4*workers)
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(work)
		defer close(ordered)
		readErr = readChunks(ctx, r, cfg.Input.MaxRecordBytes, work, ordered)
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := NewMinimizer(cfg, opt.Key)
			for c := range work {
				decodeChunk(m, c, now.UnixMilli(), opt.KeepIDs, part)
			}
		}()
	}

	e := newEvalEngine(cfg, opt.Partitions, opt.KeepIDs, RecordKeySecret(opt.Key), out)
	start := time.Now()
	lastProgress := start
	var engineErr error
	for c := range ordered {
		<-c.done
		if engineErr == nil {
			engineErr = e.chunk(c)
			if engineErr != nil {
				cancel()
			}
		}
		if opt.Progress != nil && time.Since(lastProgress) >= time.Second {
			lastProgress = time.Now()
			opt.Progress(Progress{Lines: e.sum.Lines, Bytes: counted.n.Load(), Elapsed: time.Since(start),
				Open: e.windows.Open(), Buffered: e.windows.Buffered()})
		}
	}
	wg.Wait()
	if engineErr != nil {
		return nil, engineErr
	}
	if readErr != nil {
		return nil, readErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := e.flush(); err != nil {
		return nil, err
	}
	e.sum.Elapsed = time.Since(start)
	sum := e.sum // a copy: the engine's windows and buffers must not outlive the call
	return &sum, nil
}

// Decompress returns r, gunzipped when it starts with the gzip magic bytes.
func Decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(2)
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip input: %w", err)
		}
		return zr, nil
	}
	return br, nil
}

// countingReader counts bytes read; the count is read from another goroutine.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// readChunks splits the input into lines. A line longer than maxBytes is passed on cut
// to maxBytes+1 bytes, so that it is reported invalid without holding all of it.
func readChunks(ctx context.Context, r io.Reader, maxBytes int, work, ordered chan<- *chunk) error {
	br := bufio.NewReaderSize(r, 1<<20)
	lineNo := int64(0) // physical lines, blank ones included
	c := &chunk{done: make(chan struct{})}
	send := func() error {
		select {
		case work <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case ordered <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		c = &chunk{done: make(chan struct{})}
		return nil
	}
	var long []byte
	for {
		frag, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long) <= maxBytes {
				long = append(long, frag[:min(len(frag), maxBytes+1-len(long))]...)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read input: %w", err)
		}
		line := frag
		if long != nil {
			if len(long) <= maxBytes {
				long = append(long, frag[:min(len(frag), maxBytes+1-len(long))]...)
			}
			line, long = long, nil
		}
		if len(line) > 0 || !errors.Is(err, io.EOF) {
			lineNo++
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(line)) > 0 {
			off := len(c.buf)
			c.buf = append(c.buf, line...)
			c.lines = append(c.lines, c.buf[off:len(c.buf):len(c.buf)])
			c.nums = append(c.nums, lineNo)
			if len(c.lines) == chunkLines {
				// Lines point into c.buf; re-slice them now that it no longer grows.
				if err := send(); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if len(c.lines) > 0 {
		return send()
	}
	return nil
}

func decodeChunk(m *Minimizer, c *chunk, now int64, keepIDs bool, part func(user []byte) int32) {
	defer close(c.done)
	// Lines were appended to a growing buffer; rebuild them over its final backing array.
	off := 0
	for i, l := range c.lines {
		c.lines[i] = c.buf[off : off+len(l)]
		off += len(l)
	}
	c.evs = make([]Event, len(c.lines))
	c.errs = make([]string, len(c.lines))
	if keepIDs {
		c.ids = make([]string, len(c.lines))
	}
	if part != nil {
		c.parts = make([]int32, len(c.lines))
	}
	var ck Checkin
	for i, l := range c.lines {
		err := m.Minimize(l, now, &ck, &c.evs[i])
		if err != nil {
			var ie *InvalidError
			if errors.As(err, &ie) {
				c.errs[i] = ie.Reason
			} else {
				c.errs[i] = "invalid"
			}
		} else if part != nil {
			c.parts[i] = part(ck.User)
		}
		if keepIDs {
			if len(ck.EventID) > 0 {
				c.ids[i] = string(ck.EventID)
			} else {
				c.ids[i] = "line:" + strconv.FormatInt(c.nums[i], 10)
			}
		}
	}
}

// evalEngine is the single-threaded part of Evaluate: watermark, windows, release.
type evalEngine struct {
	wms      []Watermark // one, or one per raw partition
	windows  *Windows
	releaser *Releaser
	out      Output
	sum      Summary
}

func newEvalEngine(cfg *config.Config, partitions int, keepIDs bool, secret []byte, out Output) *evalEngine {
	pols := NewPolicies(cfg)
	wms := make([]Watermark, max(1, partitions))
	for i := range wms {
		wms[i] = NewWatermark(cfg.Window.AllowedLateness.D().Milliseconds(), cfg.Window.WatermarkUsers)
	}
	e := &evalEngine{
		wms:      wms,
		windows:  NewWindows(cfg.Window.Size.D().Milliseconds(), keepIDs),
		releaser: NewReleaser(pols, secret),
		out:      out,
	}
	e.sum.Partners = make([]PartnerSummary, len(pols))
	for i, p := range pols {
		e.sum.Partners[i].Policy = p
	}
	return e
}

func (e *evalEngine) chunk(c *chunk) error {
	for i := range c.lines {
		e.sum.Lines++
		id := ""
		if c.ids != nil {
			id = c.ids[i]
		}
		if c.errs[i] != "" {
			e.sum.Invalid++
			if e.sum.InvalidReasons == nil {
				e.sum.InvalidReasons = make(map[string]int64)
			}
			e.sum.InvalidReasons[c.errs[i]]++
			e.suppressedAll(Invalid)
			if err := e.out.Suppressed(id, Invalid, c.errs[i], nil); err != nil {
				return err
			}
			continue
		}
		ev := &c.evs[i]
		wm := &e.wms[0]
		if c.parts != nil {
			wm = &e.wms[c.parts[i]]
		}
		if wm.Late(e.windows.End(ev.Time)) {
			e.sum.Late++
			e.suppressedAll(Late)
			start := WindowStart(ev.Time, e.windows.size)
			w := Window{Start: start, End: start + e.windows.size}
			if err := e.out.Suppressed(id, Late, "", &w); err != nil {
				return err
			}
			continue
		}
		e.windows.Add(ev, 0, c.nums[i], id)
		e.sum.MaxBuffered = max(e.sum.MaxBuffered, e.windows.Buffered())
		wm.Observe(ev.Time, ev.User)
		// Windows close at the minimum over the partitions (one without data holds them
		// back, as in the stream, until the input ends).
		low := e.wms[0].Value()
		for i := 1; i < len(e.wms); i++ {
			low = min(low, e.wms[i].Value())
		}
		if e.windows.OldestEnd() <= low {
			if err := e.close(low); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *evalEngine) suppressedAll(r Reason) {
	for i := range e.sum.Partners {
		e.sum.Partners[i].In++
		e.sum.Partners[i].Suppressed[r]++
	}
}

func (e *evalEngine) close(wm int64) error {
	for _, w := range e.windows.Close(wm) {
		rel := e.releaser.Release(w)
		for i := range rel.Partners {
			e.sum.Partners[i].Stats.Add(&rel.Partners[i].Stats)
		}
		if err := e.out.Released(rel); err != nil {
			return err
		}
	}
	return nil
}

// flush releases every window still open: the input has ended.
func (e *evalEngine) flush() error { return e.close(maxTime) }

const maxTime = int64(1<<63 - 1)
