# shellcheck shell=sh
# bench/rspamd.sh: rspamd as the peer of make bench PEERS=1, sourced by
# tests/e2e/bench-mta.sh and bench/milter-load.sh.
#
# rspamd does the job milter-policy does with its ratelimit module: counters
# on Redis, here per client address and per sender at rates the bench never
# reaches, checked through its milter proxy (the rspamd_proxy worker with
# milter = yes, scanning itself: self_scan), one proxy process per CPU.
# Every other module is left unconfigured, which rspamd takes as disabled:
# the best case for rspamd, with no spam rules, no DNS lists, no Bayes.
# Everything is private and on unix sockets, no port is used: under DIR its
# config, pid, log, database and stats, a redis-server of its own
# (DIR/redis.sock), the controller it is asked its message count on
# (DIR/controller.sock) and the milter socket.  The system's rspamd
# service is never started or touched.
#
#   rspamd_install            apt-get install rspamd when missing (root),
#                             with no service started and none enabled
#   rspamd_start DIR SOCKET   the milter on unix:SOCKET; sets RSPAMD_PID
#                             (its main process; the workers are its
#                             children) and RSPAMD_REDIS_PID; on failure
#                             says why, stops what it started, returns 1
#   rspamd_check N            true when rspamd scanned at least N messages,
#                             all "no action", with rate counters on Redis
#   rspamd_stop

RSPAMD_PID=
RSPAMD_REDIS_PID=
RSPAMD_DIR=

# The Debian package: installing it must not leave an rspamd running or
# enabled, so policy-rc.d refuses every service start during the install
# (unless the machine already has one), and the unit the package enables is
# disabled again.  Only when this function installed the package.
rspamd_install() {
	command -v rspamd >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || { echo "rspamd is not installed, and installing it needs root" >&2; return 1; }
	ri_rc=/usr/sbin/policy-rc.d
	ri_made=
	if [ ! -e "$ri_rc" ]; then
		printf '#!/bin/sh\n# bench/rspamd.sh: no service starts during the install\nexit 101\n' >"$ri_rc"
		chmod 0755 "$ri_rc"
		ri_made=1
	fi
	echo "# installing rspamd (Debian package) for PEERS=1" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rspamd >/dev/null 2>&1 ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rspamd >/dev/null; }
	ri_st=$?
	[ -z "$ri_made" ] || rm -f "$ri_rc"
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable rspamd >/dev/null 2>&1 || :
	fi
	return "$ri_st"
}

# rspamd_conf DIR SOCKET
rspamd_conf() {
	cat <<EOF
# make bench PEERS=1: rspamd with its ratelimit module only (bench/rspamd.sh)
options {
  pidfile = "$1/rspamd.pid";
  tempdir = "$1/tmp";
  # no module here asks; any lookup stays on loopback
  dns { nameserver = [ "127.0.0.1:53" ]; timeout = 1s; retransmits = 1; }
}
logging { type = "file"; filename = "$1/rspamd.log"; level = "notice"; }
actions { reject = 15; add_header = 6; greylist = 4; }
redis { servers = "$1/redis.sock"; }
ratelimit {
  rates {
    client_msgs = { selector = "ip"; bucket = { burst = 100000000; rate = "100000000 / 1h"; } }
    sender_msgs = { selector = "from('smtp'):addr"; bucket = { burst = 100000000; rate = "100000000 / 1h"; } }
  }
}
modules { path = "\${PLUGINSDIR}"; }
worker "rspamd_proxy" {
  bind_socket = "$2 mode=0666";
  milter = yes;
  timeout = 120s;
  count = $(nproc);
  upstream "local" { default = yes; self_scan = yes; }
}
worker "controller" {
  bind_socket = "$1/controller.sock mode=0600";
  count = 1;
}
EOF
}

# rs_wait SECONDS CMD...: poll CMD every 0.2 s until it succeeds.
rs_wait() {
	rw_n=$(($1 * 5))
	shift
	until "$@" >/dev/null 2>&1; do
		rw_n=$((rw_n - 1))
		[ "$rw_n" -gt 0 ] || return 1
		sleep 0.2
	done
}

rspamd_answers() {
	rspamc -h "$RSPAMD_DIR/controller.sock" -t 2 stat
}

rspamd_start() {
	RSPAMD_DIR=$1
	rspamd_install || return 1
	mkdir -p "$1/db" "$1/tmp"
	chown -R _rspamd:_rspamd "$1"
	chmod 0755 "$1"
	redis-server --port 0 --unixsocket "$1/redis.sock" --unixsocketperm 777 \
		--save '' --appendonly no --loglevel warning \
		>"$1/redis.log" 2>&1 </dev/null &
	RSPAMD_REDIS_PID=$!
	rspamd_conf "$1" "$2" >"$1/rspamd.conf"
	# DBDIR and the rest: its stats, caches and maps stay in DIR too
	rspamd -f -u _rspamd -g _rspamd -c "$1/rspamd.conf" \
		--var "DBDIR=$1/db" --var "RUNDIR=$1" --var "LOGDIR=$1" \
		>"$1/stdout.log" 2>&1 </dev/null &
	RSPAMD_PID=$!
	# loading takes 10-20 s (its TLD list is compiled at every start)
	if ! rs_wait 5 redis-cli -s "$1/redis.sock" ping ||
		! rs_wait 90 rspamd_answers || ! rs_wait 10 test -S "$2"; then
		echo "rspamd did not start (pid $RSPAMD_PID): $(tail -n 5 "$1/redis.log" \
			"$1/rspamd.log" "$1/stdout.log" 2>/dev/null)" >&2
		rspamd_stop
		return 1
	fi
}

rspamd_check() {
	rc_stat=$(rspamc -h "$RSPAMD_DIR/controller.sock" -t 5 stat 2>&1)
	rc_scanned=$(printf '%s\n' "$rc_stat" | awk '/^Messages scanned:/ { print $3 }')
	rc_ham=$(printf '%s\n' "$rc_stat" | awk -F': ' '/^Messages with action no action:/ { sub(/,.*/, "", $2); print $2 }')
	rc_keys=$(redis-cli -s "$RSPAMD_DIR/redis.sock" --scan --pattern 'RL*' | wc -l)
	echo "# rspamd: $rc_scanned messages scanned, $rc_ham with no action, $rc_keys rate counters on Redis"
	[ "${rc_scanned:-0}" -ge "$1" ] && [ "$rc_ham" = "$rc_scanned" ] && [ "$rc_keys" -gt 0 ]
}

# rs_stop PID: TERM, up to 10 s, then KILL.
rs_stop() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || return 0
	rs_wait 10 rs_gone "$1" || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null || :
}

rs_gone() {
	! kill -0 "$1" 2>/dev/null ||
		[ "$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)" = Z ]
}

rspamd_stop() {
	rs_stop "$RSPAMD_PID"
	rs_stop "$RSPAMD_REDIS_PID"
	RSPAMD_PID=
	RSPAMD_REDIS_PID=
}
