#!/bin/sh
# `try` reads the memory store's state file to the millisecond: a counter
# of bytes at 1000 per second drains one byte a millisecond, so the level
# try reports is 99000 less the milliseconds since the milter counted the
# message, and the test brackets those with the wall clock before and
# after each step.  Until try read the wall clock in whole seconds it moved
# every saved counter up to a second later: up to 999 bytes too many here,
# and in test_prefix a /22 that had drained to just under 2 of 2/1h read
# "used 3" about one run in four.  try starts in the middle of a second,
# so that error would be hundreds of bytes; the bounds hold however slow
# the machine is (only a level gone below the refusal, after 45 s, skips).
# shellcheck disable=SC2015 # "A && e2e_ok || e2e_fail": e2e_ok never fails
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init trystate

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
command -v python3 >/dev/null || e2e_die "python3 is needed for the raw requests"
PD_SOCK=$WORK/milter/policyd.sock

cat >"$WORK/policy.conf" <<EOF2
state = { file = "$WORK/state"; };
policy_service = { listen = "unix:$PD_SOCK"; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "client-bytes";
    limit = { count = "bytes"; per = "client_addr"; rate = "100000/100s"; }; }
);
EOF2

# The wall clock in ms (GNU date).
now_ms() {
	date +%s%3N
}

# One END-OF-MESSAGE request of SIZE bytes from CLIENT; prints the action.
pd_eom() { # CLIENT SIZE
	pf_policy_ask "$PD_SOCK" protocol_state=END-OF-MESSAGE \
	    client_address="$1" client_port=1 sender=a@b.example \
	    recipient=user@example.com size="$2" instance=t1
}

# Until the wall clock is 300 to 600 ms into a second.
mid_second() {
	_i=0
	while [ "$_i" -lt 50 ]; do
		_ms=$(date +%N)
		_ms=$((1${_ms%??????} - 1000))
		[ "$_ms" -ge 300 ] && [ "$_ms" -lt 600 ] && return 0
		e2e_sleep 0.05
		_i=$((_i + 1))
	done
}

# 50000 bytes of message for try: over what is left of 100000 while the
# counter holds more than 50000.
{
	printf 'Subject: try\n\n'
	i=0
	while [ "$i" -lt 625 ]; do
		printf '%079d\n' "$i"
		i=$((i + 1))
	done
} >"$WORK/message"

MILTER_WAIT_FOR=unix:$PD_SOCK
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
t_a=$(now_ms)
out=$(pd_eom 127.0.0.40 99000)
t_d=$(now_ms)
case "$out" in
"action=DUNNO"*) e2e_ok "99000 bytes from 127.0.0.40 counted: DUNNO" ;;
*) e2e_fail "99000 bytes from 127.0.0.40: got \"$out\", want action=DUNNO" ;;
esac
milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"
[ -s "$WORK/state" ] && e2e_ok "the state file is written at the stop" ||
	e2e_fail "no state file $WORK/state after the stop"

mid_second
t_c=$(now_ms)
out=$("$MILTER_BIN" try -c "$WORK/policy.conf" --client 127.0.0.40 \
	--from a@b.example --rcpt user@example.com --message "$WORK/message" 2>&1)
t_b=$(now_ms)
used=$(echo "$out" | sed -n 's/^eom *tempfail by rule client-bytes (key 127\.0\.0\.40: used \([0-9]*\),.*/\1/p')
if [ -z "$used" ] && [ $((t_b - t_a)) -ge 45000 ]; then
	e2e_note "try came $((t_b - t_a)) ms after the count: the counter drained below the refusal; bounds not checked"
elif [ -z "$used" ]; then
	e2e_fail "try for 127.0.0.40 with 50000 bytes, $((t_b - t_a)) ms after the count: no refusal with a count, got: $out"
else
	# the level drained one byte a ms between the count (after t_a,
	# before t_d) and try's reading (after t_c, before t_b); 20 ms for the
	# state file's rounding to the ms
	lo=$((99000 - (t_b - t_a) - 20))
	hi=$((99000 - (t_c - t_d) + 20))
	[ "$used" -ge "$lo" ] && [ "$used" -le "$hi" ] &&
		e2e_ok "try reads the saved counter to the ms: used $used, in [$lo, $hi]" ||
		e2e_fail "try read used $used bytes, want $lo to $hi (99000 less the ms since the count; try started $((t_c % 1000)) ms into its second)"
fi
e2e_done
