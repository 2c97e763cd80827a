#!/bin/sh
# make bench, the milter alone: bench/milter_load speaks the milter
# protocol straight to bench/null_milter (also with -N: no answer but at
# the end of the message) and to milter-policy on each policy given
# (default bench/policy.conf, bench/policy-envelope.conf and
# bench/policy-large.conf), and with BENCH_PEERS=1 (make bench PEERS=1)
# to rspamd's milter proxy (bench/rspamd.sh), all on unix sockets under
# /dev/shm, no MTA.  Two more rows keep the stack comparison honest:
# null-milter-small (the null milter on milter.thread_stack's default
# stacks) and milter-policy-sysstack (bench/policy.conf with
# thread_stack = 0: the system's 8 MiB stacks, as before).  Each figure
# is the median of RUNS runs (min and max beside it); the runs take turns
# (null, policy, large, null, ...) so a slow moment of a shared machine
# hits every row.
# Prints the table, then the per-step latencies of each median run.
#
#   sh bench/milter-load.sh [POLICY...]
#   BENCH_RUNS=3 BENCH_CONNS=20 BENCH_TXNS=1000  (defaults)
#   BENCH_SUMMARY=FILE  also append "milter-alone NAME MEDIAN MIN MAX CPU" rows
set -e
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
CONNS=${BENCH_CONNS:-20}
TXNS=${BENCH_TXNS:-1000}
[ $# -gt 0 ] || set -- bench/policy.conf bench/policy-envelope.conf bench/policy-large.conf

for t in bench/milter_load bench/null_milter milter/milter-policy; do
	[ -x "$t" ] || { echo "milter-load: no $t (run make first)" >&2; exit 1; }
done
[ ! -e bench/policy-large.conf ] || [ -e bench/large/domains.txt ] ||
	sh bench/gen-large.sh

work=$(mktemp -d /dev/shm/milter-load.XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || :; done
	for p in $pids; do wait "$p" 2>/dev/null || :; done
	[ -z "${BENCH_PEERS:-}" ] || rspamd_stop
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE
# shellcheck source=bench/cpu.sh
. bench/cpu.sh

# start NAME CMD...: a milter on unix:$work/NAME.sock, waited for.
start() {
	_n=$1
	shift
	"$@" -p "unix:$work/$_n.sock" >"$work/$_n.log" 2>&1 </dev/null &
	pids="$pids $!"
	echo "$!" >"$work/$_n.pids"
	_i=0
	until [ -S "$work/$_n.sock" ]; do
		_i=$((_i + 1))
		if [ "$_i" -gt 100 ] || ! kill -0 "$!" 2>/dev/null; then
			echo "milter-load: $_n did not start:" >&2
			cat "$work/$_n.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

# null-milter: libmilter's defaults, the baseline; null-milter-small: the
# same on the thread stacks milter-policy's milter.thread_stack gives.
stack_k=$(sed -n 's/^#define POL_STACK_DEFAULT[^(]*(\([0-9]*\)UL << 10).*/\1/p' policy/policy.h)
names="null-milter null-milter-small null-milter-noreply"
start null-milter bench/null_milter
start null-milter-small bench/null_milter -S "$stack_k"
start null-milter-noreply bench/null_milter -N
for pol in "$@"; do
	n=milter-policy
	[ "$pol" = bench/policy.conf ] || n=milter-policy-$(basename "$pol" .conf | sed 's/^policy-//')
	start "$n" milter/milter-policy -f -c "$pol"
	# The milter really decides: a relayed recipient from outside is refused.
	if bench/milter_load -p "unix:$work/$n.sock" -c 1 -n 1 -a 192.0.2.1 \
		-t user@other.org >"$work/$n.probe" 2>&1 ||
		! grep -q '^first problem: .*rcpt: 550' "$work/$n.probe"; then
		echo "milter-load: $n on $pol did not refuse a relay attempt:" >&2
		cat "$work/$n.probe" >&2
		exit 1
	fi
	names="$names $n"
done
# milter-policy as it was before milter.thread_stack: the system's stacks.
for pol in "$@"; do
	[ "$pol" = bench/policy.conf ] || continue
	sed 's/^state = /milter = { thread_stack = 0; };\nstate = /' "$pol" >"$work/policy-sysstack.conf"
	grep -q 'thread_stack = 0' "$work/policy-sysstack.conf" ||
		{ echo "milter-load: no state line in $pol to put thread_stack before" >&2; exit 1; }
	start milter-policy-sysstack milter/milter-policy -f -c "$work/policy-sysstack.conf"
	names="$names milter-policy-sysstack"
done
if [ -n "${BENCH_PEERS:-}" ]; then
	# shellcheck source=bench/rspamd.sh
	. bench/rspamd.sh
	rspamd_start "$work/rspamd" "$work/rspamd.sock" || exit 1
	printf '%s\n%s\n' "$RSPAMD_PID" "$RSPAMD_REDIS_PID" >"$work/rspamd.pids"
	names="$names rspamd"
fi

# A warm-up run each, not counted: thread pools, caches, rspamd's Lua.
for n in $names; do
	bench/milter_load -p "unix:$work/$n.sock" -c "$CONNS" -n 50 >/dev/null 2>&1 || :
done
i=1
while [ "$i" -le "$RUNS" ]; do
	for n in $names; do
		t0=$(cpu_ticks_file "$work/$n.pids")
		if ! bench/milter_load -p "unix:$work/$n.sock" -c "$CONNS" \
			-n "$TXNS" >"$work/$n.$i" 2>&1; then
			echo "milter-load: $n, run $i: refusals or errors:" >&2
			cat "$work/$n.$i" >&2
			exit 1
		fi
		t1=$(cpu_ticks_file "$work/$n.pids")
		echo "$(awk '/^result:/ { print $2 }' "$work/$n.$i") $i $((t1 - t0))" >>"$work/$n.runs"
	done
	i=$((i + 1))
done

echo "Milter alone: bench/milter_load, $CONNS connections x $TXNS transactions" \
	"(1 rcpt, 6 headers, 1000-byte body), unix socket, median of $RUNS runs;" \
	"CPU: the milter's own (rspamd: all its processes and its Redis), per transaction, over all runs"
printf '%-22s %10s %10s %10s %15s %10s\n' milter "txn/s" min max "vs null milter" "CPU us/txn"
for n in $names; do
	ticks=$(awk '{ t += $3 } END { print t + 0 }' "$work/$n.runs")
	sort -n "$work/$n.runs" | awk -v n="$n" -v cpu="$(cpu_us "$ticks" $((RUNS * CONNS * TXNS)))" \
	    '{ v[NR] = $1; run[NR] = $2 }
	    END { m = int((NR + 1) / 2); print n, v[m], v[1], v[NR], run[m], cpu }'
done >"$work/table"
awk '$1 == "null-milter" { base = $2 } { r[NR] = $0 }
    END { for (i = 1; i <= NR; i++) { split(r[i], f, " ")
	printf "%-22s %10d %10d %10d %14.2fx %10d\n", f[1], f[2], f[3], f[4], f[2] / base, f[6] } }' \
	"$work/table"
if [ -n "${BENCH_SUMMARY:-}" ]; then
	awk '{ print "milter-alone", $1, $2, $3, $4, $6 }' "$work/table" >>"$BENCH_SUMMARY"
fi
while read -r n _med _lo _hi run _cpu; do
	echo
	echo "$n, per step (the median run): answer time, microseconds"
	sed -n '/^step /,$p' "$work/$n.$run"
done <"$work/table"
