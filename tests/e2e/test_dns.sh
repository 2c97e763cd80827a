#!/bin/sh
# DNS lists through a real Postfix, against a private DNS server
# (dnsmasq on a loopback port) serving a block list, an allow list and a
# "slow" list: a listed client gets 554 5.7.1 naming the list and quoting
# its TXT; an unlisted one passes; one on the allow list passes; a client
# on the slow list gets the tighter limit.  Then a server that never
# answers and one that answers SERVFAIL: mail passes within the timeout
# plus a margin, the outage is logged once; with on_error = tempfail the
# client gets 451 4.4.3.  `try` shows the answers, and --no-dns skips them.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-dns.sh
. "$(dirname "$0")/lib-dns.sh"

e2e_init dns

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

cat >"$WORK/zones" <<'EOF2'
local=/bl.e2e.test/
local=/wl.e2e.test/
local=/slow.e2e.test/
host-record=3.0.0.127.bl.e2e.test,127.0.0.2
txt-record=3.0.0.127.bl.e2e.test,"Blocked: see https://bl.e2e.test/q?127.0.0.3"
host-record=6.0.0.127.bl.e2e.test,127.0.0.2
host-record=6.0.0.127.wl.e2e.test,127.0.0.2
host-record=7.0.0.127.bl.e2e.test,127.0.0.99
host-record=5.0.0.127.slow.e2e.test,127.0.0.2
EOF2
dns_auth_start "$WORK/zones"

write_policy() { # SERVERS ON_ERROR
	cat >"$WORK/policy.conf" <<EOF2
state = { file = ""; };
dns = { servers = [ "$1" ]; timeout = "1s"; on_error = "$2"; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "dnsbl"; when = { dnsbl = "bl.e2e.test=127.0.0.[2..11]"; };
    unless = { dnswl = "wl.e2e.test"; }; reply = "dnsbl_listed"; },
  { name = "listed-slow"; when = { dnsbl = "slow.e2e.test"; };
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "1/1h"; }; },
  { name = "others";
    limit = { count = "messages"; per = [ "client_addr" ]; rate = "5/1h"; }; }
);
EOF2
}

write_policy "127.0.0.1:$DNS_AUTH_PORT" ignore
sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

smtp_try --local-interface 127.0.0.3 --to user@example.com
expect_reply mail 554 5.7.1 "127.0.0.3 listed bl.e2e.test Blocked: https://bl.e2e.test/q?127.0.0.3 delist provider" \
	"a listed client gets 554 5.7.1 with the list and its TXT"
expect_log "reject stage=connect rule=dnsbl code=554 xcode=5\.7\.1 client=[^ ]*\[127\.0\.0\.3\].* dnsbl=bl\.e2e\.test$" \
	"milter log: reject stage=connect rule=dnsbl code=554"

smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply eom 250 2.0.0 "" "an unlisted client passes"
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply eom 250 2.0.0 "" "an unlisted client's second message passes (5/1h)"

smtp_try --local-interface 127.0.0.6 --to user@example.com
expect_reply eom 250 2.0.0 "" "a client on the block list and the allow list passes"
smtp_try --local-interface 127.0.0.7 --to user@example.com
expect_reply eom 250 2.0.0 "" "a return code outside the filter (127.0.0.99) does not list"

smtp_try --local-interface 127.0.0.5 --to user@example.com
expect_reply eom 250 2.0.0 "" "a client on the slow list: its first message passes"
smtp_try --local-interface 127.0.0.5 --to user@example.com
expect_reply mail 453 4.7.0 "1 per 1 h" "a client on the slow list gets the tighter limit (1/1h)"

# try: the answers, and --no-dns offline
"$MILTER_BIN" try -c "$WORK/policy.conf" --client 127.0.0.3 --from a@b.example \
	--rcpt user@example.com >"$WORK/try.out" 2>&1
if grep -q "dns 3.0.0.127.bl.e2e.test: listed 127.0.0.2 \"Blocked" "$WORK/try.out" &&
	grep -q "connect reject by rule dnsbl" "$WORK/try.out"; then
	e2e_ok "try prints the DNS answer and the verdict"
else
	e2e_fail "try output, got: $(cat "$WORK/try.out")"
fi
"$MILTER_BIN" try -c "$WORK/policy.conf" --client 127.0.0.3 --from a@b.example \
	--rcpt user@example.com --no-dns >"$WORK/try.out" 2>&1
if grep -q "not asked (--no-dns)" "$WORK/try.out" &&
	! grep -q "reject" "$WORK/try.out"; then
	e2e_ok "try --no-dns asks nothing, and unknown lists match nothing"
else
	e2e_fail "try --no-dns output, got: $(cat "$WORK/try.out")"
fi

# A server that never answers: mail passes within the timeout plus a
# margin, and the outage is logged once.
dns_fake_start silent
milter_stop
write_policy "127.0.0.1:$DNS_FAKE_PORT" ignore
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
t0=$(date +%s)
smtp_try --local-interface 127.0.0.3 --to user@example.com
t1=$(date +%s)
expect_reply eom 250 2.0.0 "" "a dead DNS server: the listed client's mail passes"
if [ $((t1 - t0)) -le 8 ]; then
	e2e_ok "a dead DNS server delays the session by $((t1 - t0)) s (timeout 1 s, margin 7 s)"
else
	e2e_fail "a dead DNS server delayed the session by $((t1 - t0)) s, want at most 8"
fi
smtp_try --local-interface 127.0.0.8 --to user@example.com
expect_reply eom 250 2.0.0 "" "a dead DNS server: a second client passes"
n=$(grep -c "dns: list bl.e2e.test does not answer" "$MILTER_LOG")
if [ "$n" -eq 1 ]; then
	e2e_ok "the dead list is logged once for two sessions"
else
	e2e_fail "log lines for the dead list, got $n, want 1"
fi

# A reload back to the live server: the resolver follows, the list's
# recovery is logged, and the listed client is refused again.
write_policy "127.0.0.1:$DNS_AUTH_PORT" ignore
kill -USR1 "$(milter_pid)"
expect_log "reloaded: policy" "the milter reloaded the policy (the live DNS server)"
smtp_try --local-interface 127.0.0.3 --to user@example.com
expect_reply mail 554 5.7.1 "bl.e2e.test" "after the reload the listed client is refused again"
expect_log "dns: list bl\.e2e\.test answers again" "the list's recovery is logged"

# SERVFAIL: unknown too; with on_error = tempfail the client hears 451 4.4.3.
dns_fake_start servfail
milter_stop
write_policy "127.0.0.1:$DNS_FAKE_PORT" tempfail
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
smtp_try --local-interface 127.0.0.3 --to user@example.com
expect_reply mail 451 4.4.3 "could not look up 127.0.0.3 bl.e2e.test" \
	"SERVFAIL with on_error = tempfail: 451 4.4.3 names the list"
expect_log "dns: list bl.e2e.test does not answer \(.*\)" \
	"SERVFAIL is logged as an outage"

# The second door: Postfix's policy protocol gets the same answer.
write_policy "127.0.0.1:$DNS_AUTH_PORT" ignore
echo "policy_service = { listen = \"unix:$WORK/policyd.sock\"; };" >>"$WORK/policy.conf"
milter_stop
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
e2e_wait 10 test -S "$WORK/policyd.sock" || e2e_die "no policy service socket"
ans=$(pf_policy_ask "$WORK/policyd.sock" protocol_state=RCPT \
    client_address=127.0.0.3 sender=a@b.example recipient=user@example.com)
case "$ans" in
"action=554 5.7.1 Client 127.0.0.3 is listed on the DNS block list bl.e2e.test (Blocked"*)
	e2e_ok "the policy service answers a listed client with the same 554 5.7.1" ;;
*) e2e_fail "policy service answer for a listed client, got \"$ans\"" ;;
esac

e2e_done
