#!/bin/sh
# make bench, end to end: a private Postfix on loopback (queue on tmpfs)
# relaying to smtp-sink, loaded with smtp-source; messages per second with
# no milter, with bench/null_milter (every step, every callback) and with
# milter-policy on bench/policy.conf.  Each figure is the median of RUNS
# runs (min and max beside it); milters are compared as ratios to the
# null milter measured in the same run.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

RUNS=${BENCH_RUNS:-3}
MSGS=${BENCH_MSGS:-2000}
SESSIONS=${BENCH_SESSIONS:-10}
E2E_QUIET=1
e2e_init bench >/dev/null

sink_start >/dev/null
pf_start none >/dev/null

# One smtp-source run: messages per second.
load() {
	_t0=$(date +%s.%N)
	smtp-source -s "$SESSIONS" -m "$MSGS" -f bench@client.test \
		-t user@example.com -M client.test "127.0.0.1:$SMTPPORT" \
		>>"$WORK/smtp-source.log" 2>&1
	_t1=$(date +%s.%N)
	echo "$MSGS $_t0 $_t1" | awk '{ printf "%.0f\n", $1 / ($3 - $2) }'
}

# NAME: RUNS loads; prints "NAME median min max".
measure() {
	_i=0
	: >"$WORK/runs"
	while [ "$_i" -lt "$RUNS" ]; do
		load >>"$WORK/runs"
		_i=$((_i + 1))
	done
	sort -n "$WORK/runs" | awk -v n="$1" '{ v[NR] = $1 }
	    END { printf "%s %d %d %d\n", n, v[int((NR + 1) / 2)], v[1], v[NR] }'
}

use_milter() { # SOCKET or ""
	pf_set "smtpd_milters = $1" "milter_default_action = tempfail"
	pf_reload >/dev/null
	e2e_sleep 1
}

measure none >"$WORK/results"
"$E2E_ROOT/bench/null_milter" -p "$MILTER_SOCKET" >"$WORK/null.log" 2>&1 &
NULL_PID=$!
e2e_track "$NULL_PID"
e2e_wait 5 test -S "${MILTER_SOCKET#unix:}"
chmod 0666 "${MILTER_SOCKET#unix:}"
use_milter "$MILTER_PF_SOCKET"
measure null-milter >>"$WORK/results"
kill "$NULL_PID"
e2e_wait 5 e2e_dead "$NULL_PID"

milter_start "$E2E_ROOT/milter/milter-policy" -f -c "$E2E_ROOT/bench/policy.conf" \
	-p "$MILTER_SOCKET" >/dev/null
pf_reload >/dev/null
e2e_sleep 1
measure milter-policy >>"$WORK/results"
use_milter ""
# A figure is only worth something if the mail went through.
if grep -q 'milter-reject' "$PF_LOG" || grep -qE ' (reject|tempfail|error) ' "$MILTER_LOG"; then
	e2e_fail "refusals during the bench: see $PF_LOG and $MILTER_LOG"
fi

awk -v runs="$RUNS" -v msgs="$MSGS" -v s="$SESSIONS" '
	{ name[NR] = $1; med[NR] = $2; lo[NR] = $3; hi[NR] = $4; if ($1 == "null-milter") base = $2 }
	END {
		printf "Postfix end to end: %d messages over %d sessions, median of %d runs\n", msgs, s, runs
		printf "%-14s %10s %10s %10s %14s\n", "milter", "msgs/s", "min", "max", "vs null milter"
		for (i = 1; i <= NR; i++)
			printf "%-14s %10d %10d %10d %13.2fx\n", name[i], med[i], lo[i], hi[i], base ? med[i] / base : 0
	}' "$WORK/results"
e2e_done
