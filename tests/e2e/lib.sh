# shellcheck shell=sh
# tests/e2e/lib.sh: end-to-end test harness for milter-policy.
#
# Sourced (POSIX sh) by tests/e2e/test_*.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   e2e_init relay                  # work dir, ports, cleanup trap
#   sink_start                      # smtp-sink on 127.0.0.1:$SINKPORT
#   milter_start "$E2E_ROOT/milter/milter-policy" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
#   pf_start "$MILTER_PF_SOCKET"    # private Postfix on 127.0.0.1:$SMTPPORT
#   smtp_try --local-interface 127.0.0.3 --to user@other.org
#   expect_reply rcpt 550 5.7.1 "user@other.org relay"
#   expect_log "reject stage=rcpt rule=relay code=550 xcode=5.7.1"
#   e2e_done                        # prints "N passed, M failed", exits
#
# The harness is four files, one namespace; a test sources lib.sh only:
#   lib.sh           variables, utilities, e2e_init and cleanup, smtp-sink,
#                    the milter
#   lib-assert.sh    reporting (e2e_ok, e2e_fail, ...), the SMTP client
#                    (smtp_try, scenario_try) and the expect_* checks
#   lib-postfix.sh   the private Postfix (pf_*)
#   lib-sendmail.sh  the private Sendmail (sm_*)
#
# Functions (details above each one):
#   e2e_init NAME        e2e_done        e2e_ok MSG / e2e_fail MSG / e2e_note
#   e2e_track PID        stop this process of the test's own at the end
#   sink_start           SINK_OPTS: extra smtp-sink options
#   milter_start CMD...  milter_stop (returns the exit status)  milter_use_inet
#   pf_set "p = v"...    queued before pf_start; after it: postconf -e + reload
#   pf_start [MILTER|none]   pf_stop   pf_reload   pf_queue_count [QUEUES]
#   sm_start [MILTER|none]   sm_stop  (a private Sendmail on $SMTPPORT)
#   scenario_try CLIENT BEFORE "OPTS"  (a scenarios.txt row's sessions)
#   smtp_try SWAKS-ARGS  (--local-interface 127.0.0.3 picks the client address;
#                        XCLIENT is allowed from 127.0.0.9 only)
#   try_reply STAGE [N]  the reply lines, for a test's own checks
#   expect_reply STAGE[:N] CODE XCODE "words" [DESC]
#   expect_try_rc RC     expect_log / expect_no_log ERE   expect_pflog ERE
#   expect_delivered     expect_not_delivered   expect_sink / expect_no_sink ERE
#
# pf_start makes one probe session from 127.0.0.254 (banner, QUIT) before it
# returns, so the milter sees one connection the test did not make.
#
# Needs root (Postfix, smtp-sink -u postfix), postfix, swaks, smtp-sink.
# Only loopback (127.0.0.0/8) is ever a target.  Processes are stopped by
# the PIDs recorded here, never by name.
#
# Variables set for the test script:
#   E2E_ROOT       repository root
#   WORK           private work directory (kept after a failure, or E2E_KEEP=1)
#   SMTPPORT       Postfix's smtpd listener on 127.0.0.1
#   SINKPORT       smtp-sink on 127.0.0.1 (Postfix's relayhost)
#   MILTERPORT     a free port for a test that wants an inet: milter socket
#   MILTER_SOCKET  unix:$WORK/milter/milter.sock (the milter's -p argument)
#   MILTER_PF_SOCKET  the same socket in Postfix's spelling (for pf_start;
#                  differs from MILTER_SOCKET after milter_use_inet)
#   MILTER_LOG     the milter's stderr
#   PF_CONF        Postfix config_directory;  PF_LOG  its maillog file
#   SINK_DUMP      every message the sink received
#   TRANSCRIPT     the last smtp_try's swaks transcript; TRY_RC its exit code
#
# Environment knobs:
#   E2E_KEEP=1       keep the work directory even after a passing run
#   E2E_WORKROOT=DIR where work-NAME is made (default tests/e2e, falling
#                    back to /tmp when the postfix user cannot reach it)
#   E2E_VERBOSE=1    print every transcript
#   E2E_QUIET=1      no "N passed" summary when nothing failed (make demo)

E2E_PASS=0
E2E_FAIL=0
E2E_TRY_N=0
E2E_CLEANED=
E2E_PF_RUNNING=
E2E_SINK_PID=
E2E_MILTER_PID=
E2E_MILTER_WAIT=
PF_SETTINGS=
TRY_RC=
TRANSCRIPT=
E2E_TAG=
E2E_SHOWN=
E2E_PORTS=
E2E_PORT=

# E2E_ROOT: the repository (the test scripts live in tests/e2e/).
E2E_ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# --------------------------------------------------------------- utilities

e2e_sleep() {
	sleep "$1" 2>/dev/null || sleep 1
}

e2e_alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# e2e_as_postfix CMD...: run CMD as the postfix user (for access checks).
e2e_as_postfix() {
	if command -v setpriv >/dev/null 2>&1; then
		setpriv --reuid=postfix --regid=postfix --clear-groups -- "$@"
	else
		# shellcheck disable=SC2016 # expanded by the inner shell
		su -s /bin/sh postfix -c '"$0" "$@"' -- "$@"
	fi
}

# e2e_port_used PORT: true if any IPv4/IPv6 TCP socket has local port PORT.
e2e_port_used() {
	_hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p="$_hex" 'NR > 1 { n = split($2, a, ":"); if (a[n] == p) f = 1 } END { exit !f }'
}

# e2e_port_listening PORT: true if something listens on 127.0.0.1/any:PORT.
e2e_port_listening() {
	_hex=$(printf '%04X' "$1")
	awk -v p="$_hex" 'NR > 1 && $4 == "0A" && ($2 == "0100007F:" p || $2 == "00000000:" p) { f = 1 } END { exit !f }' /proc/net/tcp
}

# e2e_listeners PORT: how many sockets listen on 127.0.0.1/any:PORT.
# Postfix and smtp-sink set SO_REUSEPORT: a second one binds the same port
# without an error and the kernel shares the connections between them, so
# a port collision shows only here.
e2e_listeners() {
	_hex=$(printf '%04X' "$1")
	awk -v p="$_hex" 'NR > 1 && $4 == "0A" && ($2 == "0100007F:" p || $2 == "00000000:" p) { n++ } END { print n + 0 }' /proc/net/tcp
}

# e2e_free_port: sets E2E_PORT to a port in 20000-31999 that no socket uses
# and that this run has not handed out yet (the ephemeral range starts at
# 32768).
e2e_free_port() {
	_tries=0
	while [ "$_tries" -lt 200 ]; do
		_tries=$((_tries + 1))
		_r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' \n')
		_p=$((20000 + _r % 12000))
		case " $E2E_PORTS " in *" $_p "*) continue ;; esac
		e2e_port_used "$_p" && continue
		E2E_PORTS="$E2E_PORTS $_p"
		E2E_PORT=$_p
		return 0
	done
	e2e_die "no free port in 20000-31999"
}

# e2e_check_listener PORT WHAT: exactly one listener (ours) on PORT.
e2e_check_listener() {
	_nl=$(e2e_listeners "$1")
	[ "$_nl" -eq 1 ] ||
		e2e_die "$_nl listeners on 127.0.0.1:$1 after starting $2 (port collision with another run?)"
}

# e2e_wait SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
e2e_wait() {
	_n=$(($1 * 10))
	shift
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		e2e_sleep 0.1
		_n=$((_n - 1))
	done
	"$@"
}

e2e_record_pid() { # PID WHAT: remembered so a later run can clean up after kill -9
	echo "$1 $2" >>"$WORK/.pids"
}

# Stop what a previous, killed run of the same test left behind.
e2e_reap_stale() {
	if [ -f "$WORK/pf/queue/pid/master.pid" ]; then
		_p=$(awk '{ print $1; exit }' "$WORK/pf/queue/pid/master.pid")
		if [ -n "$_p" ] && [ "$(cat "/proc/$_p/comm" 2>/dev/null)" = master ]; then
			e2e_note "stopping stale Postfix master $_p from a previous run"
			postfix -c "$WORK/pf/etc" stop >/dev/null 2>&1
			e2e_wait 5 e2e_dead "$_p" || kill -9 "$_p" 2>/dev/null
		fi
	fi
	[ -f "$WORK/.pids" ] || return 0
	while read -r _p _what; do
		case "$_what" in
		*/*) _comm=${_what##*/} ;;
		*) _comm=$_what ;;
		esac
		# /proc/PID/comm holds at most 15 characters
		_comm=$(printf '%.15s' "$_comm")
		if [ "$(cat "/proc/$_p/comm" 2>/dev/null)" = "$_comm" ]; then
			e2e_note "stopping stale $_what (pid $_p) from a previous run"
			kill -9 "$_p" 2>/dev/null
		fi
	done <"$WORK/.pids"
}

# -------------------------------------------------------------------- init

# e2e_init NAME
e2e_init() {
	E2E_NAME=$1
	trap 'e2e_cleanup' EXIT
	trap 'e2e_signal INT 130' INT
	trap 'e2e_signal TERM 143' TERM
	trap 'e2e_signal HUP 129' HUP

	[ "$(id -u)" = 0 ] || e2e_die "e2e tests need root (a private Postfix, smtp-sink -u postfix)"
	for _t in postfix postconf swaks smtp-sink awk od; do
		command -v "$_t" >/dev/null 2>&1 ||
			PATH=$PATH:/usr/sbin:/sbin command -v "$_t" >/dev/null 2>&1 ||
			e2e_die "missing tool: $_t (see tests/install-deps.sh)"
	done
	case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
	id postfix >/dev/null 2>&1 || e2e_die "no postfix user (is the postfix package installed?)"

	_base=${E2E_WORKROOT:-$E2E_ROOT/tests/e2e}
	WORK=$_base/work-$E2E_NAME
	# The postfix user must traverse every parent directory, and a unix
	# socket path must stay below 108 bytes.
	if [ "${#WORK}" -gt 80 ] || ! e2e_as_postfix test -x "$_base" 2>/dev/null; then
		WORK=$(mktemp -d "/tmp/mp-e2e-$E2E_NAME.XXXXXX") || e2e_die "mktemp failed"
		chmod 0755 "$WORK"
		e2e_as_postfix test -x "$WORK" 2>/dev/null ||
			e2e_die "the postfix user cannot reach $WORK"
	else
		if [ -d "$WORK" ]; then
			e2e_reap_stale
			rm -rf "$WORK"
		fi
		mkdir -p "$WORK" || e2e_die "cannot create $WORK"
	fi
	chmod 0755 "$WORK"
	: >"$WORK/.pids"

	e2e_free_port
	SMTPPORT=$E2E_PORT
	e2e_free_port
	SINKPORT=$E2E_PORT
	e2e_free_port
	MILTERPORT=$E2E_PORT
	# setgid, group postfix: the socket (default mode 0660) is Postfix's group's
	mkdir -p "$WORK/milter" && chgrp postfix "$WORK/milter" && chmod 2755 "$WORK/milter"
	MILTER_SOCKET=unix:$WORK/milter/milter.sock
	MILTER_PF_SOCKET=$MILTER_SOCKET
	MILTER_LOG=$WORK/milter.log
	PF_CONF=$WORK/pf/etc
	PF_LOG=$WORK/pf/log/maillog
	SINK_DUMP=$WORK/sink/mail
	export SMTPPORT SINKPORT MILTERPORT MILTER_SOCKET MILTER_PF_SOCKET WORK E2E_ROOT
	e2e_note "$E2E_NAME: work $WORK, smtpd 127.0.0.1:$SMTPPORT, sink 127.0.0.1:$SINKPORT"
}

e2e_signal() {
	trap '' INT TERM HUP
	E2E_FAIL=$((E2E_FAIL + 1))
	printf 'FAIL: interrupted by SIG%s\n' "$1"
	exit "$2"
}

# Runs once, on any exit: stop everything we started, show the logs if
# something failed, print the summary.
# (sh has no local variables: the helpers share one namespace, hence the
# distinct names.)
e2e_cleanup() {
	E2E_EXIT_RC=$?
	[ -n "$E2E_CLEANED" ] && return
	E2E_CLEANED=1
	trap '' INT TERM HUP
	if [ "$E2E_EXIT_RC" -ne 0 ] && [ "$E2E_FAIL" -eq 0 ]; then
		E2E_FAIL=1
		printf 'FAIL: %s exited with status %s\n' "${E2E_NAME:-test}" "$E2E_EXIT_RC"
	fi
	[ -n "$E2E_PF_RUNNING" ] && pf_stop
	[ -n "$E2E_SM_PID" ] && sm_stop
	for _p in $E2E_EXTRA_PIDS; do kill "$_p" 2>/dev/null; done
	[ -n "$E2E_MILTER_PID" ] && milter_stop >/dev/null
	[ -n "$E2E_SINK_PID" ] && sink_stop
	if [ "$E2E_FAIL" -ne 0 ] && [ -n "$WORK" ]; then
		e2e_tail "Postfix log" "$PF_LOG"
		e2e_tail "milter log" "$MILTER_LOG"
		e2e_tail "smtp-sink log" "$WORK/sink.log"
		e2e_note "work directory kept: $WORK"
	elif [ -n "$WORK" ] && [ -z "${E2E_KEEP:-}" ]; then
		rm -rf "$WORK"
	fi
	[ -n "${E2E_QUIET:-}" ] && [ "$E2E_FAIL" -eq 0 ] ||
		printf '%s passed, %s failed\n' "$E2E_PASS" "$E2E_FAIL"
	[ "$E2E_FAIL" -eq 0 ] || exit 1
	exit "$E2E_EXIT_RC"
}

e2e_tail() { # TITLE FILE
	[ -s "$2" ] || return 0
	printf '# ---- last lines of %s (%s)\n' "$1" "$2"
	tail -n "${E2E_TAIL_LINES:-40}" "$2" | sed 's/^/#   /'
}

# -------------------------------------------------------------- smtp-sink

# sink_start: the final destination of all mail.  SINK_OPTS: extra
# smtp-sink options (e.g. "-w 5" to stall DATA).
sink_start() {
	# taken since e2e_init (by a parallel run)?  Then take another.
	if e2e_port_used "$SINKPORT"; then
		e2e_free_port
		SINKPORT=$E2E_PORT
	fi
	mkdir -p "$WORK/sink"
	chown postfix "$WORK/sink"
	: >"$SINK_DUMP"
	chown postfix "$SINK_DUMP"
	# shellcheck disable=SC2086 # SINK_OPTS is a list of options
	smtp-sink -u postfix -h sink.e2e.test -D "$SINK_DUMP" ${SINK_OPTS:-} \
		"127.0.0.1:$SINKPORT" 64 >"$WORK/sink.log" 2>&1 </dev/null &
	E2E_SINK_PID=$!
	e2e_record_pid "$E2E_SINK_PID" smtp-sink
	if ! e2e_wait 5 e2e_port_listening "$SINKPORT" || ! e2e_alive "$E2E_SINK_PID"; then
		e2e_die "smtp-sink did not start on 127.0.0.1:$SINKPORT"
	fi
	e2e_check_listener "$SINKPORT" smtp-sink
}

# (Each *_stop forgets its PID only once the process is gone, so a signal
# arriving while it waits still leaves the cleanup something to stop.)
sink_stop() {
	e2e_stop_pid "$E2E_SINK_PID"
	E2E_SINK_PID=
}

# e2e_stop_pid PID [SECONDS]: TERM, wait (default 5 s), then KILL.
# Returns the exit status when PID is our child.
e2e_stop_pid() {
	[ -n "$1" ] || return 0
	e2e_alive "$1" || { wait "$1" 2>/dev/null; return; }
	kill -TERM "$1" 2>/dev/null
	if ! e2e_wait "${2:-5}" e2e_dead "$1"; then
		e2e_note "pid $1 still running ${2:-5} s after SIGTERM: SIGKILL"
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

# Dead, or a zombie waiting for us.
e2e_dead() {
	! e2e_alive "$1" && return 0
	_st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ "$_st" = Z ]
}

# ------------------------------------------------------------------ redis

# e2e_redis_start: a private redis-server on 127.0.0.1:$REDISPORT (a free
# port, chosen the first time), without persistence, its output in
# $WORK/redis.log; REDIS_PID, stopped by the cleanup.  Again after
# e2e_redis_stop: the same port.
e2e_redis_start() {
	command -v redis-server >/dev/null ||
		e2e_die "redis-server is not installed (make check installs it)"
	if [ -z "$REDISPORT" ]; then
		e2e_free_port
		REDISPORT=$E2E_PORT
	fi
	redis-server --port "$REDISPORT" --bind 127.0.0.1 --save '' \
		--appendonly no --loglevel warning >>"$WORK/redis.log" 2>&1 &
	REDIS_PID=$!
	e2e_track "$REDIS_PID"
	e2e_wait 5 redis-cli -p "$REDISPORT" ping >/dev/null 2>&1 ||
		e2e_die "redis-server did not answer on 127.0.0.1:$REDISPORT"
}

e2e_redis_stop() {
	kill "$REDIS_PID"
	e2e_wait 5 e2e_dead "$REDIS_PID"
}

# ------------------------------------------------------------------ milter

# milter_start CMD ARGS...: run the milter in the foreground of a background
# job, its stderr (and stdout) in $MILTER_LOG, and wait for its socket.
# MILTER_WAIT_FOR overrides what to wait for: a socket path, or inet:PORT.
milter_start() {
	_sock=${MILTER_SOCKET#unix:}
	case "$MILTER_SOCKET" in
	unix:*) rm -f "$_sock" ;;
	esac
	"$@" >>"$MILTER_LOG" 2>&1 </dev/null &
	E2E_MILTER_PID=$!
	e2e_record_pid "$E2E_MILTER_PID" "$1"
	case "${MILTER_WAIT_FOR:-$MILTER_SOCKET}" in
	inet:*)
		_port=${MILTER_WAIT_FOR:-$MILTER_SOCKET}
		_port=${_port#inet:}
		_port=${_port%@*}
		_port=${_port##*:}
		E2E_MILTER_WAIT="e2e_port_listening $_port"
		;;
	*)
		_sock=${MILTER_WAIT_FOR:-$MILTER_SOCKET}
		_sock=${_sock#unix:}
		_sock=${_sock#local:}
		E2E_MILTER_WAIT="test -S $_sock"
		;;
	esac
	# up to 10 s, giving up as soon as the milter exits
	_n=100
	# shellcheck disable=SC2086 # word splitting of the wait command is wanted
	until $E2E_MILTER_WAIT; do
		if e2e_dead "$E2E_MILTER_PID"; then
			wait "$E2E_MILTER_PID"
			_st=$?
			E2E_MILTER_PID=
			e2e_die "milter exited with status $_st before its socket appeared ($*)"
		fi
		[ "$_n" -gt 0 ] || e2e_die "milter socket did not appear within 10 s ($*)"
		_n=$((_n - 1))
		e2e_sleep 0.1
	done
	case "$E2E_MILTER_WAIT" in
	"test -S "*)
		# Postfix (user postfix) must be able to connect: the milter
		# sets the mode (milter.socket_mode, default 0660) itself.
		e2e_as_postfix test -w "${E2E_MILTER_WAIT#test -S }" ||
			e2e_die "the postfix user cannot write to the milter socket"
		;;
	esac
	e2e_note "milter pid $E2E_MILTER_PID: $*"
}

# milter_use_inet: the milter listens on 127.0.0.1:$MILTERPORT instead of
# the unix socket.  libmilter and Postfix spell it differently: give the
# milter $MILTER_SOCKET (inet:PORT@127.0.0.1) and pf_start $MILTER_PF_SOCKET
# (inet:127.0.0.1:PORT).
milter_use_inet() {
	MILTER_SOCKET=inet:$MILTERPORT@127.0.0.1
	MILTER_PF_SOCKET=inet:127.0.0.1:$MILTERPORT
}

# milter_stop: SIGTERM, wait up to 10 s (libmilter itself takes about 4.5 s
# to return from smfi_main when idle), then SIGKILL.  Returns the milter's
# exit status (128+N if a signal killed it).
milter_stop() {
	[ -n "$E2E_MILTER_PID" ] || return 0
	e2e_stop_pid "$E2E_MILTER_PID" 10
	E2E_MILTER_RC=$?
	E2E_MILTER_PID=
	return "$E2E_MILTER_RC"
}

milter_pid() {
	echo "$E2E_MILTER_PID"
}

# ------------------------------------------------------- the other files

# The rest of the harness, one file per concern; they share this file's
# variables and one namespace of functions (a test sources lib.sh only).
# shellcheck source=lib-assert.sh
. "$E2E_ROOT/tests/e2e/lib-assert.sh"
# shellcheck source=lib-postfix.sh
. "$E2E_ROOT/tests/e2e/lib-postfix.sh"
# shellcheck source=lib-sendmail.sh
. "$E2E_ROOT/tests/e2e/lib-sendmail.sh"
