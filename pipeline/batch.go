package pipeline

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/geo"
)

// The internal topic carries minimized events between the stages, many per message
// (the per-message cost of a Kafka client dominates, so one message per check-in would
// halve throughput). A message holds the events of one ingest round for one internal
// partition, all from one raw partition, plus that raw partition's watermark after the
// round. A message with no events is a watermark marker.
//
// Layout (version 1), integers as (u)varints unless noted:
//
//	'g' 1                       magic and version
//	source                      raw partition
//	watermark                   varint, Unix ms, after the events
//	m, m × (len, bytes)         category table
//	n, n × event                events, in raw offset order:
//	  offset delta              from the previous event (the first: absolute)
//	  cell                      8 bytes, big endian
//	  user                      8 bytes, big endian (the keyed pseudonym)
//	  time delta                varint, from the previous event (the first: absolute)
//	  category                  index into the table
//
// It holds no raw identifier and no coordinate finer than the finest released cell.
type Batch struct {
	Source    int32
	Watermark int64
	Events    []cloak.Event
	Offsets   []int64 // raw offset of each event, increasing
}

const batchMagic, batchVersion = 'g', 1

var errBatch = errors.New("internal message: malformed")

// AppendBatch encodes b. cats is scratch space, reused between calls.
func AppendBatch(dst []byte, b *Batch, cats map[string]uint64) []byte {
	dst = append(dst, batchMagic, batchVersion)
	dst = binary.AppendUvarint(dst, uint64(b.Source))
	dst = binary.AppendVarint(dst, b.Watermark)
	clear(cats)
	var table []string
	for i := range b.Events {
		c := b.Events[i].Category
		if _, ok := cats[c]; !ok {
			cats[c] = uint64(len(table))
			table = append(table, c)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(table)))
	for _, c := range table {
		dst = binary.AppendUvarint(dst, uint64(len(c)))
		dst = append(dst, c...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.Events)))
	var prevOff, prevTime int64
	for i := range b.Events {
		ev := &b.Events[i]
		dst = binary.AppendUvarint(dst, uint64(b.Offsets[i]-prevOff))
		dst = binary.BigEndian.AppendUint64(dst, uint64(ev.Cell))
		dst = binary.BigEndian.AppendUint64(dst, uint64(ev.User))
		dst = binary.AppendVarint(dst, ev.Time-prevTime)
		dst = binary.AppendUvarint(dst, cats[ev.Category])
		prevOff, prevTime = b.Offsets[i], ev.Time
	}
	return dst
}

// DecodeBatch decodes an internal message into b, reusing its slices. Every event's cell
// must be at resolution res. Malformed input is an error, never a panic or a huge
// allocation.
func DecodeBatch(data []byte, res int, b *Batch) error {
	d := batchReader{b: data}
	if len(data) < 2 || data[0] != batchMagic || data[1] != batchVersion {
		return errBatch
	}
	d.i = 2
	src := d.uvarint()
	wm := d.varint()
	m := d.uvarint()
	if d.err != nil || src > math.MaxInt32 || m > uint64(len(data)) {
		return errBatch
	}
	b.Source, b.Watermark = int32(src), wm
	table := make([]string, m)
	for i := range table {
		n := d.uvarint()
		if d.err != nil || n > uint64(len(data)-d.i) {
			return errBatch
		}
		table[i] = string(data[d.i : d.i+int(n)])
		d.i += int(n)
	}
	n := d.uvarint()
	// Each event takes at least 19 bytes: refuse counts the message cannot hold.
	if d.err != nil || n > uint64(len(data)-d.i)/19 {
		return errBatch
	}
	b.Events, b.Offsets = b.Events[:0], b.Offsets[:0]
	var off, t int64
	for range n {
		delta := d.uvarint()
		if d.err != nil || delta > math.MaxInt64/2 || (len(b.Offsets) > 0 && delta == 0) {
			return errBatch
		}
		off += int64(delta)
		cell := geo.Cell(d.u64())
		user := cloak.Pseudonym(d.u64())
		t += d.varint()
		c := d.uvarint()
		if d.err != nil || c >= uint64(len(table)) || cell.Res() != res || off < 0 {
			return errBatch
		}
		b.Events = append(b.Events, cloak.Event{Cell: cell, User: user, Time: t, Category: table[c]})
		b.Offsets = append(b.Offsets, off)
	}
	if d.i != len(data) {
		return errBatch
	}
	return nil
}

type batchReader struct {
	b   []byte
	i   int
	err error
}

func (r *batchReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		r.err = errBatch
		return 0
	}
	r.i += n
	return v
}

func (r *batchReader) varint() int64 {
	v, n := binary.Varint(r.b[r.i:])
	if n <= 0 {
		r.err = errBatch
		return 0
	}
	r.i += n
	return v
}

func (r *batchReader) u64() uint64 {
	if len(r.b)-r.i < 8 {
		r.err = errBatch
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.i:])
	r.i += 8
	return v
}
