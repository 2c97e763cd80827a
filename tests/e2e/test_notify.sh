#!/bin/sh
# notify = "ADDRESS" on a limit rule: the first time a counter goes over
# its limit in its window, the milter mails the address through the
# MTA's sendmail command (here the private Postfix's, MAIL_CONFIG), from
# a thread of its own.  The mail reaches the sink once, with the rule,
# the key, the limit and the ctl commands; it entered through pickup, not
# smtpd (so not through the milter: no loop).  A second counter over its
# limit in the same hour is past milter.notify_max_per_hour = 1: not
# mailed, and logged.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init notify

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

cat >"$WORK/policy.conf" <<EOF2
milter = { stats_interval = 0; sendmail = "/usr/sbin/sendmail"; notify_max_per_hour = 1; };
state = { file = ""; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "client-msgs"; notify = "postmaster@example.com";
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "2/1h"; }; }
);
EOF2

sink_start
pf_start "$MILTER_PF_SOCKET"
# The milter's sendmail talks to this private Postfix.
MAIL_CONFIG=$PF_CONF milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"

# 127.0.0.51: four messages, the 3rd and 4th over 2/1h: one over-limit
# notice, one mail.  The sender carries bytes the body must not repeat raw.
for n in 1 2 3 4; do
	smtp_try --local-interface 127.0.0.51 --from '"odd name"@client.e2e.test' --to user@example.com
done
expect_reply mail 453 4.7.0 "" "127.0.0.51's 4th message: 453"

notified() {	# how many notify mails reached the sink
	grep -c '^Subject: milter-policy: client-msgs over its limit for 127\.0\.0\.51$' "$SINK_DUMP"
}
if e2e_wait 20 sh -c "[ \$(grep -c '^Subject: milter-policy: client-msgs over its limit' '$SINK_DUMP') -ge 1 ]"; then
	e2e_ok "the notify mail reached the sink"
else
	e2e_fail "no notify mail in the sink after 20 s: $(grep notify "$MILTER_LOG")"
fi
awk '/^Subject: milter-policy: client-msgs/ { f = 1 } f { print } /reset client-msgs/ { exit }' \
	"$SINK_DUMP" >"$WORK/mail.txt"
awk '/^X-Client-Addr: / { buf = "" } { buf = buf $0 "\n" } /^Subject: milter-policy/ { printf "%s", buf; exit }' \
	"$SINK_DUMP" >"$WORK/envelope.txt"
for want in '^  rule:     client-msgs$' '^  key:      127\.0\.0\.51$' '^  limit:    2/1h$' \
	'^\(tempfail\) at mail with 453 4\.7\.0\.$' '^  client:   unknown\[127\.0\.0\.51\]$' \
	'^  sender:   <"odd\?name"@client\.e2e\.test>$' \
	"^  milter-policy ctl -c $WORK/policy.conf show client-msgs '127\\.0\\.0\\.51'\$" \
	"^  milter-policy ctl -c $WORK/policy.conf reset client-msgs '127\\.0\\.0\\.51'\$"; do
	if grep -qE -- "$want" "$WORK/mail.txt"; then
		e2e_ok "the mail says /$want/"
	else
		e2e_fail "the mail lacks /$want/: $(cat "$WORK/mail.txt")"
	fi
done
if grep -q '^X-Rcpt-Args: <postmaster@example.com>' "$WORK/envelope.txt"; then
	e2e_ok "sent to postmaster@example.com"
else
	e2e_fail "envelope: $(cat "$WORK/envelope.txt")"
fi
# Through pickup: Postfix logged it from the local submission path, which
# smtpd, and so smtpd_milters, never sees.
qid=$(grep -E 'postfix/pickup\[[0-9]+\]: [0-9A-F]+: uid=' "$PF_LOG" | tail -n 1 | sed -E 's/.*: ([0-9A-F]+): uid=.*/\1/')
if [ -n "$qid" ] && grep -q "$qid: to=<postmaster@example.com>.*status=sent" "$PF_LOG"; then
	e2e_ok "Postfix took it through pickup ($qid) and relayed it"
else
	e2e_fail "no pickup line for the notify mail: $(grep -E 'pickup|postmaster' "$PF_LOG")"
fi

# 127.0.0.52 over its limit too: the hour's budget (1) is spent.
for n in 1 2 3; do
	smtp_try --local-interface 127.0.0.52 --to user@example.com
done
expect_reply mail 453 4.7.0 "" "127.0.0.52's 3rd message: 453"
if e2e_wait 10 grep -q 'notify: not mailing postmaster@example.com about rule=client-msgs key=127.0.0.52: 1 mails (milter.notify_max_per_hour) went in the last hour' "$MILTER_LOG"; then
	e2e_ok "the second over-limit is past notify_max_per_hour: logged, not mailed"
else
	e2e_fail "no budget line: $(grep notify "$MILTER_LOG")"
fi
e2e_wait 10 pf_queue_empty
e2e_sleep 2
expect_eq() {	# GOT WANT DESC
	if [ "$1" = "$2" ]; then e2e_ok "$3: $1"; else e2e_fail "$3: got $1, want $2"; fi
}
expect_eq "$(grep -c '^Subject: milter-policy: ' "$SINK_DUMP")" 1 "notify mails in the sink, once in all"
expect_eq "$(notified)" 1 "... the one about 127.0.0.51"
expect_eq "$(grep -c 'notify: mailed postmaster@example.com' "$MILTER_LOG")" 1 "the milter logged one mail sent"
pf_stop
milter_stop
e2e_done
