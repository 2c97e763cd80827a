#!/bin/sh
# Self-test of the e2e harness: a private Postfix with NO milter accepts a
# message from an untrusted loopback client (127.0.0.3) to a foreign domain
# and relays it to the sink.  Postfix itself never refuses relaying here;
# in the other tests the milter is what decides.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init harness
sink_start
pf_start none

expect_pflog "starting the Postfix mail system" "Postfix logs through postlogd into $PF_LOG"

# The untrusted client, to a domain that is nobody's here.
smtp_try --local-interface 127.0.0.3 --to someone@other.org
expect_reply connect 220 - "ESMTP" "banner: 220"
expect_reply helo 250 - "" "EHLO client.e2e.test: 250"
expect_reply mail 250 2.1.0 "" "MAIL FROM: 250 2.1.0"
expect_reply rcpt 250 2.1.5 "" "RCPT TO:<someone@other.org> from 127.0.0.3: 250 2.1.5 (Postfix does not refuse relaying)"
expect_reply eom 250 2.0.0 "queued" "end of data: 250 2.0.0 queued"
expect_try_rc 0 "swaks exits 0"
expect_pflog "connect from [^ ]*\[127\.0\.0\.3\]" "Postfix saw the client as 127.0.0.3"
expect_delivered "the message from 127.0.0.3 to someone@other.org reached the sink"

# The trusted address works as well, and several recipients are counted
# one by one (rcpt:2 is the second RCPT TO).
smtp_try --local-interface 127.0.0.1 --to a@example.com,b@other.org
expect_reply rcpt:1 250 2.1.5 "" "127.0.0.1: first RCPT TO: 250 2.1.5"
expect_reply rcpt:2 250 2.1.5 "" "127.0.0.1: second RCPT TO: 250 2.1.5"
expect_pflog "connect from [^ ]*\[127\.0\.0\.1\]" "Postfix saw the client as 127.0.0.1"
expect_delivered "the message from 127.0.0.1 reached the sink"

# XCLIENT from 127.0.0.9 lets a test play any client address.
smtp_try --local-interface 127.0.0.9 --xclient-addr 192.0.2.7 --xclient-name mx.example.net \
	--to someone@other.org
expect_reply xclient 220 - "" "XCLIENT from 127.0.0.9 accepted"
expect_reply rcpt 250 2.1.5 "" "XCLIENT ADDR=192.0.2.7: RCPT TO: 250 2.1.5"
expect_pflog "client=mx\.example\.net\[192\.0\.2\.7\]" "Postfix took 192.0.2.7 as the client"
expect_delivered "the XCLIENT message reached the sink"

# The harness's own assertions must catch a mismatch: run them on a copy of
# the counters and turn their verdict around.
_p=$E2E_PASS
_f=$E2E_FAIL
if expect_reply rcpt 550 5.7.1 "relay" "(negative control)" >/dev/null; then
	E2E_PASS=$_p E2E_FAIL=$_f
	e2e_fail "expect_reply accepted a 250 as 550"
else
	E2E_PASS=$_p E2E_FAIL=$_f
	e2e_ok "expect_reply refuses a wrong code"
fi
if expect_reply rcpt 250 2.1.5 "nosuchword" "(negative control)" >/dev/null; then
	E2E_PASS=$_p E2E_FAIL=$_f
	e2e_fail "expect_reply accepted text it does not contain"
else
	E2E_PASS=$_p E2E_FAIL=$_f
	e2e_ok "expect_reply refuses missing words"
fi

e2e_done
