// Package pipeline runs one camera: source → mask → encode → fan-out hub,
// under a supervisor that restarts it with capped exponential backoff and
// reports its state to health.
//
// The hub is the only way coded video leaves a pipeline. Every reader has
// its own bounded queue; a slow reader (a live viewer) loses access units
// and counts them, and then waits for the next keyframe so it never sees a
// broken picture. Publishing never blocks, so no reader can stall
// recording. What enters the hub has been masked (the encoder accepts only
// mask.Masked pictures).
package pipeline
