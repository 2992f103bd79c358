package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"pgregory.net/rapid"
)

// A spelling is one way a data source may write a name: each keeps the name's letters
// as a reader sees them.
type spelling struct {
	name string
	// stage orders spellings when several apply: the plural (of the English word),
	// case, digits, punctuation, then letters of other scripts and forms (upper-casing a
	// look-alike would change what it looks like: Greek η is an n, Η an H).
	stage int
	f     func(s string, r *rapid.T) string
}

// squashes: the spellings that run words together, which keywords of several words
// cannot see (a listed name can: Lookup compares listed names with spaces removed).
var squashes = map[string]bool{"squash": true}

var spellingsOf = []spelling{
	{"upper", 1, func(s string, _ *rapid.T) string { return strings.ToUpper(s) }},
	{"lower", 1, func(s string, _ *rapid.T) string { return strings.ToLower(s) }},
	{"title", 1, func(s string, _ *rapid.T) string { return titleCase(s) }},
	{"alternating", 1, func(s string, _ *rapid.T) string { return alternating(s) }},
	{"accents", 4, func(s string, _ *rapid.T) string { return accented(s) }},
	{"fullwidth", 4, func(s string, _ *rapid.T) string { return fullwidth(s) }},
	{"cyrillic", 4, func(s string, _ *rapid.T) string { return lookalikes(s, unicode.Cyrillic, nil) }},
	{"greek", 4, func(s string, _ *rapid.T) string { return lookalikes(s, unicode.Greek, nil) }},
	{"hyphens", 3, func(s string, _ *rapid.T) string { return strings.ReplaceAll(s, " ", "-") }},
	{"underscores", 3, func(s string, _ *rapid.T) string { return strings.ReplaceAll(s, " ", "_") }},
	{"dots", 3, func(s string, _ *rapid.T) string { return strings.ReplaceAll(s, " ", ". ") }},
	{"slashes", 3, func(s string, _ *rapid.T) string { return strings.ReplaceAll(s, " ", " / ") }},
	{"spaces", 3, func(s string, _ *rapid.T) string { return "  " + strings.ReplaceAll(s, " ", "   ") + " " }},
	{"brackets", 3, func(s string, _ *rapid.T) string { return "(" + s + ")!" }},
	{"squash", 3, func(s string, _ *rapid.T) string { return strings.ReplaceAll(s, " ", "") }},
	{"plural", 0, func(s string, _ *rapid.T) string { return pluralLast(s) }},
	{"zeros", 2, func(s string, _ *rapid.T) string { return leet(s, "oO", '0') }},
	{"ones for i", 2, func(s string, _ *rapid.T) string { return leet(s, "iI", '1') }},
	{"ones for l", 2, func(s string, _ *rapid.T) string { return leet(s, "lL", '1') }},
	{"threes", 2, func(s string, _ *rapid.T) string { return leet(s, "eE", '3') }},
	{"fives", 2, func(s string, _ *rapid.T) string { return leet(s, "sS", '5') }},
	{"mixed look-alikes", 4, func(s string, r *rapid.T) string {
		return lookalikes(s, nil, func(n int) int { return rapid.IntRange(0, n).Draw(r, "lookalike") })
	}},
}

func titleCase(s string) string {
	out := []rune(strings.ToLower(s))
	for i := range out {
		if i == 0 || !unicode.IsLetter(out[i-1]) {
			out[i] = unicode.ToUpper(out[i])
		}
	}
	return string(out)
}

func alternating(s string) string {
	out := []rune(s)
	for i := range out {
		if i%2 == 0 {
			out[i] = unicode.ToUpper(out[i])
		} else {
			out[i] = unicode.ToLower(out[i])
		}
	}
	return string(out)
}

// accented puts an accent on every vowel, composed where Unicode has the letter.
func accented(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
		if strings.ContainsRune("aeiouAEIOU", r) {
			b.WriteRune('\u0301')
		}
	}
	return norm.NFC.String(b.String())
}

func fullwidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r > ' ' && r < 0x7f {
			return r - '!' + '！'
		}
		return r
	}, s)
}

// lookalikes replaces every Latin letter that has a look-alike in the table with one
// drawn like it in its case: of script, or one chosen by pick among them all.
func lookalikes(s string, script *unicode.RangeTable, pick func(n int) int) string {
	return strings.Map(func(r rune) rune {
		if r > unicode.MaxASCII || !unicode.IsLetter(r) {
			return r
		}
		var alts []rune
		for alt, latin := range lookalike {
			// A capital stands for a capital, a small letter for a small one.
			if latin == unicode.ToLower(r) && unicode.IsUpper(alt) == unicode.IsUpper(r) &&
				(script == nil || unicode.Is(script, alt)) {
				alts = append(alts, alt)
			}
		}
		if len(alts) == 0 {
			return r
		}
		slices.Sort(alts)
		i := 0
		if pick != nil {
			if i = pick(len(alts)); i == len(alts) {
				return r // kept Latin
			}
		}
		return alts[i]
	}, s)
}

// pluralLast writes the last word of s in the plural, as English does.
func pluralLast(s string) string {
	rs := []rune(s)
	end := len(rs)
	for end > 0 && !unicode.IsLetter(rs[end-1]) {
		end--
	}
	if end == 0 {
		return s
	}
	word, rest := string(rs[:end]), string(rs[end:])
	lw := strings.ToLower(word)
	switch {
	case strings.HasSuffix(lw, "y") && len(lw) > 1 && !strings.ContainsRune("aeiou", rune(lw[len(lw)-2])):
		return word[:len(word)-1] + "ies" + rest
	case strings.HasSuffix(lw, "s"), strings.HasSuffix(lw, "x"), strings.HasSuffix(lw, "z"),
		strings.HasSuffix(lw, "ch"), strings.HasSuffix(lw, "sh"):
		return word + "es" + rest
	}
	return word + "s" + rest
}

// leet writes the letters of from as the digit d, in the runs of letters and digits
// that keep a letter (a run of digits only would be a number: "Gentlemen's" is
// "Gentlemen'5" with no 5 for its s).
func leet(s, from string, d rune) string {
	rs := []rune(s)
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])) {
			j++
		}
		if j == i {
			i++
			continue
		}
		run := slices.Clone(rs[i:j])
		for k, r := range run {
			if strings.ContainsRune(from, r) {
				run[k] = d
			}
		}
		if slices.ContainsFunc(run, unicode.IsLetter) {
			copy(rs[i:j], run)
		}
		i = j
	}
	return string(rs)
}

// sensitiveOf lists the sensitive groups Lookup gives name.
func sensitiveOf(tax *Taxonomy, name string) []int {
	c := tax.Lookup(name)
	if !c.Known() {
		return nil
	}
	var out []int
	for _, g := range append([]int{c.Group}, c.Also...) {
		if tax.Groups[g].Sensitive {
			out = append(out, g)
		}
	}
	return out
}

// sensitiveNames are the names whose spellings must keep their sensitive groups: every
// listed name with one (in a sensitive group, or of one by a keyword), and a name made
// of each keyword ("Old Strip Club Place"; "Xclinicy" for a keyword that may stand
// inside a word).
func sensitiveNames(tax *Taxonomy) (listed, byKeyword []string) {
	for _, g := range tax.Groups {
		for _, name := range g.Categories {
			if len(sensitiveOf(tax, name)) > 0 {
				listed = append(listed, name)
			}
		}
		for _, kw := range g.Keywords {
			if stem, inside := strings.CutSuffix(kw, "*"); inside {
				byKeyword = append(byKeyword, "Poly"+stem+"ist Place")
			} else {
				byKeyword = append(byKeyword, "Old "+kw+" Place")
			}
		}
	}
	return listed, byKeyword
}

// keeps reports what variant loses of the sensitive groups of name, "" if nothing.
func keeps(tax *Taxonomy, name, variant string) string {
	want, got := sensitiveOf(tax, name), sensitiveOf(tax, variant)
	var lost []string
	for _, g := range want {
		if !slices.Contains(got, g) {
			lost = append(lost, tax.Groups[g].ID)
		}
	}
	if len(lost) == 0 {
		return ""
	}
	return fmt.Sprintf("%q (%q) loses %v of %q", variant, NormalizeCategory(variant), lost, name)
}

// Every spelling of every sensitive name, one spelling at a time, stays in the name's
// sensitive groups: case, accents, fullwidth, Cyrillic and Greek look-alikes, other
// punctuation and spacing, words run together (listed names), the plural, digits for
// letters. (Mixed look-alikes are drawn at random: see the combined test.)
func TestSpellingsStaySensitive(t *testing.T) {
	tax := ShippedTaxonomy()
	listed, byKeyword := sensitiveNames(tax)
	if len(listed) < 250 || len(byKeyword) < 400 {
		t.Fatalf("%d listed sensitive names, %d keywords: fewer than the shipped taxonomy has", len(listed), len(byKeyword))
	}
	for _, sp := range spellingsOf {
		if sp.name == "mixed look-alikes" {
			continue
		}
		for _, name := range listed {
			if lost := keeps(tax, name, sp.f(name, nil)); lost != "" {
				t.Errorf("%s: %s", sp.name, lost)
			}
		}
		if squashes[sp.name] {
			continue
		}
		for _, name := range byKeyword {
			if lost := keeps(tax, name, sp.f(name, nil)); lost != "" {
				t.Errorf("%s: %s", sp.name, lost)
			}
		}
	}
}

// Spellings combined: a few of them, applied in stage order, to a name among the
// sensitive ones.
func TestSpellingsCombinedStaySensitive(t *testing.T) {
	tax := ShippedTaxonomy()
	listed, byKeyword := sensitiveNames(tax)
	rapid.Check(t, func(r *rapid.T) {
		keyword := rapid.Bool().Draw(r, "keyword")
		names := listed
		if keyword {
			names = byKeyword
		}
		name := rapid.SampledFrom(names).Draw(r, "name")
		var sps []spelling
		digits := false
		for range rapid.IntRange(1, 5).Draw(r, "spellings") {
			sp := rapid.SampledFrom(spellingsOf).Draw(r, "spelling")
			switch {
			case slices.ContainsFunc(sps, func(x spelling) bool { return x.name == sp.name }):
				continue // "Centerses"
			case keyword && squashes[sp.name]:
				continue // keywords of several words do not see words run together
			case sp.stage == 2 && digits:
				continue // one digit for one letter: "C11nic" (1 for l and i) reads as neither
			case sp.stage == 2:
				digits = true
			}
			sps = append(sps, sp)
		}
		slices.SortStableFunc(sps, func(a, b spelling) int { return a.stage - b.stage })
		v := name
		var used []string
		for _, sp := range sps {
			v, used = sp.f(v, r), append(used, sp.name)
		}
		if lost := keeps(tax, name, v); lost != "" {
			r.Fatalf("%v: %s", used, lost)
		}
	})
}

// typosOf lists keyword k mistyped in the ways Lookup reads, each with the first letter
// of k the typo moves: two neighbouring letters after the first swapped, and each letter
// after the first typed twice.
func typosOf(k string) []typoOf {
	rs := []rune(k)
	var out []typoOf
	for i := 1; i+1 < len(rs); i++ {
		if rs[i] != rs[i+1] {
			v := slices.Clone(rs)
			v[i], v[i+1] = v[i+1], v[i]
			out = append(out, typoOf{string(v), i})
		}
	}
	for i := 1; i < len(rs); i++ {
		out = append(out, typoOf{string(slices.Insert(slices.Clone(rs), i, rs[i])), i})
	}
	return out
}

type typoOf struct {
	v  string
	at int // the first letter of the word the typo moves
}

// Every typo of every one-word keyword of at least minTypo letters, in a name the
// taxonomy does not list, keeps the keyword's group; shorter keywords are not read
// through typos. A typo that spells another keyword ("avdentist" for "adventist") is
// read as spelled, of that keyword's group, and still sensitive.
func TestTyposStaySensitive(t *testing.T) {
	tax := ShippedTaxonomy()
	n := 0
	for gi, g := range tax.Groups {
		for _, kw := range g.Keywords {
			kw = strings.TrimSuffix(kw, "*")
			if strings.Contains(kw, " ") || utf8.RuneCountInString(kw) < minTypo {
				continue
			}
			for _, ty := range typosOf(kw) {
				v := ty.v
				name := "Old " + titleCase(v) + " Place"
				got := sensitiveOf(tax, name)
				if !slices.Contains(got, gi) && (len(got) == 0 || len(tax.keywordGroups(v)) == 0) {
					t.Errorf("typo %q of %q: sensitive groups %v, want %s among them", name, kw, got, g.ID)
				}
				n++
			}
		}
	}
	if n < 3000 {
		t.Fatalf("%d typos tried: fewer than the shipped keywords make", n)
	}
	// Every typo of one word of a listed sensitive name keeps the name's groups, unless
	// it makes another listed name.
	listed, _ := sensitiveNames(tax)
	n = 0
	for _, name := range listed {
		words := strings.Fields(NormalizeCategory(name))
		for i, w := range words {
			for _, ty := range typosOf(w) {
				variant := strings.Join(slices.Concat(words[:i], []string{ty.v}, words[i+1:]), " ")
				if _, ok := tax.byName[NormalizeCategory(variant)]; ok {
					continue
				}
				if lost := keeps(tax, name, variant); lost != "" {
					t.Errorf("typo: %s", lost)
				}
				n++
			}
		}
	}
	if n < 5000 {
		t.Fatalf("%d typos of listed names tried: fewer than the shipped taxonomy makes", n)
	}
	// A word of a listed sensitive name, mistyped in a name that is not listed, keeps the
	// groups its keywords of at least minTypo letters give it ("Pharmcay Store",
	// "Oncolgoy"), plural too.
	n = 0
	for _, name := range listed {
		for _, w := range strings.Fields(NormalizeCategory(name)) {
			for _, ty := range typosOf(w) {
				v, want := ty.v, longKeywordGroups(tax, w, ty.at)
				if len(want) == 0 || len(tax.keywordGroups(v)) > 0 {
					continue // no keyword to keep; or read as spelled (see above)
				}
				for _, form := range []string{"Old %s Place", "Old %ss Place"} {
					got := sensitiveOf(tax, fmt.Sprintf(form, v))
					for _, g := range want {
						if !slices.Contains(got, g) {
							t.Errorf("typo %q of %q: sensitive groups %v, want %s among them", fmt.Sprintf(form, v), w, got, tax.Groups[g].ID)
						}
					}
					n++
				}
			}
		}
	}
	if n < 4000 {
		t.Fatalf("%d typos of words of listed names tried: fewer than the shipped taxonomy makes", n)
	}
	for name, want := range map[string]string{
		"Hosptial": "health", "Chruch": "religion", "Synagouge": "religion", "Clinnic": "health",
		"Pharmacyy": "health", "Fnueral Parlour": "death", "Cemetary": "death", "Mosuqe": "religion",
		"Gya Bar": "sexual", "Funeral Hoem": "death", // listed names mistyped
		"Gya Lounge": "",                      // "gay" is too short to be read through a typo alone
		"Metal Shop": "", "Player Lounge": "", // "mental", "prayer": one letter is not a typo read
		"Pharmcay Store": "health", "Oncolgoy": "health", "Old Morturay Place": "death",
		"Gastroenterollogists": "health", "Adventure Park": "", "Seventh-day Adventist": "religion",
	} {
		var got []string
		for _, g := range sensitiveOf(tax, name) {
			got = append(got, tax.Groups[g].ID)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("Lookup(%q): sensitive groups %v, want %q", name, got, want)
		}
	}
}

// longKeywordGroups lists the sensitive groups of the one-word keywords of at least
// minTypo letters that word w is, or, for those that may stand inside a word, holds over
// its letter at (a rune index): what a typo there keeps.
func longKeywordGroups(tax *Taxonomy, w string, at int) []int {
	rs := []rune(w)
	var out []int
	for i, g := range tax.Groups {
		for _, kw := range g.Keywords {
			stem, inside := strings.CutSuffix(kw, "*")
			st := []rune(NormalizeCategory(stem))
			if strings.Contains(string(st), " ") || len(st) < minTypo {
				continue
			}
			covers := false
			for j := 0; inside && j+len(st) <= len(rs); j++ {
				covers = covers || j <= at && at < j+len(st) && slices.Equal(rs[j:j+len(st)], st)
			}
			if w == string(st) || covers {
				out = append(out, i)
				break
			}
		}
	}
	return out
}
