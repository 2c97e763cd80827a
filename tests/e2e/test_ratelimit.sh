#!/bin/sh
# Rate limits through a real Postfix: 3 messages an hour per client (an
# hour, so no count drains while a busy machine runs the sessions).
# The 4th from 127.0.0.4 gets 453 4.7.0 with the retry time; 127.0.0.5 is
# still served; a restart of the milter with a state file keeps the count.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init ratelimit

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

cat >"$WORK/policy.conf" <<EOF2
state = { file = "$WORK/state"; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "client-msgs";
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "3/1h"; }; }
);
EOF2

sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

for n in 1 2 3; do
	smtp_try --local-interface 127.0.0.4 --to user@example.com
	expect_reply eom 250 2.0.0 "" "127.0.0.4 message $n of 3/1h: queued"
done
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply mail 453 4.7.0 "127.0.0.4 3 per 1 h try again in" \
	"127.0.0.4 message 4: MAIL FROM gets 453 4.7.0 with the limit and the retry time"
expect_log "tempfail stage=mail rule=client-msgs code=453 xcode=4.7.0 client=[^ ]*\[127\.0\.0\.4\]" \
	"milter log: tempfail stage=mail rule=client-msgs code=453"
expect_log "over-limit rule=client-msgs key=127\.0\.0\.4 limit=3/1h" \
	"milter log: the over-limit notice names the rule and the key"

smtp_try --local-interface 127.0.0.5 --to user@example.com
expect_reply eom 250 2.0.0 "" "127.0.0.5 is another counter: queued"

smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply mail 453 4.7.0 "" "127.0.0.4 message 5: still 453"
if [ "$(grep -c 'over-limit rule=client-msgs key=127.0.0.4 ' "$MILTER_LOG")" -eq 1 ]; then
	e2e_ok "the over-limit notice is logged once, not per message"
else
	e2e_fail "over-limit notices for 127.0.0.4, got $(grep -c 'over-limit rule=client-msgs key=127.0.0.4 ' "$MILTER_LOG"), want 1"
fi

# Restart: SIGTERM saves the state file, the new milter loads it.
milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"
if [ -s "$WORK/state" ]; then
	e2e_ok "SIGTERM wrote the state file"
else
	e2e_fail "state file $WORK/state after SIGTERM, got none, want it written"
fi
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
expect_log "state: loaded [1-9][0-9]* counters" "the restarted milter loaded the counters"
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply mail 453 4.7.0 "" "after a restart, 127.0.0.4 is still over its limit"
smtp_try --local-interface 127.0.0.6 --to user@example.com
expect_reply eom 250 2.0.0 "" "after a restart, a new client is served"

e2e_done
