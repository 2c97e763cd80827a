#!/bin/sh
# The Debian package (debian/, make deb), on this machine: builds it (in a
# copy of the tree), runs lintian, installs it with dpkg -i and checks the
# files, the conffiles, the user and the directories; the service the
# postinst starts (SysV script: systemd is not running here) on the
# package's socket in Postfix's chroot; then, as README.Debian tells an
# admin, the private Postfix joined to the milter with the relative socket
# path, on a private socket; an upgrade over itself keeps the admin's
# conffiles and the counters; a real upgrade with a changed conffile keeps
# the admin's (--force-confold); remove stops the service and keeps the
# configuration; purge leaves nothing.  Leaves the machine as it found it,
# also when it fails (purge and user removal in the EXIT trap).
#
# Skips (0 failed) where it cannot run: not root, no dpkg, the package or
# the user already there, systemd running, build dependencies that cannot
# be installed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PKG=milter-policy
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# deb_skip REASON: nothing to test here; still a summary line for run-all.
deb_skip() {
	printf '# skip: %s\n' "$1"
	[ -n "${E2E_NAME:-}" ] && exit 0	# e2e_cleanup prints it
	echo "0 passed, 0 failed"
	exit 0
}

[ "$(id -u)" = 0 ] || deb_skip "needs root (dpkg -i)"
if ! command -v dpkg-buildpackage >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	deb_skip "not a Debian system with dpkg-dev and apt-get"
fi
[ -d /run/systemd/system ] &&
	deb_skip "systemd is running: this test drives the SysV script"
st=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null || true)
[ -z "$st" ] || [ "$st" = not-installed ] ||
	deb_skip "the package $PKG is on this machine ($st): the test would replace it"
getent passwd "$PKG" >/dev/null || getent group "$PKG" >/dev/null &&
	deb_skip "a user or group $PKG exists: the test would remove it"

e2e_init deb

# One run at a time: two would share the package.  (A directory, not a
# flock: the daemons the test starts would inherit the descriptor.)
LOCK=/run/lock/milter-policy-test-deb
if ! mkdir "$LOCK" 2>/dev/null; then
	e2e_alive "$(cat "$LOCK/pid" 2>/dev/null)" && deb_skip "another test_deb.sh is running"
	rm -rf "$LOCK"
	mkdir "$LOCK" || e2e_die "cannot make $LOCK"
fi
echo $$ >"$LOCK/pid"

# Everything on this machine that could be the package's, before it.
deb_snapshot() {
	for d in /etc /lib /usr /var /run /opt /srv; do
		find "$d" -name "*$PKG*" 2>/dev/null
	done | sort
	id postfix
}
deb_snapshot >"$WORK/before.txt"

DEB_TOUCHED=
DEB_PIDS=

deb_rc=0
# After a failure too: purge the package, stop a daemon it left, remove
# the user and group.  Runs before lib.sh's cleanup (which stops Postfix).
# shellcheck disable=SC2317 # called from the EXIT trap
deb_cleanup() {
	[ "$(cat "$LOCK/pid" 2>/dev/null)" = $$ ] && rm -rf "$LOCK"
	[ -n "$DEB_TOUCHED" ] || return 0
	st=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null || true)
	if [ -n "$st" ] && [ "$st" != not-installed ]; then
		e2e_note "cleanup: purging $PKG ($st)"
		[ -x /etc/init.d/$PKG ] && /etc/init.d/$PKG stop >/dev/null 2>&1
		deb_dpkg --purge --force-remove-reinstreq "$PKG" >>"$WORK/dpkg.log" 2>&1 ||
			e2e_note "cleanup: dpkg --purge failed (see $WORK/dpkg.log)"
	fi
	for p in $DEB_PIDS; do
		e2e_alive "$p" && grep -q "$PKG" "/proc/$p/cmdline" 2>/dev/null && kill -KILL "$p"
	done
	getent passwd "$PKG" >/dev/null && deluser --quiet --system "$PKG" >/dev/null 2>&1
	getent group "$PKG" >/dev/null && delgroup --quiet --system "$PKG" >/dev/null 2>&1
	rm -rf /var/lib/milter-policy /var/spool/postfix/milter-policy /etc/milter-policy /run/milter-policy \
		/etc/default/milter-policy.dpkg-*
	return 0
}
trap 'deb_rc=$?; deb_cleanup; (exit $deb_rc); e2e_cleanup' EXIT

# deb_dpkg ARGS: dpkg, its lock waited for (other runs of apt-get), where
# invoke-rc.d may run milter-policy's own init script: this machine's
# policy-rc.d (a container's "exit 101") is replaced, in a mount
# namespace of dpkg's own, by one that allows milter-policy and nothing
# else, so the postinst's start and the prerm's stop really run.
cat >"$WORK/policy-rc.d" <<'EOF'
#!/bin/sh
# test_deb.sh: milter-policy's actions run; any other service's do not.
[ "$1" = --quiet ] && shift
[ "$1" = milter-policy ] && exit 0
exit 101
EOF
chmod 0755 "$WORK/policy-rc.d"
deb_dpkg() {
	_w=0
	while :; do
		if [ -e /usr/sbin/policy-rc.d ]; then
			unshare --mount --propagation private sh -c \
				'mount --bind "$0" /usr/sbin/policy-rc.d && exec dpkg "$@"' \
				"$WORK/policy-rc.d" "$@" >"$WORK/dpkg.out" 2>&1
		else
			dpkg "$@" >"$WORK/dpkg.out" 2>&1
		fi
		_rc=$?
		cat "$WORK/dpkg.out" >>"$WORK/dpkg.log"
		grep -q 'lock' "$WORK/dpkg.out" && [ "$_rc" -ne 0 ] && [ "$_w" -lt 600 ] || return "$_rc"
		sleep 5
		_w=$((_w + 5))
	done
}

deb_status() {
	dpkg-query -W -f='${db:Status-Abbrev}' "$PKG" 2>/dev/null | tr -d ' '
}

deb_pid() {
	cat /run/$PKG/$PKG.pid 2>/dev/null
}

# ---------------------------------------------------------------- build
DEB_DIR=$WORK/deb
(cd "$ROOT" && git status --porcelain 2>/dev/null) >"$WORK/git-before.txt"
(cd "$ROOT" && dpkg-checkbuilddeps) >/dev/null 2>&1 ||
	e2e_note "installing the build dependencies (make deb)"
if ! make -s -C "$ROOT" deb DEB_DIR="$DEB_DIR" >"$WORK/make-deb.log" 2>&1; then
	if ! (cd "$ROOT" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
		e2e_tail "make deb" "$WORK/make-deb.log"
		deb_skip "the build dependencies are missing and could not be installed"
	fi
	e2e_tail "make deb" "$WORK/make-deb.log"
	e2e_die "make deb failed"
fi
VER=$(cd "$ROOT" && dpkg-parsechangelog -SVersion)
DEB=$DEB_DIR/${PKG}_${VER}_$(dpkg --print-architecture).deb
[ -f "$DEB" ] && e2e_ok "make deb built $(basename "$DEB")" || e2e_die "no $DEB after make deb"
(cd "$ROOT" && git status --porcelain 2>/dev/null) >"$WORK/git-after.txt"
cmp -s "$WORK/git-before.txt" "$WORK/git-after.txt" &&
	e2e_ok "make deb leaves the source tree as it was (git status)" ||
	e2e_fail "make deb changed the tree: $(diff "$WORK/git-before.txt" "$WORK/git-after.txt" | grep '^[<>]' | tr '\n' ' ')"

SRCVER=$(sed -n 's/^#define VERSION[[:space:]]*"\(.*\)"$/\1/p' "$ROOT/milter/main.c")
[ "$VER" = "$SRCVER" ] && e2e_ok "the package's version is milter/main.c's ($VER)" ||
	e2e_fail "debian/changelog is at $VER, milter/main.c at $SRCVER"

# lintian: no error; each warning named in the README's Debian package section.
if ! command -v lintian >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq lintian \
		>"$WORK/lintian-install.log" 2>&1
fi
if command -v lintian >/dev/null 2>&1; then
	lintian "$DEB_DIR/${PKG}_${VER}_$(dpkg --print-architecture).changes" >"$WORK/lintian.txt" 2>&1
	grep -v '^running with root' "$WORK/lintian.txt" | sed 's/^/#   /'
	if grep -q '^E: ' "$WORK/lintian.txt"; then
		e2e_fail "lintian reports errors: $(grep '^E: ' "$WORK/lintian.txt" | head -n 3 | tr '\n' ' ')"
	else
		e2e_ok "lintian reports no error"
	fi
	bad=
	for tag in $(sed -n 's/^W: [^:]*: \([a-z0-9-]*\).*/\1/p' "$WORK/lintian.txt" | sort -u); do
		grep -q -- "$tag" "$ROOT/README.md" || bad="$bad $tag"
	done
	[ -z "$bad" ] && e2e_ok "every lintian warning is explained in README.md" ||
		e2e_fail "lintian warnings not explained in README.md:$bad"
else
	e2e_note "lintian could not be installed: not run ($(tail -n 1 "$WORK/lintian-install.log"))"
fi

# --------------------------------------------------------------- install
DEB_TOUCHED=1
if deb_dpkg -i "$DEB"; then
	e2e_ok "dpkg -i installs the package"
else
	e2e_tail "dpkg -i" "$WORK/dpkg.out"
	e2e_die "dpkg -i failed"
fi
[ "$(deb_status)" = ii ] && e2e_ok "dpkg: $PKG is installed (ii)" ||
	e2e_fail "dpkg status, got $(deb_status), want ii"

missing=
for f in /usr/sbin/$PKG /etc/init.d/$PKG /etc/default/$PKG /etc/$PKG/policy.conf \
	/lib/systemd/system/$PKG.service /usr/share/man/man8/$PKG.8.gz \
	/usr/share/man/man5/$PKG.conf.5.gz /usr/share/doc/$PKG/README.Debian \
	/usr/share/doc/$PKG/copyright /usr/share/doc/$PKG/examples/postfix-main.cf; do
	[ -f "$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && e2e_ok "the binary, scripts, unit, policy, man pages and docs are installed" ||
	e2e_fail "missing after install:$missing"
[ -x /usr/sbin/$PKG ] && [ -x /etc/init.d/$PKG ] && e2e_ok "the binary and the init script are executable" ||
	e2e_fail "the binary and the init script must be executable"

conff=$(dpkg-query -W -f='${Conffiles}\n' "$PKG" | awk 'NF { print $1 }' | sort | tr '\n' ' ')
want="/etc/default/$PKG /etc/init.d/$PKG /etc/$PKG/policy.conf "
[ "$conff" = "$want" ] && e2e_ok "conffiles: $conff" || e2e_fail "conffiles, got: $conff, want: $want"

got=$(/usr/sbin/$PKG -V)
[ "$got" = "$PKG $VER" ] && e2e_ok "milter-policy -V prints the package's version ($got)" ||
	e2e_fail "milter-policy -V, got \"$got\", want \"$PKG $VER\""

pw=$(getent passwd "$PKG")
uid=$(echo "$pw" | cut -d: -f3)
gid=$(getent group "$PKG" | cut -d: -f3)
if [ -n "$pw" ] && [ "$uid" -lt 1000 ] && [ "$(echo "$pw" | cut -d: -f4)" = "$gid" ] &&
	[ "$(echo "$pw" | cut -d: -f6)" = /var/lib/$PKG ] &&
	[ "$(echo "$pw" | cut -d: -f7)" = /usr/sbin/nologin ]; then
	e2e_ok "system user $PKG (uid $uid, group $PKG, home /var/lib/$PKG, no shell)"
else
	e2e_fail "the user, got \"$pw\" and group id \"$gid\""
fi
for d in /var/lib/$PKG /var/spool/postfix/$PKG; do
	got=$(stat -c '%U:%G %a' "$d" 2>/dev/null)
	[ "$got" = "$PKG:$PKG 750" ] && e2e_ok "$d: $got" || e2e_fail "$d, got \"$got\", want $PKG:$PKG 750"
done

# The postinst started it, with the package's own policy.
SOCK=/var/spool/postfix/$PKG/$PKG.sock
e2e_wait 10 test -S "$SOCK"
pid=$(deb_pid)
DEB_PIDS="$DEB_PIDS $pid"
if [ -n "$pid" ] && e2e_alive "$pid"; then
	e2e_ok "the postinst started the service (pid $pid)"
	owner=$(stat -c %U "/proc/$pid")
	[ "$owner" = "$PKG" ] && e2e_ok "it runs as $PKG" || e2e_fail "the daemon runs as $owner, want $PKG"
else
	e2e_fail "no running daemon after install (pid file: \"$pid\")"
	e2e_tail "dpkg -i" "$WORK/dpkg.out"
fi
got=$(stat -c '%A %U:%G' "$SOCK" 2>/dev/null)
[ "$got" = "srw-rw---- $PKG:$PKG" ] && e2e_ok "its socket in Postfix's chroot: $got" ||
	e2e_fail "$SOCK, got \"$got\", want srw-rw---- $PKG:$PKG"
/etc/init.d/$PKG status >/dev/null && e2e_ok "/etc/init.d/$PKG status: running" ||
	e2e_fail "/etc/init.d/$PKG status says it is not running"

# (verify formats the unit's man: pages, which man-db caches: not the
# package's leftovers, so the test removes the copies it made.)
if command -v systemd-analyze >/dev/null 2>&1; then
	cats=
	for c in /var/cache/man/cat8/$PKG.8.gz /var/cache/man/cat5/$PKG.conf.5.gz; do
		[ -e "$c" ] || cats="$cats $c"
	done
	if out=$(systemd-analyze verify /lib/systemd/system/$PKG.service 2>&1); then
		e2e_ok "systemd-analyze verify: the installed unit is clean"
	else
		e2e_fail "systemd-analyze verify: $out"
	fi
	# shellcheck disable=SC2086 # a list of paths
	[ -z "$cats" ] || rm -f $cats
fi

/etc/init.d/$PKG stop >/dev/null
e2e_wait 10 e2e_dead "$pid" && [ ! -e "$SOCK" ] &&
	e2e_ok "/etc/init.d/$PKG stop stops it and its socket goes" ||
	e2e_fail "after /etc/init.d/$PKG stop: pid $pid or $SOCK still there"

# ----------------------------------------- the admin: README.Debian's steps
# A private socket in the private Postfix's queue directory, the same
# relative path as README.Debian's main.cf line; a rule with a counter.
PRIV=$WORK/pf/queue/$PKG
mkdir -p "$PRIV"
chmod 0755 "$WORK/pf" "$WORK/pf/queue"
install -d -o "$PKG" -g "$PKG" -m 0750 "$PRIV"
echo "OPTIONS=\"-p unix:$PRIV/$PKG.sock\"   # test_deb.sh" >>/etc/default/$PKG
cat >>/etc/$PKG/policy.conf <<'EOF'
# test_deb.sh: the admin's rule
rules = (
  { name = "deb-test"; when = { sender = "rl@client.e2e.test"; };
    limit = { count = "messages"; per = "sender"; rate = "2/1h"; }; }
);
EOF
/usr/sbin/$PKG -t -c /etc/$PKG/policy.conf >"$WORK/t.out" 2>&1 &&
	e2e_ok "the admin's policy is valid" || e2e_fail "milter-policy -t: $(cat "$WORK/t.out")"
adduser --quiet postfix "$PKG" && e2e_ok "adduser postfix $PKG" || e2e_fail "adduser postfix $PKG failed"

/etc/init.d/$PKG start >"$WORK/start.out" 2>&1 || e2e_fail "/etc/init.d/$PKG start: $(cat "$WORK/start.out")"
e2e_wait 10 test -S "$PRIV/$PKG.sock" ||
	e2e_die "no socket $PRIV/$PKG.sock after /etc/init.d/$PKG start"
pid=$(deb_pid)
DEB_PIDS="$DEB_PIDS $pid"
e2e_ok "/etc/init.d/$PKG start: on the private socket (pid $pid)"

sink_start
pf_start "unix:$PKG/$PKG.sock"

smtp_try --from rl@client.e2e.test --to user@other.org
expect_reply eom 250 - "" "message 1 of 2 passes the milter (a trusted client relays)"
expect_delivered
smtp_try --from rl@client.e2e.test --to user@other.org
expect_delivered "message 2 of 2 reached the sink"
# An outside client (XCLIENT from 127.0.0.9): the package's relay policy.
smtp_try --local-interface 127.0.0.9 --xclient-addr 192.0.2.7 --xclient-name mx.example.net \
	--to user@other.org
expect_reply rcpt 550 5.7.1 "relay" "the milter refuses relaying for an outside client"

# --------------------------------------------------- upgrade over itself
cp /etc/default/$PKG "$WORK/default.mine"
cp /etc/$PKG/policy.conf "$WORK/policy.mine"
if deb_dpkg --force-confold -i "$DEB"; then
	e2e_ok "dpkg -i over itself (--force-confold)"
else
	e2e_tail "dpkg -i (upgrade)" "$WORK/dpkg.out"
	e2e_fail "dpkg -i over itself failed"
fi
cmp -s /etc/default/$PKG "$WORK/default.mine" && cmp -s /etc/$PKG/policy.conf "$WORK/policy.mine" &&
	e2e_ok "the upgrade keeps the admin's conffiles" ||
	e2e_fail "the upgrade changed /etc/default/$PKG or /etc/$PKG/policy.conf"
e2e_wait 10 test -S "$PRIV/$PKG.sock"
npid=$(deb_pid)
DEB_PIDS="$DEB_PIDS $npid"
if [ -n "$npid" ] && [ "$npid" != "$pid" ] && e2e_alive "$npid" && e2e_dead "$pid"; then
	e2e_ok "the upgrade restarted the service (pid $pid, now $npid) on the admin's socket"
else
	e2e_fail "after the upgrade, got pid \"$npid\" (before: $pid), want a new running daemon"
fi
[ -s /var/lib/$PKG/state ] && e2e_ok "the state file /var/lib/$PKG/state is there" ||
	e2e_fail "no /var/lib/$PKG/state after the restart"
smtp_try --from rl@client.e2e.test --to user@other.org
expect_reply mail 453 4.7.0 "2 per" "message 3: over the limit, the counters survived the upgrade"

# A newer version whose policy.conf changed too: the admin's stays, the
# package's is set beside it (dpkg's --force-confold).
NEW=$WORK/new
dpkg-deb -R "$DEB" "$NEW"
echo "# a line the next version adds" >>"$NEW/etc/$PKG/policy.conf"
sed -i "s/^Version: .*/Version: $VER+t1/" "$NEW/DEBIAN/control"
(cd "$NEW" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
	xargs md5sum >DEBIAN/md5sums)
dpkg-deb -b "$NEW" "$WORK/new.deb" >/dev/null 2>&1 || e2e_fail "dpkg-deb -b of the newer package failed"
if deb_dpkg --force-confold -i "$WORK/new.deb"; then
	e2e_ok "dpkg --force-confold -i upgrades to $VER+t1"
else
	e2e_tail "dpkg -i (newer)" "$WORK/dpkg.out"
	e2e_fail "the upgrade to $VER+t1 failed"
fi
cmp -s /etc/$PKG/policy.conf "$WORK/policy.mine" && [ -f /etc/$PKG/policy.conf.dpkg-dist ] &&
	e2e_ok "a changed conffile: the admin's kept, the package's as policy.conf.dpkg-dist" ||
	e2e_fail "after the upgrade: $(ls /etc/$PKG | tr '\n' ' '), want the admin's policy.conf kept"
e2e_wait 10 test -S "$PRIV/$PKG.sock"
pid=$(deb_pid)
DEB_PIDS="$DEB_PIDS $pid"
[ -n "$pid" ] && e2e_alive "$pid" && e2e_ok "running after the upgrade (pid $pid)" ||
	e2e_fail "not running after the upgrade to $VER+t1"

# ---------------------------------------------------------------- remove
if deb_dpkg -r "$PKG"; then e2e_ok "dpkg -r"; else e2e_fail "dpkg -r failed"; fi
e2e_wait 10 e2e_dead "$pid" && [ ! -e "$PRIV/$PKG.sock" ] &&
	e2e_ok "remove stops the service (pid $pid gone, socket gone)" ||
	e2e_fail "after remove, pid $pid or the socket is still there"
[ "$(deb_status)" = rc ] && e2e_ok "dpkg: removed, configuration left (rc)" ||
	e2e_fail "dpkg status after remove, got $(deb_status), want rc"
[ ! -e /usr/sbin/$PKG ] && cmp -s /etc/$PKG/policy.conf "$WORK/policy.mine" &&
	cmp -s /etc/default/$PKG "$WORK/default.mine" && [ -s /var/lib/$PKG/state ] &&
	getent passwd "$PKG" >/dev/null &&
	e2e_ok "remove takes the binary, keeps the conffiles, the counters and the user" ||
	e2e_fail "after remove: binary $(ls /usr/sbin/$PKG 2>&1), /etc/$PKG: $(ls /etc/$PKG 2>&1 | tr '\n' ' ')"

# ----------------------------------------------------------------- purge
if deb_dpkg -P "$PKG"; then e2e_ok "dpkg -P"; else e2e_fail "dpkg -P failed"; fi
[ -z "$(deb_status)" ] || [ "$(deb_status)" = pn ] && e2e_ok "dpkg: purged" ||
	e2e_fail "dpkg status after purge, got $(deb_status)"
getent passwd "$PKG" >/dev/null || getent group "$PKG" >/dev/null &&
	e2e_fail "purge left the user or group $PKG" ||
	e2e_ok "purge removes the user and group $PKG"
rm -rf "$PRIV"
deb_snapshot >"$WORK/after.txt"
if cmp -s "$WORK/before.txt" "$WORK/after.txt"; then
	e2e_ok "nothing of the package is left (/etc /lib /usr /var /run, Postfix's groups)"
else
	e2e_fail "left after purge: $(diff "$WORK/before.txt" "$WORK/after.txt" | grep '^>' | tr '\n' ' ')"
fi
DEB_TOUCHED=
e2e_done
