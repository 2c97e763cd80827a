#!/bin/sh
# The bytes a client sends are what it is charged, not what it declares
# (issue 20): five 1,000,000-byte messages declared SIZE=1 passed a `bytes`
# limit and an eom `size` rule, and `ctl show` said used=5.  Postfix itself
# passes a body larger than the declared SIZE= (it only refuses a SIZE= over
# message_size_limit at MAIL FROM, and a message over that limit), so the
# milter must count.  A client (smtp-size.py) declares SIZE=1 and sends
# 100 kB or 600 kB; the count shows in `ctl show`, the limit and the size
# rule refuse at end of message; a declared SIZE= over the rule's size is
# still refused early, at MAIL FROM.  The same through Sendmail, which also
# takes a body larger than its SIZE=.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init bytes

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
command -v python3 >/dev/null || e2e_die "python3 is needed for the SIZE= client"

cat >"$WORK/policy.conf" <<EOF2
milter = { control_socket = "$WORK/ctl.sock"; };
state = { file = "$WORK/state"; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "declared-big"; when = { size = ">5000000"; };
    reply = "552 5.3.4 Declared too big for this server"; },
  { name = "big"; when = { size = ">500000"; }; stage = "eom";
    reply = "552 5.3.4 Message too big for this server"; },
  { name = "client-bytes";
    limit = { count = "bytes"; per = [ "client_addr" ]; rate = "250000/1h"; }; }
);
EOF2

# size_try SOURCE SIZE BYTES: one session through smtp-size.py, with its
# transcript where expect_reply reads it.
size_try() {
	E2E_TRY_N=$((E2E_TRY_N + 1))
	TRANSCRIPT=$WORK/try-$E2E_TRY_N.txt
	echo "### try $E2E_TRY_N: smtp-size.py $*" >"$TRANSCRIPT"
	python3 "$E2E_ROOT/tests/e2e/smtp-size.py" "$SMTPPORT" "$@" >>"$TRANSCRIPT" 2>&1
	TRY_RC=$?
	[ -n "${E2E_VERBOSE:-}" ] && sed 's/^/#   /' "$TRANSCRIPT"
	return 0
}

# expect_used RULE KEY MIN MAX: ctl show says MIN <= used <= MAX (the level
# drains at the rate, 69 bytes a second: MIN allows for a slow moment).
expect_used() {
	_out=$("$MILTER_BIN" ctl -s "$WORK/ctl.sock" show "$1" "$2")
	_used=$(echo "$_out" | sed -n 's/.* used=\([0-9]*\).*/\1/p')
	if [ -n "$_used" ] && [ "$_used" -ge "$3" ] && [ "$_used" -le "$4" ]; then
		e2e_ok "ctl show $1 $2: used=$_used, the bytes sent"
	else
		e2e_fail "ctl show $1 $2, got \"$_out\", want used between $3 and $4"
	fi
}

sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

# 127.0.0.4: SIZE=1, 100 kB sent; charged about 100 kB (headers and body).
size_try 127.0.0.4 1 100000
expect_reply mail 250 - "" "declared SIZE=1: MAIL FROM accepted"
expect_reply eom 250 2.0.0 "" "SIZE=1, 100 kB sent: queued (under every limit)"
expect_used client-bytes 127.0.0.4 95000 101500

# Two more: 200 kB, then 300 kB > 250,000 per hour.
size_try 127.0.0.4 1 100000
expect_reply eom 250 2.0.0 "" "SIZE=1, the second 100 kB: queued"
size_try 127.0.0.4 1 100000
expect_reply eom 452 4.3.1 "" "SIZE=1, the third 100 kB: over 250,000 bytes an hour, 452 4.3.1"
expect_log "tempfail stage=eom rule=client-bytes code=452" \
	"milter log: the bytes limit refused at eom"
expect_used client-bytes 127.0.0.4 190000 203000

# 127.0.0.5: SIZE=1, 600 kB sent: the eom size rule sees the 600 kB.
size_try 127.0.0.5 1 600000
expect_reply eom 552 5.3.4 "too big" "SIZE=1, 600 kB sent: the eom size rule refuses, 552 5.3.4"
expect_log "reject stage=eom rule=big code=552" "milter log: reject stage=eom rule=big"

# The declared size still refuses early, at MAIL FROM.
size_try 127.0.0.6 6000000 1000
expect_reply mail 552 5.3.4 "declared" "SIZE=6000000: refused at MAIL FROM by its declaration"

# An honest declaration changes nothing: 1 kB declared and sent.
size_try 127.0.0.7 1000 1000
expect_reply eom 250 2.0.0 "" "SIZE=1000, 1 kB sent: queued"
expect_used client-bytes 127.0.0.7 800 1500

# Bytes in the headers count too: 50 kB of X-Pad and a 1 kB body.
size_try 127.0.0.3 1 51000 50000
expect_reply eom 250 2.0.0 "" "SIZE=1, a 50 kB header and a 1 kB body: queued"
expect_used client-bytes 127.0.0.3 48000 52500

# Sendmail passes SIZE= on and a larger body too; the milter counts the same.
pf_stop
sm_start "$MILTER_SOCKET"
size_try 127.0.0.8 1 600000
expect_reply eom 552 5.3.4 "too big" "Sendmail: SIZE=1, 600 kB sent: the eom size rule refuses, 552 5.3.4"
size_try 127.0.0.9 1 100000
expect_reply eom 250 - "" "Sendmail: SIZE=1, 100 kB sent: queued"
expect_used client-bytes 127.0.0.9 95000 101500
sm_stop

e2e_done
