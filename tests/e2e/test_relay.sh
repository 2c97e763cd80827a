#!/bin/sh
# Relay control and a HELO rule, through a real Postfix: milter-policy
# decides who may relay, Postfix itself accepts everything.
#   127.0.0.1  trusted (trusted_networks)   may relay anywhere
#   127.0.0.3  untrusted                     may send only to example.com
# E2E_MILTER_BIN=PATH runs another binary with the same options.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init relay

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

cat >"$WORK/policy.conf" <<'EOF'
# e2e test policy: relay control and one HELO rule
lists = {
  trusted_networks = [ "127.0.0.1/32" ];
  local_domains = [ "example.com" ];
};

relay = {
  local_domains = "@local_domains";
  permit = { client = "@trusted_networks"; authenticated = true; };
  reply = "relay_denied";
};

rules = (
  { name = "bad-helo";
    when = { helo = [ "localhost" ]; };
    reply = "554 5.7.1 HELO %{helo} is not a name this server accepts"; }
);
EOF

if "$MILTER_BIN" -t -c "$WORK/policy.conf" >"$WORK/policy-check.txt" 2>&1; then
	e2e_ok "the test policy passes milter-policy -t"
else
	e2e_fail "milter-policy -t -c policy.conf, got exit status $?, want 0"
	sed 's/^/#   /' "$WORK/policy-check.txt"
fi

sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

# 1. Untrusted client, foreign domain: refused at RCPT TO, by the milter.
smtp_try --local-interface 127.0.0.3 --to user@other.org
expect_reply mail 250 2.1.0 "" "127.0.0.3: MAIL FROM accepted"
expect_reply rcpt 550 5.7.1 "user@other.org relay" \
	"127.0.0.3 to user@other.org: RCPT TO gets 550 5.7.1 naming the recipient and relaying"
expect_try_rc 24 "swaks: no recipient accepted"
expect_log "reject stage=rcpt rule=relay code=550 xcode=5.7.1" \
	"milter log: reject stage=rcpt rule=relay code=550 xcode=5.7.1"
expect_log "reject stage=rcpt rule=relay code=550 xcode=5.7.1 .*client=[^ ]*\[127\.0\.0\.3\].* rcpt=<user@other\.org>" \
	"milter log line names the client [127.0.0.3] and rcpt=<user@other.org>"

# 2. Untrusted client, local domain: accepted and delivered.
smtp_try --local-interface 127.0.0.3 --to user@example.com
expect_reply rcpt 250 2.1.5 "" "127.0.0.3 to user@example.com: RCPT TO 250 2.1.5"
expect_reply eom 250 2.0.0 "queued" "127.0.0.3 to user@example.com: message queued"
expect_delivered "127.0.0.3 to user@example.com: reached the sink"

# 3. Trusted client, foreign domain: relays.
smtp_try --local-interface 127.0.0.1 --to user@other.org
expect_reply rcpt 250 2.1.5 "" "127.0.0.1 (trusted) to user@other.org: RCPT TO 250 2.1.5"
expect_reply eom 250 2.0.0 "queued" "127.0.0.1 (trusted) to user@other.org: message queued"
expect_delivered "127.0.0.1 (trusted) to user@other.org: reached the sink"

# 4. One message, a local and a foreign recipient, untrusted client: only
#    the foreign one is refused, the message goes on to the local one.
smtp_try --local-interface 127.0.0.3 --to user@example.com,user@other.org
expect_reply rcpt:1 250 2.1.5 "" "127.0.0.3, two recipients: user@example.com accepted"
expect_reply rcpt:2 550 5.7.1 "user@other.org" "127.0.0.3, two recipients: user@other.org refused 550 5.7.1"
expect_reply eom 250 2.0.0 "" "127.0.0.3, two recipients: message queued"
expect_sink "^X-Rcpt-Args: <user@example\.com>" "two recipients: delivered to user@example.com"
expect_no_sink "^X-Rcpt-Args: <user@other\.org>" "two recipients: not delivered to user@other.org"

# 5. The HELO rule.  Postfix takes a milter's reject at HELO/EHLO, answers
#    the EHLO itself with 250 (extensions stripped), and gives the milter's
#    reply to the next command, MAIL FROM (whatever smtpd_delay_reject says).
smtp_try --local-interface 127.0.0.3 --helo localhost --to user@example.com
expect_reply mail 554 5.7.1 "HELO localhost" \
	"HELO localhost from 127.0.0.3: 554 5.7.1 naming the HELO (given at MAIL FROM)"
expect_pflog "milter-reject: EHLO from [^ ]*\[127\.0\.0\.3\]: 554 5\.7\.1 HELO localhost" \
	"Postfix log: the milter rejected at EHLO"
expect_log "reject stage=helo rule=bad-helo code=554 xcode=5.7.1" \
	"milter log: reject stage=helo rule=bad-helo code=554 xcode=5.7.1"

# 6. SIGTERM: the milter stops cleanly (exit 0).
pf_stop
milter_stop
rc=$?
if [ "$rc" -eq 0 ]; then
	e2e_ok "milter exits 0 on SIGTERM"
else
	e2e_fail "milter exit status after SIGTERM, got $rc, want 0"
fi

e2e_done
