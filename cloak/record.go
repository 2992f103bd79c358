package cloak

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
)

// Record is one message for a partner topic.
type Record struct {
	// Key is derived from partner, window, class and the record's place in the class;
	// never from a user. A re-release after a crash carries the same keys (G3, G5).
	Key   []byte
	Value []byte
	// Time is the window end, Unix ms: the Kafka timestamp (G5).
	Time int64
}

type fieldSet uint16

const (
	fCell fieldSet = 1 << iota
	fRes
	fWindowStart
	fWindowEnd
	fCategory
	fUsers
	fCheckins
)

var fieldBit = map[string]fieldSet{
	"cell": fCell, "res": fRes, "window_start": fWindowStart, "window_end": fWindowEnd,
	"category": fCategory, "users": fUsers, "checkins": fCheckins,
}

// recordBuf holds one batch of a partner's records in one byte arena, reused batch
// after batch: the records of a window are encoded as they are read (Records), never all
// at once, so that a window of a million check-ins costs one batch of record bytes.
type recordBuf struct {
	buf  []byte
	offs []int // key start, value start, value end, per record
	recs []Record
}

// cursor is where the next record of a partner's release is: the class (an index into
// order) and the record's index in the class.
type cursor struct{ class, i int }

// encode decides pr's stats, the category each record shows and the records' order
// from its classes and item outcomes; the record bytes are made by Records.
func (r *Releaser) encode(pr *PartnerRelease, w *Window) {
	p := pr.Policy
	items := r.rel.items
	st := &pr.Stats

	// Items of each class, in release order: one pass to count, one to place.
	nc := len(pr.Classes)
	starts := slices.Grow(pr.starts[:0], nc+1)[:nc+1]
	clear(starts)
	for i := range items {
		if o := pr.outcome[i]; o >= 0 {
			starts[o+1]++
		} else {
			st.Suppressed[-o]++
		}
	}
	for c := range nc {
		starts[c+1] += starts[c]
	}
	members := slices.Grow(pr.members[:0], int(starts[nc]))[:starts[nc]]
	fill := slices.Clone(starts[:nc])
	for i := range items {
		if o := pr.outcome[i]; o >= 0 {
			members[fill[o]] = int32(i)
			fill[o]++
		}
	}
	pr.starts, pr.members = starts, members

	order := pr.order[:0]
	for c := range nc {
		order = append(order, int32(c))
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(pr.Classes[a].Cell, pr.Classes[b].Cell) })

	categories := p.Mode == config.ModeEvents && p.fields&fCategory != 0
	labels := r.rel.labels
	kept := order[:0] // the classes released, in record order: dp may drop some
	for _, c := range order {
		cl := &pr.Classes[c]
		m := members[starts[c]:starts[c+1]]
		if p.DP != nil {
			if !r.noise(pr, cl, m) {
				// The noisy user count fell below the library's threshold: the class
				// is not released, its check-ins are suppressed (below_k).
				cl.DPDropped = true
				for _, x := range m {
					pr.outcome[x] = -int32(BelowK)
				}
				st.Suppressed[BelowK] += len(m)
				st.DPDropped += len(m)
				continue
			}
		}
		kept = append(kept, c)
		res := cl.Cell.Res()
		st.Released += len(m)
		st.ByRes[res] += len(m)
		st.Classes++
		st.MinClassUsers = minPositive(st.MinClassUsers, cl.Users)
		if a, err := cl.Cell.AreaKm2(); err == nil {
			st.AreaKm2 += a * float64(len(m))
		}
		for _, x := range m {
			if r.rel.cats[items[x].cat].group >= 0 {
				st.Categorised++
			}
		}
		if p.Mode == config.ModeCounts {
			st.Tuples++
			st.MinTupleUsers = minPositive(st.MinTupleUsers, cl.Users)
			continue
		}
		if categories {
			pr.lab.label(r, pr, cl, m)
		}
		// Records of a class leave sorted by the category they show; within a category
		// they are identical but for their key's index.
		slices.SortStableFunc(m, func(a, b int32) int {
			return cmp.Compare(labelText(labels, pr.label[a]), labelText(labels, pr.label[b]))
		})
		for i, x := range m {
			l := pr.label[x]
			if i == 0 || l != pr.label[m[i-1]] {
				st.Tuples++
				st.MinTupleUsers = minPositive(st.MinTupleUsers, pr.lab.tupleUsers(r, pr, m[i:]))
			}
			switch wc := r.rel.cats[items[x].cat]; {
			case l < 0:
			case l == wc.leaf:
				st.KeptLeaf++
			default:
				st.KeptGroup++
			}
		}
		if cl.NoCategory {
			st.NoCategory += len(m)
		}
	}
	pr.order = kept
	pr.labels = labels
	pr.window = w
	pr.start = time.UnixMilli(w.Start).UTC().AppendFormat(pr.start[:0], time.RFC3339)
	pr.end = time.UnixMilli(w.End).UTC().AppendFormat(pr.end[:0], time.RFC3339)
	pr.keyPrefix = strconv.AppendInt(append(append(pr.keyPrefix[:0], p.Name...), '/'), w.Start/1000, 10)
	pr.cur = cursor{}
	pr.opaque, pr.shuffled = pr.opaque[:0], false
}

// shuffle puts the records of a policy without cell in key order, at the first Records
// call (an output that reads no records, as the report's sweep, never pays for it):
// neither key nor order may tell the class, so each record gets an HMAC of partner,
// window, cell and place in the class, which is its key, and the records leave sorted by
// it, a shuffle that is the same at every release.
func (pr *PartnerRelease) shuffle() {
	counts := pr.Policy.Mode == config.ModeCounts
	for ci, c := range pr.order {
		if counts {
			pr.opaque = append(pr.opaque, opaqueRec{h: pr.recordMAC(pr.Classes[c].Cell, -1), class: int32(ci)})
			continue
		}
		for i := range pr.starts[c+1] - pr.starts[c] {
			pr.opaque = append(pr.opaque, opaqueRec{h: pr.recordMAC(pr.Classes[c].Cell, int(i)), class: int32(ci), i: i})
		}
	}
	slices.SortFunc(pr.opaque, func(a, b opaqueRec) int { return cmp.Compare(a.h, b.h) })
	pr.shuffled = true
}

// counts are the users and check-ins a counts record of cl shows: noisy for a dp policy.
func (pr *PartnerRelease) counts(cl *Class) (users, checkins int) {
	if pr.Policy.DP != nil {
		return cl.NoisyUsers, cl.NoisyCheckins
	}
	return cl.Users, cl.Checkins
}

// opaqueRec is one record of a policy without cell: its key's HMAC, its class (an index
// into order) and its place in the class.
type opaqueRec struct {
	h        uint64
	class, i int32
}

// recordMAC is the first 8 bytes of the HMAC of the record at place idx (-1: the class's
// one counts record) of the class at cell, in the window of pr.keyPrefix.
func (pr *PartnerRelease) recordMAC(cell geo.Cell, idx int) uint64 {
	pr.macIn = append(pr.macIn[:0], pr.keyPrefix...)
	pr.macIn = binary.BigEndian.AppendUint64(pr.macIn, uint64(cell))
	pr.macIn = binary.BigEndian.AppendUint64(pr.macIn, uint64(int64(idx)))
	pr.mac.Reset()
	pr.mac.Write(pr.macIn)
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(pr.mac.Sum(sum[:0]))
}

// RecordCount is the number of records of the partner's release.
func (pr *PartnerRelease) RecordCount() int {
	if pr.Policy.Mode == config.ModeCounts {
		return pr.Stats.Classes
	}
	return pr.Stats.Released
}

// Records returns the next records of the partner's release, at most max (>= 1), in
// release order (by class, then category: never by arrival; for a policy without cell,
// by key, which tells neither), or nil when all have been
// returned. They are valid until the next call, or the next Release. Safe to call for
// different partners of one release from different goroutines.
func (pr *PartnerRelease) Records(max int) []Record {
	p := pr.Policy
	rb := &pr.arena
	rb.buf, rb.offs = rb.buf[:0], rb.offs[:0]
	n := 0
	if pr.mac != nil {
		if !pr.shuffled {
			pr.shuffle()
		}
		for ; n < max && pr.cur.i < len(pr.opaque); pr.cur.i++ {
			o := pr.opaque[pr.cur.i]
			c := pr.order[o.class]
			cl := &pr.Classes[c]
			users, checkins, cat := 0, 0, ""
			if p.Mode == config.ModeCounts {
				users, checkins = pr.counts(cl)
			} else {
				cat = labelText(pr.labels, pr.label[pr.members[pr.starts[c]+o.i]])
			}
			rb.opaqueRecord(p.Name, o.h, func(b []byte) []byte {
				return appendRecord(b, p.fields, cl, pr.start, pr.end, cat, users, checkins)
			})
			n++
		}
		return rb.records(n, pr.window.End)
	}
	for n < max && pr.cur.class < len(pr.order) {
		cl := &pr.Classes[pr.order[pr.cur.class]]
		if p.Mode == config.ModeCounts {
			users, checkins := pr.counts(cl)
			rb.record(pr, cl, -1, func(b []byte) []byte {
				return appendRecord(b, p.fields, cl, pr.start, pr.end, "", users, checkins)
			})
			n++
			pr.cur.class++
			continue
		}
		c := pr.order[pr.cur.class]
		m := pr.members[pr.starts[c]:pr.starts[c+1]]
		for ; pr.cur.i < len(m) && n < max; pr.cur.i++ {
			cat := labelText(pr.labels, pr.label[m[pr.cur.i]])
			rb.record(pr, cl, pr.cur.i, func(b []byte) []byte {
				return appendRecord(b, p.fields, cl, pr.start, pr.end, cat, 0, 0)
			})
			n++
		}
		if pr.cur.i == len(m) {
			pr.cur = cursor{class: pr.cur.class + 1}
		}
	}
	return rb.records(n, pr.window.End)
}

// records returns the n records of the batch, with timestamp end; nil when n is 0.
func (rb *recordBuf) records(n int, end int64) []Record {
	if n == 0 {
		return nil
	}
	rb.recs = rb.recs[:0]
	for i := 0; i+2 < len(rb.offs); i += 3 {
		k, v, e := rb.offs[i], rb.offs[i+1], rb.offs[i+2]
		rb.recs = append(rb.recs, Record{Key: rb.buf[k:v:v], Value: rb.buf[v:e:e], Time: end})
	}
	return rb.recs
}

func labelText(labels []string, l int32) string {
	if l < 0 {
		return ""
	}
	return labels[l]
}

// record appends one record's key and value: "partner/window start in Unix s/cell"
// and, in events mode, "/index" (the record's place in its class).
func (rb *recordBuf) record(pr *PartnerRelease, cl *Class, idx int, value func([]byte) []byte) {
	k := len(rb.buf)
	rb.buf = append(rb.buf, pr.keyPrefix...)
	rb.buf = append(rb.buf, '/')
	rb.buf, _ = cl.Cell.AppendText(rb.buf)
	if idx >= 0 {
		rb.buf = append(rb.buf, '/')
		rb.buf = strconv.AppendInt(rb.buf, int64(idx), 10)
	}
	v := len(rb.buf)
	rb.buf = value(rb.buf)
	rb.offs = append(rb.offs, k, v, len(rb.buf))
}

// opaqueRecord appends one record of a policy that releases no cell: the key must not
// hold it either, nor the class, nor the window. It is "partner/x" and 16 hex digits of
// h, an HMAC under the record-key secret of the window, the cell and the record's place
// (recordMAC). Keys stay the same from run to run and from stream to evaluate (G5), and
// tell nothing the record does not.
func (rb *recordBuf) opaqueRecord(partner string, h uint64, value func([]byte) []byte) {
	k := len(rb.buf)
	rb.buf = append(append(rb.buf, partner...), "/x"...)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h)
	rb.buf = hex.AppendEncode(rb.buf, b[:])
	v := len(rb.buf)
	rb.buf = value(rb.buf)
	rb.offs = append(rb.offs, k, v, len(rb.buf))
}

// RecordKeySecret derives the secret of the record keys of policies without cell from
// the pseudonym key: secret too, the same for every run of one deployment.
func RecordKeySecret(k Key) []byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte("geocloak record keys v1"))
	return m.Sum(nil)
}

// appendRecord writes a partner record: only the fields the policy lists (G2), in the
// mode's order. An empty category is left out.
func appendRecord(b []byte, f fieldSet, cl *Class, start, end []byte, cat string, users, checkins int) []byte {
	b = append(b, '{')
	sep := func() {
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
	}
	if f&fCell != 0 {
		b = append(b, `"cell":"`...)
		b, _ = cl.Cell.AppendText(b)
		b = append(b, '"')
	}
	if f&fRes != 0 {
		sep()
		b = append(b, `"res":`...)
		b = strconv.AppendInt(b, int64(cl.Cell.Res()), 10)
	}
	if f&fWindowStart != 0 {
		sep()
		b = append(b, `"window_start":"`...)
		b = append(b, start...)
		b = append(b, '"')
	}
	if f&fWindowEnd != 0 {
		sep()
		b = append(b, `"window_end":"`...)
		b = append(b, end...)
		b = append(b, '"')
	}
	if f&fCategory != 0 && cat != "" {
		sep()
		b = append(b, `"category":`...)
		b = appendJSONString(b, cat)
	}
	if f&fUsers != 0 {
		sep()
		b = append(b, `"users":`...)
		b = strconv.AppendInt(b, int64(users), 10)
	}
	if f&fCheckins != 0 {
		sep()
		b = append(b, `"checkins":`...)
		b = strconv.AppendInt(b, int64(checkins), 10)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
