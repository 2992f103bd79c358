package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
)

// Hostile input, through evaluate and through Kafka: every record, however malformed,
// ends in one clear state per partner (released, suppressed with a reason, or invalid with
// a reason and, in the stream, dead-lettered), never a panic, and memory stays bounded by
// max_record_bytes and the open windows, never by what a producer sends.

// Every accepted hostile record falls in this window (2026-03-02 10:00 to 11:00 UTC), at
// the crowd's point, so that with the crowd it makes a class of k and is released.
const (
	hostileWindow = "2026-03-02T10:00:00Z"
	hostileTS     = `"2026-03-02T10:15:00Z"`
)

// hostileCrowd are k = 3 users at the hostile point at the start of the window: a class
// any accepted hostile record (each has a user of its own) joins and is released in.
var hostileCrowd = [][]byte{
	[]byte(`{"event_id":"crowd-1","user_id":"crowd-1","lat":45.764,"lng":4.8357,"ts":"2026-03-02T10:00:00Z","venue_category":"Coffee Shop"}`),
	[]byte(`{"event_id":"crowd-2","user_id":"crowd-2","lat":45.764,"lng":4.8357,"ts":"2026-03-02T10:00:01Z","venue_category":"Coffee Shop"}`),
	[]byte(`{"event_id":"crowd-3","user_id":"crowd-3","lat":45.764,"lng":4.8357,"ts":"2026-03-02T10:00:02Z","venue_category":"Coffee Shop"}`),
}

// hostilePartners: an events partner and a counts partner, both k = 3, one check-in per
// user and window, and "Museum" suppressed on top of the sensitive groups.
func hostilePartners() []config.Partner {
	ev := config.DefaultPartner()
	ev.Name, ev.Topic, ev.K = "ev", "sanitized.ev", 3
	ev.Fields = config.DefaultFields(config.ModeEvents)
	ev.SuppressCategories = []string{"Museum"}
	cnt := config.DefaultPartner()
	cnt.Name, cnt.Topic, cnt.Mode, cnt.K = "cnt", "sanitized.cnt", config.ModeCounts, 3
	cnt.Fields = config.DefaultFields(config.ModeCounts)
	cnt.SuppressCategories = []string{"Museum"}
	return []config.Partner{ev, cnt}
}

func hostileConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Partners = hostilePartners()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// hrec builds a record: event_id id, user_id "u-"+id, the crowd's point, a time in the
// hostile window and a category, then kv pairs of a key and its raw JSON text: a key of
// those replaces its value (in place), any other key is appended.
func hrec(id string, kv ...string) []byte {
	keys := []string{"event_id", "user_id", "lat", "lng", "ts", "venue_category"}
	vals := map[string]string{
		"event_id": `"` + id + `"`, "user_id": `"u-` + id + `"`, "lat": "45.764", "lng": "4.8357",
		"ts": hostileTS, "venue_category": `"Bar"`,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if _, ok := vals[kv[i]]; !ok {
			keys = append(keys, kv[i])
		}
		vals[kv[i]] = kv[i+1]
	}
	var b []byte
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, `":`...)
		b = append(b, vals[k]...)
	}
	return append(append([]byte{'{'}, b...), '}')
}

// hostileCase is one hostile record and its outcome.
type hostileCase struct {
	name string
	line []byte // the raw record, without its "\n"
	// huge, instead of line: a record too large to hold, generated as it is read. Never
	// produced to Kafka (a broker refuses messages over 1 MB by default).
	huge func() io.Reader
	// want is every partner's outcome: "released", a suppression reason (below_k, late,
	// sensitive_category, contribution_cap), "invalid: <substring of the reason>", or
	// "skipped" (a blank line is no record at all).
	want   string
	wantEv string // partner ev's outcome, when it differs
	// byLine: the decoder stops before reading event_id, so the audit names the record
	// "line:N".
	byLine  bool
	auditID string // the audit's event id, when it is not the record's (escaped)
	// kafka is the outcome through Kafka when it differs from want; "-": not produced.
	kafka string
}

// id is the event id the audit names the record by, unless byLine.
func (c *hostileCase) id() string {
	if c.auditID != "" {
		return c.auditID
	}
	// Not encoding/json: it refuses some of these records (10,000 levels deep).
	rest, ok := bytes.CutPrefix(c.line, []byte(`{"event_id":"`))
	if !ok {
		return ""
	}
	id, _, _ := bytes.Cut(rest, []byte(`"`))
	return string(id)
}

// hostileNow is the wall clock of the evaluate runs: input.max_future counts from it.
// testNow is the wall clock of the hostile tests (input.max_future is judged against it).
var testNow = time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC).UnixMilli()

var hostileNow = time.UnixMilli(testNow) // 2026-11-29T00:00:00Z

func hostileCases() []hostileCase {
	nowPlus := func(d time.Duration) string {
		return `"` + hostileNow.Add(d).UTC().Format(time.RFC3339Nano) + `"`
	}
	deep := func(n int, open, close string) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	manyKeys := []byte(`{"event_id":"h-keys",`)
	for i := range 200_000 {
		manyKeys = append(strconv.AppendInt(append(manyKeys, `"k`...), int64(i), 10), `":0,`...)
	}
	manyKeys = append(manyKeys, `"user_id":"u-keys","lat":45.764,"lng":4.8357,"ts":`+hostileTS+`}`...)
	exact := hrec("h-exact-max", "caption", `""`)
	exact = hrec("h-exact-max", "caption", `"`+strings.Repeat("x", 64<<10-len(exact))+`"`)

	return []hostileCase{
		{name: "control: a valid record", line: hrec("h-valid"), want: "released"},

		// Invalid UTF-8. Fields geocloak does not read are skipped as JSON tokens and
		// dropped, never released: raw bytes in them are not checked (encoding/json
		// accepts them too, as U+FFFD).
		{name: "invalid UTF-8 in an ignored field", line: hrec("h-utf8-field", "caption", "\"caf\xe9 \xff\xfe\xc0\xaf\""), want: "released"},
		{name: "invalid UTF-8 in an ignored key", line: hrec("h-utf8-key", "\xff\xfe", `"x"`), want: "released"},
		// Categories are released to partners: they must be clean text.
		{name: "invalid UTF-8 in the category", line: hrec("h-utf8-cat", "venue_category", "\"caf\xe9\""), want: "invalid: category: not valid UTF-8"},
		{name: "overlong UTF-8 in the category", line: hrec("h-utf8-overlong", "venue_category", "\"\xc0\xaf\""), want: "invalid: category: not valid UTF-8"},
		// User ids are only hashed (as bytes): any bytes are an id. The raw id never
		// leaves (checked on every output below).
		{name: "invalid UTF-8 in user_id", line: hrec("h-utf8-user", "user_id", "\"\xff\xfeRAW-USER-\xe9\""), want: "released"},
		// Event ids reach only the audit, which escapes them as U+FFFD: still JSON.
		{name: "invalid UTF-8 in event_id", line: hrec("h-utf8-ev\xff", "user_id", `"u-utf8-ev"`), auditID: "h-utf8-ev\ufffd", want: "released"},
		// A raw NUL is a control character, which JSON refuses; escaped, it is an id byte
		// like any other, but never a category byte.
		{name: "raw NUL in user_id", line: hrec("h-nul-raw", "user_id", "\"u\x00\""), auditID: "h-nul-raw", want: "invalid: control character in a string"},
		{name: "escaped NUL in user_id", line: hrec("h-nul-esc", "user_id", `"u-nul\u0000"`), want: "released"},
		{name: "escaped NUL in the category", line: hrec("h-nul-cat", "venue_category", `"a\u0000b"`), want: "invalid: category: holds a control, bidi or invisible character"},
		// A lone surrogate is refused even in a skipped field (encoding/json would
		// accept it as U+FFFD): the decoder checks every escape it skips.
		// Accepted like raw invalid UTF-8 there: the value is dropped unread.
		{name: "lone surrogate in an ignored field", line: hrec("h-surrogate", "caption", `"\udc00"`), want: "released"},
		{name: "lone surrogate in user_id", line: hrec("h-surrogate-user", "user_id", `"\udc00"`), want: "invalid: lone surrogate"},

		// Size. The reader keeps at most max_record_bytes+1 of a line (see
		// TestHostileHugeLine for memory); the decoder refuses it before reading a key.
		{name: "10 MB record", byLine: true, want: "invalid: record larger than input.max_record_bytes",
			huge: func() io.Reader { return hostileHugeRecord("h-10mb", 10<<20) }},
		{name: "70 KB record", line: hrec("h-70kb", "caption", `"`+strings.Repeat("A", 70_000)+`"`), byLine: true,
			want: "invalid: record larger than input.max_record_bytes"},
		{name: "exactly max_record_bytes", line: exact, want: "released"},
		{name: "200,000 keys", line: manyKeys, byLine: true, want: "invalid: record larger than input.max_record_bytes", kafka: "-"},

		// Nesting: bounded at 64 levels below a field, so the skip cannot exhaust the stack.
		{name: "nesting 10,000 deep in an ignored field", line: hrec("h-deep", "x", deep(10_000, "[", "]")), want: "invalid: nested deeper than 64 levels"},
		{name: "objects 10,000 deep in an ignored field", line: hrec("h-deep-obj", "x", deep(10_000, `{"a":`, "}")), want: "invalid: nested deeper than 64 levels"},
		{name: "nesting 64 deep in an ignored field", line: hrec("h-deep-64", "x", deep(64, "[", "]")), want: "released"},
		{name: "nesting 65 deep in an ignored field", line: hrec("h-deep-65", "x", deep(65, "[", "]")), want: "invalid: nested deeper than 64 levels"},
		{name: "nesting 10,000 deep in lat", line: hrec("h-deep-lat", "lat", deep(10_000, "[", "]")), want: "invalid: lat: must be a JSON number"},
		{name: "unterminated nesting", line: []byte(`{"event_id":"h-open","x":` + strings.Repeat("[", 10_000)), want: "invalid: nested deeper than 64 levels"},

		// Duplicate keys: parsers disagree on which one wins, so none does.
		{name: "duplicate event_id key", line: []byte(`{"event_id":"h-dup-ev2","event_id":"other","user_id":"u","lat":45.764,"lng":4.8357,"ts":` + hostileTS + `}`), want: "invalid: event_id: duplicate key"},
		{name: "duplicate user_id", line: []byte(`{"event_id":"h-dup-user","user_id":"a","user_id":"b","lat":45.764,"lng":4.8357,"ts":` + hostileTS + `}`), want: "invalid: user_id: duplicate key"},
		{name: "duplicate lat", line: []byte(`{"event_id":"h-dup-lat","user_id":"u","lat":45.764,"lat":0,"lng":4.8357,"ts":` + hostileTS + `}`), want: "invalid: lat: duplicate key"},
		{name: "duplicate lng", line: []byte(`{"event_id":"h-dup-lng","user_id":"u","lat":45.764,"lng":4.8357,"lng":0,"ts":` + hostileTS + `}`), want: "invalid: lng: duplicate key"},
		{name: "duplicate time", line: []byte(`{"event_id":"h-dup-ts","user_id":"u","lat":45.764,"lng":4.8357,"ts":` + hostileTS + `,"ts":0}`), want: "invalid: time: duplicate key"},
		{name: "duplicate category", line: hrec("h-dup-cat", "venue_category", `"Bar","venue_category":"Hospital"`), want: "invalid: category: duplicate key"},
		{name: "duplicate lat through an escaped key", line: []byte(`{"event_id":"h-dup-esc","user_id":"u","lat":45.764,"l\u0061t":0,"lng":4.8357,"ts":` + hostileTS + `}`), want: "invalid: lat: duplicate key"},
		{name: "duplicate ignored key", line: hrec("h-dup-ignored", "caption", `"a"`, "caption2", `"b"`), want: "released"},

		// Numbers as strings.
		{name: "lat as a string", line: hrec("h-str-lat", "lat", `"45.764"`), want: "invalid: lat: must be a JSON number"},
		{name: "lng as a string", line: hrec("h-str-lng", "lng", `"4.8357"`), want: "invalid: lng: must be a JSON number"},
		{name: "unix time as a string", line: hrec("h-str-ts", "ts", `"1772446500"`), want: "invalid: time: not an RFC 3339 time"},
		// A user id is a string or an integer, and 12345 and "12345" are one user: the
		// cap cannot be dodged by changing the JSON type, nor by escaping.
		{name: "user id as an integer", line: hrec("h-int-user", "user_id", `12345`, "ts", `"2026-03-02T10:20:00Z"`), want: "released"},
		{name: "the same user id as a string", line: hrec("h-int-user-str", "user_id", `"12345"`, "ts", `"2026-03-02T10:21:00Z"`), want: "contribution_cap"},
		{name: "a crowd user, escaped", line: hrec("h-esc-user", "user_id", `"\u0063rowd-2"`, "ts", `"2026-03-02T10:30:00Z"`), want: "contribution_cap"},
		{name: "user id as a float", line: hrec("h-float-user", "user_id", `1e3`), want: "invalid: user_id: must be a string or an integer"},

		// NaN and infinities: not JSON numbers; overflow is not finite.
		{name: "lat NaN", line: hrec("h-nan-lat", "lat", `NaN`), want: "invalid: lat: must be a JSON number"},
		{name: "lng Infinity", line: hrec("h-inf-lng", "lng", `Infinity`), want: "invalid: lng: must be a JSON number"},
		// '-' starts a JSON number: -Infinity is a malformed number.
		{name: "lat -Infinity", line: hrec("h-ninf-lat", "lat", `-Infinity`), want: "invalid: not valid JSON"},
		{name: "lat \"NaN\" as a string", line: hrec("h-nan-str", "lat", `"NaN"`), want: "invalid: lat: must be a JSON number"},
		{name: "time NaN", line: hrec("h-nan-ts", "ts", `NaN`), want: "invalid: time: must be a JSON number"},
		{name: "time -Infinity", line: hrec("h-ninf-ts", "ts", `-Infinity`), want: "invalid: not valid JSON"},
		{name: "lat 1e999", line: hrec("h-1e999-lat", "lat", `1e999`), want: "invalid: lat: not finite"},
		{name: "lng -1e999", line: hrec("h-1e999-lng", "lng", `-1e999`), want: "invalid: lng: not finite"},
		{name: "time 1e999", line: hrec("h-1e999-ts", "ts", `1e999`), want: "invalid: time: not finite"},
		// Underflow rounds to 0: a valid point on the equator, alone there.
		{name: "lat 1e-999", line: hrec("h-1e-999-lat", "lat", `1e-999`), want: "below_k"},

		// Coordinates at and just past their range.
		{name: "lat 90.0000001", line: hrec("h-lat-hi", "lat", `90.0000001`), want: "invalid: latitude out of range"},
		{name: "lat -90.0000001", line: hrec("h-lat-lo", "lat", `-90.0000001`), want: "invalid: latitude out of range"},
		{name: "lng 180.0000001", line: hrec("h-lng-hi", "lng", `180.0000001`), want: "invalid: longitude out of range"},
		{name: "lng -180.0000001", line: hrec("h-lng-lo", "lng", `-180.0000001`), want: "invalid: longitude out of range"},
		{name: "lat 90 (the pole, alone)", line: hrec("h-lat-90", "lat", `90`), want: "below_k"},
		{name: "lng -180 (the antimeridian, alone)", line: hrec("h-lng-180", "lng", `-180`), want: "below_k"},

		// Times: before input.not_before (2000-01-01), later than now + max_future (1h),
		// out of range, fractions, odd offsets.
		{name: "time 0", line: hrec("h-ts-0", "ts", `0`), want: "invalid: time: before input.not_before"},
		{name: "time -1", line: hrec("h-ts-neg", "ts", `-1`), want: "invalid: time: before input.not_before"},
		{name: "time -0.5", line: hrec("h-ts-neg-frac", "ts", `-0.5`), want: "invalid: time: before input.not_before"},
		{name: "time -1e300", line: hrec("h-ts-neg-huge", "ts", `-1e300`), want: "invalid: time: out of range"},
		{name: "time 1e300", line: hrec("h-ts-huge", "ts", `1e300`), want: "invalid: time: out of range"},
		{name: "time 1970", line: hrec("h-ts-1970", "ts", `"1970-01-01T00:00:00Z"`), want: "invalid: time: before input.not_before"},
		{name: "time year 0", line: hrec("h-ts-0000", "ts", `"0000-01-01T00:00:00Z"`), want: "invalid: time: before input.not_before"},
		{name: "time 1999-12-31T23:59:59Z", line: hrec("h-ts-1999", "ts", `"1999-12-31T23:59:59Z"`), want: "invalid: time: before input.not_before"},
		{name: "time 1999-12-31T23:59:59.999Z", line: hrec("h-ts-1999ms", "ts", `"1999-12-31T23:59:59.999Z"`), want: "invalid: time: before input.not_before"},
		{name: "time 1e11 ms (1973)", line: hrec("h-ts-1e11", "ts", `100000000000`), want: "invalid: time: before input.not_before"},
		{name: "time 99999999999 s (year 5138)", line: hrec("h-ts-5138", "ts", `99999999999`), want: "invalid: time: later than now + input.max_future"},
		{name: "time year 9999", line: hrec("h-ts-9999", "ts", `"9999-12-31T23:59:59Z"`), want: "invalid: time: later than now + input.max_future"},
		{name: "time year 10000", line: hrec("h-ts-10000", "ts", `"10000-01-01T00:00:00Z"`), want: "invalid: time: not an RFC 3339 time"},
		{name: "time year 2100 in ms", line: hrec("h-ts-2100ms", "ts", `4102444800000`), want: "invalid: time: later than now + input.max_future"},
		{name: "time now + 1 day", line: hrec("h-ts-day", "ts", nowPlus(24*time.Hour)), want: "invalid: time: later than now + input.max_future"},
		// The stream's clock is not evaluate's: cases at the edge of now stay out of Kafka.
		{name: "time now + max_future + 1ms", line: hrec("h-ts-edge", "ts", nowPlus(time.Hour+time.Millisecond)), want: "invalid: time: later than now + input.max_future", kafka: "-"},
		{name: "unix seconds with a fraction", line: hrec("h-ts-frac-s", "ts", `1772446530.5`), want: "released"},
		{name: "unix ms with a fraction", line: hrec("h-ts-frac-ms", "ts", `1772446530123.75`), want: "released"},
		{name: "unix seconds in exponent form", line: hrec("h-ts-exp", "ts", `1.7724465e9`), want: "released"},
		{name: "offset +14:00", line: hrec("h-ts-p14", "ts", `"2026-03-03T00:15:00+14:00"`), want: "released"},
		{name: "offset -12:00", line: hrec("h-ts-m12", "ts", `"2026-03-01T22:15:00-12:00"`), want: "released"},
		{name: "offset +23:59", line: hrec("h-ts-p2359", "ts", `"2026-03-03T10:14:00+23:59"`), want: "released"},
		{name: "offset -00:00", line: hrec("h-ts-m00", "ts", `"2026-03-02T10:15:00-00:00"`), want: "released"},
		// Not RFC 3339 (offset hours are 00 to 23, the decimal mark is '.'), but the
		// decoder falls back to time.Parse, which accepts both, as Go's own JSON
		// decoding of time.Time does. Harmless (the time is unambiguous); asserted so
		// that a stricter parser is a visible decision.
		// time.Parse takes these; RFC 3339 does not, and neither does geocloak.
		{name: "offset +24:00", line: hrec("h-ts-p24", "ts", `"2026-03-03T10:15:00+24:00"`), want: "invalid: time: not an RFC 3339 time"},
		{name: "comma for the decimal mark", line: hrec("h-ts-comma", "ts", `"2026-03-02T10:15:00,5Z"`), want: "invalid: time: not an RFC 3339 time"},
		{name: "one-digit hour", line: hrec("h-ts-hour", "ts", `"2026-03-02T1:15:00Z"`), want: "invalid: time: not an RFC 3339 time"},
		{name: "offset +99:00", line: hrec("h-ts-p99", "ts", `"2026-03-03T10:15:00+99:00"`), want: "invalid: time: not an RFC 3339 time"},
		{name: "lower-case t and z", line: hrec("h-ts-lower", "ts", `"2026-03-02t10:15:00z"`), want: "released"},
		{name: "nanoseconds and beyond", line: hrec("h-ts-nanos", "ts", `"2026-03-02T10:15:00.123456789123Z"`), want: "released"},
		{name: "space for T", line: hrec("h-ts-space", "ts", `"2026-03-02 10:15:00Z"`), want: "invalid: time: not an RFC 3339 time"},
		// Leap seconds: Unix time has none and Go's time package refuses second 60, so a
		// leap second is not a time geocloak can place: invalid, like any other second 60.
		{name: "leap second 2016-12-31T23:59:60Z", line: hrec("h-ts-leap", "ts", `"2016-12-31T23:59:60Z"`), want: "invalid: time: not an RFC 3339 time"},
		{name: "second 60 in the window", line: hrec("h-ts-60", "ts", `"2026-03-02T10:14:60Z"`), want: "invalid: time: not an RFC 3339 time"},

		// Line framing.
		{name: "BOM at line start", line: append([]byte("\xef\xbb\xbf"), hrec("h-bom")...), byLine: true, want: "invalid: not a JSON object"},
		// A CRLF file: the line ends "\r\n"; \r is JSON whitespace either way.
		{name: "CRLF line ending", line: append(hrec("h-crlf"), '\r'), want: "released"},
		// Old Mac line endings: two records on one line.
		{name: "CR-only line endings", line: slices.Concat(hrec("h-cr-1"), []byte("\r"), hrec("h-cr-2")), auditID: "h-cr-1", want: "invalid: data after the object"},
		// A blank line is not a record in a file; a Kafka message is one, even empty.
		{name: "empty line", line: []byte{}, want: "skipped", kafka: "invalid: not a JSON object"},
		{name: "whitespace line", line: []byte(" \t "), want: "skipped", kafka: "invalid: not a JSON object"},
		{name: "null", line: []byte(`null`), byLine: true, want: "invalid: not a JSON object"},
		{name: "[]", line: []byte(`[]`), byLine: true, want: "invalid: not a JSON object"},
		{name: `""`, line: []byte(`""`), byLine: true, want: "invalid: not a JSON object"},
		{name: "{}", line: []byte(`{}`), byLine: true, want: "invalid: user_id: missing"},
		{name: "only an event id", line: []byte(`{"event_id":"h-only-id"}`), want: "invalid: user_id: missing"},
		{name: "trailing comma", line: []byte(`{"event_id":"h-comma","user_id":"u",}`), want: "invalid: not valid JSON"},
		{name: "single quotes", line: []byte(`{'event_id':'x'}`), byLine: true, want: "invalid: not valid JSON"},

		// Valid records the policies suppress, for contrast.
		{name: "sensitive category", line: hrec("h-hospital", "venue_category", `"Hospital"`), want: "sensitive_category"},
		{name: "sensitive category, escaped", line: hrec("h-hospital-esc", "venue_category", `"Hosp\u0069tal"`), want: "sensitive_category"},
		{name: "sensitive by keyword", line: hrec("h-clinic", "venue_category", `"Dr. Who's Night Clinic"`), want: "sensitive_category"},
		{name: "suppressed by name, other case", line: hrec("h-museum", "venue_category", `"MUSEUM"`), want: "sensitive_category"},
		{name: "category with a bidi override", line: hrec("h-bidi", "venue_category", `"Bar\u202e"`), want: "invalid: category: holds a control, bidi or invisible character"},
		{name: "category with a zero-width space", line: hrec("h-zwsp", "venue_category", "\"Bar\u200b\""), want: "invalid: category: holds a control, bidi or invisible character"},
		{name: "a crowd user again", line: hrec("h-cap", "user_id", `"crowd-1"`, "ts", `"2026-03-02T10:40:00Z"`), want: "contribution_cap"},
		{name: "alone far away", line: hrec("h-alone", "lat", `-45.5`, "lng", `100.25`), want: "below_k"},
		// Valid, but its window closed long ago: evaluate judges lateness on the whole
		// file. (The stream judges it per raw partition: not asserted there.)
		{name: "time 2000-01-01T00:00:00Z (not_before itself)", line: hrec("h-ts-2000", "ts", `"2000-01-01T00:00:00Z"`), want: "late", kafka: "late, or below_k in a raw partition that has seen no later record"},
		// Last: valid at the edge of now, in a window of its own (it moves the watermark,
		// so nothing may follow it).
		{name: "time now + max_future", line: hrec("h-ts-edge-ok", "ts", nowPlus(time.Hour)), want: "below_k", kafka: "-"},
	}
}

// hostileRepeat reads the same byte forever, a block at a time.
type hostileRepeat struct{ block []byte }

func newHostileRepeat(c byte) *hostileRepeat {
	return &hostileRepeat{block: bytes.Repeat([]byte{c}, 64<<10)}
}

func (r *hostileRepeat) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], r.block)
	}
	return n, nil
}

// hostileHugeRecord is a record of about size bytes (an event id and a caption of 'x'),
// generated as it is read.
func hostileHugeRecord(id string, size int) io.Reader {
	return io.MultiReader(strings.NewReader(`{"event_id":"`+id+`","caption":"`),
		io.LimitReader(newHostileRepeat('x'), int64(size)), strings.NewReader(`"}`))
}

// hostileLineGen reads n generated lines: line(i, b) appends the i-th line, without its "\n",
// to b. Only the current line is held, so inputs of any size stay lazy.
type hostileLineGen struct {
	n, i int
	line func(i int, b []byte) []byte
	buf  []byte
	off  int
}

func (g *hostileLineGen) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if g.off == len(g.buf) {
			if g.i == g.n {
				break
			}
			g.buf = append(g.line(g.i, g.buf[:0]), '\n')
			g.off = 0
			g.i++
		}
		k := copy(p[n:], g.buf[g.off:])
		g.off += k
		n += k
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// hostileInput is the crowd, then every case, one per line, as a file.
func hostileInput(cases []hostileCase) io.Reader {
	var rs []io.Reader
	cur := new(bytes.Buffer)
	for _, l := range hostileCrowd {
		cur.Write(l)
		cur.WriteByte('\n')
	}
	for _, c := range cases {
		if c.huge != nil {
			rs = append(rs, cur, c.huge(), strings.NewReader("\n"))
			cur = new(bytes.Buffer)
			continue
		}
		cur.Write(c.line)
		cur.WriteByte('\n')
	}
	return io.MultiReader(append(rs, cur)...)
}

// hostileDetailOutput is a WriterOutput that also keeps why each invalid record is invalid
// (the audit line only says "invalid").
type hostileDetailOutput struct {
	*cloak.WriterOutput
	details map[string]string // audit id → reason
}

func (o *hostileDetailOutput) Suppressed(id string, r cloak.Reason, detail string, w *cloak.Window) error {
	if r == cloak.Invalid {
		o.details[id] = detail
	}
	return o.WriterOutput.Suppressed(id, r, detail, w)
}

type hostileResult struct {
	partners map[string][]byte
	audit    []byte
	details  map[string]string
	sum      *cloak.Summary
}

// evaluateHostile runs Evaluate at hostileNow with audit lines and invalid reasons.
func evaluateHostile(t testing.TB, cfg *config.Config, in io.Reader, key []byte, workers int) hostileResult {
	t.Helper()
	pols := cloak.NewPolicies(cfg)
	var audit bytes.Buffer
	wo, bufs := cloak.NewBufferOutput(pols, &audit)
	out := &hostileDetailOutput{WriterOutput: wo, details: make(map[string]string)}
	sum, err := cloak.Evaluate(context.Background(), in, cloak.EvalOptions{Config: cfg, Key: key, Now: hostileNow, Workers: workers, KeepIDs: true}, out)
	if err != nil {
		t.Fatalf("Evaluate returned an error on bad records: %v", err)
	}
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
	res := hostileResult{partners: make(map[string][]byte), audit: audit.Bytes(), details: out.details, sum: sum}
	for i, p := range pols {
		res.partners[p.Name] = bufs[i].Bytes()
	}
	return res
}

type auditLine = cloak.AuditLine

// TestHostileEvaluate runs the hostile table through evaluate: every record gets the
// outcome the table says for every partner, with its reason; evaluate returns no error;
// nothing raw (user ids, invalid bytes) reaches a partner or the audit; every output line
// is valid JSON in valid UTF-8; and the result does not depend on the decoding
// parallelism.
func TestHostileEvaluate(t *testing.T) {
	cfg := hostileConfig(t)
	cases := hostileCases()
	got := evaluateHostile(t, cfg, hostileInput(cases), []byte(cloak.DevKey), 3)

	audits := make(map[string]map[string]auditLine) // partner → audit id → line
	for _, p := range cfg.Partners {
		audits[p.Name] = make(map[string]auditLine)
	}
	for _, l := range bytes.Split(bytes.TrimSuffix(got.audit, []byte("\n")), []byte("\n")) {
		if !utf8.Valid(l) || !json.Valid(l) {
			t.Fatalf("audit line is not valid JSON in UTF-8: %q", l)
		}
		var a auditLine
		if err := json.Unmarshal(l, &a); err != nil {
			t.Fatal(err)
		}
		if _, dup := audits[a.Partner][a.EventID]; dup {
			t.Fatalf("two audit lines for %q, partner %s", a.EventID, a.Partner)
		}
		audits[a.Partner][a.EventID] = a
	}

	// line:N is the line number: blank lines count.
	lineNo := int64(len(hostileCrowd))
	records, invalid := lineNo, int64(0)
	for _, c := range cases {
		lineNo++
		if c.want == "skipped" {
			continue
		}
		records++
		id := c.id()
		if c.byLine {
			id = "line:" + strconv.FormatInt(lineNo, 10)
		}
		if c.want == "" || id == "" {
			t.Fatalf("case %q: no outcome or no id in the table", c.name)
		}
		wantDetail, isInvalid := strings.CutPrefix(c.want, "invalid: ")
		if isInvalid {
			invalid++
			if d := got.details[id]; !strings.Contains(d, wantDetail) {
				t.Errorf("%s: invalid reason %q, want it to contain %q", c.name, d, wantDetail)
			}
		}
		for _, p := range cfg.Partners {
			want := c.want
			if isInvalid {
				want = "invalid"
			}
			if p.Name == "ev" && c.wantEv != "" {
				want = c.wantEv
			}
			a, ok := audits[p.Name][id]
			switch {
			case !ok:
				t.Errorf("%s: no audit line %q for partner %s", c.name, id, p.Name)
			case want == "released":
				if !a.Released || a.Cell == "" || a.WindowStart != hostileWindow {
					t.Errorf("%s: partner %s: %+v, want released in the window of %s", c.name, p.Name, a, hostileWindow)
				}
			case a.Released || a.Reason != want:
				t.Errorf("%s: partner %s: released=%v reason %q, want %q", c.name, p.Name, a.Released, a.Reason, want)
			}
		}
	}

	sum := got.sum
	if sum.Lines != records || sum.Invalid != invalid {
		t.Errorf("summary: %d records, %d invalid; want %d, %d", sum.Lines, sum.Invalid, records, invalid)
	}
	for _, ps := range sum.Partners {
		if len(audits[ps.Policy.Name]) != int(records) {
			t.Errorf("partner %s: %d audit lines for %d records", ps.Policy.Name, len(audits[ps.Policy.Name]), records)
		}
		total := ps.Released
		for _, n := range ps.Suppressed {
			total += n
		}
		if ps.In != int(records) || total != ps.In || ps.Suppressed[cloak.Invalid] != int(invalid) {
			t.Errorf("partner %s: in %d, released+suppressed %d, invalid %d; want %d, %d, %d",
				ps.Policy.Name, ps.In, total, ps.Suppressed[cloak.Invalid], records, records, invalid)
		}
	}

	// Nothing raw leaves: no user id (every hostile one starts "u-"), no invalid byte.
	for name, out := range got.partners {
		if len(out) == 0 {
			t.Errorf("partner %s received nothing: the table does not test release", name)
		}
		for _, l := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			if !utf8.Valid(l) || !json.Valid(l) {
				t.Errorf("partner %s: record is not valid JSON in UTF-8: %q", name, l)
			}
		}
		for _, raw := range []string{"RAW-USER", "u-h-", "crowd-", "12345", "caf", "\xff"} {
			if bytes.Contains(out, []byte(raw)) {
				t.Errorf("partner %s output holds %q", name, raw)
			}
		}
	}
	for _, raw := range []string{"RAW-USER", "u-h-", "12345"} {
		if bytes.Contains(got.audit, []byte(raw)) {
			t.Errorf("the audit holds the user id %q", raw)
		}
	}

	// Determinism: one decoding goroutine gives the same bytes.
	again := evaluateHostile(t, cfg, hostileInput(cases), []byte(cloak.DevKey), 1)
	if !bytes.Equal(again.audit, got.audit) {
		t.Error("audit differs between 1 and 3 decoding goroutines")
	}
	for name := range got.partners {
		if !bytes.Equal(again.partners[name], got.partners[name]) {
			t.Errorf("partner %s: output differs between 1 and 3 decoding goroutines", name)
		}
	}
}

// hostileHeapSampler passes reads through and samples the live heap every 4 MiB read.
type hostileHeapSampler struct {
	r       io.Reader
	n, next int
	peak    uint64
}

func (h *hostileHeapSampler) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n += n
	if h.n >= h.next {
		h.next += 4 << 20
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		h.peak = max(h.peak, ms.HeapAlloc)
	}
	return n, err
}

// TestHostileHugeLine: a 50 MB line, generated as it is read, is invalid (too large), and
// evaluate keeps at most max_record_bytes+1 of it: what it allocates in all, and the
// heap at any point of the read, stay far below the line. The record after it is read
// as usual.
func TestHostileHugeLine(t *testing.T) {
	cfg := hostileConfig(t)
	const size = 50 << 20
	var crowd []byte
	for _, l := range hostileCrowd {
		crowd = append(append(crowd, l...), '\n')
	}
	in := &hostileHeapSampler{r: io.MultiReader(bytes.NewReader(crowd), hostileHugeRecord("h-50mb", size),
		strings.NewReader("\n"), bytes.NewReader(hrec("h-after")), strings.NewReader("\n"))}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := evaluateHostile(t, cfg, in, []byte(cloak.DevKey), 2)
	runtime.ReadMemStats(&after)

	allocated := after.TotalAlloc - before.TotalAlloc
	growth := int64(in.peak) - int64(before.HeapAlloc)
	t.Logf("read %d MB; allocated %.1f MB in all; heap grew by at most %.1f MB", in.n>>20, float64(allocated)/(1<<20), float64(growth)/(1<<20))
	if in.n < size {
		t.Fatalf("read only %d bytes of the %d-byte line", in.n, size)
	}
	// A reader that held the line would allocate at least its 50 MB (twice that while
	// growing a buffer). What evaluate allocates is its own buffers: about 1.1 MB of
	// reader, one chunk of 64 KB + 1 bytes for the line, and the audit.
	const bound = 16 << 20
	if allocated > bound || growth > bound {
		t.Errorf("a 50 MB line made evaluate allocate %d bytes and grow the heap by %d; want both under %d", allocated, growth, bound)
	}
	if got.sum.Lines != 5 || got.sum.Invalid != 1 || got.details["line:4"] != reasonOversized {
		t.Errorf("lines %d, invalid %d (%v); want 5 lines, the 4th too large", got.sum.Lines, got.sum.Invalid, got.details)
	}
	if !bytes.Contains(got.audit, []byte(`{"event_id":"h-after","partner":"ev","released":true`)) {
		t.Errorf("the record after the huge line was not released:\n%s", got.audit)
	}
}

// TestHostileManyKeys: a record of 200,000 keys (2.4 MB) is refused by size under the
// default max_record_bytes (TestHostileEvaluate); at the largest allowed limit it is
// decoded in one pass, each key compared with the few configured ones: ignored keys may
// repeat, a configured one may not.
func TestHostileManyKeys(t *testing.T) {
	in := config.Default().Input
	in.MaxRecordBytes = config.MaxRecordBytes
	d := cloak.NewDecoder(in)
	build := func(key func(i int) string, roles string) []byte {
		b := []byte(`{`)
		for i := range 200_000 {
			b = append(strconv.AppendInt(append(append(append(b, '"'), key(i)...), `":`...), int64(i), 10), ',')
		}
		return append(append(b, roles...), '}')
	}
	roles := `"user_id":"u-keys","lat":45.764,"lng":4.8357,"ts":` + hostileTS
	tests := []struct {
		name   string
		line   []byte
		reason string // "" for a valid record
	}{
		{"distinct ignored keys", build(func(i int) string { return "k" + strconv.Itoa(i) }, roles), ""},
		{"one ignored key repeated", build(func(int) string { return "caption" }, roles), ""},
		{"a configured key repeated", build(func(int) string { return "lat" }, roles), "lat: duplicate key"},
		{"escaped keys", build(func(i int) string { return `\u006b` + strconv.Itoa(i) }, roles), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cloak.Checkin
			start := time.Now()
			err := d.Decode(tt.line, testNow, &c)
			t.Logf("%d bytes decoded in %v", len(tt.line), time.Since(start))
			switch {
			case tt.reason == "" && err != nil:
				t.Fatalf("Decode: %v", err)
			case tt.reason == "" && string(c.User) != "u-keys":
				t.Fatalf("user = %q", c.User)
			case tt.reason != "" && (err == nil || !strings.Contains(err.Error(), tt.reason)):
				t.Fatalf("error %v, want %q", err, tt.reason)
			}
		})
	}
}

// TestFloodOneUserOneCell: one user sends 200,000 check-ins to one cell in one window.
// The cap keeps max_checkins_per_user_per_window of them; the rest are contribution_cap,
// and nothing is released: one user is never k, however many check-ins (without a cap
// too: k counts users, not check-ins).
func TestFloodOneUserOneCell(t *testing.T) {
	const n = 200_000
	cfg := config.Default()
	for _, p := range []struct {
		name string
		mode config.Mode
		cap  int
	}{{"cap1", config.ModeEvents, 1}, {"cap5", config.ModeCounts, 5}, {"nocap", config.ModeEvents, 0}} {
		pp := config.DefaultPartner()
		pp.Name, pp.Topic, pp.Mode, pp.K, pp.MaxCheckinsPerUserPerWindow = p.name, "t."+p.name, p.mode, 2, p.cap
		pp.Fields = config.DefaultFields(p.mode)
		cfg.Partners = append(cfg.Partners, pp)
	}
	// Three policies compared on one input, not partners of one stream.
	if err := cfg.ValidateAlternatives(); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).UnixMilli()
	in := &hostileLineGen{n: n, line: func(i int, b []byte) []byte {
		// 10 ms apart: 2,000 s, all in the 10:00 window.
		b = append(b, `{"user_id":"flooder","lat":45.764,"lng":4.8357,"ts":`...)
		return append(strconv.AppendInt(b, start+int64(i)*10, 10), '}')
	}}
	pols := cloak.NewPolicies(&cfg)
	var outs [3]bytes.Buffer
	out := cloak.NewWriterOutput(pols, []io.Writer{&outs[0], &outs[1], &outs[2]}, nil)
	began := time.Now()
	sum, err := cloak.Evaluate(context.Background(), in, cloak.EvalOptions{Config: &cfg, Key: []byte(cloak.DevKey), Now: hostileNow}, out)
	if err != nil {
		t.Fatal(err)
	}
	out.Flush()
	t.Logf("%d check-ins of one user in %v", n, time.Since(began))
	if sum.Lines != n || sum.Invalid != 0 || sum.Late != 0 || sum.MaxBuffered != n {
		t.Fatalf("lines %d, invalid %d, late %d, max buffered %d; want %d, 0, 0, %d", sum.Lines, sum.Invalid, sum.Late, sum.MaxBuffered, n, n)
	}
	for i, ps := range sum.Partners {
		capped := 0
		if c := ps.Policy.MaxCheckinsPerUserPerWindow; c > 0 {
			capped = n - c
		}
		if ps.In != n || ps.Released != 0 || ps.Suppressed[cloak.ContributionCap] != capped || ps.Suppressed[cloak.BelowK] != n-capped {
			t.Errorf("partner %s: in %d, released %d, contribution_cap %d, below_k %d; want %d, 0, %d, %d",
				ps.Policy.Name, ps.In, ps.Released, ps.Suppressed[cloak.ContributionCap], ps.Suppressed[cloak.BelowK], n, capped, n-capped)
		}
		if outs[i].Len() != 0 {
			t.Errorf("partner %s received records: %.200s", ps.Policy.Name, outs[i].String())
		}
	}
}

// hostileHeapOutput counts what each partner gets and measures the live heap while a window
// is being released: the window's events, the release's state and the records are all
// held then, the engine's peak.
type hostileHeapOutput struct {
	records     []int
	recordBytes int
	heap        uint64
}

func (o *hostileHeapOutput) Suppressed(string, cloak.Reason, string, *cloak.Window) error { return nil }

func (o *hostileHeapOutput) Released(rel *cloak.Release) error {
	for i := range rel.Partners {
		first := true
		for recs := rel.Partners[i].Records(cloak.RecordBatch); recs != nil; recs = rel.Partners[i].Records(cloak.RecordBatch) {
			o.records[i] += len(recs)
			for _, r := range recs {
				o.recordBytes += len(r.Key) + len(r.Value)
			}
			if first {
				// The heap is at its peak once a batch of records is encoded: every
				// later batch reuses the same arena.
				o.sample()
				first = false
			}
		}
	}
	o.sample()
	return nil
}

func (o *hostileHeapOutput) sample() {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	o.heap = max(o.heap, ms.HeapAlloc)
}

// TestMillionUsersOneWindow: a million distinct users, one check-in each, all in one
// window, spread over a city (about 15 × 15 km), read lazily. Evaluate finishes, holds
// exactly the one window (a million events) and no more, accounts for every event per
// partner, and releases nearly all of them (a crowd that dense reaches k everywhere).
// Memory while the window is released is bounded per event (figures below).
func TestMillionUsersOneWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("a million check-ins: about 6 s, 45 to 60 s with -race")
	}
	const n = 1_000_000
	cfg := config.Default()
	ev := config.DefaultPartner()
	ev.Name, ev.Topic, ev.Fields = "ev", "t.ev", config.DefaultFields(config.ModeEvents)
	cnt := config.DefaultPartner()
	cnt.Name, cnt.Topic, cnt.Mode, cnt.Fields = "cnt", "t.cnt", config.ModeCounts, config.DefaultFields(config.ModeCounts)
	cfg.Partners = []config.Partner{ev, cnt}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).UnixMilli()
	r := rand.New(rand.NewPCG(1, 2))
	cats := []string{"Coffee Shop", "Bar", "Gym", "Park", "Office"}
	in := &hostileLineGen{n: n, line: func(i int, b []byte) []byte {
		// 3 ms apart: 50 minutes, all in the 10:00 window.
		b = append(b, `{"user_id":"m-`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `","lat":`...)
		b = strconv.AppendFloat(b, 45.70+0.135*r.Float64(), 'f', 6, 64)
		b = append(b, `,"lng":`...)
		b = strconv.AppendFloat(b, 4.75+0.19*r.Float64(), 'f', 6, 64)
		b = append(b, `,"ts":`...)
		b = strconv.AppendInt(b, start+3*int64(i), 10)
		b = append(b, `,"venue_category":"`...)
		b = append(b, cats[i%len(cats)]...)
		return append(b, `"}`...)
	}}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	out := &hostileHeapOutput{records: make([]int, 2)}
	began := time.Now()
	sum, err := cloak.Evaluate(context.Background(), in, cloak.EvalOptions{Config: &cfg, Key: []byte(cloak.DevKey), Now: hostileNow}, out)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(began)
	// Evaluate returns &e.sum, a pointer into its engine: while the caller holds the
	// Summary, the engine (windows, releaser buffers, record arenas) stays live. What
	// evaluate itself keeps is measured once the Summary is copied.
	runtime.GC()
	var held, after runtime.MemStats
	runtime.ReadMemStats(&held)
	sumCopy := *sum
	sum = &sumCopy
	runtime.GC()
	runtime.ReadMemStats(&after)
	peak := int64(out.heap) - int64(base.HeapAlloc)
	retained := int64(after.HeapAlloc) - int64(base.HeapAlloc)
	t.Logf("%d users in %v; live heap while releasing: %.1f MB (%.0f bytes/event; records written %.1f MB, a batch at a time); "+
		"after return: %.1f MB while the *Summary is held, %.1f MB once it is copied",
		n, elapsed, float64(peak)/(1<<20), float64(peak)/n, float64(out.recordBytes)/(1<<20),
		float64(int64(held.HeapAlloc)-int64(base.HeapAlloc))/(1<<20), float64(retained)/(1<<20))

	if sum.Lines != n || sum.Invalid != 0 || sum.Late != 0 {
		t.Fatalf("lines %d, invalid %d, late %d; want %d, 0, 0", sum.Lines, sum.Invalid, sum.Late, n)
	}
	if sum.MaxBuffered != n {
		t.Errorf("max buffered %d, want %d (the one window)", sum.MaxBuffered, n)
	}
	for i, ps := range sum.Partners {
		total := ps.Released
		for _, s := range ps.Suppressed {
			total += s
		}
		if ps.In != n || total != n || ps.Suppressed[cloak.ContributionCap] != 0 {
			t.Errorf("partner %s: in %d, released+suppressed %d, contribution_cap %d; want %d, %d, 0",
				ps.Policy.Name, ps.In, total, ps.Suppressed[cloak.ContributionCap], n, n)
		}
		if ps.Released < n*99/100 || ps.MinClassUsers < ps.Policy.K {
			t.Errorf("partner %s: released %d (smallest class %d users); want at least 99%% in classes of k=%d",
				ps.Policy.Name, ps.Released, ps.MinClassUsers, ps.Policy.K)
		}
		want := ps.Released // events mode: one record per released check-in
		if ps.Policy.Mode == config.ModeCounts {
			want = ps.Classes
		}
		if out.records[i] != want {
			t.Errorf("partner %s: %d records, want %d", ps.Policy.Name, out.records[i], want)
		}
	}
	// The target is 300 bytes per event while the window is released (BenchmarkRelease
	// MillionOneCell measures it in one cell): the buffered events (41 bytes,
	// BenchmarkBufferedEventBytes), the release state of each partner (user ranks,
	// outcomes, labels, groups), and one batch of records. The bound leaves a margin for
	// the growth of slices.
	if limit := int64(n) * 400; peak > limit {
		t.Errorf("live heap while releasing one window of %d events: %d bytes (%d per event), want at most %d", n, peak, peak/n, limit)
	}
	if retained > 16<<20 {
		t.Errorf("evaluate retained %d bytes after returning", retained)
	}
}

// hostileDeadLetter is one record of the dead-letter topic.
type hostileDeadLetter struct {
	reason, source string
	payload        []byte
	dropped        bool // the geocloak-payload: dropped header
}

// hostileDeadLetters reads the whole dead-letter topic, keyed by message key: the hostile
// records carry their case's marker as key, since an oversized record's payload is not
// kept.
func hostileDeadLetters(t *testing.T, conn *Conn, topic string) map[string][]hostileDeadLetter {
	t.Helper()
	ctx := context.Background()
	n, err := conn.Partitions(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]hostileDeadLetter)
	for p := range n {
		for off := int64(0); ; {
			res, err := conn.client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p, Offset: off, MaxBytes: 8 << 20, MaxWait: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if res.Error != nil {
				t.Fatal(res.Error)
			}
			next := off
			for {
				r, err := res.Records.ReadRecord()
				if err != nil {
					break
				}
				k, _ := readBytes(r.Key, nil)
				v, _ := readBytes(r.Value, nil)
				dl := hostileDeadLetter{payload: v}
				for _, h := range r.Headers {
					switch h.Key {
					case HeaderReason:
						dl.reason = string(h.Value)
					case HeaderSource:
						dl.source = string(h.Value)
					case HeaderPayload:
						dl.dropped = string(h.Value) == payloadDropped
					}
				}
				out[string(k)] = append(out[string(k)], dl)
				next = r.Offset + 1
			}
			if next == off || next >= res.HighWatermark {
				break
			}
			off = next
		}
	}
	return out
}

// TestHostileThroughKafka: the hostile table (but records over 1 MB, which a broker
// refuses by default, and those whose outcome depends on the clock) goes through the raw
// topic of an in-process broker, keyed by a marker per case. Each invalid record is in
// the dead-letter topic once, with its reason and source, and its exact bytes (none for
// the oversized one: its payload is dropped); no valid record is; the stages do not
// crash; each partner's records equal evaluate's on the same lines.
func TestHostileThroughKafka(t *testing.T) {
	cfg := streamConfig(t)
	cfg.Partners = hostilePartners()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	type sent struct {
		name, want string
		line       []byte
	}
	var keys []string
	var lines [][]byte
	wants := make(map[string]sent)
	for i, l := range hostileCrowd {
		keys, lines = append(keys, fmt.Sprintf("crowd/%d", i)), append(lines, l)
	}
	for i, c := range hostileCases() {
		want := c.want
		switch {
		case c.kafka == "-" || c.huge != nil:
			continue
		case c.kafka != "":
			want = c.kafka
		}
		key := fmt.Sprintf("hostile/%d", i)
		keys, lines = append(keys, key), append(lines, c.line)
		wants[key] = sent{c.name, want, c.line}
	}

	// evaluate on the same lines, at the stage's clock (below) when it starts.
	var file bytes.Buffer
	for _, l := range lines {
		file.Write(l)
		file.WriteByte('\n')
	}
	ev := evaluateHostile(t, cfg, &file, testStageKey, 2)
	want := make(map[string][]string)
	for name, out := range ev.partners {
		want[name] = strings.Split(strings.TrimSpace(string(out)), "\n")
		slices.Sort(want[name])
	}

	c := cluster(t)
	conn := dialTest(t, c, cfg)
	w := conn.Writer(cfg.Kafka.InputTopic, nil)
	msgs := make([]kafka.Message, len(lines))
	for i := range lines {
		msgs[i] = kafka.Message{Key: []byte(keys[i]), Value: lines[i]}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	// The stages' clock runs from evaluate's now, so that input.max_future means the
	// same; it must run, for idle partitions to advance.
	began := time.Now()
	opt := StageOptions{Config: cfg, Key: testStageKey, Conn: conn, Log: testLogger(t), Timing: testTiming, MaxWait: 100 * time.Millisecond,
		Now: func() time.Time { return hostileNow.Add(time.Since(began)) }}
	s := startStages(t, context.Background(), opt, true, true)
	waitRecords(t, conn, cfg, want, 60*time.Second)
	s.stop(t) // reports any error a stage returned

	for _, p := range cfg.Partners {
		if got := dedupe(t, p.Name, partnerRecords(t, conn, p.Topic)); !slices.Equal(got, want[p.Name]) {
			t.Errorf("partner %s: %d records through Kafka, %d from evaluate:\n%s\nwant\n%s", p.Name, len(got), len(want[p.Name]),
				strings.Join(got, "\n"), strings.Join(want[p.Name], "\n"))
		}
	}
	dls := hostileDeadLetters(t, conn, cfg.Kafka.DeadLetterTopic)
	for key, w := range wants {
		got := dls[key]
		delete(dls, key)
		reason, invalid := strings.CutPrefix(w.want, "invalid: ")
		if !invalid {
			if len(got) > 0 {
				t.Errorf("%s: valid, but dead-lettered: %q", w.name, got[0].reason)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s: %d dead letters, want 1", w.name, len(got))
			continue
		}
		dl := got[0]
		if !strings.Contains(dl.reason, reason) || !strings.HasPrefix(dl.source, cfg.Kafka.InputTopic+"/") {
			t.Errorf("%s: dead letter with reason %q, source %q; want a reason containing %q", w.name, dl.reason, dl.source, reason)
		}
		if dl.reason == reasonOversized {
			if len(dl.payload) != 0 || !dl.dropped {
				t.Errorf("%s: oversized dead letter keeps %d bytes of payload (dropped header %v)", w.name, len(dl.payload), dl.dropped)
			}
		} else if !bytes.Equal(dl.payload, w.line) || dl.dropped {
			t.Errorf("%s: dead letter payload %.80q, want the raw record %.80q", w.name, dl.payload, w.line)
		}
	}
	for key, got := range dls {
		t.Errorf("dead letter for %s, which is not an invalid hostile record: %q", key, got[0].reason)
	}
	// No raw user id crosses the trust boundary: not into the internal topic (keyed
	// pseudonyms only), not to a partner.
	for _, topic := range []string{cfg.Kafka.InternalTopic, "sanitized.ev", "sanitized.cnt"} {
		err := conn.ReadTopic(context.Background(), topic, func(_ int, key, value []byte, _ time.Time) error {
			for _, raw := range []string{"RAW-USER", "u-h-", "crowd-", "12345"} {
				if bytes.Contains(key, []byte(raw)) || bytes.Contains(value, []byte(raw)) {
					t.Errorf("topic %s holds the user id %q", topic, raw)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
