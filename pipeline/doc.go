// Package pipeline is the streaming job around the release engine (package cloak): the
// Kafka stages Ingest (raw check-ins → validated, minimized events in compact batches on
// the internal topic, with each raw partition's watermark) and Cloak (one state per
// internal partition: event-time windows, released through cloak.Releaser to the partner
// topics, offsets committed only once the records are acknowledged), the connection to
// the cluster (TLS, SASL, topics), consumer groups, the internal batch format, dead
// letters, health for /readyz and the Prometheus metrics.
//
// It defines the small interfaces it consumes (messageWriter) and keeps Kafka, clocks and
// the network out of the engine: everything that decides what a partner receives is in
// package cloak. It imports cloak, config and geo, kafka-go, zerolog and the Prometheus
// client; never report or the command (TestLayout in package cloak).
package pipeline
