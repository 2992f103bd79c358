package pipeline

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/geocloak/geocloak/config"
)

// Conn is the connection to a Kafka cluster shared by the stages: broker addresses,
// TLS and SASL, one client for fetches, commits and admin calls. Safe for concurrent use.
type Conn struct {
	Brokers   []string
	dialer    *kafka.Dialer
	transport *kafka.Transport
	client    *kafka.Client
}

// Dial connects to brokers with the TLS and SASL settings of k and checks that the
// cluster answers, so that a wrong address fails at once with a clear error.
func Dial(ctx context.Context, k config.Kafka, brokers []string) (*Conn, error) {
	if len(brokers) == 0 {
		return nil, errors.New("kafka: no broker addresses")
	}
	tlsCfg, err := tlsConfig(k.TLS)
	if err != nil {
		return nil, err
	}
	mech, err := saslMechanism(k.SASL)
	if err != nil {
		return nil, err
	}
	nd := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	c := &Conn{
		Brokers: brokers,
		dialer:  &kafka.Dialer{ClientID: "geocloak", Timeout: 10 * time.Second, DualStack: true, TLS: tlsCfg, SASLMechanism: mech},
		transport: &kafka.Transport{
			Dial: nd.DialContext, DialTimeout: 10 * time.Second, ClientID: "geocloak",
			TLS: tlsCfg, SASL: mech, IdleTimeout: 5 * time.Minute, MetadataTTL: 10 * time.Second,
		},
	}
	c.client = &kafka.Client{Addr: kafka.TCP(brokers...), Transport: c.transport, Timeout: 30 * time.Second}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := c.client.Metadata(pctx, &kafka.MetadataRequest{}); err != nil {
		c.Close()
		return nil, fmt.Errorf("kafka brokers %s do not answer: %w", strings.Join(brokers, ","), err)
	}
	return c, nil
}

// Close releases idle connections.
func (c *Conn) Close() { c.transport.CloseIdleConnections() }

func tlsConfig(t config.TLS) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file %s: no PEM certificate in it", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func saslMechanism(s config.SASL) (sasl.Mechanism, error) {
	if s.Mechanism == "" {
		return nil, nil
	}
	pw, err := s.Password()
	if err != nil {
		return nil, err
	}
	switch s.Mechanism {
	case "PLAIN":
		return plain.Mechanism{Username: s.Username, Password: string(pw)}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, s.Username, string(pw))
	case "SCRAM-SHA-512":
		return scram.Mechanism(scram.SHA512, s.Username, string(pw))
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism %q is not supported", s.Mechanism)
}

// EnsureTopics creates the topics of cfg that do not exist yet, with the configured
// partition counts. Existing topics are left as they are.
func (c *Conn) EnsureTopics(ctx context.Context, cfg *config.Config) error {
	_, err := c.CreateMissingTopics(ctx, cfg)
	return err
}

// CreateMissingTopics is EnsureTopics, and returns the topics it created.
func (c *Conn) CreateMissingTopics(ctx context.Context, cfg *config.Config) ([]string, error) {
	want := topicPartitions(cfg)
	missing, err := c.missingTopics(ctx, want)
	if err != nil || len(missing) == 0 {
		return nil, err
	}
	if err := c.createTopics(ctx, cfg, missing, want); err != nil {
		return nil, err
	}
	return missing, nil
}

// WatchTopics checks every interval that the job's topics exist, until ctx ends. A
// missing topic makes the job unready; one in recreate (the topics the job created at
// start: a broker restarted without its data has lost them) is created again, and the
// log says so. A cluster that does not answer for FailAfter makes the job unready too, as
// does an internal topic whose partition count changed since the first check.
func (c *Conn) WatchTopics(ctx context.Context, cfg *config.Config, recreate []string, h *Health, log zerolog.Logger, interval time.Duration) {
	want := topicPartitions(cfg)
	internal := cfg.Kafka.InternalTopic
	seen := 0 // the internal topic's partition count when first seen
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The client answers metadata from its cache while the cluster is unreachable:
		// a request that goes to a broker tells whether one answers.
		if _, err := c.client.ApiVersions(ctx, &kafka.ApiVersionsRequest{}); err != nil {
			if ctx.Err() == nil {
				h.setUnreachable(err)
			}
			continue
		}
		missing, counts, err := c.topicPartitionCounts(ctx, want)
		h.setUnreachable(err)
		if err != nil {
			continue
		}
		for topic := range want {
			h.setMissing(topic, slices.Contains(missing, topic))
		}
		// Ingest routes each cell to an internal partition by the count it started with:
		// a topic whose count changed under a running job (recreated by another tool, or
		// partitions added) splits partition cells between cloak workers until restart.
		if n := counts[internal]; n > 0 {
			switch {
			case seen == 0:
				seen = n
				if n != want[internal] {
					log.Warn().Str("topic", internal).Int("partitions", n).Int("configured", want[internal]).
						Msg("the internal topic has another partition count than kafka.partitions.internal; the topic's count is used")
				}
			case n != seen:
				log.Error().Str("topic", internal).Int("partitions", n).Int("was", seen).
					Msg("the internal topic's partition count changed under the running job: restart every instance so that ingest and cloak route cells alike")
			}
			h.setRepartitioned(internal, seen, n)
		}
		var again []string
		for _, topic := range missing {
			if slices.Contains(recreate, topic) {
				again = append(again, topic)
			}
		}
		if len(again) == 0 {
			continue
		}
		if err := c.createTopics(ctx, cfg, again, want); err != nil {
			if ctx.Err() == nil {
				log.Error().Err(err).Strs("topics", again).Msg("topics created at start are gone; recreating them failed")
			}
			continue
		}
		for _, topic := range again {
			h.setMissing(topic, false)
		}
		log.Warn().Strs("topics", again).Msg("topics created at start were gone (a broker restarted without its data?); recreated them empty")
	}
}

// topicPartitions is every topic of cfg with the partition count geocloak creates it with.
func topicPartitions(cfg *config.Config) map[string]int {
	want := map[string]int{
		cfg.Kafka.InputTopic:      cfg.Kafka.Partitions.Input,
		cfg.Kafka.InternalTopic:   cfg.Kafka.Partitions.Internal,
		cfg.Kafka.DeadLetterTopic: cfg.Kafka.Partitions.Input,
	}
	for _, p := range cfg.Partners {
		want[p.Topic] = cfg.Kafka.Partitions.Partner
	}
	return want
}

// missingTopics returns, sorted, the topics of want the cluster does not have.
func (c *Conn) missingTopics(ctx context.Context, want map[string]int) ([]string, error) {
	missing, _, err := c.topicPartitionCounts(ctx, want)
	return missing, err
}

// topicPartitionCounts returns, sorted, the topics of want the cluster does not have,
// and the partition count of those it has.
func (c *Conn) topicPartitionCounts(ctx context.Context, want map[string]int) ([]string, map[string]int, error) {
	var topics []string
	for t := range want {
		topics = append(topics, t)
	}
	md, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, nil, fmt.Errorf("read topic metadata: %w", err)
	}
	have := make(map[string]int)
	for _, t := range md.Topics {
		if t.Error == nil && len(t.Partitions) > 0 {
			have[t.Name] = len(t.Partitions)
		}
	}
	var missing []string
	for _, t := range topics {
		if have[t] == 0 {
			missing = append(missing, t)
		}
	}
	slices.Sort(missing)
	return missing, have, nil
}

// createTopics creates topics with the partition counts of want and cfg's replication.
func (c *Conn) createTopics(ctx context.Context, cfg *config.Config, topics []string, want map[string]int) error {
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: want[t], ReplicationFactor: cfg.Kafka.ReplicationFactor})
	}
	res, err := c.client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for t, e := range res.Errors {
		if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", t, e))
		}
	}
	return errors.Join(errs...)
}

// Partitions is the number of partitions of topic.
func (c *Conn) Partitions(ctx context.Context, topic string) (int, error) {
	md, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, fmt.Errorf("metadata of %s: %w", topic, t.Error)
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("metadata of %s: topic not found", topic)
}

// Writer returns a writer to topic that waits for all in-sync replicas (RequireAll).
// Writes are synchronous: WriteMessages returns once every message is acknowledged.
// A nil balancer hashes the key.
func (c *Conn) Writer(topic string, b kafka.Balancer) *kafka.Writer {
	if b == nil {
		b = &kafka.Hash{}
	}
	return &kafka.Writer{
		Addr:         kafka.TCP(c.Brokers...),
		Topic:        topic,
		Balancer:     b,
		Transport:    c.transport,
		RequiredAcks: kafka.RequireAll,
		MaxAttempts:  3,
		BatchSize:    1000, // kafka-go allocates this many messages per batch up front
		BatchBytes:   4 << 20,
		BatchTimeout: 2 * time.Millisecond,
		WriteTimeout: 30 * time.Second,
	}
}

// toPartition routes a message to the partition set in Message.Partition.
var toPartition = kafka.BalancerFunc(func(m kafka.Message, partitions ...int) int {
	for _, p := range partitions {
		if p == m.Partition {
			return p
		}
	}
	return partitions[m.Partition%len(partitions)]
})

// fetchRecords reads one batch of a partition from offset, waiting up to maxWait for data.
func (c *Conn) fetchRecords(ctx context.Context, topic string, partition int, offset int64, maxWait time.Duration, maxBytes int,
	fn func(offset int64, key, value []byte, ts time.Time) error) (next, high int64, err error) {
	res, err := c.client.Fetch(ctx, &kafka.FetchRequest{
		Topic: topic, Partition: partition, Offset: offset,
		MinBytes: 1, MaxBytes: int64(maxBytes), MaxWait: maxWait,
	})
	if err != nil {
		return offset, -1, err
	}
	if res.Error != nil {
		return offset, -1, res.Error
	}
	next = offset
	var kbuf, vbuf []byte
	for {
		rec, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return next, res.HighWatermark, fmt.Errorf("read records: %w", err)
		}
		kbuf, err = readBytes(rec.Key, kbuf)
		if err == nil {
			vbuf, err = readBytes(rec.Value, vbuf)
		}
		if err != nil {
			return next, res.HighWatermark, fmt.Errorf("read record: %w", err)
		}
		if rec.Offset < offset {
			continue // a compressed batch may start before the requested offset
		}
		if err := fn(rec.Offset, kbuf, vbuf, rec.Time); err != nil {
			return next, res.HighWatermark, err
		}
		next = rec.Offset + 1
	}
	return next, res.HighWatermark, nil
}

func readBytes(b interface {
	io.ReadCloser
	Len() int
}, buf []byte) ([]byte, error) {
	if b == nil {
		return buf[:0], nil
	}
	defer b.Close()
	n := b.Len()
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(b, buf)
	return buf, err
}

// committed reads a group's committed offsets and metadata for partitions of topic.
func (c *Conn) committed(ctx context.Context, group, topic string, partitions []int) (map[int]kafka.OffsetFetchPartition, error) {
	res, err := c.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: partitions}})
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets: %w", err)
	}
	if res.Error != nil {
		return nil, fmt.Errorf("fetch committed offsets: %w", res.Error)
	}
	out := make(map[int]kafka.OffsetFetchPartition)
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("fetch committed offset of partition %d: %w", p.Partition, p.Error)
		}
		out[p.Partition] = p
	}
	return out, nil
}

// ReadTopic reads every record of topic, from the start of each partition to its end at
// the time of the call. Key and value are valid only during fn.
func (c *Conn) ReadTopic(ctx context.Context, topic string, fn func(partition int, key, value []byte, ts time.Time) error) error {
	n, err := c.Partitions(ctx, topic)
	if err != nil {
		return err
	}
	for p := range n {
		off := int64(kafka.FirstOffset)
		for {
			next, high, err := c.fetchRecords(ctx, topic, p, off, 50*time.Millisecond, 4<<20,
				func(_ int64, key, value []byte, ts time.Time) error { return fn(p, key, value, ts) })
			if err != nil {
				return fmt.Errorf("read %s/%d: %w", topic, p, err)
			}
			if next == off || next >= high {
				break
			}
			off = next
		}
	}
	return nil
}

// resumeAfterRetention handles a fetch that failed because offset is no longer in the
// partition (deleted by retention before it was read, or the topic was recreated): it
// returns where reading can go on, the partition's first offset, and how many messages
// were lost. Any other error gives ok false.
func (c *Conn) resumeAfterRetention(ctx context.Context, topic string, partition int, offset int64, err error) (next, lost int64, ok bool) {
	if !errors.Is(err, kafka.OffsetOutOfRange) {
		return offset, 0, false
	}
	res, lerr := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: {kafka.FirstOffsetOf(partition)}},
	})
	if lerr != nil {
		return offset, 0, false
	}
	for _, po := range res.Topics[topic] {
		if po.Partition == partition && po.Error == nil {
			if offset >= 0 && offset < po.FirstOffset {
				lost = po.FirstOffset - offset
			}
			return po.FirstOffset, lost, true
		}
	}
	return offset, 0, false
}

// partitioners are the producers' partitioners evaluate can reproduce, by name.
var partitioners = map[string]kafka.Balancer{
	"crc32":   kafka.CRC32Balancer{Consistent: true},
	"murmur2": kafka.Murmur2Balancer{Consistent: true},
	"fnv1a":   &kafka.Hash{},
}

// Partitioners lists the names Partitioner accepts.
func Partitioners() []string { return []string{"crc32", "murmur2", "fnv1a"} }

// Partitioner returns the partition a producer puts a message keyed by a user id in,
// on a topic of n partitions: crc32 (librdkafka, kcat), murmur2 (Java clients) or fnv1a
// (kafka-go's Hash, Sarama). It gives evaluate the raw partitions of a replay
// (cloak.EvalOptions.Partition).
func Partitioner(name string, n int) (func(userID []byte) int, error) {
	b, ok := partitioners[name]
	if !ok {
		return nil, fmt.Errorf("partitioner %q: want one of %s", name, strings.Join(Partitioners(), ", "))
	}
	if n < 1 {
		return nil, fmt.Errorf("partitioner: %d partitions", n)
	}
	ps := make([]int, n)
	for i := range ps {
		ps[i] = i
	}
	return func(user []byte) int { return b.Balance(kafka.Message{Key: user}, ps...) }, nil
}
