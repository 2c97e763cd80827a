/*
 * check_redis_fleet: the Sentinel and Cluster stores' refusals and error
 * reports, with nothing listening (an unreachable seed list, no sentinel
 * answering) and against a real redis-server that is neither a cluster
 * node nor a sentinel, started here on a free loopback port and stopped by
 * its PID; and threads sharing one cluster store on a real three-master
 * cluster made here (CLUSTER ADDSLOTSRANGE, MEET) while a slot holding
 * their counters migrates under them (IMPORTING, MIGRATING, MIGRATE,
 * SETSLOT NODE): every take answered, no count lost or doubled (run under
 * ThreadSanitizer by make unit-tsan).  Full failovers run in
 * tests/e2e/test_cluster.sh and test_sentinel.sh.
 */
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "check_redis_server.h"

#include "redis_cluster.h"
#include "redis_sentinel.h"
#include "redis_slot.h"
#include "store.h"

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

/* A redis-server; in cluster mode with its bus on a free port when
 * cluster is set; its PID. */
static pid_t
server_start(int port, int cluster, int busport)
{
	char p[16], bus[16], conf[64];
	pid_t pid;
	int i;

	snprintf(p, sizeof p, "%d", port);
	snprintf(bus, sizeof bus, "%d", busport);
	snprintf(conf, sizeof conf, "/tmp/check-fleet-nodes-%d.conf", port);
	remove(conf);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		if (cluster)
			execlp("redis-server", "redis-server", "--port", p,
			    "--bind", "127.0.0.1", "--save", "", "--appendonly",
			    "no", "--loglevel", "warning", "--cluster-enabled",
			    "yes", "--cluster-port", bus, "--cluster-config-file",
			    conf, (char *)NULL);
		else
			execlp("redis-server", "redis-server", "--port", p,
			    "--bind", "127.0.0.1", "--save", "", "--appendonly",
			    "no", "--loglevel", "warning", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100 && !answers(port); i++)
		usleep(50000);
	ck_assert_msg(answers(port), "redis-server did not answer on %d", port);
	return pid;
}

static pid_t
plain_start(int port)
{
	return server_start(port, 0, 0);
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
	int port = redis_free_port();
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
	int port = redis_free_port();
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

/* A sentinel that takes connections and never answers: each question
 * costs the whole timeout.  It counts the connections it was asked on. */
struct blackhole {
	int fd, stop, accepted;
	int held[64];
};

static void *
blackhole_main(void *arg)
{
	struct blackhole *b = arg;
	struct timeval tv = { 0, 50000 };
	int fd;

	setsockopt(b->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while (!__atomic_load_n(&b->stop, __ATOMIC_SEQ_CST))
		if ((fd = accept(b->fd, NULL, NULL)) >= 0) {
			if (b->accepted < 64)
				b->held[b->accepted] = fd;
			else
				close(fd);
			__atomic_add_fetch(&b->accepted, 1, __ATOMIC_SEQ_CST);
		}
	return NULL;
}

struct locate_arg {
	struct redis_sentinel *s;
	int rc;
};

static void *
locate_main(void *arg)
{
	struct locate_arg *a = arg;
	char host[64];
	const char *why;
	int port;

	a->rc = redis_sentinel_locate(a->s, 1, host, sizeof host, &port, &why);
	return NULL;
}

/* Eight sessions find the sentinels silent at once: one asks, the others
 * wait for its answer and share it (redis_sentinel.h), rather than each
 * asking in turn behind the lock, eight timeouts for the last one. */
START_TEST(test_sentinel_silent_shared)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	struct blackhole b = { 0 };
	struct locate_arg la[8];
	pthread_t bt, t[8];
	char sentinel[32];
	const char *list[1] = { sentinel }, *why = NULL;
	struct redis_sentinel_opts so = { .sentinels = list, .nsentinels = 1,
	    .master = "mymaster", .timeout_ms = 300 };
	struct redis_sentinel *s;
	int i, asked;

	b.fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert(b.fd >= 0 && bind(b.fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    listen(b.fd, 64) == 0 &&
	    getsockname(b.fd, (struct sockaddr *)&a, &len) == 0);
	snprintf(sentinel, sizeof sentinel, "127.0.0.1:%d", ntohs(a.sin_port));
	ck_assert(pthread_create(&bt, NULL, blackhole_main, &b) == 0);
	s = redis_sentinel_new(&so, &why);
	ck_assert_msg(s != NULL, "%s", why);
	for (i = 0; i < 8; i++) {
		la[i].s = s;
		ck_assert(pthread_create(&t[i], NULL, locate_main, &la[i]) == 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(la[i].rc, -1);
	}
	redis_sentinel_free(s);
	__atomic_store_n(&b.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(bt, NULL);
	asked = __atomic_load_n(&b.accepted, __ATOMIC_SEQ_CST);
	ck_assert_msg(asked <= 3, "the silent sentinel was asked %d times for "
	    "8 sessions at once, want one (the watcher may add one)", asked);
	for (i = 0; i < asked && i < 64; i++)
		close(b.held[i]);
	close(b.fd);
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

/* ---- a real cluster, shared by threads, a slot migrating ---- */

#define NODES	3
#define THREADS	4
#define KEYS	40
#define ROUNDS	25

static int cl_port[NODES], cl_bus[NODES];
static pid_t cl_pid[NODES];

/* One command on a node, checked; the reply freed. */
static void
node_do(int port, const char *fmt, ...)
{
	struct timeval tv = { 5, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r;
	va_list ap;

	ck_assert(c != NULL && !c->err);
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(r != NULL && r->type != REDIS_REPLY_ERROR,
	    "node %d: %s: %s", port, fmt, r != NULL ? r->str : c->errstr);
	freeReplyObject(r);
	redisFree(c);
}

static int
node_ok(int port)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r = c != NULL && !c->err ? redisCommand(c, "CLUSTER INFO") : NULL;
	int ok = r != NULL && r->type == REDIS_REPLY_STRING &&
	    strstr(r->str, "cluster_state:ok") != NULL &&
	    strstr(r->str, "cluster_known_nodes:3") != NULL;

	freeReplyObject(r);
	redisFree(c);
	return ok;
}

static void
cluster_setup(void)
{
	int i, j;

	for (i = 0; i < NODES; i++) {
		cl_port[i] = redis_free_port();
		cl_bus[i] = redis_free_port();
		cl_pid[i] = server_start(cl_port[i], 1, cl_bus[i]);
	}
	node_do(cl_port[0], "CLUSTER ADDSLOTSRANGE 0 5460");
	node_do(cl_port[1], "CLUSTER ADDSLOTSRANGE 5461 10922");
	node_do(cl_port[2], "CLUSTER ADDSLOTSRANGE 10923 16383");
	for (i = 1; i < NODES; i++)
		node_do(cl_port[0], "CLUSTER MEET 127.0.0.1 %d %d", cl_port[i],
		    cl_bus[i]);
	for (j = 0; j < 300; j++) {
		for (i = 0; i < NODES && node_ok(cl_port[i]); i++)
			;
		if (i == NODES)
			return;
		usleep(100000);
	}
	ck_abort_msg("the cluster did not settle within 30 s");
}

static void
cluster_teardown(void)
{
	int i;

	for (i = 0; i < NODES; i++)
		if (cl_pid[i] > 0)
			plain_stop(cl_pid[i]);
}

static struct store *cl_store;

static void
key_req(int k, struct store_req *r, char *id, size_t idsz)
{
	int n = snprintf(id, idsz, "count%c192.0.2.%d", 0, k);

	memset(r, 0, sizeof *r);
	r->id = id;
	r->idlen = (size_t)n;
	r->kind = STORE_WINDOW;
	r->window_ms = 600000;
	r->burst = 1000000;
	r->units = 1;
	r->charge = STORE_CHARGE_ALLOWED;
}

static void *
hammer(void *arg)
{
	long *errors = arg;
	struct store_req r;
	struct store_res res;
	char id[64];
	int i, k;

	for (i = 0; i < ROUNDS; i++)
		for (k = 0; k < KEYS; k++) {
			key_req(k, &r, id, sizeof id);
			if (store_take(cl_store, &r, 0, &res) != STORE_OK)
				(*errors)++;
		}
	return NULL;
}

/* The node (index) serving slot, by the map node 0 gives. */
static int
slot_node(unsigned slot)
{
	struct timeval tv = { 5, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", cl_port[0], tv);
	redisReply *r = redisCommand(c, "CLUSTER SLOTS");
	struct redis_slot_range *rg;
	const char *why;
	int n = redis_slot_map_parse(r, &rg, &why), i, j, at = -1;

	for (i = 0; i < n; i++)
		if (slot >= rg[i].first && slot <= rg[i].last)
			for (j = 0; j < NODES; j++)
				if (rg[i].port == cl_port[j])
					at = j;
	free(rg);
	freeReplyObject(r);
	redisFree(c);
	return at;
}

/* Move slot from node a to node b with its keys, as redis-cli reshard does. */
static void
slot_migrate(unsigned slot, int a, int b)
{
	char ida[64], idb[64];
	struct timeval tv = { 5, 0 };
	redisContext *c;
	redisReply *r, *keys;
	size_t i;

	c = redisConnectWithTimeout("127.0.0.1", cl_port[a], tv);
	r = redisCommand(c, "CLUSTER MYID");
	snprintf(ida, sizeof ida, "%s", r->str);
	freeReplyObject(r);
	redisFree(c);
	c = redisConnectWithTimeout("127.0.0.1", cl_port[b], tv);
	r = redisCommand(c, "CLUSTER MYID");
	snprintf(idb, sizeof idb, "%s", r->str);
	freeReplyObject(r);
	redisFree(c);
	node_do(cl_port[b], "CLUSTER SETSLOT %u IMPORTING %s", slot, ida);
	node_do(cl_port[a], "CLUSTER SETSLOT %u MIGRATING %s", slot, idb);
	usleep(200000);		/* let the threads meet ASK */
	c = redisConnectWithTimeout("127.0.0.1", cl_port[a], tv);
	keys = redisCommand(c, "CLUSTER GETKEYSINSLOT %u 1000", slot);
	for (i = 0; i < keys->elements; i++) {
		r = redisCommand(c, "MIGRATE 127.0.0.1 %d %b 0 5000",
		    cl_port[b], keys->element[i]->str, keys->element[i]->len);
		freeReplyObject(r);
	}
	freeReplyObject(keys);
	redisFree(c);
	for (i = 0; i < NODES; i++)
		node_do(cl_port[i], "CLUSTER SETSLOT %u NODE %s", slot, idb);
}

START_TEST(test_cluster_threads)
{
	struct told told = { 0 };
	struct store_redis_opts o = { .prefix = "t:", .timeout_ms = 2000,
	    .notify = on_health, .notify_arg = &told };
	char seed[32], id[64], key[STORE_REDIS_KEY_MAX];
	const char *seeds[1] = { seed }, *why = NULL;
	pthread_t t[THREADS];
	long errors[THREADS] = { 0 };
	struct store_req r;
	struct store_res res;
	unsigned slot;
	int i, k, from;

	snprintf(seed, sizeof seed, "127.0.0.1:%d", cl_port[1]);
	cl_store = redis_cluster_new(seeds, 1, &o, &why);
	ck_assert(cl_store != NULL);
	key_req(0, &r, id, sizeof id);
	slot = redis_slot_of(key, store_redis_key("t:", r.id, r.idlen, key,
	    sizeof key));
	from = slot_node(slot);
	ck_assert_msg(from >= 0, "no node serves slot %u", slot);
	for (i = 0; i < THREADS; i++)
		ck_assert(pthread_create(&t[i], NULL, hammer, &errors[i]) == 0);
	usleep(100000);
	slot_migrate(slot, from, (from + 1) % NODES);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(errors[i] == 0, "thread %d: %ld takes failed (%d "
		    "downs, the last: %s)", i, errors[i], told.downs, told.why);
	}
	ck_assert_msg(slot_node(slot) == (from + 1) % NODES, "slot %u did "
	    "not move", slot);
	for (k = 0; k < KEYS; k++) {
		key_req(k, &r, id, sizeof id);
		r.charge = STORE_CHARGE_NONE;
		ck_assert(store_take(cl_store, &r, 0, &res) == STORE_OK);
		ck_assert_msg(res.count == THREADS * ROUNDS, "key %d: count %llu, "
		    "want %d", k, (unsigned long long)res.count, THREADS * ROUNDS);
	}
	store_free(cl_store);
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
	tcase_add_test(tc, test_sentinel_silent_shared);
	suite_add_tcase(s, tc);
	tc = tcase_create("cluster");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_add_test(tc, test_cluster_threads);
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
