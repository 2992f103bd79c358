package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
)

// startBroker starts the embedded Kafka-protocol broker (kfake) on addr, one node,
// topics created on first use, with the janitor of watchGroups. It keeps every message in
// memory unless given kfake.DataDir: for local runs, demos and tests, not production.
func startBroker(addr string, partitions int, log zerolog.Logger, opts ...kfake.Opt) (*embeddedBroker, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: %w", addr, err)
	}
	listen := func(network, _ string) (net.Listener, error) {
		return net.Listen(network, net.JoinHostPort(host, port))
	}
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.Ports(0), kfake.ListenFn(listen),
		kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &embeddedBroker{Cluster: c, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		watchGroups(ctx, c, log)
	}()
	return b, nil
}

// createPersistently makes the broker create a topic a client asks for (automatic topic
// creation, as kcat's producer does) the way CreateTopics does: kfake writes topics
// created that way to its data directory at once, while topics created implicitly by a
// metadata request are written only at an orderly shutdown, so that a killed broker
// would come back without them, and without their messages.
func createPersistently(b *embeddedBroker) {
	b.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		r := req.(*kmsg.MetadataRequest)
		if !r.AllowAutoTopicCreation {
			return nil, nil, false
		}
		for _, t := range r.Topics {
			// The cluster runs administrative calls while a control function runs.
			if t.Topic != nil && b.TopicInfo(*t.Topic) == nil {
				b.CreateTopic(*t.Topic, -1, nil) // an error leaves the request to the cluster's own rules
			}
		}
		return nil, nil, false
	})
}

// job is the wiring of the streaming stages: broker connection, topics, metrics, the
// operations listener.
type job struct {
	cfg     *config.Config
	log     zerolog.Logger
	conn    *pipeline.Conn
	broker  *embeddedBroker // nil with an external cluster
	reg     *prometheus.Registry
	metrics *pipeline.Metrics
	health  *pipeline.Health
	created []string // topics this job created at start: recreated if they disappear
	// topicCheck is how often the job checks that its topics exist.
	topicCheck time.Duration
	ready      atomic.Bool
	ops        *http.Server
	opsAddr    string
	opsDone    chan struct{}
}

// newJob connects to the configured brokers, or starts the embedded broker on
// embeddedAddr when none are configured, and creates missing topics.
func newJob(ctx context.Context, cfg *config.Config, log zerolog.Logger, embeddedAddr string) (*job, error) {
	j := &job{cfg: cfg, log: log, reg: prometheus.NewRegistry(), health: pipeline.NewHealth(nil),
		topicCheck: topicCheckInterval}
	j.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		readBuildInfo().collector())
	j.metrics = pipeline.NewMetrics(j.reg)
	brokers := cfg.Kafka.Brokers
	if len(brokers) == 0 {
		b, err := startBroker(embeddedAddr, cfg.Kafka.Partitions.Input, log)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("no kafka.brokers configured, and the embedded broker cannot listen on %s, which is in use "+
					"(by `geocloak broker`? then set kafka.brokers: [%s] in the config to use it): %w", embeddedAddr, embeddedAddr, err)
			}
			return nil, err
		}
		j.broker = b
		brokers = b.ListenAddrs()
		log.Warn().Strs("brokers", brokers).Msg("no kafka.brokers configured: started the embedded in-memory broker (local use only)")
	}
	conn, err := pipeline.Dial(ctx, cfg.Kafka, brokers)
	if err != nil {
		j.close()
		return nil, err
	}
	j.conn = conn
	if j.created, err = conn.CreateMissingTopics(ctx, cfg); err != nil {
		j.close()
		return nil, err
	}
	return j, nil
}

func (j *job) close() {
	if j.ops != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		j.ops.Shutdown(ctx)
		cancel()
		<-j.opsDone
	}
	if j.conn != nil {
		j.conn.Close()
	}
	if j.broker != nil {
		j.broker.Close()
	}
}

// serveOps starts /metrics, /healthz and /readyz on addr ("" : not at all).
func (j *job) serveOps(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ops listener (ops.listen): %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(j.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !j.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		// Writes that keep failing and missing topics: the job runs but nothing moves.
		if problems := j.health.Problems(); len(problems) > 0 {
			http.Error(w, "not ready: "+strings.Join(problems, "; "), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	j.ops = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	j.opsAddr = ln.Addr().String()
	j.opsDone = make(chan struct{})
	go func() {
		defer close(j.opsDone)
		if err := j.ops.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			j.log.Error().Err(err).Msg("ops listener stopped")
		}
	}()
	j.log.Info().Str("addr", ln.Addr().String()).Msg("serving /metrics, /healthz, /readyz")
	return nil
}

// topicCheckInterval is how often the job checks that its topics exist.
const topicCheckInterval = 5 * time.Second

// stage is what runStages needs of pipeline.Ingest and pipeline.Cloak.
type stage interface {
	Run(ctx context.Context) error
	Stop()
}

// runStages runs the stages until ctx ends, then stops them gracefully (finish the
// round, commit, leave the group). A stage that has not stopped after drain is
// abandoned as in a crash: nothing it had not committed is lost, only repeated.
func (j *job) runStages(ctx context.Context, opt pipeline.StageOptions, which string, drain time.Duration) error {
	opt.Config, opt.Conn, opt.Log, opt.Metrics, opt.Health = j.cfg, j.conn, j.log, j.metrics, j.health
	var stages []stage
	if which == "all" || which == "ingest" {
		s, err := pipeline.NewIngest(ctx, opt)
		if err != nil {
			return err
		}
		stages = append(stages, s)
	}
	if which == "all" || which == "cloak" {
		s, err := pipeline.NewCloak(ctx, opt)
		if err != nil {
			return err
		}
		stages = append(stages, s)
	}
	hard, kill := context.WithCancel(context.Background())
	defer kill()
	watchCtx, stopWatch := context.WithCancel(hard)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		j.conn.WatchTopics(watchCtx, j.cfg, j.created, j.health, j.log, j.topicCheck)
	}()
	defer func() { stopWatch(); <-watched }()
	errs := make(chan error, len(stages))
	var wg sync.WaitGroup
	for _, s := range stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Run(hard)
		}()
	}
	j.ready.Store(true)
	j.log.Info().Str("stage", which).Msg("running")
	select {
	case <-ctx.Done():
	case err := <-errs:
		errs <- err
	}
	j.ready.Store(false)
	j.log.Info().Msg("stopping: finishing the current round and committing")
	for _, s := range stages {
		s.Stop()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drain):
		j.log.Warn().Str("after", drain.String()).Msg("stages did not stop in time; abandoning them")
		kill()
		<-done
	}
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}
