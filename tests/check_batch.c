/*
 * check_batch: a stage's limit rules in one round trip (issue 15), on a
 * real redis-server (check_redis_server.h).  The Redis store's
 * store_take_seq answers what the same takes one by one answer on the
 * memory store, ends at the first refusal that stops and charges nothing
 * after it; the engine on Redis decides what it decides on the memory
 * store, with one script call a stage where it used to make one a rule
 * (counted by the server's INFO commandstats).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_redis_server.h"
#include "check_util.h"
#include "store.h"

typedef unsigned long long ull;

#define T0	1000000		/* the memory store's clock, ms */
#define HOUR	3600000
#define NREQ	4

/* One request of a sequence: a counter with `burst` a hour, `used`
 * units taken before the sequence. */
struct seq_req {
	enum store_kind kind;
	uint64_t burst;
	int used;
	enum store_charge charge;
	int stop;
};

struct seq_case {
	const char *name;
	int n;
	struct seq_req r[NREQ];
	size_t answered;		/* what store_take_seq returns */
	uint64_t after[NREQ];		/* each counter's count after it */
};

#define G(b, u, s)	{ STORE_GCRA, b, u, STORE_CHARGE_ALLOWED, s }
#define W(b, u, s)	{ STORE_WINDOW, b, u, STORE_CHARGE_ALLOWED, s }
#define GA(b, u, s)	{ STORE_GCRA, b, u, STORE_CHARGE_ALWAYS, s }

static const struct seq_case seq_cases[] = {
	{ "all under", 3, { G(5, 0, 1), G(5, 2, 1), G(5, 4, 1) }, 3,
	  { 1, 3, 5 } },
	{ "the second refuses and stops: the third not charged", 3,
	  { G(5, 0, 1), G(2, 2, 1), G(5, 1, 1) }, 2, { 1, 2, 1 } },
	{ "the second refuses, a rule that only counts: the third charged", 3,
	  { G(5, 0, 1), G(2, 2, 0), G(5, 1, 1) }, 3, { 1, 2, 2 } },
	{ "the first refuses and stops", 3,
	  { G(1, 1, 1), G(5, 0, 1), G(5, 0, 1) }, 1, { 1, 0, 0 } },
	{ "a quota's window in the middle refuses", 3,
	  { G(5, 0, 1), W(2, 2, 1), G(5, 0, 1) }, 2, { 1, 2, 0 } },
	{ "a quota's window passes", 2, { W(3, 1, 1), G(4, 3, 1) }, 2,
	  { 2, 4 } },
	{ "charge attempts: refused, charged, stops", 2,
	  { GA(2, 2, 1), G(5, 0, 1) }, 1, { 3, 0 } },
	{ "the last refuses and stops", 2, { G(5, 0, 1), G(1, 1, 1) }, 2,
	  { 1, 1 } },
};

static char ids[NREQ][32];

static struct store_req
req_of(const struct seq_case *c, int i)
{
	const struct seq_req *r = &c->r[i];
	struct store_req q = { .id = ids[i], .kind = r->kind,
	    .window_ms = HOUR, .rate = r->burst, .burst = r->burst,
	    .units = 1, .charge = r->charge, .stop = r->stop };

	snprintf(ids[i], sizeof ids[i], "seq%d-%d", (int)(c - seq_cases), i);
	q.idlen = strlen(ids[i]);
	if (r->kind == STORE_WINDOW)
		q.rate = 0;
	return q;
}

static uint64_t
look(struct store *s, struct store_req q)
{
	struct store_res res;

	q.charge = STORE_CHARGE_NONE;
	ck_assert(store_take(s, &q, T0, &res) == STORE_OK);
	return res.count;
}

/* The case on store s: its counters used first, then the sequence. */
static size_t
seq_run(struct store *s, const struct seq_case *c, struct store_res *res,
    uint64_t *after)
{
	struct store_req q[NREQ];
	struct store_res one;
	enum store_result rc;
	size_t k;
	int i, u;

	for (i = 0; i < c->n; i++) {
		q[i] = req_of(c, i);
		for (u = 0; u < c->r[i].used; u++) {
			struct store_req pre = q[i];

			pre.charge = STORE_CHARGE_ALLOWED;
			ck_assert(store_take(s, &pre, T0, &one) == STORE_OK &&
			    one.allowed);
		}
	}
	k = store_take_seq(s, q, (size_t)c->n, T0, res, &rc);
	ck_assert_msg(rc == STORE_OK, "%s: the sequence failed", c->name);
	for (i = 0; i < c->n; i++)
		after[i] = look(s, q[i]);
	return k;
}

static struct store *
redis_store(const char *prefix)
{
	struct store_redis_opts o = { .host = "127.0.0.1", .port = redis_port,
	    .prefix = (char *)prefix, .timeout_ms = 2000 };

	return store_redis_new(&o);
}

START_TEST(test_seq)
{
	const struct seq_case *c = &seq_cases[_i];
	struct store *mem = store_memory_new(1000), *red = redis_store("seq:");
	struct store_res rm[NREQ], rr[NREQ];
	uint64_t am[NREQ], ar[NREQ];
	size_t km = seq_run(mem, c, rm, am), kr = seq_run(red, c, rr, ar), i;

	ck_assert_msg(store_has_seq(red) && !store_has_seq(mem),
	    "Redis batches, memory takes one by one");
	ck_assert_msg(kr == c->answered && km == c->answered,
	    "%s: answered %zu on Redis, %zu in memory, want %zu", c->name, kr,
	    km, c->answered);
	for (i = 0; i < kr; i++)
		ck_assert_msg(rr[i].allowed == rm[i].allowed &&
		    rr[i].count == rm[i].count &&
		    rr[i].first_over == rm[i].first_over,
		    "%s: answer %zu: Redis allowed %d count %llu first %d, "
		    "memory %d %llu %d", c->name, i, rr[i].allowed,
		    (ull)rr[i].count, rr[i].first_over, rm[i].allowed,
		    (ull)rm[i].count, rm[i].first_over);
	for (i = 0; i < (size_t)c->n; i++)
		ck_assert_msg(ar[i] == c->after[i] && am[i] == c->after[i],
		    "%s: counter %zu after: Redis %llu, memory %llu, want %llu",
		    c->name, i, (ull)ar[i], (ull)am[i], (ull)c->after[i]);
	store_free(mem);
	store_free(red);
}
END_TEST

/* ---- the engine: one script call a stage ---- */

static const char three_limits[] =
    "rules = (\n"
    "  { name = \"per-client\";\n"
    "    limit = { count = \"messages\"; per = \"client_addr\"; rate = \"3/1h\"; }; },\n"
    "  { name = \"per-net\";\n"
    "    limit = { count = \"messages\"; per = \"client_net\"; rate = \"5/1h\"; }; },\n"
    "  { name = \"per-sender\";\n"
    "    limit = { count = \"messages\"; per = \"sender\"; rate = \"4/1h\"; }; }\n"
    ");\n";

/* The server's count of EVALSHA calls so far. */
static long
evalsha_calls(void)
{
	redisContext *c = redis_connect();
	redisReply *r = c != NULL ? redisCommand(c, "INFO commandstats") : NULL;
	const char *p;
	long n = 0;

	ck_assert(r != NULL && r->type == REDIS_REPLY_STRING);
	if ((p = strstr(r->str, "cmdstat_evalsha:calls=")) != NULL)
		n = strtol(p + strlen("cmdstat_evalsha:calls="), NULL, 10);
	freeReplyObject(r);
	redisFree(c);
	return n;
}

#define NMSG 6

/* NMSG messages from one client and sender, one connection each: the
 * verdict of each and the counters' counts after. */
static void
messages(struct policy *p, struct store *st, struct pol_verdict *v)
{
	struct pol_env env = { .client_addr = "192.0.2.1", .helo = "h.example",
	    .sender = "a@b.example" };
	int i;

	for (i = 0; i < NMSG; i++) {
		struct pol_conn *c = pol_conn_new(p, st);

		pol_eval(c, POL_CONNECT, &env, T0, &v[i]);
		pol_eval(c, POL_MAIL, &env, T0, &v[i]);
		pol_msg_end(c, v[i].action == POL_CONTINUE, T0);
		pol_conn_free(c);
	}
}

static const char *
name_of(const struct pol_verdict *v)
{
	return v->rule != NULL ? v->rule : "";
}

START_TEST(test_engine_one_call_a_stage)
{
	struct policy *p = load_text(three_limits);
	struct store *mem = store_memory_new(1000), *red = redis_store("eng:");
	struct pol_verdict vm[NMSG], vr[NMSG];
	long before = evalsha_calls(), calls;
	int i;

	messages(p, mem, vm);
	messages(p, red, vr);
	calls = evalsha_calls() - before;
	for (i = 0; i < NMSG; i++) {
		ck_assert_msg(vr[i].action == vm[i].action &&
		    strcmp(name_of(&vr[i]), name_of(&vm[i])) == 0 &&
		    vr[i].vars.count == vm[i].vars.count,
		    "message %d: Redis %s by \"%s\" count %lu, memory %s by "
		    "\"%s\" count %lu", i + 1, pol_action_name(vr[i].action),
		    name_of(&vr[i]), vr[i].vars.count,
		    pol_action_name(vm[i].action), name_of(&vm[i]),
		    vm[i].vars.count);
		ck_assert_msg((i < 3) == (vr[i].action == POL_CONTINUE),
		    "message %d: %s, want %s", i + 1,
		    pol_action_name(vr[i].action), i < 3 ? "continue" :
		    "a refusal by per-client");
	}
	/* 3 rules a message for 3 messages, then 1 for each refused one,
	 * would be 12 calls one by one */
	ck_assert_msg(calls == NMSG, "%ld EVALSHA calls for %d messages, want "
	    "one a message", calls, NMSG);
	store_free(mem);
	store_free(red);
	pol_unref(p);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("redis");

	tcase_add_unchecked_fixture(tc, redis_start, redis_stop);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_seq, 0, NELEM(seq_cases));
	tcase_add_test(tc, test_engine_one_call_a_stage);
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}
