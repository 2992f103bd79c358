package cloak

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
)

// Checkin is a decoded and validated raw check-in: only the fields geocloak reads. Its
// byte slices point into the decoded line or the Decoder's scratch space and are valid
// until the next Decode.
type Checkin struct {
	EventID  []byte // may be empty
	User     []byte
	Point    geo.Point
	Time     int64  // Unix milliseconds
	Category []byte // may be empty
}

// InvalidError says why a raw record is invalid. Its reason names the field and the rule,
// never the value: reasons go to logs, metrics and dead-letter headers.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return "invalid record: " + e.Reason }

func invalid(reason string) error { return &InvalidError{Reason: reason} }

// Field roles, as bits of a seen-set.
const (
	roleEventID = iota
	roleUser
	roleLat
	roleLng
	roleTime
	roleCategory
	numRoles
)

var roleNames = [numRoles]string{"event_id", "user_id", "lat", "lng", "time", "category"}

// Limits on the parts of a record geocloak keeps.
const (
	maxDepth       = 64  // JSON nesting; deeper records are invalid (bounded stack and time)
	maxIDBytes     = 256 // user and event ids
	maxCategoryLen = 128 // bytes; categories are released to partners, so keep them short
)

// Decoder decodes raw check-in records: one JSON object with the configured field names.
// Only those fields are read; every other field is skipped (still checked to be valid
// JSON) and dropped. A Decoder is not safe for concurrent use.
type Decoder struct {
	keys       [numRoles][]byte
	timeFormat string
	notBefore  int64 // Unix ms
	maxFuture  int64 // ms
	maxBytes   int
	keyBuf     []byte
	strBufs    [numRoles][]byte
}

// NewDecoder returns a Decoder for the input section of cfg.
func NewDecoder(in config.Input) *Decoder {
	d := &Decoder{
		timeFormat: in.TimeFormat,
		notBefore:  in.NotBefore.UnixMilli(),
		maxFuture:  in.MaxFuture.D().Milliseconds(),
		maxBytes:   in.MaxRecordBytes,
	}
	for i, name := range []string{in.Fields.EventID, in.Fields.UserID, in.Fields.Lat, in.Fields.Lng, in.Fields.Time, in.Fields.Category} {
		if name != "" {
			d.keys[i] = []byte(name)
		}
	}
	return d
}

// Decode decodes one record into c. now (Unix ms) bounds how far in the future a
// check-in may be. A record that is not valid gives an *InvalidError.
func (d *Decoder) Decode(line []byte, now int64, c *Checkin) error {
	*c = Checkin{}
	if len(line) > d.maxBytes {
		return invalid("record larger than input.max_record_bytes")
	}
	s := scanner{b: line}
	s.ws()
	if !s.eat('{') {
		return invalid("not a JSON object")
	}
	var seen uint8
	var lat, lng float64
	first := true
	for {
		s.ws()
		if first && s.eat('}') {
			break
		}
		first = false
		key, esc, err := s.str()
		if err != nil {
			return err
		}
		if esc {
			d.keyBuf, err = unescape(d.keyBuf[:0], key)
			if err != nil {
				return err
			}
			key = d.keyBuf
		}
		s.ws()
		if !s.eat(':') {
			return invalid("not valid JSON: expected ':' after a key")
		}
		s.ws()
		role := d.role(key)
		if role < 0 {
			if err := s.skip(1); err != nil {
				return err
			}
		} else {
			if seen&(1<<role) != 0 {
				// Parsers disagree on which duplicate wins; refuse rather than guess.
				return invalid(roleNames[role] + ": duplicate key")
			}
			seen |= 1 << role
			switch role {
			case roleLat:
				lat, err = s.float(roleNames[role])
			case roleLng:
				lng, err = s.float(roleNames[role])
			case roleTime:
				c.Time, err = d.time(&s)
			case roleUser:
				c.User, err = d.id(&s, role)
				if err == nil && len(c.User) == 0 {
					err = invalid("user_id: empty")
				}
			case roleEventID:
				c.EventID, err = d.id(&s, role)
			case roleCategory:
				c.Category, err = d.category(&s)
			}
			if err != nil {
				return err
			}
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			break
		}
		return invalid("not valid JSON: expected ',' or '}'")
	}
	s.ws()
	if s.i != len(s.b) {
		return invalid("not valid JSON: data after the object")
	}
	for _, r := range []int{roleUser, roleLat, roleLng, roleTime} {
		if seen&(1<<r) == 0 {
			return invalid(roleNames[r] + ": missing")
		}
	}
	p, err := geo.NewPoint(lat, lng)
	if err != nil {
		return invalid("lat/lng: " + err.Error())
	}
	c.Point = p
	if c.Time < d.notBefore {
		return invalid("time: before input.not_before")
	}
	if c.Time > now+d.maxFuture {
		return invalid("time: later than now + input.max_future")
	}
	return nil
}

func (d *Decoder) role(key []byte) int {
	for i, k := range d.keys {
		if k != nil && bytes.Equal(k, key) {
			return i
		}
	}
	return -1
}

// id reads a string or integer identifier. null counts as absent.
func (d *Decoder) id(s *scanner, role int) ([]byte, error) {
	name := roleNames[role]
	switch s.peek() {
	case '"':
		v, esc, err := s.str()
		if err != nil {
			return nil, err
		}
		if esc {
			d.strBufs[role], err = unescape(d.strBufs[role][:0], v)
			if err != nil {
				return nil, err
			}
			v = d.strBufs[role]
		}
		if len(v) > maxIDBytes {
			return nil, invalid(name + ": longer than 256 bytes")
		}
		return v, nil
	case 'n':
		if s.lit("null") {
			return nil, nil
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		v, isInt, err := s.number()
		if err != nil {
			return nil, err
		}
		if !isInt || len(v) > 40 {
			return nil, invalid(name + ": must be a string or an integer")
		}
		return v, nil
	}
	return nil, invalid(name + ": must be a string or an integer")
}

func (d *Decoder) category(s *scanner) ([]byte, error) {
	if s.peek() == 'n' && s.lit("null") {
		return nil, nil
	}
	if s.peek() != '"' {
		return nil, invalid("category: must be a string")
	}
	v, esc, err := s.str()
	if err != nil {
		return nil, err
	}
	if esc {
		d.strBufs[roleCategory], err = unescape(d.strBufs[roleCategory][:0], v)
		if err != nil {
			return nil, err
		}
		v = d.strBufs[roleCategory]
	}
	if len(v) > maxCategoryLen {
		return nil, invalid("category: longer than 128 bytes")
	}
	// Categories may be released to partners: they must be visible UTF-8 text, with no
	// control, bidi, zero-width or other invisible character that could hide content.
	if !utf8.Valid(v) {
		return nil, invalid("category: not valid UTF-8")
	}
	if _, hidden := config.HiddenRune(string(v)); hidden {
		return nil, invalid("category: holds a control, bidi or invisible character")
	}
	return v, nil
}

func (d *Decoder) time(s *scanner) (int64, error) {
	switch s.peek() {
	case '"':
		if d.timeFormat != "auto" && d.timeFormat != "rfc3339" {
			return 0, invalid("time: must be a number (input.time_format is " + d.timeFormat + ")")
		}
		v, esc, err := s.str()
		if err != nil {
			return 0, err
		}
		if esc {
			return 0, invalid("time: not an RFC 3339 time")
		}
		return parseRFC3339(v)
	case 'n', 't', 'f', '{', '[':
		return 0, invalid("time: must be an RFC 3339 string or a Unix time number")
	}
	if d.timeFormat == "rfc3339" {
		return 0, invalid("time: must be an RFC 3339 string (input.time_format is rfc3339)")
	}
	f, err := s.float("time")
	if err != nil {
		return 0, err
	}
	ms := f
	switch d.timeFormat {
	case "unix_s":
		ms = f * 1000
	case "auto":
		// Seconds until the year 5138; milliseconds from 1973. Inputs outside
		// input.not_before..now+max_future are rejected below either way.
		if math.Abs(f) < 1e11 {
			ms = f * 1000
		}
	}
	if ms > math.MaxInt64/2 || ms < math.MinInt64/2 {
		return 0, invalid("time: out of range")
	}
	return int64(math.Floor(ms)), nil
}

// parseRFC3339 parses an RFC 3339 date-time, strictly:
// "2006-01-02T15:04:05[.fff…](Z|±hh:mm)", T and Z in either case, offsets up to 23:59.
// (The time package also takes a 24:00 offset, a comma as decimal mark and one-digit
// hours; RFC 3339 does not, and neither does geocloak.)
func parseRFC3339(v []byte) (int64, error) {
	if ms, ok := fastRFC3339(v); ok {
		return ms, nil
	}
	return 0, invalid("time: not an RFC 3339 time")
}

// fastRFC3339 handles "2006-01-02T15:04:05[.fff…](Z|±hh:mm)".
func fastRFC3339(v []byte) (int64, bool) {
	if len(v) < 20 || v[4] != '-' || v[7] != '-' || (v[10] != 'T' && v[10] != 't') || v[13] != ':' || v[16] != ':' {
		return 0, false
	}
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(v[0:4])
	mo, ok2 := num(v[5:7])
	dd, ok3 := num(v[8:10])
	hh, ok4 := num(v[11:13])
	mi, ok5 := num(v[14:16])
	ss, ok6 := num(v[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || dd < 1 || dd > daysIn(mo, y) ||
		hh > 23 || mi > 59 || ss > 59 {
		return 0, false
	}
	i := 19
	ms := 0
	if v[i] == '.' {
		i++
		start := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			if i-start < 3 {
				ms = ms*10 + int(v[i]-'0')
			}
			i++
		}
		if i == start {
			return 0, false
		}
		for n := i - start; n < 3; n++ {
			ms *= 10
		}
	}
	off := 0
	switch rest := v[i:]; {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := num(rest[1:3])
		om, ok2 := num(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		off = (oh*60 + om) * 60
		if rest[0] == '-' {
			off = -off
		}
	default:
		return 0, false
	}
	t := time.Date(y, time.Month(mo), dd, hh, mi, ss, 0, time.UTC).Unix() - int64(off)
	return t*1000 + int64(ms), true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// scanner is a minimal strict JSON scanner over one record.
type scanner struct {
	b []byte
	i int
}

var errJSON = invalid("not valid JSON")

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// str reads a string and returns its raw contents (between the quotes) and whether it
// holds escapes. Control characters are refused, as JSON requires.
func (s *scanner) str() ([]byte, bool, error) {
	if !s.eat('"') {
		return nil, false, invalid("not valid JSON: expected a string")
	}
	start := s.i
	esc := false
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, esc, nil
		case c == '\\':
			esc = true
			s.i += 2
		case c < 0x20:
			return nil, false, invalid("not valid JSON: control character in a string")
		default:
			s.i++
		}
	}
	return nil, false, invalid("not valid JSON: unterminated string")
}

// number reads a JSON number token and reports whether it is an integer.
func (s *scanner) number() ([]byte, bool, error) {
	start := s.i
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.peek() >= '1' && s.peek() <= '9':
		for s.peek() >= '0' && s.peek() <= '9' {
			s.i++
		}
	default:
		return nil, false, errJSON
	}
	isInt := true
	if s.eat('.') {
		isInt = false
		if !digits(s) {
			return nil, false, errJSON
		}
	}
	if s.eat('e') || s.eat('E') {
		isInt = false
		if !s.eat('+') {
			s.eat('-')
		}
		if !digits(s) {
			return nil, false, errJSON
		}
	}
	return s.b[start:s.i], isInt, nil
}

func digits(s *scanner) bool {
	start := s.i
	for s.peek() >= '0' && s.peek() <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *scanner) float(name string) (float64, error) {
	if c := s.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, invalid(name + ": must be a JSON number")
	}
	tok, _, err := s.number()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(tok), len(tok)), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, invalid(name + ": must be a JSON number")
	}
	if math.IsInf(f, 0) {
		return 0, invalid(name + ": not finite")
	}
	return f, nil
}

// skip skips one value of any type, checking its syntax and its nesting depth.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return invalid("not valid JSON: nested deeper than 64 levels")
	}
	switch c := s.peek(); {
	case c == '"':
		v, esc, err := s.str()
		if err == nil && esc {
			err = checkEscapes(v)
		}
		return err
	case c == '{' || c == '[':
		s.i++
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.ws()
		if s.eat(end) {
			return nil
		}
		for {
			s.ws()
			if c == '{' {
				if _, _, err := s.str(); err != nil {
					return err
				}
				s.ws()
				if !s.eat(':') {
					return errJSON
				}
				s.ws()
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			if s.eat(end) {
				return nil
			}
			return errJSON
		}
	case c == 't':
		if s.lit("true") {
			return nil
		}
	case c == 'f':
		if s.lit("false") {
			return nil
		}
	case c == 'n':
		if s.lit("null") {
			return nil
		}
	default:
		_, _, err := s.number()
		return err
	}
	return errJSON
}

// checkEscapes checks the escapes of a string geocloak skips. A lone surrogate is
// accepted there, as raw invalid UTF-8 is: the value is dropped unread.
func checkEscapes(v []byte) error {
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			continue
		}
		i++
		if i >= len(v) {
			return errJSON
		}
		switch v[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if _, _, ok := hex4(v[i+1:]); !ok {
				return errJSON
			}
			i += 4
		default:
			return errJSON
		}
	}
	return nil
}

// unescape appends the decoded contents of a JSON string (without quotes) to dst.
// Invalid escapes and lone surrogates are errors.
func unescape(dst, v []byte) ([]byte, error) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(v) {
			return nil, errJSON
		}
		switch v[i] {
		case '"', '\\', '/':
			dst = append(dst, v[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n, ok := hex4(v[i+1:])
			if !ok {
				return nil, errJSON
			}
			i += n
			if r >= 0xd800 && r < 0xdc00 {
				r2, n2, ok2 := rune(0), 0, false
				if i+2 < len(v) && v[i+1] == '\\' && v[i+2] == 'u' {
					r2, n2, ok2 = hex4(v[i+3:])
				}
				if !ok2 || r2 < 0xdc00 || r2 >= 0xe000 {
					return nil, invalid("not valid JSON: lone surrogate in a string")
				}
				r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
				i += 2 + n2
			} else if r >= 0xdc00 && r < 0xe000 {
				return nil, invalid("not valid JSON: lone surrogate in a string")
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return nil, errJSON
		}
	}
	return dst, nil
}

func hex4(b []byte) (rune, int, bool) {
	if len(b) < 4 {
		return 0, 0, false
	}
	var r rune
	for _, c := range b[:4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, 4, true
}
