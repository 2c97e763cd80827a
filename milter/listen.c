/* listen.c: the milter socket; see listen.h. */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "callbacks.h"
#include "listen.h"
#include "log.h"

const char *
listen_path(const char *conn)
{
	if (strncmp(conn, "unix:", 5) == 0)
		return conn + 5;
	if (strncmp(conn, "local:", 6) == 0)
		return conn + 6;
	return conn[0] == '/' ? conn : NULL;
}

int
listen_socket_live(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, live;

	if (strlen(path) >= sizeof a.sun_path)
		return 0;
	strcpy(a.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return 0;
	live = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return live;
}

/* The group the policy gives the socket file.  Never through a symbolic
 * link: whoever can write the directory could aim root's chown anywhere. */
static void
socket_group(const char *path, const struct pol_settings *ps)
{
	struct group *gr;

	if (ps->socket_group == NULL)
		return;
	if ((gr = getgrnam(ps->socket_group)) == NULL)
		log_msg(LOG_WARNING, "milter.socket_group \"%s\": no such "
		    "group; %s keeps its group", ps->socket_group, path);
	else if (lchown(path, (uid_t)-1, gr->gr_gid) < 0)
		log_msg(LOG_WARNING, "chgrp %s %s: %s", ps->socket_group,
		    path, strerror(errno));
}

void
listen_open(const char *conn, const struct pol_settings *ps)
{
	const char *path = listen_path(conn);
	mode_t old_mask;
	int rc;

	if (path != NULL && listen_socket_live(path)) {
		log_msg(LOG_ERR, "another milter answers on %s: stop it first "
		    "(or give this one another socket)", path);
		exit(EX_UNAVAILABLE);
	}
	if (smfi_setconn((char *)conn) == MI_FAILURE ||
	    smfi_register(cb_desc) == MI_FAILURE) {
		log_msg(LOG_ERR, "cannot use milter socket %s", conn);
		exit(EX_USAGE);
	}
	/* 1: a socket file left by a milter that died is removed first.  The
	 * umask gives the socket its mode as it is made: no chmod by path. */
	old_mask = umask(0777 & ~ps->socket_mode);
	rc = smfi_opensocket(1);
	umask(old_mask);
	if (rc == MI_FAILURE) {
		log_msg(LOG_ERR, "cannot listen on %s: in use, or its directory "
		    "is missing or not writable", conn);
		exit(EX_OSERR);
	}
	if (path != NULL)
		socket_group(path, ps);
}
