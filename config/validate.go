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
	var v validator
	c.validateKafka(&v)
	c.validateInput(&v)
	if c.Pseudonym.KeyEnv == "" {
		v.add("pseudonym.key_env", `""`, "must name an environment variable")
	}
	c.validateWindow(&v)
	if c.PartitionResolution < 0 || c.PartitionResolution > MaxResolution {
		v.add("partition_resolution", c.PartitionResolution, "must be in [0, 15]")
	}
	c.validatePartners(&v)
	return errors.Join(v.errs...)
}

// Warnings are settings that are valid but weaken privacy; config check prints them.
func (c *Config) Warnings() []string {
	var out []string
	for i, p := range c.Partners {
		if p.Has("pid") {
			out = append(out, fmt.Sprintf("partners[%d].fields: pid lets %s link a person's records for %s (pid_rotation): "+
				"traces become linkable and, with a few known points, often unique; check the report's unicity figures",
				i, p.Name, p.PIDRotation))
		}
		if p.MaxCheckinsPerUserPerWindow == 0 {
			out = append(out, fmt.Sprintf("partners[%d].max_checkins_per_user_per_window: 0 lets one user fill many records of a class", i))
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
	if len(p.Fields) == 0 {
		v.add(path+".fields", "[]", "must list at least one field")
	}
	seen := make(map[string]bool)
	for j, f := range p.Fields {
		fp := fmt.Sprintf("%s.fields[%d]", path, j)
		switch {
		case seen[f]:
			v.add(fp, fmt.Sprintf("%q", f), "is listed twice")
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
	if c.Input.Fields.Category == "" && (len(p.SuppressCategories) > 0 || p.Has("category")) {
		// Suppressing categories that are never read would silently release them.
		v.add(path, "category", "is used (fields or suppress_categories) but input.fields.category is empty")
	}
	if p.Has("pid") {
		w := c.Window.Size
		switch {
		case p.PIDRotation < w || p.PIDRotation.D() > 366*24*time.Hour:
			v.add(path+".pid_rotation", p.PIDRotation, "must be in [window.size = %s, 8784h]", w)
		case w > 0 && p.PIDRotation%w != 0:
			v.add(path+".pid_rotation", p.PIDRotation, "must be a multiple of window.size = %s (one pid per window)", w)
		}
	}
	if d := p.DP; d != nil {
		switch {
		case p.Mode != ModeCounts:
			v.add(path+".dp", "{...}", "applies to counts mode only (events mode releases one record per check-in)")
		case p.MaxCheckinsPerUserPerWindow < 1:
			v.add(path+".max_checkins_per_user_per_window", p.MaxCheckinsPerUserPerWindow,
				"must be >= 1 with dp: a user's contribution per window must be bounded")
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
