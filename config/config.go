// Package config loads geocloak's YAML configuration: defaults first, then a strict
// decode (unknown keys, duplicate keys and wrong types are errors that name their key
// path), then Validate, which checks every cross-field rule and reports all problems at
// once.
//
// It also holds the category taxonomy (categories.yaml, embedded) and reads the secrets
// (the pseudonym key, the SASL password) from files or the environment, never from the
// configuration itself. It imports neither Kafka nor H3 nor any other geocloak package:
// the rules that involve resolutions are stated on plain integers (TestLayout).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration of a geocloak job.
type Config struct {
	Kafka     Kafka     `yaml:"kafka"`
	Input     Input     `yaml:"input"`
	Pseudonym Pseudonym `yaml:"pseudonym"`
	Window    Window    `yaml:"window"`
	// PartitionResolution is the H3 resolution of the internal topic's key. Every group a
	// partner can release nests inside one cell at this resolution, so one worker holds
	// every event a group can contain.
	PartitionResolution int `yaml:"partition_resolution"`
	// CellResolution is the H3 resolution of every check-in's cell, computed once by
	// ingest; every released cell is its ancestor. It is one project-wide value, never
	// derived from the partners, so that one partner's policy cannot change another's
	// records.
	CellResolution int `yaml:"cell_resolution"`
	// TaxonomyFile names the category taxonomy; "" uses the shipped one.
	TaxonomyFile string    `yaml:"taxonomy"`
	Partners     []Partner `yaml:"partners"`
	Ops          Ops       `yaml:"ops"`

	taxonomy *Taxonomy // loaded by Validate
}

// Ops configures the operations listener.
type Ops struct {
	// Listen is the HOST:PORT of /metrics, /healthz and /readyz; "" turns it off. The
	// default binds loopback only: metrics are for the operator.
	Listen string `yaml:"listen"`
}

// Kafka names the topics and group of the streaming job.
type Kafka struct {
	Brokers         []string `yaml:"brokers"`
	InputTopic      string   `yaml:"input_topic"`
	InternalTopic   string   `yaml:"internal_topic"`
	DeadLetterTopic string   `yaml:"dead_letter_topic"`
	GroupID         string   `yaml:"group_id"`
	// Partitions are used when geocloak creates a missing topic.
	Partitions Partitions `yaml:"partitions"`
	// ReplicationFactor of created topics; -1 leaves it to the broker.
	ReplicationFactor int `yaml:"replication_factor"`
	// MaxBufferedEvents caps the events one cloak instance holds in open windows; at the
	// cap it stops reading new events until windows close (never releases early).
	MaxBufferedEvents int `yaml:"max_buffered_events"`
	// DeadLetterPayloads: false drops the raw payload of dead letters (headers only).
	DeadLetterPayloads bool `yaml:"dead_letter_payloads"`
	TLS                TLS  `yaml:"tls"`
	SASL               SASL `yaml:"sasl"`
}

// Partitions of the topics geocloak creates.
type Partitions struct {
	Input    int `yaml:"input"`
	Internal int `yaml:"internal"`
	Partner  int `yaml:"partner"`
}

// TLS to the brokers.
type TLS struct {
	Enabled bool `yaml:"enabled"`
	// CAFile verifies the brokers (PEM); empty uses the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate (PEM), for mutual TLS.
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASL authentication to the brokers. The password is never in this file: it is read
// from an environment variable or a file.
type SASL struct {
	// Mechanism is "" (none), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism    string `yaml:"mechanism"`
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
}

// Secret is a value that prints as <secret> in logs, errors and config dumps.
type Secret string

func (Secret) String() string { return "<secret>" }

// MarshalText keeps the value out of JSON and YAML encodings.
func (Secret) MarshalText() ([]byte, error) { return []byte("<secret>"), nil }

// GoString keeps the value out of %#v.
func (Secret) GoString() string { return "<secret>" }

// Password reads the SASL password from its file or environment variable.
func (s SASL) Password() (Secret, error) {
	switch {
	case s.PasswordFile != "":
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("kafka.sasl.password_file: %w", err)
		}
		return Secret(strings.TrimRight(string(b), "\r\n")), nil
	case s.PasswordEnv != "":
		v, ok := os.LookupEnv(s.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("kafka.sasl.password_env: $%s is not set", s.PasswordEnv)
		}
		return Secret(v), nil
	}
	return "", errors.New("kafka.sasl: no password_env or password_file")
}

// DevPseudonymKey is the public development pseudonym key, used only when no key is
// configured, and always with a loud warning: anyone can recompute pseudonyms made with
// it.
const DevPseudonymKey = "geocloak-development-key-do-not-use-in-production"

// MinKeyBytes is the shortest secret pseudonym key accepted.
const MinKeyBytes = 16

// ErrDevKey is wrapped by ReadKey when it falls back to DevPseudonymKey.
var ErrDevKey = errors.New("pseudonym key unset: using the public development key")

// ReadKey reads the secret pseudonym key from the file key_file names, or else from the
// environment variable key_env names; never from the config itself. When neither is set
// it returns DevPseudonymKey and an error wrapping ErrDevKey; the caller decides whether
// to refuse or to warn.
func (p Pseudonym) ReadKey() (Secret, error) {
	var v, from string
	switch {
	case p.KeyFile != "":
		b, err := os.ReadFile(p.KeyFile)
		if err != nil {
			return "", fmt.Errorf("pseudonym.key_file: %w", err)
		}
		v, from = strings.TrimRight(string(b), "\r\n"), p.KeyFile
	default:
		var ok bool
		if v, ok = os.LookupEnv(p.KeyEnv); !ok || v == "" {
			return DevPseudonymKey, fmt.Errorf("$%s: %w", p.KeyEnv, ErrDevKey)
		}
		from = "$" + p.KeyEnv
	}
	if len(v) < MinKeyBytes {
		return "", fmt.Errorf("pseudonym key in %s: %d bytes, want at least %d (make one with: head -c 32 /dev/urandom | base64)", from, len(v), MinKeyBytes)
	}
	return Secret(v), nil
}

// Input describes the raw check-in records.
type Input struct {
	Fields Fields `yaml:"fields"`
	// TimeFormat is auto (RFC 3339 strings, or Unix seconds or milliseconds by magnitude),
	// rfc3339, unix_s or unix_ms.
	TimeFormat string `yaml:"time_format"`
	// NotBefore: check-ins timed before it are invalid (a zero or garbage timestamp must
	// not open a window in 1970).
	NotBefore time.Time `yaml:"not_before"`
	// MaxFuture: check-ins timed later than now plus MaxFuture are invalid, so one bad
	// clock cannot push the watermark ahead and make every honest event late.
	MaxFuture Duration `yaml:"max_future"`
	// MaxRecordBytes bounds one raw record; larger ones are invalid.
	MaxRecordBytes int `yaml:"max_record_bytes"`
}

// Fields maps the roles geocloak reads to the JSON keys of the raw records. EventID and
// Category may be empty: the input has no such field.
type Fields struct {
	EventID  string `yaml:"event_id"`
	UserID   string `yaml:"user_id"`
	Lat      string `yaml:"lat"`
	Lng      string `yaml:"lng"`
	Time     string `yaml:"time"`
	Category string `yaml:"category"`
}

// Pseudonym configures the keyed pseudonym of users.
type Pseudonym struct {
	// KeyEnv names the environment variable that holds the secret HMAC key.
	KeyEnv string `yaml:"key_env"`
	// KeyFile, when set, names a file holding the key instead (a mounted secret).
	KeyFile string `yaml:"key_file"`
}

// Window configures event-time tumbling windows.
type Window struct {
	Size            Duration `yaml:"size"`
	AllowedLateness Duration `yaml:"allowed_lateness"`
	IdleAdvance     Duration `yaml:"idle_advance"`
	// WatermarkUsers is how many distinct users must have reached an event time before
	// a raw partition's watermark moves to it, so that fewer users (one bad clock, one
	// forged record) cannot make everyone else's check-ins late.
	WatermarkUsers int `yaml:"watermark_users"`
}

// Mode is what a partner receives.
type Mode string

// Modes.
const (
	// ModeEvents releases one record per released check-in.
	ModeEvents Mode = "events"
	// ModeCounts releases one record per released class, with its user and check-in counts.
	ModeCounts Mode = "counts"
)

// Fields a mode can release. Order is the order of keys in a record.
var modeFields = map[Mode][]string{
	ModeEvents: {"cell", "res", "window_start", "window_end", "category"},
	ModeCounts: {"cell", "res", "window_start", "window_end", "users", "checkins"},
}

// AllowedFields returns the fields mode m may release, in record order.
func AllowedFields(m Mode) []string { return append([]string(nil), modeFields[m]...) }

// DefaultFields are the fields of a partner that lists none: all of the mode's.
func DefaultFields(m Mode) []string { return AllowedFields(m) }

// Partner is one ad partner's release policy.
type Partner struct {
	Name  string `yaml:"name"`
	Topic string `yaml:"topic"`
	Mode  Mode   `yaml:"mode"`
	// K is the minimum number of distinct users in every released class.
	K             int `yaml:"k"`
	MaxResolution int `yaml:"max_resolution"`
	MinResolution int `yaml:"min_resolution"`
	// Fields lists the record fields released; nothing else ever leaves.
	Fields []string `yaml:"fields"`
	// LDiversity: a class that shows categories shows at least this many distinct ones
	// (as released); otherwise it shows none.
	LDiversity int `yaml:"l_diversity"`
	// SuppressCategories are never released, on top of the taxonomy's sensitive groups:
	// category names (matched as the taxonomy matches them) or group ids.
	SuppressCategories []string `yaml:"suppress_categories"`
	// ReleaseSensitiveGroups opts sensitive groups of the taxonomy in, by id. Default
	// none: every sensitive group is suppressed.
	ReleaseSensitiveGroups []string `yaml:"release_sensitive_groups"`
	// MaxCheckinsPerUserPerWindow caps one user's check-ins in a window (0: no cap).
	MaxCheckinsPerUserPerWindow int `yaml:"max_checkins_per_user_per_window"`
	// PIDRotation is refused when present: the partner pseudonym was removed (it let a
	// partner link a person's records). Kept only to say so clearly.
	PIDRotation *Duration `yaml:"pid_rotation" geocloak:"removed"`
	// Generalization is maximal (release every check-in whose min_resolution cell has k
	// users, as fine as possible) or greedy (the finest-to-coarsest walk; a single partner
	// only).
	Generalization string `yaml:"generalization"`
	// DP adds differential-privacy noise to a counts-mode partner's counts (nil: off).
	DP *DP `yaml:"dp"`
}

// DP parameters of a counts-mode partner, per window (see README: how ε composes).
type DP struct {
	// Epsilon is the privacy loss per user, window and partition cell, split evenly
	// between the users and checkins counts.
	Epsilon float64 `yaml:"epsilon"`
	// Delta is the probability that thresholding lets a class through that pure ε-DP
	// would not: it sets the noisy-count threshold a class must pass to be released.
	Delta float64 `yaml:"delta"`
}

// Generalizations.
const (
	Maximal = "maximal"
	Greedy  = "greedy"
)

// Has reports whether the policy releases field f.
func (p *Partner) Has(f string) bool {
	for _, x := range p.Fields {
		if x == f {
			return true
		}
	}
	return false
}

// Default returns the configuration used where a file is silent.
func Default() Config {
	return Config{
		Kafka: Kafka{
			InputTopic:         "checkins.raw",
			InternalTopic:      "geocloak.cells",
			DeadLetterTopic:    "checkins.dlq",
			GroupID:            "geocloak",
			Partitions:         Partitions{Input: 8, Internal: 8, Partner: 4},
			ReplicationFactor:  -1,
			MaxBufferedEvents:  5_000_000,
			DeadLetterPayloads: true,
		},
		Ops: Ops{Listen: "127.0.0.1:9464"},
		Input: Input{
			Fields: Fields{
				EventID:  "event_id",
				UserID:   "user_id",
				Lat:      "lat",
				Lng:      "lng",
				Time:     "ts",
				Category: "venue_category",
			},
			TimeFormat:     "auto",
			NotBefore:      time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
			MaxFuture:      Duration(time.Hour),
			MaxRecordBytes: 64 << 10,
		},
		Pseudonym: Pseudonym{KeyEnv: "GEOCLOAK_PSEUDONYM_KEY"},
		Window: Window{
			Size:            Duration(time.Hour),
			AllowedLateness: Duration(5 * time.Minute),
			IdleAdvance:     Duration(30 * time.Second),
			WatermarkUsers:  3,
		},
		PartitionResolution: 4,
		CellResolution:      15,
	}
}

// DefaultPartner returns the policy values a partner entry starts from.
func DefaultPartner() Partner {
	return Partner{
		Mode:                        ModeEvents,
		K:                           10,
		MaxResolution:               9,
		MinResolution:               5,
		MaxCheckinsPerUserPerWindow: 1,
		Generalization:              Maximal,
	}
}

// UnmarshalYAML starts a partner from DefaultPartner, so absent keys keep their defaults.
func (p *Partner) UnmarshalYAML(n *yaml.Node) error {
	type plain Partner
	v := plain(DefaultPartner())
	if err := n.Decode(&v); err != nil {
		return err
	}
	*p = Partner(v)
	return nil
}

// Parse decodes a configuration from YAML, strictly, over the defaults, and fills the
// defaults that depend on other keys. It does not Validate.
func Parse(data []byte) (*Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	errEmpty := errors.New("parse yaml: the file is empty (see config/example.yaml for every key)")
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, errEmpty
	} else if err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, errors.New("parse yaml: more than one document; a config is one document")
	}
	cfg := Default()
	if len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
		return nil, errEmpty // nothing, or "---" or "~" alone
	}
	root := doc.Content[0]
	if errs := checkNode(root, typeOf(&cfg), ""); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := root.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	for i := range cfg.Partners {
		p := &cfg.Partners[i]
		if p.Fields == nil {
			p.Fields = DefaultFields(p.Mode)
		}
	}
	return &cfg, nil
}

// Load reads, parses and validates the configuration file at path.
func Load(path string) (*Config, error) { return load(path, (*Config).Validate) }

// LoadAlternatives is Load for a file whose partners are alternative policies to compare
// on one input, not partners of one stream: the rules on the set of partners are not
// applied (see ValidateAlternatives).
func LoadAlternatives(path string) (*Config, error) {
	return load(path, (*Config).ValidateAlternatives)
}

func load(path string, validate func(*Config) error) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err == nil {
		err = validate(cfg)
	}
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	return cfg, nil
}

// Error is a configuration file's problems, one per line.
type Error struct {
	Path string
	Err  error // possibly several, joined
}

func (e *Error) Error() string {
	var lines []string
	if j, ok := e.Err.(interface{ Unwrap() []error }); ok {
		for _, x := range j.Unwrap() {
			lines = append(lines, x.Error())
		}
	} else {
		lines = []string{e.Err.Error()}
	}
	if len(lines) == 1 {
		return fmt.Sprintf("config %s: %s", e.Path, lines[0])
	}
	return fmt.Sprintf("config %s: %d problems:\n  %s", e.Path, len(lines), strings.Join(lines, "\n  "))
}

func (e *Error) Unwrap() error { return e.Err }

// Taxonomy is the category taxonomy of the configuration: the file `taxonomy` names,
// loaded by Validate, or the shipped one. It panics when a taxonomy file is named but
// Validate has not loaded it (a programming error: every config is validated first).
func (c *Config) Taxonomy() *Taxonomy {
	if c.taxonomy != nil {
		return c.taxonomy
	}
	if c.TaxonomyFile != "" {
		panic("config: Taxonomy called before Validate loaded " + c.TaxonomyFile)
	}
	return ShippedTaxonomy()
}

// SetTaxonomy makes t the configuration's taxonomy (tests and tools that build a
// configuration in code).
func (c *Config) SetTaxonomy(t *Taxonomy) { c.taxonomy = t }

// Duration is a time.Duration written in YAML as a string with a unit ("90s", "1h").
// A bare number is an error: "5" could mean seconds or nanoseconds.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String is the shortest form: "1h", "5m", "1h30m", "90ms".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func parseDuration(n *yaml.Node) (Duration, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return 0, fmt.Errorf("%q is not a duration with a unit, such as 90s, 5m or 1h", n.Value)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration with a unit, such as 90s, 5m or 1h", n.Value)
	}
	return Duration(v), nil
}
