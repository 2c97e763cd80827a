#!/bin/sh
# Per-key limits from a table through a real Postfix (issue 13 §2), on the
# memory store and on Redis: a sender rule at 1/1h with entries for an
# address (3/1h), a domain (2/1h) and a suspended address (0); a client
# rule at 2/1h with a host at 0 and a network unlimited.  Then the
# address's entry is raised and reloaded (its count carries over), and a
# reload with a bad line or without the file keeps the policy in force.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init overrides

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
CTL="$MILTER_BIN ctl -s $WORK/ctl.sock"

e2e_redis_start

write_tables() { # ALICE_LIMIT
	cat >"$WORK/user-limits" <<EOF2
# user-limits
alice@example.com      $1
example.net            2/1h      # a whole sender domain
suspended@example.com  0         # refuse everything
EOF2
	cat >"$WORK/client-limits" <<EOF2
127.0.0.9              0
127.0.0.16/28          unlimited
EOF2
}

write_policy() { # BACKEND
	if [ "$1" = redis ]; then
		state="state = { backend = \"redis\"; redis = { server = \"127.0.0.1:$REDISPORT\"; prefix = \"ov:\"; timeout = \"2s\"; }; };"
	else
		state="state = { file = \"$WORK/state\"; };"
	fi
	cat >"$WORK/policy.conf" <<EOF2
milter = { control_socket = "$WORK/ctl.sock"; };
$state
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "client-msgs";
    limit = { count = "messages"; per = "client_addr"; rate = "2/1h";
              overrides = "file:client-limits"; }; },
  { name = "user-msgs";
    limit = { count = "messages"; per = "sender"; rate = "1/1h";
              overrides = "file:user-limits"; }; }
);
EOF2
}

# reload BACKEND WANT: SIGUSR1, wait for a new "reloaded" or "not valid".
reload() {
	_before=$(grep -c "reloaded: policy\|is not valid" "$MILTER_LOG")
	kill -USR1 "$(milter_pid)"
	e2e_wait 10 sh -c "[ \$(grep -c 'reloaded: policy\|is not valid' '$MILTER_LOG') -gt $_before ]" ||
		e2e_fail "$1: no reload logged"
}

send() { # BACKEND CLIENT FROM N: N messages queued
	_i=1
	while [ "$_i" -le "$4" ]; do
		smtp_try --local-interface "$2" --from "$3" --to user@example.com
		expect_reply eom 250 2.0.0 "" "$1: $3 from $2, message $_i of $4: queued"
		_i=$((_i + 1))
	done
}

refused() { # BACKEND CLIENT FROM WORDS DESCRIPTION
	smtp_try --local-interface "$2" --from "$3" --to user@example.com
	expect_reply mail 453 4.7.0 "$4" "$1: $3 from $2: $5"
}

show() { # BACKEND RULE KEY WANT
	_out=$($CTL show "$2" "$3")
	echo "$_out" | grep -q -- "$4" && e2e_ok "$1: ctl show $2 $3: $4" ||
		e2e_fail "$1: ctl show $2 $3, got \"$_out\", want \"$4\""
}

scenario() { # BACKEND
	b=$1
	write_tables 3/1h
	write_policy "$b"
	milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"

	send "$b" 127.0.0.20 alice@example.com 3
	refused "$b" 127.0.0.20 alice@example.com "3 per" "the address's own 3/1h, then 453"
	expect_log "tempfail stage=mail rule=user-msgs .*sender=<alice@example.com> limit=3/1h used=3" \
		"$b: the decision line gives the entry's limit"
	send "$b" 127.0.0.20 bob@example.net 2
	refused "$b" 127.0.0.20 bob@example.net "2 per" "its domain's 2/1h, then 453"
	send "$b" 127.0.0.20 carol@example.org 1
	refused "$b" 127.0.0.20 carol@example.org "1 per" "no entry: the rule's 1/1h"
	refused "$b" 127.0.0.20 suspended@example.com "0 per" "an entry of 0: refused at once"

	refused "$b" 127.0.0.9 erin@example.org "0 per" "client 127.0.0.9 has 0: refused"
	for n in 1 2 3 4; do
		send "$b" 127.0.0.21 "u$n-$b@example.org" 1
	done
	show "$b" client-msgs 127.0.0.21 "used=0 next=allowed .*limit=unlimited"
	send "$b" 127.0.0.4 "v1-$b@example.org" 1
	send "$b" 127.0.0.4 "v2-$b@example.org" 1
	refused "$b" 127.0.0.4 "v3-$b@example.org" "2 per" "a client outside the table: the rule's 2/1h"

	# raise alice's entry: her 3 still count, 2 more pass
	write_tables 5/1h
	reload "$b"
	send "$b" 127.0.0.20 alice@example.com 2
	refused "$b" 127.0.0.20 alice@example.com "5 per" "entry raised to 5/1h: 2 more passed, then 453"
	show "$b" user-msgs alice@example.com "used=5 next=refused .*limit=5/1h"

	# a bad line at reload: FILE:LINE logged, the policy stays
	printf 'alice@example.com 50/1w\n' >>"$WORK/user-limits"
	reload "$b"
	expect_log "user-limits:5: limit \"50/1w\": expected N/DURATION" \
		"$b: a bad line at reload: FILE:LINE and what to write"
	refused "$b" 127.0.0.20 alice@example.com "5 per" "the bad reload changed nothing"
	# no file at reload: the policy stays
	mv "$WORK/user-limits" "$WORK/user-limits.away"
	reload "$b"
	expect_log "cannot read overrides file .*user-limits" "$b: a missing file at reload is an error"
	refused "$b" 127.0.0.20 suspended@example.com "0 per" "the missing file changed nothing"
	mv "$WORK/user-limits.away" "$WORK/user-limits"
	milter_stop || e2e_fail "$b: milter exit status after SIGTERM, got $?, want 0"
}

# -t on a bad table: every bad line with FILE:LINE, exit 1
write_policy memory
printf 'a@b.example 5/1w\n203.0.113.5/24 0\n10.0.0.0/33 0\nlonely\n' >"$WORK/user-limits"
: >"$WORK/client-limits"
out=$("$MILTER_BIN" -t -c "$WORK/policy.conf" 2>&1); rc=$?
n=$(echo "$out" | grep -c "user-limits:[1-4]: ")
[ "$rc" = 1 ] && [ "$n" = 4 ] && echo "$out" | grep -q "write 203.0.113.0/24" &&
	e2e_ok "-t: 4 bad lines, each with FILE:LINE, exit 1" ||
	e2e_fail "-t on a bad table, exit $rc, got: $out"

sink_start
pf_start "$MILTER_PF_SOCKET"
scenario memory
scenario redis

e2e_redis_stop
e2e_done
