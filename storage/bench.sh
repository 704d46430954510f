#!/bin/sh
# Storage benchmarks (issue 3). Runs the Go benchmarks once each and prints
# the ratios the closing note reports. Short runs; the numbers on a shared
# CI/dev box vary by ±30 %, so run it twice and read the lower ratio.
#
#   storage/bench.sh            # from the repository root
#   BENCHTIME=16000x storage/bench.sh
#   SEGMENTS=1000000 storage/bench.sh   (default; building the 1 M index takes ~1 min)
set -eu
cd "$(dirname "$0")/.."
BT=${BENCHTIME:-8000x}
SEGMENTS=${SEGMENTS:-1000000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

go test -run '^$' -bench '^(BenchmarkRawWrite|BenchmarkSealedWrite)$' -benchtime "$BT" -count 1 ./storage/ | tee -a "$out"
go test -run '^$' -bench '^BenchmarkRSS16Streams$' -benchtime 16000x -count 1 ./storage/ | tee -a "$out"
go test -run '^$' -bench '^BenchmarkRecovery100k$' -benchtime 5x -count 1 ./storage/ | tee -a "$out"
EDGEREC_BENCH_SEGMENTS=$SEGMENTS go test -run '^$' -bench '^BenchmarkSegmentLookup1M$' -benchtime 100000x -count 1 -timeout 30m ./storage/ | tee -a "$out"

awk '
/^BenchmarkRawWrite/     { for (i=1;i<=NF;i++) if ($(i+1)=="MB/s") raw=$i }
/^BenchmarkSealedWrite/  { for (i=1;i<=NF;i++) if ($(i+1)=="MB/s") sealed=$i }
/^BenchmarkRSS16Streams/ { for (i=1;i<=NF;i++) if ($(i+1)=="peak-RSS-MiB") rss=$i }
/^BenchmarkRecovery100k/ { for (i=1;i<=NF;i++) if ($(i+1)=="open-ms") rec=$i }
/^BenchmarkSegmentLookup1M/ { for (i=1;i<=NF;i++) { if ($(i+1)=="p99-µs") p99=$i; if ($(i+1)=="p50-µs") p50=$i } }
END {
  printf "\n== storage benchmark summary ==\n"
  if (raw > 0) printf "sealed write %.0f MB/s vs raw %.0f MB/s: ratio %.2fx (aim >= 0.80x)\n", sealed, raw, sealed/raw
  printf "segment lookup (%s segments): p50 %s us, p99 %s us (aim p99 < 100 us)\n", SEGMENTS, p50, p99
  printf "recovery with 100k segments: %s ms (aim < 1000 ms)\n", rec
  printf "peak RSS, 16 streams: %s MiB\n", rss
}' SEGMENTS="$SEGMENTS" "$out"
