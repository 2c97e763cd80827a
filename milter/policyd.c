/* policyd.c: the policy service's socket, connections and thread; see
 * policyd.h.  What a request means is policyd_eval.c's. */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "policyd.h"
#include "policyd_eval.h"
#include "policyd_req.h"
#include "xmalloc.h"

#define PD_BUF_START	2048	/* a connection's buffer grows to PD_REQ_MAX */
#define PD_IDLE_S	600	/* close a connection idle this long */
#define PD_EVENTS	64
#define PD_READS	16	/* reads per wake-up: one busy client cannot hold the thread */
#define PD_PAUSE_S	1	/* out of descriptors: stop accepting this long */

struct pd_conn {
	int fd;
	char *buf;
	size_t len, cap;
	int skipping;			/* throwing away a request too big to keep */
	size_t skip_line;		/* pd_req_skip's state */
	time_t last;			/* CLOCK_MONOTONIC seconds of the last read */
	struct pd_sess *sess;
	struct pd_conn *prev, *next;
};

static int pd_fd = -1, pd_stop_fd = -1, pd_ep = -1;
static char *pd_path;			/* a unix socket's path, removed at stop */
static unsigned long pd_max, pd_nconns;
static struct pd_conn *pd_conns;
static pthread_t pd_thread;
static int pd_running, pd_full_logged;
static time_t pd_paused;		/* accepting stopped at; 0: accepting */
static int pd_pause_logged;		/* since the last connection accepted */

static time_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- the socket ---- */

static int
bind_unix(const char *path, const struct pol_settings *ps)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct group *gr;
	struct stat st;
	mode_t old_mask;
	int fd, rc;


	if (strlen(path) >= sizeof a.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Only a socket no one answers on is replaced: a typo must not
	 * delete a file (root does this), nor take over a live socket. */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		log_msg(LOG_ERR, "policy service: %s is there and not a socket: "
		    "name another path, or remove it", path);
		return -1;
	}
	if (listen_socket_live(path)) {
		errno = EADDRINUSE;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	strcpy(a.sun_path, path);
	unlink(path);		/* a socket no one answers on: a stale one */
	old_mask = umask(0777 & ~ps->socket_mode);
	rc = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old_mask);
	if (rc < 0) {
		close(fd);
		return -1;
	}
	if (ps->socket_group != NULL && (gr = getgrnam(ps->socket_group)) != NULL &&
	    lchown(path, (uid_t)-1, gr->gr_gid) < 0)
		log_msg(LOG_WARNING, "policy service: chgrp %s %s: %s",
		    ps->socket_group, path, strerror(errno));
	pd_path = xstrdup(path);
	return fd;
}

/* "inet:PORT@HOST" or "inet6:PORT@HOST" ("[::1]" brackets allowed). */
static int
bind_inet(const char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai;
	char port[16], host[256];
	const char *at = strchr(spec, '@'), *p = strchr(spec, ':') + 1;
	size_t n;
	int fd, one = 1;

	hints.ai_family = spec[4] == '6' ? AF_INET6 : AF_INET;
	if (at == NULL || (size_t)(at - p) >= sizeof port ||
	    strlen(at + 1) >= sizeof host)
		return -1;
	memcpy(port, p, at - p);
	port[at - p] = '\0';
	snprintf(host, sizeof host, "%s", at[1] == '[' ? at + 2 : at + 1);
	if ((n = strlen(host)) > 0 && host[n - 1] == ']')
		host[n - 1] = '\0';
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof one) < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int
policyd_open(const struct pol_settings *ps)
{
	const char *spec = ps->policy_service.listen;

	if (spec == NULL)
		return 0;
	pd_fd = strncmp(spec, "unix:", 5) == 0 ? bind_unix(spec + 5, ps) :
	    bind_inet(spec);
	if (pd_fd < 0 || listen(pd_fd, 128) < 0) {
		log_msg(LOG_ERR, "policy service: cannot listen on %s: %s "
		    "(in use, or the address or directory is wrong)", spec,
		    strerror(errno));
		if (pd_fd >= 0)
			close(pd_fd);
		pd_fd = -1;
		return -1;
	}
	pd_max = ps->policy_service.max_connections;
	log_msg(LOG_INFO, "policy service on %s: it counts the limits that need "
	    "no message content; the milter counts the others", spec);
	return 0;
}

/* ---- connections ---- */

static void
conn_close(struct pd_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		pd_conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	close(c->fd);		/* also leaves the epoll set */
	pd_sess_free(c->sess);
	free(c->buf);
	free(c);
	pd_nconns--;
}

/*
 * Out of descriptors (or memory), the listening socket stays readable and
 * epoll would wake the thread again at once, for ever: it leaves the
 * epoll set for PD_PAUSE_S, and the connections open are served meanwhile.
 */
static void
accept_pause(int err)
{
	if (epoll_ctl(pd_ep, EPOLL_CTL_DEL, pd_fd, NULL) < 0)
		return;
	pd_paused = now_s();
	if (!pd_pause_logged++)
		log_msg(LOG_WARNING, "policy service: accept: %s; taking no "
		    "connection for %d s at a time until one is taken (%lu "
		    "open)", strerror(err), PD_PAUSE_S, pd_nconns);
}

/* Accept again once the pause is over. */
static void
accept_resume(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &pd_fd };

	if (pd_paused == 0 || now_s() - pd_paused < PD_PAUSE_S)
		return;
	if (epoll_ctl(pd_ep, EPOLL_CTL_ADD, pd_fd, &ev) == 0)
		pd_paused = 0;
}

static void
conn_accept(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct pd_conn *c;
	int fd;

	if ((fd = accept4(pd_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			accept_pause(errno);
		return;
	}
	if (pd_nconns >= pd_max) {
		if (!pd_full_logged++)
			log_msg(LOG_WARNING, "policy service: %lu connections open: "
			    "refusing more until some close; raise "
			    "policy_service.max_connections", pd_nconns);
		close(fd);
		return;
	}
	pd_full_logged = pd_pause_logged = 0;
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->last = now_s();
	c->sess = pd_sess_new();
	ev.data.ptr = c;
	if (epoll_ctl(pd_ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		pd_sess_free(c->sess);
		free(c);
		close(fd);
		return;
	}
	c->next = pd_conns;
	if (pd_conns != NULL)
		pd_conns->prev = c;
	pd_conns = c;
	pd_nconns++;
}

/* Write a whole answer; Postfix reads it before its next request, so a
 * socket that cannot take 640 bytes is a client that does not read. */
static int
conn_send(struct pd_conn *c, const char *answer)
{
	size_t len = strlen(answer);

	return send(c->fd, answer, len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    (ssize_t)len ? 0 : -1;
}

/* Answer every complete request in the buffer; -1 to close. */
static int
conn_requests(struct pd_conn *c)
{
	char answer[PD_ANSWER_MAX];
	struct pd_req r;
	const char *why;
	size_t n;

	while ((n = pd_req_frame(c->buf, c->len)) > 0) {
		if (pd_req_parse(c->buf, n, &r, &why) < 0)
			pd_answer_bad(why, answer);
		else
			pd_sess_answer(c->sess, &r, answer);
		memmove(c->buf, c->buf + n, c->len - n);
		c->len -= n;
		if (conn_send(c, answer) < 0)
			return -1;
	}
	return 0;
}

/* Room for more: grow to PD_REQ_MAX, then throw the request away. */
static int
conn_room(struct pd_conn *c)
{
	char answer[PD_ANSWER_MAX];

	if (c->len < c->cap)
		return 0;
	if (c->cap < PD_REQ_MAX) {
		c->cap = c->cap ? c->cap * 2 : PD_BUF_START;
		c->buf = xrealloc(c->buf, c->cap);
		return 0;
	}
	c->skipping = 1;
	c->skip_line = 0;
	pd_req_skip(c->buf, c->len, &c->skip_line);	/* no end in it: framed */
	c->len = 0;
	pd_answer_bad("a request longer than 16384 bytes", answer);
	return conn_send(c, answer);	/* answered now; the rest is dropped */
}

/* Drop the rest of a request too big to keep; its answer was sent. */
static void
conn_skip(struct pd_conn *c)
{
	size_t n = pd_req_skip(c->buf, c->len, &c->skip_line);

	if (n == 0) {
		c->len = 0;
		return;
	}
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	c->skipping = 0;
}

/* Read what the client sent and answer what is complete; -1 to close. */
static int
conn_read(struct pd_conn *c)
{
	ssize_t n;
	int i;

	for (i = 0; i < PD_READS; i++) {
		if (conn_room(c) < 0)
			return -1;
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->len += (size_t)n;
		c->last = now_s();
		if (c->skipping)
			conn_skip(c);
		if (!c->skipping && conn_requests(c) < 0)
			return -1;
	}
	return 0;	/* more to read: epoll wakes us again */
}

static void
conns_idle(void)
{
	struct pd_conn *c, *next;
	time_t now = now_s();

	for (c = pd_conns; c != NULL; c = next) {
		next = c->next;
		if (now - c->last > PD_IDLE_S)
			conn_close(c);
	}
}

static void *
pd_main(void *arg)
{
	struct epoll_event ev[PD_EVENTS];
	time_t swept = now_s();
	int i, n;

	(void)arg;
	for (;;) {
		n = epoll_wait(pd_ep, ev, PD_EVENTS, pd_paused ? 1000 : 10000);
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == &pd_stop_fd)
				return NULL;
			if (ev[i].data.ptr == &pd_fd)
				conn_accept();
			else if (conn_read(ev[i].data.ptr) < 0)
				conn_close(ev[i].data.ptr);
		}
		accept_resume();
		if (now_s() - swept >= 10) {
			conns_idle();
			swept = now_s();
		}
	}
}

int
policyd_listening(void)
{
	return pd_fd >= 0;
}

void
policyd_start(void)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (pd_fd < 0)
		return;
	if ((pd_ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (pd_stop_fd = eventfd(0, EFD_CLOEXEC)) < 0)
		goto fail;
	ev.data.ptr = &pd_fd;
	if (epoll_ctl(pd_ep, EPOLL_CTL_ADD, pd_fd, &ev) < 0)
		goto fail;
	ev.data.ptr = &pd_stop_fd;
	if (epoll_ctl(pd_ep, EPOLL_CTL_ADD, pd_stop_fd, &ev) < 0 ||
	    pthread_create(&pd_thread, NULL, pd_main, NULL) != 0)
		goto fail;
	pd_running = 1;
	return;
fail:
	log_msg(LOG_ERR, "policy service: cannot start: %s; Postfix will get "
	    "its smtpd_policy_service_default_action", strerror(errno));
}

void
policyd_stop(void)
{
	uint64_t one = 1;

	if (pd_running && write(pd_stop_fd, &one, sizeof one) == sizeof one)
		pthread_join(pd_thread, NULL);
	pd_running = 0;
	while (pd_conns != NULL)
		conn_close(pd_conns);
	if (pd_fd >= 0)
		close(pd_fd);
	if (pd_ep >= 0)
		close(pd_ep);
	if (pd_stop_fd >= 0)
		close(pd_stop_fd);
	pd_fd = pd_ep = pd_stop_fd = -1;
	if (pd_path != NULL)
		unlink(pd_path);
	free(pd_path);
	pd_path = NULL;
}

void
policyd_check(const struct policy *p, FILE *out)
{
	const char *why, *name;
	int i;

	if (pol_settings(p)->policy_service.listen == NULL)
		return;
	for (i = 0; i < pol_rule_count(p); i++)
		if ((why = pol_rule_content(p, i, &name)) != NULL)
			fprintf(out, "%s: rule %s needs the milter: %s, which the "
			    "policy service does not see\n", pol_path(p), name, why);
}
