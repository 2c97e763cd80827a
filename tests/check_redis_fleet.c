/*
 * check_redis_fleet: the Sentinel and Cluster stores' refusals and error
 * reports, with nothing listening (an unreachable seed list, no sentinel
 * answering) and against a real redis-server that is neither a cluster
 * node nor a sentinel, started here on a free loopback port and stopped by
 * its PID.  The routing itself runs against real clusters and sentinels in
 * tests/e2e/test_cluster.sh and test_sentinel.sh.
 */
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "redis_cluster.h"
#include "redis_sentinel.h"
#include "store.h"

/* A loopback port nothing listens on now. */
static int
free_port(void)
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

static int
answers(int port)
{
	struct timeval tv = { 0, 200000 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r = NULL;
	int ok;

	if (c != NULL && !c->err)
		r = redisCommand(c, "PING");
	ok = r != NULL && r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	redisFree(c);
	return ok;
}

/* A plain redis-server (not in cluster mode); its PID. */
static pid_t
plain_start(int port)
{
	char p[16];
	pid_t pid;
	int i;

	snprintf(p, sizeof p, "%d", port);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		execlp("redis-server", "redis-server", "--port", p, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no",
		    "--loglevel", "warning", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100 && !answers(port); i++)
		usleep(50000);
	ck_assert_msg(answers(port), "redis-server did not answer on %d", port);
	return pid;
}

static void
plain_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

struct told {
	int downs, ups;
	char why[512];
};

static void
on_health(void *arg, int up, const char *why)
{
	struct told *t = arg;

	if (up)
		t->ups++;
	else
		t->downs++;
	snprintf(t->why, sizeof t->why, "%s", why != NULL ? why : "");
}

static const struct store_req req = {
	.id = "rule\0messages\0" "192.0.2.7", .idlen = 24, .kind = STORE_GCRA,
	.window_ms = 60000, .rate = 3, .burst = 3, .units = 1,
	.charge = STORE_CHARGE_ALLOWED,
};

/* Take once; the result, and what health was told. */
static enum store_result
take_once(struct store *s)
{
	struct store_res res;

	return store_take(s, &req, 0, &res);
}

struct case_ {
	const char *name;
	int plain;		/* seed: a running plain redis-server, else nothing */
	const char *want;	/* in the reason told */
};

static const struct case_ cluster_cases[] = {
	{ "unreachable seeds", 0, "Connection refused" },
	{ "a seed not in cluster mode", 1, "is this node in cluster mode" },
};

START_TEST(test_cluster_errors)
{
	const struct case_ *c = &cluster_cases[_i];
	int port = free_port();
	pid_t pid = c->plain ? plain_start(port) : 0;
	struct told t = { 0 };
	struct store_redis_opts o = { .prefix = "t:", .timeout_ms = 500,
	    .notify = on_health, .notify_arg = &t };
	char seed[32];
	const char *seeds[1] = { seed }, *why = NULL;
	struct store *s;
	enum store_result r;

	snprintf(seed, sizeof seed, "127.0.0.1:%d", port);
	s = redis_cluster_new(seeds, 1, &o, &why);
	ck_assert_msg(s != NULL, "%s: refused: %s", c->name, why);
	r = take_once(s);
	ck_assert_msg(r == STORE_ERROR, "%s: got OK, want STORE_ERROR", c->name);
	ck_assert_msg(t.downs == 1 && strstr(t.why, c->want) != NULL &&
	    strstr(t.why, seed) != NULL, "%s: told %d downs, \"%s\"; want 1 "
	    "naming %s and \"%s\"", c->name, t.downs, t.why, seed, c->want);
	r = take_once(s);
	ck_assert_msg(r == STORE_ERROR && t.downs == 1,
	    "%s: a second failure: got %d downs, want 1 (once per change)",
	    c->name, t.downs);
	store_free(s);
	if (pid > 0)
		plain_stop(pid);
}
END_TEST

static const struct case_ sentinel_cases[] = {
	{ "no sentinel answers", 0, "no sentinel answers" },
	{ "a sentinel that is a plain server", 1, "unexpected answer" },
};

START_TEST(test_sentinel_errors)
{
	const struct case_ *c = &sentinel_cases[_i];
	int port = free_port();
	pid_t pid = c->plain ? plain_start(port) : 0;
	struct told t = { 0 };
	struct store_redis_opts o = { .prefix = "t:", .timeout_ms = 500,
	    .notify = on_health, .notify_arg = &t };
	char sentinel[32];
	const char *list[1] = { sentinel }, *why = NULL;
	struct redis_sentinel_opts so = { .sentinels = list, .nsentinels = 1,
	    .master = "mymaster", .timeout_ms = 500 };
	struct store *s;

	snprintf(sentinel, sizeof sentinel, "127.0.0.1:%d", port);
	s = redis_sentinel_store(&so, &o, &why);
	ck_assert_msg(s != NULL, "%s: refused: %s", c->name, why);
	ck_assert_msg(take_once(s) == STORE_ERROR, "%s: got OK", c->name);
	ck_assert_msg(t.downs == 1 && strstr(t.why, c->want) != NULL,
	    "%s: told %d downs, \"%s\"; want 1 with \"%s\"", c->name, t.downs,
	    t.why, c->want);
	store_free(s);
	if (pid > 0)
		plain_stop(pid);
}
END_TEST

struct addr_case {
	const char *name;
	const char *addr;
	int ok;
};

static const struct addr_case addr_cases[] = {
	{ "host and port", "127.0.0.1:7000", 1 },
	{ "ipv6", "::1:7000", 1 },
	{ "no port", "127.0.0.1", 0 },
	{ "port 0", "127.0.0.1:0", 0 },
	{ "port junk", "127.0.0.1:70x", 0 },
	{ "no host", ":7000", 0 },
};

START_TEST(test_addresses)
{
	const struct addr_case *c = &addr_cases[_i];
	struct store_redis_opts o = { .prefix = "t:" };
	const char *list[1] = { c->addr }, *why = NULL;
	struct redis_sentinel_opts so = { .sentinels = list, .nsentinels = 1,
	    .master = "m" };
	struct store *cl = redis_cluster_new(list, 1, &o, &why);
	struct store *se = redis_sentinel_store(&so, &o, &why);

	ck_assert_msg((cl != NULL) == c->ok, "%s: cluster seed %s: got %s",
	    c->name, c->addr, cl != NULL ? "taken" : "refused");
	ck_assert_msg((se != NULL) == c->ok, "%s: sentinel %s: got %s",
	    c->name, c->addr, se != NULL ? "taken" : "refused");
	store_free(cl);
	store_free(se);
}
END_TEST

#define LOOP(tc, fn, tab) \
	tcase_add_loop_test(tc, fn, 0, (int)(sizeof tab / sizeof tab[0]))

static Suite *
fleet_suite(void)
{
	Suite *s = suite_create("redis_fleet");
	TCase *tc = tcase_create("errors");

	tcase_set_timeout(tc, 30);
	LOOP(tc, test_cluster_errors, cluster_cases);
	LOOP(tc, test_sentinel_errors, sentinel_cases);
	LOOP(tc, test_addresses, addr_cases);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(fleet_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
