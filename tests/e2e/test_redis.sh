#!/bin/sh
# Shared state on Redis through a real Postfix.  Two milter processes in
# turn (as two MX hosts would) enforce one 3/1h limit through one private
# redis-server; every key has a TTL; with Redis down, on_error decides
# (tempfail: 451 4.3.0; accept: the mail passes; local: the limit holds
# from the milter's own memory), each change is logged once, and the
# milter uses Redis again by itself when it is back.  A message counted
# by three rules costs one script call.
# shellcheck disable=SC2015 # "A && e2e_ok || e2e_fail": e2e_ok never fails
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init redis

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

write_policy() { # ON_ERROR
	cat >"$WORK/policy.conf" <<EOF2
state = { backend = "redis"; on_error = "$1";
  redis = { server = "127.0.0.1:$REDISPORT"; prefix = "e2e:"; timeout = "100ms"; }; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "client-msgs";
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "3/1h"; }; }
);
EOF2
}

# The same, with a message counted by three rules: client, network, sender.
write_policy_three() {
	write_policy tempfail
	sed -i 's|^);$|  ,{ name = "net-msgs"; limit = { count = "messages"; per = "client_net"; rate = "100/1m"; }; },\
  { name = "sender-msgs"; limit = { count = "messages"; per = "sender"; rate = "100/1m"; }; }\
);|' "$WORK/policy.conf"
}

reload() { # WHAT: SIGUSR1, and wait for this reload's line
	_n=$(grep -c "reloaded: policy" "$MILTER_LOG")
	kill -USR1 "$(milter_pid)"
	e2e_wait 10 sh -c "[ \$(grep -c 'reloaded: policy' '$MILTER_LOG') -gt $_n ]" &&
		e2e_ok "the milter reloaded the policy ($1)" ||
		e2e_fail "no \"reloaded: policy\" line after SIGUSR1 ($1)"
}

evalsha_calls() {
	redis-cli -p "$REDISPORT" info commandstats |
		sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p'
}

e2e_redis_start
write_policy tempfail
sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

for n in 1 2 3; do
	smtp_try --local-interface 127.0.0.4 --to user@example.com
	expect_reply eom 250 2.0.0 "" "milter A: 127.0.0.4 message $n of 3/1h: queued"
done

# Another milter process, with an empty memory of its own: the count is
# in Redis.
milter_stop || e2e_fail "milter A exit status after SIGTERM, got $?, want 0"
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply mail 453 4.7.0 "3 per 1 h try again in" \
	"milter B: 127.0.0.4 message 4 gets 453 4.7.0: the limit is shared"
smtp_try --local-interface 127.0.0.5 --to user@example.com
expect_reply eom 250 2.0.0 "" "milter B: 127.0.0.5 is another counter: queued"

# Every key the milter wrote expires.
keys=$(redis-cli -p "$REDISPORT" --scan --pattern 'e2e:*' | wc -l)
nottl=0
for k in $(redis-cli -p "$REDISPORT" --scan --pattern 'e2e:*'); do
	[ "$(redis-cli -p "$REDISPORT" pttl "$k")" -gt 0 ] || nottl=$((nottl + 1))
done
if [ "$keys" -ge 2 ] && [ "$nottl" -eq 0 ]; then
	e2e_ok "redis holds $keys keys under the prefix, every one with a TTL"
else
	e2e_fail "redis keys under e2e:, got $keys keys and $nottl without TTL, want >= 2 and 0"
fi

# A message counted by three rules costs one script call: the stage's
# limit rules go to Redis in one round trip (three, one a rule, before).
write_policy_three
"$MILTER_BIN" -t -c "$WORK/policy.conf" >/dev/null 2>&1 ||
	e2e_fail "the three-rule policy does not load: $("$MILTER_BIN" -t -c "$WORK/policy.conf" 2>&1)"
reload "three limit rules"
before=$(evalsha_calls)
smtp_try --local-interface 127.0.0.9 --to user@example.com
expect_reply eom 250 2.0.0 "" "three limit rules: 127.0.0.9 queued"
calls=$(($(evalsha_calls) - before))
[ "$calls" = 1 ] && e2e_ok "three limit rules at MAIL: one EVALSHA on Redis" ||
	e2e_fail "three limit rules at MAIL: $calls EVALSHA calls, want 1"
for k in net-msgs sender-msgs; do
	[ -n "$(redis-cli -p "$REDISPORT" --scan --pattern "e2e:$k:*")" ] &&
		e2e_ok "three limit rules: $k counted in the same call" ||
		e2e_fail "three limit rules: no $k key in Redis"
done
write_policy tempfail
reload "back to one rule"

# Redis down, on_error = tempfail.
e2e_redis_stop
smtp_try --local-interface 127.0.0.6 --to user@example.com
expect_reply mail 451 4.3.0 "" "redis down, on_error tempfail: 451 4.3.0"
smtp_try --local-interface 127.0.0.6 --to user@example.com
expect_reply mail 451 4.3.0 "" "redis still down: 451 4.3.0 again"
expect_log "state: redis 127\.0\.0\.1:$REDISPORT is unavailable" \
	"milter log: the store failure is logged"
if [ "$(grep -c 'is unavailable' "$MILTER_LOG")" -eq 1 ]; then
	e2e_ok "the failure is logged once, not per message"
else
	e2e_fail "'is unavailable' lines, got $(grep -c 'is unavailable' "$MILTER_LOG"), want 1"
fi
kill -USR2 "$(milter_pid)"
expect_log "stats: .* store_calls=[1-9][0-9]* store_errors=[1-9][0-9]* store_us\.p50=[0-9]+ " \
	"SIGUSR2: the stats line counts the store's calls, its errors and latency"

# Back up: the milter uses it again by itself.
e2e_redis_start
# Its backoff (at most 5 s) may still hold: a message a second, 10 at most.
_k=0
while [ "$_k" -lt 10 ]; do
	_k=$((_k + 1))
	e2e_sleep 1
	smtp_try --local-interface 127.0.0.6 --to user@example.com
	[ -n "$(try_reply eom)" ] && break
done
expect_reply eom 250 2.0.0 "" "redis back: the milter reconnected by itself"
expect_log "state: redis 127\.0\.0\.1:$REDISPORT answers again" \
	"milter log: the recovery is logged"

# on_error = accept, by reload: with Redis down the mail passes, logged.
write_policy accept
reload "on_error accept"
e2e_redis_stop
smtp_try --local-interface 127.0.0.7 --to user@example.com
expect_reply eom 250 2.0.0 "" "redis down, on_error accept: the mail passes"
expect_log "error stage=mail rule=client-msgs .*on_error=accept" \
	"milter log: the error and on_error=accept"

# on_error = local (a restart: the fallback store is made at start): with
# Redis still down, this milter enforces the limit from its own memory.
write_policy local
milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
for n in 1 2 3; do
	smtp_try --local-interface 127.0.0.8 --to user@example.com
	expect_reply eom 250 2.0.0 "" "redis down, on_error local: 127.0.0.8 message $n of 3/1h: queued"
done
smtp_try --local-interface 127.0.0.8 --to user@example.com
expect_reply mail 453 4.7.0 "3 per 1 h" \
	"redis down, on_error local: message 4 gets 453 4.7.0 from the memory fallback"
expect_log "unavailable .*counting in this milter's memory" \
	"milter log: the fallback to memory is logged"
before=$(grep -c "stats:" "$MILTER_LOG")
kill -USR2 "$(milter_pid)"
e2e_wait 15 sh -c "[ \$(grep -c 'stats:' '$MILTER_LOG') -gt $before ]"
last=$(grep "stats:" "$MILTER_LOG" | tail -n 1)
echo "$last" | grep -Eq "store_errors=[1-9]" &&
	e2e_ok "on_error local: the stats line still counts Redis' failures" ||
	e2e_fail "on_error local: stats line \"$last\", want store_errors above 0"

pf_stop
milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"
e2e_done
