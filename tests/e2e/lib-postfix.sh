# shellcheck shell=sh
# tests/e2e/lib-postfix.sh: the private Postfix: its configuration, start,
# reload, stop and queues.
# Sourced by lib.sh (see there for the functions and variables); not on its own.

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

# pf_policy_ask SOCKET ATTR=VALUE...: one request of Postfix's policy
# delegation protocol to a unix SOCKET, as smtpd sends it; prints the
# answer (action=...).
pf_policy_ask() {
	python3 - "$@" <<'EOF2'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(("request=smtpd_access_policy\n" + "".join(a + "\n" for a in sys.argv[2:]) + "\n").encode())
buf = b""
while not buf.endswith(b"\n\n"):
    d = s.recv(4096)
    if not d:
        break
    buf += d
print(buf.decode(errors="replace").strip())
EOF2
}
