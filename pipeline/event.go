// Package pipeline is geocloak's engine: it decodes raw check-ins, minimizes them to
// events (finest cell, keyed pseudonym, time, category), buffers them in event-time
// windows and, when a window closes, decides per partner policy what is released and
// why the rest is suppressed. The engine is pure and deterministic; `evaluate` drives it
// from a file and the Kafka stages drive it from topics.
package pipeline

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"

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

// DevKey is the public development pseudonym key, used only when the configured
// environment variable is unset, and always with a loud warning: anyone can recompute
// pseudonyms made with it.
const DevKey = "geocloak-development-key-do-not-use-in-production"

// MinKeyBytes is the shortest secret key accepted.
const MinKeyBytes = 16

// ErrDevKey is wrapped by PseudonymKey when it falls back to DevKey.
var ErrDevKey = errors.New("pseudonym key unset: using the public development key")

// Key is the secret pseudonym key. It prints, logs and marshals as <secret>, whatever the
// verb, so that it cannot leak through a log line or an error.
type Key []byte

const redacted = "<secret>"

func (Key) String() string               { return redacted }
func (Key) GoString() string             { return redacted }
func (Key) Format(f fmt.State, _ rune)   { f.Write([]byte(redacted)) }
func (Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (Key) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// PseudonymKey reads the secret key from the file pseudonym.key_file names, or else from
// the environment variable pseudonym.key_env names; never from the config itself. When
// neither is set it returns DevKey and an error wrapping ErrDevKey; the caller decides
// whether to refuse or to warn.
func PseudonymKey(cfg config.Pseudonym) (Key, error) {
	var v, from string
	switch {
	case cfg.KeyFile != "":
		b, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("pseudonym.key_file: %w", err)
		}
		v, from = strings.TrimRight(string(b), "\r\n"), cfg.KeyFile
	default:
		var ok bool
		if v, ok = os.LookupEnv(cfg.KeyEnv); !ok || v == "" {
			return Key(DevKey), fmt.Errorf("$%s: %w", cfg.KeyEnv, ErrDevKey)
		}
		from = "$" + cfg.KeyEnv
	}
	if len(v) < MinKeyBytes {
		return nil, fmt.Errorf("pseudonym key in %s: %d bytes, want at least %d", from, len(v), MinKeyBytes)
	}
	return Key(v), nil
}

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
