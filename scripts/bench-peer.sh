#!/usr/bin/env bash
# Side-by-side with ffmpeg (issue 4): the same RTSP stream from the same
# local server, each recorder for the same wall time; CPU seconds
# (user+sys) per second of video and peak RSS, medians of RUNS runs, as
# ratios. Numbers to read, not a pass/fail test.
#
#   scripts/bench-peer.sh [SECONDS] [RUNS]      (default 20 s, 3 runs)
#
# 1. passthrough: edgerec (RTSP receive + seal + ring + index) vs
#    ffmpeg -c copy -f segment (mkv)
# 2. masked: edgerec (decode + 2 fill masks = 25% + encode + seal + ring)
#    vs ffmpeg -threads 1 decode + drawbox×2 + libx264 ultrafast -threads 1
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
runs=${2:-3}
port=18554
tick=$(getconf CLK_TCK)
work=$(mktemp -d /tmp/edgerec-peer.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

make -s build >/dev/null
go build -o "$work/rtspserver" ./scripts/rtspserver

# measure PID SECONDS → prints "cpu_seconds peak_rss_kib"
measure() {
  local pid=$1 s=$2
  sleep "$s"
  local stat rss
  stat=$(cut -d' ' -f14,15 "/proc/$pid/stat")
  rss=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$stat" | awk -v t="$tick" -v r="$rss" '{printf "%.3f %d\n", ($1+$2)/t, r}'
}

median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

config() { # dir mode url
  local masks=""
  if [ "$2" = masked ]; then
    masks='
    masks:
      - {name: top, style: fill, polygon: [[0,0],[0.5,0],[0.5,0.25],[0,0.25]]}
      - {name: bottom, style: fill, polygon: [[0.5,0.75],[1,0.75],[1,1],[0.5,1]]}'
  fi
  cat > "$1.yaml" <<YAML
device: {id: bench}
storage: {data_dir: "$1", ring_size: 1GiB}
cameras:
  - id: cam
    source: "$3"
    zone: entrance
    signage: {attested_by: bench, date: 2026-11-27}
    bitrate_kbps: 1500$masks
lan: {listen: "127.0.0.1:18443"}
YAML
}

printf '%-10s %-12s %12s %12s %10s %12s %12s %10s\n' size mode "edgerec cpu/s" "ffmpeg cpu/s" "cpu ratio" "edgerec RSS" "ffmpeg RSS" "RSS ratio"
for size in 1280x720 1920x1080; do
  "$work/rtspserver" -addr 127.0.0.1:$port -size "$size" -fps 15 > "$work/server.log" 2>&1 &
  srv=$!
  for _ in $(seq 50); do grep -q serving "$work/server.log" && break; sleep 0.2; done
  url="rtsp://127.0.0.1:$port/cam"
  for mode in passthrough masked; do
    : > "$work/e.txt"; : > "$work/f.txt"
    for r in $(seq "$runs"); do
      d="$work/dev-$mode-$r"
      config "$d" "$mode" "$url?transport=tcp"
      ./bin/edgerec provision --data "$d" --device-id bench --config "$d.yaml" >/dev/null 2>&1
      ./bin/edgerec run --config "$d/edgerec.yaml" > "$work/run.log" 2>&1 &
      measure $! "$secs" >> "$work/e.txt"
      rm -rf "$d"
      mkdir -p "$work/ff"
      if [ "$mode" = passthrough ]; then
        ffmpeg -hide_banner -loglevel error -nostdin -rtsp_transport tcp -i "$url" -c copy -f segment -segment_time 10 "$work/ff/out%03d.mkv" &
      else
        ffmpeg -hide_banner -loglevel error -nostdin -threads 1 -rtsp_transport tcp -i "$url" \
          -vf "drawbox=x=0:y=0:w=iw*0.5:h=ih*0.25:color=black:t=fill,drawbox=x=iw*0.5:y=ih*0.75:w=iw*0.5:h=ih*0.25:color=black:t=fill" \
          -c:v libx264 -preset ultrafast -tune zerolatency -profile:v baseline -bf 0 -g 30 -b:v 1500k -threads 1 \
          -f segment -segment_time 10 "$work/ff/out%03d.mkv" &
      fi
      measure $! "$secs" >> "$work/f.txt"
      rm -rf "$work/ff"
    done
    ec=$(cut -d' ' -f1 "$work/e.txt" | median); er=$(cut -d' ' -f2 "$work/e.txt" | median)
    fc=$(cut -d' ' -f1 "$work/f.txt" | median); fr=$(cut -d' ' -f2 "$work/f.txt" | median)
    awk -v s="$size" -v m="$mode" -v ec="$ec" -v fc="$fc" -v er="$er" -v fr="$fr" -v t="$secs" \
      'BEGIN{printf "%-10s %-12s %12.3f %12.3f %9.2fx %10.0fMiB %10.0fMiB %9.2fx\n", s, m, ec/t, fc/t, (fc>0? ec/fc : 0), er/1024, fr/1024, (fr>0? er/fr : 0)}'
  done
  kill "$srv"; wait "$srv" 2>/dev/null || true
done
echo "(cpu/s = CPU seconds per second of video; medians of $runs runs of ${secs}s; ratio = edgerec/ffmpeg, lower is better)"
