/*
 * check_policy: rule evaluation and relay control, as tables of
 * (transaction -> verdict), without an MTA.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "policy.h"
#include "replies.h"
#include "store.h"

static int
verdict_code(const struct pol_verdict *v)
{
	return v->reply ? v->reply->code : 0;
}

/* ---- relay control ---- */

static const char relay_policy[] =
    "lists = { trusted = [ \"192.0.2.0/24\", \"2001:db8::/32\" ];\n"
    "          local = [ \"example.com\", \".example.com\" ]; };\n"
    "relay = { local_domains = \"@local\";\n"
    "          permit = { client = \"@trusted\"; authenticated = true; }; };\n";

struct relay_case {
	const char *name, *client, *auth, *rcpt;
	enum pol_action want;
	int code;
};

static const struct relay_case relay_cases[] = {
	{ "local recipient", "198.51.100.1", NULL, "user@example.com", POL_CONTINUE, 0 },
	{ "local, domain case", "198.51.100.1", NULL, "user@EXAMPLE.Com", POL_CONTINUE, 0 },
	{ "local subdomain", "198.51.100.1", NULL, "u@mx.sub.example.com", POL_CONTINUE, 0 },
	{ "local, trailing dot", "198.51.100.1", NULL, "bob@Example.Com.", POL_CONTINUE, 0 },
	{ "local subdomain, trailing dot", "198.51.100.1", NULL, "u@mx.example.com.", POL_CONTINUE, 0 },
	{ "foreign, trailing dot", "198.51.100.1", NULL, "bob@other.org.", POL_REJECT, 550 },
	{ "local, two trailing dots", "198.51.100.1", NULL, "bob@example.com..", POL_REJECT, 550 },
	{ "domain only a dot", "198.51.100.1", NULL, "bob@.", POL_REJECT, 550 },
	{ "bare local name", "198.51.100.1", NULL, "postmaster", POL_CONTINUE, 0 },
	{ "foreign", "198.51.100.1", NULL, "user@other.org", POL_REJECT, 550 },
	{ "local name as prefix", "198.51.100.1", NULL, "u@example.com.other.org", POL_REJECT, 550 },
	{ "lookalike suffix", "198.51.100.1", NULL, "u@badexample.com", POL_REJECT, 550 },
	{ "percent hack", "198.51.100.1", NULL, "user%other.org@example.com", POL_REJECT, 550 },
	{ "bang path", "198.51.100.1", NULL, "other.org!user@example.com", POL_REJECT, 550 },
	{ "quoted at", "198.51.100.1", NULL, "\"user@other.org\"@example.com", POL_REJECT, 550 },
	{ "source route to foreign", "198.51.100.1", NULL, "@example.com:user@other.org", POL_REJECT, 550 },
	{ "source route via foreign", "198.51.100.1", NULL, "@other.org:user@example.com", POL_REJECT, 550 },
	{ "quoted plain local part", "198.51.100.1", NULL, "\"john doe\"@example.com", POL_CONTINUE, 0 },
	{ "trusted v4", "192.0.2.7", NULL, "user@other.org", POL_CONTINUE, 0 },
	{ "trusted v4 edge", "192.0.2.255", NULL, "user@other.org", POL_CONTINUE, 0 },
	{ "untrusted v4 edge", "192.0.3.0", NULL, "user@other.org", POL_REJECT, 550 },
	{ "trusted v6", "2001:db8::25", NULL, "user@other.org", POL_CONTINUE, 0 },
	{ "trusted v4-mapped", "::ffff:192.0.2.7", NULL, "user@other.org", POL_CONTINUE, 0 },
	{ "authenticated", "198.51.100.1", "bob", "user@other.org", POL_CONTINUE, 0 },
	{ "empty auth user", "198.51.100.1", "", "user@other.org", POL_REJECT, 550 },
	{ "no client address", NULL, NULL, "user@other.org", POL_REJECT, 550 },
	{ "trusted, routed", "192.0.2.7", NULL, "user%other.org@example.com", POL_CONTINUE, 0 },
};

START_TEST(test_relay_table)
{
	struct policy *p = load_text(relay_policy);
	size_t i;

	for (i = 0; i < sizeof relay_cases / sizeof relay_cases[0]; i++) {
		const struct relay_case *c = &relay_cases[i];
		struct pol_env env = { .client_addr = c->client,
		    .auth_user = c->auth, .sender = "a@b.example", .rcpt = c->rcpt };
		struct pol_conn *pc = pol_conn_new(p, NULL);
		struct pol_verdict v;

		pol_eval(pc, POL_RCPT, &env, 0, &v);
		ck_assert_msg(v.action == c->want && verdict_code(&v) == c->code,
		    "%s: got %s %d, want %s %d", c->name, pol_action_name(v.action),
		    verdict_code(&v), pol_action_name(c->want), c->code);
		if (c->want == POL_REJECT) {
			ck_assert_str_eq(v.rule, "relay");
			ck_assert_str_eq(v.reply->xcode, "5.7.1");
		}
		pol_conn_free(pc);
	}
	pol_unref(p);
}
END_TEST

/* ---- rules ---- */

static const char rules_policy[] =
    "rules = (\n"
    " { name = \"trusted\"; when = { client = \"10.0.0.0/8\"; }; action = \"accept\"; scope = \"connection\"; },\n"
    " { name = \"bad-helo\"; when = { helo = [ \"localhost\", \"/^\\\\[?127\\\\./\" ]; };\n"
    "   reply = \"554 5.7.1 HELO %{helo} refused\"; },\n"
    " { name = \"dry\"; mode = \"dry-run\"; when = { sender_domain = \"spam.test\"; }; reply = \"550 5.7.1 dry\"; },\n"
    " { name = \"spam\"; when = { sender_domain = \"spam.test\"; }; unless = { authenticated = true; };\n"
    "   reply = \"550 5.7.1 no spam\"; },\n"
    " { name = \"null-sender\"; when = { sender = \"<>\"; rcpt = \"noreply@example.com\"; }; action = \"reject\"; },\n"
    " { name = \"big\"; when = { size = \">1000\"; }; reply = \"552 5.3.4 too big\"; },\n"
    " { name = \"subj\"; when = { header = { name = \"Subject\"; match = \"/buy now/\"; }; }; action = \"discard\"; },\n"
    " { name = \"later\"; when = { daemon = \"submission\"; }; action = \"tempfail\"; stage = \"data\"; }\n"
    ");\n";

struct rule_case {
	const char *name;
	enum pol_stage stage;
	struct pol_env env;
	enum pol_action want;
	const char *rule;
};

static const struct rule_case rule_cases[] = {
	{ "nothing matches", POL_HELO, { .client_addr = "198.51.100.1", .helo = "mx.example.net" }, POL_CONTINUE, NULL },
	{ "trusted accepted", POL_CONNECT, { .client_addr = "10.1.2.3" }, POL_ACCEPT, "trusted" },
	{ "helo localhost", POL_HELO, { .client_addr = "198.51.100.1", .helo = "LocalHost" }, POL_REJECT, "bad-helo" },
	{ "helo loopback literal", POL_HELO, { .client_addr = "198.51.100.1", .helo = "[127.0.0.1]" }, POL_REJECT, "bad-helo" },
	{ "helo lookalike", POL_HELO, { .client_addr = "198.51.100.1", .helo = "localhost.example.net" }, POL_CONTINUE, NULL },
	{ "spam sender: dry-run first", POL_MAIL, { .client_addr = "198.51.100.1", .sender = "x@spam.test" }, POL_REJECT, "dry" },
	{ "spam sender authenticated", POL_MAIL, { .client_addr = "198.51.100.1", .sender = "x@spam.test", .auth_user = "bob" }, POL_REJECT, "dry" },
	{ "null sender to noreply", POL_RCPT, { .sender = "", .rcpt = "noreply@example.com" }, POL_REJECT, "null-sender" },
	{ "real sender to noreply", POL_RCPT, { .sender = "a@b.test", .rcpt = "noreply@example.com" }, POL_CONTINUE, NULL },
	{ "size above", POL_MAIL, { .sender = "a@b.test", .size = 1001 }, POL_REJECT, "big" },
	{ "size at limit", POL_MAIL, { .sender = "a@b.test", .size = 1000 }, POL_CONTINUE, NULL },
	{ "size unknown", POL_MAIL, { .sender = "a@b.test", .size = 0 }, POL_CONTINUE, NULL },
	{ "subject matches", POL_HEADER, { .hdr_name = "subject", .hdr_value = " BUY NOW!!" }, POL_DISCARD, "subj" },
	{ "other header", POL_HEADER, { .hdr_name = "X-Subject", .hdr_value = "buy now" }, POL_CONTINUE, NULL },
	{ "stage moved later", POL_DATA, { .daemon = "submission" }, POL_TEMPFAIL, "later" },
	{ "not before its stage", POL_CONNECT, { .daemon = "submission" }, POL_CONTINUE, NULL },
};

START_TEST(test_rule_table)
{
	struct policy *p = load_text(rules_policy);
	size_t i;

	for (i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
		const struct rule_case *c = &rule_cases[i];
		struct pol_conn *pc = pol_conn_new(p, NULL);
		struct pol_verdict v;

		pol_eval(pc, c->stage, &c->env, 0, &v);
		ck_assert_msg(v.action == c->want, "%s: got %s, want %s", c->name,
		    pol_action_name(v.action), pol_action_name(c->want));
		ck_assert_msg((v.rule == NULL && c->rule == NULL) ||
		    (v.rule && c->rule && strcmp(v.rule, c->rule) == 0),
		    "%s: got rule %s, want %s", c->name, v.rule ? v.rule : "none",
		    c->rule ? c->rule : "none");
		pol_conn_free(pc);
	}
	pol_unref(p);
}
END_TEST

/* A dry-run verdict comes first; the next call goes on to the next rule. */
START_TEST(test_dry_run_resumes)
{
	struct policy *p = load_text(rules_policy);
	struct pol_conn *pc = pol_conn_new(p, NULL);
	struct pol_env env = { .client_addr = "198.51.100.1", .sender = "x@spam.test" };
	struct pol_verdict v;

	pol_eval(pc, POL_MAIL, &env, 0, &v);
	ck_assert_str_eq(v.rule, "dry");
	ck_assert_int_eq(v.mode, POL_DRY_RUN);
	pol_eval(pc, POL_MAIL, &env, 0, &v);
	ck_assert_str_eq(v.rule, "spam");
	ck_assert_int_eq(v.mode, POL_ENFORCE);
	ck_assert_int_eq(verdict_code(&v), 550);
	env.auth_user = "bob";
	pol_eval(pc, POL_MAIL, &env, 0, &v);
	ck_assert_str_eq(v.rule, "dry");
	pol_eval(pc, POL_MAIL, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_CONTINUE);	/* unless exempts */
	pol_conn_free(pc);
	pol_unref(p);
}
END_TEST

/* An accept with scope connection ends rule checking for later stages. */
START_TEST(test_accept_scope)
{
	struct policy *p = load_text(rules_policy);
	struct pol_conn *pc = pol_conn_new(p, NULL);
	struct pol_env env = { .client_addr = "10.9.9.9", .helo = "localhost" };
	struct pol_verdict v;

	pol_eval(pc, POL_CONNECT, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_ACCEPT);
	pol_eval(pc, POL_HELO, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_CONTINUE);
	pol_conn_free(pc);
	pol_unref(p);
}
END_TEST

/* An accept rule never opens a relay: the relay check still runs. */
START_TEST(test_accept_keeps_relay_check)
{
	struct policy *p = load_text(
	    "relay = { local_domains = [ \"example.com\" ]; permit = { client = \"192.0.2.0/24\"; }; };\n"
	    "rules = ( { name = \"friends\"; when = { sender_domain = \"friend.test\"; }; action = \"accept\"; } );\n");
	struct pol_conn *pc = pol_conn_new(p, NULL);
	struct pol_env env = { .client_addr = "198.51.100.1", .sender = "a@friend.test" };
	struct pol_verdict v;

	pol_eval(pc, POL_MAIL, &env, 0, &v);
	ck_assert_msg(v.action == POL_CONTINUE, "got %s: an accept handed to the "
	    "MTA before RCPT would skip the relay check", pol_action_name(v.action));
	env.rcpt = "victim@other.org";
	pol_eval(pc, POL_RCPT, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_REJECT);
	ck_assert_str_eq(v.rule, "relay");
	env.rcpt = "user@example.com";
	pol_eval(pc, POL_RCPT, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_CONTINUE);
	pol_msg_end(pc, 1, 0);
	pol_conn_free(pc);
	pol_unref(p);
}
END_TEST

/* Global dry-run turns every verdict into a dry-run one. */
START_TEST(test_global_dry_run)
{
	struct policy *p = load_text("milter = { mode = \"dry-run\"; };\n"
	    "relay = { local_domains = [ \"example.com\" ]; };\n");
	struct pol_conn *pc = pol_conn_new(p, NULL);
	struct pol_env env = { .client_addr = "198.51.100.1", .rcpt = "a@other.org" };
	struct pol_verdict v;

	pol_eval(pc, POL_RCPT, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_REJECT);
	ck_assert_int_eq(v.mode, POL_DRY_RUN);
	pol_eval(pc, POL_RCPT, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_CONTINUE);
	pol_conn_free(pc);
	pol_unref(p);
}
END_TEST

/* A dry-run rule whose store fails only logs: the mail goes on. */
START_TEST(test_dry_run_error_lets_through)
{
	struct policy *p = load_text("rules = ( { name = \"m\"; mode = \"dry-run\"; "
	    "limit = { count = \"messages\"; per = \"client_addr\"; rate = \"1/1h\"; }; } );");
	struct pol_conn *pc = pol_conn_new(p, NULL);	/* no store: an error */
	struct pol_env env = { .client_addr = "198.51.100.1", .sender = "a@b.test" };
	struct pol_verdict v;

	pol_eval(pc, POL_MAIL, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_ERROR);
	ck_assert_int_eq(v.mode, POL_DRY_RUN);
	pol_eval(pc, POL_MAIL, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_CONTINUE);
	pol_conn_free(pc);
	pol_unref(p);
}
END_TEST

/* List files: whole-line and trailing comments, and a regex with '#'. */
START_TEST(test_list_file_comments)
{
	char list[] = "/tmp/check_policy_list.XXXXXX", text[512];
	static const struct { const char *sender; enum pol_action want; } cases[] = {
		{ "x@spam#1.test", POL_REJECT },
		{ "x@bad.test", POL_REJECT },
		{ "x@good.test", POL_CONTINUE },
		{ "x@spam.test", POL_CONTINUE },
	};
	FILE *fp = fdopen(mkstemp(list), "w");
	struct policy *p;
	size_t i;

	fputs("# a comment\n/^spam#1\\.test$/\n  bad.test\t# trailing\n", fp);
	fclose(fp);
	snprintf(text, sizeof text, "rules = ( { name = \"l\"; when = { "
	    "sender_domain = \"file:%s\"; }; action = \"reject\"; } );", list);
	p = load_text(text);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pol_env env = { .client_addr = "192.0.2.1",
		    .sender = cases[i].sender };
		struct pol_conn *c = pol_conn_new(p, NULL);
		struct pol_verdict v;

		pol_eval(c, POL_MAIL, &env, 0, &v);
		ck_assert_msg(v.action == cases[i].want, "%s: got %s",
		    cases[i].sender, pol_action_name(v.action));
		pol_conn_free(c);
	}
	pol_unref(p);
	remove(list);
}
END_TEST

/* Stages no rule needs are reported so the milter can skip them. */
START_TEST(test_needed_stages)
{
	struct policy *p = load_text(rules_policy);
	struct policy *q = load_text("rules = ( { name = \"x\"; when = { helo = \"a\"; }; action = \"reject\"; } );");

	ck_assert(pol_needs_stage(p, POL_HEADER));
	ck_assert(pol_answers_at(p, POL_HEADER));	/* a header rule answers there */
	ck_assert(pol_needs_stage(p, POL_DATA));
	ck_assert(!pol_needs_stage(p, POL_BODY));
	ck_assert(!pol_needs_stage(p, POL_EOH));
	ck_assert(pol_needs_stage(q, POL_HELO));
	ck_assert(!pol_needs_stage(q, POL_RCPT));
	ck_assert(!pol_needs_stage(q, POL_HEADER));
	pol_unref(p);
	pol_unref(q);
}
END_TEST

/* ---- two front doors: who evaluates which rule ---- */

static const char doors_policy[] =
    "rules = (\n"
    "  { name = \"plain\"; when = { sender = \"bad@spam.test\"; }; reply = \"550 5.7.1 no\"; },\n"
    "  { name = \"msgs\"; when = { sender_domain = \"ok.test\"; }; limit = { count = \"messages\"; per = \"client_addr\"; rate = \"1/1h\"; }; },\n"
    "  { name = \"hdr\"; when = { header = { name = \"Subject\"; match = \"/spam/\"; }; };\n"
    "    reply = \"550 5.7.1 no\"; }\n"
    ");\n";

struct door_case {
	const char *name;
	enum pol_door door;
	const char *sender;		/* at mail, twice, the first delivered */
	const char *subject;		/* at header, or NULL */
	const char *want;		/* the deciding rule of the second message, or NULL */
};

static const struct door_case door_cases[] = {
	{ "all: plain rule", POL_DOOR_ALL, "bad@spam.test", NULL, "plain" },
	{ "envelope: plain rule", POL_DOOR_ENVELOPE, "bad@spam.test", NULL, "plain" },
	{ "content: plain rule (counts nothing)", POL_DOOR_CONTENT, "bad@spam.test", NULL, "plain" },
	{ "all: limit", POL_DOOR_ALL, "a@ok.test", NULL, "msgs" },
	{ "envelope: limit", POL_DOOR_ENVELOPE, "a@ok.test", NULL, "msgs" },
	{ "content: limit is the envelope door's", POL_DOOR_CONTENT, "a@ok.test", NULL, NULL },
	{ "all: header rule", POL_DOOR_ALL, "h@hdr.test", "spam", "hdr" },
	{ "content: header rule", POL_DOOR_CONTENT, "h@hdr.test", "spam", "hdr" },
	{ "envelope: header rule is the milter's", POL_DOOR_ENVELOPE, "h@hdr.test", "spam", NULL },
};

/* The second message's verdict at mail (or, with a subject, its header). */
static const char *
door_second(struct pol_conn *pc, const struct door_case *c)
{
	struct pol_env env = { .client_addr = "198.51.100.1", .sender = c->sender };
	struct pol_verdict v;
	int i;

	for (i = 0; i < 2; i++) {
		pol_eval(pc, POL_MAIL, &env, 0, &v);
		if (i == 0)
			pol_msg_end(pc, 1, 0);
	}
	if (v.action == POL_CONTINUE && c->subject != NULL) {
		env.hdr_name = "Subject";
		env.hdr_value = c->subject;
		pol_eval(pc, POL_HEADER, &env, 0, &v);
	}
	return v.action == POL_CONTINUE ? NULL : v.rule;
}

START_TEST(test_door_table)
{
	const struct door_case *c = &door_cases[_i];
	struct policy *p = load_text(doors_policy);
	struct store *st = store_memory_new(1000);
	struct pol_conn *pc = pol_conn_new(p, st);
	const char *got;

	pol_conn_door(pc, c->door);
	got = door_second(pc, c);
	ck_assert_msg((got == NULL && c->want == NULL) || (got && c->want &&
	    strcmp(got, c->want) == 0), "%s: got %s, want %s", c->name,
	    got ? got : "continue", c->want ? c->want : "continue");
	pol_conn_free(pc);
	store_free(st);
	pol_unref(p);
}
END_TEST

/* Which rules a door without the content cannot serve, for -t. */
START_TEST(test_rule_content)
{
	struct policy *p = load_text(doors_policy);
	const char *name, *why;

	ck_assert_ptr_null(pol_rule_content(p, 0, &name));
	ck_assert_str_eq(name, "plain");
	ck_assert_ptr_null(pol_rule_content(p, 1, &name));
	why = pol_rule_content(p, 2, &name);
	ck_assert_str_eq(name, "hdr");
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, "it tests a header");
	pol_unref(p);
}
END_TEST

/* ---- what a limit counts, as its reply names it (%{counted}) ---- */

struct counted_case {
	const char *name, *per, *client, *sender, *auth, *rcpt;
	const char *want;
};

static const struct counted_case counted_cases[] = {
	{ "client", "\"client_addr\"", "192.0.2.7", "a@b.test", NULL, "x@y.test",
	  "client 192.0.2.7" },
	{ "null sender", "\"sender\"", "192.0.2.7", "", NULL, "x@y.test",
	  "sender <>" },
	{ "sender", "\"sender\"", "192.0.2.7", "a@b.test", NULL, "x@y.test",
	  "sender <a@b.test>" },
	{ "sender and client", "[ \"sender\", \"client_addr\" ]", "192.0.2.7",
	  "", NULL, "x@y.test", "sender <> and client 192.0.2.7" },
	{ "network v6", "\"client_net\"", "2001:db8:1:2::5", "a@b.test", NULL,
	  "x@y.test", "network 2001:db8:1:2::/64" },
	{ "user", "\"auth_user\"", "192.0.2.7", "a@b.test", "bob", "x@y.test",
	  "user bob" },
	{ "sender domain", "\"sender_domain\"", "192.0.2.7", "a@B.test", NULL,
	  "x@y.test", "sender domain B.test" },
	{ "recipient domain", "\"rcpt_domain\"", "192.0.2.7", "a@b.test", NULL,
	  "x@y.test", "all senders to recipient domain y.test" },
	{ "client to recipient", "[ \"client_addr\", \"rcpt\" ]", "192.0.2.7",
	  "a@b.test", NULL, "x@y.test",
	  "client 192.0.2.7 to recipient <x@y.test>" },
	{ "no keys", "[ ]", "192.0.2.7", "a@b.test", NULL, "x@y.test",
	  "all senders" },
};

START_TEST(test_counted)
{
	const struct counted_case *c = &counted_cases[_i];
	char text[512];
	struct policy *p;
	struct pol_conn *pc;
	struct pol_env env = { .client_addr = c->client, .sender = c->sender,
	    .auth_user = c->auth, .rcpt = c->rcpt };
	struct store *st = store_memory_new(100);
	struct pol_verdict v;

	snprintf(text, sizeof text, "rules = ({ name = \"l\"; limit = { count "
	    "= \"recipients\"; per = %s; rate = \"1/1h\"; }; });\n", c->per);
	p = load_text(text);
	pc = pol_conn_new(p, st);
	pol_eval(pc, POL_RCPT, &env, 0, &v);
	pol_eval(pc, POL_RCPT, &env, 0, &v);
	ck_assert_msg(v.action == POL_TEMPFAIL && strcmp(v.vars.counted,
	    c->want) == 0, "%s: got %s \"%s\", want tempfail \"%s\"", c->name,
	    pol_action_name(v.action), v.vars.counted, c->want);
	pol_conn_free(pc);
	store_free(st);
	pol_unref(p);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("eval");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_relay_table);
	tcase_add_test(tc, test_rule_table);
	tcase_add_test(tc, test_dry_run_resumes);
	tcase_add_test(tc, test_accept_scope);
	tcase_add_test(tc, test_accept_keeps_relay_check);
	tcase_add_test(tc, test_global_dry_run);
	tcase_add_test(tc, test_needed_stages);
	tcase_add_test(tc, test_list_file_comments);
	tcase_add_test(tc, test_dry_run_error_lets_through);
	tcase_add_loop_test(tc, test_door_table, 0,
	    sizeof door_cases / sizeof door_cases[0]);
	tcase_add_test(tc, test_rule_content);
	tcase_add_loop_test(tc, test_counted, 0,
	    sizeof counted_cases / sizeof counted_cases[0]);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
