package synth

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// render writes c as one JSON object, without newline, into g.line and
// returns it, or an invalid record in its place for InvalidFraction of the
// lines. No string in the model needs JSON escaping.
func (g *generator) render(c *checkin) []byte {
	u, v := &g.c.users[c.user], &g.c.venues[c.venue]
	dx, dy := g.noise()
	lat, lng := g.c.latLng(v.x+dx, v.y+dy)
	b := append(g.line[:0], `{"event_id":"evt-`...)
	b = appendPad(b, c.seq, 10)
	b = append(b, u.head...) // user_id
	b = strconv.AppendFloat(b, lat, 'f', 7, 64)
	b = append(b, `,"lng":`...)
	b = strconv.AppendFloat(b, lng, 'f', 7, 64)
	b = append(b, `,"ts":"`...)
	b = g.appendTS(b, c.ts)
	b = append(b, v.json...) // venue_id, venue_category
	b = g.appendCaption(b, u, v)
	b = append(b, u.tail...) // username, device_id
	g.line = b
	if g.cfg.InvalidFraction > 0 && g.inv.float() < g.cfg.InvalidFraction {
		g.alt = corrupt(g.alt[:0], b, invalidKind(g.inv.intn(int(numInvalidKinds))))
		return g.alt
	}
	return b
}

// noise returns a GPS error in cm: within 5 m half of the time, within 15 m
// a third of the time, else within 30 m, uniform over the disc.
func (g *generator) noise() (dx, dy int32) {
	r := 500
	switch p := g.rd.intn(6); {
	case p >= 5:
		r = 3000
	case p >= 3:
		r = 1500
	}
	for {
		x, y := g.rd.intn(2*r+1)-r, g.rd.intn(2*r+1)-r
		if x*x+y*y <= r*r {
			return int32(x), int32(y)
		}
	}
}

// appendCaption writes no caption a fifth of the time, else a generic caption
// (some of them empty) or one that fits the venue's category; "@@" becomes
// the username of one of u's friends.
func (g *generator) appendCaption(b []byte, u *user, v *venue) []byte {
	caps := categories[v.cat].captions
	var s string
	switch p := g.rd.intn(10); {
	case p < 2:
		return b
	case p < 6 || len(caps) == 0:
		s = genericCaptions[g.rd.intn(len(genericCaptions))]
	default:
		s = caps[g.rd.intn(len(caps))]
	}
	before, after, ok := strings.Cut(s, "@@")
	b = append(b, before...)
	if ok {
		b = append(b, '@')
		b = append(b, g.c.users[u.friends[g.rd.intn(len(u.friends))]].name...)
		b = append(b, after...)
	}
	return b
}

// appendTS writes unix time t as RFC 3339 UTC with seconds, caching the date.
func (g *generator) appendTS(b []byte, t int64) []byte {
	d, s := t/day, t%day
	if s < 0 {
		d, s = d-1, s+day
	}
	if d != g.dateDay {
		g.dateDay = d
		g.date = time.Unix(d*day, 0).UTC().AppendFormat(g.date[:0], "2006-01-02T")
	}
	b = append(b, g.date...)
	h, m := s/3600, s/60%60
	s %= 60
	return append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+s/10), byte('0'+s%10), 'Z')
}

// invalidKind is a way a record can be broken, as seen in messy streams.
type invalidKind int

const (
	invNotJSON   invalidKind = iota // truncated line
	invNoUser                       // user_id missing
	invNoLat                        // lat missing
	invLatString                    // "lat":"45.7640000"
	invLat91                        // lat out of range
	invLng181                       // lng out of range
	invLatNaN                       // bare NaN token, not JSON
	invBadTime                      // "2026-03-02 08:15:03", not RFC 3339
	invEmptyUser                    // "user_id":""
	invNested                       // "lat":{"deg":45.7640000}
	numInvalidKinds
)

// corrupt appends to dst the valid record line broken in the way k says.
func corrupt(dst, line []byte, k invalidKind) []byte {
	switch k {
	case invNotJSON:
		return append(dst, line[:len(line)/2]...)
	case invNoUser:
		return setField(dst, line, "user_id", nil)
	case invNoLat:
		return setField(dst, line, "lat", nil)
	case invLatString:
		v := field(line, "lat")
		return setField(dst, line, "lat", append(append([]byte{'"'}, v...), '"'))
	case invLat91:
		return setField(dst, line, "lat", []byte("91.0000000"))
	case invLng181:
		return setField(dst, line, "lng", []byte("-181.0000000"))
	case invLatNaN:
		return setField(dst, line, "lat", []byte("NaN"))
	case invBadTime:
		v := field(line, "ts") // "2026-03-02T08:15:03Z"
		return setField(dst, line, "ts", []byte(`"`+string(v[1:11])+" "+string(v[12:20])+`"`))
	case invEmptyUser:
		return setField(dst, line, "user_id", []byte(`""`))
	default: // invNested
		v := field(line, "lat")
		return setField(dst, line, "lat", append(append([]byte(`{"deg":`), v...), '}'))
	}
}

// fieldSpan returns the bounds of the raw value of key in line; only keys
// that are followed by another key are supported, and no value contains `,"`.
func fieldSpan(line []byte, key string) (start, end int) {
	start = bytes.Index(line, []byte(`"`+key+`":`)) + len(key) + 3
	return start, start + bytes.Index(line[start:], []byte(`,"`))
}

func field(line []byte, key string) []byte {
	s, e := fieldSpan(line, key)
	return line[s:e]
}

// setField appends line to dst with the value of key replaced by v, or the
// key dropped if v is nil.
func setField(dst, line []byte, key string, v []byte) []byte {
	s, e := fieldSpan(line, key)
	if v == nil {
		dst = append(dst, line[:s-len(key)-3]...)
		return append(dst, line[e+1:]...)
	}
	dst = append(dst, line[:s]...)
	dst = append(dst, v...)
	return append(dst, line[e:]...)
}
