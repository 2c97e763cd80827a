#!/bin/sh
# Runs every tests/e2e/test_*.sh (or the ones named on the command line),
# shows each one's output and result, and ends with "N passed, M failed"
# over all of them.  Exit status: 0 only if every script passed.
cd "$(dirname "$0")/../.." || exit 2

interrupted=
trap 'interrupted=1' INT TERM HUP

if [ $# -gt 0 ]; then
	tests=$*
else
	tests=$(ls tests/e2e/test_*.sh 2>/dev/null)
fi
[ -n "$tests" ] || {
	echo "no tests/e2e/test_*.sh found"
	echo "0 passed, 1 failed"
	exit 1
}

out=$(mktemp "${TMPDIR:-/tmp}/e2e-run-all.XXXXXX") || exit 2
pass=0
fail=0
bad=
for t in $tests; do
	[ -n "$interrupted" ] && break
	name=$(basename "$t" .sh)
	echo "=== $name"
	start=$(date +%s)
	# A Ctrl-C reaches the test, which cleans up and prints its summary;
	# tee -i and the trap in the subshell outlive it to pass that on.  (The
	# test gets the signal's default action back: trapped, not ignored.)
	rm -f "$out.rc"
	{
		trap : INT TERM HUP
		sh "$t" 2>&1
		echo "$?" >"$out.rc"
	} | tee -i "$out"
	rc=$(cat "$out.rc" 2>/dev/null || echo 1)
	secs=$(($(date +%s) - start))
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	if [ -n "$summary" ]; then
		p=${summary%% passed*}
		f=${summary#* passed, }
		f=${f%% failed}
	else
		p=0
		f=0
	fi
	# a script that exits nonzero with no failure counted still failed
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$rc" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "=== $name: PASS ($p passed, ${secs}s)"
	else
		echo "=== $name: FAIL ($p passed, $f failed, exit $rc, ${secs}s)"
		bad="$bad $name"
	fi
done
rm -f "$out" "$out.rc"

[ -n "$interrupted" ] && {
	echo "=== interrupted"
	fail=$((fail + 1))
}
[ -n "$bad" ] && echo "=== failed:$bad"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
