package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/unicode/norm"
)

// The category taxonomy groups venue categories, so that a record can show a venue's
// category, its group, or nothing, whichever k users of its class share (G1 over what a
// partner can tell apart), and so that whole groups of places that reveal health,
// religion, sexual life and the like are suppressed unless a policy opts a group in.
//
// The shipped taxonomy, categories.yaml, is embedded in the binary; a config's
// `taxonomy` key names another file of the same shape.

//go:embed categories.yaml
var shippedTaxonomy []byte

// Taxonomy maps input category names to groups. It is immutable once loaded and safe
// for concurrent use.
type Taxonomy struct {
	// Groups in file order: the order in which keywords are tried.
	Groups []Group
	// Source names where it was read from: "shipped" or a file path.
	Source string
	byName map[string]Category // normalized name → what it is
	except map[string][]int    // normalized listed name → groups whose Except names it
	// squashed: listed names with spaces removed → the normalized names, in file order.
	squashed map[string][]string
	// Keywords indexed: whole ones by their first word, those that may stand inside a
	// word apart.
	kwFirst  map[string][]groupKeyword
	kwInside []groupKeyword
	kwTypo   map[string][]int // whole one-word keywords of at least minTypo letters → groups
	// kwTypoInside: keywords of at least minTypo letters that may stand inside a word,
	// by first letter; maxStem is the longest.
	kwTypoInside map[rune][]typoStem
	maxStem      int
	// longest is the most letters a word of a listed name or whole keyword has: a longer
	// word, but for one letter typed twice, is no typo of either; maxWords is the most
	// words a listed name has.
	longest, maxWords int
}

// typoStem is a keyword that may stand inside a word, and its group.
type typoStem struct {
	group int
	stem  []rune
}

// groupKeyword is a keyword and the index of its group.
type groupKeyword struct {
	group int
	kw    keyword
}

// Group is one group of the taxonomy.
type Group struct {
	// ID names the group in configs (release_sensitive_groups, suppress_categories).
	ID string `yaml:"id"`
	// Name is the label a record shows at group level.
	Name string `yaml:"name"`
	// Sensitive groups are suppressed unless a policy opts them in.
	Sensitive bool `yaml:"sensitive"`
	// Categories are the leaf names, as the input spells them (matched ignoring case,
	// accents, punctuation and spacing).
	Categories []string `yaml:"categories"`
	// Keywords (sensitive groups only) catch category names the taxonomy does not list:
	// a name holding one of them as whole words belongs to the group. They make
	// default-deny robust to spellings the list lacks. A listed name of another group
	// that holds one is of this group too (Category.Also).
	Keywords []string `yaml:"keywords"`
	// Except (sensitive groups only) names listed categories of other groups that hold
	// one of the group's keywords but are no place of it ("Food Court" holds "court"):
	// they are not made of the group. It applies to those names and to the spellings
	// Lookup reads as them ("Food Courts"), not to other names holding the keyword
	// ("Mall Food Court" is justice).
	Except   []string `yaml:"except"`
	keywords []keyword
}

// keyword is one parsed keyword: its words, and whether it may stand inside a word.
type keyword struct {
	words  []string
	inside bool
}

// Category is what the taxonomy knows of one input category name.
type Category struct {
	// Group is the index of its group in Taxonomy.Groups; -1 when the name is unknown
	// (or empty): then it is released without category and is never sensitive.
	Group int
	// Leaf is the canonical leaf name; "" when the name is its group's own name (a
	// generic "Food"), or when Group < 0.
	Leaf string
	// ByKeyword: unknown by name, placed in its (sensitive) group by a keyword.
	ByKeyword bool
	// Also lists the other sensitive groups whose keywords the name holds, whether it
	// is listed or not: the name is suppressed unless every one of them is opted in
	// (Group too, when it is sensitive).
	Also []int
}

// Known reports whether the taxonomy placed the name in a group.
func (c Category) Known() bool { return c.Group >= 0 }

type taxonomyFile struct {
	Groups []Group `yaml:"groups"`
}

var groupID = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// maxLabelBytes: labels are released to partners, as input categories are (at most 128
// bytes, see the decoder).
const maxLabelBytes = 128

// ShippedTaxonomy returns the taxonomy embedded in the binary, parsed once (it is
// immutable).
var ShippedTaxonomy = sync.OnceValue(func() *Taxonomy {
	t, err := ParseTaxonomy(shippedTaxonomy, "shipped")
	if err != nil {
		// The embedded file is checked by TestShippedTaxonomy: a broken one is a
		// build mistake, not an input error.
		panic("config: the shipped categories.yaml is invalid: " + err.Error())
	}
	return t
})

// maxTaxonomyBytes bounds a taxonomy file: the shipped one is about 25 KB.
const maxTaxonomyBytes = 4 << 20

// LoadTaxonomy reads a taxonomy file: a regular file of at most 4 MiB.
func LoadTaxonomy(path string) (*Taxonomy, error) {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, fmt.Errorf("read taxonomy: %w", err)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("read taxonomy: %s is not a regular file", path)
	case st.Size() > maxTaxonomyBytes:
		return nil, fmt.Errorf("read taxonomy: %s is larger than %d bytes", path, maxTaxonomyBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read taxonomy: %w", err)
	}
	t, err := ParseTaxonomy(data, path)
	if err != nil {
		return nil, fmt.Errorf("taxonomy %s: %w", path, err)
	}
	return t, nil
}

// ParseTaxonomy decodes a taxonomy strictly and checks it: group ids and names unique
// and clean, every leaf in one group only, no leaf named like another group, labels
// free of control, bidi and invisible characters, keywords only on sensitive groups.
// Every problem is reported at once.
func ParseTaxonomy(data []byte, source string) (*Taxonomy, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("parse yaml: empty document")
	}
	var f taxonomyFile
	if errs := checkNode(doc.Content[0], typeOf(&f), ""); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := doc.Content[0].Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	t := &Taxonomy{Groups: f.Groups, Source: source, byName: make(map[string]Category), except: make(map[string][]int)}
	var v validator
	if len(t.Groups) == 0 {
		v.add("groups", "[]", "must list at least one group")
	}
	ids := make(map[string]int)
	names := make(map[string]int) // normalized group names
	for i := range t.Groups {
		g := &t.Groups[i]
		path := fmt.Sprintf("groups[%d]", i)
		// Ids are compared as categories are (suppress_categories names groups by id,
		// ignoring punctuation): two that differ only by - and _ would be one.
		switch j, dup := ids[NormalizeCategory(g.ID)]; {
		case !groupID.MatchString(g.ID):
			v.add(path+".id", fmt.Sprintf("%q", g.ID), "must be 1 to 32 of a-z 0-9 _ -, starting with a letter")
		case dup:
			v.add(path+".id", fmt.Sprintf("%q", g.ID), "is already the id of groups[%d] (%q), ignoring - and _", j, t.Groups[j].ID)
		default:
			ids[NormalizeCategory(g.ID)] = i
		}
		n := NormalizeCategory(g.Name)
		if err := checkLabel(g.Name); err != nil {
			v.add(path+".name", fmt.Sprintf("%q", g.Name), "%v", err)
		} else if j, dup := names[n]; dup {
			v.add(path+".name", fmt.Sprintf("%q", g.Name), "is already the name of groups[%d]", j)
		} else {
			names[n] = i
		}
		if len(g.Keywords) > 0 && !g.Sensitive {
			v.add(path+".keywords", strings.Join(g.Keywords, ", "), "apply to sensitive groups only (an unknown category is released without category)")
		}
		for j, kw := range g.Keywords {
			inside := strings.HasSuffix(kw, "*")
			words := strings.Fields(NormalizeCategory(strings.TrimSuffix(kw, "*")))
			switch {
			case len(words) == 0:
				v.add(fmt.Sprintf("%s.keywords[%d]", path, j), fmt.Sprintf("%q", kw), "has no letter or digit")
				continue
			case inside && (len(words) > 1 || len(words[0]) < minInside):
				v.add(fmt.Sprintf("%s.keywords[%d]", path, j), fmt.Sprintf("%q", kw),
					"ends with *, to stand inside a word: it must be one word of at least %d letters", minInside)
				continue
			}
			g.keywords = append(g.keywords, keyword{words: words, inside: inside})
		}
	}
	t.kwFirst, t.kwTypo, t.kwTypoInside = make(map[string][]groupKeyword), make(map[string][]int), make(map[rune][]typoStem)
	for i := range t.Groups {
		for _, kw := range t.Groups[i].keywords {
			switch w := []rune(kw.words[0]); {
			case len(kw.words) > 1 || len(w) < minTypo:
			case kw.inside:
				t.kwTypoInside[w[0]] = append(t.kwTypoInside[w[0]], typoStem{i, w})
				t.maxStem = max(t.maxStem, len(w))
			case !slices.Contains(t.kwTypo[kw.words[0]], i):
				t.kwTypo[kw.words[0]] = append(t.kwTypo[kw.words[0]], i)
			}
			if kw.inside {
				t.kwInside = append(t.kwInside, groupKeyword{i, kw})
			} else {
				t.kwFirst[kw.words[0]] = append(t.kwFirst[kw.words[0]], groupKeyword{i, kw})
			}
		}
	}
	for i := range t.Groups {
		g := &t.Groups[i]
		for j, name := range g.Categories {
			path := fmt.Sprintf("groups[%d].categories[%d]", i, j)
			n := NormalizeCategory(name)
			if err := checkLabel(name); err != nil {
				v.add(path, fmt.Sprintf("%q", name), "%v", err)
				continue
			}
			if other, ok := names[n]; ok && other != i {
				v.add(path, fmt.Sprintf("%q", name), "is the name of groups[%d]: a partner could not tell the leaf from that group", other)
				continue
			}
			if prev, dup := t.byName[n]; dup {
				v.add(path, fmt.Sprintf("%q", name), "is already listed in group %q", t.Groups[prev.Group].ID)
				continue
			}
			c := Category{Group: i, Leaf: name}
			if own, ok := names[n]; ok && own == i {
				c.Leaf = "" // the group's own name: the group level
			}
			t.byName[n] = c
		}
		// A record that names the group itself is at group level.
		if _, ok := t.byName[NormalizeCategory(g.Name)]; !ok && g.Name != "" {
			t.byName[NormalizeCategory(g.Name)] = Category{Group: i}
		}
	}
	for i := range t.Groups {
		g := &t.Groups[i]
		for j, name := range g.Except {
			path := fmt.Sprintf("groups[%d].except[%d]", i, j)
			n := NormalizeCategory(name)
			c, listed := t.byName[n]
			switch {
			case !g.Sensitive:
				v.add(path, fmt.Sprintf("%q", name), "applies to sensitive groups only")
			case !listed:
				v.add(path, fmt.Sprintf("%q", name), "is not a listed category: only a listed name can be excepted")
			case c.Group == i:
				v.add(path, fmt.Sprintf("%q", name), "is listed in this group")
			case !slices.Contains(t.keywordGroups(n), i):
				v.add(path, fmt.Sprintf("%q", name), "holds none of the group's keywords: remove it")
			case slices.Contains(t.except[n], i):
				v.add(path, fmt.Sprintf("%q", name), "is listed twice")
			default:
				t.except[n] = append(t.except[n], i)
			}
		}
	}
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	// A listed name is also of every other sensitive group whose keywords it holds, in
	// whichever group it is listed: "Religious School" (religion) is children too,
	// "Sexual Health Clinic" (sexual) health, and a "Hospital Cafeteria" listed under
	// food would be health. A partner needs all of them opted in to receive it; the
	// listing decides only the label and the group it shows.
	for n, c := range t.byName {
		c.Also = t.also(c.Group, t.keywordGroups(n), t.except[n])
		t.byName[n] = c
		words := strings.Fields(n)
		for _, w := range words {
			t.longest = max(t.longest, utf8.RuneCountInString(w))
		}
		t.maxWords = max(t.maxWords, len(words))
	}
	for w := range t.kwTypo {
		t.longest = max(t.longest, utf8.RuneCountInString(w))
	}
	t.squashed = make(map[string][]string)
	for _, g := range t.Groups {
		for _, name := range append([]string{g.Name}, g.Categories...) {
			n := NormalizeCategory(name)
			k := strings.ReplaceAll(n, " ", "")
			if _, ok := t.byName[n]; ok && !slices.Contains(t.squashed[k], n) {
				t.squashed[k] = append(t.squashed[k], n)
			}
		}
	}
	return t, nil
}

// keywordGroups lists, in file order, the sensitive groups whose keywords the normalized
// name n holds.
func (t *Taxonomy) keywordGroups(n string) []int {
	words := strings.Fields(n)
	var out []int
	add := func(g int) {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	for i, x := range words {
		// A keyword starting here has x, or the word x is a plural of, first.
		for _, first := range append([]string{x}, singulars(x)...) {
			for _, gk := range t.kwFirst[first] {
				if i+len(gk.kw.words) <= len(words) && containsWords(words[i:i+len(gk.kw.words)], gk.kw) {
					add(gk.group)
				}
			}
		}
	}
	for _, gk := range t.kwInside {
		if !slices.Contains(out, gk.group) && containsWords(words, gk.kw) {
			add(gk.group)
		}
	}
	slices.Sort(out)
	return out
}

// minTypo is the shortest keyword that Lookup also finds misspelled: shorter ones are
// one letter away from too many innocent words.
const minTypo = 6

// maxTypoWord is the longest word in which Lookup looks for a mistyped keyword that may
// stand inside a word.
const maxTypoWord = 40

// typoGroups lists the sensitive groups a name that is not listed (its spellings) has
// once one typo of one word is undone (see eachUntypo): the groups of a sensitive listed
// name it then is ("Synagouge", "Funeral Hoem"), and, in file order, those of a keyword
// of at least minTypo letters that the word (or its singular) then is, or, for a keyword
// that may stand inside a word, then holds over the first letter the typo moved ("Hosptial",
// "Chruch", "Clinnic", "Pharmcay Store", "Oncolgoy"), unless the word holds a keyword as
// spelled: "adventist" is not read as "avdentist" mistyped (which holds "dentist"), so
// "Avdentist" is read as spelled too (health), not also as "adventist".
func (t *Taxonomy) typoGroups(spellings []string) []int {
	var out, kwOut []int
	add := func(list *[]int, g int) {
		if !slices.Contains(*list, g) {
			*list = append(*list, g)
		}
	}
	for _, sp := range spellings {
		words := strings.Fields(sp)
		for wi, w := range words {
			var before, after string // the name around the word, when it may be listed
			if len(words) <= t.maxWords {
				before, after = strings.Join(words[:wi], " ")+" ", " "+strings.Join(words[wi+1:], " ")
			}
			asSpelled := len(t.keywordGroups(w)) > 0
			for _, x := range append([]string{w}, singulars(w)...) {
				// Only a word of about the length of a listed word can be one mistyped; a
				// keyword inside a word is looked for in words of up to maxTypoWord letters
				// (compounds such as "Kinderkrankenhaus"; longer ones cost more than they find).
				n := utf8.RuneCountInString(x)
				short := n <= t.longest+1
				if !short && n > maxTypoWord {
					continue
				}
				eachUntypo(x, func(f []rune, lo int) {
					if !asSpelled {
						t.insideTypo(f, lo, func(g int) { add(&kwOut, g) })
					}
					if !short {
						return
					}
					fs := string(f)
					for _, k := range append([]string{fs}, singulars(fs)...) { // "swingesr"
						for _, g := range t.kwTypo[k] {
							add(&kwOut, g)
						}
					}
					if len(words) > t.maxWords {
						return
					}
					if c, ok := t.byName[strings.TrimSpace(before+fs+after)]; ok {
						for _, g := range append([]int{c.Group}, c.Also...) {
							if t.Groups[g].Sensitive {
								add(&out, g)
							}
						}
					}
				})
			}
		}
	}
	slices.Sort(kwOut)
	return append(out, slices.DeleteFunc(kwOut, func(g int) bool { return slices.Contains(out, g) })...)
}

// insideTypo calls found with the group of every keyword that may stand inside a word
// and that f holds over the first letter a typo moved (lo): "pharmacy" for "pharmayc"
// holds "pharmac" over the c, but "avdenture" for "adventure" does not hold "dentur"
// over the v.
func (t *Taxonomy) insideTypo(f []rune, lo int, found func(group int)) {
	for j := max(0, lo-t.maxStem+1); j <= lo; j++ {
		for _, ts := range t.kwTypoInside[f[j]] {
			if n := len(ts.stem); j+n <= len(f) && j+n > lo && slices.Equal(f[j:j+n], ts.stem) {
				found(ts.group)
			}
		}
	}
}

// eachUntypo calls fn with what word w may be once one typo of the two kinds that rarely
// make another word is undone, and the first letter of it the typo moved (lo): two
// neighbouring letters after the first swapped ("hosptial", "chruch") or a letter typed
// twice ("clinnic", "hospitall"). Dropped, added or changed letters are not undone: they
// turn keywords into common words too often ("metal" and "mental", "player" and
// "prayer", "ballet" and "ballot"). fn must not keep f.
func eachUntypo(w string, fn func(f []rune, lo int)) {
	rs := []rune(w)
	buf := make([]rune, len(rs))
	for i := 1; i+1 < len(rs); i++ {
		if rs[i] != rs[i+1] {
			copy(buf, rs)
			buf[i], buf[i+1] = buf[i+1], buf[i]
			fn(buf, i)
		}
	}
	for i := 2; i < len(rs); i++ {
		if rs[i] == rs[i-1] && (i == 2 || rs[i] != rs[i-2]) {
			n := copy(buf, rs[:i])
			n += copy(buf[n:], rs[i+1:])
			fn(buf[:n], i-1)
		}
	}
}

// also returns the groups of gs that are sensitive, not group and not in except, nil if
// none.
func (t *Taxonomy) also(group int, gs, except []int) []int {
	var out []int
	for _, g := range gs {
		if g != group && t.Groups[g].Sensitive && !slices.Contains(except, g) && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// Lookup tells what the taxonomy knows of an input category name: its leaf and group
// when listed; else the first sensitive group whose keyword it holds; else unknown. Also
// holds the other sensitive groups whose keywords the name holds, listed or not. The
// result is shared: do not modify Also.
//
// A name that is not listed is read in its other spellings too, so that a spelling the
// list lacks keeps the groups of the name it spells:
//   - its words run together or split ("GayBar", "Night Club", "Hos pital"): a listed
//     name that is the same once spaces are removed;
//   - one word in the singular ("Religious Schools", "Laboratories"): -s, -es, -ies;
//   - a word that mixes letters and digits with the digits read as the letters they
//     look like (0 o, 1 i or l, 3 e, 4 a, 5 s, 7 t: "H0spital", "Cl1nic", "Schoo1"), and
//     split where letters and digits meet ("Gay24"), for keywords and listed names;
//   - one typo undone, for sensitive groups only (see typoGroups: "Hosptial",
//     "Synagouge").
//
// A listed name found so is what Lookup returns, with the sensitive groups of every
// spelling's keywords added to Also (but those the listed name is excepted from).
func (t *Taxonomy) Lookup(name string) Category {
	n := NormalizeCategory(name)
	if n == "" {
		return Category{Group: -1}
	}
	if c, ok := t.byName[n]; ok {
		return c
	}
	spellings := spellings(n)
	var gs []int
	for _, sp := range spellings {
		gs = append(gs, t.keywordGroups(sp)...)
	}
	if listed, ok := t.listedSpelling(spellings); ok {
		c := t.byName[listed[0]]
		extra := slices.Clone(c.Also)
		for _, g := range gs {
			if !slices.Contains(t.except[listed[0]], g) {
				extra = append(extra, g)
			}
		}
		for _, other := range listed[1:] {
			// Listed names that run together the same: all of their groups.
			o := t.byName[other]
			if o.Group >= 0 {
				extra = append(extra, o.Group)
			}
			extra = append(extra, o.Also...)
		}
		c.Also = t.also(c.Group, extra, nil)
		return c
	}
	gs = append(gs, t.typoGroups(spellings)...)
	if len(gs) == 0 {
		return Category{Group: -1}
	}
	// "Children's Hospital": health and children. A partner needs both opted in to
	// receive it.
	return Category{Group: gs[0], ByKeyword: true, Also: t.also(gs[0], gs[1:], nil)}
}

// listedSpelling finds a listed name among the spellings and their forms with one word
// in the singular, compared with spaces removed: the normalized listed names that match
// (several when listed names run together the same), first the one Lookup shows.
func (t *Taxonomy) listedSpelling(spellings []string) ([]string, bool) {
	try := func(s string) ([]string, bool) {
		l := t.squashed[strings.ReplaceAll(s, " ", "")]
		if _, ok := t.byName[s]; ok && l[0] != s {
			// Shown as spelled; the others add their groups.
			l = append([]string{s}, slices.DeleteFunc(slices.Clone(l), func(x string) bool { return x == s })...)
		}
		return l, len(l) > 0
	}
	for _, sp := range spellings {
		if l, ok := try(sp); ok {
			return l, true
		}
	}
	for _, sp := range spellings {
		words := strings.Fields(sp)
		for i, w := range words {
			for _, one := range singulars(w) {
				words[i] = one
				l, ok := try(strings.Join(words, " "))
				words[i] = w
				if ok {
					return l, true
				}
			}
		}
	}
	return nil, false
}

// singulars lists the words w may be the plural of: -s, -es, -ies (y).
func singulars(w string) []string {
	var out []string
	if len(w) >= 3 && strings.HasSuffix(w, "ies") {
		out = append(out, w[:len(w)-3]+"y")
	}
	if len(w) > 2 && strings.HasSuffix(w, "es") {
		out = append(out, w[:len(w)-2])
	}
	if len(w) > 1 && strings.HasSuffix(w, "s") {
		out = append(out, w[:len(w)-1])
	}
	return out
}

// digitLetters maps digits drawn like letters to them; 1 is i or l, tried both ways.
var digitLetters = map[rune]rune{'0': 'o', '3': 'e', '4': 'a', '5': 's', '7': 't'}

// spellings returns n and, when a word of n mixes letters and digits, n with their
// digits read as letters (1 as i, then as l) and n split where letters and digits meet.
func spellings(n string) []string {
	out := []string{n}
	mixed := false
	for _, w := range strings.Fields(n) {
		if strings.ContainsFunc(w, unicode.IsDigit) && strings.ContainsFunc(w, unicode.IsLetter) {
			mixed = true
			break
		}
	}
	if !mixed {
		return out
	}
	read := func(one rune) string {
		words := strings.Fields(n)
		for i, w := range words {
			if !strings.ContainsFunc(w, unicode.IsDigit) || !strings.ContainsFunc(w, unicode.IsLetter) {
				continue
			}
			words[i] = strings.Map(func(r rune) rune {
				if r == '1' {
					return one
				}
				if l, ok := digitLetters[r]; ok {
					return l
				}
				return r
			}, w)
		}
		return strings.Join(words, " ")
	}
	var split strings.Builder
	prev := rune(-1)
	for _, r := range n {
		if prev >= 0 && r != ' ' && prev != ' ' && unicode.IsDigit(r) != unicode.IsDigit(prev) {
			split.WriteByte(' ')
		}
		split.WriteRune(r)
		prev = r
	}
	for _, sp := range []string{read('i'), read('l'), split.String()} {
		if !slices.Contains(out, sp) {
			out = append(out, sp)
		}
	}
	return out
}

// SuppressEntry tells what one suppress_categories entry names, read as Lookup reads a
// category: a group (by id or name, in any spelling Lookup reads: its index), or a listed
// category (its listed spelling, which every spelling of it is shown as), or neither
// ("", -1): then only a category spelled so (ignoring case and punctuation) matches it.
// A name that is only of a group by a keyword or a typo names neither.
func (t *Taxonomy) SuppressEntry(s string) (leaf string, group int) {
	n := NormalizeCategory(s)
	for i := range t.Groups {
		if NormalizeCategory(t.Groups[i].ID) == n {
			return "", i
		}
	}
	switch c := t.Lookup(s); {
	case !c.Known() || c.ByKeyword:
		return "", -1
	case c.Leaf == "":
		return "", c.Group // the group's own name
	default:
		return c.Leaf, -1
	}
}

// Group returns the group with id, or nil.
func (t *Taxonomy) Group(id string) *Group {
	for i := range t.Groups {
		if t.Groups[i].ID == id {
			return &t.Groups[i]
		}
	}
	return nil
}

// Leaves is the number of leaf names listed.
func (t *Taxonomy) Leaves() int {
	n := 0
	for _, c := range t.byName {
		if c.Leaf != "" {
			n++
		}
	}
	return n
}

// containsWords reports whether kw occurs in words as consecutive words: whole words,
// which may add a plural ("clinics", "churches", "cemeteries"); a keyword marked * (one
// word of at least minInside letters) may also stand inside a word ("polyclinic",
// "MedicalCenter", "gynecologist" for "gynecolog*"), so that compound names are caught.
func containsWords(words []string, k keyword) bool {
	kw := k.words
	if k.inside {
		for _, x := range words {
			if strings.Contains(x, kw[0]) {
				return true
			}
		}
		return false
	}
	for i := 0; i+len(kw) <= len(words); i++ {
		ok := true
		for j, w := range kw {
			if x := words[i+j]; x != w && !plural(x, w) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// minInside is the shortest keyword that may be marked to stand inside a word: shorter
// ones would match too many innocent words.
const minInside = 5

// plural reports whether x is a plural of w: +s, +es, or y → ies.
func plural(x, w string) bool {
	return x == w+"s" || x == w+"es" || strings.HasSuffix(w, "y") && x == w[:len(w)-1]+"ies"
}

// NormalizeCategory is the form names are matched in: compatibility forms folded
// (fullwidth, ligatures, mathematical and circled letters), accents removed, lower case,
// Cyrillic, Greek and other letters that look like Latin ones read as those, every run
// of characters that are not letters or digits one space, trimmed. "Café", "CAFE",
// "Ｃａｆｅ" and " cafe " match, and so do "Hospital", "Hоspital" (a Cyrillic o) and
// "ΗOSPITAL" (a Greek capital eta); "Doctor's Office" is "doctor s office".
//
// Digits stay digits: read as letters, "100 Yen Shop" would be "loo yen shop" and
// "Terminal 1" "terminal l", labels that a listed name and its input spelling must
// share. Lookup reads a word that mixes letters and digits ("H0spital", "Cl1nic") with
// its digits as letters too, only to find the name's sensitive groups.
func NormalizeCategory(s string) string {
	var b strings.Builder
	space := false
	if strings.ContainsAny(s, beforeNFKD) {
		s = strings.Map(func(r rune) rune {
			if l, ok := lookalike[r]; ok && strings.ContainsRune(beforeNFKD, r) {
				return l
			}
			return r
		}, s)
	}
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue // a combining accent
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(fold(r))
		default:
			space = true
		}
	}
	return b.String()
}

// fold is a letter's matching form: its Latin look-alike, else its lower case, else the
// look-alike of that. A capital is looked up first because some are drawn like another
// Latin letter than their small letter is: Greek Η is an H, η an n; Ν an N, ν a v; Υ a
// Y, υ a u.
func fold(r rune) rune {
	if l, ok := lookalike[r]; ok {
		return l
	}
	r = unicode.ToLower(r)
	if l, ok := lookalike[r]; ok {
		return l
	}
	if l, ok := lookalike[unicode.ToUpper(r)]; ok { // Cherokee small letters: their capital
		return l
	}
	return r
}

// beforeNFKD holds the look-alikes that NFKD would turn into letters that do not look
// Latin: the lunate sigmas ϲ and Ϲ (drawn c and C) are compatibility forms of ς and Σ.
const beforeNFKD = "ϲϹ"

// lookalike maps Cyrillic, Greek and a few other letters that are drawn like a Latin
// letter to that letter in lower case, so that a name spelled with them matches (a name
// in Cyrillic or Greek matches nothing either way: give such data a taxonomy of its
// own). Letters with accents decompose first (Ё is Е and a diaeresis); capitals whose
// small letter looks the same need no entry of their own, but are listed all the same.
var lookalike = map[rune]rune{
	// Cyrillic small letters.
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c',
	'т': 't', 'у': 'y', 'х': 'x', 'і': 'i', 'ї': 'i', 'ј': 'j', 'ѕ': 's', 'һ': 'h', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w',
	'ү': 'y', 'ӏ': 'l', 'ѵ': 'v', 'ԍ': 'g',
	// Cyrillic capitals.
	'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c', 'Т': 't',
	'У': 'y', 'Х': 'x', 'І': 'i', 'Ј': 'j', 'Ѕ': 's', 'Һ': 'h', 'Ԁ': 'd', 'Ԛ': 'q', 'Ԝ': 'w', 'Ү': 'y',
	'Ӏ': 'l', 'Ѵ': 'v', 'Ԍ': 'g',
	// Greek small letters.
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
	'υ': 'u', 'χ': 'x', 'ϲ': 'c', 'ϳ': 'j',
	// Greek capitals.
	'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'Ο': 'o',
	'Ρ': 'p', 'Τ': 't', 'Υ': 'y', 'Χ': 'x', 'Ϲ': 'c', 'Ϳ': 'j',
	// Latin letters without a dot or of IPA, and Armenian o.
	'ı': 'i', 'ȷ': 'j', 'ɑ': 'a', 'ɡ': 'g', 'ɩ': 'i', 'ʟ': 'l', 'օ': 'o',
	// Latin small capitals, and the click letter drawn like an l.
	'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ꜰ': 'f', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i', 'ᴊ': 'j',
	'ᴋ': 'k', 'ᴍ': 'm', 'ɴ': 'n', 'ᴏ': 'o', 'ᴘ': 'p', 'ꞯ': 'q', 'ʀ': 'r', 'ꜱ': 's', 'ᴛ': 't', 'ᴜ': 'u',
	'ᴠ': 'v', 'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z', 'ǀ': 'l',
	// Cherokee letters drawn like Latin capitals (their small letters fold to these).
	'Ꭺ': 'a', 'Ᏼ': 'b', 'Ꮯ': 'c', 'Ꭰ': 'd', 'Ꭼ': 'e', 'Ꮐ': 'g', 'Ꮋ': 'h', 'Ꭻ': 'j', 'Ꮶ': 'k',
	'Ꮮ': 'l', 'Ꮇ': 'm', 'Ꮻ': 'o', 'Ꮲ': 'p', 'Ꭱ': 'r', 'Ꮪ': 's', 'Ꭲ': 't', 'Ꮩ': 'v', 'Ꮃ': 'w',
	'Ꮤ': 'w', 'Ꮓ': 'z',
}

// checkLabel refuses a label a partner should not receive: empty, too long, invalid
// UTF-8, or holding control, format (bidi overrides, zero-width), private-use or
// unassigned characters, or spaces other than the plain one.
func checkLabel(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("must not be empty")
	case len(s) > maxLabelBytes:
		return fmt.Errorf("is longer than %d bytes", maxLabelBytes)
	case !utf8.ValidString(s):
		return errors.New("is not valid UTF-8")
	}
	if r, ok := HiddenRune(s); ok {
		return fmt.Errorf("holds the invisible or control character %U", r)
	}
	return nil
}

// HiddenRune returns the first character of s that a released text must not hold:
// anything but letters, marks, digits, punctuation, symbols and the plain space (so no
// controls, bidi controls, zero-width characters, BOM, private use, surrogates,
// unassigned code points or other spaces), and the letters and marks that draw nothing
// (Hangul fillers, variation selectors, the combining grapheme joiner, Braille blank).
func HiddenRune(s string) (rune, bool) {
	for _, r := range s {
		switch {
		case r == ' ':
		case r == utf8.RuneError || invisible(r):
			return r, true
		case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
			return r, true
		}
	}
	return 0, false
}

// invisible lists the code points of allowed classes that render as nothing.
func invisible(r rune) bool {
	switch {
	case r == 0x034F, r == 0x115F, r == 0x1160, r == 0x17B4, r == 0x17B5, r == 0x2800,
		r == 0x3164, r == 0xFFA0, r >= 0x180B && r <= 0x180F,
		r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF:
		return true
	}
	return false
}
