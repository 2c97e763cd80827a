/*
 * check_greylist.c: greylisting rules on the memory store, time as an
 * argument: the first attempt of a triplet is deferred with the delay, a
 * retry too early again with the rest, a retry after it passes and so
 * does the triplet after; a missed retry window starts over; after
 * auto_whitelist passed triplets the client's network passes at once;
 * unless exempts; the counters are found again by ctl's names.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "policy.h"
#include "replies.h"
#include "store.h"

#define POLICY \
	"state = { file = \"\"; };\n" \
	"rules = (\n" \
	"  { name = \"grey\"; unless = { authenticated = true; };\n" \
	"    greylist = { delay = \"1m\"; retry_window = \"10m\"; pass_for = \"1h\";\n" \
	"                 auto_whitelist = 2; }; }\n" \
	");\n"

/* One session, one recipient, at t seconds; the rcpt verdict. */
static void
attempt(struct policy *p, struct store *st, unsigned t, const char *client,
    const char *sender, const char *rcpt, const char *auth,
    struct pol_verdict *v)
{
	struct pol_env env = { .client_addr = client, .sender = sender,
	    .rcpt = rcpt, .auth_user = auth };
	struct pol_conn *c = pol_conn_new(p, st);

	pol_eval(c, POL_CONNECT, &env, (uint64_t)t * 1000, v);
	pol_eval(c, POL_MAIL, &env, (uint64_t)t * 1000, v);
	pol_eval(c, POL_RCPT, &env, (uint64_t)t * 1000, v);
	pol_conn_free(c);
}

START_TEST(test_sequence)
{
	static const struct {
		const char *name;
		unsigned t;
		const char *client, *sender, *rcpt, *auth;
		enum pol_action want;
		const char *why;
		unsigned long retry;
	} steps[] = {
		{ "first attempt", 0, "192.0.2.7", "a@x.example", "r@y.example", NULL,
		  POL_TEMPFAIL, "new", 60 },
		{ "too early", 30, "192.0.2.7", "a@x.example", "r@y.example", NULL,
		  POL_TEMPFAIL, "early", 30 },
		{ "after the delay", 61, "192.0.2.7", "a@x.example", "r@y.example", NULL,
		  POL_CONTINUE, NULL, 0 },
		{ "passed: at once", 62, "192.0.2.7", "a@x.example", "r@y.example", NULL,
		  POL_CONTINUE, NULL, 0 },
		{ "same net, same pair", 63, "192.0.2.8", "a@x.example", "r@y.example", NULL,
		  POL_CONTINUE, NULL, 0 },
		{ "another recipient", 63, "192.0.2.7", "a@x.example", "s@y.example", NULL,
		  POL_TEMPFAIL, "new", 60 },
		{ "authenticated: exempt", 64, "198.51.100.1", "b@x.example", "r@y.example",
		  "alice", POL_CONTINUE, NULL, 0 },
		{ "missed window: seen", 100, "203.0.113.1", "c@x.example", "r@y.example",
		  NULL, POL_TEMPFAIL, "new", 60 },
		{ "missed window: starts over", 100 + 60 + 600 + 1, "203.0.113.1",
		  "c@x.example", "r@y.example", NULL, POL_TEMPFAIL, "new", 60 },
		{ "second triplet passes: awl", 124, "192.0.2.7", "a@x.example",
		  "s@y.example", NULL, POL_CONTINUE, NULL, 0 },
		{ "whitelisted client", 125, "192.0.2.99", "new@z.example",
		  "t@y.example", NULL, POL_CONTINUE, NULL, 0 },
		{ "passed expires", 62 + 3600 + 1, "192.0.2.7", "a@x.example",
		  "u@y.example", NULL, POL_TEMPFAIL, "new", 60 },
	};
	struct policy *p = load_text(POLICY);
	struct store *st = store_memory_new(1000);
	size_t i;

	for (i = 0; i < NELEM(steps); i++) {
		struct pol_verdict v;

		attempt(p, st, steps[i].t, steps[i].client, steps[i].sender,
		    steps[i].rcpt, steps[i].auth, &v);
		ck_assert_msg(v.action == steps[i].want, "%s: got %s, want %s",
		    steps[i].name, pol_action_name(v.action),
		    pol_action_name(steps[i].want));
		if (steps[i].why == NULL)
			continue;
		ck_assert_msg(v.greylist && strcmp(v.greylist, steps[i].why) == 0,
		    "%s: got %s, want %s", steps[i].name,
		    v.greylist ? v.greylist : "NULL", steps[i].why);
		ck_assert_msg(v.vars.retry_after_s == steps[i].retry,
		    "%s: retry after %lu, want %lu", steps[i].name,
		    v.vars.retry_after_s, steps[i].retry);
		ck_assert_int_eq(v.reply->code, 451);
		ck_assert_str_eq(v.reply->xcode, "4.7.1");
	}
	pol_unref(p);
	store_free(st);
}
END_TEST

/* ctl's names: a triplet's counters and a client's, a reset forgets. */
START_TEST(test_counters)
{
	struct policy *p = load_text(POLICY);
	struct store *st = store_memory_new(1000);
	unsigned char id[POL_ID_MAX];
	struct store_req look;
	struct store_res res;
	struct pol_verdict v;
	size_t idlen;

	attempt(p, st, 0, "192.0.2.7", "a@x.example", "r@y.example", NULL, &v);
	ck_assert_int_eq(pol_grey_counter(p, "grey", "grey-wait",
	    "192.0.2.0/24,a@x.example,r@y.example", id, &idlen, &look), 0);
	ck_assert_int_eq(store_take(st, &look, 10000, &res), STORE_OK);
	ck_assert_msg(!res.allowed && res.retry_after_ms == 50000,
	    "waiting: allowed %d retry %llu", res.allowed,
	    (unsigned long long)res.retry_after_ms);
	ck_assert_int_eq(pol_grey_counter(p, "grey", "grey-seen",
	    "192.0.2.0/24,a@x.example,r@y.example", id, &idlen, &look), 0);
	ck_assert_int_eq(store_reset(st, id, idlen), STORE_OK);
	ck_assert_int_eq(pol_grey_counter(p, "grey", "grey-wait",
	    "192.0.2.0/24,a@x.example,r@y.example", id, &idlen, &look), 0);
	ck_assert_int_eq(store_reset(st, id, idlen), STORE_OK);
	attempt(p, st, 20, "192.0.2.7", "a@x.example", "r@y.example", NULL, &v);
	ck_assert_str_eq(v.greylist, "new");	/* forgotten: new again */
	ck_assert_int_eq(pol_grey_counter(p, "grey", "grey-awl",
	    "192.0.2.0/24", id, &idlen, &look), 0);
	ck_assert_int_eq(pol_grey_counter(p, "grey", "grey-awl",
	    "192.0.2.0/24,extra", id, &idlen, &look), -1);
	ck_assert_int_eq(pol_grey_counter(p, "nosuch", "grey-seen",
	    "192.0.2.0/24,a@x.example,r@y.example", id, &idlen, &look), -1);
	pol_unref(p);
	store_free(st);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = { test_sequence, test_counters };

	return check_run("greylist", "core", tests, NELEM(tests));
}
