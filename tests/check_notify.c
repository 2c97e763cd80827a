/*
 * check_notify.c: the mail a rule's notify sends (milter/notify.c's
 * notify_compose): what it says, and that client values cannot add a
 * header, a line or a shell word: they are cleaned to printable ASCII.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

#define NOW	1796125102	/* 2026-12-01 11:38:22 UTC */

static const struct notify_event plain = {
	.to = "postmaster@example.com", .rule = "client-msgs",
	.key = "192.0.2.7", .limit = "3/1h", .verb = "tempfail", .stage = "mail",
	.code = 453, .xcode = "4.7.0", .queue_id = "NOQUEUE",
	.client_name = "mail.example.net", .client_addr = "192.0.2.7",
	.sender = "alice@example.net",
};

static char *
compose(const struct notify_event *e, const char *policy)
{
	static char buf[NOTIFY_BODY];

	notify_compose(e, NOW, policy, buf, sizeof buf);
	return buf;
}

static const char *const plain_lines[] = {
	"To: postmaster@example.com\n",
	"Subject: milter-policy: client-msgs over its limit for 192.0.2.7\n",
	"Auto-Submitted: auto-generated\n",
	"\n\nA counter of rule client-msgs went over its limit",
	"(tempfail) at mail with 453 4.7.0.\n",
	"  key:      192.0.2.7\n",
	"  limit:    3/1h\n",
	"  when:     2026-12-01 11:38:22 UTC\n",
	"  client:   mail.example.net[192.0.2.7]\n",
	"  sender:   <alice@example.net>\n",
	"  milter-policy ctl -c /etc/mp.conf show client-msgs '192.0.2.7'\n",
	"  milter-policy ctl -c /etc/mp.conf reset client-msgs '192.0.2.7'\n",
};

START_TEST(test_plain)
{
	const char *m = compose(&plain, "/etc/mp.conf");
	size_t i;

	for (i = 0; i < sizeof plain_lines / sizeof plain_lines[0]; i++)
		ck_assert_msg(strstr(m, plain_lines[i]) != NULL, "no \"%s\" in:\n%s",
		    plain_lines[i], m);
}
END_TEST

/* A sender, key and client name shaped to add a header or a command. */
START_TEST(test_hostile)
{
	struct notify_event e = plain;
	const char *m, *body;

	e.sender = "a@b\r\nBcc: victim@example.org";
	e.key = "x'; rm -rf / #\n";
	e.client_name = "h\x01\xff";
	e.queue_id = NULL;
	m = compose(&e, NULL);
	body = strstr(m, "\n\n");
	ck_assert_ptr_nonnull(body);
	ck_assert_msg(strstr(m, "\nBcc:") == NULL, "a header was added:\n%s", m);
	ck_assert_msg(strstr(m, "  sender:   <a@b??Bcc:?victim@example.org>\n"), "%s", m);
	ck_assert_msg(strstr(m, "show client-msgs 'x?;?rm?-rf?/?#?'\n"), "%s", m);
	ck_assert_msg(strstr(m, "  client:   h??[192.0.2.7]\n"), "%s", m);
	ck_assert_msg(strstr(m, "  queue id: unknown\n"), "%s", m);
	ck_assert_msg(strstr(m, "milter-policy ctl show"), "no -c without a policy: %s", m);
}
END_TEST

/* A value is cut at 256 bytes: the mail stays within NOTIFY_BODY. */
START_TEST(test_long)
{
	struct notify_event e = plain;
	char big[2000];

	memset(big, 'k', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	e.key = e.sender = e.client_name = big;
	ck_assert_uint_lt(strlen(compose(&e, big)), NOTIFY_BODY);
	ck_assert_msg(strstr(compose(&e, big), "reset client-msgs '") != NULL,
	    "the reset line is there");
}
END_TEST

/* The warning about a mail not sent names the key cleaned, as the mail
 * does: a CR or LF in it must not start a forged log line. */
START_TEST(test_log_key)
{
	struct notify_event e = plain;
	char line[1024];
	FILE *f = tmpfile();
	int saved = dup(2), lines = 0;

	ck_assert_ptr_nonnull(f);
	e.key = "a@b\r\nmilter-policy[1]: forged\x1b[2J";
	log_open(NULL, 1);
	dup2(fileno(f), 2);
	notify_over_limit(&e);	/* not started: "no sender thread" */
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	while (fgets(line, sizeof line, f) != NULL) {
		lines++;
		ck_assert_msg(strstr(line, "key=a@b??milter-policy[1]:?forged?[2J: "
		    "no sender thread") != NULL, "the key not cleaned: %s", line);
	}
	ck_assert_int_eq(lines, 1);
	fclose(f);
}
END_TEST

static Suite *
notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_long);
	tcase_add_test(tc, test_log_key);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(notify_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
