#!/bin/sh
# Greylisting through a real Postfix: the first attempt of a triplet gets
# 451 4.7.1 with the delay, a retry too early is refused again, a retry
# after the delay is accepted, and the triplet then passes at once; a
# client on a DNS allow list (a private dnsmasq) is not greylisted; ctl
# shows and resets an entry.  Then the same on Redis with two milter
# processes in turn sharing one private redis-server.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-dns.sh
. "$(dirname "$0")/lib-dns.sh"

e2e_init greylist

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

DELAY=12	# seconds: the retry "too early" comes after a milter restart (Redis);
		# 12 s, not 6: a margin for a slow restart on a busy box

cat >"$WORK/zones" <<'EOF2'
local=/wl.e2e.test/
host-record=6.0.0.127.wl.e2e.test,127.0.0.2
EOF2
dns_auth_start "$WORK/zones"

write_policy() { # STATE-GROUP
	cat >"$WORK/policy.conf" <<EOF2
milter = { control_socket = "$WORK/ctl.sock"; };
state = $1;
dns = { servers = [ "127.0.0.1:$DNS_AUTH_PORT" ]; timeout = "2s"; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "grey"; unless = { dnswl = "wl.e2e.test"; };
    greylist = { delay = "${DELAY}s"; retry_window = "1h"; pass_for = "1d"; }; }
);
EOF2
}

# greylist_round CLIENT WHAT: the whole cycle for one client
greylist_round() {
	smtp_try --local-interface "$1" --to user@example.com
	t0=$(date +%s)	# the entry was made before the session ended
	expect_reply rcpt 451 4.7.1 "Greylisted nothing wrong retries by itself after $DELAY s" \
		"$2: the first attempt gets 451 4.7.1 with the delay"
	smtp_try --local-interface "$1" --to user@example.com
	expect_reply rcpt 451 4.7.1 "Greylisted" "$2: a retry too early is refused again"
	while [ $(($(date +%s) - t0)) -le "$DELAY" ]; do e2e_sleep 0.5; done
	smtp_try --local-interface "$1" --to user@example.com
	expect_reply eom 250 2.0.0 "" "$2: a retry after the delay is accepted"
	smtp_try --local-interface "$1" --to user@example.com
	expect_reply eom 250 2.0.0 "" "$2: then the triplet passes at once"
}

write_policy '{ file = ""; }'
sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

greylist_round 127.0.0.4 memory
expect_log "tempfail stage=rcpt rule=grey code=451 xcode=4\.7\.1 .* greylist=new retry_after=$DELAY" \
	"milter log: the decision line names greylisting (new)"
expect_log "tempfail stage=rcpt rule=grey .* greylist=early retry_after=[0-9]+" \
	"milter log: ... and the early retry"
kill -USR2 "$(milter_pid)"
expect_log "stats: .* greylisted=2" "the stats line counts the greylisted attempts"

smtp_try --local-interface 127.0.0.6 --to user@example.com
expect_reply eom 250 2.0.0 "" "a client on the DNS allow list skips greylisting"

# ctl: show and reset an entry
smtp_try --local-interface 127.0.0.5 --to user@example.com
expect_reply eom 250 2.0.0 "" "127.0.0.5, same /24 (the triplet's client network): passes"
key="127.0.0.0/24,sender@client.e2e.test,user@example.com"
out=$("$MILTER_BIN" ctl -c "$WORK/policy.conf" show grey "$key" 2>&1)
case "$out" in
*"greylist=passed"*) e2e_ok "ctl show: the triplet of 127.0.0.0/24 has passed" ;;
*) e2e_fail "ctl show grey $key, got \"$out\", want greylist=passed" ;;
esac
out=$("$MILTER_BIN" ctl -c "$WORK/policy.conf" reset grey "$key" 2>&1)
case "$out" in
"ok reset"*) e2e_ok "ctl reset: the entry is forgotten" ;;
*) e2e_fail "ctl reset grey $key, got \"$out\"" ;;
esac
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply rcpt 451 4.7.1 "Greylisted" "after ctl reset the triplet is greylisted again"

# Redis, two milter processes in turn
e2e_redis_start
write_policy "{ backend = \"redis\"; redis = { server = \"127.0.0.1:$REDISPORT\"; prefix = \"e2e:\"; timeout = \"200ms\"; }; }"
milter_stop
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
smtp_try --local-interface 127.0.0.7 --to user@example.com
t0=$(date +%s)
expect_reply rcpt 451 4.7.1 "Greylisted after $DELAY s" "redis, milter A: the first attempt gets 451 4.7.1"
milter_stop
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
smtp_try --local-interface 127.0.0.7 --to user@example.com
expect_reply rcpt 451 4.7.1 "Greylisted" "redis, milter B: a retry too early is refused again"
while [ $(($(date +%s) - t0)) -le "$DELAY" ]; do e2e_sleep 0.5; done
smtp_try --local-interface 127.0.0.7 --to user@example.com
expect_reply eom 250 2.0.0 "" "redis, milter B: the retry after the delay is accepted"
milter_stop
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
smtp_try --local-interface 127.0.0.7 --to user@example.com
expect_reply eom 250 2.0.0 "" "redis, milter A again: the triplet passes at once"
nottl=0
for k in $(redis-cli -p "$REDISPORT" --scan --pattern 'e2e:*'); do
	[ "$(redis-cli -p "$REDISPORT" pttl "$k")" -gt 0 ] || nottl=$((nottl + 1))
done
if [ "$nottl" -eq 0 ]; then
	e2e_ok "every greylisting key in redis has a TTL"
else
	e2e_fail "$nottl greylisting keys without a TTL"
fi

e2e_done
