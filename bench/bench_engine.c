/*
 * bench_engine: the engine alone, no MTA.  Decisions per second of a
 * messages rate rule (pol_eval at MAIL, then pol_msg_end) with 1, 10^4 and
 * 10^6 distinct client addresses on 1 and 2 threads, the same rule with
 * a 100,000-line overrides table (and its load time) and as a calendar
 * quota, the memory store's
 * bytes per key, and the body fingerprint's MB/s against a plain read of
 * the same buffer, and one regex against hostile values at the edge of its
 * budget (target: under 50 ms each).  Figures vary with the machine; the
 * ratios and the per-decision cost against the targets (2 us, 128 bytes)
 * are the point.
 *
 *   bench/bench_engine [-q]      -q: a short run (make check builds it)
 *   BENCH_REDIS_PORT=N bench/bench_engine   also memory against a
 *                                redis-server on 127.0.0.1:N: latency added
 *                                and a stage of three limit rules in one
 *                                round trip against three
 *   BENCH_CLUSTER_SEED=N         and a Redis Cluster seeded at 127.0.0.1:N
 *                                against that one server: the routing's cost
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dupes.h"
#include "match.h"
#include "policy.h"
#include "redis_cluster.h"
#include "store.h"

static const char rate_policy[] =
    "rules = ( { name = \"client-msgs\"; limit = { count = \"messages\"; "
    "per = \"client_addr\"; rate = \"1000000/1h\"; }; } );\n";

/* A message counted per client, per network and per sender: three takes
 * at MAIL, one round trip on Redis (batch.h). */
static const char three_policy[] =
    "rules = ( { name = \"client-msgs\"; limit = { count = \"messages\"; "
    "per = \"client_addr\"; rate = \"1000000/1h\"; }; },\n"
    "  { name = \"net-msgs\"; limit = { count = \"messages\"; "
    "per = \"client_net\"; rate = \"1000000/1h\"; }; },\n"
    "  { name = \"sender-msgs\"; limit = { count = \"messages\"; "
    "per = \"sender\"; rate = \"1000000/1h\"; }; } );\n";

static const char quota_policy[] =
    "rules = ( { name = \"client-quota\"; limit = { count = \"messages\"; "
    "per = \"client_addr\"; quota = \"1000000/day\"; }; } );\n";

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die_on_error(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "bench_engine: %s\n", msg);
	exit(1);
}

static struct policy *
policy_from_text(const char *text)
{
	char path[] = "/tmp/bench_engine.XXXXXX";
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");
	struct policy *p;

	fputs(text, fp);
	fclose(fp);
	p = pol_load(path, die_on_error, NULL);
	remove(path);
	return p;
}

struct run {
	struct policy *p;
	struct store *st;
	unsigned long keys, decisions, first;
	double seconds;
};

static void *
run_main(void *arg)
{
	struct run *r = arg;
	struct pol_env env = { .sender = "someone@example.com" };
	struct pol_verdict v;
	char addr[32];
	unsigned long i, k;
	double t0 = now_s();

	for (i = 0; i < r->decisions; i++) {
		struct pol_conn *c = pol_conn_new(r->p, r->st);

		k = (r->first + i) % r->keys;
		snprintf(addr, sizeof addr, "10.%lu.%lu.%lu", k >> 16 & 255,
		    k >> 8 & 255, k & 255);
		env.client_addr = addr;
		pol_eval(c, POL_MAIL, &env, 1000 + i / 1000, &v);
		pol_msg_end(c, v.action == POL_CONTINUE, 1000 + i / 1000);
		pol_conn_free(c);
	}
	r->seconds = now_s() - t0;
	return NULL;
}

/* One line: keys, threads, decisions/s, ns per decision, bytes per key. */
static void
bench_decisions(struct policy *p, unsigned long keys, int threads,
    unsigned long per_thread)
{
	struct store *st = store_memory_new(keys * 2 > 1000 ? keys * 2 : 1000);
	struct run r[2];
	pthread_t t[2];
	double worst = 0, total;
	int i;

	/* warm: every key exists before the timed part */
	r[0] = (struct run){ p, st, keys, keys, 0, 0 };
	run_main(&r[0]);
	for (i = 0; i < threads; i++) {
		r[i] = (struct run){ p, st, keys, per_thread,
		    (unsigned long)i * 7919, 0 };
		pthread_create(&t[i], NULL, run_main, &r[i]);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		if (r[i].seconds > worst)
			worst = r[i].seconds;
	}
	total = (double)per_thread * threads;
	printf("engine  keys=%-8lu threads=%d  %9.0f decisions/s  %6.0f ns/decision"
	    "  %5.1f bytes/key\n", keys, threads, total / worst,
	    worst * 1e9 / (double)per_thread, (double)store_memory_bytes(st) /
	    (double)(store_count(st) ? store_count(st) : 1));
	store_free(st);
}

/* The rate rule with a 100,000-line overrides table: hosts, /24s and /16s
 * (three prefix lengths to probe), a tenth of them holding bench keys.
 * Prints the load time; the caller frees the policy. */
static struct policy *
overrides_policy(void)
{
	char table[] = "/tmp/bench_overrides.XXXXXX", text[512];
	int fd = mkstemp(table);
	FILE *fp = fdopen(fd, "w");
	struct policy *p;
	unsigned long i;
	double t0;

	for (i = 0; i < 100000; i++)
		if (i % 10 == 0)
			fprintf(fp, "10.%lu.%lu.%lu 2000000/1h\n", i >> 16 & 255,
			    i >> 8 & 255, i & 255);
		else if (i % 10 == 1)
			fprintf(fp, "11.%lu.%lu.0/24 unlimited\n", i / 10 >> 8,
			    i / 10 & 255);
		else if (i % 10 == 2)
			fprintf(fp, "%lu.%lu.0.0/16 0\n", 12 + (i / 10 >> 8),
			    i / 10 & 255);
		else
			fprintf(fp, "user%lu@example.com %lu/1d\n", i, i);
	fclose(fp);
	snprintf(text, sizeof text, "rules = ( { name = \"client-msgs\"; "
	    "limit = { count = \"messages\"; per = \"client_addr\"; rate = "
	    "\"1000000/1h\"; overrides = \"file:%s\"; }; } );\n", table);
	t0 = now_s();
	p = policy_from_text(text);
	printf("overrides  100000 lines: policy loaded in %.0f ms (target: well "
	    "under 1000 ms)\n", (now_s() - t0) * 1e3);
	remove(table);
	return p;
}

/* Fingerprint MB/s against a plain read (a byte sum) of the same buffer. */
static void
bench_fingerprint(size_t mb)
{
	size_t n = mb << 20, i, chunk = 65536;
	unsigned char *buf = malloc(n), fp[DUP_FP_LEN];
	volatile unsigned long sum = 0;
	struct dup_body b;
	double t0, t_read, t_fp;

	for (i = 0; i < n; i++)
		buf[i] = (i % 78 == 77) ? '\n' : (unsigned char)('a' + i % 26);
	t0 = now_s();
	for (i = 0; i < n; i++)
		sum += buf[i];
	t_read = now_s() - t0;
	t0 = now_s();
	dup_body_init(&b);
	for (i = 0; i < n; i += chunk)
		dup_body_add(&b, buf + i, n - i < chunk ? n - i : chunk);
	dup_body_final(&b, fp);
	t_fp = now_s() - t0;
	printf("fingerprint  %zu MB: %7.0f MB/s; plain read %7.0f MB/s; "
	    "ratio %.2f\n", mb, (double)mb / t_fp, (double)mb / t_read,
	    t_read / t_fp);
	free(buf);
}

/* This thread's CPU time in seconds: a busy machine does not count. */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One regex against one hostile value, at the edge of its budget (match.c):
 * steps shared by 2,049 start positions, start positions cut by the bytes
 * after them.  The first is issue 20's: 41 s before the budget. */
static void
bench_regex(void)
{
	static const struct {
		const char *pattern, *tail;
		size_t n;		/* this many "a" before the tail */
	} cases[] = {
		{ "/(a|a){1,17}b/", "Xb", 2048 },	/* out of steps at once */
		{ "/(a|a){1,6}b/", "Xb", 2048 },	/* just within the steps */
		{ "/\\w+@/", "-@", 5700 },		/* just within the scan */
		{ "/\\w+@/", "-@", 100000 },		/* cut */
	};
	static const char *const res[] = { "no match", "match", "error" };
	struct match_list *l;
	enum match_result r;
	char *v, err[256];
	size_t i;
	double t0;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		l = match_list_new(MATCH_STRING);
		if (match_add(l, cases[i].pattern, err, sizeof err) < 0)
			die_on_error(NULL, err);
		match_list_finish(l);
		v = malloc(cases[i].n + strlen(cases[i].tail) + 1);
		memset(v, 'a', cases[i].n);
		strcpy(v + cases[i].n, cases[i].tail);
		t0 = cpu_s();
		r = match_find(l, v);
		printf("regex  %-16s %6zu bytes: %6.1f ms CPU, %s (target: "
		    "under 50 ms)\n", cases[i].pattern, cases[i].n +
		    strlen(cases[i].tail), (cpu_s() - t0) * 1e3, res[r]);
		free(v);
		match_list_free(l);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Latency of single decisions on one store: median and p99, in us. */
static void
latency(struct policy *p, struct store *st, const char *name, int n,
    double *median)
{
	struct pol_env env = { .sender = "someone@example.com" };
	double *t = malloc(sizeof *t * (size_t)n), t0;
	struct pol_verdict v;
	char addr[32];
	int i;

	for (i = 0; i < n; i++) {
		struct pol_conn *c = pol_conn_new(p, st);

		snprintf(addr, sizeof addr, "10.9.%d.%d", i >> 8 & 255, i & 255);
		env.client_addr = addr;
		t0 = now_s();
		pol_eval(c, POL_MAIL, &env, 1000, &v);
		t[i] = (now_s() - t0) * 1e6;
		pol_msg_end(c, v.action == POL_CONTINUE, 1000);
		pol_conn_free(c);
		if (v.action == POL_ERROR) {
			fprintf(stderr, "bench_engine: %s store failed\n", name);
			exit(1);
		}
	}
	qsort(t, (size_t)n, sizeof *t, cmp_double);
	*median = t[n / 2];
	printf("latency  %-13s %6d decisions: median %7.1f us, p99 %7.1f us\n",
	    name, n, t[n / 2], t[n * 99 / 100]);
	free(t);
}

/* A cluster against one Redis: what routing by hash slot adds, once the
 * slot map is known (the first decision reads it). */
static void
bench_cluster(struct policy *p, int seed, int n, double m_red)
{
	char addr[32];
	const char *seeds[1] = { addr }, *why = NULL;
	struct store_redis_opts o = { .prefix = "bench:", .timeout_ms = 1000 };
	struct store *cl;
	double m_cl;

	snprintf(addr, sizeof addr, "127.0.0.1:%d", seed);
	if ((cl = redis_cluster_new(seeds, 1, &o, &why)) == NULL) {
		fprintf(stderr, "bench_engine: cluster: %s\n", why);
		exit(1);
	}
	latency(p, cl, "cluster", n, &m_cl);
	printf("latency  a cluster adds %.1f us to one redis's at the median "
	    "(target: about 0, no extra hop)\n", m_cl - m_red);
	store_free(cl);
}

/* Memory against Redis on loopback: the latency Redis adds; its median. */
static double
bench_redis(struct policy *p, int port, int n)
{
	struct store_redis_opts o = { .host = "127.0.0.1", .port = port,
	    .prefix = "bench:", .timeout_ms = 1000 };
	struct store *mem = store_memory_new(100000), *red = store_redis_new(&o);
	double m_mem, m_red;

	latency(p, mem, "memory", n, &m_mem);
	latency(p, red, "redis", n, &m_red);
	printf("latency  redis adds %.1f us a decision at the median "
	    "(target: under 200 us)\n", m_red - m_mem);
	store_free(mem);
	store_free(red);
	return m_red;
}

/* A store that takes one at a time (no take_seq): the rules of a stage
 * one round trip each, as before batch.h. */
struct one_by_one {
	struct store base;
	struct store *inner;
};

static enum store_result
obo_take(struct store *s, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	return store_take(((struct one_by_one *)s)->inner, req, now_ms, res);
}

static enum store_result
obo_give(struct store *s, const struct store_req *req, uint64_t now_ms)
{
	return store_give(((struct one_by_one *)s)->inner, req, now_ms);
}

static enum store_result
obo_reset(struct store *s, const void *id, size_t idlen)
{
	return store_reset(((struct one_by_one *)s)->inner, id, idlen);
}

static enum store_result
obo_save(struct store *s, const char *path, uint64_t now_ms, int64_t wall_ms,
    char *err, size_t errsz)
{
	return store_save(((struct one_by_one *)s)->inner, path, now_ms,
	    wall_ms, err, errsz);
}

static size_t
obo_count(struct store *s)
{
	return store_count(((struct one_by_one *)s)->inner);
}

static void
obo_free(struct store *s)
{
	(void)s;	/* on the caller's stack; inner is the caller's */
}

static const struct store_ops obo_ops = {
	.take = obo_take, .give = obo_give, .reset = obo_reset,
	.save = obo_save, .count = obo_count, .free = obo_free,
};

/* Three limit rules a stage on Redis: one round trip, against one a rule. */
static void
bench_redis_stage(int port, int n)
{
	struct store_redis_opts o = { .host = "127.0.0.1", .port = port,
	    .prefix = "bench3:", .timeout_ms = 1000 };
	struct policy *p = policy_from_text(three_policy);
	struct store *red = store_redis_new(&o);
	struct one_by_one obo = { { &obo_ops }, red };
	double m_one, m_seq;

	latency(p, &obo.base, "3 one by one", n, &m_one);
	latency(p, red, "3 in one trip", n, &m_seq);
	printf("latency  three limit rules on redis: %.1f us a stage in one "
	    "round trip, %.1f us one by one (%.2fx)\n", m_seq, m_one,
	    m_seq > 0 ? m_one / m_seq : 0);
	store_free(red);
	pol_unref(p);
}

int
main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "-q") == 0;
	unsigned long n = quick ? 20000 : 2000000;
	struct policy *p = policy_from_text(rate_policy), *q;
	const char *redis_port = getenv("BENCH_REDIS_PORT");
	const char *cluster_seed = getenv("BENCH_CLUSTER_SEED");
	double m_red = 0;

	bench_decisions(p, 1, 1, n);
	bench_decisions(p, 1, 2, n / 2);
	bench_decisions(p, 10000, 1, n);
	bench_decisions(p, 10000, 2, n / 2);
	bench_decisions(p, quick ? 20000 : 1000000, 1, n);
	bench_decisions(p, quick ? 20000 : 1000000, 2, n / 2);
	q = overrides_policy();
	printf("with the overrides table:\n");
	bench_decisions(q, quick ? 20000 : 1000000, 1, n);
	pol_unref(q);
	q = policy_from_text(quota_policy);
	printf("as a calendar quota:\n");
	bench_decisions(q, quick ? 20000 : 1000000, 1, n);
	bench_decisions(q, quick ? 20000 : 1000000, 2, n / 2);
	pol_unref(q);
	bench_fingerprint(quick ? 4 : 64);
	bench_regex();
	if (redis_port != NULL)
		m_red = bench_redis(p, atoi(redis_port), quick ? 500 : 20000);
	if (redis_port != NULL)
		bench_redis_stage(atoi(redis_port), quick ? 500 : 20000);
	if (redis_port != NULL && cluster_seed != NULL)
		bench_cluster(p, atoi(cluster_seed), quick ? 500 : 20000, m_red);
	pol_unref(p);
	return 0;
}
