#!/bin/sh
# Hostile clients through a real Postfix: 10,000 recipients in one
# transaction, a 1 MB header, 100,000 headers, NUL and 8-bit bytes, `%`
# and control characters where a reply or a log line echoes them, and a
# client that leaves at every stage.  For each: a sensible answer, a log
# with no raw control character, the milter still up for the next
# client, its memory bounded (RSS measured), and units charged for
# abandoned transactions given back.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init hostile

cp "$E2E_ROOT/tests/e2e/hostile.conf" "$WORK/policy.conf"

# The milter's resident memory in kB.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$(milter_pid)/status"
}

# expect_rss_growth BEFORE MAX_KB DESCRIPTION
expect_rss_growth() {
	_now=$(rss_kb)
	if [ $((_now - $1)) -le "$2" ]; then
		e2e_ok "$3: RSS $1 kB -> $_now kB (bound $2 kB)"
	else
		e2e_fail "$3: RSS $1 kB -> $_now kB, grew more than $2 kB"
	fi
}

expect_alive() {
	if e2e_dead "$(milter_pid)"; then
		e2e_fail "$1: the milter died"
		e2e_tail "milter log" "$MILTER_LOG"
		return 1
	fi
	e2e_ok "$1: the milter is up"
}

# No raw control character (other than the newline) in the milter's log.
expect_clean_log() {
	if LC_ALL=C grep -q '[[:cntrl:]]' "$MILTER_LOG"; then
		e2e_fail "$1: a raw control character in the milter log: $(LC_ALL=C grep -n '[[:cntrl:]]' "$MILTER_LOG" | head -n 1 | od -c | head -n 3)"
	else
		e2e_ok "$1: no raw control character in the milter log"
	fi
}

sink_start
milter_start "$E2E_ROOT/milter/milter-policy" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_set "smtpd_recipient_limit = 20000" "smtpd_recipient_overshoot_limit = 20000" \
	"message_size_limit = 20000000" "smtpd_hard_error_limit = 20000" \
	"milter_content_timeout = 120s" "milter_command_timeout = 60s"
pf_start "$MILTER_PF_SOCKET"
rss0=$(rss_kb)

# 10,000 recipients in one transaction (too many for swaks' command line:
# Python's smtplib): the 5,001st is over the limit.
python3 - "$SMTPPORT" >"$WORK/rcpts.txt" 2>&1 <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), source_address=("127.0.0.3", 0), timeout=60)
s.ehlo("many.client.test")
s.mail("many@client.test")
for i in range(1, 10001):
    code, text = s.rcpt("u%d@example.com" % i)
    if i in (5000, 5001, 10000):
        print("rcpt %d: %d %s" % (i, code, text.decode()))
code, text = s.data(b"Subject: many\r\n\r\nto many\r\n")
print("eom: %d %s" % (code, text.decode()))
s.quit()
PY
# expect_line REGEX DESCRIPTION: a line of $WORK/rcpts.txt matches.
expect_line() {
	if grep -qE -- "$1" "$WORK/rcpts.txt"; then
		e2e_ok "$2"
	else
		e2e_fail "$2, got: $(cat "$WORK/rcpts.txt")"
	fi
}
expect_line "^rcpt 5000: 250 2\.1\.5" "10,000 recipients: recipient 5,000 accepted"
expect_line "^rcpt 5001: 452 4\.5\.3 .*5000" "10,000 recipients: recipient 5,001 gets 452 4.5.3 with the limit"
expect_line "^rcpt 10000: 452 4\.5\.3" "10,000 recipients: recipient 10,000 still 452"
expect_line "^eom: 250 2\.0\.0" "10,000 recipients: the message to the first 5,000 is queued"
expect_alive "10,000 recipients"
expect_rss_growth "$rss0" 8192 "10,000 recipients"

# A 1 MB header (Postfix cuts it at header_size_limit) and 100,000 headers.
awk 'BEGIN { printf "Subject: hello\r\nX-Big: "; for (i = 0; i < 1048576 / 64; i++) printf "%s", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; printf "\r\n\r\nbody\r\n" }' >"$WORK/big-header.eml"
smtp_try --local-interface 127.0.0.4 --to user@example.com --data "@$WORK/big-header.eml" --suppress-data
expect_reply eom 250 2.0.0 "" "a 1 MB header: queued"
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "X-H%d: v%d\r\n", i, i; printf "Subject: BUY NOW\r\n\r\nbody\r\n" }' >"$WORK/many-headers.eml"
smtp_try --local-interface 127.0.0.4 --to user@example.com --data "@$WORK/many-headers.eml" --suppress-data
expect_reply eom 550 5.7.1 "Subject refused" "100,000 headers, then a refused Subject: 550 5.7.1 at the end"
expect_alive "100,000 headers"
expect_rss_growth "$rss0" 16384 "a 1 MB header and 100,000 headers"

# NUL, 8-bit bytes and control characters in headers and body.
printf 'Subject: \303\244\000\001\033[31m red\r\nMessage-ID: <\001%%s%%n@x>\r\n\r\nnul \000 and 8-bit \377\r\n' >"$WORK/binary.eml"
smtp_try --local-interface 127.0.0.5 --to user@example.com --data "@$WORK/binary.eml"
expect_reply eom 250 - "" "NUL and 8-bit bytes in headers and body: queued"

# `%` and an escape sequence in HELO, echoed in the reply: a clean reply.
smtp_try --local-interface 127.0.0.5 --helo '%s%n%x.evil.test' --to user@example.com
expect_reply mail 554 5.7.1 "HELO %s%n%x.evil.test" "%% in HELO: echoed literally in a clean 554"
smtp_try --local-interface 127.0.0.5 --from "$(printf 'a\033[2J%%d@evil.test')" --to user@example.com
if [ -n "$(try_reply mail)" ] && ! try_reply mail | LC_ALL=C grep -q '[[:cntrl:]]'; then
	e2e_ok "an escape sequence in MAIL FROM: a reply with no control character"
else
	e2e_fail "escape sequence in MAIL FROM: reply \"$(try_reply mail | od -c | head -n 2)\""
fi
expect_alive "%, NUL and 8-bit"
expect_clean_log "NUL, 8-bit, % and escape sequences"

# A client that leaves at every stage, again and again: the milter stays up,
# its memory does not grow, and message units charged for transactions that
# never finished are given back (127.0.0.6 may still send its 3 messages).
rss1=$(rss_kb)
i=0
while [ "$i" -lt 20 ]; do
	for q in connect first-helo mail rcpt; do
		smtp_try --local-interface 127.0.0.6 --to user@example.com --quit-after "$q"
	done
	# and one that drops the connection in the middle of DATA
	python3 - "$SMTPPORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), source_address=("127.0.0.6", 0))
f = s.makefile("rb")
def cmd(line):
    if line:
        s.sendall(line.encode() + b"\r\n")
    while True:
        r = f.readline()
        if r[3:4] != b"-":
            return r
cmd(None)
cmd("EHLO leaver.test")
cmd("MAIL FROM:<leaver@client.test>")
cmd("RCPT TO:<user@example.com>")
cmd("DATA")
s.sendall(b"Subject: half\r\n\r\nhalf a body, and gone")
s.close()
PY
	i=$((i + 1))
done
e2e_sleep 1
expect_alive "100 abandoned sessions"
expect_rss_growth "$rss1" 2048 "100 abandoned sessions"
for n in 1 2 3; do
	smtp_try --local-interface 127.0.0.6 --to user@example.com
	expect_reply eom 250 2.0.0 "" "after 100 abandoned sessions, 127.0.0.6 message $n of 3: queued"
done
smtp_try --local-interface 127.0.0.6 --to user@example.com
expect_reply mail 453 4.7.0 "" "127.0.0.6 message 4 of 3: 453 (the limit still holds)"
expect_clean_log "after everything"

e2e_done
