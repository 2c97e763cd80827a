/*
 * check_ratelimit: limit rules through the engine and the memory store,
 * with a driven clock (milliseconds as small integers).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "policy.h"
#include "replies.h"
#include "store.h"

/* One engine, one store, one clock. */
struct rig {
	struct policy *p;
	struct store *st;
};

static void
rig_open(struct rig *r, const char *policy)
{
	r->p = load_text(policy);
	r->st = store_memory_new(100000);
}

static void
rig_close(struct rig *r)
{
	pol_unref(r->p);
	store_free(r->st);
}

/* MAIL FROM from a client at time now: the verdict at MAIL. */
static enum pol_action
mail_from(struct rig *r, const char *client, const char *sender, uint64_t now,
    struct pol_verdict *v)
{
	struct pol_env env = { .client_addr = client, .sender = sender };
	struct pol_conn *c = pol_conn_new(r->p, r->st);

	pol_eval(c, POL_MAIL, &env, now, v);
	if (v->action == POL_CONTINUE)
		pol_msg_end(c, 1, now);
	pol_conn_free(c);
	return v->action;
}

static const char per_client[] =
    "rules = ( { name = \"client-msgs\";\n"
    "  limit = { count = \"messages\"; per = [ \"client_addr\" ]; rate = \"100/1h\"; }; } );\n";

START_TEST(test_gcra_exact)
{
	struct rig r;
	struct pol_verdict v;
	int i;

	rig_open(&r, per_client);
	for (i = 0; i < 100; i++)
		ck_assert_msg(mail_from(&r, "192.0.2.1", "a@b.example", 1000, &v) ==
		    POL_CONTINUE, "message %d: got %s, want continue", i + 1,
		    pol_action_name(v.action));
	ck_assert_int_eq(mail_from(&r, "192.0.2.1", "a@b.example", 1000, &v),
	    POL_TEMPFAIL);
	ck_assert_int_eq(v.reply->code, 453);
	ck_assert_str_eq(v.reply->xcode, "4.7.0");
	ck_assert_str_eq(v.rule, "client-msgs");
	ck_assert_uint_eq(v.vars.retry_after_s, 36);
	ck_assert_uint_eq(v.vars.limit, 100);
	ck_assert_uint_eq(v.vars.window_s, 3600);
	ck_assert_int_eq(v.over_first, 1);
	ck_assert_str_eq(v.key, "192.0.2.1");
	/* refused again: noticed once only */
	ck_assert_int_eq(mail_from(&r, "192.0.2.1", "a@b.example", 2000, &v),
	    POL_TEMPFAIL);
	ck_assert_int_eq(v.over_first, 0);
	ck_assert_uint_eq(v.vars.retry_after_s, 35);
	/* another client is not affected */
	ck_assert_int_eq(mail_from(&r, "192.0.2.2", "a@b.example", 2000, &v),
	    POL_CONTINUE);
	/* 36 s after the bucket ran dry, exactly one more */
	ck_assert_int_eq(mail_from(&r, "192.0.2.1", "a@b.example", 37000, &v),
	    POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "192.0.2.1", "a@b.example", 37000, &v),
	    POL_TEMPFAIL);
	rig_close(&r);
}
END_TEST

START_TEST(test_burst)
{
	struct rig r;
	struct pol_verdict v;
	int i;

	rig_open(&r, "rules = ( { name = \"b\"; limit = { count = \"messages\"; "
	    "per = \"client_addr\"; rate = \"100/1h\"; burst = 10; }; } );");
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(mail_from(&r, "192.0.2.1", "a@b.example", 0, &v),
		    POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "192.0.2.1", "a@b.example", 0, &v),
	    POL_TEMPFAIL);
	ck_assert_uint_eq(v.vars.retry_after_s, 36);
	rig_close(&r);
}
END_TEST

/* charge: accepted (refusals free), attempts (refusals count), none. */
struct charge_case {
	const char *name, *charge;
	enum pol_action at_60s;
};

static const struct charge_case charge_cases[] = {
	{ "accepted", "accepted", POL_CONTINUE },
	{ "attempts", "attempts", POL_TEMPFAIL },
};

START_TEST(test_charge_modes)
{
	char policy[512];
	size_t i;

	for (i = 0; i < NELEM(charge_cases); i++) {
		const struct charge_case *c = &charge_cases[i];
		struct pol_verdict v;
		struct rig r;

		snprintf(policy, sizeof policy, "rules = ( { name = \"one\"; "
		    "charge = \"%s\"; limit = { count = \"messages\"; per = "
		    "\"client_addr\"; rate = \"1/1m\"; }; } );", c->charge);
		rig_open(&r, policy);
		ck_assert_int_eq(mail_from(&r, "192.0.2.9", "a@b.test", 0, &v), POL_CONTINUE);
		ck_assert_int_eq(mail_from(&r, "192.0.2.9", "a@b.test", 1, &v), POL_TEMPFAIL);
		mail_from(&r, "192.0.2.9", "a@b.test", 60000, &v);
		ck_assert_msg(v.action == c->at_60s, "%s: got %s at 60 s, want %s",
		    c->name, pol_action_name(v.action), pol_action_name(c->at_60s));
		rig_close(&r);
	}
}
END_TEST

START_TEST(test_charge_none)
{
	struct rig r;
	struct pol_verdict v;
	int i;

	rig_open(&r, "rules = ( { name = \"look\"; charge = \"none\"; limit = { "
	    "count = \"messages\"; per = \"client_addr\"; rate = \"1/1m\"; }; } );");
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(mail_from(&r, "192.0.2.9", "a@b.test", 0, &v),
		    POL_CONTINUE);
	ck_assert_uint_eq(store_count(r.st), 0);
	rig_close(&r);
}
END_TEST

/* counter = "RULE": a look at connect sees what the MAIL rule charged. */
static const char early_policy[] =
    "rules = (\n"
    " { name = \"msgs\"; limit = { count = \"messages\"; per = \"client_addr\"; rate = \"2/1m\"; }; },\n"
    " { name = \"msgs-early\"; stage = \"connect\"; charge = \"none\";\n"
    "   limit = { counter = \"msgs\"; }; }\n"
    ");\n";

static enum pol_action
connect_from(struct rig *r, const char *client, uint64_t now,
    struct pol_verdict *v)
{
	struct pol_env env = { .client_addr = client };
	struct pol_conn *c = pol_conn_new(r->p, r->st);

	pol_eval(c, POL_CONNECT, &env, now, v);
	pol_conn_free(c);
	return v->action;
}

START_TEST(test_counter_shared)
{
	struct rig r;
	struct pol_verdict v;

	rig_open(&r, early_policy);
	ck_assert_int_eq(connect_from(&r, "192.0.2.4", 0, &v), POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "192.0.2.4", "a@b.test", 0, &v), POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "192.0.2.4", "a@b.test", 0, &v), POL_CONTINUE);
	/* the look charged nothing: one counter, spent by the two messages */
	ck_assert_uint_eq(store_count(r.st), 1);
	ck_assert_int_eq(connect_from(&r, "192.0.2.4", 1000, &v), POL_TEMPFAIL);
	ck_assert_str_eq(v.rule, "msgs-early");
	ck_assert_int_eq(v.reply->code, 453);
	ck_assert_uint_eq(v.vars.limit, 2);
	ck_assert_uint_eq(v.vars.retry_after_s, 29);
	ck_assert_int_eq(connect_from(&r, "192.0.2.5", 1000, &v), POL_CONTINUE);
	ck_assert_int_eq(connect_from(&r, "192.0.2.4", 30000, &v), POL_CONTINUE);
	rig_close(&r);
}
END_TEST

/* A replies = { } entry named like a built-in replaces it as the default. */
START_TEST(test_default_reply_overridden)
{
	struct rig r;
	struct pol_verdict v;

	rig_open(&r, "replies = { too_many_messages = \"451 4.7.1 Slow down, %{client_addr}\"; };\n"
	    "rules = ( { name = \"m\"; limit = { count = \"messages\"; "
	    "per = \"client_addr\"; rate = \"1/1h\"; }; } );");
	ck_assert_int_eq(mail_from(&r, "192.0.2.1", "a@b.test", 0, &v), POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "192.0.2.1", "a@b.test", 0, &v), POL_TEMPFAIL);
	ck_assert_int_eq(v.reply->code, 451);
	ck_assert_str_eq(v.reply->xcode, "4.7.1");
	rig_close(&r);
}
END_TEST

/* A message refused later (at eom) or aborted gives its units back. */
static const char give_back_policy[] =
    "rules = (\n"
    " { name = \"msgs\"; limit = { count = \"messages\"; per = \"client_addr\"; rate = \"1/1h\"; }; },\n"
    " { name = \"rcpts\"; limit = { count = \"recipients\"; per = \"sender\"; rate = \"2/1h\"; }; },\n"
    " { name = \"no-bob\"; when = { rcpt = \"bob@example.com\"; }; action = \"reject\"; },\n"
    " { name = \"big\"; when = { size = \">1000\"; }; stage = \"eom\"; reply = \"552 5.3.4 too big\"; }\n"
    ");\n";

static enum pol_action
message(struct rig *r, const char *const *rcpts, unsigned long size,
    int abort_it, uint64_t now)
{
	struct pol_env env = { .client_addr = "192.0.2.5", .sender = "s@x.test" };
	struct pol_conn *c = pol_conn_new(r->p, r->st);
	struct pol_verdict v;

	pol_eval(c, POL_MAIL, &env, now, &v);
	for (; v.action == POL_CONTINUE && *rcpts != NULL; rcpts++) {
		env.rcpt = *rcpts;
		pol_eval(c, POL_RCPT, &env, now, &v);
		if (v.action == POL_REJECT && strcmp(v.rule, "no-bob") == 0)
			v.action = POL_CONTINUE;	/* one recipient refused */
	}
	env.rcpt = NULL;
	env.size = size;
	if (v.action == POL_CONTINUE && !abort_it)
		pol_eval(c, POL_EOM, &env, now, &v);
	pol_msg_end(c, v.action == POL_CONTINUE && !abort_it, now);
	pol_conn_free(c);
	return v.action;
}

START_TEST(test_give_back)
{
	static const char *const one[] = { "a@example.com", NULL };
	static const char *const with_bob[] = { "bob@example.com", "a@example.com", "b@example.com", NULL };
	static const char *const three[] = { "a@example.com", "b@example.com", "c@example.com", NULL };
	struct rig r;

	rig_open(&r, give_back_policy);
	/* refused at eom: the MAIL unit and the RCPT units come back */
	ck_assert_int_eq(message(&r, one, 5000, 0, 0), POL_REJECT);
	/* aborted: they come back too */
	ck_assert_int_eq(message(&r, one, 10, 1, 0), POL_CONTINUE);
	/* bob refused by a later rule: his unit comes back, so 2 still fit */
	ck_assert_int_eq(message(&r, with_bob, 10, 0, 0), POL_CONTINUE);
	/* now the message unit is spent */
	ck_assert_int_eq(message(&r, one, 10, 0, 0), POL_TEMPFAIL);
	rig_close(&r);
	rig_open(&r, give_back_policy);
	/* the third recipient of one message is over 2/1h */
	ck_assert_int_eq(message(&r, three, 10, 0, 0), POL_TEMPFAIL);
	rig_close(&r);
}
END_TEST

/* Keys: normalised spelling, compound keys, the null sender, long values. */
struct key_case {
	const char *name, *client, *first, *second;
	enum pol_action want;	/* for the second after the first */
};

static const struct key_case key_cases[] = {
	{ "same sender", "192.0.2.1", "bob@example.com", "bob@example.com", POL_TEMPFAIL },
	{ "domain case", "192.0.2.1", "bob@example.com", "bob@EXAMPLE.com", POL_TEMPFAIL },
	{ "local part case", "192.0.2.1", "bob@example.com", "BOB@example.com", POL_TEMPFAIL },
	{ "trailing dot", "192.0.2.1", "bob@example.com", "bob@example.com.", POL_TEMPFAIL },
	{ "other sender", "192.0.2.1", "bob@example.com", "alice@example.com", POL_CONTINUE },
	{ "null vs real", "192.0.2.1", "", "x@example.com", POL_CONTINUE },
	{ "null twice", "192.0.2.1", "", "", POL_TEMPFAIL },
	{ "null vs <>", "192.0.2.1", "", "<>", POL_TEMPFAIL },
};

START_TEST(test_keys)
{
	size_t i;

	for (i = 0; i < NELEM(key_cases); i++) {
		const struct key_case *c = &key_cases[i];
		struct pol_verdict v;
		struct rig r;

		rig_open(&r, "rules = ( { name = \"k\"; limit = { count = "
		    "\"messages\"; per = [ \"client_addr\", \"sender\" ]; "
		    "rate = \"1/1h\"; }; } );");
		ck_assert_int_eq(mail_from(&r, c->client, c->first, 0, &v), POL_CONTINUE);
		mail_from(&r, c->client, c->second, 0, &v);
		ck_assert_msg(v.action == c->want, "%s: got %s, want %s", c->name,
		    pol_action_name(v.action), pol_action_name(c->want));
		/* the compound key: another client is another counter */
		ck_assert_int_eq(mail_from(&r, "192.0.2.200", c->first, 0, &v),
		    POL_CONTINUE);
		rig_close(&r);
	}
}
END_TEST

START_TEST(test_ipv6_and_net)
{
	struct rig r;
	struct pol_verdict v;

	rig_open(&r, "rules = ( { name = \"net\"; limit = { count = \"messages\"; "
	    "per = \"client_net\"; rate = \"2/1h\"; }; } );");
	ck_assert_int_eq(mail_from(&r, "2001:db8:1:2::1", "a@b.test", 0, &v), POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "2001:db8:1:2:ffff::9", "a@b.test", 0, &v), POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "2001:0db8:0001:0002::7", "a@b.test", 0, &v), POL_TEMPFAIL);
	ck_assert_str_eq(v.key, "2001:db8:1:2::/64");
	ck_assert_int_eq(mail_from(&r, "2001:db8:1:3::1", "a@b.test", 0, &v), POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "198.51.100.1", "a@b.test", 0, &v), POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "198.51.100.254", "a@b.test", 0, &v), POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "198.51.100.7", "a@b.test", 0, &v), POL_TEMPFAIL);
	ck_assert_str_eq(v.key, "198.51.100.0/24");
	rig_close(&r);
}
END_TEST

/* A 64 kB address costs a fixed-size counter and stays distinct. */
START_TEST(test_long_keys)
{
	size_t n = 65536;
	char *a = malloc(n + 1), *b = malloc(n + 1);
	struct pol_verdict v;
	struct rig r;

	memset(a, 'x', n);
	a[n] = '\0';
	memcpy(a + n - 12, "@example.com", 12);
	memcpy(b, a, n + 1);
	b[0] = 'y';
	rig_open(&r, "rules = ( { name = \"k\"; limit = { count = \"messages\"; "
	    "per = \"sender\"; rate = \"1/1h\"; }; } );");
	ck_assert_int_eq(mail_from(&r, "192.0.2.1", a, 0, &v), POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "192.0.2.1", b, 0, &v), POL_CONTINUE);
	ck_assert_int_eq(mail_from(&r, "192.0.2.1", a, 0, &v), POL_TEMPFAIL);
	ck_assert_msg(strlen(v.key) < POL_KEY_MAX, "key for the log is bounded");
	rig_close(&r);
	free(a);
	free(b);
}
END_TEST

/* ctl show|reset: the key as the log writes it finds the engine's counter. */
START_TEST(test_counter_by_log_key)
{
	unsigned char id[POL_ID_MAX];
	struct store_req look;
	struct store_res res;
	struct pol_verdict v;
	struct rig r;
	size_t idlen;

	rig_open(&r, "rules = ( { name = \"net-from\"; limit = { count = "
	    "\"messages\"; per = [ \"client_net\", \"sender_domain\" ]; "
	    "rate = \"2/1h\"; }; } );");
	mail_from(&r, "198.51.100.1", "a@Example.ORG", 0, &v);
	mail_from(&r, "198.51.100.9", "b@example.org", 0, &v);
	ck_assert_int_eq(mail_from(&r, "198.51.100.7", "c@example.org", 0, &v),
	    POL_TEMPFAIL);
	ck_assert_str_eq(v.key, "198.51.100.0/24,example.org");
	ck_assert_int_eq(pol_counter(r.p, "net-from", v.key, id, &idlen, &look), 0);
	ck_assert_int_eq(store_take(r.st, &look, 0, &res), STORE_OK);
	ck_assert_msg(res.count == 2 && !res.allowed, "show: used %llu, %s",
	    (unsigned long long)res.count, res.allowed ? "allowed" : "refused");
	/* looking does not charge */
	ck_assert_int_eq(store_take(r.st, &look, 0, &res), STORE_OK);
	ck_assert_int_eq(res.count, 2);
	ck_assert_int_eq(store_reset(r.st, id, idlen), STORE_OK);
	ck_assert_int_eq(mail_from(&r, "198.51.100.7", "c@example.org", 0, &v),
	    POL_CONTINUE);
	/* no such rule, too few or too many key values */
	ck_assert_int_eq(pol_counter(r.p, "nope", v.key, id, &idlen, &look), -1);
	ck_assert_int_eq(pol_counter(r.p, "net-from", "198.51.100.7", id, &idlen,
	    &look), -1);
	ck_assert_int_eq(pol_counter(r.p, "net-from", "198.51.100.7,a,b", id,
	    &idlen, &look), -1);
	rig_close(&r);
	/* a rule without keys has one counter, written "*" */
	rig_open(&r, "rules = ( { name = \"all\"; limit = { count = "
	    "\"messages\"; rate = \"2/1h\"; }; } );");
	ck_assert_int_eq(pol_counter(r.p, "all", "*", id, &idlen, &look), 0);
	ck_assert_int_eq(pol_counter(r.p, "all", "192.0.2.1", id, &idlen,
	    &look), -1);
	rig_close(&r);
}
END_TEST

START_TEST(test_connections_and_bytes)
{
	struct pol_env env = { .client_addr = "192.0.2.77", .sender = "a@b.test" };
	struct pol_verdict v;
	struct pol_conn *c;
	struct rig r;
	int i;

	rig_open(&r, "rules = (\n"
	    " { name = \"conns\"; limit = { count = \"connections\"; per = \"client_addr\"; rate = \"2/1m\"; }; },\n"
	    " { name = \"bytes\"; limit = { count = \"bytes\"; per = \"client_addr\"; rate = \"1000/1h\"; }; reply = \"message_too_big\"; }\n"
	    ");");
	for (i = 0; i < 3; i++) {
		c = pol_conn_new(r.p, r.st);
		pol_eval(c, POL_CONNECT, &env, 0, &v);
		pol_conn_free(c);
	}
	ck_assert_int_eq(v.action, POL_TEMPFAIL);
	ck_assert_int_eq(v.reply->code, 421);
	ck_assert_int_eq(v.close, 1);
	c = pol_conn_new(r.p, r.st);
	env.client_addr = "192.0.2.78";
	env.size = 600;
	pol_eval(c, POL_EOM, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_CONTINUE);
	pol_msg_end(c, 1, 0);
	pol_eval(c, POL_EOM, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_REJECT);
	ck_assert_int_eq(v.reply->code, 552);
	pol_conn_free(c);
	rig_close(&r);
}
END_TEST

/* A store failure is an error verdict, never a silent accept or a 5xx. */
START_TEST(test_no_store_is_error)
{
	struct policy *p = load_text(per_client);
	struct pol_conn *c = pol_conn_new(p, NULL);
	struct pol_env env = { .client_addr = "192.0.2.1", .sender = "a@b.test" };
	struct pol_verdict v;

	pol_eval(c, POL_MAIL, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_ERROR);
	ck_assert_int_eq(v.reply->code / 100, 4);
	pol_conn_free(c);
	pol_unref(p);
}
END_TEST

/* Several threads on one counter: exactly the bucket gets through. */
struct race {
	struct rig *r;
	int allowed;
};

static void *
race_main(void *arg)
{
	struct race *rc = arg;
	struct pol_verdict v;
	int i;

	for (i = 0; i < 400; i++)
		if (mail_from(rc->r, "192.0.2.1", "a@b.test", 5, &v) == POL_CONTINUE)
			rc->allowed++;
	return NULL;
}

START_TEST(test_threads_exact)
{
	struct race rc[4];
	pthread_t t[4];
	struct rig r;
	int i, total = 0;

	rig_open(&r, "rules = ( { name = \"k\"; limit = { count = \"messages\"; "
	    "per = \"client_addr\"; rate = \"1000/1d\"; }; } );");
	for (i = 0; i < 4; i++) {
		rc[i].r = &r;
		rc[i].allowed = 0;
		pthread_create(&t[i], NULL, race_main, &rc[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += rc[i].allowed;
	}
	ck_assert_int_eq(total, 1000);
	rig_close(&r);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_gcra_exact,
		test_burst,
		test_charge_modes,
		test_charge_none,
		test_counter_shared,
		test_default_reply_overridden,
		test_give_back,
		test_keys,
		test_ipv6_and_net,
		test_long_keys,
		test_counter_by_log_key,
		test_connections_and_bytes,
		test_no_store_is_error,
		test_threads_exact,
	};

	return check_run("ratelimit", "limits", tests, NELEM(tests));
}
