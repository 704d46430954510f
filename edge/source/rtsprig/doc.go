// Package rtsprig is a test rig, not product code: a small RTSP server
// (gortsplib) on 127.0.0.1 that accepts one publisher per path and serves
// it to readers, plus a helper that runs ffmpeg to publish a synthetic
// H.264 camera into it. ffmpeg cannot listen as an RTSP server itself
// (README design §6). Tests, benchmarks (scripts/bench-peer.sh via
// scripts/rtspserver) and the RTSP bad-input cases use it. It can require
// digest/basic credentials to test wrong passwords, and can be stopped and
// restarted on the same port to test camera flaps.
package rtsprig
