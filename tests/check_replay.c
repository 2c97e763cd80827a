/*
 * check_replay.c: `milter-policy replay`'s log reading (milter/replay_log.c),
 * its gathering of transactions (replay_txn.c) and its run through a
 * policy (replay_run.c), on lines written here and on a log a real
 * Postfix wrote (tests/data/replay/postfix.log, recorded from
 * tests/e2e/test_replay.sh's traffic).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check_util.h"
#include "replay_log.h"
#include "replay_run.h"
#include "replay_txn.h"
#include "store.h"

#define NOW_S	1796083200	/* 2026-12-01 00:00:00 UTC */

struct parse_case {
	const char *name, *line;
	enum rlog_kind kind;
	enum rlog_skip skip;
	const char *qid, *client_addr, *sender, *rcpt, *user, *helo;
	long long time_ms;		/* 0: not checked */
};

static const struct parse_case parse_cases[] = {
	{ "bsd head, connect",
	  "Dec  1 11:43:52 mx postfix/smtpd[16539]: connect from unknown[127.0.0.3]",
	  RLOG_CONNECT, 0, "", "127.0.0.3", "", "", "", "", 1796125432000LL },
	{ "postlog head, zero-padded day, fractions",
	  "Dec 01 11:43:52.250 mx postfix/smtpd[1]: connect from a.example[192.0.2.1]",
	  RLOG_CONNECT, 0, "", "192.0.2.1", "", "", "", "", 1796125432250LL },
	{ "rfc3339 head with an offset",
	  "2026-12-01T12:43:52.5+01:00 mx postfix/smtpd[1]: connect from x[2001:db8::1]",
	  RLOG_CONNECT, 0, "", "2001:db8::1", "", "", "", "", 1796125432500LL },
	{ "client= with a SASL user",
	  "Dec  1 11:43:52 mx postfix/smtpd[2]: BB57C51640F: client=unknown[127.0.0.23], "
	  "sasl_method=PLAIN, sasl_username=alice@example.com",
	  RLOG_CLIENT, 0, "BB57C51640F", "127.0.0.23", "", "", "alice@example.com", "", 0 },
	{ "long queue ID, a second instance's syslog_name",
	  "Dec  1 11:43:52 mx postfix-out/smtpd[2]: 4fYz9B1xk2zJ7: client=h[192.0.2.9]",
	  RLOG_CLIENT, 0, "4fYz9B1xk2zJ7", "192.0.2.9", "", "", "", "", 0 },
	{ "NOQUEUE reject: fields from the end, past a reply that names from=<",
	  "Dec  1 11:43:52 mx postfix/smtpd[2]: NOQUEUE: reject: RCPT from u[127.0.0.25]: "
	  "554 5.7.1 <b@x>: fake from=<evil@x> text; from=<s@client> to=<blocked@example.com> "
	  "proto=ESMTP helo=<client.test> sasl_username=<bob>",
	  RLOG_REJECT, 0, "", "127.0.0.25", "s@client", "blocked@example.com", "bob",
	  "client.test", 0 },
	{ "milter-reject at end of message, a queued message",
	  "Dec  1 11:43:54 mx postfix/cleanup[3]: 72E615123B5: milter-reject: END-OF-MESSAGE "
	  "from u[127.0.0.7]: 5.7.1 seen; from=<a@b> to=<c@example.com> proto=ESMTP helo=<h>",
	  RLOG_QREJECT, 0, "72E615123B5", "127.0.0.7", "a@b", "c@example.com", "", "h", 0 },
	{ "qmgr from= with the null sender",
	  "Dec  1 11:43:52 mx postfix/qmgr[4]: 51CA95123A6: from=<>, size=503, nrcpt=2 (queue active)",
	  RLOG_FROM, 0, "51CA95123A6", "", "", "", "", "", 0 },
	{ "delivery: orig_to is the address the client gave",
	  "Dec  1 11:43:52 mx postfix/local[5]: 51CA95123A6: to=<bob@mx.example.com>, "
	  "orig_to=<bob@example.com>, relay=local, status=sent (delivered)",
	  RLOG_TO, 0, "51CA95123A6", "", "", "bob@example.com", "", "", 0 },
	{ "removed", "Dec  1 11:43:52 mx postfix/qmgr[4]: 51CA95123A6: removed",
	  RLOG_REMOVED, 0, "51CA95123A6", "", "", "", "", "", 0 },
	{ "another program", "Dec  1 11:43:52 mx dovecot[9]: imap-login: Login",
	  RLOG_SKIP, RLOG_SKIP_PROGRAM, "", "", "", "", "", "", 0 },
	{ "no head", "just words", RLOG_SKIP, RLOG_SKIP_HEAD, "", "", "", "", "", "", 0 },
	{ "a Postfix line not needed",
	  "Dec  1 11:43:52 mx postfix/anvil[7]: statistics: max connection rate 1/60s",
	  RLOG_SKIP, RLOG_SKIP_UNUSED, "", "", "", "", "", "", 0 },
	{ "client= without an address",
	  "Dec  1 11:43:52 mx postfix/smtpd[2]: BB57C51640F: client=nobracket",
	  RLOG_SKIP, RLOG_SKIP_MALFORMED, "BB57C51640F", "", "", "", "", "", 0 },
	{ "an unclosed address is not read past the line",
	  "Dec  1 11:43:52 mx postfix/qmgr[4]: 51CA95123A6: from=<abc, size=5",
	  RLOG_SKIP, RLOG_SKIP_MALFORMED, "51CA95123A6", "", "", "", "", "", 0 },
	{ "February 30th is not a date",
	  "Feb 30 11:43:52 mx postfix/smtpd[2]: connect from u[1.2.3.4]",
	  RLOG_CONNECT, 0, "", "1.2.3.4", "", "", "", "", 0 },
};

START_TEST(test_parse)
{
	const struct parse_case *c = &parse_cases[_i];
	struct syslog_clock clock;
	struct rlog_event ev;

	syslog_clock_init(&clock, NOW_S);
	ck_assert_msg(rlog_parse(c->line, &clock, &ev) == c->kind,
	    "%s: kind got %d, want %d", c->name, ev.kind, c->kind);
	if (c->kind == RLOG_SKIP)
		ck_assert_msg(ev.skip == c->skip, "%s: skip got %d, want %d",
		    c->name, ev.skip, c->skip);
	ck_assert_msg(strcmp(ev.qid, c->qid) == 0, "%s: qid got \"%s\", want \"%s\"",
	    c->name, ev.qid, c->qid);
	ck_assert_msg(strcmp(ev.client_addr, c->client_addr) == 0,
	    "%s: client got \"%s\", want \"%s\"", c->name, ev.client_addr, c->client_addr);
	ck_assert_msg(strcmp(ev.sender, c->sender) == 0,
	    "%s: sender got \"%s\", want \"%s\"", c->name, ev.sender, c->sender);
	ck_assert_msg(strcmp(ev.rcpt, c->rcpt) == 0,
	    "%s: rcpt got \"%s\", want \"%s\"", c->name, ev.rcpt, c->rcpt);
	ck_assert_msg(strcmp(ev.user, c->user) == 0,
	    "%s: user got \"%s\", want \"%s\"", c->name, ev.user, c->user);
	ck_assert_msg(strcmp(ev.helo, c->helo) == 0,
	    "%s: helo got \"%s\", want \"%s\"", c->name, ev.helo, c->helo);
	if (c->time_ms != 0)
		ck_assert_msg(ev.time_ms == c->time_ms, "%s: time got %lld, want %lld",
		    c->name, (long long)ev.time_ms, c->time_ms);
}
END_TEST

/* A syslog head has no year: December read in January is last year's,
 * and a log running over New Year moves on to the next. */
START_TEST(test_year)
{
	struct syslog_clock clock;
	struct rlog_event ev;
	int64_t dec31, jan1;

	syslog_clock_init(&clock, 1798761600 + 86400 * 3);	/* 2027-01-04 */
	rlog_parse("Dec 31 23:59:59 mx postfix/qmgr[1]: ABCDE12345: removed", &clock, &ev);
	dec31 = ev.time_ms;
	rlog_parse("Jan  1 00:00:01 mx postfix/qmgr[1]: ABCDE12345: removed", &clock, &ev);
	jan1 = ev.time_ms;
	ck_assert_msg(dec31 == 1798761599000LL, "Dec 31 read in January: got %lld",
	    (long long)dec31);
	ck_assert_msg(jan1 - dec31 == 2000, "over New Year: %lld ms apart, want 2000",
	    (long long)(jan1 - dec31));
}
END_TEST

START_TEST(test_parse_time)
{
	ck_assert(rlog_parse_time("2026-12-01") == 1796083200000LL);
	ck_assert(rlog_parse_time("2026-12-01 01:02") == 1796083200000LL + 3720000);
	ck_assert(rlog_parse_time("2026-12-01T01:02:03") == 1796083200000LL + 3723000);
	ck_assert(rlog_parse_time("2026-13-01") == -1);
	ck_assert(rlog_parse_time("yesterday") == -1);
	ck_assert(rlog_parse_time("2026-12-01 01:02 junk") == -1);
}
END_TEST

/* ------------------------------------------- the recorded Postfix log */

static const char fixture_policy[] =
    "lists = { local_domains = [ \"example.com\" ]; };\n"
    "relay = { local_domains = \"@local_domains\"; };\n"
    "rules = (\n"
    "  { name = \"client-msgs\"; unless = { authenticated = true; };\n"
    "    limit = { count = \"messages\"; per = [ \"client_addr\" ]; rate = \"RATE\"; }; },\n"
    "  { name = \"client-rcpts\";\n"
    "    limit = { count = \"recipients\"; per = [ \"client_addr\" ]; rate = \"4/1h\"; }; },\n"
    "  { name = \"user-msgs\";\n"
    "    limit = { count = \"messages\"; per = [ \"auth_user\" ]; rate = \"2/1h\"; }; },\n"
    "  { name = \"bounces\"; when = { sender = \"<>\"; };\n"
    "    limit = { count = \"messages\"; per = [ \"sender\" ]; rate = \"2/1h\"; }; }\n"
    ");\n";

struct fixture {
	struct rrun run;
	struct rtxn_stats stats;
};

static void f_connect(void *a, struct rtxn_conn *c) { rrun_connect(a, c); }
static void f_message(void *a, struct rtxn_msg *m) { rrun_message(a, m); }
static void f_disconnect(void *a, struct rtxn_conn *c) { rrun_disconnect(a, c); }

/* Replay tests/data/replay/postfix.log through the policy above with
 * client-msgs at `rate`; skip_every: drop every Nth line (0: none). */
static void
replay_fixture(struct fixture *f, const char *rate, int skip_every)
{
	static const struct rtxn_ops ops = { f_connect, f_message, f_disconnect };
	char text[sizeof fixture_policy + 16], line[4096], *at;
	struct syslog_clock clock;
	struct rlog_event ev;
	struct policy *p;
	struct rtxn *t;
	FILE *fp;
	int n = 0;

	snprintf(text, sizeof text, "%s", fixture_policy);
	at = strstr(text, "RATE");
	memmove(at + strlen(rate), at + 4, strlen(at + 4) + 1);
	memcpy(at, rate, strlen(rate));
	p = load_text(text);
	rrun_init(&f->run, p, store_memory_new(1000), 0);
	t = rtxn_new(&ops, &f->run, 0, 0);
	fp = fopen("data/replay/postfix.log", "r");
	ck_assert_msg(fp != NULL, "cannot read data/replay/postfix.log");
	syslog_clock_init(&clock, NOW_S);
	while (fgets(line, sizeof line, fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((skip_every && ++n % skip_every == 0) ||
		    rlog_parse(line, &clock, &ev) == RLOG_SKIP)
			continue;
		rtxn_add(t, &ev);
	}
	fclose(fp);
	rtxn_finish(t, &f->stats);
	rtxn_free(t);
}

static void
fixture_free(struct fixture *f)
{
	store_free(f->run.st);
	pol_unref(f->run.p);
	rrun_free(&f->run);
}

static unsigned long
refused_by(const struct fixture *f, const char *rule)
{
	int i;

	for (i = 0; i < f->run.res.nrules; i++)
		if (strcmp(f->run.res.rules[i].name, rule) == 0)
			return f->run.res.rules[i].refused;
	ck_abort_msg("no rule %s", rule);
	return 0;
}

/* The traffic (tests/e2e/test_replay.sh): 127.0.0.21 five messages,
 * .22 one to five recipients, alice three, .24 three bounces, .25 one
 * Postfix refused, .26 a relay attempt, .27 and .28 two each at once. */
START_TEST(test_fixture_same_policy)
{
	struct fixture f;

	replay_fixture(&f, "3/1h", 0);
	ck_assert_uint_eq(refused_by(&f, "client-msgs"), 2);
	ck_assert_uint_eq(refused_by(&f, "client-rcpts"), 1);
	ck_assert_uint_eq(refused_by(&f, "user-msgs"), 1);
	ck_assert_uint_eq(refused_by(&f, "bounces"), 1);
	ck_assert_uint_eq(refused_by(&f, "relay"), 1);
	ck_assert_uint_eq(f.run.res.total.accepted, 12);
	ck_assert_uint_eq(f.run.res.total.mta_refused, 1);
	ck_assert_uint_eq(f.stats.messages, 12);
	ck_assert_uint_eq(f.stats.orphans, 0);
	ck_assert_uint_eq(rres_accepted_of(&f.run.res, "127.0.0.21"), 3);
	ck_assert_uint_eq(rres_accepted_of(&f.run.res, "alice"), 2);
	fixture_free(&f);
}
END_TEST

START_TEST(test_fixture_strict)
{
	struct fixture f;

	replay_fixture(&f, "1/1h", 0);
	ck_assert_uint_eq(refused_by(&f, "client-msgs"), 8);
	ck_assert_uint_eq(refused_by(&f, "bounces"), 0);
	ck_assert_uint_eq(f.run.res.total.accepted, 7);
	ck_assert_uint_eq(rres_key_refused(&f.run.res, "client-msgs", "127.0.0.21"), 4);
	fixture_free(&f);
}
END_TEST

/* Every 7th line lost: nothing crashes, every refusal still has a rule,
 * and messages whose start was lost are counted, not guessed. */
START_TEST(test_fixture_lines_missing)
{
	struct fixture f;

	replay_fixture(&f, "3/1h", 7);
	ck_assert(f.run.res.total.transactions > 0);
	ck_assert(f.run.res.total.transactions < 20);
	ck_assert(f.stats.orphans > 0);
	fixture_free(&f);
}
END_TEST

static Suite *
replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("replay");

	tcase_add_loop_test(tc, test_parse, 0,
	    (int)(sizeof parse_cases / sizeof parse_cases[0]));
	tcase_add_test(tc, test_year);
	tcase_add_test(tc, test_parse_time);
	tcase_add_test(tc, test_fixture_same_policy);
	tcase_add_test(tc, test_fixture_strict);
	tcase_add_test(tc, test_fixture_lines_missing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	return check_run_suite(replay_suite());
}
