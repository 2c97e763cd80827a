#!/bin/sh
# The Prometheus endpoint (metrics = { listen = ...; }): known traffic
# through a private Postfix and the milter, then a scrape with curl must
# show the exact counts (decisions by stage, rule, code and action; the
# over-limit event; connections, messages; sessions open back at 0),
# reloads and their result, the rules loaded; the scrape passes the
# format checker (tests/e2e/promcheck.py; promtool is 96 MB).  A taken
# port and a bad listen value stop the start with a clear error.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init metrics

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
command -v curl >/dev/null || e2e_die "missing tool: curl (see tests/install-deps.sh)"
e2e_free_port
METRICSPORT=$E2E_PORT

write_policy() {	# FILE [EXTRA RULE]
	cat >"$1" <<EOF2
milter = { stats_interval = 0; };
state = { file = ""; };
metrics = { listen = "127.0.0.1:$METRICSPORT"; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "client-msgs";
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "3/1h"; }; }$2
);
EOF2
}
write_policy "$WORK/policy.conf"

start_time=$(date +%s)
sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

scrape() {	# into $WORK/m.txt
	curl -sf --max-time 10 "http://127.0.0.1:$METRICSPORT/metrics" >"$WORK/m.txt" ||
		e2e_fail "curl http://127.0.0.1:$METRICSPORT/metrics: exit $?"
}
value() {	# SERIES: its value in the last scrape, or "absent"
	awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print "absent" }' "$WORK/m.txt"
}
expect_value() {	# SERIES WANT DESC
	_v=$(value "$1")
	if [ "$_v" = "$2" ]; then e2e_ok "$3: $1 $_v"; else e2e_fail "$3: $1 got $_v, want $2"; fi
}
format_ok() {	# DESC
	if python3 "$E2E_ROOT/tests/e2e/promcheck.py" "$WORK/m.txt" >"$WORK/check.txt" 2>&1; then
		e2e_ok "$1: $(cat "$WORK/check.txt")"
	else
		e2e_fail "$1: $(cat "$WORK/check.txt")"
	fi
}

scrape
# pf_start's readiness probe is a connection too: count from here
c0=$(value milter_policy_connections_total)
expect_value milter_policy_messages_total 0 "before any mail"
expect_value milter_policy_rules 1 "the policy's one rule"
format_ok "the text format, before any mail"

# 127.0.0.41: five messages, the 4th and 5th over 3/1h; 127.0.0.42: a relay attempt
for n in 1 2 3 4 5; do
	smtp_try --local-interface 127.0.0.41 --to user@example.com
done
expect_reply mail 453 4.7.0 "" "127.0.0.41's 5th message: 453"
smtp_try --local-interface 127.0.0.42 --to user@other.org
expect_reply rcpt 550 5.7.1 "" "127.0.0.42's relay attempt: 550"
e2e_wait 10 sh -c "curl -sf 'http://127.0.0.1:$METRICSPORT/metrics' | grep -qx 'milter_policy_sessions_open 0'" ||
	e2e_fail "sessions_open did not come back to 0"

scrape
expect_value 'milter_policy_decisions_total{stage="mail",rule="client-msgs",code="453",action="tempfail"}' 2 \
	"two refusals at MAIL by client-msgs"
expect_value 'milter_policy_decisions_total{stage="rcpt",rule="relay",code="550",action="reject"}' 1 \
	"one relay refusal"
expect_value 'milter_policy_over_limit_total{rule="client-msgs"}' 1 "one counter went over its limit, once"
expect_value milter_policy_connections_total "$((c0 + 6))" "six SMTP sessions more"
expect_value milter_policy_messages_total 6 "six MAIL FROM"
expect_value milter_policy_sessions_open 0 "no session open after the traffic"
expect_value milter_policy_errors_total 0 "no error"
expect_value milter_policy_store_errors_total 0 "no store error"
calls=$(value milter_policy_store_calls_total)
if [ "$calls" != absent ] && [ "$calls" -ge 5 ]; then
	e2e_ok "store calls: $calls (a take per message at least)"
else
	e2e_fail "store calls: got $calls, want >= 5"
fi
expect_value milter_policy_store_call_duration_seconds_count "$calls" "the latency histogram counts every store call"
expect_value 'milter_policy_store_call_duration_seconds_bucket{le="+Inf"}' "$calls" "... in its +Inf bucket"
st=$(value process_start_time_seconds)
if [ "$st" -ge "$((start_time - 5))" ] && [ "$st" -le "$(date +%s)" ]; then
	e2e_ok "process_start_time_seconds $st is the start"
else
	e2e_fail "process_start_time_seconds $st, want about $start_time"
fi
if grep -q '127\.0\.0\.4[12]' "$WORK/m.txt"; then
	e2e_fail "a client address is in the metrics: $(grep '127\.0\.0\.4' "$WORK/m.txt")"
else
	e2e_ok "no client address in any label"
fi
format_ok "the text format, after traffic"

# Reloads: one good (two rules now), one bad (kept).
write_policy "$WORK/policy.conf" ', { name = "bad-helo"; when = { helo = "/^bad/"; }; reply = "550 5.7.1 bad helo"; }'
kill -USR1 "$(milter_pid)"
e2e_wait 10 grep -q 'reloaded: policy' "$MILTER_LOG" || e2e_fail "no reload line"
echo 'rules = ( { name = ' >"$WORK/policy.conf"
kill -USR1 "$(milter_pid)"
e2e_wait 10 grep -q 'is not valid; keeping' "$MILTER_LOG" || e2e_fail "no failed reload line"
scrape
expect_value 'milter_policy_reloads_total{result="ok"}' 1 "one reload in force"
expect_value 'milter_policy_reloads_total{result="error"}' 1 "one reload refused"
expect_value milter_policy_rules 2 "the reloaded policy's two rules"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICSPORT/other")
[ "$status" = 404 ] && e2e_ok "another path: 404" || e2e_fail "another path: got $status, want 404"

# A second milter on the same metrics port: a clear error at start.
write_policy "$WORK/second.conf"
"$MILTER_BIN" -f -c "$WORK/second.conf" -p "unix:$WORK/second.sock" >"$WORK/second.log" 2>&1 </dev/null
rc=$?
if [ "$rc" = 71 ] && grep -q "metrics: cannot listen on 127.0.0.1:$METRICSPORT: Address already in use" "$WORK/second.log"; then
	e2e_ok "port taken: exit 71, $(cat "$WORK/second.log" | tail -n 1)"
else
	e2e_fail "port taken: exit $rc, $(cat "$WORK/second.log")"
fi
# A bad listen value: FILE:LINE at start and with -t.
printf 'metrics = { listen = "localhost:%s"; };\n' "$METRICSPORT" >"$WORK/bad.conf"
"$MILTER_BIN" -f -c "$WORK/bad.conf" -p "unix:$WORK/bad.sock" >"$WORK/bad.log" 2>&1 </dev/null
rc=$?
if [ "$rc" = 78 ] && grep -q "bad.conf:1: listen \"localhost:$METRICSPORT\" is not an address and port" "$WORK/bad.log"; then
	e2e_ok "bad listen: exit 78, $(head -n 1 "$WORK/bad.log")"
else
	e2e_fail "bad listen: exit $rc, $(cat "$WORK/bad.log")"
fi
pf_stop
milter_stop
e2e_done
