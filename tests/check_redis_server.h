/*
 * check_redis_server.h: a real redis-server for a check suite, started on
 * a free loopback port without persistence and stopped by its PID.  Static
 * inline, included once per suite (see check_util.h).
 */
#ifndef CHECK_REDIS_SERVER_H
#define CHECK_REDIS_SERVER_H

#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

static pid_t redis_pid;
static int redis_port;

/* A loopback port nothing listens on now. */
static inline int
redis_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	ck_assert(fd >= 0);
	ck_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
	ck_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A connection to the server, or NULL. */
static inline redisContext *
redis_connect(void)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);

	if (c != NULL && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

static inline int
redis_answers(void)
{
	redisContext *c = redis_connect();
	redisReply *r = c != NULL ? redisCommand(c, "PING") : NULL;
	int ok = r != NULL && r->type == REDIS_REPLY_STATUS;

	if (r != NULL)
		freeReplyObject(r);
	if (c != NULL)
		redisFree(c);
	return ok;
}

static inline void
redis_start(void)
{
	char port[16];
	int i;

	redis_port = redis_free_port();
	snprintf(port, sizeof port, "%d", redis_port);
	redis_pid = fork();
	ck_assert(redis_pid >= 0);
	if (redis_pid == 0) {
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(127);	/* its start-up chatter */
		execlp("redis-server", "redis-server", "--port", port, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel",
		    "warning", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 250 && !redis_answers(); i++)
		usleep(20000);
	ck_assert_msg(redis_answers(), "redis-server did not answer on "
	    "127.0.0.1:%d (make check installs it)", redis_port);
}

static inline void
redis_stop(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
	}
	redis_pid = 0;
}

#endif
