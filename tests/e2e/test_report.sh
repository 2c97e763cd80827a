#!/bin/sh
# milter-policy report on the log a real run wrote.  Known traffic goes
# through a private Postfix and the milter (a client over its message
# limit, a relay attempt, a dry-run rule, a bounce over its limit); then
# `report` reads the milter's own log lines (the -f stderr log, and the
# same lines under a syslog head, gzip'd, with other programs' lines mixed
# in) and must print exactly those numbers.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init report

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

cat >"$WORK/policy.conf" <<EOF2
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "client-msgs";
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "3/1h"; }; },
  { name = "dry-bounces"; mode = "dry-run"; when = { sender = "<>"; };
    reply = "550 5.7.1 no bounces here"; }
);
EOF2

sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

# 127.0.0.31: five messages, the 4th and 5th over 3/1h (one over-limit notice)
for n in 1 2 3 4 5; do
	smtp_try --local-interface 127.0.0.31 --from "s31@client.e2e.test" --to user@example.com
done
expect_reply mail 453 4.7.0 "" "127.0.0.31's 5th message: 453"
# 127.0.0.32: a relay attempt, twice
for n in 1 2; do
	smtp_try --local-interface 127.0.0.32 --from "s32@client.e2e.test" --to user@other.org
done
expect_reply rcpt 550 5.7.1 "" "127.0.0.32's relay attempt: 550"
# 127.0.0.33: a bounce, refused in dry-run only
smtp_try --local-interface 127.0.0.33 --from '<>' --to user@example.com
expect_reply eom 250 - "" "the dry-run rule lets the bounce through"
pf_stop
milter_stop

"$MILTER_BIN" report --json "$MILTER_LOG" >"$WORK/r.json" 2>"$WORK/r.err" ||
	e2e_fail "report --json: exit $?: $(cat "$WORK/r.err")"
jq_get() {	# EXPR: a value of $WORK/r.json (python3, no jq needed)
	python3 -c "import json,sys; d=json.load(open('$WORK/r.json')); print($1)"
}
expect_eq() {	# GOT WANT DESC
	if [ "$1" = "$2" ]; then e2e_ok "$3: $1"; else e2e_fail "$3: got $1, want $2"; fi
}
row() {	# TABLE FIELD VALUE COUNTFIELD
	jq_get "[r['$4'] for r in d['$1'] if r['$2']==$3] or ['none']" | tr -d "[]'"
}
check_numbers() {	# WHAT
	expect_eq "$(jq_get "d['refused']")" 4 "$1: refused 2 (.31) + 2 (relay)"
	expect_eq "$(jq_get "d['dry_run']")" 1 "$1: one dry-run would-be refusal"
	expect_eq "$(jq_get "d['over_limit_notices']")" 1 "$1: one over-limit notice"
	expect_eq "$(row refusals rule "'client-msgs'" count)" 2 "$1: client-msgs refused 2"
	expect_eq "$(row refusals rule "'client-msgs'" code)" 453 "$1: ... with 453"
	expect_eq "$(row refusals rule "'relay'" count)" 2 "$1: relay refused 2"
	expect_eq "$(row clients client "'127.0.0.31'" count)" 2 "$1: client 127.0.0.31 refused 2 times"
	expect_eq "$(row clients client "'127.0.0.32'" count)" 2 "$1: client 127.0.0.32 refused 2 times"
	expect_eq "$(row senders sender "'s31@client.e2e.test'" count)" 2 "$1: sender s31@ refused 2 times"
	expect_eq "$(row recipients rcpt "'user@other.org'" count)" 2 "$1: recipient user@other.org refused 2 times"
	expect_eq "$(row over_limit key "'127.0.0.31'" limit)" 3/1h "$1: 127.0.0.31 went over 3/1h"
	expect_eq "$(row would_refuse rule "'dry-bounces'" count)" 1 "$1: dry-bounces would have refused 1"
}
check_numbers "-f log"
expect_eq "$(jq_get "d['hours'][0]['hour']")" unknown "-f log: no time stamps, one hour 'unknown'"

# The same lines as syslog writes them, gzip'd, other programs mixed in.
awk '{ printf "Dec  1 1%d:%02d:00 mx %s\n", NR % 2, NR % 60, $0 } NR % 3 == 0 {
	print "Dec  1 10:00:00 mx postfix/smtpd[1]: connect from x[127.0.0.1]" }' \
	"$MILTER_LOG" | gzip >"$WORK/mail.log.1.gz"
"$MILTER_BIN" report --json "$WORK/mail.log.1.gz" >"$WORK/r.json" 2>"$WORK/r.err" ||
	e2e_fail "report --json mail.log.1.gz: exit $?: $(cat "$WORK/r.err")"
check_numbers "syslog head, gzip'd"
expect_eq "$(jq_get "sum(h['refused'] for h in d['hours'])")" 4 "per hour: the refusals add up"
expect_eq "$(jq_get "len(d['hours'])")" 2 "two hours: 10:00 and 11:00"

# Standard input, the text tables.
"$MILTER_BIN" report <"$MILTER_LOG" >"$WORK/r.txt" 2>&1 || e2e_fail "report on stdin: exit $?"
for want in "^  client-msgs +453 +tempfail +2\$" "^  relay +550 +reject +2\$" \
	"^  client-msgs +127\.0\.0\.31 +3/1h +1\$" "^  dry-bounces +550 +would-reject +1\$"; do
	if grep -qE -- "$want" "$WORK/r.txt"; then
		e2e_ok "text report has /$want/"
	else
		e2e_fail "text report lacks /$want/: $(cat "$WORK/r.txt")"
	fi
done
if "$MILTER_BIN" report "$WORK/no-such-file" >/dev/null 2>"$WORK/r.err"; then
	e2e_fail "report on a missing file: exit 0"
else
	e2e_ok "report on a missing file: $(cat "$WORK/r.err")"
fi
e2e_done
