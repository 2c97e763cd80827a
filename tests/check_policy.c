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

	for (i = 0; i < NELEM(relay_cases); i++) {
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
	const char *noted;		/* the dry-run rule noted on the way */
};

static const struct rule_case rule_cases[] = {
	{ "nothing matches", POL_HELO, { .client_addr = "198.51.100.1", .helo = "mx.example.net" }, POL_CONTINUE, NULL, NULL },
	{ "trusted accepted", POL_CONNECT, { .client_addr = "10.1.2.3" }, POL_ACCEPT, "trusted", NULL },
	{ "helo localhost", POL_HELO, { .client_addr = "198.51.100.1", .helo = "LocalHost" }, POL_REJECT, "bad-helo", NULL },
	{ "helo loopback literal", POL_HELO, { .client_addr = "198.51.100.1", .helo = "[127.0.0.1]" }, POL_REJECT, "bad-helo", NULL },
	{ "helo lookalike", POL_HELO, { .client_addr = "198.51.100.1", .helo = "localhost.example.net" }, POL_CONTINUE, NULL, NULL },
	{ "spam sender: dry-run noted", POL_MAIL, { .client_addr = "198.51.100.1", .sender = "x@spam.test" }, POL_REJECT, "spam", "dry" },
	{ "spam sender authenticated", POL_MAIL, { .client_addr = "198.51.100.1", .sender = "x@spam.test", .auth_user = "bob" }, POL_CONTINUE, NULL, "dry" },
	{ "null sender to noreply", POL_RCPT, { .sender = "", .rcpt = "noreply@example.com" }, POL_REJECT, "null-sender", NULL },
	{ "real sender to noreply", POL_RCPT, { .sender = "a@b.test", .rcpt = "noreply@example.com" }, POL_CONTINUE, NULL, NULL },
	{ "size above", POL_MAIL, { .sender = "a@b.test", .size = 1001 }, POL_REJECT, "big", NULL },
	{ "size at limit", POL_MAIL, { .sender = "a@b.test", .size = 1000 }, POL_CONTINUE, NULL, NULL },
	{ "size unknown", POL_MAIL, { .sender = "a@b.test", .size = 0 }, POL_CONTINUE, NULL, NULL },
	{ "subject matches", POL_HEADER, { .hdr_name = "subject", .hdr_value = " BUY NOW!!" }, POL_DISCARD, "subj", NULL },
	{ "other header", POL_HEADER, { .hdr_name = "X-Subject", .hdr_value = "buy now" }, POL_CONTINUE, NULL, NULL },
	{ "stage moved later", POL_DATA, { .daemon = "submission" }, POL_TEMPFAIL, "later", NULL },
	{ "not before its stage", POL_CONNECT, { .daemon = "submission" }, POL_CONTINUE, NULL, NULL },
};

START_TEST(test_rule_table)
{
	struct policy *p = load_text(rules_policy);
	size_t i;

	for (i = 0; i < NELEM(rule_cases); i++) {
		const struct rule_case *c = &rule_cases[i];
		struct pol_conn *pc = pol_conn_new(p, NULL);
		struct notes n = { 0 };
		struct pol_verdict v;

		pol_conn_notes(pc, notes_add, &n);
		pol_eval(pc, c->stage, &c->env, 0, &v);
		ck_assert_msg(v.action == c->want, "%s: got %s, want %s", c->name,
		    pol_action_name(v.action), pol_action_name(c->want));
		ck_assert_msg(v.mode == POL_ENFORCE, "%s: a dry-run verdict "
		    "returned", c->name);
		ck_assert_msg(n.n == (c->noted != NULL) && (n.n == 0 ||
		    (strcmp(n.v[0].rule, c->noted) == 0 &&
		    n.v[0].mode == POL_DRY_RUN)), "%s: got %d notes (%s), want "
		    "%s", c->name, n.n, n.n ? n.v[0].rule : "none",
		    c->noted ? c->noted : "none");
		ck_assert_msg((v.rule == NULL && c->rule == NULL) ||
		    (v.rule && c->rule && strcmp(v.rule, c->rule) == 0),
		    "%s: got rule %s, want %s", c->name, v.rule ? v.rule : "none",
		    c->rule ? c->rule : "none");
		pol_conn_free(pc);
	}
	pol_unref(p);
}
END_TEST

/* A dry-run verdict is noted and the same call goes on to the next rule. */
START_TEST(test_dry_run_noted)
{
	struct policy *p = load_text(rules_policy);
	struct pol_conn *pc = pol_conn_new(p, NULL);
	struct pol_env env = { .client_addr = "198.51.100.1", .sender = "x@spam.test" };
	struct notes n = { 0 };
	struct pol_verdict v;

	pol_conn_notes(pc, notes_add, &n);
	pol_eval(pc, POL_MAIL, &env, 0, &v);
	ck_assert_int_eq(n.n, 1);
	ck_assert_str_eq(n.v[0].rule, "dry");
	ck_assert_int_eq(n.v[0].mode, POL_DRY_RUN);
	ck_assert_int_eq(n.v[0].action, POL_REJECT);
	ck_assert_str_eq(v.rule, "spam");
	ck_assert_int_eq(v.mode, POL_ENFORCE);
	ck_assert_int_eq(verdict_code(&v), 550);
	env.auth_user = "bob";
	n.n = 0;
	pol_eval(pc, POL_MAIL, &env, 0, &v);
	ck_assert_int_eq(n.n, 1);
	ck_assert_str_eq(n.v[0].rule, "dry");
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
	struct notes n = { 0 };
	struct pol_verdict v;

	pol_conn_notes(pc, notes_add, &n);
	pol_eval(pc, POL_RCPT, &env, 0, &v);
	ck_assert_int_eq(n.n, 1);
	ck_assert_int_eq(n.v[0].action, POL_REJECT);
	ck_assert_int_eq(n.v[0].mode, POL_DRY_RUN);
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
	struct notes n = { 0 };
	struct pol_verdict v;

	pol_conn_notes(pc, notes_add, &n);
	pol_eval(pc, POL_MAIL, &env, 0, &v);
	ck_assert_int_eq(n.n, 1);
	ck_assert_int_eq(n.v[0].action, POL_ERROR);
	ck_assert_int_eq(n.v[0].mode, POL_DRY_RUN);
	ck_assert_int_eq(v.action, POL_CONTINUE);
	pol_conn_free(pc);
	pol_unref(p);
}
END_TEST

/* ---- a rule's error is that rule's ---- */

/* A regex that backtracks past PCRE2's match limit on a sender with a 'b'
 * (so no quick "b is missing" answer), and an unrelated rule after it that
 * refuses every unauthenticated sender. */
#define BAD_REGEX_RULE \
    " { name = \"bad-regex\"; when = { sender = \"/^(a|a)*b$/\"; }; action = \"reject\"; },\n"
#define BAD_SENDER "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaacb"

struct error_case {
	const char *name, *policy;
	enum pol_action want;
	const char *rule;
	int overruled;		/* the error was noted, a later rule decided */
};

static const struct error_case error_cases[] = {
	{ "a later refusal decides",
	  "rules = (\n" BAD_REGEX_RULE
	  " { name = \"blocked\"; when = { authenticated = false; }; reply = \"550 5.7.1 blocked\"; } );\n",
	  POL_REJECT, "blocked", 1 },
	{ "a later refusal decides, on_error accept",
	  "state = { on_error = \"accept\"; };\nrules = (\n" BAD_REGEX_RULE
	  " { name = \"blocked\"; when = { authenticated = false; }; action = \"tempfail\"; } );\n",
	  POL_TEMPFAIL, "blocked", 1 },
	{ "nothing after it: the error",
	  "rules = (\n" BAD_REGEX_RULE
	  " { name = \"other\"; when = { sender_domain = \"other.test\"; }; action = \"reject\"; } );\n",
	  POL_ERROR, "bad-regex", 0 },
	{ "a later accept does not overrule on_error tempfail",
	  "rules = (\n" BAD_REGEX_RULE
	  " { name = \"ok\"; when = { authenticated = false; }; action = \"accept\"; } );\n",
	  POL_ERROR, "bad-regex", 0 },
	{ "a later discard overrules on_error accept",
	  "state = { on_error = \"accept\"; };\nrules = (\n" BAD_REGEX_RULE
	  " { name = \"drop\"; when = { authenticated = false; }; action = \"discard\"; } );\n",
	  POL_DISCARD, "drop", 1 },
};

START_TEST(test_rule_error_table)
{
	const struct error_case *c = &error_cases[_i];
	struct policy *p = load_text(c->policy);
	struct pol_conn *pc = pol_conn_new(p, NULL);
	struct pol_env env = { .client_addr = "198.51.100.1", .sender = BAD_SENDER };
	struct notes n = { 0 };
	struct pol_verdict v;

	pol_conn_notes(pc, notes_add, &n);
	pol_eval(pc, POL_MAIL, &env, 0, &v);
	ck_assert_msg(v.action == c->want && v.rule != NULL &&
	    strcmp(v.rule, c->rule) == 0, "%s: got %s by %s, want %s by %s",
	    c->name, pol_action_name(v.action), v.rule ? v.rule : "none",
	    pol_action_name(c->want), c->rule);
	ck_assert_msg(n.n == c->overruled, "%s: got %d notes, want %d",
	    c->name, n.n, c->overruled);
	if (c->overruled) {
		ck_assert_int_eq(n.v[0].action, POL_ERROR);
		ck_assert_int_eq(n.v[0].mode, POL_ENFORCE);
		ck_assert_str_eq(n.v[0].rule, "bad-regex");
	}
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
	for (i = 0; i < NELEM(cases); i++) {
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
	const TTest *tests[] = {
		test_relay_table,
		test_rule_table,
		test_dry_run_noted,
		test_accept_scope,
		test_accept_keeps_relay_check,
		test_global_dry_run,
		test_needed_stages,
		test_list_file_comments,
		test_dry_run_error_lets_through,
	};

	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("eval");
	size_t i;

	for (i = 0; i < NELEM(tests); i++)
		tcase_add_test(tc, tests[i]);
	tcase_add_loop_test(tc, test_rule_error_table, 0, (int)NELEM(error_cases));
	tcase_add_loop_test(tc, test_door_table, 0,
	    sizeof door_cases / sizeof door_cases[0]);
	tcase_add_test(tc, test_rule_content);
	tcase_add_loop_test(tc, test_counted, 0,
	    sizeof counted_cases / sizeof counted_cases[0]);
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}
