#!/bin/sh
# The client_net prefix is the rule's (issue 13 §3): per =
# "client_net/22,/48".  IPv6 clients are counted through the policy
# service socket (loopback has one IPv6 address): two in one /48 fill its
# 2/1h, a third in that /48 is refused, one in another /48 is not.  Then
# `try` reads the saved counters: a client in the full /48 is refused with
# the /48 as its key, one in another /48 continues; the same for a /22.
# A prefix out of range is a FILE:LINE error at -t and at reload.  On the
# memory store (try reads the state file) and on Redis (try reads Redis).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init prefix

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"
command -v python3 >/dev/null || e2e_die "python3 is needed for the raw requests"
PD_SOCK=$WORK/milter/policyd.sock

BACKEND=memory

write_policy() { # PER
	if [ "$BACKEND" = redis ]; then
		state="state = { backend = \"redis\"; redis = { server = \"127.0.0.1:$REDISPORT\"; prefix = \"pfx:\"; timeout = \"2s\"; }; };"
	else
		state="state = { file = \"$WORK/state\"; };"
	fi
	cat >"$WORK/policy.conf" <<EOF2
milter = { control_socket = "$WORK/ctl.sock"; };
$state
policy_service = { listen = "unix:$PD_SOCK"; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "net-msgs";
    limit = { count = "messages"; per = "$1"; rate = "2/1h"; }; }
);
EOF2
}

pd() { # CLIENT INSTANCE
	pf_policy_ask "$PD_SOCK" protocol_state=RCPT client_address="$1" \
	    client_port=1 sender=a@b.example recipient=user@example.com \
	    instance="$2"
}

expect_pd() { # CLIENT INSTANCE WANT-PREFIX DESCRIPTION
	_a=$(pd "$1" "$2")
	case "$_a" in
	"$3"*) e2e_ok "$4" ;;
	*) e2e_fail "$4: got \"$_a\", want \"$3...\"" ;;
	esac
}

try_out() { # CLIENT
	"$MILTER_BIN" try -c "$WORK/policy.conf" --client "$1" --from a@b.example \
		--rcpt user@example.com 2>&1
}

# -t: a prefix out of range
write_policy "client_net/22,/129"
out=$("$MILTER_BIN" -t -c "$WORK/policy.conf" 2>&1); rc=$?
[ "$rc" = 1 ] && echo "$out" | grep -q "policy.conf:[0-9]*: per: the IPv6 prefix in \"client_net/22,/129\" must be /1 to /128: write e.g." &&
	e2e_ok "-t: client_net/22,/129 is FILE:LINE: what to write" ||
	e2e_fail "-t on /129, exit $rc, got: $out"

scenario() { # BACKEND
	BACKEND=$1
	rm -f "$WORK/state"
	write_policy "client_net/22,/48"
	MILTER_WAIT_FOR=unix:$PD_SOCK
	milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"

	expect_pd 2001:db8:1:aaaa::1 m1 "action=DUNNO" "$1: 2001:db8:1:aaaa::1: message 1 of 2 in 2001:db8:1::/48"
	expect_pd 2001:db8:1:bbbb::2 m2 "action=DUNNO" "$1: 2001:db8:1:bbbb::2: message 2 in the same /48"
	expect_pd 2001:db8:1:cccc::3 m3 "action=453 4.7.0" "$1: 2001:db8:1:cccc::3: the /48 is full: 453"
	expect_pd 2001:db8:2::1 m4 "action=DUNNO" "$1: 2001:db8:2::1: another /48: DUNNO"
	expect_pd 192.0.2.10 m5 "action=DUNNO" "$1: 192.0.2.10: message 1 of 2 in 192.0.0.0/22"
	expect_pd 192.0.3.20 m6 "action=DUNNO" "$1: 192.0.3.20: message 2 in the same /22"
	expect_pd 192.0.1.30 m7 "action=453 4.7.0" "$1: 192.0.1.30: the /22 is full: 453"
	expect_pd 192.0.4.1 m8 "action=DUNNO" "$1: 192.0.4.1: the next /22: DUNNO"
	out=$("$MILTER_BIN" ctl -s "$WORK/ctl.sock" show net-msgs 2001:db8:1::/48)
	echo "$out" | grep -q "key=2001:db8:1::/48 used=2 next=refused" &&
		e2e_ok "$1: ctl show net-msgs 2001:db8:1::/48: used=2" || e2e_fail "ctl show, got \"$out\""

	# a reload with a prefix out of range changes nothing
	write_policy "client_net/33"
	_n=$(grep -c "client_net/33\" must be /1 to /32" "$MILTER_LOG")
	kill -USR1 "$(milter_pid)"
	e2e_wait 10 sh -c "[ \$(grep -c 'client_net/33\" must be /1 to /32' '$MILTER_LOG') -gt $_n ]" &&
		e2e_ok "$1: a reload with /33: FILE:LINE logged" ||
		e2e_fail "$1: no \"client_net/33 ... must be /1 to /32\" logged at reload"
	expect_log "policy.conf:[0-9]*: per: the IPv4 prefix in \"client_net/33\" must be /1 to /32" \
		"$1: the reload error has FILE:LINE"
	expect_pd 2001:db8:1:dddd::4 m9 "action=453 4.7.0" "$1: after the bad reload the /48 rule still refuses"
	milter_stop || e2e_fail "milter exit status after SIGTERM, got $?, want 0"

	write_policy "client_net/22,/48"
	out=$(try_out 2001:db8:1:ffff::9)
	echo "$out" | grep -q "^mail *tempfail by rule net-msgs (key 2001:db8:1::/48: used 2, limit 2/1h)" &&
		e2e_ok "$1: try 2001:db8:1:ffff::9: in the full /48, tempfail with key 2001:db8:1::/48" ||
		e2e_fail "try 2001:db8:1:ffff::9, got: $out"
	out=$(try_out 2001:db8:3::9)
	echo "$out" | grep -q "^mail *continue" && ! echo "$out" | grep -q tempfail &&
		e2e_ok "$1: try 2001:db8:3::9: another /48, continue" || e2e_fail "try 2001:db8:3::9, got: $out"
	out=$(try_out 192.0.0.99)
	# (It read "used 3" about one run in four while try read the state
	# file against a wall clock in whole seconds: test_trystate.)
	echo "$out" | grep -q "^mail *tempfail by rule net-msgs (key 192.0.0.0/22: used 2, limit 2/1h)" &&
		e2e_ok "$1: try 192.0.0.99: in the full /22, tempfail with key 192.0.0.0/22: used 2" ||
		e2e_fail "try 192.0.0.99, got: $out"
	write_policy "client_net"
	out=$(try_out 2001:db8:1:ffff::9)
	echo "$out" | grep -q "^mail *continue" && ! echo "$out" | grep -q tempfail &&
		e2e_ok "$1: try with the default /64: 2001:db8:1:ffff::/64 is a counter of its own" ||
		e2e_fail "try with the default /64, got: $out"
}

e2e_redis_start
scenario memory
scenario redis
e2e_redis_stop
e2e_done
