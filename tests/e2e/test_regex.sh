#!/bin/sh
# A regex's work is bounded whatever the value (issue 20): a 2 kB sender
# against /(a|a){1,17}b/ took 41 s and passed as "continue", as PCRE2's
# match limit counts per start position.  Now the rule runs out of its
# budget: an error verdict (on_error: 451 4.3.0), answered at once, through
# Postfix and through `try`, and logged once per rule and client.  Timing is only checked against a generous
# 10 s; what a match costs is for `make bench` and the README.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init regex

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

cat >"$WORK/policy.conf" <<EOF2
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "aab"; when = { sender = "/(a|a){1,17}b/"; };
    reply = "550 5.7.1 Senders with a run of a then b are not accepted here"; }
);
EOF2

# 2,000 "a" then "Xb": no match, and out of budget at the first start.
HOSTILE="$(printf '%2000s' '' | tr ' ' a)Xb@client.e2e.test"

# expect_quick T0 WHAT: WHAT was answered within 10 s of T0 (date +%s).
expect_quick() {
	_dt=$(($(date +%s) - $1))
	if [ "$_dt" -lt 10 ]; then
		e2e_ok "$2: answered within 10 s (${_dt} s)"
	else
		e2e_fail "$2: answered after ${_dt} s, want under 10 s"
	fi
}

t0=$(date +%s)
out=$(timeout 60 "$MILTER_BIN" try -c "$WORK/policy.conf" \
	--client 192.0.2.7 --helo client.e2e.test --from "$HOSTILE" \
	--rcpt user@example.com 2>&1)
expect_quick "$t0" "try, the 2 kB hostile sender"
echo "$out" | grep -q "^mail *error by rule aab" && echo "$out" | grep -q "451 4.3.0" &&
	e2e_ok "try: the rule's error at mail, 451 4.3.0" ||
	e2e_fail "try: got \"$(echo "$out" | cut -c1-120 | head -n 6)\", want mail error by rule aab, 451 4.3.0"
out=$("$MILTER_BIN" try -c "$WORK/policy.conf" --client 192.0.2.7 \
	--helo client.e2e.test --from aaab@client.e2e.test --rcpt user@example.com 2>&1)
echo "$out" | grep -q "^mail *reject by rule aab" &&
	e2e_ok "try: a short sender that matches is refused by the rule" ||
	e2e_fail "try: aaab@, got \"$(echo "$out" | head -n 4)\", want mail reject by rule aab"

sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

t0=$(date +%s)
smtp_try --local-interface 127.0.0.4 --from "$HOSTILE" --to user@example.com
expect_quick "$t0" "Postfix, the 2 kB hostile sender"
expect_reply mail 451 4.3.0 "" "Postfix: the 2 kB hostile sender gets the rule's error, 451 4.3.0"
expect_log "error stage=mail rule=aab code=451 xcode=4.3.0" "milter log: the error line names the rule"
# The same client again, twice: answered the same, logged once (per rule
# and client); another client's error is its own line.
for n in 2 3; do
	smtp_try --local-interface 127.0.0.4 --from "$HOSTILE" --to user@example.com
	expect_reply mail 451 4.3.0 "" "Postfix: the hostile sender again ($n): 451 4.3.0"
done
n4=$(grep -c "error stage=mail rule=aab .*\[127\.0\.0\.4\]" "$MILTER_LOG")
[ "$n4" -eq 1 ] && e2e_ok "the rule's error for 127.0.0.4 is logged once for three messages" ||
	e2e_fail "error lines for rule aab and 127.0.0.4, got $n4, want 1 (once per rule and client)"
smtp_try --local-interface 127.0.0.5 --from "$HOSTILE" --to user@example.com
expect_reply mail 451 4.3.0 "" "Postfix: another client with the hostile sender: 451 4.3.0"
expect_log "error stage=mail rule=aab .*\[127\.0\.0\.5\]" "another client's error has a line of its own"
smtp_try --local-interface 127.0.0.4 --from aaab@client.e2e.test --to user@example.com
expect_reply mail 550 5.7.1 "run of a then b" "Postfix: a sender that matches gets the rule's 550"
smtp_try --local-interface 127.0.0.4 --to user@example.com
expect_reply eom 250 2.0.0 "" "Postfix: another sender is queued"

e2e_done
