#!/bin/sh
# Where milter-policy's CPU goes under a real Postfix: a private Postfix
# relaying to smtp-sink, loaded with smtp-source (one message a session,
# as in bench-mta.sh), the milter on bench/policy.conf (or POLICY), with
# `perf record` (the cpu-clock software event: no hardware counters
# needed) and `perf stat` on the milter's process while it runs.  Prints
# the CPU per message, context switches and page faults per message, and
# the top entries of the profile by shared object and by symbol.
# Not a test and not part of make bench: a tool for issue 23's question.
#
#   sh tests/e2e/profile-mta.sh [POLICY]
#   PROFILE_MSGS=2000 PROFILE_SESSIONS=10 PROFILE_STACK= PROFILE_OUT=
#   PROFILE_MILTER=  (defaults; PROFILE_STACK=0 runs the milter on the
#   system's thread stacks; PROFILE_OUT=FILE keeps perf.data there for
#   perf report -i; PROFILE_MILTER=BINARY profiles another build)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../../bench/cpu.sh
. "$E2E_ROOT/bench/cpu.sh"

MSGS=${PROFILE_MSGS:-2000}
SESSIONS=${PROFILE_SESSIONS:-10}
POLICY=${1:-$E2E_ROOT/bench/policy.conf}
command -v perf >/dev/null || { echo "profile-mta: no perf (apt-get install linux-perf)"; exit 1; }
E2E_QUIET=1
e2e_init profile >/dev/null

if [ -n "${PROFILE_STACK:-}" ]; then
	sed "s/^state = /milter = { thread_stack = \"$PROFILE_STACK\"; };\nstate = /" "$POLICY"
else
	cat "$POLICY"
fi >"$WORK/policy.conf"
sink_start >/dev/null
milter_start "${PROFILE_MILTER:-$E2E_ROOT/milter/milter-policy}" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET" >/dev/null
chmod 0666 "${MILTER_SOCKET#unix:}"
pf_start "$MILTER_PF_SOCKET" >/dev/null

load() {
	smtp-source -s "$SESSIONS" -m "$1" -f bench@client.test \
		-t user@example.com -M client.test "127.0.0.1:$SMTPPORT" \
		>>"$WORK/smtp-source.log" 2>&1
}

load 200	# warm-up: Postfix's processes spawned, the milter's pool grown
pid=$(milter_pid)
t0=$(cpu_ticks "$pid")
perf stat -e task-clock,context-switches,cpu-migrations,page-faults \
	-p "$pid" -o "$WORK/perf-stat.txt" &
stat_pid=$!
perf record -e cpu-clock -F 2000 -g -p "$pid" -o "$WORK/perf.data" \
	>"$WORK/perf-record.log" 2>&1 &
rec_pid=$!
e2e_sleep 1
load "$MSGS"
kill -INT "$rec_pid" "$stat_pid" 2>/dev/null
wait "$rec_pid" "$stat_pid" 2>/dev/null
t1=$(cpu_ticks "$pid")
milter_stop >/dev/null

echo "milter-policy under Postfix: $MSGS messages over $SESSIONS sessions," \
	"thread_stack ${PROFILE_STACK:-default}, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPU per message: $(cpu_us $((t1 - t0)) "$MSGS") us (includes the 1 s before the load)"
awk -v n="$MSGS" '/context-switches|page-faults|cpu-migrations/ {
	gsub(/,/, "", $1); printf "%-18s %8.1f per message\n", $2, $1 / n }' "$WORK/perf-stat.txt"
echo
echo "by shared object (children excluded):"
perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null |
	grep -E '^ +[0-9]' | head -n 8
echo
echo "by symbol (children excluded):"
perf report -i "$WORK/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
	grep -E '^ +[0-9]' | head -n "${PROFILE_TOP:-25}"
echo
echo "by function, what it calls included (the kernel's time charged to its callers):"
perf report -i "$WORK/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
	grep -E '^ +[0-9]' | grep -v '\[k\]' | head -n "${PROFILE_TOP:-25}"
[ -z "${PROFILE_OUT:-}" ] || cp "$WORK/perf.data" "$PROFILE_OUT"
e2e_done
