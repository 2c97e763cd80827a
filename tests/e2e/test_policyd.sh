#!/bin/sh
# The second front door: Postfix's SMTPD access policy delegation protocol
# (check_policy_service), through a real Postfix, with the policy of the
# scenario suite (scenarios.conf) and a few rules of its own.
#   1. smtpd_delay_reject = yes (Postfix's default): one check_policy_service
#      in smtpd_recipient_restrictions and one in
#      smtpd_end_of_data_restrictions; every row of scenarios.txt the
#      protocol can serve, the refusals of earlier stages given at RCPT.
#   2. smtpd_delay_reject = no, the service in every restriction list: a
#      connection limit at CONNECT, a HELO and a sender rule at HELO and
#      MAIL, recipient limits at RCPT, a byte limit at END-OF-MESSAGE.
#   3. The same rows through the milter door: the same codes and texts (a
#      multi-line reply's lines joined) and the same counters.
#   4. Both doors at once: each limit counted by one; duplicates by the milter.
#   5. Requests straight to the socket: IPv6, dry-run, hostile input.
#   6. Out of descriptors: the service stops accepting for a second at a
#      time instead of spinning on a listening socket it cannot accept on.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init policyd

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
command -v python3 >/dev/null || e2e_die "python3 is needed for the raw requests"

PD_SOCK=$WORK/milter/policyd.sock
CTL_SOCK=$WORK/milter/ctl.sock
{
	printf 'milter = { control_socket = "%s"; };\n' "$CTL_SOCK"
	printf 'state = { file = "%s/state"; };\n' "$WORK"
	printf 'policy_service = { listen = "unix:%s"; max_connections = 20; };\n' "$PD_SOCK"
	# scenarios.conf's rules, and ours after them
	sed '$ s/^);$/,/' "$E2E_ROOT/tests/e2e/scenarios.conf"
	cat <<'EOF'
  { name = "client-bytes"; when = { client = "127.0.0.8"; };
    limit = { count = "bytes"; per = "client_addr"; rate = "3000/1h"; }; },
  { name = "bounces"; when = { client = "127.0.0.10"; sender = "<>"; };
    limit = { count = "messages"; per = "sender"; rate = "1/1h"; }; },
  { name = "v6-net"; when = { client = "2001:db8::/32"; };
    reply = "550 5.7.1 Mail from %{client_addr} is refused"; },
  { name = "aab"; when = { client = "127.0.0.99"; sender = "/(a|a){1,17}b/"; };
    reply = "550 5.7.1 Senders with a run of a then b are not accepted here"; }
);
EOF
} >"$WORK/policy.conf"

if "$MILTER_BIN" -t -c "$WORK/policy.conf" >"$WORK/policy-check.txt" 2>&1; then
	e2e_ok "the test policy passes milter-policy -t"
else
	e2e_fail "milter-policy -t -c policy.conf, got exit status $?, want 0"
fi
if grep -q "rule same-body needs the milter: it counts duplicate messages" "$WORK/policy-check.txt" &&
	[ "$(grep -c 'needs the milter' "$WORK/policy-check.txt")" -eq 1 ]; then
	e2e_ok "-t: rule same-body (duplicates) needs the milter, and only it"
else
	e2e_fail "-t: want exactly one \"rule same-body needs the milter\" line, got: $(cat "$WORK/policy-check.txt")"
fi

# A listen path that names a file, not a socket: the milter does not start,
# and the file is left as it was (it was deleted, as root, before).
echo "precious" >"$WORK/not-a-socket"
sed "s|^policy_service = .*|policy_service = { listen = \"unix:$WORK/not-a-socket\"; };|" \
	"$WORK/policy.conf" >"$WORK/policy-file.conf"
timeout -k 5 20 "$MILTER_BIN" -f -c "$WORK/policy-file.conf" -p "$MILTER_SOCKET" \
	>"$WORK/not-a-socket.out" 2>&1 </dev/null
rc=$?
if [ "$rc" -eq 71 ] && [ "$(cat "$WORK/not-a-socket")" = precious ] &&
	grep -q "policy service: $WORK/not-a-socket is there and not a socket" "$WORK/not-a-socket.out"; then
	e2e_ok "listen names a regular file: refused (exit 71), the file kept"
else
	e2e_fail "listen names a regular file: exit $rc, file $(cat "$WORK/not-a-socket" 2>&1), log $(head -c 300 "$WORK/not-a-socket.out"); want 71, precious, the refusal"
fi

# The same policy without policy_service: the milter alone counts everything.
grep -v '^policy_service = ' "$WORK/policy.conf" >"$WORK/policy-milter.conf"

# milter_fresh PHASE [POLICY]: the milter with fresh counters and a fresh
# log (default: policy.conf, both doors open).
milter_fresh() {
	[ -n "$(milter_pid)" ] && milter_stop
	rm -f "$WORK/state"
	[ -f "$MILTER_LOG" ] && mv "$MILTER_LOG" "$MILTER_LOG.$1"
	MILTER_WAIT_FOR=${2:+$MILTER_SOCKET}
	MILTER_WAIT_FOR=${MILTER_WAIT_FOR:-$PD_SOCK}
	milter_start "$MILTER_BIN" -f -c "$WORK/${2:-policy.conf}" -p "$MILTER_SOCKET"
	e2e_wait 10 test -S "${MILTER_SOCKET#unix:}" || e2e_die "no milter socket"
	[ -n "$2" ] || e2e_as_postfix test -w "$PD_SOCK" ||
		e2e_die "the postfix user cannot write to $PD_SOCK"
}

# pd_raw ATTR=VALUE...: one request to the policy socket; prints the answer.
pd_raw() {
	pf_policy_ask "$PD_SOCK" "$@"
}

# The counter of RULE for KEY, as `ctl show` prints it: "used=N".
ctl_used() {
	"$MILTER_BIN" ctl -s "$CTL_SOCK" show "$1" "$2" | sed -n 's/.* \(used=[0-9]*\) .*/\1/p'
}

# Text of the reply at STAGE: the lines without their codes, joined by a space.
# Postfix puts "<NAME>: Client host rejected: " (Sender address, Recipient
# address, Helo command, Data command, End-of-data) before a policy
# service's text; that goes too.
reply_text() {
	try_reply "$1" "${2:-1}" | sed 's/^[0-9][0-9][0-9][ -]\([245]\.[0-9]*\.[0-9]*\) //' |
		sed 's/^<[^>]*>: [A-Za-z -]* rejected: //' | tr '\n' ' ' | sed 's/ $//'
}

POLICY_SVC="check_policy_service unix:$PD_SOCK"
sink_start
milter_fresh 0
pf_set "smtpd_recipient_restrictions = $POLICY_SVC" \
	"smtpd_end_of_data_restrictions = $POLICY_SVC" \
	"smtpd_policy_service_timeout = 10s"
pf_start none

# ---- 1. smtpd_delay_reject = yes: everything is asked at RCPT.
# A refusal of an earlier stage (helo, mail, connect) comes at RCPT; the
# duplicates row needs the milter.
e2e_note "1. the scenario table through check_policy_service (smtpd_delay_reject = yes)"
grep -v '^#' "$E2E_ROOT/tests/e2e/scenarios.txt" >"$WORK/scenarios.txt"
while IFS='|' read -r name client before opts stage code xcode words logre; do
	case "$name" in "third duplicate") continue ;; esac
	case "$stage" in helo | mail) stage=rcpt ;; esac
	scenario_try "$client" "$before" "$opts" </dev/null
	expect_reply "$stage" "$code" "$xcode" "$words" "policy: $name: $stage gets $code $xcode"
	[ -z "$logre" ] || expect_log "$logre" "policy: $name: the decision line"
	cp "$TRANSCRIPT" "$WORK/policy-$(echo "$name" | tr ' ' '-').txt"
done <"$WORK/scenarios.txt"

smtp_try --local-interface 127.0.0.6 --to user@example.com
if [ -z "$(try_reply data)" ]; then
	e2e_ok "policy: connections over rate: the session ends at the 421"
else
	e2e_fail "policy: connections over rate: got a DATA reply \"$(try_reply data)\", want the session closed"
fi

# One message, two recipients: one message and two recipients counted.
smtp_try --local-interface 127.0.0.5 --to a@example.com
used=$(ctl_used client-rcpts 127.0.0.5)
[ "$used" = used=2 ] && e2e_ok "policy: recipients over rate: used=2 (the refused third and the next one not charged)" ||
	e2e_fail "policy: client-rcpts 127.0.0.5, got \"$used\", want used=2"
used=$(ctl_used client-msgs 127.0.0.4)
[ "$used" = used=2 ] && e2e_ok "policy: messages over rate: used=2 (the refused one not charged)" ||
	e2e_fail "policy: client-msgs 127.0.0.4, got \"$used\", want used=2"

# The null sender: counted per sender "<>", the second bounce refused.
smtp_try --local-interface 127.0.0.10 --from '<>' --to user@example.com
expect_reply eom 250 2.0.0 "" "policy: null sender: the first bounce is queued"
smtp_try --local-interface 127.0.0.10 --from '<>' --to user@example.com
expect_reply rcpt 453 4.7.0 "" "policy: null sender: the second bounce within the hour gets 453 4.7.0"
expect_log "tempfail stage=mail rule=bounces code=453 xcode=4.7.0 .*sender=<>" \
	"policy: null sender: the decision line says sender=<>"

# Bytes at END-OF-MESSAGE with the actual size: 2,000 bytes pass, the
# second 2,000 go over 3,000 an hour.
body=$(python3 -c 'print("x" * 70 + "\n", end="")' | awk '{ for (i = 0; i < 28; i++) print }')
smtp_try --local-interface 127.0.0.8 --to user@example.com --body "$body"
expect_reply eom 250 2.0.0 "" "policy: bytes: the first 2,000-byte message is queued"
smtp_try --local-interface 127.0.0.8 --to user@example.com --body "$body"
expect_reply eom 452 4.3.1 "bytes" "policy: bytes: the second, over 3000 bytes an hour, gets 452 4.3.1 at end of data"
expect_log "tempfail stage=eom rule=client-bytes code=452 xcode=4.3.1" \
	"policy: bytes: the decision line at stage=eom"
used=$(ctl_used client-bytes 127.0.0.8)
case "$used" in
used=2[0-9][0-9][0-9]) e2e_ok "policy: bytes: the first message's actual size is charged ($used), the refused one given back" ;;
*) e2e_fail "policy: client-bytes 127.0.0.8, got \"$used\", want the first message's size (2,000-2,999)" ;;
esac

# ---- 2. smtpd_delay_reject = no: each stage asks at its own command.
e2e_note "2. every restriction list asks, smtpd_delay_reject = no"
milter_fresh 1
pf_set "smtpd_delay_reject = no" \
	"smtpd_client_restrictions = $POLICY_SVC" \
	"smtpd_helo_restrictions = $POLICY_SVC" \
	"smtpd_sender_restrictions = $POLICY_SVC"
scenario_try 127.0.0.6 2 "--to user@example.com"
expect_reply connect 421 4.7.0 "Too many connections from 127.0.0.6" \
	"delay_reject=no: connections over rate: Postfix answers the connection with the 421 (the milter can only give it at HELO)"
expect_log "tempfail stage=connect rule=client-conns code=421 xcode=4.7.0" \
	"delay_reject=no: the connection limit decided at CONNECT"
smtp_try --local-interface 127.0.0.3 --helo localhost --to user@example.com
expect_reply helo 554 5.7.1 "HELO localhost" "delay_reject=no: bad HELO: 554 5.7.1 at EHLO"
smtp_try --local-interface 127.0.0.3 --from 100%x@evil.test --to user@example.com
expect_reply mail 550 5.7.1 "<100%x@evil.test> refused" "delay_reject=no: sender rule: 550 5.7.1 at MAIL FROM"
scenario_try 127.0.0.4 2 "--to user@example.com"
expect_reply mail 453 4.7.0 "2 per 1 h" "delay_reject=no: messages over rate: 453 4.7.0 at MAIL FROM"
smtp_try --local-interface 127.0.0.5 --to a@example.com,b@example.com,c@example.com
expect_reply rcpt:3 452 4.5.3 "2 per 1 h" "delay_reject=no: recipients over rate: the third RCPT gets 452 4.5.3"
expect_reply eom 250 2.0.0 "" "delay_reject=no: recipients over rate: the message goes to the first two"
smtp_try --local-interface 127.0.0.8 --to user@example.com --body "$body"
smtp_try --local-interface 127.0.0.8 --to user@example.com --body "$body"
expect_reply eom 452 4.3.1 "bytes" "delay_reject=no: bytes: 452 4.3.1 at end of data"

# ---- 3. the milter door: the same replies and counters.
e2e_note "3. the same rows through the milter alone (no policy_service)"
milter_fresh 2 policy-milter.conf
pf_set "smtpd_delay_reject = yes" "smtpd_client_restrictions =" "smtpd_helo_restrictions =" \
	"smtpd_sender_restrictions =" "smtpd_recipient_restrictions =" \
	"smtpd_end_of_data_restrictions =" "smtpd_milters = $MILTER_PF_SOCKET"
# The texts compared with the retry time masked: the two sessions run
# seconds apart on a busy machine ("in 59 min 29 s" and "in 59 min 28 s"
# are the same).
mask_wait() {
	sed -E 's/in [0-9]+ (s|min|h)( [0-9]+ (s|min))*\b/in N/g'
}
compare() { # NAME MILTER-STAGE POLICY-STAGE [N]: the Nth reply at each
	m=$(reply_text "$2" "${4:-1}" | mask_wait)
	mc=$(try_reply "$2" "${4:-1}" | tail -n 1 | cut -c1-3)
	_t=$TRANSCRIPT
	TRANSCRIPT=$WORK/policy-$(echo "$1" | tr ' ' '-').txt
	p=$(reply_text "$3" "${4:-1}" | mask_wait)
	pc=$(try_reply "$3" "${4:-1}" | cut -c1-3)
	TRANSCRIPT=$_t
	if [ -n "$m" ] && [ "$m" = "$p" ] && [ "$mc" = "$pc" ]; then
		e2e_ok "milter and policy service: $1: the same $mc reply"
	else
		e2e_fail "milter and policy service: $1: got \"$mc $m\" (milter) and \"$pc $p\" (policy service), want the same"
	fi
}
smtp_try --local-interface 127.0.0.3 --to user@other.org
compare "relay denied" rcpt rcpt
smtp_try --local-interface 127.0.0.3 --from multi@client.e2e.test --to user@example.com
compare "multi-line reply" mail rcpt
smtp_try --local-interface 127.0.0.3 --from 100%x@evil.test --to user@example.com
compare "hostile sender" mail rcpt
smtp_try --local-interface 127.0.0.3 --helo localhost --to user@example.com
compare "bad HELO" mail rcpt
scenario_try 127.0.0.4 2 "--to user@example.com"
compare "messages over rate" mail rcpt
smtp_try --local-interface 127.0.0.5 --to a@example.com,b@example.com,c@example.com
compare "recipients over rate" rcpt rcpt 3
smtp_try --local-interface 127.0.0.5 --to a@example.com
for c in "client-rcpts 127.0.0.5" "client-msgs 127.0.0.4"; do
	# shellcheck disable=SC2086 # two words: rule and key
	used=$(ctl_used $c)
	[ "$used" = used=2 ] && e2e_ok "milter: $c: used=2, as through the policy service" ||
		e2e_fail "milter: $c: got \"$used\", want used=2 as through the policy service"
done

# ---- 4. both doors: the policy service for the envelope, the milter for
# the content.  Each limit is counted by one door only.
e2e_note "4. both doors at once"
milter_fresh 3
pf_set "smtpd_recipient_restrictions = $POLICY_SVC" "smtpd_end_of_data_restrictions = $POLICY_SVC"
expect_log "policy service on unix:.*: it counts the limits that need no message content" \
	"both doors: the start says which door counts what"
smtp_try --local-interface 127.0.0.4 --to a@example.com,b@example.com
expect_reply eom 250 2.0.0 "" "both doors: a message with two recipients is queued"
used=$(ctl_used client-msgs 127.0.0.4)
[ "$used" = used=1 ] && e2e_ok "both doors: client-msgs 127.0.0.4: one message counted once (used=1)" ||
	e2e_fail "both doors: client-msgs 127.0.0.4: got \"$used\", want used=1 (counted by one door only)"
smtp_try --local-interface 127.0.0.5 --to a@example.com,b@example.com,c@example.com
expect_reply rcpt:3 452 4.5.3 "2 per 1 h" "both doors: recipients over rate: the third RCPT gets 452 4.5.3 (from the policy service)"
scenario_try 127.0.0.7 2 "--to user@example.com --body duplicate-body-text"
expect_reply eom 557 5.7.1 "already received 2 times" "both doors: third duplicate: 557 5.7.1 at end of data (from the milter)"
expect_log "reject stage=eom rule=same-body code=557" "both doors: the duplicate's decision line"
milter_fresh 4	# fresh: Postfix's policy connections closed

# ---- 5. straight to the socket.
e2e_note "5. requests straight to the policy socket"
a=$(pd_raw protocol_state=RCPT client_address=2001:DB8::7 client_port=1 \
	sender=a@b.example recipient=user@example.com instance=v6.1)
[ "$a" = "action=550 5.7.1 Mail from 2001:db8::7 is refused" ] &&
	e2e_ok "IPv6 client 2001:DB8::7: normalised, matched by 2001:db8::/32, 550 5.7.1" ||
	e2e_fail "IPv6 client: got \"$a\", want \"action=550 5.7.1 Mail from 2001:db8::7 is refused\""
a=$(pd_raw protocol_state=RCPT client_address=127.0.0.3 client_port=2 \
	sender=someone@dryrun.test recipient=user@example.com instance=dry.1)
[ "$a" = "action=DUNNO" ] && e2e_ok "dry-run rule: DUNNO" || e2e_fail "dry-run rule: got \"$a\", want action=DUNNO"
expect_log "would-reject stage=mail rule=dry-sender code=550 .*sender=<someone@dryrun.test>" \
	"dry-run rule: logged as would-reject"
# A rule's own error (a regex out of its budget, as in test_regex.sh):
# 451 4.3.0 each time, logged as the milter logs it, once per rule and client.
HOSTILE="$(printf '%2000s' '' | tr ' ' a)Xb@client.e2e.test"
for port in 1 2 3; do
	a=$(pd_raw protocol_state=RCPT client_address=127.0.0.99 client_port=$port \
		sender="$HOSTILE" recipient=user@example.com instance=aab.$port)
	case "$a" in
	"action=451 4.3.0 "*) e2e_ok "the rule's error, session $port: 451 4.3.0" ;;
	*) e2e_fail "the rule's error, session $port: got \"$(echo "$a" | cut -c1-80)\", want 451 4.3.0" ;;
	esac
done
n=$(grep -c "error stage=mail rule=aab code=451 xcode=4.3.0 client=unknown\[127\.0\.0\.99\] .* on_error=tempfail" "$MILTER_LOG")
[ "$n" -eq 1 ] && e2e_ok "the rule's error for 127.0.0.99 is logged once for three sessions, as the milter logs it" ||
	e2e_fail "error lines for rule aab and 127.0.0.99: got $n, want 1: $(grep 'rule=aab' "$MILTER_LOG" | cut -c1-160)"
a=$(pd_raw protocol_state=VRFY client_address=127.0.0.3)
[ "$a" = "action=DUNNO" ] && e2e_ok "VRFY (no stage of ours): DUNNO" || e2e_fail "VRFY: got \"$a\", want action=DUNNO"

python3 - "$PD_SOCK" >"$WORK/hostile.txt" 2>&1 <<'EOF'
import socket, sys
path = sys.argv[1]
OK = b"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.0.0.3\nsender=a@b.c\nrecipient=x@example.com\n\n"
def conn():
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(path); return s
def answer(s):
    buf = b""
    while not buf.endswith(b"\n\n"):
        d = s.recv(4096)
        if not d:
            return "CLOSED"
        buf += d
    return buf.decode(errors="replace").strip()
cases = [
    ("nul", b"request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a\x00b@c\n\n"),
    ("300-attributes", b"request=smtpd_access_policy\n" + b"a=\n" * 300 + b"\n"),
    ("10000-attributes", b"request=smtpd_access_policy\n" + b"".join(b"x%d=y\n" % i for i in range(10000)) + b"\n"),
    ("1MB-value", b"request=smtpd_access_policy\nsender=" + b"a" * 1000000 + b"\n\n"),
    ("3000-byte-value", b"request=smtpd_access_policy\nsender=" + b"a" * 3000 + b"\n\n"),
    ("no-equals", b"request=smtpd_access_policy\njunk\n\n"),
    ("no-request", b"protocol_state=RCPT\n\n"),
    ("other-request", b"request=smtpd_other\n\n"),
]
for name, data in cases:
    s = conn(); s.sendall(data)
    print(name, "|", answer(s), "|", answer(s) if s.sendall(OK) is None else "")
    s.close()
s = conn(); s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\n"); s.close()
print("no-empty-line | closed")
many, held = [], []
for i in range(25):
    try:
        c = conn(); held.append(c); c.sendall(OK); many.append(answer(c))
    except OSError as e:
        many.append("refused")
print("25-connections |", sorted(set(many)))
EOF
sed 's/^/#   /' "$WORK/hostile.txt"
for c in nul 300-attributes 10000-attributes 1MB-value 3000-byte-value no-equals no-request other-request; do
	if grep -q "^$c | action=451 4.3.0 .* | action=DUNNO$" "$WORK/hostile.txt"; then
		e2e_ok "hostile: $c: 451 4.3.0 (on_error = tempfail), and the connection serves the next request"
	else
		e2e_fail "hostile: $c: want \"action=451 4.3.0 ...\" then \"action=DUNNO\", got: $(grep "^$c |" "$WORK/hostile.txt")"
	fi
done
expect_log "policy service: malformed request: a NUL byte; answered 451 4.3.0" "hostile: the NUL byte is logged"
expect_log "policy service: malformed request: more than 256 attributes" "hostile: 300 attributes are logged"
expect_log "policy service: malformed request: a request longer than 16384 bytes" "hostile: 10,000 attributes and 1 MB are logged as too long"
if grep -q "^25-connections | .*DUNNO" "$WORK/hostile.txt" && grep -q "^25-connections | .*\(CLOSED\|refused\)" "$WORK/hostile.txt"; then
	e2e_ok "hostile: 25 connections held open at once over max_connections = 20: the first are served, the rest closed"
else
	e2e_fail "hostile: 25 connections over max_connections = 20: got $(grep '^25-connections' "$WORK/hostile.txt")"
fi
expect_log "policy service: 20 connections open: refusing more" "hostile: the connection cap is logged"
a=$(pd_raw protocol_state=RCPT client_address=127.0.0.3 client_port=3 sender=a@b.c recipient=x@other.org instance=after.1)
case "$a" in
"action=550 5.7.1 Relay access denied"*) e2e_ok "after the hostile requests the service still answers (relay denied)" ;;
*) e2e_fail "after the hostile requests: got \"$a\", want the relay refusal" ;;
esac

# 6. Out of descriptors: accept() fails with EMFILE while the listening
# socket stays readable.  The thread must not spin on it (before: two
# seconds of CPU in three), and accepts again once descriptors free up.
if command -v prlimit >/dev/null; then
	mpid=$(milter_pid)
	soft=$(prlimit --pid "$mpid" --nofile --output SOFT --noheadings | tr -d ' ')
	prlimit --pid "$mpid" --nofile="$(($(ls "/proc/$mpid/fd" | wc -l) + 2)):"
	python3 - "$PD_SOCK" <<'EOF' &
import socket, sys, time
held = []
for i in range(6):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
time.sleep(5)
EOF
	holder=$!
	e2e_sleep 1
	t0=$(awk '{ print $14 + $15 }' "/proc/$mpid/stat")
	e2e_sleep 3
	t1=$(awk '{ print $14 + $15 }' "/proc/$mpid/stat")
	wait "$holder"
	prlimit --pid "$mpid" --nofile="$soft:"
	if [ $((t1 - t0)) -lt 30 ]; then
		e2e_ok "out of descriptors: $((t1 - t0)) ticks of CPU in 3 s, no spinning"
	else
		e2e_fail "out of descriptors: $((t1 - t0)) ticks of CPU in 3 s (spinning on accept), want under 30"
	fi
	expect_log "policy service: accept: Too many open files; taking no connection for 1 s at a time" \
		"out of descriptors: the pause is logged"
	e2e_sleep 2
	a=$(pd_raw protocol_state=RCPT client_address=127.0.0.3 client_port=4 sender=a@b.c recipient=x@other.org instance=emfile.1)
	case "$a" in
	"action=550 5.7.1 Relay access denied"*) e2e_ok "descriptors free again: the service accepts and answers" ;;
	*) e2e_fail "after the descriptors came back: got \"$a\", want the relay refusal" ;;
	esac
else
	e2e_ok "prlimit is not installed: the out-of-descriptors case is not run"
fi

pf_stop
if milter_stop; then
	e2e_ok "milter-policy stops with exit status 0"
else
	e2e_fail "milter-policy stop, got exit status $E2E_MILTER_RC, want 0"
fi
[ ! -e "$PD_SOCK" ] && e2e_ok "the policy socket is removed at stop" ||
	e2e_fail "the policy socket $PD_SOCK is still there after stop"
e2e_done
