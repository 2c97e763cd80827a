# shellcheck shell=sh
# bench/rspamd.sh: rspamd as the peer of make bench PEERS=1, sourced by
# tests/e2e/bench-mta.sh after tests/e2e/lib.sh (it uses e2e_free_port,
# e2e_track, e2e_wait, e2e_stop_pid).
#
# rspamd does the job milter-policy does with its ratelimit module: counters
# on Redis, here per client address and per sender at rates the bench never
# reaches, checked through its milter proxy (the rspamd_proxy worker with
# milter = yes, scanning itself: self_scan), one proxy process per CPU.
# Every other module is left unconfigured, which rspamd takes as disabled:
# the best case for rspamd, with no spam rules, no DNS lists, no Bayes.
# Everything is private: its config, pid, log, database and stats under
# DIR, a redis-server of its own on a free loopback port, the milter socket
# unix:DIR/milter.sock, the controller (for its message count) on another
# loopback port.  The system's rspamd service is never started or touched.
#
#   rspamd_install      apt-get install rspamd when missing (root), with no
#                       service started (policy-rc.d) and none enabled
#   rspamd_start DIR    sets RSPAMD_MILTER (for smtpd_milters), RSPAMD_PID,
#                       RSPAMD_REDIS_PORT
#   rspamd_check N      true when rspamd scanned at least N messages, all
#                       "no action", and its rate counters are on Redis
#   rspamd_stop

RSPAMD_PID=
RSPAMD_REDIS_PID=

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
	echo "# installing rspamd (Debian package) for PEERS=1"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rspamd >/dev/null 2>&1 ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rspamd >/dev/null; }
	ri_st=$?
	[ -z "$ri_made" ] || rm -f "$ri_rc"
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable rspamd >/dev/null 2>&1 || :
	fi
	return "$ri_st"
}

# rspamd_conf DIR SOCKET REDIS_PORT CONTROLLER_PORT
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
redis { servers = "127.0.0.1:$3"; }
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
  bind_socket = "127.0.0.1:$4";
  count = 1;
  secure_ip = "127.0.0.1";
}
EOF
}

rspamd_answers() {
	rspamc -h "127.0.0.1:$RSPAMD_CTL_PORT" -t 2 stat >/dev/null 2>&1
}

rspamd_start() {
	rs_dir=$1
	rspamd_install || return 1
	mkdir -p "$rs_dir/db" "$rs_dir/tmp"
	chown -R _rspamd:_rspamd "$rs_dir"
	chmod 0755 "$rs_dir"
	e2e_free_port
	RSPAMD_REDIS_PORT=$E2E_PORT
	e2e_free_port
	RSPAMD_CTL_PORT=$E2E_PORT
	redis-server --port "$RSPAMD_REDIS_PORT" --bind 127.0.0.1 --save '' \
		--appendonly no --loglevel warning >"$rs_dir/redis.log" 2>&1 </dev/null &
	RSPAMD_REDIS_PID=$!
	e2e_track "$RSPAMD_REDIS_PID"
	e2e_wait 5 redis-cli -p "$RSPAMD_REDIS_PORT" ping >/dev/null 2>&1 ||
		{ echo "redis-server for rspamd did not start: $(cat "$rs_dir/redis.log")" >&2; return 1; }
	rspamd_conf "$rs_dir" "$rs_dir/milter.sock" "$RSPAMD_REDIS_PORT" \
		"$RSPAMD_CTL_PORT" >"$rs_dir/rspamd.conf"
	# DBDIR and the rest: its stats, caches and maps stay in DIR too
	rspamd -f -u _rspamd -g _rspamd -c "$rs_dir/rspamd.conf" \
		--var "DBDIR=$rs_dir/db" --var "RUNDIR=$rs_dir" --var "LOGDIR=$rs_dir" \
		>"$rs_dir/stdout.log" 2>&1 </dev/null &
	RSPAMD_PID=$!
	e2e_track "$RSPAMD_PID"
	# loading takes 10-20 s (its TLD list is compiled at every start)
	if ! e2e_wait 90 rspamd_answers || ! e2e_wait 10 test -S "$rs_dir/milter.sock"; then
		echo "rspamd did not start (pid $RSPAMD_PID): $(tail -n 5 "$rs_dir/rspamd.log" "$rs_dir/stdout.log" 2>/dev/null)" >&2
		return 1
	fi
	# shellcheck disable=SC2034 # for the script that sources this one
	RSPAMD_MILTER=unix:$rs_dir/milter.sock
}

rspamd_check() {
	rc_stat=$(rspamc -h "127.0.0.1:$RSPAMD_CTL_PORT" -t 5 stat 2>&1)
	rc_scanned=$(printf '%s\n' "$rc_stat" | awk '/^Messages scanned:/ { print $3 }')
	rc_ham=$(printf '%s\n' "$rc_stat" | awk -F': ' '/^Messages with action no action:/ { sub(/,.*/, "", $2); print $2 }')
	rc_keys=$(redis-cli -p "$RSPAMD_REDIS_PORT" --scan --pattern 'RL*' | wc -l)
	echo "# rspamd: $rc_scanned messages scanned, $rc_ham with no action, $rc_keys rate counters on Redis"
	[ "${rc_scanned:-0}" -ge "$1" ] && [ "$rc_ham" = "$rc_scanned" ] && [ "$rc_keys" -gt 0 ]
}

rspamd_stop() {
	[ -z "$RSPAMD_PID" ] || e2e_stop_pid "$RSPAMD_PID" 10
	[ -z "$RSPAMD_REDIS_PID" ] || e2e_stop_pid "$RSPAMD_REDIS_PID"
	RSPAMD_PID=
	RSPAMD_REDIS_PID=
}
