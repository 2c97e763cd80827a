#!/bin/sh
# Counters on a Redis Sentinel set through a real Postfix: a master, a
# replica and three sentinels on loopback ports.  The milter asks the
# sentinels for the master and confirms it with ROLE.  Under a steady load,
# first SENTINEL FAILOVER (the master demoted to a replica: READONLY), then
# the master killed: each time the milter finds the new master by itself,
# logs the new address once, answers by on_error meanwhile (counted here),
# never makes the MTA time out, and the counters written and replicated
# before are still there.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=fleet.sh
. "$(dirname "$0")/fleet.sh"

e2e_init sentinel

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
command -v redis-server >/dev/null || e2e_die "redis-server is not installed (make check installs it)"

e2e_free_port
MPORT=$E2E_PORT
e2e_free_port
RPORT=$E2E_PORT
fleet_redis "$MPORT" --replica-announce-ip 127.0.0.1
fleet_redis "$RPORT" --replicaof 127.0.0.1 "$MPORT" --replica-announce-ip 127.0.0.1
e2e_wait 30 sh -c "redis-cli -p $RPORT info replication | grep -q master_link_status:up" ||
	e2e_die "the replica did not sync with the master"

SPORTS=
for _n in 1 2 3; do
	e2e_free_port
	SPORTS="$SPORTS $E2E_PORT"
	cat >"$WORK/sentinel-$E2E_PORT.conf" <<EOF2
port $E2E_PORT
bind 127.0.0.1
dir $WORK
sentinel announce-ip 127.0.0.1
sentinel monitor mymaster 127.0.0.1 $MPORT 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 1
EOF2
	redis-server "$WORK/sentinel-$E2E_PORT.conf" --sentinel \
		>"$WORK/sentinel-$E2E_PORT.log" 2>&1 &
	e2e_track $!
done
set -- $SPORTS
S1=$1
sentinel_master() { # the address the first sentinel names
	redis-cli -p "$S1" sentinel get-master-addr-by-name mymaster 2>/dev/null | tr '\n' ':' | sed 's/:$//'
}
sentinels_ready() { # every sentinel knows the replica and the two others
	for _s in $SPORTS; do
		redis-cli -p "$_s" sentinel master mymaster 2>/dev/null |
			awk 'p == "num-slaves" && $1 < 1 { bad = 1 } p == "num-other-sentinels" && $1 < 2 { bad = 1 } { p = $1 } END { exit bad || !NR }' ||
			return 1
	done
}
e2e_wait 60 sentinels_ready || e2e_die "the sentinels did not find each other and the replica"
e2e_ok "master 127.0.0.1:$MPORT, replica 127.0.0.1:$RPORT, sentinels on$SPORTS"

SLIST=
for _s in $SPORTS; do SLIST="$SLIST${SLIST:+, }\"127.0.0.1:$_s\""; done
cat >"$WORK/policy.conf" <<EOF2
state = { backend = "redis"; on_error = "tempfail";
  redis = { sentinels = [ $SLIST ]; master = "mymaster"; prefix = "e2e:"; }; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "load"; when = { sender = "load@client.e2e.test"; };
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "1000000/1h"; }; },
  { name = "client-msgs"; unless = { sender = "load@client.e2e.test"; };
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "3/1h"; }; }
);
EOF2

sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

for n in 1 2 3; do
	smtp_try --local-interface 127.0.0.4 --to user@example.com --body "message $n"
	expect_reply eom 250 2.0.0 "" "127.0.0.4 message $n of 3/1h: queued"
done
expect_log "state: redis sentinel master mymaster is at 127\.0\.0\.1:$MPORT" \
	"the master the sentinels name is logged"

# failover WHAT NEWPORT CMD...: run CMD under load; the milter must follow.
failover() {
	_what=$1
	_new=$2
	shift 2
	redis-cli -p "$(sentinel_master | sed 's/.*://')" wait 1 2000 >/dev/null
	load_start
	e2e_wait 60 load_since 0 3 || e2e_fail "$_what: the load ran no 3 sessions in 60 s"
	_t0=$(now_ms)
	"$@"
	e2e_wait 60 sh -c "[ \"\$(redis-cli -p $S1 sentinel get-master-addr-by-name mymaster 2>/dev/null | tail -n 1)\" = $_new ]" ||
		e2e_fail "$_what: the sentinels did not name 127.0.0.1:$_new within 60 s"
	_ts=$(now_ms)
	e2e_wait 30 sh -c "grep -q 'mymaster is now at 127.0.0.1:$_new' '$MILTER_LOG'"
	# until 3 sessions in a row after it are accepted (the check below)
	e2e_wait 60 load_settled "$_ts" 3
	load_stop
	_back=$(load_back "$_t0")
	_errs=$(load_count "$_t0" "$(now_ms)" 23)
	_bad=$(load_bad 0 "$(now_ms)")
	e2e_note "$_what: sentinels switched after $((_ts - _t0)) ms; $_errs sessions answered by on_error (451); the last on_error answer $((_back - _t0)) ms after the start"
	if [ "$_bad" -eq 0 ]; then
		e2e_ok "$_what: no MTA timeout, no dropped session: accepted or on_error's 451"
	else
		e2e_fail "$_what: sessions neither accepted nor 451, got $_bad: $(awk '$2 != 0 && $2 != 23' "$WORK/load.log" | head -n 3 | tr '\n' ' ')"
	fi
	_tail=$(tail -n 3 "$WORK/load.log" | awk '$2 != 0' | wc -l)
	if [ "$_tail" -eq 0 ]; then
		e2e_ok "$_what: the milter uses the new master 127.0.0.1:$_new by itself"
	else
		e2e_fail "$_what: the load's last sessions, got $(tail -n 3 "$WORK/load.log" | tr '\n' ' '), want accepted"
	fi
	if [ "$(grep -c "mymaster is now at 127.0.0.1:$_new" "$MILTER_LOG")" -eq 1 ]; then
		e2e_ok "$_what: the new address is logged once"
	else
		e2e_fail "$_what: 'is now at 127.0.0.1:$_new' lines, got $(grep -c "mymaster is now at 127.0.0.1:$_new" "$MILTER_LOG"), want 1"
	fi
}

sentinel_failover() { redis-cli -p "$S1" sentinel failover mymaster >/dev/null; }
failover "SENTINEL FAILOVER" "$RPORT" sentinel_failover
smtp_try --local-interface 127.0.0.4 --to user@example.com --body "message 4"
expect_reply mail 453 4.7.0 "3 per 1 h" \
	"after SENTINEL FAILOVER: the replicated counter holds: 453"

# The old master is a replica now; wait for it to sync, then kill the master.
e2e_wait 60 sh -c "redis-cli -p $MPORT info replication | grep -q master_link_status:up" ||
	e2e_fail "the old master did not become a replica"
e2e_wait 60 sentinels_ready || e2e_fail "the sentinels did not see the new replica"
failover "master killed" "$MPORT" kill -9 "$(fleet_pid "$RPORT")"
smtp_try --local-interface 127.0.0.4 --to user@example.com --body "message 5"
expect_reply mail 453 4.7.0 "3 per 1 h" \
	"after the master was killed: the replicated counter holds: 453"
smtp_try --local-interface 127.0.0.5 --to user@example.com
expect_reply eom 250 2.0.0 "" "another client on the new master: queued"
expect_log "state: redis sentinel master mymaster is unavailable" "the outage is logged"
expect_log "state: redis sentinel master mymaster answers again" "the recovery is logged"
expect_no_log "timeout" "no timeout in the milter's log"
if grep -q "milter.*timeout\|milter.*not responding" "$PF_LOG" 2>/dev/null; then
	e2e_fail "Postfix logged a milter timeout: $(grep -m 1 'milter.*timeout' "$PF_LOG")"
else
	e2e_ok "Postfix logged no milter timeout"
fi
e2e_alive "$(milter_pid)" && e2e_ok "the milter is still running" || e2e_fail "the milter died"
pf_stop
milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"

# A master name the sentinels do not know: said so in the log.
sed 's/master = "mymaster"/master = "nosuch"/' "$WORK/policy.conf" >"$WORK/nosuch.conf"
milter_start "$MILTER_BIN" -f -c "$WORK/nosuch.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"
smtp_try --local-interface 127.0.0.6 --to user@example.com
expect_reply mail 451 4.3.0 "" "an unknown master name: on_error tempfail"
expect_log "the sentinels do not know that master name" "the log says the name is unknown"
pf_stop
milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"
e2e_done
