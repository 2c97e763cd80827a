#!/bin/sh
# milter-policy replay on a real Postfix log.  Varied traffic goes through
# Postfix and the milter on a known policy (clients over a message limit,
# recipients over a limit, an authenticated user over its limit, bounces,
# a relay attempt, a recipient Postfix refuses itself, two clients at once
# so queue IDs interleave); then the log Postfix wrote is replayed:
#   - through the same policy: each rule refuses what the milter refused;
#   - through a stricter policy: the exact numbers worked out by hand;
#   - with --diff, --json, --from/--to;
#   - cut and mangled: rotated (.gz, given newest first), lines missing,
#     other programs' lines, a log that starts mid-transaction.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init replay

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

# The policy the milter enforces, and one stricter.  (No state file: the
# replay's scratch store starts empty, as the milter's does here.)
write_policy() {	# FILE CLIENT_RATE
	cat >"$1" <<EOF2
state = { file = "$WORK/state"; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "client-msgs"; unless = { authenticated = true; };
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "$2"; }; },
  { name = "client-rcpts";
    limit = { count = "recipients"; per = [ "client_addr" ]; rate = "4/1h"; }; },
  { name = "user-msgs";
    limit = { count = "messages"; per = [ "auth_user" ]; rate = "2/1h"; }; },
  { name = "bounces"; when = { sender = "<>"; };
    limit = { count = "messages"; per = [ "sender" ]; rate = "2/1h"; }; },
  { name = "same-body";
    duplicates = { of = "body"; max = 50; window = "1h"; }; }
);
EOF2
}
write_policy "$WORK/policy.conf" "3/1h"
write_policy "$WORK/strict.conf" "1/1h"

# --top takes a whole number: "5x" or "0" is a usage error, not 5 or none.
for top in 5x 0 ""; do
	"$MILTER_BIN" replay -c "$WORK/policy.conf" --top "$top" /dev/null >/dev/null 2>"$WORK/top.err"
	rc=$?
	if [ "$rc" -eq 64 ] && grep -q -- "--top $top: write a number" "$WORK/top.err"; then
		e2e_ok "replay --top \"$top\": usage error (64), said why"
	else
		e2e_fail "replay --top \"$top\": exit $rc, $(head -n 1 "$WORK/top.err"); want 64 and why"
	fi
done

sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_set "smtpd_recipient_restrictions = check_recipient_access inline:{blocked@example.com=REJECT}"
pf_start "$MILTER_PF_SOCKET"

# 127.0.0.21: five messages, the 4th and 5th over 3/1h
for n in 1 2 3 4 5; do
	smtp_try --local-interface 127.0.0.21 --to user@example.com
done
expect_reply mail 453 4.7.0 "" "127.0.0.21's 5th message: 453 (the milter enforces 3/1h)"
# 127.0.0.22: one message to five recipients, the 5th over 4/1h
smtp_try --local-interface 127.0.0.22 \
	--to a@example.com,b@example.com,c@example.com,d@example.com,e@example.com
expect_reply rcpt:5 452 4.5.3 "" "127.0.0.22's 5th recipient: 452"
# alice, authenticated (XCLIENT from 127.0.0.9): three messages, over 2/1h
for n in 1 2 3; do
	smtp_try --local-interface 127.0.0.9 --xclient-addr 127.0.0.23 \
		--xclient-login alice --to user@example.com
done
expect_reply mail 453 4.7.0 "" "alice's 3rd message: 453"
# bounces from 127.0.0.24: three, over 2/1h
for n in 1 2 3; do
	smtp_try --local-interface 127.0.0.24 --from '<>' --to user@example.com
done
expect_reply mail 453 4.7.0 "" "the 3rd bounce: 453"
# Postfix refuses a recipient itself; the milter refuses a relay attempt
smtp_try --local-interface 127.0.0.25 --to blocked@example.com
expect_reply rcpt 554 5.7.1 "" "Postfix itself refuses blocked@example.com"
smtp_try --local-interface 127.0.0.26 --to user@other.org
expect_reply rcpt 550 5.7.1 "" "the milter refuses a relay attempt"
# two clients at once: their queue IDs interleave in the log
pids=
for c in 27 28; do
	for n in 1 2; do
		swaks --server "127.0.0.1:$SMTPPORT" --timeout 10 --local-interface "127.0.0.$c" \
			--from "s$c@client.e2e.test" --to user@example.com \
			>"$WORK/par-$c-$n.txt" 2>&1 </dev/null &
		pids="$pids $!"
	done
done
for p in $pids; do
	wait "$p"
done
# queued: 3 (.21) + 1 (.22) + 2 (alice) + 2 (bounces) + 4 (.27, .28)
e2e_wait 20 sh -c "[ \$(grep -c ': removed\$' '$PF_LOG') -ge 12 ]" ||
	e2e_fail "Postfix removed $(grep -c ': removed$' "$PF_LOG") messages, want 12"
pf_stop

LOG=$WORK/maillog
cp "$PF_LOG" "$LOG"

# replay_json POLICY LOG... : the JSON summary into $WORK/r.json
replay_json() {
	_p=$1
	shift
	"$MILTER_BIN" replay -c "$_p" --json "$@" >"$WORK/r.json" 2>"$WORK/r.err" ||
		e2e_fail "replay -c $_p $*: exit $?: $(cat "$WORK/r.err")"
}
# jq_get EXPR: a value of $WORK/r.json (python3, no jq needed)
jq_get() {
	python3 -c "import json,sys; d=json.load(open('$WORK/r.json')); print($1)"
}
rule_refused() {	# RULE [RESULT]
	jq_get "[r['refused'] for r in d['${2:-result}']['rules'] if r['name']=='$1'][0]"
}
expect_eq() {	# GOT WANT DESC
	if [ "$1" = "$2" ]; then e2e_ok "$3: $1"; else e2e_fail "$3: got $1, want $2"; fi
}
milter_refused() {	# RULE: refusals the milter logged
	grep -cE "(reject|tempfail) stage=[a-z]+ rule=$1 " "$MILTER_LOG"
}

# 1. The same policy: each rule refuses what the milter refused.
replay_json "$WORK/policy.conf" "$LOG"
for r in client-msgs client-rcpts user-msgs bounces relay; do
	expect_eq "$(rule_refused "$r")" "$(milter_refused "$r")" \
		"replay through the milter's own policy, rule $r, as the milter refused"
done
expect_eq "$(rule_refused client-msgs)" 2 "client-msgs refused 127.0.0.21's 4th and 5th"
expect_eq "$(jq_get "d['result']['accepted']")" 12 \
	"accepted: 3 (.21) + 1 (.22) + 2 (alice) + 2 (bounces) + 4 (.27, .28)"
expect_eq "$(jq_get "[r['not_judged'] for r in d['result']['rules'] if r['name']=='same-body'][0]")" \
	"$(jq_get "d['result']['accepted'] + 0")" \
	"same-body cannot be judged: one per message that reached its content"
expect_eq "$(jq_get "[k['refused'] for k in d['result']['keys'] if k['key']=='127.0.0.21'][0]")" 2 \
	"the key 127.0.0.21 is listed with its 2 refusals"
expect_eq "$(jq_get "[k['accepted'] for k in d['result']['keys'] if k['key']=='127.0.0.21'][0]")" 3 \
	"... and the 3 messages it still had accepted"
expect_eq "$(jq_get "d['result']['mta_refused']")" 1 \
	"blocked@example.com: one transaction Postfix refused itself"

# 2. Stricter: 1/1h per client.  127.0.0.21: 4 refused; 127.0.0.22 sends
# one; alice is authenticated (exempt; her 3rd, refused at MAIL, is
# known as hers by the sasl_username Postfix logs with it); 127.0.0.24:
# the 2nd and 3rd (client-msgs comes before the bounce rule); 127.0.0.25's
# message to the blocked address is refused by Postfix, charged and given
# back (charge = "accepted"); 127.0.0.26 sends one; 127.0.0.27 and .28
# send two each, the 2nd refused.
replay_json "$WORK/strict.conf" "$LOG"
expect_eq "$(rule_refused client-msgs)" 8 "strict: client-msgs refusals 4 + 2 (.24) + 1 (.27) + 1 (.28)"
expect_eq "$(rule_refused bounces)" 0 "strict: the bounce limit is not reached (client-msgs refuses first)"
expect_eq "$(jq_get "d['result']['accepted']")" 7 "strict: accepted 1 (.21) + 1 (.22) + 2 (alice) + 1 (.24) + 2 (.27, .28)"

# 3. --diff and the text report
"$MILTER_BIN" replay -c "$WORK/strict.conf" --diff "$WORK/policy.conf" "$LOG" >"$WORK/diff.txt" 2>&1
if grep -qE '^ +client-msgs +127\.0\.0\.21 +2 -> 4$' "$WORK/diff.txt"; then
	e2e_ok "--diff: 127.0.0.21 refused 2 -> 4 times"
else
	e2e_fail "--diff: no line 'client-msgs 127.0.0.21 2 -> 4': $(cat "$WORK/diff.txt")"
fi
"$MILTER_BIN" replay -c "$WORK/policy.conf" "$LOG" >"$WORK/text.txt" 2>&1
for want in "Refusals by rule" "Keys refused, most first" "Refusals per hour" \
	"same-body .*cannot be judged from a log: it needs the body"; do
	if grep -qE "$want" "$WORK/text.txt"; then
		e2e_ok "text report shows: $want"
	else
		e2e_fail "text report lacks \"$want\": $(cat "$WORK/text.txt")"
	fi
done

# 4. --from/--to: a window after the last line replays nothing.
replay_json "$WORK/policy.conf" --from 2099-01-01 "$LOG"
expect_eq "$(jq_get "d['result']['transactions']")" 0 "--from after the log: no transaction"

# 5. Rotated: the older half gzip'd, the files given newest first.
n=$(wc -l <"$LOG")
half=$((n / 2))
head -n "$half" "$LOG" | gzip >"$WORK/maillog.1.gz"
tail -n +"$((half + 1))" "$LOG" >"$WORK/maillog.0"
replay_json "$WORK/policy.conf" "$WORK/maillog.0" "$WORK/maillog.1.gz"
expect_eq "$(rule_refused client-msgs)" 2 "rotated, newest file first: client-msgs still 2"
expect_eq "$(jq_get "d['result']['accepted']")" 12 "rotated: accepted still 12"

# 6. Other programs' lines, and lines replay cannot read, are skipped and counted.
{
	echo "Dec  1 10:00:00 mx dovecot[123]: imap-login: Login: user=<bob>"
	echo "this line has no time stamp"
	cat "$LOG"
	echo "Dec  1 23:59:59 mx CRON[99]: (root) CMD (true)"
	echo "Dec  1 23:59:59 mx postfix/smtpd[1]: connect from broken-line"
} >"$WORK/mixed.log"
replay_json "$WORK/policy.conf" "$WORK/mixed.log"
expect_eq "$(jq_get "d['skipped']['another program']['n']")" 2 "two lines of other programs skipped"
expect_eq "$(jq_get "d['skipped']['not a syslog line']['n']")" 1 "a line without a time stamp skipped"
expect_eq "$(jq_get "d['skipped']['a Postfix line not as expected']['n']")" 1 "a malformed Postfix line skipped"
expect_eq "$(rule_refused client-msgs)" 2 "with them: client-msgs still 2"

# 7. Starting mid-transaction, and qmgr's lines missing: no crash, counted.
first_client=$(grep -n ': client=' "$LOG" | head -n 1 | cut -d: -f1)
tail -n +"$((first_client + 1))" "$LOG" | grep -v 'postfix/qmgr.*: from=<' >"$WORK/cut.log"
replay_json "$WORK/policy.conf" "$WORK/cut.log"
if [ "$(jq_get "d['orphans'] > 0")" = True ]; then
	e2e_ok "a log that starts mid-transaction: lines of the message begun before it are counted"
else
	e2e_fail "orphans, got $(jq_get "d['orphans']"), want > 0"
fi

# 8. A policy that fails -t is refused before any log is read.
echo 'rules = ( { name = "x"; limit = { rate = "nonsense"; }; } );' >"$WORK/bad.conf"
"$MILTER_BIN" replay -c "$WORK/bad.conf" /nonexistent/log >"$WORK/bad.out" 2>&1
rc=$?
if [ "$rc" -eq 78 ] && grep -q "bad.conf:1:" "$WORK/bad.out" && ! grep -q nonexistent "$WORK/bad.out"; then
	e2e_ok "an invalid policy: FILE:LINE error, exit 78, no log read"
else
	e2e_fail "invalid policy: exit $rc, output: $(cat "$WORK/bad.out")"
fi

e2e_done
