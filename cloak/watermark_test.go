package cloak

import (
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/geocloak/geocloak/config"
)

// watermarkSequence draws a sequence of (user, time) observations: random, or
// adversarial (a few users dated far ahead, alone or among honest users in order, or
// honest users at one time and attackers just after).
func watermarkSequence(t *rapid.T, m int) []WatermarkUser {
	kind := rapid.SampledFrom([]string{"random", "attackers-ahead", "attackers-only", "ties", "one-user"}).Draw(t, "kind")
	n := rapid.IntRange(0, 300).Draw(t, "n")
	users := rapid.IntRange(1, 3*config.MaxWatermarkUsers).Draw(t, "users")
	attackers := rapid.IntRange(0, m).Draw(t, "attackers") // users 1000..: dated far ahead
	var seq []WatermarkUser
	clock := int64(1_000_000)
	for range n {
		clock += rapid.Int64Range(0, 5000).Draw(t, "step")
		u := WatermarkUser{User: Pseudonym(rapid.IntRange(0, users-1).Draw(t, "user")), Time: clock - rapid.Int64Range(0, 20_000).Draw(t, "disorder")}
		switch kind {
		case "attackers-ahead":
			if attackers > 0 && rapid.IntRange(0, 4).Draw(t, "attack") == 0 {
				u = WatermarkUser{User: Pseudonym(1000 + rapid.IntRange(0, attackers-1).Draw(t, "attacker")), Time: clock + rapid.Int64Range(1, 1e9).Draw(t, "ahead")}
			}
		case "attackers-only":
			u.User = Pseudonym(1000 + rapid.IntRange(0, max(attackers, 1)-1).Draw(t, "attacker"))
			u.Time = clock + rapid.Int64Range(0, 1e9).Draw(t, "ahead")
		case "ties":
			u.Time = 1_000_000 + rapid.Int64Range(0, 2).Draw(t, "tie")
		case "one-user":
			u.User = 7
		}
		seq = append(seq, u)
	}
	return seq
}

// TestWatermarkProperties: over random and adversarial sequences, the watermark is the
// m-th latest of the users' latest times minus the lateness (a naive reference); it never
// moves backward; no set of fewer than m users can move it past the latest time the other
// users have reached; and a watermark restored from Users and Value goes on exactly as
// the original.
func TestWatermarkProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := rapid.IntRange(1, config.MaxWatermarkUsers).Draw(t, "m")
		lateness := rapid.Int64Range(0, 10_000).Draw(t, "lateness")
		seq := watermarkSequence(t, m)
		cut := rapid.IntRange(0, len(seq)).Draw(t, "restart at")
		w := NewWatermark(lateness, m)
		var restored Watermark
		latest := make(map[Pseudonym]int64)
		prev := int64(NoWatermark)
		for i, o := range seq {
			if i == cut {
				restored = NewWatermark(lateness, m)
				restored.Restore(w.Value(), w.Users())
			}
			w.Observe(o.Time, o.User)
			if i >= cut {
				restored.Observe(o.Time, o.User)
				if restored.Value() != w.Value() {
					t.Fatalf("after a restore at %d: watermark %d, without the restore %d", cut, restored.Value(), w.Value())
				}
			}
			if t0, ok := latest[o.User]; !ok || o.Time > t0 {
				latest[o.User] = o.Time
			}
			var ts []int64
			for _, v := range latest {
				ts = append(ts, v)
			}
			slices.Sort(ts)
			want := int64(NoWatermark)
			if len(ts) >= m {
				want = ts[len(ts)-m] - lateness
			}
			if w.Value() != want {
				t.Fatalf("after %d observations: watermark %d, want the %d-th latest user time minus lateness: %d", i+1, w.Value(), m, want)
			}
			if w.Value() < prev {
				t.Fatalf("watermark moved backward: %d after %d", w.Value(), prev)
			}
			prev = w.Value()
			// The m-1 users with the latest times are the strongest set of fewer than m
			// users: the watermark may not pass what the others reached.
			if w.Value() != NoWatermark {
				bound := ts[len(ts)-m] // the latest time of the users outside that set
				if w.Value() > bound-lateness {
					t.Fatalf("%d users moved the watermark to %d, past %d (the others' latest, minus lateness)", m-1, w.Value(), bound-lateness)
				}
			}
			if len(w.Users()) > m {
				t.Fatalf("keeps %d users, want at most %d", len(w.Users()), m)
			}
		}
	})
}

// TestWatermarkFewUsersCannotMove: however many records fewer than m users send, at any
// time, the watermark does not move.
func TestWatermarkFewUsersCannotMove(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := rapid.IntRange(2, config.MaxWatermarkUsers).Draw(t, "m")
		w := NewWatermark(0, m)
		users := rapid.IntRange(1, m-1).Draw(t, "users")
		for range rapid.IntRange(0, 500).Draw(t, "n") {
			w.Observe(rapid.Int64Range(math.MinInt64/2, math.MaxInt64/2).Draw(t, "time"), Pseudonym(rapid.IntRange(0, users-1).Draw(t, "user")))
			if w.Value() != NoWatermark {
				t.Fatalf("%d users moved a watermark that needs %d to %d", users, m, w.Value())
			}
		}
	})
}
