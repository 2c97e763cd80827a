#!/bin/sh
# The milter daemon under valgrind memcheck, through a real Postfix: a
# policy with relay control, rate limits, duplicates (body and
# Message-ID), header and size rules and a dry-run rule; transactions
# accepted and refused at each stage, aborted (QUIT after RCPT, RSET), a
# client gone in the middle of DATA; ctl requests; SIGUSR1 with a new and
# with a broken policy, SIGUSR2, and SIGTERM.  Then again on the Redis
# store (a private redis-server that goes away and comes back).  valgrind
# must report no error and no definite or indirect leak either time.  Its
# suppressions (tests/e2e/valgrind.supp) may cover other libraries only,
# each with why; none is needed today.
# shellcheck disable=SC2015 # "A && e2e_ok || e2e_fail": e2e_ok never fails
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init valgrind

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
command -v valgrind >/dev/null || e2e_die "valgrind is not installed (make check installs it)"
command -v python3 >/dev/null || e2e_die "python3 is needed for the raw SMTP sessions"
command -v redis-server >/dev/null || e2e_die "redis-server is not installed (make check installs it)"

VG_LOG=$WORK/valgrind.log
VG_RC=99

write_policy() { # CLIENT-MSGS-RATE
	cat >"$WORK/policy.conf" <<EOF2
milter = { control_socket = "$WORK/ctl.sock"; };
state = { file = "$WORK/state"; save_interval = "2s"; };
lists = {
  local_domains = [ "example.com", ".example.com" ];
  trusted = [ "127.0.0.2" ];
  bad_helos = [ "localhost", "/^\\\\[?127\\\\./" ];
};
relay = { local_domains = "@local_domains"; permit = { client = "@trusted"; }; };
replies = {
  subject-refused = { code = 550; xcode = "5.7.1";
    text = [ "Subject refused by rule %{rule}.", "Write to postmaster@example.com." ]; };
};
rules = (
  { name = "trusted"; when = { client = "@trusted"; }; action = "accept"; scope = "connection"; },
  { name = "bad-helo"; when = { helo = "@bad_helos"; };
    reply = "554 5.7.1 HELO %{helo} is not a name this server accepts"; },
  { name = "bad-sender"; when = { sender_domain = "evil.test"; };
    reply = "550 5.7.1 Mail from <%{sender}> is refused"; },
  { name = "subject"; when = { header = { name = "Subject"; match = "/buy now/"; }; };
    reply = "subject-refused"; },
  { name = "big"; when = { size = ">100000"; }; stage = "eom"; reply = "552 5.3.4 Message too big for this rule"; },
  { name = "client-msgs"; when = { client = "127.0.0.4"; };
    limit = { count = "messages"; per = "client_addr"; rate = "$1"; }; },
  { name = "sender-rcpts";
    limit = { count = "recipients"; per = [ "sender" ]; rate = "200/1h"; }; },
  { name = "same-body"; when = { client = "127.0.0.7"; };
    duplicates = { of = "body"; per = [ "client_addr" ]; max = 2; window = "10m"; }; },
  { name = "same-msgid";
    duplicates = { of = "message_id"; max = 1; window = "10m"; }; },
  { name = "dry-conns"; mode = "dry-run";
    limit = { count = "connections"; per = "client_net"; rate = "3/1m"; }; }
);
EOF2
}

# raw_smtp SCRIPT: a hand-driven SMTP session (python3) for what swaks
# cannot do: RSET in the middle, or leaving in the middle of DATA.
# SCRIPT is a list of lines; "<" reads one reply, "CLOSE" hangs up.
raw_smtp() {
	printf '%s\n' "$1" >"$WORK/raw.txt"
	python3 - "$SMTPPORT" "$WORK/raw.txt" >"$WORK/raw.out" 2>&1 <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=120)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline().decode("ascii", "replace")
        print("<- " + line.rstrip())
        if len(line) < 4 or line[3] != "-":
            return
reply()
for line in open(sys.argv[2]).read().splitlines():
    if line == "<":
        reply()
    elif line == "CLOSE":
        s.close()
        sys.exit(0)
    else:
        print("-> " + line)
        s.sendall(line.encode() + b"\r\n")
PYEOF
}

# limit_of_two WHAT: 127.0.0.4 sends 2 messages (2/1h), the 3rd gets 453.
limit_of_two() {
	for n in 1 2; do
		smtp_try --local-interface 127.0.0.4 --to user@example.com
		expect_reply eom 250 2.0.0 "" "$1: message $n of 2/1h queued"
	done
	smtp_try --local-interface 127.0.0.4 --to user@example.com
	expect_reply mail 453 4.7.0 "" "$1: message 3 gets 453 4.7.0"
}

# vg_start: the milter under valgrind, its report in $VG_LOG.
vg_start() {
	milter_start valgrind --leak-check=full \
		--errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect --error-exitcode=99 \
		--num-callers=30 --log-file="$VG_LOG" \
		--suppressions="$E2E_ROOT/tests/e2e/valgrind.supp" \
		"$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
}

# vg_stop: SIGTERM, then wait for valgrind's leak check (slow).
vg_stop() {
	kill -TERM "$(milter_pid)"
	if ! e2e_wait 120 e2e_dead "$(milter_pid)"; then
		e2e_fail "the milter under valgrind still runs 120 s after SIGTERM"
		milter_stop
		return
	fi
	wait "$(milter_pid)"
	VG_RC=$?
	E2E_MILTER_PID=
}

write_policy 2/1h
"$MILTER_BIN" -t -c "$WORK/policy.conf" >"$WORK/check.txt" 2>&1 ||
	e2e_die "the test policy does not load: $(head -n 3 "$WORK/check.txt")"

sink_start
# valgrind makes the milter 20-50 times slower: Postfix must wait for it.
pf_set "milter_connect_timeout = 60s" "milter_command_timeout = 60s" \
	"milter_content_timeout = 120s" "smtpd_timeout = 120s"
vg_start
pf_start "$MILTER_PF_SOCKET"

# Accepted: a local recipient; a trusted client relaying.
smtp_try --local-interface 127.0.0.3 --to user@example.com
expect_reply eom 250 2.0.0 "" "accepted: a message to a local domain"
expect_delivered "the accepted message reached the sink"
smtp_try --local-interface 127.0.0.2 --to user@other.org
expect_reply eom 250 2.0.0 "" "accepted: a trusted client relays (scope connection)"

# Refused at each stage.
smtp_try --local-interface 127.0.0.3 --helo localhost --to user@example.com
# (Postfix gives a HELO refusal at the next command, MAIL)
expect_reply mail 554 5.7.1 "HELO localhost" "refused at HELO: 554 5.7.1"
smtp_try --local-interface 127.0.0.3 --from x@evil.test --to user@example.com
expect_reply mail 550 5.7.1 "x@evil.test" "refused at MAIL: 550 5.7.1"
smtp_try --local-interface 127.0.0.3 --to user@example.com,user@other.org,user2@example.com
expect_reply rcpt:2 550 5.7.1 "relay" "refused at RCPT: the second recipient (relay)"
expect_reply eom 250 2.0.0 "" "the other two recipients are delivered"
smtp_try --local-interface 127.0.0.3 --to user@example.com --header "Subject: Buy NOW cheap"
expect_reply eom 550 5.7.1 "subject refused" "refused at end of message: a header rule, multi-line"
head -c 150000 /dev/zero | tr '\0' 'x' | fold -w 70 >"$WORK/big.txt"
smtp_try --local-interface 127.0.0.3 --to user@example.com --body "@$WORK/big.txt"
expect_reply eom 552 5.3.4 "too big" "refused at end of message: size over 100000"
limit_of_two "rate limit"
for n in 1 2; do
	smtp_try --local-interface 127.0.0.7 --to user@example.com --body "Same body, again."
	expect_reply eom 250 2.0.0 "" "duplicates: copy $n of the body queued"
done
smtp_try --local-interface 127.0.0.7 --to user@example.com --body "Same body, again."
expect_reply eom 557 5.7.1 "" "duplicates: copy 3 of the body gets 557"
smtp_try --local-interface 127.0.0.3 --to user@example.com --header "Message-Id: <vg-1@client.e2e.test>"
expect_reply eom 250 2.0.0 "" "duplicates: a Message-ID once"
smtp_try --local-interface 127.0.0.3 --to user@example.com --header "Message-Id: <vg-1@client.e2e.test>"
expect_reply eom 557 5.7.1 "" "duplicates: the same Message-ID again gets 557"

# Aborted: QUIT after RCPT; RSET and a second transaction; gone in DATA.
smtp_try --local-interface 127.0.0.3 --to user@example.com --quit-after RCPT
expect_reply rcpt 250 - "" "aborted: QUIT after RCPT"
raw_smtp "EHLO raw.e2e.test
<
MAIL FROM:<raw@client.e2e.test>
<
RCPT TO:<user@example.com>
<
RSET
<
MAIL FROM:<raw@client.e2e.test>
<
RCPT TO:<user@example.com>
<
DATA
<
Subject: after RSET

body
.
<
QUIT
<"
grep -q '^<- 250 2\.0\.0' "$WORK/raw.out" &&
	e2e_ok "RSET, then a second transaction on the same session: queued" ||
	e2e_fail "after RSET, got $(tail -n 3 "$WORK/raw.out" | tr '\n' ' '), want 250 2.0.0"
raw_smtp "EHLO raw.e2e.test
<
MAIL FROM:<raw@client.e2e.test>
<
RCPT TO:<user@example.com>
<
DATA
<
Subject: never finished

half a body
CLOSE"
grep -q '^<- 354' "$WORK/raw.out" && e2e_ok "a client hangs up in the middle of DATA" ||
	e2e_fail "hang-up in DATA, got $(tail -n 2 "$WORK/raw.out" | tr '\n' ' ')"

# ctl, SIGUSR2, and SIGUSR1 with a new and with a broken policy.
CTL="$MILTER_BIN ctl -s $WORK/ctl.sock"
$CTL stats | grep -q '^ok stats: ' && e2e_ok "ctl stats" || e2e_fail "ctl stats failed"
$CTL show client-msgs 127.0.0.4 | grep -q '^ok rule=client-msgs' && e2e_ok "ctl show" ||
	e2e_fail "ctl show client-msgs 127.0.0.4 failed"
$CTL reset client-msgs 127.0.0.4 | grep -q '^ok reset' && e2e_ok "ctl reset" ||
	e2e_fail "ctl reset client-msgs 127.0.0.4 failed"
kill -USR2 "$(milter_pid)"
expect_log "stats: " "SIGUSR2: the stats line"
write_policy 5/1h
kill -USR1 "$(milter_pid)"
e2e_wait 20 grep -q "reloaded: policy" "$MILTER_LOG"
expect_log "reloaded: policy" "SIGUSR1: the new policy is in force"
for n in 1 2 3; do
	smtp_try --local-interface 127.0.0.4 --to user@example.com
	expect_reply eom 250 2.0.0 "" "after reset and reload: 127.0.0.4 message $n of 5/1h queued"
done
printf 'rules = ( { name = "x"; whne = { }; } );\n' >"$WORK/policy.conf"
kill -USR1 "$(milter_pid)"
e2e_wait 20 grep -q "is not valid; keeping the policy" "$MILTER_LOG"
expect_log "is not valid; keeping the policy in force" "SIGUSR1 with a broken file: the old policy stays"
smtp_try --local-interface 127.0.0.3 --to user@other.org
expect_reply rcpt 550 5.7.1 "relay" "the old policy still refuses relaying"
e2e_sleep 3	# a save by the saver thread

pf_stop
vg_stop
[ -s "$WORK/state" ] && e2e_ok "SIGTERM saved the state file" ||
	e2e_fail "state file after SIGTERM, got none, want one"
expect_log "stopping: policy" "the milter logged its stop"

# vg_check WHAT: the summaries valgrind wrote at exit.
vg_check() {
	errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$VG_LOG" | tail -n 1)
	if [ "$VG_RC" -eq 0 ] && [ "${errors:-x}" = 0 ]; then
		e2e_ok "valgrind, $1: ERROR SUMMARY: 0 errors (no invalid access, no uninitialised value, no leak), exit 0"
	else
		e2e_fail "valgrind, $1: exit status $VG_RC (99: errors found), ERROR SUMMARY ${errors:-missing}"
	fi
	lost=$(grep -E '(definitely|indirectly) lost: [1-9]' "$VG_LOG" | sed 's/^==[0-9]*== *//' | tr '\n' ' ')
	if [ -z "$lost" ] && grep -qE 'LEAK SUMMARY|All heap blocks were freed' "$VG_LOG"; then
		e2e_ok "valgrind, $1: no definite or indirect leak"
	else
		e2e_fail "valgrind, $1: leaks, got ${lost:-no leak summary}, want none"
	fi
	[ "$E2E_FAIL" -eq 0 ] || E2E_TAIL_LINES=80 e2e_tail "valgrind log" "$VG_LOG"
}
vg_check "memory store"

# ------------------------------------------------ the same on Redis

# The Redis store, its connection pool and its failures: a private
# redis-server that goes away and comes back.
e2e_redis_start
write_policy 2/1h
sed -i "s|^state = .*|state = { backend = \"redis\"; redis = { server = \"127.0.0.1:$REDISPORT\"; timeout = \"500ms\"; }; };|" \
	"$WORK/policy.conf"
VG_LOG=$WORK/valgrind-redis.log
vg_start
pf_start "$MILTER_PF_SOCKET"
limit_of_two "redis, rate limit"
smtp_try --local-interface 127.0.0.7 --to user@example.com --body "Same body on Redis."
expect_reply eom 250 2.0.0 "" "redis: a body fingerprint counted"
e2e_redis_stop
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply mail 451 4.3.0 "" "redis down: 451 4.3.0"
e2e_redis_start
for n in 1 2 3 4 5 6 7; do	# its backoff is at most 5 s
	smtp_try --local-interface 127.0.0.5 --to user@example.com
	[ -n "$(try_reply eom)" ] && break
	e2e_sleep 1
done
expect_reply eom 250 2.0.0 "" "redis back: the milter reconnected by itself"
kill -USR1 "$(milter_pid)"
e2e_wait 20 grep -q "reloaded: policy" "$MILTER_LOG"
$CTL show client-msgs 127.0.0.4 | grep -q '^ok rule=client-msgs' && e2e_ok "redis: ctl show" ||
	e2e_fail "redis: ctl show client-msgs 127.0.0.4 failed"
pf_stop
vg_stop
vg_check "redis store"
e2e_done
