#!/bin/sh
# make install DESTDIR=... installs the expected tree, never overwrites an
# admin's policy, make uninstall removes what it installed; the man pages
# are clean under man --warnings; the systemd unit passes systemd-analyze
# verify; -P writes a pid file that a clean stop removes.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init install

DEST=$WORK/dest
want_files="
etc/default/milter-policy
etc/init.d/milter-policy
etc/milter-policy/policy.conf
usr/lib/systemd/system/milter-policy.service
usr/sbin/milter-policy
usr/share/doc/milter-policy/SECURITY.md
usr/share/doc/milter-policy/examples/policy.conf
usr/share/doc/milter-policy/examples/postfix-main.cf
usr/share/doc/milter-policy/examples/sendmail.mc
usr/share/man/man5/milter-policy.conf.5
usr/share/man/man8/milter-policy.8"

make -s -C "$E2E_ROOT" install DESTDIR="$DEST" PREFIX=/usr >"$WORK/install.log" 2>&1 ||
	e2e_fail "make install failed: $(tail -n 3 "$WORK/install.log")"
got=$(cd "$DEST" && find . -type f | sed 's|^\./||' | sort)
want=$(printf '%s\n' $want_files | sed '/^$/d' | sort)
if [ "$got" = "$want" ]; then
	e2e_ok "make install DESTDIR PREFIX=/usr installs the expected $(echo "$want" | wc -l) files"
else
	e2e_fail "installed files, got: $(echo $got), want: $(echo $want)"
fi
[ -x "$DEST/usr/sbin/milter-policy" ] && [ -x "$DEST/etc/init.d/milter-policy" ] &&
	e2e_ok "the binary and the init script are executable" ||
	e2e_fail "the binary and the init script must be executable"
grep -q 'ExecStart=/usr/sbin/milter-policy ' "$DEST/usr/lib/systemd/system/milter-policy.service" &&
	e2e_ok "the unit runs the installed binary (/usr/sbin)" ||
	e2e_fail "the unit's ExecStart, got: $(grep ExecStart= "$DEST/usr/lib/systemd/system/milter-policy.service")"

# Safe defaults (issue 20 item 4): the installed policy drops root and
# keeps the socket to the milter's group; the directories are 0750.
pol=$DEST/etc/milter-policy/policy.conf
unit=$DEST/usr/lib/systemd/system/milter-policy.service
grep -Eq '^ *user *= *"milter-policy";' "$pol" &&
	grep -Eq '^ *socket_mode *= *"0660";' "$pol" &&
	grep -Eq '^ *socket_group *= *"milter-policy";' "$pol" &&
	e2e_ok "the installed policy sets milter.user, socket_mode 0660 and socket_group milter-policy" ||
	e2e_fail "the installed policy must set user, socket_mode \"0660\" and socket_group \"milter-policy\": $(grep -E 'user|socket' "$pol" | tr '\n' ' ')"
out=$("$E2E_ROOT/milter/milter-policy" -t -c "$pol" 2>&1)
case $out in
*OK*warning* | *warning*) e2e_fail "-t on the installed policy warns: $out" ;;
*OK*) e2e_ok "-t: the installed policy is valid, without a warning" ;;
*) e2e_fail "-t on the installed policy: $out" ;;
esac
grep -qx 'RuntimeDirectoryMode=0750' "$unit" && grep -qx 'StateDirectoryMode=0750' "$unit" &&
	grep -qx 'User=milter-policy' "$unit" && grep -qx 'Group=milter-policy' "$unit" &&
	e2e_ok "the unit runs as milter-policy with its directories 0750" ||
	e2e_fail "the unit's user and directory modes, got: $(grep -E 'User=|Group=|DirectoryMode=' "$unit" | tr '\n' ' ')"
grep -q 'install -d .*-m 0750 "$RUNDIR" "$STATEDIR"' "$DEST/etc/init.d/milter-policy" &&
	! grep -q 'mkdir -p "$RUNDIR"' "$DEST/etc/init.d/milter-policy" &&
	e2e_ok "the SysV script makes its directories 0750" ||
	e2e_fail "the SysV script must make /run/milter-policy and the state directory 0750"

# -t warns about a socket everyone may connect to, with FILE:LINE.
printf 'milter = {\n  socket_mode = "0666";\n};\n' >"$WORK/open.conf"
out=$("$E2E_ROOT/milter/milter-policy" -t -c "$WORK/open.conf" 2>&1)
rc=$?
case $out in
*"open.conf:2: warning: socket_mode \"0666\" lets every local user connect"*)
	[ "$rc" = 0 ] && e2e_ok "-t warns about socket_mode 0666 (FILE:LINE: warning:) and still exits 0" ||
		e2e_fail "-t with socket_mode 0666 exits $rc, want 0 (a warning, not an error)" ;;
*) e2e_fail "-t with socket_mode 0666 must warn that every local user may connect, got: $out" ;;
esac
printf 'milter = {\n  socket_mode = "0660";\n};\n' >"$WORK/closed.conf"
out=$("$E2E_ROOT/milter/milter-policy" -t -c "$WORK/closed.conf" 2>&1)
case $out in
*warning*) e2e_fail "-t warns about socket_mode 0660: $out" ;;
*) e2e_ok "-t says nothing about socket_mode 0660" ;;
esac

# An admin's policy survives a second install and an uninstall.
echo "# mine" >>"$DEST/etc/milter-policy/policy.conf"
make -s -C "$E2E_ROOT" install DESTDIR="$DEST" PREFIX=/usr >>"$WORK/install.log" 2>&1
grep -q '^# mine$' "$DEST/etc/milter-policy/policy.conf" &&
	e2e_ok "a second make install keeps the admin's policy.conf" ||
	e2e_fail "make install overwrote the admin's policy.conf"

# The man pages render without warnings.
for page in usr/share/man/man8/milter-policy.8 usr/share/man/man5/milter-policy.conf.5; do
	w=$(MANWIDTH=80 man --warnings -l "$DEST/$page" 2>&1 >/dev/null)
	if [ -z "$w" ]; then
		e2e_ok "man --warnings: $page is clean"
	else
		e2e_fail "man --warnings on $page: $(echo "$w" | head -n 3)"
	fi
done

# The unit, pointed at the built binary (systemd-analyze checks that the
# commands exist) and with the installed man pages on MANPATH.
if command -v systemd-analyze >/dev/null 2>&1; then
	sed "s|/usr/sbin|$E2E_ROOT/milter|g" "$DEST/usr/lib/systemd/system/milter-policy.service" \
		>"$WORK/milter-policy.service"
	if out=$(MANPATH=$DEST/usr/share/man systemd-analyze verify "$WORK/milter-policy.service" 2>&1); then
		e2e_ok "systemd-analyze verify: the unit is clean"
	else
		e2e_fail "systemd-analyze verify: $out"
	fi
else
	e2e_note "no systemd-analyze here: the unit is not verified"
fi

make -s -C "$E2E_ROOT" uninstall DESTDIR="$DEST" PREFIX=/usr >>"$WORK/install.log" 2>&1
left=$(cd "$DEST" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')
if [ "$left" = "etc/default/milter-policy etc/milter-policy/policy.conf " ]; then
	e2e_ok "make uninstall removes everything but the admin's configuration"
else
	e2e_fail "after make uninstall, got: $left, want the two configuration files"
fi

# -P: the pid file names the running daemon and goes at a clean stop.
mkdir -p "$WORK/run"
{ echo 'state = { file = ""; };'; cat "$E2E_ROOT/tests/e2e/scenarios.conf"; } >"$WORK/policy.conf"
"$E2E_ROOT/milter/milter-policy" -c "$WORK/policy.conf" \
	-p "unix:$WORK/run/milter.sock" -P "$WORK/run/milter.pid" \
	>"$WORK/daemon.log" 2>&1 </dev/null
e2e_wait 15 test -s "$WORK/run/milter.pid"
pid=$(cat "$WORK/run/milter.pid" 2>/dev/null)
if [ -n "$pid" ] && e2e_alive "$pid" && grep -q milter-policy "/proc/$pid/cmdline"; then
	e2e_ok "-P: the pid file names the running daemon (pid $pid)"
	mode=$(stat -c %a "$WORK/run/milter.sock" 2>/dev/null)
	[ "$mode" = 660 ] && e2e_ok "without socket_mode the socket is 0660" ||
		e2e_fail "without socket_mode the socket's mode is $mode, want 660 (not open to every user)"
	kill "$pid"
	if e2e_wait 10 test ! -e "$WORK/run/milter.pid" && e2e_wait 5 e2e_dead "$pid"; then
		e2e_ok "SIGTERM: the daemon stops and removes its pid file and socket"
		[ ! -e "$WORK/run/milter.sock" ] || e2e_fail "the socket is still there after the stop"
	else
		e2e_fail "after SIGTERM the pid file or the process is still there"
		kill -KILL "$pid" 2>/dev/null
	fi
else
	e2e_fail "-P: no pid file naming a live daemon, got \"$pid\""
fi
# make run, a newcomer's first command: the example policy with its
# counters under the checkout's run/, the next steps printed, and no
# complaint about a state directory outside it.
(cd "$E2E_ROOT" && timeout -s TERM 6 make -s run RUN_SOCKET="unix:$WORK/make-run.sock") \
	>"$WORK/make-run.log" 2>&1
if grep -q "smtpd_milters = unix:$WORK/make-run.sock" "$WORK/make-run.log" &&
	grep -q "make demo" "$WORK/make-run.log" && grep -q "starting: policy run/policy.conf" "$WORK/make-run.log"; then
	e2e_ok "make run: starts on the example policy and prints the main.cf lines, make demo and try"
else
	e2e_fail "make run: output lacks the next steps or the start line: $(tail -n 5 "$WORK/make-run.log")"
fi
if grep -q "cannot save\|/var/lib/milter-policy" "$WORK/make-run.log"; then
	e2e_fail "make run: writes outside the checkout: $(grep 'cannot save\|/var/lib' "$WORK/make-run.log" | head -n 1)"
else
	e2e_ok "make run: the counters stay under the checkout's run/ (no cannot-save warning)"
fi
e2e_done
