package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Limits of the configuration, each with the reason it exists.
const (
	// MinK: k = 1 would release single users' check-ins; k-anonymity needs a crowd.
	MinK = 2
	// MaxK bounds the class counters; no useful policy comes near it.
	MaxK = 1_000_000
	// MaxResolution is H3's finest resolution.
	MaxResolution = 15
	// MinWindow: shorter windows make a released record's time nearly exact (G5).
	MinWindow = time.Minute
	// MaxWindow: the engine holds a whole window of events in memory.
	MaxWindow = 7 * 24 * time.Hour
	// MaxLateness: every open window is held in memory until the lateness has passed.
	MaxLateness = 24 * time.Hour
	// MinRecordBytes and MaxRecordBytes bound input.max_record_bytes.
	MinRecordBytes = 256
	MaxRecordBytes = 16 << 20
	// MaxPartitions bounds created topics; each partition is a worker goroutine.
	MaxPartitions = 10_000
	// MaxWatermarkUsers bounds window.watermark_users: the watermark keeps that many
	// users' latest times, in memory per raw partition and in the ingest group's
	// commit metadata (which brokers limit to a few kilobytes).
	MaxWatermarkUsers = 16
	// MinBufferedEvents: a cap below one busy window's events would stall the job.
	MinBufferedEvents = 10_000
	// MaxEpsilon: beyond it the noise protects nothing worth the name.
	MaxEpsilon = 10.0
	// MaxDelta: thresholding fails open with probability about delta per class.
	MaxDelta = 1e-3
)

// Kafka topic names: legal characters and length of Kafka itself.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// Partner names become file names (evaluate --out) and record keys.
var partnerName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

var timeFormats = []string{"auto", "rfc3339", "unix_s", "unix_ms"}

// Validate checks every rule of the configuration and reports all problems at once, each
// naming its key path, the value and what is allowed.
func (c *Config) Validate() error {
	v := c.validate()
	c.validatePartnerSet(&v)
	return errors.Join(v.errs...)
}

// ValidateAlternatives checks every rule but those on the set of partners: the partners
// are policies compared on one input (evaluate --alternatives), not partners of one
// stream, so a coalition of them is no concern.
func (c *Config) ValidateAlternatives() error {
	v := c.validate()
	return errors.Join(v.errs...)
}

func (c *Config) validate() validator {
	var v validator
	c.validateKafka(&v)
	c.validateInput(&v)
	if c.Pseudonym.KeyEnv == "" {
		v.add("pseudonym.key_env", `""`, "must name an environment variable")
	}
	c.validateWindow(&v)
	if c.CellResolution < 0 || c.CellResolution > MaxResolution {
		v.add("cell_resolution", c.CellResolution, "must be in [0, 15]")
	}
	if c.PartitionResolution < 0 || c.PartitionResolution > MaxResolution {
		v.add("partition_resolution", c.PartitionResolution, "must be in [0, 15]")
	} else if c.PartitionResolution > c.CellResolution {
		v.add("partition_resolution", c.PartitionResolution, "must be <= cell_resolution = %d", c.CellResolution)
	}
	if c.TaxonomyFile != "" {
		// Read once: a copy of a validated config (the report's what-to-change checks
		// hundreds) keeps the file as it was read.
		t, err := c.taxonomy, error(nil)
		if t == nil {
			t, err = LoadTaxonomy(c.TaxonomyFile)
		}
		switch {
		case err != nil:
			v.errs = append(v.errs, fmt.Errorf("taxonomy: %w", err))
		case !slices.ContainsFunc(t.Groups, func(g Group) bool { return g.Sensitive }):
			// Default-deny would be off without a word.
			v.add("taxonomy", fmt.Sprintf("%q", c.TaxonomyFile), "has no sensitive group: check-ins at health, religious, "+
				"funeral, children's or residential places would be released; mark such groups sensitive: true")
		default:
			c.taxonomy = t
		}
	}
	c.validatePartners(&v)
	return v
}

// Warnings are settings that are valid but weaken privacy; config check prints them.
func (c *Config) Warnings() []string {
	var out []string
	if c.TaxonomyFile != "" && c.taxonomy != nil {
		for _, g := range ShippedTaxonomy().Groups {
			if mine := c.taxonomy.Group(g.ID); g.Sensitive && (mine == nil || !mine.Sensitive) {
				out = append(out, fmt.Sprintf("taxonomy: %s has no sensitive group %q (%s), which the shipped taxonomy has: "+
					"check-ins at such places are released unless your groups cover them", c.TaxonomyFile, g.ID, strings.ToLower(g.Name)))
			}
		}
		out = append(out, shippedSensitiveReleased(c.taxonomy, c.TaxonomyFile)...)
	}
	for i, p := range c.Partners {
		for j, s := range p.SuppressCategories {
			if c.TaxonomyFile != "" && c.taxonomy == nil {
				break
			}
			if leaf, g := c.Taxonomy().SuppressEntry(s); leaf == "" && g < 0 {
				out = append(out, fmt.Sprintf("partners[%d].suppress_categories[%d]: %q is no category or group of the taxonomy: "+
					"it suppresses only check-ins whose category is spelled so", i, j, s))
			}
		}
		for _, id := range p.ReleaseSensitiveGroups {
			name := id
			if c.taxonomy != nil || c.TaxonomyFile == "" {
				if g := c.Taxonomy().Group(id); g != nil {
					name = g.Name
				}
			}
			out = append(out, fmt.Sprintf("partners[%d].release_sensitive_groups: %s receives check-ins at %s places (group %s), "+
				"a special category of personal data; make sure the partner may have them", i, p.Name, strings.ToLower(name), id))
		}
		switch n := p.MaxCheckinsPerUserPerWindow; {
		case n == 0:
			out = append(out, fmt.Sprintf("partners[%d].max_checkins_per_user_per_window: 0 lets one user fill many records of a class: "+
				"a record picked from a class may be one person's with a chance well above 1/k", i))
		case n > 1 && p.Mode == ModeEvents:
			out = append(out, fmt.Sprintf("partners[%d].max_checkins_per_user_per_window: %d lets one user hold up to %d records of a class of "+
				"k users: a record picked from it is that person's with a chance up to %d/%d, not 1/k (1 keeps it 1/k)", i, n, n, n, n+p.K-1))
		}
	}
	if c.Kafka.TLS.InsecureSkipVerify {
		out = append(out, "kafka.tls.insecure_skip_verify: the brokers are not verified; anyone on the path could read the stream")
	}
	if c.Kafka.SASL.Mechanism == "PLAIN" && !c.Kafka.TLS.Enabled {
		out = append(out, "kafka.sasl: PLAIN without TLS sends the password in clear")
	}
	return out
}

type validator struct{ errs []error }

func (v *validator) add(path string, value any, rule string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %v %s", path, value, fmt.Sprintf(rule, args...)))
}

func (c *Config) validateKafka(v *validator) {
	for _, t := range []struct{ path, name string }{
		{"kafka.input_topic", c.Kafka.InputTopic},
		{"kafka.internal_topic", c.Kafka.InternalTopic},
		{"kafka.dead_letter_topic", c.Kafka.DeadLetterTopic},
	} {
		checkTopic(v, t.path, t.name)
	}
	if c.Kafka.InputTopic == c.Kafka.InternalTopic || c.Kafka.InputTopic == c.Kafka.DeadLetterTopic ||
		c.Kafka.InternalTopic == c.Kafka.DeadLetterTopic {
		v.add("kafka", fmt.Sprintf("%q, %q, %q", c.Kafka.InputTopic, c.Kafka.InternalTopic, c.Kafka.DeadLetterTopic),
			"must be three different topics (input_topic, internal_topic, dead_letter_topic)")
	}
	if c.Kafka.GroupID == "" {
		v.add("kafka.group_id", `""`, "must not be empty")
	}
	for i, b := range c.Kafka.Brokers {
		checkHostPort(v, fmt.Sprintf("kafka.brokers[%d]", i), b)
	}
	for _, p := range []struct {
		path string
		n    int
	}{
		{"kafka.partitions.input", c.Kafka.Partitions.Input},
		{"kafka.partitions.internal", c.Kafka.Partitions.Internal},
		{"kafka.partitions.partner", c.Kafka.Partitions.Partner},
	} {
		if p.n < 1 || p.n > MaxPartitions {
			v.add(p.path, p.n, "must be in [1, %d]", MaxPartitions)
		}
	}
	if rf := c.Kafka.ReplicationFactor; rf != -1 && (rf < 1 || rf > 32) {
		v.add("kafka.replication_factor", rf, "must be -1 (broker default) or in [1, 32]")
	}
	if n := c.Kafka.MaxBufferedEvents; n < MinBufferedEvents {
		v.add("kafka.max_buffered_events", n, "must be >= %d", MinBufferedEvents)
	}
	t := c.Kafka.TLS
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		v.add("kafka.tls.enabled", false, "must be true when other kafka.tls keys are set")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add("kafka.tls", fmt.Sprintf("cert_file %q, key_file %q", t.CertFile, t.KeyFile), "must give both cert_file and key_file, or neither")
	}
	s := c.Kafka.SASL
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.PasswordEnv != "" || s.PasswordFile != "" {
			v.add("kafka.sasl.mechanism", `""`, "must be set when other kafka.sasl keys are")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if s.Username == "" {
			v.add("kafka.sasl.username", `""`, "must be set for %s", s.Mechanism)
		}
		if (s.PasswordEnv == "") == (s.PasswordFile == "") {
			v.add("kafka.sasl", fmt.Sprintf("password_env %q, password_file %q", s.PasswordEnv, s.PasswordFile),
				"must give exactly one of password_env and password_file (the password is never in the config)")
		}
	default:
		v.add("kafka.sasl.mechanism", fmt.Sprintf("%q", s.Mechanism), "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	}
	if c.Ops.Listen != "" {
		checkHostPort(v, "ops.listen", c.Ops.Listen)
	}
}

func checkHostPort(v *validator, path, addr string) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		v.add(path, fmt.Sprintf("%q", addr), "must be HOST:PORT")
	}
}

func checkTopic(v *validator, path, name string) {
	if !topicName.MatchString(name) || name == "." || name == ".." {
		v.add(path, fmt.Sprintf("%q", name), "is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)")
	}
}

func (c *Config) validateInput(v *validator) {
	f := c.Input.Fields
	roles := []struct {
		path, name string
		required   bool
	}{
		{"input.fields.event_id", f.EventID, false},
		{"input.fields.user_id", f.UserID, true},
		{"input.fields.lat", f.Lat, true},
		{"input.fields.lng", f.Lng, true},
		{"input.fields.time", f.Time, true},
		{"input.fields.category", f.Category, false},
	}
	seen := make(map[string]string)
	for _, r := range roles {
		if r.name == "" {
			if r.required {
				v.add(r.path, `""`, "must name the input field (it is required)")
			}
			continue
		}
		if other, ok := seen[r.name]; ok {
			v.add(r.path, fmt.Sprintf("%q", r.name), "is already the field of %s; each role needs its own field", other)
			continue
		}
		seen[r.name] = r.path
	}
	if !slices.Contains(timeFormats, c.Input.TimeFormat) {
		v.add("input.time_format", fmt.Sprintf("%q", c.Input.TimeFormat), "must be one of %s", strings.Join(timeFormats, ", "))
	}
	if c.Input.MaxFuture < 0 {
		v.add("input.max_future", c.Input.MaxFuture, "must be >= 0s")
	}
	if c.Input.MaxRecordBytes < MinRecordBytes || c.Input.MaxRecordBytes > MaxRecordBytes {
		v.add("input.max_record_bytes", c.Input.MaxRecordBytes, "must be in [%d, %d]", MinRecordBytes, MaxRecordBytes)
	}
}

func (c *Config) validateWindow(v *validator) {
	w := c.Window
	switch {
	case w.Size.D() < MinWindow || w.Size.D() > MaxWindow:
		v.add("window.size", w.Size, "must be in [%s, %s]", Duration(MinWindow), Duration(MaxWindow))
	case w.Size.D()%time.Second != 0:
		v.add("window.size", w.Size, "must be a whole number of seconds")
	}
	switch {
	case w.AllowedLateness < 0 || w.AllowedLateness.D() > MaxLateness:
		v.add("window.allowed_lateness", w.AllowedLateness, "must be in [0s, %s]", Duration(MaxLateness))
	case w.AllowedLateness.D()%time.Millisecond != 0:
		v.add("window.allowed_lateness", w.AllowedLateness, "must be a whole number of milliseconds")
	}
	if w.IdleAdvance.D() < time.Second {
		v.add("window.idle_advance", w.IdleAdvance, "must be >= 1s")
	}
	if w.WatermarkUsers < 1 || w.WatermarkUsers > MaxWatermarkUsers {
		v.add("window.watermark_users", w.WatermarkUsers, "must be in [1, %d]", MaxWatermarkUsers)
	}
}

func (c *Config) validatePartners(v *validator) {
	if len(c.Partners) == 0 {
		v.add("partners", "[]", "must list at least one partner")
	}
	names := make(map[string]int)
	topics := map[string]string{
		c.Kafka.InputTopic:      "kafka.input_topic",
		c.Kafka.InternalTopic:   "kafka.internal_topic",
		c.Kafka.DeadLetterTopic: "kafka.dead_letter_topic",
	}
	for i := range c.Partners {
		p := &c.Partners[i]
		path := fmt.Sprintf("partners[%d]", i)
		if !partnerName.MatchString(p.Name) {
			v.add(path+".name", fmt.Sprintf("%q", p.Name), "must be 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit")
		} else if j, ok := names[p.Name]; ok {
			v.add(path+".name", fmt.Sprintf("%q", p.Name), "is already the name of partners[%d]", j)
		} else {
			names[p.Name] = i
		}
		checkTopic(v, path+".topic", p.Topic)
		if other, ok := topics[p.Topic]; ok && p.Topic != "" {
			v.add(path+".topic", fmt.Sprintf("%q", p.Topic), "is already used by %s; each partner needs its own topic", other)
		} else {
			topics[p.Topic] = path + ".topic"
		}
		c.validatePolicy(v, p, path)
	}
}

func (c *Config) validatePolicy(v *validator, p *Partner, path string) {
	allowed, modeOK := modeFields[p.Mode]
	if !modeOK {
		v.add(path+".mode", fmt.Sprintf("%q", p.Mode), "must be events or counts")
	}
	if p.K < MinK || p.K > MaxK {
		v.add(path+".k", p.K, "must be in [%d, %d]", MinK, MaxK)
	}
	if p.MaxResolution < 0 || p.MaxResolution > MaxResolution {
		v.add(path+".max_resolution", p.MaxResolution, "must be in [0, 15]")
	}
	if p.MinResolution < 0 || p.MinResolution > p.MaxResolution {
		v.add(path+".min_resolution", p.MinResolution, "must be in [0, max_resolution = %d]", p.MaxResolution)
	}
	if p.MinResolution < c.PartitionResolution {
		v.add(path+".min_resolution", p.MinResolution,
			"must be >= partition_resolution = %d (a group must fit in one partition cell)", c.PartitionResolution)
	}
	if p.MaxResolution > c.CellResolution && c.CellResolution >= 0 {
		v.add(path+".max_resolution", p.MaxResolution,
			"must be <= cell_resolution = %d (released cells are ancestors of the check-in's cell at cell_resolution)", c.CellResolution)
	}
	if len(p.Fields) == 0 && (p.Mode == ModeEvents || p.Mode == ModeCounts) {
		// (An unknown mode has no default fields: its own error says enough.)
		v.add(path+".fields", "[]", "must list at least one field")
	}
	seen := make(map[string]bool)
	for j, f := range p.Fields {
		fp := fmt.Sprintf("%s.fields[%d]", path, j)
		switch {
		case seen[f]:
			v.add(fp, fmt.Sprintf("%q", f), "is listed twice")
		case f == "pid":
			v.add(fp, `"pid"`, "is no longer a field: a partner pseudonym links one person's records into a trace, "+
				"which a few known points single out, so that the partner can follow the person; remove it")
		case modeOK && !slices.Contains(allowed, f):
			v.add(fp, fmt.Sprintf("%q", f), "is not a field of %s mode (allowed: %s)", p.Mode, strings.Join(allowed, ", "))
		}
		seen[f] = true
	}
	switch {
	case p.LDiversity != 0 && p.LDiversity < 2:
		v.add(path+".l_diversity", p.LDiversity, "must be 0 (off) or >= 2")
	case p.LDiversity != 0 && p.Mode != ModeEvents:
		v.add(path+".l_diversity", p.LDiversity, "applies to events mode only (counts records carry no category)")
	case p.LDiversity != 0 && !p.Has("category"):
		v.add(path+".l_diversity", p.LDiversity, "has no effect: category is not in fields")
	}
	cats := make(map[string]bool)
	for j, s := range p.SuppressCategories {
		sp := fmt.Sprintf("%s.suppress_categories[%d]", path, j)
		switch {
		case s == "":
			v.add(sp, `""`, "must not be empty")
		case cats[s]:
			v.add(sp, fmt.Sprintf("%q", s), "is listed twice")
		}
		cats[s] = true
	}
	if c.Input.Fields.Category == "" && (len(p.SuppressCategories) > 0 || p.Has("category") || len(p.ReleaseSensitiveGroups) > 0) {
		// Suppressing categories that are never read would silently release them.
		v.add(path, "category", "is used (fields, suppress_categories or release_sensitive_groups) but input.fields.category is empty")
	}
	opted := make(map[string]bool)
	for j, id := range p.ReleaseSensitiveGroups {
		gp := fmt.Sprintf("%s.release_sensitive_groups[%d]", path, j)
		if opted[id] {
			v.add(gp, fmt.Sprintf("%q", id), "is listed twice")
			continue
		}
		opted[id] = true
		if c.taxonomy == nil && c.TaxonomyFile != "" {
			continue // the taxonomy did not load: reported above
		}
		switch g := c.Taxonomy().Group(id); {
		case g == nil:
			v.add(gp, fmt.Sprintf("%q", id), "is not a group id of the taxonomy (sensitive groups: %s)", strings.Join(c.sensitiveIDs(), ", "))
		case !g.Sensitive:
			v.add(gp, fmt.Sprintf("%q", id), "is not a sensitive group: it is released anyway")
		}
	}
	if p.PIDRotation != nil {
		v.add(path+".pid_rotation", *p.PIDRotation, "is no longer a setting: the partner pseudonym (field pid) was removed, "+
			"because it let a partner link one person's records; remove the key")
	}
	if d := p.DP; d != nil {
		switch {
		case p.Mode != ModeCounts:
			v.add(path+".dp", "{...}", "applies to counts mode only (events mode releases one record per check-in)")
		case p.MaxCheckinsPerUserPerWindow < 1:
			v.add(path+".max_checkins_per_user_per_window", p.MaxCheckinsPerUserPerWindow,
				"must be >= 1 with dp: a user's contribution per window must be bounded")
		case !p.Has("cell"):
			v.add(path+".fields", fmt.Sprintf("%q", p.Fields), "must hold cell with dp: after a restart the stream "+
				"reads a dp partner's records back by their cell to re-release the same noisy values")
		}
		if !(d.Epsilon > 0 && d.Epsilon <= MaxEpsilon) {
			v.add(path+".dp.epsilon", d.Epsilon, "must be in (0, %g]", MaxEpsilon)
		}
		if !(d.Delta > 0 && d.Delta <= MaxDelta) {
			v.add(path+".dp.delta", d.Delta, "must be in (0, %g]", MaxDelta)
		}
	}
	if p.Generalization != Maximal && p.Generalization != Greedy {
		v.add(path+".generalization", fmt.Sprintf("%q", p.Generalization), "must be maximal or greedy")
	}
	if p.MaxCheckinsPerUserPerWindow < 0 {
		v.add(path+".max_checkins_per_user_per_window", p.MaxCheckinsPerUserPerWindow, "must be >= 0 (0: no cap)")
	}
}

func (c *Config) sensitiveIDs() []string {
	var ids []string
	for _, g := range c.Taxonomy().Groups {
		if g.Sensitive {
			ids = append(ids, g.ID)
		}
	}
	return ids
}

// validatePartnerSet refuses partner sets whose releases a coalition of partners could
// combine to isolate groups of fewer than k check-ins (G3). Partners release
// independently (one partner's policy never changes another's records), so the rule is
// on the policies: partners of one stream are views of one release. They share its
// class layout, everything that decides which check-ins form which classes: the
// generalization (greedy, which strands remainders, only for a single partner), k (a dp
// partner's classes are built for its noisy threshold plus a margin: that number),
// max_resolution and min_resolution, the per-user cap and the suppressed categories.
// Different layouts give different classes over the same check-ins, and the lower
// bounds one partner's classes set inside a cell, minus the exact totals of another's,
// can pin a region down to one person. They may differ in mode, fields and
// l_diversity, which only present the same classes.
//
// A partner with dp at one resolution (max_resolution = min_resolution) and epsilon at
// most StrictDPEpsilon per window is exempt from sharing k and max_resolution: its
// classes are the min_resolution cells that pass the library's noisy threshold, which
// the dp guarantee covers (pre-threshold k included); it still shares the rest. The
// epsilons of all such partners add up to at most StrictDPEpsilon.
func (c *Config) validatePartnerSet(v *validator) {
	if len(c.Partners) < 2 {
		return
	}
	for i, p := range c.Partners {
		if p.Generalization == Greedy {
			v.add(fmt.Sprintf("partners[%d].generalization", i), `"greedy"`, "is allowed only for a single partner: "+
				"next to another partner, the two releases differ by groups of fewer than k check-ins that colluding "+
				"partners can subtract; use maximal (the default)")
		}
	}
	const why = "partners of one stream must build the same classes, or colluding partners could combine " +
		"their releases to isolate fewer than k check-ins (they may differ in mode, fields and l_diversity)"
	c.mustShare(v, func(p *Partner) bool { return true }, why, sharedByAll)
	// The exempt dp partners' noise covers what their classes add only together: a
	// coalition averages their noisy counts, so their epsilons add up.
	total, first := 0.0, -1
	for i := range c.Partners {
		if p := &c.Partners[i]; p.StrictDP() {
			total += p.DP.Epsilon
			if first < 0 {
				first = i
			} else if total > StrictDPEpsilon {
				v.add(fmt.Sprintf("partners[%d].dp.epsilon", i), p.DP.Epsilon, "brings the dp partners at one resolution "+
					"(partners[%d] and after) to epsilon %g per window in all: at most %g together, since colluding partners "+
					"average their noise (or give them the k and max_resolution of the others)", first, total, StrictDPEpsilon)
			}
		}
	}
	c.mustShare(v, func(p *Partner) bool { return !p.StrictDP() }, why+"; only a dp partner at one resolution "+
		"(max_resolution = min_resolution) with epsilon <= "+fmt.Sprint(StrictDPEpsilon)+" may differ in these", sharedButStrictDP)
}

// The keys that decide a partner's class layout, besides the generalization: those every
// partner of one stream shares, and those a strict dp partner may have of its own.
var (
	sharedByAll = []shared{
		{"min_resolution", func(a, b *Partner) bool { return a.MinResolution == b.MinResolution }, func(p *Partner) any { return p.MinResolution }},
		{"max_checkins_per_user_per_window", func(a, b *Partner) bool { return a.MaxCheckinsPerUserPerWindow == b.MaxCheckinsPerUserPerWindow },
			func(p *Partner) any { return p.MaxCheckinsPerUserPerWindow }},
		{"suppress_categories", func(a, b *Partner) bool { return sameSet(a.SuppressCategories, b.SuppressCategories) },
			func(p *Partner) any { return fmt.Sprintf("%q", p.SuppressCategories) }},
		{"release_sensitive_groups", func(a, b *Partner) bool { return sameIDs(a.ReleaseSensitiveGroups, b.ReleaseSensitiveGroups) },
			func(p *Partner) any { return fmt.Sprintf("%q", p.ReleaseSensitiveGroups) }},
	}
	sharedButStrictDP = []shared{
		{"k", func(a, b *Partner) bool { return a.ClassK() == b.ClassK() }, func(p *Partner) any {
			if p.ClassK() != p.K {
				return fmt.Sprintf("%d (dp over several resolutions: classes built for %d users)", p.K, p.ClassK())
			}
			return p.K
		}},
		{"max_resolution", func(a, b *Partner) bool { return a.MaxResolution == b.MaxResolution }, func(p *Partner) any { return p.MaxResolution }},
	}
)

// SameClasses reports whether two partners build the same classes of the same check-ins:
// they agree on everything validatePartnerSet makes partners of one stream share.
func SameClasses(a, b *Partner) bool {
	if a.Generalization != b.Generalization {
		return false
	}
	for _, k := range slices.Concat(sharedByAll, sharedButStrictDP) {
		if !k.same(a, b) {
			return false
		}
	}
	return true
}

// StrictDPEpsilon is the largest epsilon per window of a dp partner at one resolution
// that may build other classes than its neighbours: beyond it the noise hides too little.
const StrictDPEpsilon = 1.0

// StrictDP reports whether p is a dp partner whose class layout the dp guarantee covers:
// one resolution, epsilon at most StrictDPEpsilon.
func (p *Partner) StrictDP() bool {
	return p.DP != nil && p.MaxResolution == p.MinResolution && p.DP.Epsilon <= StrictDPEpsilon
}

// shared is a partner key that a set of partners must agree on.
type shared struct {
	key  string
	same func(a, b *Partner) bool
	show func(p *Partner) any
}

// mustShare reports every partner that in selects whose keys differ from the first such
// partner's, and why they must not.
func (c *Config) mustShare(v *validator, in func(p *Partner) bool, why string, keys []shared) {
	ref := -1
	for i := range c.Partners {
		p := &c.Partners[i]
		if !in(p) {
			continue
		}
		if ref < 0 {
			ref = i
			continue
		}
		r := &c.Partners[ref]
		for _, k := range keys {
			if !k.same(p, r) {
				v.add(fmt.Sprintf("partners[%d].%s", i, k.key), k.show(p), "differs from partners[%d] (%v): %s", ref, k.show(r), why)
			}
		}
	}
}

// sameIDs compares group id lists exactly, as the engine matches them.
func sameIDs(a, b []string) bool {
	sa, sb := slices.Clone(a), slices.Clone(b)
	slices.Sort(sa)
	slices.Sort(sb)
	return slices.Equal(slices.Compact(sa), slices.Compact(sb))
}

// sameSet compares category lists as the engine matches them.
func sameSet(a, b []string) bool {
	set := func(xs []string) map[string]bool {
		m := make(map[string]bool)
		for _, x := range xs {
			m[NormalizeCategory(x)] = true
		}
		return m
	}
	sa, sb := set(a), set(b)
	if len(sa) != len(sb) {
		return false
	}
	for x := range sa {
		if !sb[x] {
			return false
		}
	}
	return true
}

// shippedSensitiveReleased warns about the names the shipped taxonomy lists in a
// sensitive group that a policy's own taxonomy tax releases: those it lists in a group
// that is not sensitive (and no sensitive group's keyword claims), and those a sensitive
// group of the same id lacks (unknown, so released without category). One warning per
// shipped group and group of tax, naming a few of the names.
func shippedSensitiveReleased(tax *Taxonomy, file string) []string {
	var out []string
	for _, g := range ShippedTaxonomy().Groups {
		if !g.Sensitive {
			continue
		}
		moved := make(map[int][]string) // group of tax → names
		var order []int
		var unknown []string
		for _, name := range g.Categories {
			c := tax.Lookup(name)
			if !c.Known() {
				unknown = append(unknown, name)
				continue
			}
			if tax.Groups[c.Group].Sensitive || slices.ContainsFunc(c.Also, func(a int) bool { return tax.Groups[a].Sensitive }) {
				continue
			}
			if _, ok := moved[c.Group]; !ok {
				order = append(order, c.Group)
			}
			moved[c.Group] = append(moved[c.Group], name)
		}
		for _, i := range order {
			them := "them"
			if len(moved[i]) == 1 {
				them = "it"
			}
			out = append(out, fmt.Sprintf("taxonomy: %s lists %s in group %q, which is not sensitive; the shipped taxonomy "+
				"has %s in sensitive group %q (%s): check-ins there are released", file, someNames(moved[i]), tax.Groups[i].ID,
				them, g.ID, strings.ToLower(g.Name)))
		}
		if mine := tax.Group(g.ID); mine != nil && mine.Sensitive && len(unknown) > 0 {
			out = append(out, fmt.Sprintf("taxonomy: %s: sensitive group %q lacks %s, which the shipped taxonomy has in it: "+
				"check-ins there are released without category", file, g.ID, someNames(unknown)))
		}
	}
	return out
}

// someNames quotes the first names of a list and counts the others.
func someNames(names []string) string {
	const most = 5
	q := make([]string, 0, most)
	for _, n := range names[:min(len(names), most)] {
		q = append(q, fmt.Sprintf("%q", n))
	}
	s := strings.Join(q, ", ")
	if len(names) > most {
		s += fmt.Sprintf(" and %d more", len(names)-most)
	}
	return s
}
