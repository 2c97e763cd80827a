#!/bin/sh
# make bench, end to end: a private Postfix on loopback (queue on tmpfs)
# relaying to smtp-sink, loaded with smtp-source; messages per second with
# no milter, with bench/null_milter (every step, every callback; with -N,
# answering only the end of the message; with -S, on small thread
# stacks), with milter-policy on bench/policy.conf (and on it with the
# system's thread stacks), bench/policy-envelope.conf,
# bench/policy-large.conf and bench/policy-reputation.conf (a DNS list,
# cached, and greylisting, passed),
# and with BENCH_PEERS=1 rspamd through its milter proxy (bench/rspamd.sh),
# its counters on a private redis-server, beside milter-policy with its
# counters on the same server.  Policy service rows (no milter; one
# check_policy_service in smtpd_recipient_restrictions): bench/null_policyd
# (DUNNO to all, the floor) and milter-policy serving
# bench/policy-envelope.conf over the policy protocol, compared with "none".
# Every milter listens at once on its own unix socket; the runs take turns
# (none, null, policy, large, ..., none, null, ...), switching Postfix's
# smtpd_milters between runs, so a slow moment of a shared machine hits
# every row.  Each figure is the median of RUNS runs (min and max beside
# it); milters are compared as ratios to the null milter of the same run.
#
#   BENCH_RUNS=5 BENCH_MSGS=2000 BENCH_SESSIONS=10 BENCH_WARMUP=200  (defaults)
#   BENCH_SUMMARY=FILE  also append "end-to-end NAME MEDIAN MIN MAX CPU" rows
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../../bench/cpu.sh
. "$E2E_ROOT/bench/cpu.sh"

RUNS=${BENCH_RUNS:-5}
MSGS=${BENCH_MSGS:-2000}
SESSIONS=${BENCH_SESSIONS:-10}
WARMUP=${BENCH_WARMUP:-200}
E2E_QUIET=1
e2e_init bench >/dev/null
[ -e "$E2E_ROOT/bench/large/domains.txt" ] || sh "$E2E_ROOT/bench/gen-large.sh" >/dev/null

sink_start >/dev/null
pf_start none >/dev/null

# load [MESSAGES]: one smtp-source run (default $MSGS): messages per second.
load() {
	_m=${1:-$MSGS}
	_t0=$(date +%s.%N)
	smtp-source -s "$SESSIONS" -m "$_m" -f bench@client.test \
		-t user@example.com -M client.test "127.0.0.1:$SMTPPORT" \
		>>"$WORK/smtp-source.log" 2>&1
	_t1=$(date +%s.%N)
	echo "$_m $_t0 $_t1" | awk '{ printf "%.0f\n", $1 / ($3 - $2) }'
}

# use_milter SOCKET, "policy:SOCKET" (a policy service: check_policy_service
# in smtpd_recipient_restrictions, no milter) or "": what Postfix consults.
use_milter() {
	case "$1" in
	policy:*) pf_set "smtpd_milters =" \
		"smtpd_recipient_restrictions = check_policy_service ${1#policy:}" >/dev/null ;;
	*) pf_set "smtpd_milters = $1" "milter_default_action = tempfail" \
		"smtpd_recipient_restrictions =" >/dev/null ;;
	esac
}

# bench_milter NAME CMD...: start a milter of the bench on
# unix:$WORK/milter/NAME.PID.sock, its output in $WORK/NAME.log.
CONFIGS="none="
BENCH_PIDS=
# (lib.sh's helpers share one namespace of variables: hence bm_.)
bench_milter() {
	bm_name=$1
	shift
	# with this run's pid: a milter of an earlier run still stopping
	# removes its own socket path when it exits
	bm_sock=$WORK/milter/$bm_name.$$.sock
	"$@" -p "unix:$bm_sock" >"$WORK/$bm_name.log" 2>&1 </dev/null &
	e2e_track "$!"
	BENCH_PIDS="$BENCH_PIDS $!"
	echo "$!" >"$WORK/$bm_name.pids"
	e2e_wait 10 test -S "$bm_sock" ||
		e2e_die "$bm_name did not start: $(tail -n 3 "$WORK/$bm_name.log")"
	chmod 0666 "$bm_sock"
	CONFIGS="$CONFIGS $bm_name=unix:$bm_sock"
}

# bench_policy NAME CMD...: a policy service of the bench on
# unix:$WORK/milter/NAME.PID.policy.sock (CMD gets it as -p, or through
# the policy file milter-policy is given).
bench_policy() {
	bm_name=$1
	shift
	bm_sock=$WORK/milter/$bm_name.$$.policy.sock
	case "$1" in
	*/null_policyd) "$@" -p "unix:$bm_sock" >"$WORK/$bm_name.log" 2>&1 </dev/null & ;;
	*) { cat "$E2E_ROOT/bench/policy-envelope.conf"
	     echo "policy_service = { listen = \"unix:$bm_sock\"; };"; } >"$WORK/$bm_name.conf"
	   "$@" -c "$WORK/$bm_name.conf" -p "unix:$WORK/milter/$bm_name.$$.sock" \
		>"$WORK/$bm_name.log" 2>&1 </dev/null & ;;
	esac
	e2e_track "$!"
	BENCH_PIDS="$BENCH_PIDS $!"
	echo "$!" >"$WORK/$bm_name.pids"
	e2e_wait 10 test -S "$bm_sock" ||
		e2e_die "$bm_name did not start: $(tail -n 3 "$WORK/$bm_name.log")"
	CONFIGS="$CONFIGS $bm_name=policy:unix:$bm_sock"
}

# null-milter: libmilter's defaults, the baseline; null-milter-small: on
# the stacks milter.thread_stack gives; milter-policy-sysstack:
# bench/policy.conf on the system's 8 MiB stacks (thread_stack = 0).
stack_k=$(sed -n 's/^#define POL_STACK_DEFAULT[^(]*(\([0-9]*\)UL << 10).*/\1/p' "$E2E_ROOT/policy/policy.h")
sed 's/^state = /milter = { thread_stack = 0; };\nstate = /' "$E2E_ROOT/bench/policy.conf" >"$WORK/policy-sysstack.conf"
grep -q 'thread_stack = 0' "$WORK/policy-sysstack.conf" ||
	e2e_die "bench/policy.conf has no state line to put thread_stack before"
bench_milter null-milter "$E2E_ROOT/bench/null_milter"
bench_milter null-milter-small "$E2E_ROOT/bench/null_milter" -S "$stack_k"
bench_milter null-milter-noreply "$E2E_ROOT/bench/null_milter" -N
bench_milter milter-policy "$E2E_ROOT/milter/milter-policy" -f -c "$E2E_ROOT/bench/policy.conf"
bench_milter milter-policy-sysstack "$E2E_ROOT/milter/milter-policy" -f -c "$WORK/policy-sysstack.conf"
bench_milter milter-policy-envelope "$E2E_ROOT/milter/milter-policy" -f -c "$E2E_ROOT/bench/policy-envelope.conf"
bench_milter milter-policy-large "$E2E_ROOT/milter/milter-policy" -f -c "$E2E_ROOT/bench/policy-large.conf"
# DNS lists and greylisting: a private dnsmasq for the lists, and the
# bench's triplet passed before the runs (the first attempt's 451 is not
# a refusal of the bench: its log line is cleared)
# shellcheck source-path=SCRIPTDIR source=lib-dns.sh
. "$(dirname "$0")/lib-dns.sh"
printf 'local=/bl.bench.test/\nlocal=/wl.bench.test/\n' >"$WORK/bench-zones"
dns_auth_start "$WORK/bench-zones"
sed "s|127.0.0.1:53|127.0.0.1:$DNS_AUTH_PORT|" "$E2E_ROOT/bench/policy-reputation.conf" \
	>"$WORK/policy-reputation.conf"
bench_milter milter-policy-reputation "$E2E_ROOT/milter/milter-policy" -f -c "$WORK/policy-reputation.conf"
"$E2E_ROOT/bench/milter_load" -p "unix:$bm_sock" -c 1 -n 1 -a 127.0.0.1 \
	-t user@example.com >/dev/null 2>&1 || :
e2e_sleep 1.5
"$E2E_ROOT/bench/milter_load" -p "unix:$bm_sock" -c 1 -n 1 -a 127.0.0.1 \
	-t user@example.com >"$WORK/reputation-pass.out" 2>&1 ||
	e2e_die "the bench's greylisting triplet did not pass: $(cat "$WORK/reputation-pass.out")"
: >"$WORK/milter-policy-reputation.log"
bench_policy null-policyd "$E2E_ROOT/bench/null_policyd"
bench_policy policyd-envelope "$E2E_ROOT/milter/milter-policy" -f
if [ -n "${BENCH_PEERS:-}" ]; then
	# shellcheck source=../../bench/rspamd.sh
	. "$E2E_ROOT/bench/rspamd.sh"
	rspamd_start "$WORK/rspamd" "$WORK/milter/rspamd.$$.sock" ||
		e2e_die "rspamd did not start (see above)"
	e2e_track "$RSPAMD_PID"
	e2e_track "$RSPAMD_REDIS_PID"
	# milter-policy with its counters on the same Redis, for a like-for-like row
	sed "s|^state = { file = \"\"; };|state = { file = \"\"; backend = \"redis\"; redis = { server = \"unix:$RSPAMD_DIR/redis.sock\"; }; };|" \
		"$E2E_ROOT/bench/policy.conf" >"$WORK/policy-redis.conf"
	grep -q 'backend = "redis"' "$WORK/policy-redis.conf" ||
		e2e_die "bench/policy.conf has no state line to put Redis in"
	bench_milter milter-policy-redis "$E2E_ROOT/milter/milter-policy" -f -c "$WORK/policy-redis.conf"
	CONFIGS="$CONFIGS rspamd=unix:$WORK/milter/rspamd.$$.sock"
	# the Redis server's CPU is theirs too
	echo "$RSPAMD_REDIS_PID" >>"$WORK/milter-policy-redis.pids"
	printf '%s\n%s\n' "$RSPAMD_PID" "$RSPAMD_REDIS_PID" >"$WORK/rspamd.pids"
fi

# A warm-up round, not counted: processes spawned, caches filled, JITs run.
for bm_c in $CONFIGS; do
	use_milter "${bm_c#*=}"
	load "$WARMUP" >/dev/null
done
: >"$WORK/runs"
i=1
while [ "$i" -le "$RUNS" ]; do
	for bm_c in $CONFIGS; do
		use_milter "${bm_c#*=}"
		bm_t0=$(cpu_ticks_file "$WORK/${bm_c%%=*}.pids")
		bm_rate=$(load)
		echo "${bm_c%%=*} $bm_rate $(($(cpu_ticks_file "$WORK/${bm_c%%=*}.pids") - bm_t0))" >>"$WORK/runs"
	done
	i=$((i + 1))
done
use_milter ""
# stopped together: libmilter takes seconds to return from smfi_main
for bm_p in $BENCH_PIDS; do kill "$bm_p" 2>/dev/null; done
for bm_p in $BENCH_PIDS; do e2e_stop_pid "$bm_p" 10; done
if [ -n "${BENCH_PEERS:-}" ]; then
	rspamd_check "$((RUNS * MSGS + WARMUP))" || e2e_fail "rspamd did not check every message"
	rspamd_stop
fi

# A figure is only worth something if the mail went through: a refusal
# is a wrong answer and fails the bench.  A store that did not answer
# within its timeout on a loaded machine (on_error's 451 4.3.0) is a slow
# moment: counted and reported, not a failure.
if grep -vE ' 4\.3\.0 ' "$PF_LOG" |
	grep -qE 'milter-(reject|discard|hold)|NOQUEUE: reject:|: reject: RCPT|status=(bounced|deferred)' ||
	cat "$WORK"/null-milter*.log "$WORK"/milter-policy*.log "$WORK"/policyd-envelope.log 2>/dev/null |
	grep -vE ' error .*on_error=' | grep -qE ' (reject|tempfail|error|discard|quarantine) '; then
	e2e_fail "refusals during the bench: see $PF_LOG and the milter logs in $WORK"
fi
if grep -vE '4\.3\.0' "$WORK/smtp-source.log" | grep -qiE 'error|fatal|refused|timeout'; then
	e2e_fail "smtp-source reported errors: $(grep -vE '4\.3\.0' "$WORK/smtp-source.log" | grep -m 3 -iE 'error|fatal|refused|timeout')"
fi
bm_slow=$(cat "$WORK"/milter-policy*.log "$WORK"/policyd-envelope.log 2>/dev/null | grep -cE ' error .*on_error=')
if [ "$bm_slow" -gt 0 ]; then
	e2e_note "slow moments: $bm_slow decisions answered by on_error (451 4.3.0): the store did not answer within its timeout; not counted as a failure"
fi

for bm_c in $CONFIGS; do
	bm_n=${bm_c%%=*}
	bm_cpu=$(cpu_us "$(awk -v n="$bm_n" '$1 == n { t += $3 } END { print t + 0 }' "$WORK/runs")" \
		$((RUNS * MSGS)))
	awk -v n="$bm_n" '$1 == n { print $2 }' "$WORK/runs" | sort -n |
		awk -v n="$bm_n" -v cpu="$bm_cpu" '{ v[NR] = $1 }
		    END { printf "%s %d %d %d %d\n", n, v[int((NR + 1) / 2)], v[1], v[NR], cpu }'
done >"$WORK/results"
if [ -n "${BENCH_SUMMARY:-}" ]; then
	awk '{ print "end-to-end", $0 }' "$WORK/results" >>"$BENCH_SUMMARY"
fi

awk -v runs="$RUNS" -v msgs="$MSGS" -v s="$SESSIONS" '
	{ name[NR] = $1; med[NR] = $2; lo[NR] = $3; hi[NR] = $4; cpu[NR] = $5; v[$1] = $2; if ($1 == "null-milter") base = $2; if ($1 == "none") none = $2 }
	END {
		printf "Postfix end to end: smtp-source, %d messages over %d sessions, unix sockets, median of %d runs;\n", msgs, s, runs
		printf "CPU: the milter'"'"'s own (rspamd: all its processes; with Redis: redis-server too), per message, over all runs\n"
		printf "%-22s %10s %10s %10s %15s %10s\n", "milter", "msgs/s", "min", "max", "vs null milter", "CPU us/msg"
		for (i = 1; i <= NR; i++)
			printf "%-22s %10d %10d %10d %14.2fx %10s\n", name[i], med[i], lo[i], hi[i], base ? med[i] / base : 0, cpu[i] ? cpu[i] : "-"
		if (v["policyd-envelope"] && none)
			printf "policy service: milter-policy on the envelope policy %.2fx of no milter, the null policy service %.2fx\n",
			    v["policyd-envelope"] / none, v["null-policyd"] / none
		if (v["rspamd"])
			printf "milter-policy / rspamd: %.2fx on the example policy, %.2fx on the large one, %.2fx both on Redis\n",
			    v["milter-policy"] / v["rspamd"], v["milter-policy-large"] / v["rspamd"],
			    v["milter-policy-redis"] / v["rspamd"]
	}' "$WORK/results"
e2e_done
