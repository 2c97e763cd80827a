/*
 * check_try: what `milter-policy try` promises, without an MTA: a
 * transaction charged to a scratch copy of the counters (store_scratch_new)
 * gets, stage by stage, the verdicts and numbers the same transaction gets
 * from a real store in the same state, and the real counters never change.
 *
 * Each case primes two memory stores alike (the "before" transactions),
 * then runs the last transaction against one directly and against a
 * scratch view of the other.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "policy.h"
#include "replies.h"
#include "store.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define STEPS_MAX	16

struct txn {
	const char *client, *sender, *body;
	const char *rcpt[6];
};

struct step {
	enum pol_stage stage;
	enum pol_action action;
	int code;
	unsigned long count, retry;
};

struct try_case {
	const char *name, *policy;
	int before;		/* times the transaction runs first */
	struct txn t;
	int refused_at;		/* step index of the first refusal, -1 none */
	unsigned long count;	/* its %{count} */
};

static const struct try_case cases[] = {
	{ "recipients within one transaction",
	  "rules = ({ name = \"rcpts\"; limit = { count = \"recipients\"; "
	  "per = \"client_addr\"; rate = \"3/1h\"; }; });\n", 0,
	  { "192.0.2.1", "a@b.test", NULL, { "a@x.test", "b@x.test",
	  "c@x.test", "d@x.test", "e@x.test" } }, 5, 3 },
	{ "recipients, counters used before",
	  "rules = ({ name = \"rcpts\"; limit = { count = \"recipients\"; "
	  "per = \"client_addr\"; rate = \"3/1h\"; }; });\n", 1,
	  { "192.0.2.1", "a@b.test", NULL, { "a@x.test", "b@x.test" } }, 3, 3 },
	{ "recipients of 7/1h, burst 2, per sender and client",
	  "rules = ({ name = \"rcpts\"; limit = { count = \"recipients\"; "
	  "per = [ \"sender\", \"client_addr\" ]; rate = \"7/1h\"; burst = 2; }; });\n", 0,
	  { "2001:db8::1", "", NULL, { "a@x.test", "b@x.test",
	  "c@x.test", "d@x.test", "e@x.test" } }, 4, 2 },
	{ "messages, third over 2/1h",
	  "rules = ({ name = \"msgs\"; limit = { count = \"messages\"; "
	  "per = \"sender\"; rate = \"2/1h\"; }; });\n", 2,
	  { "192.0.2.1", "", NULL, { "a@x.test" } }, 1, 2 },
	{ "duplicates max 2, third copy",
	  "rules = ({ name = \"dup\"; duplicates = { of = \"body\"; max = 2; "
	  "window = \"10m\"; }; reply = \"557 5.7.1 seen %{count} before\"; });\n",
	  2, { "192.0.2.1", "a@b.test", "hello\r\n", { "a@x.test" } }, 3, 2 },
	{ "duplicates max 1, second copy",
	  "rules = ({ name = \"dup\"; duplicates = { of = \"body\"; max = 1; "
	  "window = \"10m\"; }; });\n",
	  1, { "192.0.2.1", "a@b.test", "hello\r\n", { "a@x.test" } }, 3, 1 },
	{ "duplicates, first copy passes",
	  "rules = ({ name = \"dup\"; duplicates = { of = \"body\"; max = 1; "
	  "window = \"10m\"; }; });\n",
	  0, { "192.0.2.1", "a@b.test", "hello\r\n", { "a@x.test" } }, -1, 0 },
};

static int
add_step(struct step *s, int n, enum pol_stage stage,
    const struct pol_verdict *v)
{
	if (n == STEPS_MAX)
		return n;
	s[n].stage = stage;
	s[n].action = v->action;
	s[n].code = v->reply ? v->reply->code : 0;
	s[n].count = v->action == POL_CONTINUE ? 0 : v->vars.count;
	s[n].retry = v->action == POL_CONTINUE ? 0 : v->vars.retry_after_s;
	return n + 1;
}

/* One transaction as the milter drives it; its steps into s. */
static int
run_txn(struct policy *p, struct store *st, const struct txn *t,
    struct step *s)
{
	struct pol_env env = { .client_addr = t->client, .sender = t->sender };
	struct pol_conn *c = pol_conn_new(p, st);
	struct pol_verdict v;
	int i, n = 0, ok = 0;

	pol_eval(c, POL_CONNECT, &env, 0, &v);
	n = add_step(s, n, POL_CONNECT, &v);
	pol_eval(c, POL_MAIL, &env, 0, &v);
	n = add_step(s, n, POL_MAIL, &v);
	for (i = 0; i < 6 && t->rcpt[i] != NULL; i++) {
		env.rcpt = t->rcpt[i];
		pol_eval(c, POL_RCPT, &env, 0, &v);
		n = add_step(s, n, POL_RCPT, &v);
		ok |= v.action == POL_CONTINUE;
	}
	env.rcpt = NULL;
	if (t->body != NULL) {
		env.body = t->body;
		env.body_len = strlen(t->body);
		pol_eval(c, POL_BODY, &env, 0, &v);
		env.body = NULL;
	}
	pol_eval(c, POL_EOM, &env, 0, &v);
	n = add_step(s, n, POL_EOM, &v);
	pol_msg_end(c, ok && v.action == POL_CONTINUE, 0);
	pol_conn_free(c);
	return n;
}

START_TEST(test_scratch_agrees)
{
	const struct try_case *tc = &cases[_i];
	struct policy *p = load_text(tc->policy);
	struct store *real = store_memory_new(1000), *twin = store_memory_new(1000);
	struct store *scratch = store_scratch_new(twin);
	struct step want[STEPS_MAX], got[STEPS_MAX];
	int i, nw, ng, first = -1;
	size_t keys;

	for (i = 0; i < tc->before; i++) {
		run_txn(p, real, &tc->t, want);
		run_txn(p, twin, &tc->t, want);
	}
	keys = store_count(twin);
	nw = run_txn(p, real, &tc->t, want);
	ng = run_txn(p, scratch, &tc->t, got);
	ck_assert_msg(ng == nw, "%s: got %d steps, want %d", tc->name, ng, nw);
	for (i = 0; i < nw; i++) {
		ck_assert_msg(got[i].action == want[i].action &&
		    got[i].code == want[i].code && got[i].count == want[i].count &&
		    got[i].retry == want[i].retry,
		    "%s: step %d (%s): got %s %d count %lu retry %lu, want %s %d "
		    "count %lu retry %lu", tc->name, i,
		    pol_stage_name(want[i].stage), pol_action_name(got[i].action),
		    got[i].code, got[i].count, got[i].retry,
		    pol_action_name(want[i].action), want[i].code, want[i].count,
		    want[i].retry);
		if (first < 0 && want[i].action != POL_CONTINUE)
			first = i;
	}
	ck_assert_msg(first == tc->refused_at, "%s: first refusal at step %d, "
	    "want %d", tc->name, first, tc->refused_at);
	if (first >= 0)
		ck_assert_msg(want[first].count == tc->count, "%s: count %lu, "
		    "want %lu", tc->name, want[first].count, tc->count);
	ck_assert_msg(store_count(twin) == keys, "%s: the real store changed: "
	    "%zu counters, had %zu", tc->name, store_count(twin), keys);
	store_free(scratch);
	store_free(twin);
	store_free(real);
	pol_unref(p);
}
END_TEST

/* The real counters stay as they were, whatever the view was charged. */
START_TEST(test_scratch_never_writes)
{
	struct store *real = store_memory_new(100), *s = store_scratch_new(real);
	struct store_req req = { "k", 1, STORE_GCRA, 3600000, 3, 3, 1,
	    STORE_CHARGE_ALLOWED, 0 };
	struct store_res res;
	int i;

	for (i = 0; i < 4; i++) {
		ck_assert(store_take(s, &req, 0, &res) == STORE_OK);
		ck_assert_msg(res.allowed == (i < 3), "take %d: allowed %d", i,
		    res.allowed);
	}
	ck_assert_uint_eq(res.count, 3);
	ck_assert_uint_eq(store_count(real), 0);
	req.charge = STORE_CHARGE_NONE;
	ck_assert(store_take(real, &req, 0, &res) == STORE_OK && res.allowed &&
	    res.count == 0);
	store_give(s, &req, 0);
	req.charge = STORE_CHARGE_ALLOWED;
	ck_assert(store_take(s, &req, 0, &res) == STORE_OK && res.allowed);
	store_reset(s, "k", 1);
	ck_assert(store_take(s, &req, 0, &res) == STORE_OK && res.allowed &&
	    res.count == 1);
	store_free(s);
	store_free(real);
}
END_TEST

static Suite *
try_suite(void)
{
	Suite *s = suite_create("try");
	TCase *tc = tcase_create("scratch");

	tcase_add_loop_test(tc, test_scratch_agrees, 0, NELEM(cases));
	tcase_add_test(tc, test_scratch_never_writes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(try_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
