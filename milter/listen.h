/*
 * listen.h: the milter socket: bound before privileges are dropped, with
 * the mode and group the policy asks for so the MTA's user can connect.
 */
#ifndef LISTEN_H
#define LISTEN_H

#include "policy.h"

/* The filesystem path of a unix: socket, or NULL for inet sockets. */
const char *listen_path(const char *conn);

/* Does a process accept connections on this unix socket path? */
int listen_socket_live(const char *path);

/* Register the callbacks and listen on conn; a stale unix socket file is
 * replaced, but a live one (another instance answers there) is refused.
 * Exits with a sysexits code, logged, when it cannot. */
void listen_open(const char *conn, const struct pol_settings *ps);

#endif
