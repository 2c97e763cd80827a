/*
 * ctl.h: the control socket.  A unix socket, mode 0600 (root and the
 * milter's user only), one command line per connection, answered with one
 * line that starts "ok" or "error":
 *     stats | reload | show RULE KEY | reset RULE KEY
 * KEY is a limit rule's key as the over-limit log line writes it.
 */
#ifndef CTL_H
#define CTL_H

/* Listen on path while still root, the socket made 0600 and given to
 * user (may be NULL).  Only a missing path or a stale socket is replaced;
 * a failure is logged and the milter runs on without it. */
void ctl_listen(const char *path, const char *user);

/* Serve from a thread of its own (after the signal mask is set). */
void ctl_serve_start(void);

/* Stop serving (the thread is joined) and remove the socket; call it
 * before the store closes. */
void ctl_stop(void);

/* The client: `milter-policy ctl [-c FILE] [-s SOCKET] COMMAND ...`. */
int ctl_main(int argc, char **argv, const char *default_policy);

#endif
