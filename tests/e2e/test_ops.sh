#!/bin/sh
# Operations through a real Postfix: socket mode and group, privileges
# dropped to milter.user, a second instance refused on a live socket,
# SIGUSR1 with a changed limit (counters kept) and with a broken file (old
# policy kept), dry-run letting a relay attempt through, and `try` giving
# the live verdict without charging, and ctl show/reset/stats over the
# control socket (refused to another user); SIGTERM stops it within 3 s,
# idle or with a connection open, and cleanly when it comes during start-up.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init ops

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
SOCK=${MILTER_SOCKET#unix:}
mkdir -p "$WORK/state" && chown nobody "$WORK/state"

write_policy() { # RATE MODE
	cat >"$WORK/policy.conf" <<EOF2
milter = { user = "nobody"; socket_mode = "0660"; socket_group = "postfix"; mode = "$2";
  control_socket = "$WORK/ctl.sock"; };
state = { file = "$WORK/state/counters"; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "client-msgs";
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "$1"; }; }
);
EOF2
}

write_policy 3/1h enforce
sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

# The socket: mode 0660, group postfix; the process: user nobody.
got=$(stat -c '%a %G' "$SOCK")
[ "$got" = "660 postfix" ] && e2e_ok "the socket is mode 0660, group postfix" ||
	e2e_fail "socket mode and group, got \"$got\", want \"660 postfix\""
uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$(milter_pid)/status")
want=$(id -u nobody)
[ "$uid" = "$want $want $want $want" ] && e2e_ok "the milter runs as nobody (real, effective, saved uid $want)" ||
	e2e_fail "the milter's uids, got \"$uid\", want all $want"

smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply eom 250 2.0.0 "" "Postfix reaches the 0660 socket through its group: queued"

# A second instance on the same, live socket is refused.
"$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET" >"$WORK/second.log" 2>&1 </dev/null &
second=$!
if e2e_wait 5 e2e_dead "$second"; then
	wait "$second"; rc=$?
	if [ "$rc" -ne 0 ] && grep -q "another milter answers on" "$WORK/second.log"; then
		e2e_ok "a second milter on the live socket exits $rc and says why"
	else
		e2e_fail "a second milter on the live socket, exit $rc, said: $(tail -n 1 "$WORK/second.log")"
	fi
else
	kill "$second"
	e2e_fail "a second milter on the live socket kept running"
fi
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply eom 250 2.0.0 "" "the first milter still serves: message 2 of 3 queued"

# SIGUSR1 with a lower limit: it applies at once, and the count so far
# (2 messages) is kept, so the 3rd is over 2/1h.  (Rates an hour: no
# count drains while a busy machine runs the steps.)
write_policy 2/1h enforce
kill -USR1 "$(milter_pid)"
expect_log "reloaded: policy" "SIGUSR1: the milter reloaded"
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply mail 453 4.7.0 "2 per 1 h" "after the reload: 2/1h, and the 2 messages sent still count: 453"

# SIGUSR1 with a broken file: logged with FILE:LINE, old policy kept.
printf 'rules = ( { name = "x"; whne = { }; } );\n' >"$WORK/policy.conf"
kill -USR1 "$(milter_pid)"
expect_log "policy\.conf:1: unknown setting \"whne\"" "a broken policy: the error is logged with FILE:LINE"
expect_log "is not valid; keeping the policy in force" "a broken policy: the old one stays"
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply mail 453 4.7.0 "" "the old policy still enforces 2/1h"

# ctl: see why 127.0.0.4 is refused, unblock it now; nobody else may ask.
CTL="$MILTER_BIN ctl -s $WORK/ctl.sock"
got=$(stat -c '%a %U' "$WORK/ctl.sock")
[ "$got" = "600 nobody" ] && e2e_ok "the control socket is mode 600, owned by milter.user" ||
	e2e_fail "the control socket is \"$got\", want \"600 nobody\""
out=$($CTL show client-msgs 127.0.0.4)
echo "$out" | grep -q "^ok rule=client-msgs key=127.0.0.4 used=2 next=refused" &&
	e2e_ok "ctl show: 127.0.0.4 has used 2 and is refused" ||
	e2e_fail "ctl show client-msgs 127.0.0.4, got \"$out\""
out=$($CTL stats)
echo "$out" | grep -Eq "^ok stats: connections=[1-9].* store_calls=[1-9][0-9]* store_errors=0 store_us\.p50=[0-9]+ store_us\.p90=[0-9]+ store_us\.p99=[0-9]+ store_us\.max=[0-9]+ .*code\.453=[1-9]" &&
	e2e_ok "ctl stats: the stats line with store calls, latency and refusals" ||
	e2e_fail "ctl stats, got \"$out\""
out=$($CTL reload); rc=$?
[ "$rc" -eq 1 ] && echo "$out" | grep -q "^error the policy file is not valid" &&
	e2e_ok "ctl reload of the broken file: an error line (exit 1)" ||
	e2e_fail "ctl reload of the broken file, exit $rc, got \"$out\""
out=$($CTL frobnicate 2>&1); rc=$?
[ "$rc" -eq 1 ] && echo "$out" | grep -q "^error unknown command" &&
	e2e_ok "ctl: a bad command gets an error line (exit 1)" ||
	e2e_fail "ctl frobnicate, exit $rc, got \"$out\""
out=$(e2e_as_postfix $CTL reset client-msgs 127.0.0.4 2>&1); rc=$?
[ "$rc" -ne 0 ] && e2e_ok "ctl as the postfix user is refused (exit $rc)" ||
	e2e_fail "ctl as postfix, exit $rc, got \"$out\", want a refusal"
out=$($CTL reset client-msgs 127.0.0.4)
echo "$out" | grep -q "^ok reset" && e2e_ok "ctl reset client-msgs 127.0.0.4: ok" ||
	e2e_fail "ctl reset, got \"$out\""
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply eom 250 2.0.0 "" "after ctl reset, 127.0.0.4 is served on the next message"
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply eom 250 2.0.0 "" "127.0.0.4 message 2 after the reset: queued"

# Dry-run: a relay attempt passes and is logged as would-reject.
write_policy 2/1h dry-run
out=$($CTL reload)
echo "$out" | grep -q "^ok reloaded" && e2e_ok "ctl reload of a valid file: ok reloaded" ||
	e2e_fail "ctl reload, got \"$out\""
# Another instance (another milter socket, the same policy) leaves the
# live control socket alone and runs without one.
"$MILTER_BIN" -f -c "$WORK/policy.conf" -p "unix:$WORK/third.sock" >"$WORK/third.log" 2>&1 </dev/null &
third=$!
e2e_track "$third"
e2e_wait 15 grep -q "no control socket" "$WORK/third.log"
kill "$third"
e2e_wait 10 e2e_dead "$third"
out=$($CTL stats)
if grep -q "ctl: .* in use or not a socket; no control socket" "$WORK/third.log" &&
	echo "$out" | grep -q "^ok stats"; then
	e2e_ok "a second instance leaves the live control socket alone; it still answers"
else
	e2e_fail "a second instance and the control socket: it said \"$(tail -n 2 "$WORK/third.log")\", ctl stats then: \"$out\""
fi
smtp_try --local-interface 127.0.0.3 --to user@other.org
expect_reply rcpt 250 2.1.5 "" "dry-run: a relay attempt gets 250"
expect_log "would-reject stage=rcpt rule=relay code=550 .*rcpt=<user@other.org>" \
	"dry-run: logged as would-reject"

# try: the live verdict, read from the state file, never charged.
write_policy 2/1h enforce
milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"
out=$("$MILTER_BIN" try -c "$WORK/policy.conf" --client 127.0.0.4 --from a@b.test --rcpt user@example.com 2>&1)
echo "$out" | grep -q "453" && e2e_ok "try gives 127.0.0.4 the live verdict: 453" ||
	e2e_fail "try for 127.0.0.4, got: $(echo "$out" | tr '\n' ' '), want a 453"
for n in 1 2 3; do
	"$MILTER_BIN" try -c "$WORK/policy.conf" --client 127.0.0.5 --from a@b.test \
		--rcpt user@example.com >/dev/null 2>&1
done
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
for n in 1 2; do
	smtp_try --local-interface 127.0.0.5 --to user@example.com
	expect_reply eom 250 2.0.0 "" "after 3 tries, 127.0.0.5 still has its 2 messages: message $n queued"
done

pf_stop
milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"

# A quick stop (issue 16): SIGTERM ends an idle milter within a second
# (libmilter's listener alone took about 6 s); a connection left open
# without a command under way does not hold it either.  The bound is
# generous (3 s); the measured times are printed.
timed_stop() { # WHAT: SIGTERM the milter, wait, print the time it took
	_t0=$(date +%s%N)
	kill -TERM "$(milter_pid)"
	e2e_wait 20 e2e_dead "$(milter_pid)"
	_ms=$((($(date +%s%N) - _t0) / 1000000))
	wait "$(milter_pid)"
	_rc=$?
	E2E_MILTER_PID=
	e2e_note "$1: the milter stopped $_ms ms after SIGTERM"
	if [ "$_ms" -lt 3000 ] && [ "$_rc" = 0 ]; then
		e2e_ok "$1: SIGTERM stops it in $_ms ms (bound 3000), exit status 0"
	else
		e2e_fail "$1: SIGTERM took $_ms ms (exit status $_rc), want under 3000 and 0"
	fi
}
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
e2e_sleep 1
timed_stop "no session"
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(30)' "$SOCK" 2>/dev/null &
idle=$!
e2e_track "$idle"
e2e_sleep 1
timed_stop "an idle connection open"
kill "$idle" 2>/dev/null

# A SIGTERM that comes during start-up, as soon as the socket is there:
# a clean stop, exit status 0, the socket removed.  Until the stop
# signals were held from the first line of the start, one in ten such
# stops killed the milter half started (status 143, the socket left) or,
# since libmilter reads its stop flag without its lock, had its listener
# find the socket closed under it (status 70).  200 times, with two busy
# loops beside them to shuffle the threads.
stop_cycles() { # N: start, SIGTERM, N times; print how many went wrong
	_bad=0
	_i=0
	# as root (nobody could not remove a socket in our directory), no state
	sed "s|file = \"$WORK/state/counters\"|file = \"\"|; s|user = \"nobody\"; ||" \
	    "$WORK/policy.conf" >"$WORK/cycle.conf"
	while [ "$_i" -lt "$1" ]; do
		_i=$((_i + 1))
		rm -f "$SOCK"
		"$MILTER_BIN" -f -c "$WORK/cycle.conf" -p "$MILTER_SOCKET" \
		    >"$WORK/cycle.log" 2>&1 </dev/null &
		_pid=$!
		_n=1000
		until [ -S "$SOCK" ] || [ "$_n" = 0 ]; do
			sleep 0.01
			_n=$((_n - 1))
		done
		kill -TERM "$_pid"
		wait "$_pid"
		_rc=$?
		[ "$_rc" = 0 ] && [ ! -e "$SOCK" ] && continue
		_bad=$((_bad + 1))
		e2e_note "cycle $_i: exit status $_rc$([ -e "$SOCK" ] && echo ", socket left"); its log:" >&2
		sed 's/^/#   /' "$WORK/cycle.log" >&2
	done
	echo "$_bad"
}
for _b in 1 2; do
	sh -c 'exec yes >/dev/null' &	# a system call a line: many switches
	e2e_track $!
	eval "busy$_b=\$!"
done
bad=$(stop_cycles 200)
kill "$busy1" "$busy2" 2>/dev/null
[ "$bad" = 0 ] && e2e_ok "200 SIGTERMs during start-up: each a clean stop (status 0, socket removed)" ||
	e2e_fail "200 SIGTERMs during start-up: $bad were not a clean stop"
e2e_done
