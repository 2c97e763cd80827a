#!/bin/sh
# Hostile input straight through the milter protocol (tests/milter_hostile):
# stages out of order, EOM twice, 64 kB addresses, CR/LF, NUL, 8-bit bytes
# and % in every field and macro, missing macros, 10,000 recipients,
# 100,000 headers, a header over libmilter's packet limit, clients that
# leave at every stage, 1,000 connections at once.  The milter must answer
# sanely or hang up, stay up, keep its memory bounded and log no raw
# control character.  No MTA: this is what an MTA would never send.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init protocol

cp "$E2E_ROOT/tests/e2e/hostile.conf" "$WORK/policy.conf"

[ -x "$E2E_ROOT/tests/milter_hostile" ] || e2e_die "tests/milter_hostile is not built (make tests/milter_hostile)"
milter_start "$E2E_ROOT/milter/milter-policy" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"

"$E2E_ROOT/tests/milter_hostile" "$MILTER_SOCKET" "$(milter_pid)" >"$WORK/hostile.out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) e2e_ok "${line#ok - }" ;;
	"FAIL: "*) e2e_fail "${line#FAIL: }" ;;
	*) e2e_note "$line" ;;
	esac
done <"$WORK/hostile.out"
[ "$rc" -le 1 ] || e2e_fail "milter_hostile exited $rc"

if LC_ALL=C grep -q '[[:cntrl:]]' "$MILTER_LOG"; then
	e2e_fail "a raw control character in the milter log, line $(LC_ALL=C grep -n '[[:cntrl:]]' "$MILTER_LOG" | head -n 1 | cut -d: -f1)"
else
	e2e_ok "no raw control character in the milter log"
fi
milter_stop
rc=$?
[ "$rc" -eq 0 ] && e2e_ok "the milter stops cleanly afterwards (exit 0)" ||
	e2e_fail "the milter's exit status after it all: $rc, want 0"

e2e_done
