#!/bin/sh
# Counters on a real Redis Cluster through a real Postfix: three masters
# and three replicas made with redis-cli --cluster create on loopback
# ports.  The milter routes each script by hash slot: rate limits and
# duplicates give the answers one Redis gives, the keys land on every
# master, a reshard (redis-cli --cluster reshard, half of one master's
# slots) under a steady load gives no wrong answer, and a master killed
# makes its replica take over: on_error answers meanwhile, never an MTA
# timeout, and the counters written before are still there.  Last, a
# seed that is not in cluster mode is logged as such.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=fleet.sh
. "$(dirname "$0")/fleet.sh"

e2e_init cluster

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
command -v redis-server >/dev/null || e2e_die "redis-server is not installed (make check installs it)"

PORTS=
for _n in 1 2 3 4 5 6; do
	e2e_free_port
	_bus=$E2E_PORT		# the cluster bus: not PORT + 10000, unchecked
	e2e_free_port
	PORTS="$PORTS $E2E_PORT"
	fleet_redis "$E2E_PORT" --cluster-enabled yes --cluster-port "$_bus" \
		--cluster-config-file "$WORK/nodes-$E2E_PORT.conf" \
		--cluster-node-timeout 2000
done
set -- $PORTS
P1=$1
P2=$2
ADDRS=
for _p in $PORTS; do ADDRS="$ADDRS 127.0.0.1:$_p"; done
# shellcheck disable=SC2086 # one argument per node
redis-cli --cluster create $ADDRS --cluster-replicas 1 --cluster-yes \
	>"$WORK/create.log" 2>&1 || { cat "$WORK/create.log"; e2e_die "redis-cli --cluster create failed"; }
e2e_wait 60 sh -c "redis-cli --cluster check 127.0.0.1:$P1 >$WORK/check.log 2>&1" ||
	e2e_die "the cluster did not settle: $(tail -n 3 "$WORK/check.log")"
e2e_ok "a cluster of three masters and three replicas on 127.0.0.1:$P1..."

# The masters, by port, and the slots each serves.
masters() {
	redis-cli -p "$P1" cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail/ { split($2, a, "[:@]"); print a[2] }'
}
node_id() { redis-cli -p "$1" cluster myid; }
slot_count() { # PORT
	redis-cli -p "$1" cluster nodes | awk '$3 ~ /myself/ { for (i = 9; i <= NF; i++) { n = split($i, r, "-"); s += n == 2 ? r[2] - r[1] + 1 : 1 } } END { print s + 0 }'
}

cat >"$WORK/policy.conf" <<EOF2
state = { backend = "redis"; on_error = "tempfail";
  redis = { cluster = [ "127.0.0.1:$P1", "127.0.0.1:$P2" ]; prefix = "e2e:"; }; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "load"; when = { sender = "load@client.e2e.test"; };
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "1000000/1h"; }; },
  { name = "client-msgs"; unless = { sender = "load@client.e2e.test"; };
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "3/1h"; }; },
  { name = "same-body";
    duplicates = { of = "body"; per = [ "client_addr" ]; max = 2; window = "10m"; }; }
);
EOF2

sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

# Rate limits: three per client, the fourth refused, for clients whose
# counters fall in different slots.
CLIENTS="127.0.0.4 127.0.0.5 127.0.0.6 127.0.0.7 127.0.0.8"
for ip in $CLIENTS; do
	for n in 1 2 3; do
		smtp_try --local-interface "$ip" --to user@example.com --body "message $n from $ip"
		expect_reply eom 250 2.0.0 "" "$ip message $n of 3/1h: queued"
	done
	smtp_try --local-interface "$ip" --to user@example.com --body "message 4 from $ip"
	expect_reply mail 453 4.7.0 "3 per 1 h" "$ip message 4: 453 4.7.0, as on one Redis"
done

# Duplicates: the third copy of one body is refused.
for n in 1 2; do
	smtp_try --local-interface 127.0.0.60 --to user@example.com --body "the same body"
	expect_reply eom 250 2.0.0 "" "copy $n of the same body: queued"
done
smtp_try --local-interface 127.0.0.60 --to user@example.com --body "the same body"
expect_reply eom 557 5.7.1 "already received 2 times" "copy 3: 557 5.7.1, as on one Redis"

# The counters are spread over the masters, each key in its own slot's node.
spread=0
for p in $(masters); do
	k=$(redis-cli -p "$p" dbsize)
	[ "$k" -gt 0 ] && spread=$((spread + 1))
done
if [ "$spread" -ge 2 ]; then
	e2e_ok "counters on $spread masters: routed by hash slot"
else
	e2e_fail "masters holding counters, got $spread, want 2 or more"
fi
expect_no_log "unavailable" "no store error while the cluster was stable"

# A reshard under load: half the slots of one master move to another.
# (Not all: a master left without slots turns replica, and two masters
# are no majority to elect a replica in the failover below.)
load_start
e2e_wait 60 load_since 0 3 || e2e_fail "the load ran no 3 sessions in 60 s"
from=$(masters | head -n 1)
to=$(masters | sed -n 2p)
nslots=$(($(slot_count "$from") / 2))
keys0=$(redis-cli -p "$from" dbsize)
t0=$(now_ms)
redis-cli --cluster reshard "127.0.0.1:$P1" --cluster-from "$(node_id "$from")" \
	--cluster-to "$(node_id "$to")" --cluster-slots "$nslots" --cluster-yes \
	>"$WORK/reshard.log" 2>&1 || e2e_fail "redis-cli --cluster reshard failed: $(tail -n 3 "$WORK/reshard.log")"
t1=$(now_ms)
e2e_wait 60 load_since "$t1" 3 || e2e_fail "the load ran no 3 sessions in 60 s after the reshard"
load_stop
moved=$(grep -c "^Moving slot" "$WORK/reshard.log")
keys1=$(redis-cli -p "$from" dbsize)
if [ "$moved" -eq "$nslots" ] && [ "$keys1" -lt "$keys0" ]; then
	e2e_ok "resharded $moved slots from 127.0.0.1:$from to 127.0.0.1:$to in $((t1 - t0)) ms, keys on it $keys0 -> $keys1"
else
	e2e_fail "reshard: $moved slots moved, want $nslots; keys on 127.0.0.1:$from $keys0 -> $keys1, want fewer"
fi
total=$(load_count 0 "$(now_ms)" 0)
wrong=$(awk '$2 != 0' "$WORK/load.log" | wc -l)
if [ "$total" -ge 5 ] && [ "$wrong" -eq 0 ]; then
	e2e_ok "reshard under load: $total sessions, every one accepted (MOVED and ASK followed)"
else
	e2e_fail "reshard under load: $total accepted, $wrong not: $(awk '$2 != 0' "$WORK/load.log" | head -n 3 | tr '\n' ' ')"
fi
for ip in $CLIENTS; do
	smtp_try --local-interface "$ip" --to user@example.com --body "after reshard"
	expect_reply mail 453 4.7.0 "" "$ip after the reshard: its counter moved with its slot: 453"
done

# A master killed: its replica takes over.
victim=$(masters | awk -v f="$from" '$1 != f' | while read -r p; do
	echo "$(slot_count "$p") $p"; done | sort -rn | awk 'NR == 1 { print $2 }')
for p in $(masters); do redis-cli -p "$p" wait 1 2000 >/dev/null; done
load_start
e2e_wait 60 load_since 0 3 || e2e_fail "the load ran no 3 sessions in 60 s"
vslots=$(slot_count "$victim")
tk=$(now_ms)
kill -9 "$(fleet_pid "$victim")"
e2e_note "killed the master on 127.0.0.1:$victim ($vslots slots)"
e2e_wait 60 sh -c "redis-cli -p $from cluster nodes | grep ':$victim@' | grep -q 'fail[^?]' &&
	redis-cli -p $from cluster info | grep -q cluster_state:ok" ||
	e2e_fail "the cluster did not cover every slot again within 60 s"
tf=$(now_ms)
# until 3 sessions in a row after it are accepted (the check below)
e2e_wait 60 load_settled "$tf" 3
load_stop
back=$(load_back "$tk")
errs=$(load_count "$tk" "$(now_ms)" 23)
bad=$(load_bad 0 "$(now_ms)")
e2e_note "master killed: $errs sessions answered by on_error (451); the replica took over after $((tf - tk)) ms; the last on_error answer $((back - tk)) ms after the kill"
if [ "$bad" -eq 0 ]; then
	e2e_ok "no MTA timeout, no dropped session: every session accepted or 451 by on_error"
else
	e2e_fail "sessions neither accepted nor on_error's 451, got $bad: $(awk '$2 != 0 && $2 != 23' "$WORK/load.log" | head -n 3 | tr '\n' ' ')"
fi
last=$(tail -n 3 "$WORK/load.log" | awk '$2 != 0' | wc -l)
if [ "$last" -eq 0 ]; then
	e2e_ok "after the failover the milter found the new master by itself"
else
	e2e_fail "after the failover: the load's last sessions, got $(tail -n 3 "$WORK/load.log" | tr '\n' ' '), want accepted"
fi
for ip in $CLIENTS; do
	smtp_try --local-interface "$ip" --to user@example.com --body "after failover"
	expect_reply mail 453 4.7.0 "" "$ip after the failover: the replicated counter is there: 453"
done
expect_log "state: redis cluster .* is unavailable" "the outage is logged"
expect_log "state: redis cluster .* answers again" "the recovery is logged"
downs=$(grep -c "is unavailable" "$MILTER_LOG")
if [ "$downs" -ge 1 ] && [ "$downs" -le 6 ]; then
	e2e_ok "the outage is logged $downs times: once per node that failed, not per message ($errs)"
else
	e2e_fail "'is unavailable' lines, got $downs, want 1 to 6 (once per node)"
fi
e2e_alive "$(milter_pid)" && e2e_ok "the milter is still running" || e2e_fail "the milter died"
pf_stop
milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"

# A seed that is not in cluster mode: said so in the log.
e2e_free_port
PLAIN=$E2E_PORT
fleet_redis "$PLAIN"
sed "s/cluster = \[ .* \];/cluster = [ \"127.0.0.1:$PLAIN\" ];/" "$WORK/policy.conf" >"$WORK/plain.conf"
milter_start "$MILTER_BIN" -f -c "$WORK/plain.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply mail 451 4.3.0 "" "a seed not in cluster mode: on_error tempfail"
expect_log "unavailable \(node 127\.0\.0\.1:$PLAIN: CLUSTER SLOTS refused: is this node in cluster mode" \
	"the log says the seed is not in cluster mode"
pf_stop
milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"
e2e_done
