#!/bin/sh
# debian/adapt.sh: the project's init/ files made Debian's, run by
# debian/rules before the build (from the top of the tree).  Fails, and so
# fails the build, when a file no longer looks as expected, rather than
# ship it unadapted.
#   - the version: debian/changelog's must be the one milter -V prints
#   - the unit and the SysV script run /usr/sbin/milter-policy; the unit
#     may write the state directory and the socket's directory in
#     Postfix's chroot (made by the postinst, owned by milter-policy)
#   - the policy: the socket in Postfix's chroot, the milter-policy user,
#     the socket 0660 in group milter-policy (README.Debian)
set -eu

fail() {
	echo "debian/adapt.sh: $*" >&2
	exit 1
}

# The version: one place, milter/main.c; the changelog must agree.
src=$(sed -n 's/^#define VERSION[[:space:]]*"\(.*\)"$/\1/p' milter/main.c)
[ -n "$src" ] || fail "no #define VERSION \"...\" in milter/main.c"
deb=$(dpkg-parsechangelog -SVersion)
upstream=${deb#*:}
upstream=${upstream%-*}
[ "$upstream" = "$src" ] ||
	fail "debian/changelog is at $deb, milter/main.c at $src: add a changelog entry (dch -v $src)"

SOCKDIR=/var/spool/postfix/milter-policy

# The unit: StateDirectory= would give /var/lib/milter-policy to root at
# each start (the service starts as root and drops to milter.user itself),
# so the package owns the directory and the unit may only write to it.
grep -q '^ProtectSystem=strict$' init/milter-policy.service ||
	fail "init/milter-policy.service: no ProtectSystem=strict line to add ReadWritePaths= after"
sed -e 's|/usr/local/sbin/|/usr/sbin/|g' \
	-e '/^StateDirectory=/d' \
	-e '/^ProtectSystem=strict$/a\
# Debian: the state directory and the socket directory in Postfix'"'"'s chroot\
# belong to the user milter-policy (made by the package, not by systemd).\
ReadWritePaths=/var/lib/milter-policy -'"$SOCKDIR" \
	init/milter-policy.service >debian/milter-policy.service

# The SysV script; the postinst makes the directories it needs.  With
# Debian's init-functions, a call of the script on a system that runs
# systemd is passed on to systemctl instead of starting a second milter.
grep -q '^DAEMON=/usr/local/sbin/milter-policy$' init/milter-policy.init ||
	fail "init/milter-policy.init: no DAEMON=/usr/local/sbin/milter-policy line"
grep -q '^### END INIT INFO$' init/milter-policy.init ||
	fail "init/milter-policy.init: no ### END INIT INFO line"
sed -e 's|/usr/local/sbin/|/usr/sbin/|g' \
	-e '/^### END INIT INFO$/a\
. /lib/lsb/init-functions' \
	init/milter-policy.init >debian/milter-policy.init
cp init/milter-policy.default debian/milter-policy.default

# The policy: the milter group's socket, user, socket_mode and
# socket_group lines replaced by Debian's, the rest as the project ships it.
awk -v sock="unix:$SOCKDIR/milter-policy.sock" '
/^milter[[:space:]]*=[[:space:]]*\{/ { inmilter = 1 }
inmilter && /^};/ { inmilter = 0 }
inmilter && /^[[:space:]]*#?[[:space:]]*(user|socket_mode|socket_group)[[:space:]]*=/ { next }
inmilter && /^[[:space:]]*socket[[:space:]]*=/ {
	print "  # Debian: inside Postfix'"'"'s chroot (README.Debian), for Postfix only"
	print "  socket       = \"" sock "\";"
	print "  socket_mode  = \"0660\";"
	print "  socket_group = \"milter-policy\";   # adduser postfix milter-policy"
	print "  user         = \"milter-policy\";   # after binding the socket"
	done = 1
	next
}
{ print }
END { if (!done) exit 1 }
' init/policy.conf | sed 's|/usr/local/share/doc/|/usr/share/doc/|g' >debian/policy.conf ||
	fail "init/policy.conf: no socket = line in the milter = { } group"
