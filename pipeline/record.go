package pipeline

import (
	"cmp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/geocloak/geocloak/config"
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

// recordBuf accumulates a partner's records for one window in one byte arena.
type recordBuf struct {
	buf  []byte
	offs []int // key start, value start, value end, per record
}

// encode fills pr's stats and records from its classes and item outcomes.
func (r *Releaser) encode(pr *PartnerRelease, w *Window) {
	p := pr.Policy
	items := r.rel.items
	st := &pr.Stats

	// Items of each class, in release order: one pass to count, one to place.
	nc := len(pr.Classes)
	starts := make([]int32, nc+1)
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
	members := make([]int32, starts[nc])
	fill := slices.Clone(starts[:nc])
	for i := range items {
		if o := pr.outcome[i]; o >= 0 {
			members[fill[o]] = int32(i)
			fill[o]++
		}
	}

	order := make([]int32, nc)
	for c := range order {
		order[c] = int32(c)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(pr.Classes[a].Cell, pr.Classes[b].Cell) })

	rb := &pr.arena
	rb.buf, rb.offs = rb.buf[:0], rb.offs[:0]
	start := time.UnixMilli(w.Start).UTC().AppendFormat(nil, time.RFC3339)
	end := time.UnixMilli(w.End).UTC().AppendFormat(nil, time.RFC3339)
	keyPrefix := strconv.AppendInt(append([]byte(p.Name), '/'), w.Start/1000, 10)
	categories := p.Mode == config.ModeEvents && p.fields&fCategory != 0
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
			users, checkins := cl.Users, cl.Checkins
			if p.DP != nil {
				users, checkins = cl.NoisyUsers, cl.NoisyCheckins
			}
			rb.record(keyPrefix, cl, -1, func(b []byte) []byte {
				return appendRecord(b, p.fields, cl, start, end, "", users, checkins)
			})
			continue
		}
		if categories {
			pr.lab.label(r, pr, cl, m)
		}
		// Records of a class leave sorted by the category they show; within a category
		// they are identical but for their key's index.
		labels := r.rel.labels
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
			if cl.NoCategory {
				st.NoCategory++
			}
			cat := labelText(labels, l)
			rb.record(keyPrefix, cl, i, func(b []byte) []byte {
				return appendRecord(b, p.fields, cl, start, end, cat, 0, 0)
			})
		}
	}
	pr.Records = pr.Records[:0]
	for i := 0; i+2 < len(rb.offs); i += 3 {
		k, v, e := rb.offs[i], rb.offs[i+1], rb.offs[i+2]
		pr.Records = append(pr.Records, Record{Key: rb.buf[k:v:v], Value: rb.buf[v:e:e], Time: w.End})
	}
}

func labelText(labels []string, l int32) string {
	if l < 0 {
		return ""
	}
	return labels[l]
}

// record appends one record's key ("partner/window start in Unix s/cell[/index]") and
// value.
func (rb *recordBuf) record(prefix []byte, cl *Class, idx int, value func([]byte) []byte) {
	k := len(rb.buf)
	rb.buf = append(rb.buf, prefix...)
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
