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

# ---------------------------------------------------------------- reporting

e2e_ok() {
	E2E_PASS=$((E2E_PASS + 1))
	printf 'ok - %s\n' "$1"
}

e2e_fail() {
	E2E_FAIL=$((E2E_FAIL + 1))
	printf 'FAIL: %s\n' "$1"
}

# e2e_die MESSAGE: a setup step failed; nothing after it can be trusted.
e2e_die() {
	e2e_fail "$1"
	exit 1
}

e2e_note() {
	printf '# %s\n' "$*"
}

# e2e_track PID: a process of the test's own (a redis-server, ...) that
# the cleanup stops, also on failure.
E2E_EXTRA_PIDS=
e2e_track() {
	E2E_EXTRA_PIDS="$E2E_EXTRA_PIDS $1"
	echo "$1" >>"$WORK/.pids"
}

# e2e_done: end of a test script.
e2e_done() {
	if [ "$E2E_FAIL" -eq 0 ]; then exit 0; else exit 1; fi
}

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

# ---------------------------------------------------------------- Sendmail
#
# A private Sendmail 8.17 from the unpacked Debian packages that
# tests/e2e/sendmail-fetch.sh keeps in tests/e2e/cache/sendmail (run by
# make check's install step).  Its .cf is built here from the sendmail-cf
# m4 files: queue, pid and status files under $WORK/sm, no aliases, no DNS,
# relaying everything to the sink, the milter as INPUT_MAIL_FILTER.  It runs
# in the foreground (-bD) in its own UTS namespace, where its host name is
# test.localdomain (Sendmail waits 60 s for a qualified name otherwise).

SM_ROOT=$E2E_ROOT/tests/e2e/cache/sendmail/root
E2E_SM_PID=

# sm_mc MILTER_SOCKET_PATH: the .mc of the private instance.
sm_mc() {
	_cf=$SM_ROOT/usr/share/sendmail/cf
	cat <<SMEOF
divert(-1)
divert(0)dnl
include(\`$_cf/m4/cf.m4')dnl
OSTYPE(\`linux')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`QUEUE_DIR', \`$WORK/sm/mqueue')dnl
define(\`confPID_FILE', \`$WORK/sm/sendmail.pid')dnl
define(\`STATUS_FILE', \`$WORK/sm/statistics')dnl
define(\`ALIAS_FILE', \`')dnl
define(\`HELP_FILE', \`')dnl
define(\`confQUEUE_LA', \`100')dnl
define(\`confREFUSE_LA', \`100')dnl
define(\`confDELAY_LA', \`0')dnl
define(\`confSERVICE_SWITCH_FILE', \`$WORK/sm/service.switch')dnl
define(\`SMART_HOST', \`esmtp:[127.0.0.1]')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $SINKPORT')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`promiscuous_relay')dnl
FEATURE(\`accept_unresolvable_domains')dnl
DAEMON_OPTIONS(\`Port=$SMTPPORT, Addr=127.0.0.1, Name=MTA, Listen=1024')dnl
SMEOF
	[ "$1" = none ] ||
		printf "INPUT_MAIL_FILTER(\`policy', \`S=unix:%s, F=T, T=C:30s;S:30s;R:60s;E:5m')dnl\n" "$1"
	printf "MAILER(\`smtp')dnl\n"
}

# sm_start [MILTER|none]: start the private Sendmail on 127.0.0.1:$SMTPPORT
# (so smtp_try talks to it; stop Postfix first, they share the port) with
# the milter at MILTER (default $MILTER_SOCKET); waits until it listens.
sm_start() {
	_milter=${1:-$MILTER_SOCKET}
	_milter=${_milter#unix:}
	_bin=$SM_ROOT/usr/libexec/sendmail/sendmail
	[ -x "$_bin" ] || e2e_die "no private Sendmail at $_bin (run sh tests/e2e/sendmail-fetch.sh, or make check)"
	mkdir -p "$WORK/sm/mqueue" && chmod 0700 "$WORK/sm/mqueue"
	echo "hosts files" >"$WORK/sm/service.switch"
	sm_mc "$_milter" >"$WORK/sm/test.mc"
	m4 "$WORK/sm/test.mc" >"$WORK/sm/test.cf" 2>"$WORK/sm/m4.log" ||
		e2e_die "m4 could not build the Sendmail .cf: $(head -n 3 "$WORK/sm/m4.log")"
	unshare --uts sh -c 'hostname test.localdomain && exec "$0" -bD -C "$1"' \
		"$_bin" "$WORK/sm/test.cf" >"$WORK/sm/sendmail.out" 2>&1 &
	E2E_SM_PID=$!
	echo "$E2E_SM_PID" >>"$WORK/.pids"
	if ! e2e_wait 10 e2e_port_listening "$SMTPPORT"; then
		e2e_tail "Sendmail output" "$WORK/sm/sendmail.out"
		e2e_die "Sendmail (pid $E2E_SM_PID) is not listening on 127.0.0.1:$SMTPPORT"
	fi
	e2e_note "Sendmail (pid $E2E_SM_PID) on 127.0.0.1:$SMTPPORT, INPUT_MAIL_FILTER S=unix:$_milter"
}

sm_stop() {
	[ -n "$E2E_SM_PID" ] || return 0
	kill "$E2E_SM_PID" 2>/dev/null
	if ! e2e_wait 5 e2e_dead "$E2E_SM_PID"; then
		kill -KILL "$E2E_SM_PID" 2>/dev/null
	fi
	E2E_SM_PID=
}

# ----------------------------------------------------------------- Postfix

# pf_set "name = value" ...: main.cf settings on top of the defaults below.
# Before pf_start they are queued; after it, they are applied and Postfix
# is reloaded.
pf_set() {
	for _s in "$@"; do
		PF_SETTINGS="$PF_SETTINGS$_s
"
	done
	if [ -n "$E2E_PF_RUNNING" ]; then
		for _s in "$@"; do
			postconf -c "$PF_CONF" -e "$_s" || e2e_die "postconf -e '$_s' failed"
		done
		pf_backdate
		pf_reload
	fi
}

# Every Postfix program that reads a main.cf modified less than a second
# ago sleeps 300 ms and reads it again until it is older (it guards against
# half-written files): "postfix start" on a fresh file took 2.9 s instead
# of 0.3 s.  An old mtime costs nothing.
pf_backdate() {
	touch -t 200001010000 "$PF_CONF/main.cf" "$PF_CONF/master.cf"
}

pf_reload() {
	postfix -c "$PF_CONF" reload >>"$WORK/pf/postfix-cmd.log" 2>&1 ||
		e2e_die "postfix reload failed"
	# running smtpd processes finish their session with the old settings
	e2e_sleep 1
}

# pf_start [MILTER]: MILTER is what smtpd_milters gets (unix:/path or
# inet:127.0.0.1:PORT); empty or "none": Postfix without any milter.
pf_start() {
	_milter=${1:-}
	[ "$_milter" = none ] && _milter=
	_pf=$WORK/pf
	if e2e_port_used "$SMTPPORT"; then
		e2e_free_port
		SMTPPORT=$E2E_PORT
	fi
	mkdir -p "$PF_CONF" "$_pf/queue" "$_pf/data" "$_pf/log"
	chmod 0755 "$_pf" "$PF_CONF" "$_pf/queue" "$_pf/log"
	chown postfix "$_pf/data"
	cat >"$PF_CONF/main.cf" <<EOF
# private Postfix for the milter-policy e2e test "$E2E_NAME"
compatibility_level = 3.6
queue_directory = $_pf/queue
data_directory = $_pf/data
maillog_file = $PF_LOG
maillog_file_prefixes = $_pf/log
myhostname = mx.e2e.test
mydomain = e2e.test
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
relayhost = [127.0.0.1]:$SINKPORT
smtp_dns_support_level = disabled
alias_maps =
alias_database =
biff = no
# Postfix itself accepts everything: relaying is the milter's decision,
# whatever the client address (127.0.0.3, 127.0.0.1, an XCLIENT address).
# smtpd refuses to run unless the list has a reachable reject_unauth_*
# (it ignores one after a plain "permit"); static:OK permits every client
# before reject_unauth_destination is reached.
smtpd_relay_restrictions = check_client_access static:OK, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_helo_required = no
# XCLIENT only from 127.0.0.9, so a test can play any client address.
smtpd_authorized_xclient_hosts = 127.0.0.9
# no artificial slowness in tests
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
in_flow_delay = 0
smtpd_client_connection_rate_limit = 0
# the milter
smtpd_milters = $_milter
non_smtpd_milters =
milter_default_action = tempfail
milter_connect_timeout = 5s
milter_command_timeout = 5s
milter_content_timeout = 10s
EOF
	cat >"$PF_CONF/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$SMTPPORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	if [ -n "$PF_SETTINGS" ]; then
		printf '%s' "$PF_SETTINGS" | while IFS= read -r _s; do
			[ -n "$_s" ] && postconf -c "$PF_CONF" -e "$_s"
		done
	fi
	pf_backdate
	_cmdlog=$_pf/postfix-cmd.log
	# "start" runs the checks of "postfix check" (and creates the queue
	# directories with their owners); errors go to $PF_LOG, not stderr.
	# set first: a signal during "start" is handled after it returns
	E2E_PF_RUNNING=1
	if ! postfix -c "$PF_CONF" start >>"$_cmdlog" 2>&1; then
		e2e_tail "postfix start output" "$_cmdlog"
		e2e_die "postfix start failed"
	fi
	if ! e2e_wait 10 e2e_port_listening "$SMTPPORT"; then
		e2e_die "Postfix is not listening on 127.0.0.1:$SMTPPORT"
	fi
	e2e_check_listener "$SMTPPORT" Postfix
	_m=$(pf_master_pid)
	[ -n "$_m" ] && e2e_record_pid "$_m" master
	# smtpd only reads most of its settings when a client connects: one
	# probe session (from 127.0.0.254, QUIT after the banner) catches a
	# Postfix that would fail every test on a timeout.
	if [ -z "${E2E_NO_PROBE:-}" ]; then
		if ! swaks --server "127.0.0.1:$SMTPPORT" --local-interface 127.0.0.254 \
			--quit-after CONNECT --timeout 5 >"$_pf/probe.txt" 2>&1 </dev/null; then
			e2e_tail "probe session" "$_pf/probe.txt"
			e2e_die "Postfix on 127.0.0.1:$SMTPPORT does not greet (see its log below)"
		fi
	fi
	e2e_note "Postfix (master pid $_m) on 127.0.0.1:$SMTPPORT, smtpd_milters = ${_milter:-(none)}"
}

pf_master_pid() {
	awk '{ print $1; exit }' "$WORK/pf/queue/pid/master.pid" 2>/dev/null
}

pf_stop() {
	_m=$(pf_master_pid)
	postfix -c "$PF_CONF" stop >>"$WORK/pf/postfix-cmd.log" 2>&1
	if [ -n "$_m" ] && ! e2e_wait 5 e2e_dead "$_m"; then
		e2e_note "Postfix master $_m still running after stop: killing its process group"
		kill -KILL -- "-$_m" 2>/dev/null
	fi
	E2E_PF_RUNNING=
}

# pf_queue_count [QUEUES]: messages still in Postfix's queues
# (default: incoming active deferred maildrop; add hold for quarantine).
E2E_QUEUES="incoming active deferred maildrop"
pf_queue_count() {
	_q=${1:-$E2E_QUEUES}
	_qn=0
	for _qd in $_q; do
		[ -d "$WORK/pf/queue/$_qd" ] || continue
		_c=$(find "$WORK/pf/queue/$_qd" -type f | wc -l)
		_qn=$((_qn + _c))
	done
	echo "$_qn"
}

pf_queue_empty() {
	[ "$(pf_queue_count "$E2E_QUEUES")" -eq 0 ]
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

# ---------------------------------------------------------------- the client

# smtp_try [swaks options]: one SMTP session against the private Postfix.
# Defaults (override them by giving the option again): --from
# sender@client.e2e.test, --helo client.e2e.test.  Every message gets an
# X-E2E-Tag header so expect_delivered can find it in the sink.
smtp_try() {
	E2E_TRY_N=$((E2E_TRY_N + 1))
	TRANSCRIPT=$WORK/try-$E2E_TRY_N.txt
	E2E_TAG=e2e-$E2E_NAME-$$-$E2E_TRY_N
	{
		printf '### try %s: swaks' "$E2E_TRY_N"
		printf ' %s' "$@"
		printf '\n'
	} >"$TRANSCRIPT"
	swaks --server "127.0.0.1:$SMTPPORT" --timeout 10 \
		--from sender@client.e2e.test --helo client.e2e.test \
		--add-header "X-E2E-Tag: $E2E_TAG" \
		"$@" >>"$TRANSCRIPT" 2>&1 </dev/null
	TRY_RC=$?
	[ -n "${E2E_VERBOSE:-}" ] && sed 's/^/#   /' "$TRANSCRIPT"
	return 0
}

# scenario_try CLIENT BEFORE "SWAKS OPTIONS": BEFORE identical sessions
# from CLIENT, then the one a scenario checks (the options are one string,
# split by the shell, as scenarios.txt writes them).
scenario_try() {
	_st=0
	while [ "$_st" -le "$2" ]; do
		eval "smtp_try --local-interface $1 $3"
		_st=$((_st + 1))
	done
}

# try_reply STAGE [N]: the server's reply lines (prefix stripped) to the Nth
# (default first) command of STAGE in $TRANSCRIPT.
# STAGE: connect (banner), helo (HELO/EHLO), mail, rcpt, data, eom (after
# the final "."), quit, rset, or any other command verb.
try_reply() {
	awk -v stage="$1" -v want="${2:-1}" '
	function cmdstage(line,   v) {
		v = toupper(line)
		sub(/^ -> /, "", v)
		if (v ~ /^(EHLO|HELO)( |$)/) return "helo"
		if (v ~ /^MAIL FROM:/) return "mail"
		if (v ~ /^RCPT TO:/) return "rcpt"
		if (v == "DATA") return "data"
		if (v == "." || v ~ /^[0-9]+ LINES SENT$/) return "eom"	# --suppress-data
		if (v ~ /^(QUIT|RSET|NOOP|STARTTLS|XCLIENT|VRFY|ETRN)( |$)/) { split(v, w, " "); return tolower(w[1]) }
		if (v ~ /^AUTH( |$)/) return "auth"
		return "body"
	}
	BEGIN { cur = "connect"; n["connect"] = 1 }
	/^ -> / {
		s = cmdstage($0)
		if (s == "body") { cur = "body"; next }
		n[s]++
		cur = s
		next
	}
	/^<(-|\*\*)  ?[0-9][0-9][0-9][ -]/ {
		if (cur == stage && n[cur] == want) {
			line = $0
			sub(/^<(-|\*\*)  ?/, "", line)
			print line
		}
	}
	' "$TRANSCRIPT"
}

# Shows the last try's transcript, once per try.
e2e_show_transcript() {
	[ -f "$TRANSCRIPT" ] || return 0
	[ "$E2E_SHOWN" = "$TRANSCRIPT" ] && return 0
	E2E_SHOWN=$TRANSCRIPT
	sed 's/^/#   /' "$TRANSCRIPT"
}

# expect_reply STAGE[:N] CODE XCODE "words" [DESCRIPTION]
# The client saw CODE (e.g. 550) with enhanced code XCODE (e.g. 5.7.1; "-"
# skips the check) at STAGE, and the reply text contains every one of the
# space-separated words (case-insensitive; "" for none).
expect_reply() {
	_stage=${1%%:*}
	_nth=1
	case "$1" in *:*) _nth=${1#*:} ;; esac
	_want="$2 $3${4:+ \"$4\"}"
	_desc=${5:-"$1: $_want"}
	_lines=$(try_reply "$_stage" "$_nth")
	if [ -z "$_lines" ]; then
		e2e_fail "$_desc, got no reply at $1 (swaks exit $TRY_RC), want $_want"
		e2e_show_transcript
		return 1
	fi
	_last=$(printf '%s\n' "$_lines" | tail -n 1)
	_code=$(printf '%s' "$_last" | cut -c1-3)
	_rest=$(printf '%s\n' "$_lines" | sed 's/^[0-9][0-9][0-9][ -]//' | tr '\n' ' ')
	_xcode=$(printf '%s' "$_rest" | awk '$1 ~ /^[245]\.[0-9]+\.[0-9]+$/ { print $1 }')
	_got="$(printf '%s\n' "$_lines" | tr '\n' ' ' | sed 's/ $//')"
	_bad=
	[ "$_code" = "$2" ] || _bad=code
	[ "$3" = - ] || [ "$_xcode" = "$3" ] || _bad="$_bad xcode"
	# every line of a multi-line reply must carry the same code
	printf '%s\n' "$_lines" | awk -v c="$_code" 'substr($0, 1, 3) != c { exit 1 }' || _bad="$_bad mixed-codes"
	set -f # the words are not file patterns
	for _w in $4; do
		printf '%s' "$_rest" | grep -qiF -- "$_w" || _bad="$_bad text"
	done
	set +f
	if [ -z "$_bad" ]; then
		e2e_ok "$_desc"
		return 0
	fi
	e2e_fail "$_desc, got \"$_got\", want $_want"
	e2e_show_transcript
	return 1
}

# expect_try_rc RC [DESCRIPTION]: swaks' exit code (0 ok, 23 MAIL refused,
# 24 no RCPT accepted, 25 DATA refused, 26 message refused; see swaks(1)).
expect_try_rc() {
	if [ "$TRY_RC" = "$1" ]; then
		e2e_ok "${2:-swaks exit code $1}"
	else
		e2e_fail "${2:-swaks exit code}, got $TRY_RC, want $1"
		e2e_show_transcript
		return 1
	fi
}

# expect_log ERE [DESCRIPTION]: a line of the milter's log matches (waits
# up to 3 s: the log can trail the reply).
expect_log() {
	_expect_file "$MILTER_LOG" "milter log" "$@"
}

# expect_no_log ERE [DESCRIPTION]
expect_no_log() {
	if grep -qE -- "$1" "$MILTER_LOG" 2>/dev/null; then
		e2e_fail "${2:-milter log has no line matching /$1/}, got: $(grep -E -- "$1" "$MILTER_LOG" | head -n 1)"
		return 1
	fi
	e2e_ok "${2:-milter log has no line matching /$1/}"
}

# expect_pflog ERE [DESCRIPTION]: the same on Postfix's log.
expect_pflog() {
	_expect_file "$PF_LOG" "Postfix log" "$@"
}

_expect_file() { # FILE TITLE ERE [DESCRIPTION]
	_d=${4:-"$2 has a line matching /$3/"}
	if e2e_wait 3 grep -qE -- "$3" "$1" 2>/dev/null; then
		e2e_ok "$_d"
		return 0
	fi
	e2e_fail "$_d, got no such line in $1, want /$3/"
	e2e_tail "$2" "$1"
	return 1
}

e2e_in_sink() {
	grep -qF "X-E2E-Tag: $1" "$SINK_DUMP" 2>/dev/null
}

# expect_delivered [DESCRIPTION]: the message of the last smtp_try reached
# the sink (waits up to 10 s for Postfix to relay it).
expect_delivered() {
	_d=${1:-"message of try $E2E_TRY_N reached the sink"}
	if e2e_wait 10 e2e_in_sink "$E2E_TAG"; then
		e2e_ok "$_d"
		return 0
	fi
	e2e_fail "$_d, got nothing tagged $E2E_TAG in $SINK_DUMP after 10 s ($(pf_queue_count "$E2E_QUEUES") still queued), want the message"
	return 1
}

# expect_not_delivered [DESCRIPTION]: Postfix's queue drains and the last
# try's message is not in the sink.
expect_not_delivered() {
	_d=${1:-"message of try $E2E_TRY_N did not reach the sink"}
	e2e_wait 10 pf_queue_empty
	if e2e_in_sink "$E2E_TAG"; then
		e2e_fail "$_d, got it in $SINK_DUMP, want nothing"
		return 1
	fi
	e2e_ok "$_d"
}

# sink_message [TAG]: the sink's copy of a message (default: the last
# try's), from smtp-sink's X-Client-Addr line to the next one.  smtp-sink
# records the envelope as X-Mail-Args / X-Rcpt-Args lines.
sink_message() {
	awk -v tag="X-E2E-Tag: ${1:-$E2E_TAG}" '
	/^X-Client-Addr: / { if (found) exit; buf = "" }
	{ buf = buf $0 "\n" }
	index($0, tag) == 1 { found = 1 }
	END { if (found) printf "%s", buf }
	' "$SINK_DUMP"
}

# expect_sink ERE [DESCRIPTION]: the last try's message reached the sink and
# its copy there (envelope lines included) has a line matching ERE.
expect_sink() {
	_d=${2:-"message of try $E2E_TRY_N in the sink matches /$1/"}
	e2e_wait 10 e2e_in_sink "$E2E_TAG"
	if sink_message "$E2E_TAG" | grep -qE -- "$1"; then
		e2e_ok "$_d"
		return 0
	fi
	e2e_fail "$_d, got no such line, want /$1/"
	sink_message "$E2E_TAG" | sed 's/^/#   /'
	return 1
}

# expect_no_sink ERE [DESCRIPTION]: the last try's message reached the sink
# and has no line matching ERE (e.g. a refused recipient's X-Rcpt-Args).
expect_no_sink() {
	_d=${2:-"message of try $E2E_TRY_N in the sink has no line matching /$1/"}
	if ! e2e_wait 10 e2e_in_sink "$E2E_TAG"; then
		e2e_fail "$_d, got no message in the sink, want one"
		return 1
	fi
	if sink_message "$E2E_TAG" | grep -qE -- "$1"; then
		e2e_fail "$_d, got: $(sink_message "$E2E_TAG" | grep -E -- "$1" | head -n 1)"
		return 1
	fi
	e2e_ok "$_d"
}
