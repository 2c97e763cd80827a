#!/bin/sh
# make bench: the engine alone, the milter alone, then Postfix end to end
# (with BENCH_PEERS=1, from make bench PEERS=1: rspamd too); each section's
# table, then one summary of every row against the targets of issues 8
# and 23, go to the terminal and to bench/results.txt.  Not part of make
# check.
set -e
cd "$(dirname "$0")/.."

tmp=$(mktemp -d /dev/shm/bench-run.XXXXXX)
redis_pid=
cluster_pids=
cleanup() {
	[ -z "$redis_pid" ] || kill "$redis_pid" 2>/dev/null || :
	for p in $cluster_pids; do kill "$p" 2>/dev/null || :; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private redis-server on a free loopback port, for the Redis latency.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
	--loglevel warning >/dev/null 2>&1 &
redis_pid=$!
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1 || [ "$i" -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
export BENCH_REDIS_PORT="$port"

# A three-master Redis Cluster on free loopback ports, for the cost of
# routing by hash slot (bench_engine's cluster row); skipped if it fails.
cluster_ports=
for n in 1 2 3; do
	p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	bus=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
		--cluster-enabled yes --cluster-config-file "$tmp/nodes-$p.conf" \
		--cluster-port "$bus" \
		--dir "$tmp" --loglevel warning >/dev/null 2>&1 &
	cluster_pids="$cluster_pids $!"
	cluster_ports="$cluster_ports 127.0.0.1:$p"
done
sleep 0.5
# shellcheck disable=SC2086 # one argument per node
if redis-cli --cluster create $cluster_ports --cluster-yes >/dev/null 2>&1; then
	i=0
	until redis-cli -p "$p" cluster info 2>/dev/null | grep -q cluster_state:ok || [ "$i" -ge 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	export BENCH_CLUSTER_SEED="$p"
fi
export BENCH_SUMMARY="$tmp/summary"
: >"$BENCH_SUMMARY"
peers=
[ -z "${BENCH_PEERS:-}" ] || peers="BENCH_PEERS=1 "

machine() {
	model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)
	echo "machine: $(nproc) CPUs ($model), $mem, $(uname -sr)," \
		"load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
}

# The summary: every row of the sections, and each target of issue 8.
summary() {
	awk -v peers="$peers" '
	function row(what, med, lo, hi, unit, ratio, cpu, target, ok,   l) {
		l = sprintf("%-36s %9s %9s %9s %-7s %6s %7s  %s%s", what, med, lo, hi, unit,
		    ratio, cpu, target, target == "" ? "" : ok ? "  ok" : "  MISSED")
		sub(/ +$/, "", l)
		print l
	}
	FILENAME ~ /engine$/ && /^engine / && / threads=1 / {
		split($2, k, "="); if (k[2] + 0 >= keys) { keys = k[2] + 0; ns = $6; bytes = $8 } }
	FILENAME ~ /summary$/ { n++; sec[n] = $1; name[n] = $2; med[n] = $3; lo[n] = $4; hi[n] = $5
		cpu[n] = $6 ? $6 : ""; c[$1 "/" $2] = $6
		if ($2 == "null-milter") base[$1] = $3; if ($2 == "none") none[$1] = $3
		v[$1 "/" $2] = $3 }
	END {
		printf "%-36s %9s %9s %9s %-7s %6s %7s  %s\n", "Summary (medians of the runs above)",
		    "median", "min", "max", "unit", "ratio", "CPU us", "target"
		if (keys) {
			row(sprintf("engine: one decision, %d keys", keys), ns, "", "", "ns", "", "",
			    "< 2000 ns", ns + 0 < 2000)
			row(sprintf("engine: memory per key, %d keys", keys), bytes, "", "", "bytes", "", "",
			    "<= 128 bytes", bytes + 0 <= 128)
		}
		for (i = 1; i <= n; i++) {
			s = sec[i] == "milter-alone" ? "milter alone" : "end to end"
			r = base[sec[i]] ? sprintf("%.2f", med[i] / base[sec[i]]) : ""
			t = ""; ok = 0
			if (sec[i] == "milter-alone" && name[i] == "milter-policy") {
				t = ">= 0.80 of null"; ok = r + 0 >= 0.80 }
			if (sec[i] == "end-to-end" && name[i] == "milter-policy") {
				t = ">= 0.95 of null"; ok = r + 0 >= 0.95 }
			if (sec[i] == "end-to-end" && name[i] == "milter-policy-reputation") {
				t = ">= 0.95 of null"; ok = r + 0 >= 0.95 }
			if (sec[i] == "end-to-end" && name[i] == "milter-policy-envelope") {
				t = ">= 1.00 of null"; ok = r + 0 >= 1.00 }
			label = name[i]
			if (sec[i] == "end-to-end" && name[i] ~ /policyd/ && none[sec[i]]) {
				r = sprintf("%.2f", med[i] / none[sec[i]]); label = label " /none"
				if (name[i] == "policyd-envelope") { t = ">= 0.95 of none"; ok = r + 0 >= 0.95 } }
			row(s ": " label, med[i], lo[i], hi[i],
			    sec[i] == "milter-alone" ? "txn/s" : "msgs/s", r, cpu[i], t, ok)
		}
		if (v["milter-alone/milter-policy-sysstack"]) {
			r = v["milter-alone/milter-policy"] / v["milter-alone/milter-policy-sysstack"]
			row("milter alone: policy / policy-sysstack", "", "", "", "txn/s", sprintf("%.2f", r), "",
			    ">= 1.30", r >= 1.30)
			r = c["milter-alone/milter-policy-sysstack"] ? c["milter-alone/milter-policy"] / c["milter-alone/milter-policy-sysstack"] : 0
			row("milter alone: policy / policy-sysstack", "", "", "", "CPU", sprintf("%.2f", r), "",
			    "<= 0.75", r > 0 && r <= 0.75)
		}
		if (v["milter-alone/rspamd"])
			row("milter alone: milter-policy / rspamd", "", "", "", "",
			    sprintf("%.2f", v["milter-alone/milter-policy"] / v["milter-alone/rspamd"]), "", "", 0)
		if (v["end-to-end/rspamd"]) {
			r = v["end-to-end/milter-policy"] / v["end-to-end/rspamd"]
			row("end to end: milter-policy / rspamd", "", "", "", "", sprintf("%.2f", r), "",
			    ">= 1.6", r >= 1.6)
			r = c["end-to-end/rspamd"] ? c["end-to-end/milter-policy"] / c["end-to-end/rspamd"] : 0
			row("end to end: milter-policy / rspamd", "", "", "", "CPU", sprintf("%.2f", r), "",
			    "< 1.00", r > 0 && r < 1.00)
			if (c["end-to-end/milter-policy"] > 0)
				printf "CPU per message, rspamd / milter-policy: %.1fx end to end (milter-policy on Redis: %.1fx), %.1fx alone\n",
				    c["end-to-end/rspamd"] / c["end-to-end/milter-policy"],
				    c["end-to-end/milter-policy-redis"] ? c["end-to-end/rspamd"] / c["end-to-end/milter-policy-redis"] : 0,
				    c["milter-alone/milter-policy"] ? c["milter-alone/rspamd"] / c["milter-alone/milter-policy"] : 0
		} else
			print "(rspamd: not measured; make bench PEERS=1 adds it)"
	}' "$tmp/engine" "$BENCH_SUMMARY"
	[ ! -s "$BENCH_SUMMARY.replay" ] || awk '{
		printf "%-36s %9s %9s %9s %-7s %6s %7s  %s%s\n", "replay: " $2 " log lines", $3, "", "",
		    "s", "", "", "< 60 s, " $4 " MB peak", $3 + 0 < 60 ? "  ok" : "  MISSED" }' \
		"$BENCH_SUMMARY.replay"
}

{
	echo "milter-policy bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
	machine
	echo "commands (make bench${peers:+ PEERS=1} runs them in this order):"
	echo "  bench/bench_engine"
	echo "  sh bench/milter-load.sh"
	echo "  sh bench/dns-load.sh"
	echo "  E2E_WORKROOT=/dev/shm ${peers}sh tests/e2e/bench-mta.sh"
	echo "  sh bench/replay.sh"
	echo "  bench/bench_top"
	echo
	echo "$ bench/bench_engine"
	bench/bench_engine >"$tmp/engine"
	cat "$tmp/engine"
	echo
	echo "$ sh bench/milter-load.sh"
	sh bench/milter-load.sh
	echo
	echo "$ sh bench/dns-load.sh"
	sh bench/dns-load.sh
	echo
	echo "$ E2E_WORKROOT=/dev/shm ${peers}sh tests/e2e/bench-mta.sh"
	E2E_WORKROOT=/dev/shm sh tests/e2e/bench-mta.sh
	echo
	echo "$ sh bench/replay.sh"
	sh bench/replay.sh
	echo
	echo "$ bench/bench_top"
	bench/bench_top
	echo
	summary
	: >"$tmp/done"
} 2>&1 | tee bench/results.txt
# a section that failed stopped the block: make bench fails too
[ -e "$tmp/done" ]
