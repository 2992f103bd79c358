package cloak

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
)

// Pseudonym is a user's keyed pseudonym: the first 8 bytes of HMAC-SHA256(key, user id).
// Without the key it cannot be linked to the user id. Two users colliding on 64 bits
// would be counted as one, which only makes a class look smaller: k-anonymity stays safe.
type Pseudonym uint64

// Event is a minimized check-in: all the engine keeps. It holds no raw identifier.
type Event struct {
	Cell     geo.Cell // at cell_resolution: every released cell is its ancestor
	User     Pseudonym
	Time     int64 // Unix milliseconds
	Category string
}

// DevKey is the public development pseudonym key (config.DevPseudonymKey): anyone can
// recompute pseudonyms made with it. For tests, demos and benchmarks.
const DevKey = config.DevPseudonymKey

// Key is the secret pseudonym key. It prints, logs and marshals as <secret>, whatever the
// verb, so that it cannot leak through a log line or an error.
type Key []byte

const redacted = "<secret>"

func (Key) String() string               { return redacted }
func (Key) GoString() string             { return redacted }
func (Key) Format(f fmt.State, _ rune)   { f.Write([]byte(redacted)) }
func (Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (Key) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Minimizer turns raw records into Events. It is not safe for concurrent use: give each
// goroutine its own.
type Minimizer struct {
	dec  *Decoder
	res  int
	mac  hash.Hash
	sum  []byte
	cats map[string]string // interned categories, so events share their strings
}

// Bound on interned categories per Minimizer: past it, categories are still kept, only
// not shared (an adversarial stream of unique categories cannot grow memory here).
const maxInterned = 4096

// NewMinimizer returns a Minimizer for cfg and key.
func NewMinimizer(cfg *config.Config, key []byte) *Minimizer {
	return &Minimizer{
		dec:  NewDecoder(cfg.Input),
		res:  cfg.CellResolution,
		mac:  hmac.New(sha256.New, key),
		sum:  make([]byte, 0, sha256.Size),
		cats: make(map[string]string),
	}
}

// Minimize decodes line (now is the wall clock in Unix ms) into ev. c receives the
// decoded check-in, whose slices are valid until the next call. Invalid records give an
// *InvalidError.
func (m *Minimizer) Minimize(line []byte, now int64, c *Checkin, ev *Event) error {
	if err := m.dec.Decode(line, now, c); err != nil {
		return err
	}
	cell, err := geo.CellOf(c.Point, m.res)
	if err != nil {
		return invalid("lat/lng: no H3 cell")
	}
	ev.Cell = cell
	ev.User = m.Pseudonym(c.User)
	ev.Time = c.Time
	ev.Category = m.intern(c.Category)
	return nil
}

// Pseudonym returns the keyed pseudonym of a user id.
func (m *Minimizer) Pseudonym(user []byte) Pseudonym {
	m.mac.Reset()
	m.mac.Write(user)
	m.sum = m.mac.Sum(m.sum[:0])
	return Pseudonym(binary.BigEndian.Uint64(m.sum))
}

func (m *Minimizer) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := m.cats[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(m.cats) < maxInterned {
		m.cats[s] = s
	}
	return s
}
