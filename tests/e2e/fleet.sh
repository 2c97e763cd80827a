# shellcheck shell=sh
# tests/e2e/fleet.sh: what test_sentinel.sh and test_cluster.sh share,
# sourced after lib.sh: Redis processes on free loopback ports, and a
# steady load through the private Postfix that records every session.
#
#   fleet_redis PORT [redis-server options]   start one, tracked, wait for PING
#   fleet_pid PORT                            its PID
#   load_start                                sessions one after another until load_stop
#   load_stop                                 and wait for the last one
#   load_count FROM_MS TO_MS RC               sessions that ended with swaks exit RC
#   load_since FROM_MS N                      N sessions have ended since FROM_MS
#   load_settled FROM_MS N                    the last N all did, accepted
#
# The load: swaks sessions, one at a time, from 127.0.0.10-39 in turn,
# sender load@client.e2e.test, ending after RCPT.  $WORK/load.log gets one
# line per session: "END_MS RC REPLY" (RC: swaks' exit, 0 accepted, 23 MAIL
# refused, 24 RCPT refused; a timeout or a dropped connection is anything
# else).

fleet_redis() { # PORT OPTIONS...
	_fp=$1
	shift
	redis-server --port "$_fp" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$WORK" --loglevel notice "$@" >"$WORK/redis-$_fp.log" 2>&1 &
	eval "FLEET_PID_$_fp=$!"
	e2e_track $!
	e2e_wait 10 redis-cli -p "$_fp" ping >/dev/null 2>&1 ||
		e2e_die "redis-server did not answer on 127.0.0.1:$_fp"
}

fleet_pid() { # PORT
	eval "echo \$FLEET_PID_$1"
}

LOAD_PID=
load_start() {
	rm -f "$WORK/load.stop"
	: >"$WORK/load.log"
	(
		_li=0
		while [ ! -f "$WORK/load.stop" ]; do
			_ip=127.0.0.$((10 + _li % 30))
			_li=$((_li + 1))
			swaks --server "127.0.0.1:$SMTPPORT" --timeout 60 \
				--local-interface "$_ip" --helo load.e2e.test \
				--from load@client.e2e.test --to user@example.com \
				--quit-after RCPT >"$WORK/load.last" 2>&1 </dev/null
			_rc=$?
			_rep=$(grep -m 1 '^<\*\* ' "$WORK/load.last" | cut -c 5-40 | tr ' ' _)
			echo "$(date +%s%3N) $_rc ${_rep:-ok}" >>"$WORK/load.log"
		done
	) &
	LOAD_PID=$!
	e2e_track "$LOAD_PID"
}

load_stop() {
	touch "$WORK/load.stop"
	e2e_wait 90 e2e_dead "$LOAD_PID" || e2e_fail "the load did not stop"
}

load_count() { # FROM_MS TO_MS RC
	awk -v a="$1" -v b="$2" -v rc="$3" '$1 >= a && $1 <= b && $2 == rc { n++ } END { print n + 0 }' "$WORK/load.log"
}

# load_since FROM_MS N: at least N sessions ended at FROM_MS or after (for
# e2e_wait: a load under way, however slowly the machine runs it).
load_since() { # FROM_MS N
	[ "$(awk -v a="$1" '$1 >= a { n++ } END { print n + 0 }' "$WORK/load.log")" -ge "$2" ]
}

# load_settled FROM_MS N: the last N sessions ended at FROM_MS or after,
# every one accepted (for e2e_wait: the milter is back on its feet).
load_settled() { # FROM_MS N
	[ "$(tail -n "$2" "$WORK/load.log" | awk -v a="$1" '$1 >= a && $2 == 0 { n++ } END { print n + 0 }')" -eq "$2" ]
}

# Sessions in the window that ended other than 0 (accepted) or 23 (MAIL
# refused: on_error's 451): a timeout, a dropped connection, a 5xx.
load_bad() { # FROM_MS TO_MS
	awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b && $2 != 0 && $2 != 23 { n++ } END { print n + 0 }' "$WORK/load.log"
}

# The end of the outage after FROM_MS: when the last session refused
# since then ended (FROM_MS itself when none was).
load_back() { # FROM_MS
	awk -v a="$1" 'BEGIN { t = a } $1 >= a && $2 != 0 { t = $1 } END { print t }' "$WORK/load.log"
}

now_ms() {
	date +%s%3N
}
