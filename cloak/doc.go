// Package cloak is geocloak's release engine: everything that decides what a partner
// receives. It decodes raw check-ins (Decoder), minimizes them to events (Minimizer: the
// cell at cell_resolution, a keyed pseudonym, the time, the category; nothing else),
// buffers them in event-time windows (Windows, closed by a Watermark that no single
// user can move) and, when a window closes, decides per partner policy, per partition
// cell, what is released and why the rest is suppressed (Releaser: sensitive categories,
// the per-user cap, the maximal or greedy generalization, the category shown, dp noise),
// then encodes the partner records a batch at a time (PartnerRelease.Records). Evaluate
// drives it from a file; the Kafka stages of package pipeline drive it from topics, with
// the same Releaser, so that the stream equals evaluate.
//
// Where a check-in is decided: release.go (Releaser.Release, releasePartner),
// generalize.go (the generalizations), category.go (the category shown), record.go (the
// records and their keys).
//
// It is pure and deterministic: it imports only the standard library, config, geo and
// google/differential-privacy (for dp noise, its only source of randomness); no Kafka
// client, no metrics, no logging, no network and no files (TestLayout fails otherwise).
// Its callers bring the input as an io.Reader and the wall clock as a time.
package cloak
