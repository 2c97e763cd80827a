#!/bin/sh
# The scenario suite: one table (scenarios.txt), every kind of reply,
# through a real Postfix, then a real Sendmail, with swaks.  Each row: the
# client address, the swaks options, how many identical tries come first
# (to reach a limit), then the stage, code, enhanced code and key words the
# client must see, and the milter's log line.  The policy is
# scenarios.conf; each MTA's run starts with fresh counters.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init scenarios

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

{
	printf 'state = { file = "%s/state"; };\n' "$WORK"
	cat "$E2E_ROOT/tests/e2e/scenarios.conf"
} >"$WORK/policy.conf"

# The milter with fresh counters and a fresh log, for one MTA's run.
milter_fresh() {
	[ -n "$(milter_pid)" ] && milter_stop
	rm -f "$WORK/state"
	[ -f "$MILTER_LOG" ] && mv "$MILTER_LOG" "$MILTER_LOG.$1"
	milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
}

run_scenario() {
	scenario_try "$3" "$4" "$5"
	expect_reply "$6" "$7" "$8" "$9" "$1: $2: $6 gets $7 $8${9:+ ($9)}"
	[ -z "${10}" ] || expect_log "${10}" "$1: $2: the milter's log line"
}

# run_table MTA: every row of scenarios.txt, then the checks on the whole.
run_table() {
	grep -v '^#' "$E2E_ROOT/tests/e2e/scenarios.txt" >"$WORK/scenarios.txt"
	while IFS='|' read -r name client before opts stage code xcode words logre; do
		run_scenario "$1" "$name" "$client" "$before" "$opts" "$stage" \
			"$code" "$xcode" "$words" "$logre" </dev/null
	done <"$WORK/scenarios.txt"

	# The connection over its rate was closed after the 421.
	smtp_try --local-interface 127.0.0.6 --to user@example.com
	if [ -z "$(try_reply mail)" ]; then
		e2e_ok "$1: connections over rate: the session ends at the 421"
	else
		e2e_fail "$1: connections over rate: got a MAIL FROM reply \"$(try_reply mail)\", want the session closed"
	fi

	# A bare CR inside the sender (a client trying to split the reply or
	# the log line): the MTA may refuse it itself before the milter sees
	# it; the milter's own escaping of CR/LF is in tests/check_replies.c.
	smtp_try --local-interface 127.0.0.3 --from "$(printf 'cr\rlf@evil.test')" --to user@example.com
	e2e_note "$1: sender with a bare CR: MAIL FROM reply \"$(try_reply mail | cat -v)\""
	if try_reply mail | LC_ALL=C grep -q '[[:cntrl:]]'; then
		e2e_fail "$1: sender with a bare CR: the reply carries a control character: $(try_reply mail | cat -v)"
	else
		e2e_ok "$1: sender with a bare CR: the reply has no control character"
	fi

	if LC_ALL=C grep -q '[[:cntrl:]]' "$MILTER_LOG"; then
		e2e_fail "$1: the milter's log has raw control characters: $(LC_ALL=C grep -n '[[:cntrl:]]' "$MILTER_LOG" | head -n 1 | cat -v)"
	else
		e2e_ok "$1: the milter's log has no raw control characters"
	fi
}

sink_start
milter_fresh none
pf_start "$MILTER_PF_SOCKET"
run_table Postfix
pf_stop

milter_fresh postfix
sm_start "$MILTER_SOCKET"
run_table Sendmail
sm_stop

milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"
e2e_done
