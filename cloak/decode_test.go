package cloak

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/geocloak/geocloak/config"
)

var testNow = time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC).UnixMilli()

func testDecoder() *Decoder { return NewDecoder(config.Default().Input) }

func TestDecode(t *testing.T) {
	const ok = `{"event_id":"e1","user_id":"u1","lat":45.764,"lng":4.8357,"ts":"2026-03-02T10:15:30Z","venue_category":"Coffee Shop","caption":"hi"}`
	tests := []struct {
		name   string
		line   string
		reason string // "" for a valid record
		check  func(t *testing.T, c *Checkin)
	}{
		{"valid", ok, "", func(t *testing.T, c *Checkin) {
			if string(c.User) != "u1" || string(c.EventID) != "e1" || c.Point.Lat != 45.764 || c.Point.Lng != 4.8357 ||
				string(c.Category) != "Coffee Shop" || c.Time != time.Date(2026, 3, 2, 10, 15, 30, 0, time.UTC).UnixMilli() {
				t.Errorf("got %+v", c)
			}
		}},
		{"unix seconds", `{"user_id":"u","lat":1,"lng":2,"ts":1772446530}`, "", func(t *testing.T, c *Checkin) {
			if c.Time != 1772446530000 {
				t.Errorf("time = %d", c.Time)
			}
		}},
		{"unix ms", `{"user_id":"u","lat":1,"lng":2,"ts":1772446530123}`, "", func(t *testing.T, c *Checkin) {
			if c.Time != 1772446530123 {
				t.Errorf("time = %d", c.Time)
			}
		}},
		{"fractional seconds", `{"user_id":"u","lat":1,"lng":2,"ts":1772446530.5}`, "", func(t *testing.T, c *Checkin) {
			if c.Time != 1772446530500 {
				t.Errorf("time = %d", c.Time)
			}
		}},
		{"offset and fraction", `{"user_id":"u","lat":1,"lng":2,"ts":"2026-03-02T12:15:30.25+02:00"}`, "", func(t *testing.T, c *Checkin) {
			if c.Time != time.Date(2026, 3, 2, 10, 15, 30, 250e6, time.UTC).UnixMilli() {
				t.Errorf("time = %d", c.Time)
			}
		}},
		{"integer user id", `{"user_id":12345,"lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "", func(t *testing.T, c *Checkin) {
			if string(c.User) != "12345" {
				t.Errorf("user = %q", c.User)
			}
		}},
		{"escaped user id equals plain", `{"user_id":"\u0075\u0031","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "", func(t *testing.T, c *Checkin) {
			if string(c.User) != "u1" {
				t.Errorf("user = %q", c.User)
			}
		}},
		{"unknown nested fields skipped", `{"x":{"a":[1,2,{"b":null}],"c":true},"user_id":"u","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z","y":[]}`, "", nil},
		{"null category", `{"user_id":"u","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z","venue_category":null}`, "", nil},
		{"whitespace", " {\t\"user_id\" : \"u\" , \"lat\" : 1 , \"lng\" : 2 , \"ts\" : \"2026-03-02T10:15:30Z\" } ", "", nil},

		{"not json", `hello`, "not a JSON object", nil},
		{"array", `[1,2]`, "not a JSON object", nil},
		{"truncated", `{"user_id":"u","lat":1`, "not valid JSON", nil},
		{"trailing data", `{"user_id":"u","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"} x`, "data after the object", nil},
		{"missing user", `{"lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "user_id: missing", nil},
		{"empty user", `{"user_id":"","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "user_id: empty", nil},
		{"null user", `{"user_id":null,"lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "user_id: empty", nil},
		{"float user", `{"user_id":1.5,"lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "user_id: must be a string or an integer", nil},
		{"object user", `{"user_id":{"a":1},"lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "user_id: must be a string or an integer", nil},
		{"missing lat", `{"user_id":"u","lng":2,"ts":"2026-03-02T10:15:30Z"}`, "lat: missing", nil},
		{"lat as string", `{"user_id":"u","lat":"45.7","lng":2,"ts":"2026-03-02T10:15:30Z"}`, "lat: must be a JSON number", nil},
		{"lat NaN token", `{"user_id":"u","lat":NaN,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "lat: must be a JSON number", nil},
		{"lat overflow", `{"user_id":"u","lat":1e400,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "lat: not finite", nil},
		{"lat 91", `{"user_id":"u","lat":91,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "latitude out of range", nil},
		{"lng -181", `{"user_id":"u","lat":1,"lng":-181,"ts":"2026-03-02T10:15:30Z"}`, "longitude out of range", nil},
		{"leading zero", `{"user_id":"u","lat":01,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "not valid JSON", nil},
		{"duplicate lat", `{"user_id":"u","lat":1,"lat":50,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "lat: duplicate key", nil},
		{"duplicate user via escape", `{"user_id":"a","user\u005fid":"b","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "user_id: duplicate key", nil},
		{"bad time string", `{"user_id":"u","lat":1,"lng":2,"ts":"03/02/2026 10:15"}`, "time: not an RFC 3339 time", nil},
		{"bad date", `{"user_id":"u","lat":1,"lng":2,"ts":"2026-02-30T10:15:30Z"}`, "time: not an RFC 3339 time", nil},
		{"time as bool", `{"user_id":"u","lat":1,"lng":2,"ts":true}`, "time: must be an RFC 3339 string or a Unix time number", nil},
		{"far future", `{"user_id":"u","lat":1,"lng":2,"ts":"2099-01-01T00:00:00Z"}`, "time: later than now + input.max_future", nil},
		{"far past", `{"user_id":"u","lat":1,"lng":2,"ts":0}`, "time: before input.not_before", nil},
		{"huge time", `{"user_id":"u","lat":1,"lng":2,"ts":1e300}`, "time: out of range", nil},
		{"category not string", `{"user_id":"u","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z","venue_category":7}`, "category: must be a string", nil},
		{"category control char", `{"user_id":"u","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z","venue_category":"a\u0000b"}`, "category: holds a control, bidi or invisible character", nil},
		{"category invalid utf8", "{\"user_id\":\"u\",\"lat\":1,\"lng\":2,\"ts\":\"2026-03-02T10:15:30Z\",\"venue_category\":\"caf\xe9\"}", "category: not valid UTF-8", nil},
		{"raw control char in string", "{\"user_id\":\"u\x01\",\"lat\":1,\"lng\":2,\"ts\":\"2026-03-02T10:15:30Z\"}", "control character", nil},
		{"lone surrogate", `{"user_id":"\ud800","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "lone surrogate", nil},
		{"deep nesting", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,"user_id":"u","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "nested deeper than 64", nil},
		{"too large", `{"user_id":"u","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z","caption":"` + strings.Repeat("x", 70000) + `"}`, "larger than input.max_record_bytes", nil},
		{"long user id", `{"user_id":"` + strings.Repeat("u", 300) + `","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`, "user_id: longer than 256 bytes", nil},
	}
	d := testDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Checkin
			err := d.Decode([]byte(tt.line), testNow, &c)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if tt.check != nil {
					tt.check(t, &c)
				}
				return
			}
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("Decode error = %v, want an InvalidError", err)
			}
			if !strings.Contains(ie.Reason, tt.reason) {
				t.Fatalf("reason = %q, want it to contain %q", ie.Reason, tt.reason)
			}
		})
	}
}

func TestDecodeTimeFormats(t *testing.T) {
	in := config.Default().Input
	in.TimeFormat = "unix_ms"
	d := NewDecoder(in)
	var c Checkin
	if err := d.Decode([]byte(`{"user_id":"u","lat":1,"lng":2,"ts":1772446530}`), testNow, &c); err == nil {
		t.Errorf("unix_ms read 1772446530 as %d, want before not_before", c.Time)
	}
	if err := d.Decode([]byte(`{"user_id":"u","lat":1,"lng":2,"ts":"2026-03-02T10:15:30Z"}`), testNow, &c); err == nil {
		t.Error("unix_ms accepted an RFC 3339 string")
	}
	in.TimeFormat = "rfc3339"
	d = NewDecoder(in)
	if err := d.Decode([]byte(`{"user_id":"u","lat":1,"lng":2,"ts":1772446530}`), testNow, &c); err == nil {
		t.Error("rfc3339 accepted a number")
	}
}

// FuzzDecode checks the decoder against encoding/json: it never panics, it accepts only
// valid JSON objects, and what it accepts it reads as encoding/json does.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"event_id":"e1","user_id":"u1","lat":45.764,"lng":4.8357,"ts":"2026-03-02T10:15:30Z","venue_category":"Coffee Shop"}`,
		`{"user_id":12,"lat":-1.5e1,"lng":2E-3,"ts":1772446530123,"x":{"y":[true,false,null,"\u00e9"]}}`,
		`{"user_id":"\ud83d\ude00","lat":0,"lng":0,"ts":"2026-03-02T10:15:30.123456789-05:30"}`,
		`{"user_id":"u","lat":NaN,"lng":2,"ts":1}`,
		`{"user_id":"u","lat":1,"lat":2}`,
		`[]`, `{}`, `{"a":}`, "{\"user_id\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	d := testDecoder()
	f.Fuzz(func(t *testing.T, line []byte) {
		var c Checkin
		err := d.Decode(line, testNow, &c)
		if err != nil {
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an InvalidError", err)
			}
			return
		}
		if !json.Valid(line) {
			t.Fatalf("accepted invalid JSON %q", line)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("accepted %q, encoding/json: %v", line, err)
		}
		lat, _ := m["lat"].(json.Number).Float64()
		lng, _ := m["lng"].(json.Number).Float64()
		if lat != c.Point.Lat || lng != c.Point.Lng || math.IsNaN(lat) {
			t.Fatalf("lat/lng %v,%v, encoding/json %v,%v", c.Point.Lat, c.Point.Lng, lat, lng)
		}
		switch u := m["user_id"].(type) {
		case string:
			if !bytes.Equal([]byte(u), c.User) && !strings.ContainsRune(u, '\uFFFD') {
				t.Fatalf("user %q, encoding/json %q", c.User, u)
			}
		case json.Number:
			if string(u) != string(c.User) {
				t.Fatalf("user %q, encoding/json %q", c.User, u)
			}
		default:
			t.Fatalf("user_id of type %T accepted", u)
		}
		if cat, ok := m["venue_category"].(string); ok && cat != string(c.Category) {
			t.Fatalf("category %q, encoding/json %q", c.Category, cat)
		}
	})
}
