#!/bin/sh
# milter.thread_stack: libmilter's threads run on the stack it sets, the
# default holds the deepest path with a known margin, and a stack too
# small for that path ends in the guard page (SIGSEGV), not in silent
# corruption.  The deepest path is a refusal with its reply text
# (milter/reply.c renders and escapes up to 32 lines on the stack); the
# hostile protocol suite (tests/milter_hostile) runs on the default with
# tests/stackmark.so preloaded, which reports each thread's high-water mark.
# No MTA.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init stack

for t in tests/milter_hostile tests/stackmark.so bench/milter_load; do
	[ -e "$E2E_ROOT/$t" ] || e2e_die "$t is not built (make $t)"
done
default_k=$(sed -n 's/^#define POL_STACK_DEFAULT[^(]*(\([0-9]*\)UL << 10).*/\1/p' \
	"$E2E_ROOT/policy/policy.h")
[ -n "$default_k" ] || e2e_die "no POL_STACK_DEFAULT in policy/policy.h"
half_k=$((default_k / 2))
marks=$WORK/stackmark.txt

# policy STACK: hostile.conf with milter.thread_stack = STACK ("" : default).
policy() {
	if [ -n "$1" ]; then
		sed "s/^milter = { /milter = { thread_stack = \"$1\"; /" \
			"$E2E_ROOT/tests/e2e/hostile.conf"
	else
		cat "$E2E_ROOT/tests/e2e/hostile.conf"
	fi >"$WORK/policy.conf"
	grep -q "thread_stack = \"$1\"" "$WORK/policy.conf" || [ -z "$1" ] ||
		e2e_die "could not set thread_stack in $WORK/policy.conf"
}

# refuse: one transaction through the deepest path (a relay refusal with
# its text); milter_load's exit status (1: refused, as it should be).
refuse() {
	"$E2E_ROOT/bench/milter_load" -p "$MILTER_SOCKET" -c 1 -n 1 \
		-t victim@other.test -T 10000 >>"$WORK/load.out" 2>&1
}

# 1. Half the default: the deepest path runs into the guard page.
policy "${half_k}k"
milter_start "$E2E_ROOT/milter/milter-policy" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pid=$(milter_pid)
refuse
e2e_wait 10 e2e_dead "$pid"
milter_stop
rc=$?
if [ "$rc" -eq 139 ]; then
	e2e_ok "thread_stack = ${half_k}k (half the default): the deepest path hits the guard page (SIGSEGV)"
else
	e2e_fail "thread_stack = ${half_k}k (half the default): exit status $rc, want 139 (SIGSEGV in the guard page)"
fi

# 2. The default: the same path and the hostile suite pass, and no thread
# used more than the default.
policy ""
rm -f "$marks"
milter_start env LD_PRELOAD="$E2E_ROOT/tests/stackmark.so" STACKMARK_FILE="$marks" \
	"$E2E_ROOT/milter/milter-policy" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
refuse
rc=$?
if [ "$rc" -eq 1 ] && grep -q '^first problem: .*rcpt: 550' "$WORK/load.out"; then
	e2e_ok "default thread_stack (${default_k}k): the deepest path answers (550 at RCPT, as the policy says)"
else
	e2e_fail "default thread_stack (${default_k}k): milter_load exited $rc, want 1 and a 550 at RCPT: $(tail -n 3 "$WORK/load.out")"
fi
"$E2E_ROOT/tests/milter_hostile" "$MILTER_SOCKET" "$(milter_pid)" >"$WORK/hostile.out" 2>&1
rc=$?
fails=$(grep -c '^FAIL: ' "$WORK/hostile.out")
if [ "$rc" -le 1 ] && [ "$fails" -eq 0 ]; then
	e2e_ok "default thread_stack: the hostile protocol suite passes ($(grep -c '^ok - ' "$WORK/hostile.out") checks)"
else
	e2e_fail "default thread_stack: the hostile protocol suite: exit $rc, $fails failed: $(grep -m 3 '^FAIL: ' "$WORK/hostile.out")"
fi
milter_stop
rc=$?
if [ "$rc" -eq 0 ]; then
	e2e_ok "the milter stops cleanly afterwards (exit 0)"
else
	e2e_fail "the milter's exit status after it all: $rc, want 0"
fi

# The threads libmilter started run on the default stack; the deepest
# of them stayed inside it.
size=$((default_k * 1024))
n=$(grep -c "size=$size\$" "$marks" 2>/dev/null)
if [ "${n:-0}" -gt 0 ]; then
	e2e_ok "$n threads ran on a ${default_k}k stack (milter.thread_stack reaches libmilter's threads)"
else
	e2e_fail "no thread ran on a ${default_k}k stack: $(sort -u "$marks" 2>/dev/null | head -n 3)"
fi
deepest=$(awk -v s="size=$size" '$3 == s { sub(/used=/, "", $2); if ($2 + 0 > m) m = $2 + 0 } END { print m + 0 }' "$marks" 2>/dev/null)
if [ "$deepest" -gt 0 ] && [ "$deepest" -lt "$size" ]; then
	e2e_ok "deepest stack use $deepest bytes of $size: margin $(awk -v d="$deepest" -v s="$size" 'BEGIN { printf "%.2fx, %d bytes", s / d, s - d }')"
else
	e2e_fail "deepest stack use $deepest bytes of $size"
fi
if [ "$deepest" -gt $((half_k * 1024)) ]; then
	e2e_ok "the deepest use is over half the default: step 1 tests the real margin"
else
	e2e_fail "the deepest use ($deepest) is under half the default: step 1 proves nothing"
fi

e2e_done
