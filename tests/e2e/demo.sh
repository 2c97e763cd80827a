#!/bin/sh
# make demo: a private Postfix on loopback with milter-policy attached,
# the scenario policy (scenarios.conf) and table (scenarios.txt): for each
# scenario, what the SMTP client saw beside the milter's log line.  Starts
# everything itself and stops it on the way out, also on failure.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

E2E_QUIET=1
e2e_init demo >/dev/null

MILTER_BIN=$E2E_ROOT/milter/milter-policy
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

{
	printf 'state = { file = "%s/state"; };\n' "$WORK"
	cat "$E2E_ROOT/tests/e2e/scenarios.conf"
} >"$WORK/policy.conf"

sink_start >/dev/null
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET" >/dev/null
pf_start "$MILTER_PF_SOCKET" >/dev/null

# The last log line matching ERE, waiting a moment for it to be written.
log_line() {
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		_l=$(grep -E -- "$1" "$MILTER_LOG" | tail -n 1)
		[ -n "$_l" ] && break
		sleep 0.2
	done
	printf '%s' "${_l:-(none)}" | sed 's/^milter-policy\[[0-9]*\]: //'
}

show() {
	scenario_try "$2" "$3" "$4"
	printf '\n== %s: from %s, swaks %s%s\n' "$1" "$2" "$4" \
		"$([ "$3" -gt 0 ] && printf ' (try %d)' $(($3 + 1)))"
	try_reply "${5%%:*}" "$(case "$5" in *:*) echo "${5#*:}" ;; *) echo 1 ;; esac)" |
		sed 's/^/   client saw: /'
	if [ -n "$9" ]; then
		printf '   milter log: %s\n' "$(log_line "$9")"
	else
		printf '   milter log: (nothing: a plain accept is not logged)\n'
	fi
}

printf 'milter-policy demo: Postfix on 127.0.0.1:%s, policy tests/e2e/scenarios.conf\n' "$SMTPPORT"
grep -v '^#' "$E2E_ROOT/tests/e2e/scenarios.txt" >"$WORK/scenarios.txt"
while IFS='|' read -r name client before opts stage code xcode words logre; do
	show "$name" "$client" "$before" "$opts" "$stage" "$code" "$xcode" \
		"$words" "$logre" </dev/null
done <"$WORK/scenarios.txt"
printf '\n'

e2e_done
