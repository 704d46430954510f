// Command rtspserver is a development and benchmark helper: a loopback RTSP
// server (edge/source/rtsprig) with ffmpeg publishing a synthetic H.264
// camera into it. scripts/bench-peer.sh uses it. Not part of the gateway.
//
//	go run ./scripts/rtspserver -addr 127.0.0.1:8554 -size 1280x720 -fps 15
package main
