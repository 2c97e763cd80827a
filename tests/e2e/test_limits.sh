#!/bin/sh
# Changing a limit through a real Postfix (issue 13 §1), on the memory
# store and on Redis: 3 messages at 3/1h, raised to 5/1h by SIGUSR1: the
# next 2 pass, the one after gets 453; 5 at 5/1h lowered to 3/1h: none
# passes, and 2 of 5 lowered to 3/1h: 1 passes; 5/1h to 600/1d keeps the
# count.  The decision line, the over-limit notice and ctl show give the
# limit in force and the count.  A calendar quota of 2/day (§4) refuses
# the third message with when it resets.  Rates are per hour, so a slow machine
# never drains a unit during the test.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init limits

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
CTL="$MILTER_BIN ctl -s $WORK/ctl.sock"

e2e_redis_start

write_policy() { # BACKEND RATE
	if [ "$1" = redis ]; then
		state="state = { backend = \"redis\"; redis = { server = \"127.0.0.1:$REDISPORT\"; prefix = \"lim:\"; timeout = \"2s\"; }; };"
	else
		state="state = { file = \"$WORK/state\"; };"
	fi
	cat >"$WORK/policy.conf" <<EOF2
milter = { control_socket = "$WORK/ctl.sock"; };
$state
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "client-quota"; when = { client = "127.0.0.9"; };
    limit = { count = "messages"; per = "client_addr"; quota = "2/day";
              time_zone = "UTC"; }; },
  { name = "client-msgs";
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "$2"; }; }
);
EOF2
}

reloads() {
	grep -c "reloaded: policy" "$MILTER_LOG"
}

# reload BACKEND RATE: write the policy, SIGUSR1, wait for the log line.
reload() {
	_before=$(reloads)
	write_policy "$1" "$2"
	kill -USR1 "$(milter_pid)"
	e2e_wait 10 sh -c "[ \$(grep -c 'reloaded: policy' '$MILTER_LOG') -gt $_before ]" &&
		e2e_ok "$1: reloaded with rate $2" || e2e_fail "$1: no reload to $2 logged"
}

# send BACKEND CLIENT N: N messages from CLIENT, each queued.
send_ok() {
	_i=1
	while [ "$_i" -le "$3" ]; do
		smtp_try --local-interface "$2" --to user@example.com
		expect_reply eom 250 2.0.0 "" "$1: $2 message $_i of $3: queued"
		_i=$((_i + 1))
	done
}

refused() { # BACKEND CLIENT LIMIT DESCRIPTION
	smtp_try --local-interface "$2" --to user@example.com
	expect_reply mail 453 4.7.0 "$3 per" "$1: $2 $4: 453 with $3 per ..."
}

show() { # BACKEND CLIENT WANT
	_out=$($CTL show client-msgs "$2")
	echo "$_out" | grep -q "$3" && e2e_ok "$1: ctl show $2: $3" ||
		e2e_fail "$1: ctl show client-msgs $2, got \"$_out\", want \"$3\""
}

scenario() { # BACKEND
	write_policy "$1" 3/1h
	milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"

	send_ok "$1" 127.0.0.4 3
	refused "$1" 127.0.0.4 3 "message 4 at 3/1h"
	reload "$1" 5/1h
	send_ok "$1" 127.0.0.4 2
	refused "$1" 127.0.0.4 5 "after 3/1h raised to 5/1h, 2 passed, then"
	expect_log "tempfail stage=mail rule=client-msgs .* limit=5/1h used=5" \
		"$1: the decision line gives the limit in force and the count"
	expect_log "over-limit rule=client-msgs key=127\.0\.0\.4 limit=3/1h used=3" \
		"$1: the over-limit notice gives the limit and the count"
	show "$1" 127.0.0.4 "used=5 next=refused .* limit=5/1h"
	send_ok "$1" 127.0.0.7 5
	send_ok "$1" 127.0.0.8 2

	reload "$1" 3/1h
	refused "$1" 127.0.0.7 3 "5 used, 5/1h lowered to 3/1h: none passes"
	send_ok "$1" 127.0.0.8 1
	refused "$1" 127.0.0.8 3 "2 used, lowered to 3/1h: 1 passed, then"
	show "$1" 127.0.0.7 "used=5 next=refused .* limit=3/1h"

	reload "$1" 600/1d
	show "$1" 127.0.0.7 "used=5 next=allowed .* limit=600/1d"

	# a calendar quota: 2 a day, then 453 saying when it resets
	send_ok "$1" 127.0.0.9 2
	smtp_try --local-interface 127.0.0.9 --to user@example.com
	expect_reply mail 453 4.7.0 "Quota reached: at most 2 per day (rule client-quota) resets at 00:00 UTC, in" \
		"$1: 127.0.0.9 message 3 of 2/day: 453 with when the quota resets"
	expect_log "tempfail stage=mail rule=client-quota .* limit=2/day used=2" \
		"$1: the quota's decision line: limit=2/day used=2"
	_out=$($CTL show client-quota 127.0.0.9)
	echo "$_out" | grep -q "used=2 next=refused retry_after=[1-9][0-9]*s limit=2/day" &&
		e2e_ok "$1: ctl show client-quota: used=2, refused until midnight" ||
		e2e_fail "$1: ctl show client-quota 127.0.0.9, got \"$_out\""
	milter_stop || e2e_fail "$1: milter exit status after SIGTERM, got $?, want 0"
}

sink_start
pf_start "$MILTER_PF_SOCKET"
scenario memory
scenario redis

e2e_redis_stop
e2e_done
