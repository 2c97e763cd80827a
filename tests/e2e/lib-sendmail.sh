# shellcheck shell=sh
# tests/e2e/lib-sendmail.sh: the private Sendmail: its .mc, start and stop.
# Sourced by lib.sh (see there for the functions and variables); not on its own.

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
