/*
 * check_report.c: `milter-policy report`: its reading of this milter's
 * log lines (milter/report_log.c), its bounded counting table
 * (report_tab.c) and the counts and tables it prints (report.c,
 * report_out.c), on lines written as milter/reply.c writes them.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define NOW_S	1796083200	/* 2026-12-01 00:00:00 UTC */

struct parse_case {
	const char *name, *line;
	enum rpl_kind kind;
	const char *verb, *rule, *client_addr, *sender, *rcpt, *key, *limit;
	int code;
	long long time_ms;		/* 0: not checked */
};

static const struct parse_case parse_cases[] = {
	{ "syslog head, decision at eom",
	  "Dec  1 11:38:22 mx milter-policy[812]: 4XyZ1F2: reject stage=eom rule=same-body "
	  "code=557 xcode=5.7.1 client=mail.example.net[203.0.113.5] helo=mail.example.net "
	  "sender=<alice@example.net>",
	  RPL_DECISION, "reject", "same-body", "203.0.113.5", "alice@example.net", "", "", "",
	  557, 1796125102000LL },
	{ "rfc3339 head with an offset, rcpt, IPv6",
	  "2026-12-01T12:38:22.5+01:00 mx milter-policy[1]: NOQUEUE: reject stage=rcpt "
	  "rule=relay code=550 xcode=5.7.1 client=unknown[2001:db8::1] sender=<a@b> rcpt=<c@d>",
	  RPL_DECISION, "reject", "relay", "2001:db8::1", "a@b", "c@d", "", "", 550,
	  1796125102500LL },
	{ "stderr head (-f): no time",
	  "milter-policy[99]: NOQUEUE: tempfail stage=mail rule=client-msgs code=453 "
	  "xcode=4.7.0 client=unknown[127.0.0.21] sender=<>",
	  RPL_DECISION, "tempfail", "client-msgs", "127.0.0.21", "", "", "", "", 453, -1 },
	{ "over-limit notice",
	  "Dec  1 11:38:22 mx milter-policy[812]: NOQUEUE: over-limit rule=client-msgs "
	  "key=127.0.0.21 limit=3/1h",
	  RPL_OVER, "", "client-msgs", "", "", "", "127.0.0.21", "3/1h", 0, 0 },
	{ "dry run",
	  "Dec  1 11:38:22 mx milter-policy[812]: NOQUEUE: would-tempfail stage=rcpt rule=r "
	  "code=452 xcode=4.5.3 client=x[192.0.2.1] sender=<s@x> rcpt=<t@y>",
	  RPL_DECISION, "would-tempfail", "r", "192.0.2.1", "s@x", "t@y", "", "", 452, 0 },
	{ "discard without a reply",
	  "Dec  1 11:38:22 mx milter-policy[812]: Q1: discard stage=eom rule=d "
	  "client=x[192.0.2.1] sender=<s@x>",
	  RPL_DECISION, "discard", "d", "192.0.2.1", "s@x", "", "", "", 0, 0 },
	{ "error line with on_error",
	  "Dec  1 11:38:22 mx milter-policy[812]: NOQUEUE: error stage=mail rule=c code=451 "
	  "xcode=4.3.0 client=x[192.0.2.1] sender=<s@x> on_error=tempfail",
	  RPL_DECISION, "error", "c", "192.0.2.1", "s@x", "", "", "", 451, 0 },
	{ "name with brackets: the address is in the last ones",
	  "Dec  1 11:38:22 mx milter-policy[812]: NOQUEUE: reject stage=connect rule=deny "
	  "code=554 xcode=5.7.1 client=a[b][192.0.2.7]",
	  RPL_DECISION, "reject", "deny", "192.0.2.7", "", "", "", "", 554, 0 },
	{ "a forged line's control bytes (logger -t milter-policy) are not kept",
	  "milter-policy[1]: Q: reject stage=mail rule=x\x1b]0;pwned\x07 code=550 "
	  "client=h\x1b[2J[192.0.2.9] sender=<a\x9b@b>",
	  RPL_DECISION, "reject", "x?]0;pwned?", "192.0.2.9", "a?@b", "", "", "", 550, 0 },
	{ "Postfix's own line", "Dec  1 11:38:22 mx postfix/smtpd[1]: connect from x[1.2.3.4]",
	  RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
	{ "another program named like us",
	  "Dec  1 11:38:22 mx milter-policy-old[1]: NOQUEUE: reject stage=mail rule=x "
	  "code=550 xcode=5.7.1 client=x[1.2.3.4]", RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
	{ "start line", "Dec  1 11:38:22 mx milter-policy[1]: starting: policy /p, 3 rules, "
	  "socket unix:/s", RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
	{ "stats line", "milter-policy[1]: stats: connections=3 messages=2", RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
	{ "unknown verb", "milter-policy[1]: Q: accept stage=mail rule=x client=x[1.2.3.4]",
	  RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
	{ "decision without client", "milter-policy[1]: Q: reject stage=mail rule=x code=550",
	  RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
	{ "bad code", "milter-policy[1]: Q: reject stage=mail rule=x code=55x "
	  "client=x[1.2.3.4]", RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
	{ "sender not bracketed", "milter-policy[1]: Q: reject stage=mail rule=x "
	  "client=x[1.2.3.4] sender=a@b", RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
	{ "over-limit without limit", "milter-policy[1]: Q: over-limit rule=x key=y", RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
	{ "no pid", "milter-policy[]: Q: reject stage=mail rule=x client=x[1.2.3.4]", RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
	{ "bad time", "Dec 41 11:38:22 mx milter-policy[1]: Q: reject stage=mail rule=x "
	  "client=x[1.2.3.4]", RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
	{ "empty", "", RPL_SKIP, "", "", "", "", "", "", "", 0, 0 },
};

START_TEST(test_parse)
{
	const struct parse_case *c = &parse_cases[_i];
	struct syslog_clock clock;
	struct rpl_event ev;
	enum rpl_kind k;

	syslog_clock_init(&clock, NOW_S);
	k = rpl_parse(c->line, &clock, &ev);
	ck_assert_msg(k == c->kind, "%s: kind got %d, want %d", c->name, k, c->kind);
	if (k == RPL_SKIP)
		return;
#define STR(f) ck_assert_msg(strcmp(ev.f, c->f) == 0, "%s: " #f " got \"%s\", want \"%s\"", \
	c->name, ev.f, c->f)
	STR(verb); STR(rule); STR(client_addr); STR(sender); STR(rcpt); STR(key); STR(limit);
#undef STR
	ck_assert_msg(ev.code == c->code, "%s: code got %d, want %d", c->name, ev.code, c->code);
	if (c->time_ms != 0)
		ck_assert_msg(ev.time_ms == c->time_ms, "%s: time got %lld, want %lld",
		    c->name, (long long)ev.time_ms, c->time_ms);
}
END_TEST

static const char *const log_lines[] = {
	"Dec  1 10:05:00 mx postfix/smtpd[1]: connect from x[127.0.0.21]",
	"Dec  1 10:05:01 mx milter-policy[9]: NOQUEUE: over-limit rule=client-msgs key=127.0.0.21 limit=3/1h",
	"Dec  1 10:05:01 mx milter-policy[9]: NOQUEUE: tempfail stage=mail rule=client-msgs code=453 xcode=4.7.0 client=x[127.0.0.21] sender=<a@x>",
	"Dec  1 10:06:01 mx milter-policy[9]: NOQUEUE: tempfail stage=mail rule=client-msgs code=453 xcode=4.7.0 client=x[127.0.0.21] sender=<a@x>",
	"Dec  1 11:00:00 mx milter-policy[9]: NOQUEUE: reject stage=rcpt rule=relay code=550 xcode=5.7.1 client=y[127.0.0.26] sender=<b@y> rcpt=<u@other.org>",
	"Dec  1 11:10:00 mx milter-policy[9]: NOQUEUE: would-reject stage=rcpt rule=relay code=550 xcode=5.7.1 client=y[127.0.0.26] sender=<b@y> rcpt=<v@other.org>",
	"Dec  1 11:20:00 mx milter-policy[9]: Q1: discard stage=eom rule=d client=y[127.0.0.26] sender=<b@y>",
	"Dec  1 11:30:00 mx milter-policy[9]: stats: connections=3",
};

/* The report of log_lines, printed into a string (the caller frees). */
static char *
printed(int json)
{
	struct report r;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *out = open_memstream(&buf, &len);

	report_init(&r, NOW_S);
	for (i = 0; i < sizeof log_lines / sizeof log_lines[0]; i++)
		report_line(&r, log_lines[i]);
	ck_assert_uint_eq(r.lines, 8);
	ck_assert_uint_eq(r.ours, 6);
	ck_assert_uint_eq(r.refused, 3);
	ck_assert_uint_eq(r.other, 1);
	ck_assert_uint_eq(r.dry_run, 1);
	ck_assert_uint_eq(r.over, 1);
	report_print(&r, out, 10, json);
	fclose(out);
	report_free(&r);
	return buf;
}

static const char *const text_rows[] = {
	"milter-policy report: 2026-12-01 10:05:01 to 2026-12-01 11:20:00 (the log's time)\n",
	"  client-msgs 453  tempfail     2\n",
	"  relay       550  reject       1\n",
	"  d           -    discard      1\n",
	"  127.0.0.21     2\n",
	"  client-msgs 127.0.0.21 3/1h      1\n",
	"  relay 550  would-reject     1\n",
	"  2026-12-01 10:00       2       0          1\n",
	"  2026-12-01 11:00       1       1          0\n",
};

START_TEST(test_text)
{
	char *out = printed(0);
	size_t i;

	for (i = 0; i < sizeof text_rows / sizeof text_rows[0]; i++)
		ck_assert_msg(strstr(out, text_rows[i]) != NULL,
		    "row %zu: \"%s\" not in:\n%s", i, text_rows[i], out);
	free(out);
}
END_TEST

START_TEST(test_json)
{
	char *out = printed(1);

	ck_assert_msg(strstr(out, "\"refused\": 3, \"other_decisions\": 1, "
	    "\"dry_run\": 1, \"over_limit_notices\": 1") != NULL, "totals: %s", out);
	ck_assert_msg(strstr(out, "{\"rule\": \"client-msgs\", \"code\": 453, "
	    "\"verb\": \"tempfail\", \"count\": 2}") != NULL, "refusals: %s", out);
	ck_assert_msg(strstr(out, "{\"hour\": \"2026-12-01 10:00\", \"refused\": 2, "
	    "\"dry_run\": 0, \"over_limit\": 1}") != NULL, "hours: %s", out);
	free(out);
}
END_TEST

/* A hostile value is escaped in the JSON, never written raw; its control
 * and non-ASCII bytes were made '?' as it was read. */
START_TEST(test_json_escape)
{
	struct report r;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	report_init(&r, NOW_S);
	report_line(&r, "milter-policy[1]: Q: reject stage=mail rule=x code=550 "
	    "client=x[1.2.3.4] sender=<\"\\\x01\xff>");
	report_print(&r, out, 0, 1);
	fclose(out);
	report_free(&r);
	ck_assert_msg(strstr(buf, "\"sender\": \"\\\"\\\\??\"") != NULL,
	    "escaped: %s", buf);
	free(buf);
}
END_TEST

/* Past RTAB_MAX keys, new keys are counted under other. */
START_TEST(test_tab_bound)
{
	struct rtab t = { 0 };
	char key[32];
	size_t n;
	int i;

	for (i = 0; i < RTAB_MAX + 10; i++) {
		snprintf(key, sizeof key, "k%d", i);
		rtab_add(&t, key, 0, 1);
	}
	rtab_add(&t, "k0", 0, 5);
	rtab_sorted(&t, 0, &n);
	ck_assert_uint_eq(n, RTAB_MAX);
	ck_assert_uint_eq(t.other[0], 10);
	ck_assert_str_eq(t.sorted[0]->key, "k0");
	ck_assert_uint_eq(t.sorted[0]->n[0], 6);
	rtab_free(&t);
}
END_TEST

static Suite *
report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");

	tcase_add_loop_test(tc, test_parse, 0,
	    sizeof parse_cases / sizeof parse_cases[0]);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_json_escape);
	tcase_add_test(tc, test_tab_bound);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(report_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
