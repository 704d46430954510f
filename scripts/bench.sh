#!/usr/bin/env bash
# Benchmarks: Go benchmarks plus side-by-side runs against ffmpeg doing the
# same work. Prints numbers and ratios; never pass/fail (machines are noisy).
# Usage: scripts/bench.sh [benchtime]   (default 2s)
set -euo pipefail
cd "$(dirname "$0")/.."
bt=${1:-2s}
export CGO_ENABLED=1

echo "== mask (edge/mask): fill and pixelate of 25% of a 1080p I420 frame vs a plain copy"
go test -run '^$' -bench 'Fill1080p25|Copy1080p|Pixelate1080p25' -benchmem -benchtime "$bt" ./edge/mask/ | tee /tmp/edgerec-bench-mask.txt
awk '/BenchmarkFill1080p25/{f=$3} /BenchmarkCopy1080p/{c=$3} END{if(c>0) printf "ratio fill/copy = %.2f\n", f/c}' /tmp/edgerec-bench-mask.txt

echo "== openh264 encode, one thread (edge/codec)"
go test -run '^$' -bench 'Encode' -benchtime "$bt" ./edge/codec/ 2>/dev/null | grep -E '^Benchmark|^ok'

echo "== capture → mask → encode, one thread (edge/pipeline) vs ffmpeg testsrc2 → drawbox → libx264"
go test -run '^$' -bench 'Pipeline' -benchtime "$bt" ./edge/pipeline/ 2>/dev/null | grep -E '^Benchmark|^ok' | tee /tmp/edgerec-bench-pipe.txt
for size in 1280x720 1920x1080; do
  n=300
  h=${size#*x}
  start=$(date +%s.%N)
  ffmpeg -hide_banner -loglevel error -f lavfi -i "testsrc2=size=${size}:rate=15" -frames:v $n \
    -vf "drawbox=x=iw*0.05:y=ih*0.10:w=iw*0.30:h=ih*0.35:color=black:t=fill" \
    -c:v libx264 -preset ultrafast -tune zerolatency -profile:v baseline -bf 0 -g 30 -b:v 1500k -threads 1 -f null -
  end=$(date +%s.%N)
  ff=$(echo "$n / ($end - $start)" | bc -l)
  ours=$(awk -v h="$h" '$1 ~ ("Pipeline" (h=="720"?"720p":"1080p")) {for(i=1;i<=NF;i++) if($i=="fps") print $(i-1)}' /tmp/edgerec-bench-pipe.txt)
  printf "%s: edgerec %.1f fps, ffmpeg+libx264 ultrafast %.1f fps, ratio edgerec/ffmpeg = %.2f\n" "$size" "${ours:-0}" "$ff" "$(echo "${ours:-0} / $ff" | bc -l)"
done

echo "== burned-in playback, one thread (edge/web): decode → masks → viewer/grant/time band → encode (issue 12, R18)"
go test -run '^$' -bench 'PlaybackBurn|BurnOverlay' -benchtime "$bt" ./edge/web/ 2>/dev/null | grep -E '^Benchmark|^ok'

if [ -x storage/bench.sh ]; then
  echo "== storage"
  storage/bench.sh "$bt"
fi

if command -v swtpm >/dev/null 2>&1; then
  echo "== TPM root key: Load (SRK, salted session, unseal) against swtpm (hal/tpm)"
  go test -run '^$' -bench 'Load' -benchtime "$bt" ./hal/tpm/ | grep -E '^Benchmark|^ok'
fi
