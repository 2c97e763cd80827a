#!/bin/sh
# make bench, DNS lists: bench/milter_load at BENCH_DNS_CONNS (50)
# connections against milter-policy with a dnsbl rule (and a dnswl
# exemption) whose lists a private dnsmasq on a loopback port serves, and
# against bench/null_milter for the baseline.  Two loads: "cached" spreads
# the transactions over 100 client addresses whose answers the warm-up
# put in the cache; "uncached" gives every transaction an address of its
# own, so each connect asks the DNS server (two lists and a TXT).  Prints
# transactions per second and the per-step latency of each (the connect
# step is where the lookups are started and, at the latest, waited for).
#
#   sh bench/dns-load.sh      BENCH_DNS_CONNS=50 BENCH_DNS_TXNS=200
set -e
cd "$(dirname "$0")/.."
CONNS=${BENCH_DNS_CONNS:-50}
TXNS=${BENCH_DNS_TXNS:-200}
command -v dnsmasq >/dev/null || { echo "dns-load: dnsmasq is not installed (dnsmasq-base)" >&2; exit 1; }
for t in bench/milter_load bench/null_milter milter/milter-policy; do
	[ -x "$t" ] || { echo "dns-load: no $t (run make first)" >&2; exit 1; }
done

work=$(mktemp -d /dev/shm/dns-load.XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || :; done
	for p in $pids; do wait "$p" 2>/dev/null || :; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/dnsmasq.conf" <<EOF2
no-resolv
no-hosts
bind-interfaces
listen-address=127.0.0.1
port=$port
local-ttl=300
local=/bl.bench.test/
local=/wl.bench.test/
EOF2
dnsmasq -k --conf-file="$work/dnsmasq.conf" --pid-file= --cache-size=0 \
	--log-facility="$work/dnsmasq.log" >/dev/null 2>&1 &
pids="$pids $!"
cat >"$work/policy.conf" <<EOF2
state = { file = ""; };
dns = { servers = [ "127.0.0.1:$port" ]; timeout = "2s"; cache_size = 100000; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "dnsbl"; when = { dnsbl = "bl.bench.test"; };
    unless = { dnswl = "wl.bench.test"; }; reply = "dnsbl_listed"; }
);
EOF2

start() { # NAME CMD...
	_n=$1
	shift
	"$@" -p "unix:$work/$_n.sock" >"$work/$_n.log" 2>&1 </dev/null &
	pids="$pids $!"
	_i=0
	until [ -S "$work/$_n.sock" ]; do
		_i=$((_i + 1))
		[ "$_i" -le 100 ] || { echo "dns-load: $_n did not start" >&2; cat "$work/$_n.log" >&2; exit 1; }
		sleep 0.1
	done
}
start null-milter bench/null_milter
start milter-policy milter/milter-policy -f -c "$work/policy.conf"

run() { # NAME SOCKET KEYS
	bench/milter_load -p "unix:$work/$2.sock" -c "$CONNS" -n "$TXNS" -k "$3" \
		>"$work/$1.out" 2>&1 || { echo "dns-load: $1: refusals or errors" >&2; cat "$work/$1.out" >&2; exit 1; }
}
# warm-up: the 100 addresses of "cached" asked once
bench/milter_load -p "unix:$work/milter-policy.sock" -c 10 -n 10 -k 100 >/dev/null 2>&1 || :
run null-milter null-milter 100
run dns-cached milter-policy 100
run dns-uncached milter-policy 16000000
run dns-cached-again milter-policy 100

echo "DNS lists: bench/milter_load, $CONNS connections x $TXNS transactions, a dnsbl rule and a dnswl exemption against a private dnsmasq"
printf '%-22s %10s %12s %12s %12s\n' load "txn/s" "connect p50" "connect p90" "connect p99"
for n in null-milter dns-cached dns-uncached dns-cached-again; do
	awk -v n="$n" '/^result:/ { r = $2 } $1 == "connect" { p50 = $3; p90 = $4; p99 = $5 }
	    END { printf "%-22s %10d %10s us %9s us %9s us\n", n, r, p50, p90, p99 }' "$work/$n.out"
done
echo "(latencies: send to answer; cached answers add nothing to connect, uncached ones wait for dnsmasq)"
for n in dns-cached dns-uncached; do
	echo
	echo "$n, per step: answer time, microseconds"
	sed -n '/^step /,$p' "$work/$n.out"
done
