#!/bin/sh
# `milter-policy try` tells the truth: each transaction below runs first
# through `try` (reading the live counters from a private redis-server, as
# the milter does) and then through a real Postfix with the milter, and
# the replies are compared line by line: relay, an access rule, message and
# recipient limits (a recipient limit reached inside one transaction
# included), duplicates (their %{count}), the null sender, an IPv6
# client_net (XCLIENT ADDR=IPV6:... from 127.0.0.9).  Only a retry time
# ("in 19 min 58 s") is masked: the clock moves between the two.
#
# Through Postfix also: a limit on the null sender names "sender <>", not
# the client that happened to come next; "already received 1 time"; a copy
# with more trailing blank lines is a duplicate; RCPT TO:<bob@Example.Com.>
# is a local recipient.
# (expect_reply checks words one by one: phrases are grepped whole.)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init try

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
command -v redis-server >/dev/null || e2e_die "redis-server is not installed (make check installs it)"

e2e_redis_start

cat >"$WORK/policy.conf" <<EOF2
state = { backend = "redis"; on_error = "tempfail";
  redis = { server = "127.0.0.1:$REDISPORT"; prefix = "try:"; timeout = "500ms"; }; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "blocked"; when = { sender_domain = "blocked.test"; }; action = "reject"; },
  { name = "bounces"; when = { client = [ "127.0.0.21", "127.0.0.22" ]; };
    limit = { count = "messages"; per = "sender"; rate = "2/1h"; }; },
  { name = "v6-net"; when = { client = "2001:db8::/32"; };
    limit = { count = "messages"; per = "client_net"; rate = "1/1h"; }; },
  { name = "client-msgs"; when = { client = "127.0.0.23"; };
    limit = { count = "messages"; per = "client_addr"; rate = "2/1h"; }; },
  { name = "client-rcpts"; when = { client = "127.0.0.24"; };
    limit = { count = "recipients"; per = "client_addr"; rate = "3/1h"; }; },
  { name = "seen"; when = { client = "127.0.0.25"; };
    duplicates = { of = "body"; per = "client_addr"; max = 2; window = "10m"; };
    reply = "557 5.7.1 seen %{count} before, max %{limit} per %{window}"; },
  { name = "once"; when = { client = [ "127.0.0.26", "127.0.0.27" ]; };
    duplicates = { of = "body"; per = "client_addr"; max = 1; window = "10m"; }; }
);
EOF2

sink_start
# XCLIENT ADDR=IPV6:... needs Postfix to know IPv6 (it still listens on
# 127.0.0.1 only).
pf_set "inet_protocols = ipv4, ipv6"
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

# try's output as "STAGE ok" or "STAGE CODE-X.Y.Z text | CODE X.Y.Z text",
# connect and helo left out when they continue, nothing after RCPT when
# every recipient was refused (the MTA ends the transaction there).
try_seq() {
	awk '
	function flush() { if (stage != "") print stage " " lines; stage = "" }
	$1 ~ /^(connect|helo|mail|rcpt|data|header|eoh|eom)$/ && NF >= 2 {
		flush()
		if ($1 == "data" && sawrcpt && !rcptok) exit
		if ($1 == "rcpt") { sawrcpt = 1; if ($2 == "continue") rcptok = 1 }
		if ($2 == "continue") {
			if ($1 !~ /^(connect|helo|header|eoh)$/) print $1 " ok"
		} else { stage = $1; lines = "" }
		next
	}
	/^        [0-9][0-9][0-9][- ]/ {
		sub(/^ +/, ""); lines = lines (lines != "" ? " | " : "") $0; next
	}
	END { flush() }
	' "$1" | sed -E 's/ in [0-9][0-9a-z ]*\./ in T./g'
}

# The same from the last swaks transcript, for NRCPT recipients.
mta_seq() {
	for _s in mail $(seq 1 "$1" | sed 's/^/rcpt:/') data eom; do
		_l=$(try_reply "${_s%%:*}" "$(echo "$_s" | sed -n 's/^rcpt://p')")
		[ -n "$_l" ] || break
		case "$_l" in
		[23]*) echo "${_s%%:*} ok" ;;
		*) echo "${_s%%:*} $(printf '%s\n' "$_l" | paste -sd'|' | sed 's/|/ | /g')" ;;
		esac
	done | sed -E 's/ in [0-9][0-9a-z ]*\./ in T./g'
}

# compare DESC CLIENT FROM RCPTS [BODYFILE]: try, then Postfix, then diff.
# CLIENT may be an IPv6 address: swaks then connects from 127.0.0.9 and
# plays it with XCLIENT.  RCPTS: comma-separated.
compare() {
	_desc=$1 _client=$2 _from=$3 _rcpts=$4 _body=${5:-}
	set -- -c "$WORK/policy.conf" --client "$_client" --helo client.e2e.test --from "$_from"
	for _r in $(echo "$_rcpts" | tr ',' ' '); do
		set -- "$@" --rcpt "$_r"
	done
	if [ -n "$_body" ]; then
		printf 'Subject: try\n\n' | cat - "$_body" >"$WORK/msg.txt"
		set -- "$@" --message "$WORK/msg.txt"
	fi
	"$MILTER_BIN" try "$@" >"$WORK/try.out" 2>&1
	case $_client in
	*:*) set -- --local-interface 127.0.0.9 --xclient-addr "IPV6:$_client" ;;
	*) set -- --local-interface "$_client" ;;
	esac
	set -- "$@" --from "${_from:-<>}" --to "$_rcpts"
	[ -n "$_body" ] && set -- "$@" --body "$_body"
	smtp_try "$@"
	try_seq "$WORK/try.out" >"$WORK/seq.try"
	mta_seq "$(echo "$_rcpts" | tr ',' '\n' | wc -l)" >"$WORK/seq.mta"
	if [ -s "$WORK/seq.mta" ] && cmp -s "$WORK/seq.try" "$WORK/seq.mta"; then
		e2e_ok "$_desc: try and Postfix agree ($(paste -sd';' "$WORK/seq.mta" | cut -c1-150))"
	else
		e2e_fail "$_desc: try and Postfix disagree"
		diff -u "$WORK/seq.try" "$WORK/seq.mta" | sed 's/^/#   /'
		sed 's/^/#   try: /' "$WORK/try.out"
		e2e_show_transcript
	fi
}

printf 'The same text, again.\n' >"$WORK/body.txt"
printf 'Once only.\n' >"$WORK/once.txt"
printf 'Once only.\n\n\n\n' >"$WORK/once-blank.txt"
printf 'Just once.\n' >"$WORK/just.txt"

compare "relay: one foreign, one local recipient" 127.0.0.20 a@client.test \
	user@other.org,user@example.com
compare "relay: trailing dot in a local domain" 127.0.0.20 a@client.test \
	bob@Example.Com.
expect_reply rcpt 250 - "" "RCPT TO:<bob@Example.Com.>: a local recipient, 250"
compare "access rule: a blocked sender domain" 127.0.0.20 x@blocked.test user@example.com

for n in 1 2 3; do
	compare "null sender, message $n of a per-sender 2/1h" 127.0.0.21 "" user@example.com
done
compare "null sender from another client: the same bucket" 127.0.0.22 "" user@example.com
expect_reply mail 453 4.7.0 "Too many messages from sender <>" \
	"a per-sender limit on <> names the sender <>"
if try_reply mail | grep -q '127\.0\.0\.22'; then
	e2e_fail "the refusal of <> blames the client 127.0.0.22, which had sent nothing: $(try_reply mail | head -1)"
else
	e2e_ok "the refusal of <> does not name the client 127.0.0.22"
fi

for n in 1 2 3; do
	compare "messages, $n of 2/1h from one client" 127.0.0.23 a@client.test user@example.com
done
expect_reply mail 453 4.7.0 "Too many messages from client 127.0.0.23" \
	"a per-client limit names the client"

compare "recipients: five in one transaction under 3/1h" 127.0.0.24 a@client.test \
	r1@example.com,r2@example.com,r3@example.com,r4@example.com,r5@example.com
expect_reply rcpt:4 452 4.5.3 "Too many recipients from client 127.0.0.24" \
	"the fourth recipient of 3/1h: 452 4.5.3"
compare "recipients: the next transaction, over already" 127.0.0.24 a@client.test \
	r6@example.com

for n in 1 2 3; do
	compare "duplicates max 2, copy $n" 127.0.0.25 a@client.test user@example.com "$WORK/body.txt"
done
expect_reply eom 557 5.7.1 "seen 2 before, max 2 per 10 min" \
	"the third copy: seen 2 before (the count try showed too)"

for n in 1 2; do
	compare "duplicates max 1, copy $n" 127.0.0.26 a@client.test user@example.com "$WORK/just.txt"
done
expect_reply eom 557 5.7.1 "already received" "the second copy: 557 5.7.1"
if try_reply eom | grep -q 'already received 1 time within'; then
	e2e_ok "the second copy: \"already received 1 time\", singular"
else
	e2e_fail "the second copy: want \"already received 1 time within\", got: $(try_reply eom | head -1)"
fi

compare "trailing blank lines: first copy" 127.0.0.27 a@client.test user@example.com "$WORK/once.txt"
compare "trailing blank lines: three more at the end" 127.0.0.27 a@client.test user@example.com \
	"$WORK/once-blank.txt"
expect_reply eom 557 5.7.1 "already received 1 time" \
	"a copy with more trailing blank lines is a duplicate"

compare "IPv6 client_net, first message" 2001:db8:1:2::5 a@client.test user@example.com
expect_reply xclient 220 - "" "XCLIENT ADDR=IPV6:2001:db8:1:2::5 accepted"
compare "IPv6 client_net, another address in the /64" 2001:db8:1:2::6 a@client.test user@example.com
expect_reply mail 453 4.7.0 "Too many messages from network 2001:db8:1:2::/64" \
	"the /64 is refused, named as a network"
compare "IPv6 client_net, another /64" 2001:db8:1:3::6 a@client.test user@example.com

# A rule at the body stage answers there, as the milter does (try printed
# nothing at body and went on to "eom continue").
cat >"$WORK/body.conf" <<'EOF2'
rules = ( { name = "big"; stage = "body"; when = { size = ">100"; }; action = "reject"; } );
EOF2
{ printf 'Subject: big\n\n'; head -c 300 /dev/zero | tr '\0' 'a'; echo; } >"$WORK/big.txt"
"$MILTER_BIN" try -c "$WORK/body.conf" --client 192.0.2.1 --from a@b.test \
	--rcpt c@d.test --message "$WORK/big.txt" >"$WORK/body.out" 2>&1
if grep -q '^body    reject by rule big' "$WORK/body.out" &&
    ! grep -q '^eom' "$WORK/body.out"; then
	e2e_ok "a body-stage rule's refusal is shown at body, and ends the transaction"
else
	e2e_fail "body-stage rule: got $(tr '\n' '|' <"$WORK/body.out")"
fi

e2e_done
