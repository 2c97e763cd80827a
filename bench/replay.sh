#!/bin/sh
# make bench: milter-policy replay over a generated Postfix log of
# BENCH_REPLAY_LINES lines (1,000,000 by default): seconds and peak memory.
# Prints one summary row "replay lines s max-rss-MB" to $BENCH_SUMMARY.
set -e
cd "$(dirname "$0")/.."
n=${BENCH_REPLAY_LINES:-1000000}
log=$(mktemp /dev/shm/bench-replay.XXXXXX)
trap 'rm -f "$log" "$log.time"' EXIT
python3 bench/gen-maillog.py "$n" >"$log"
echo "replay of $n log lines ($(du -m "$log" | cut -f1) MB) through bench/replay.conf:"
/usr/bin/time -f '%e %M' -o "$log.time" \
	milter/milter-policy replay -c bench/replay.conf "$log" >"$log.out"
read -r secs kb <"$log.time"
sed -n 's/^this policy: /  /p' "$log.out"
rm -f "$log.out"
echo "  $secs s, peak RSS $((kb / 1024)) MB"
[ -z "${BENCH_SUMMARY:-}" ] || echo "replay $n $secs $((kb / 1024))" >>"$BENCH_SUMMARY.replay"
