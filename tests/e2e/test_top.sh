#!/bin/sh
# milter-policy ctl top [RULE] [-n N]: the counters over or nearest their
# limit, with the memory store and with Redis.  Three clients through a
# private Postfix use 3, 2 and 1 of a 3/1h limit (the first is refused
# once); top lists them in that order with used/limit and next, -n and a
# rule filter narrow it, a reset drops the first, bad arguments are errors.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init top

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

write_policy() {	# STATE_GROUP
	cat >"$WORK/policy.conf" <<EOF2
milter = { stats_interval = 0; control_socket = "$WORK/ctl.sock"; };
state = $1;
rules = (
  { name = "client-msgs";
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "3/1h"; }; },
  { name = "sender-msgs"; action = "continue";
    limit = { count = "messages"; per = [ "sender" ]; rate = "100/1h"; }; }
);
EOF2
}
ctl() {	# ARGS...: the answer in $WORK/ctl.txt, the exit status returned
	"$MILTER_BIN" ctl -c "$WORK/policy.conf" "$@" >"$WORK/ctl.txt" 2>&1
}
expect_lines() {	# DESC EXPECTED (the answer's lines, cut after next=)
	_got=$(sed -E 's/ retry_after=[0-9]+s$//' "$WORK/ctl.txt")
	if [ "$_got" = "$2" ]; then
		e2e_ok "$1"
	else
		e2e_fail "$1: got
$_got
want
$2"
	fi
}
traffic() {	# BACKEND
	for c in 61 61 61 61; do
		smtp_try --local-interface "127.0.0.$c" --from "s$c@client.e2e.test" --to user@example.com
	done
	expect_reply mail 453 4.7.0 "" "$1: 127.0.0.61's 4th message: 453"
	for c in 62 62 63; do
		smtp_try --local-interface "127.0.0.$c" --from "s$c@client.e2e.test" --to user@example.com
	done
	expect_reply eom 250 - "" "$1: 127.0.0.63's message goes through"
}
check_top() {	# BACKEND
	ctl top client-msgs
	expect_lines "$1: top client-msgs, nearest the limit first" "ok top:
client-msgs 127.0.0.61 used=3/3 rate=3/1h next=refused
client-msgs 127.0.0.62 used=2/3 rate=3/1h next=allowed
client-msgs 127.0.0.63 used=1/3 rate=3/1h next=allowed"
	ctl top -n 1
	expect_lines "$1: top -n 1, over all rules" "ok top:
client-msgs 127.0.0.61 used=3/3 rate=3/1h next=refused"
	ctl top sender-msgs -n 2
	expect_lines "$1: top sender-msgs -n 2" "ok top:
sender-msgs s61@client.e2e.test used=3/100 rate=100/1h next=allowed
sender-msgs s62@client.e2e.test used=2/100 rate=100/1h next=allowed"
	ctl reset client-msgs 127.0.0.61
	ctl top client-msgs -n 1
	expect_lines "$1: after a reset of 127.0.0.61, 127.0.0.62 comes first" "ok top:
client-msgs 127.0.0.62 used=2/3 rate=3/1h next=allowed"
	ctl top no-such-rule
	expect_lines "$1: a rule with no counter" "ok top: no counter in use for rule no-such-rule"
	if ctl top -n 0; then
		e2e_fail "$1: top -n 0 exit 0"
	else
		expect_lines "$1: top -n 0 is an error" "error -n takes 1 to 100"
	fi
	if ctl top client-msgs -n 1 extra; then
		e2e_fail "$1: top with a word too many: exit 0: $(cat "$WORK/ctl.txt")"
	else
		expect_lines "$1: top with a word too many is an error, not a listing" \
			"error usage: top [RULE] [-n N]"
	fi
}

sink_start
write_policy '{ file = ""; }'
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"
traffic memory
check_top memory
milter_stop

e2e_redis_start
write_policy "{ backend = \"redis\"; redis = { server = \"127.0.0.1:$REDISPORT\"; prefix = \"top:\"; }; }"
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
traffic redis
check_top redis
pf_stop
milter_stop
e2e_redis_stop
e2e_done
