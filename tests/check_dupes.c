/*
 * check_dupes: body and header fingerprints, and duplicate rules through
 * the engine and the memory store with a driven clock.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dupes.h"
#include "check_util.h"
#include "policy.h"
#include "replies.h"
#include "store.h"

static void
fp_of(const char *body, size_t chunk, unsigned char fp[DUP_FP_LEN])
{
	struct dup_body b;
	size_t len = strlen(body), i;

	dup_body_init(&b);
	for (i = 0; i < len; i += chunk)
		dup_body_add(&b, body + i, len - i < chunk ? len - i : chunk);
	dup_body_final(&b, fp);
}

struct fp_case {
	const char *name, *a, *b;
	int same;
};

static const struct fp_case fp_cases[] = {
	{ "identical", "Hello\r\nworld\r\n", "Hello\r\nworld\r\n", 1 },
	{ "CRLF vs LF", "Hello\r\nworld\r\n", "Hello\nworld\n", 1 },
	{ "trailing spaces", "Hello  \t\r\nworld \r\n", "Hello\nworld\n", 1 },
	{ "no final newline vs spaces", "Hello\nworld", "Hello\nworld   ", 1 },
	{ "inner spaces kept", "Hello world\n", "Helloworld\n", 0 },
	{ "leading spaces kept", " Hello\n", "Hello\n", 0 },
	{ "one byte changed", "Hello\r\nworld\r\n", "Hello\r\nworle\r\n", 0 },
	{ "trailing empty lines", "Hello\n", "Hello\n\n\n", 1 },
	{ "trailing blank lines, CRLF", "Hello\r\n\r\n  \r\n\t\r\n", "Hello\n", 1 },
	{ "inner empty line kept", "Hello\n\nworld\n", "Hello\nworld\n", 0 },
	{ "final line end kept", "Hello", "Hello\n\n", 0 },
	{ "lone CR inside", "a\rb\n", "ab\n", 0 },
	{ "empty vs newline", "", "\n", 0 },
};

START_TEST(test_fingerprints)
{
	unsigned char fa[DUP_FP_LEN], fb[DUP_FP_LEN];
	static const size_t chunks[] = { 1, 2, 3, 5, 7, 64, 100000 };
	size_t i, k;

	for (i = 0; i < NELEM(fp_cases); i++) {
		const struct fp_case *c = &fp_cases[i];

		for (k = 0; k < NELEM(chunks); k++) {
			fp_of(c->a, chunks[k], fa);
			fp_of(c->b, 100000, fb);
			ck_assert_msg((memcmp(fa, fb, DUP_FP_LEN) == 0) == c->same,
			    "%s (chunks of %zu): got %s, want %s", c->name,
			    chunks[k], c->same ? "different" : "same",
			    c->same ? "same" : "different");
		}
	}
}
END_TEST

/* A long run of white space, split anywhere, still gives one answer. */
START_TEST(test_long_whitespace_any_chunking)
{
	unsigned char f1[DUP_FP_LEN], f2[DUP_FP_LEN];
	char *body = malloc(5003);

	memset(body, ' ', 5000);
	body[0] = 'x';
	body[4000] = 'y';
	memcpy(body + 5000, "\r\n", 3);
	fp_of(body, 1, f1);
	fp_of(body, 333, f2);
	ck_assert_mem_eq(f1, f2, DUP_FP_LEN);
	free(body);
}
END_TEST

struct hdr_case {
	const char *name, *a, *b;
	int msgid, same;
};

static const struct hdr_case hdr_cases[] = {
	{ "brackets", "<abc@example.com>", "abc@example.com", 1, 1 },
	{ "spaces", "  <abc@example.com>  ", "<abc@example.com>", 1, 1 },
	{ "folded", "part one\r\n\tpart two", "part one\tpart two", 0, 1 },
	{ "different", "<abc@example.com>", "<abd@example.com>", 1, 0 },
	{ "brackets kept for plain headers", "<x>", "x", 0, 0 },
};

START_TEST(test_header_fingerprints)
{
	unsigned char fa[DUP_FP_LEN], fb[DUP_FP_LEN];
	size_t i;

	for (i = 0; i < NELEM(hdr_cases); i++) {
		const struct hdr_case *c = &hdr_cases[i];

		ck_assert_int_eq(dup_header_fp(c->a, c->msgid, fa), 0);
		ck_assert_int_eq(dup_header_fp(c->b, c->msgid, fb), 0);
		ck_assert_msg((memcmp(fa, fb, DUP_FP_LEN) == 0) == c->same,
		    "%s: got %s", c->name, c->same ? "different" : "same");
	}
	ck_assert_int_eq(dup_header_fp("   ", 1, fa), -1);
	ck_assert_int_eq(dup_header_fp("<>", 1, fa), -1);
	ck_assert_int_eq(dup_header_fp(NULL, 1, fa), -1);
}
END_TEST

/* ---- through the engine ---- */

struct msg {
	const char *client, *sender, *rcpt1, *rcpt2, *msgid, *body;
};

/* One whole message; the enforced verdict of its last stage. */
static struct pol_verdict
send_msg(struct policy *p, struct store *st, const struct msg *m, uint64_t now)
{
	struct pol_env env = { .client_addr = m->client, .sender = m->sender };
	struct pol_conn *c = pol_conn_new(p, st);
	const char *rcpts[2] = { m->rcpt1, m->rcpt2 };
	struct pol_verdict v;
	int i;

	pol_eval(c, POL_MAIL, &env, now, &v);
	for (i = 0; i < 2 && rcpts[i]; i++) {
		env.rcpt = rcpts[i];
		pol_eval(c, POL_RCPT, &env, now, &v);
	}
	env.rcpt = NULL;
	env.hdr_name = "Subject";
	env.hdr_value = "hello";
	pol_eval(c, POL_HEADER, &env, now, &v);
	if (m->msgid) {
		env.hdr_name = "Message-ID";
		env.hdr_value = m->msgid;
		pol_eval(c, POL_HEADER, &env, now, &v);
	}
	env.hdr_name = env.hdr_value = NULL;
	pol_eval(c, POL_EOH, &env, now, &v);
	if (v.action == POL_CONTINUE) {
		env.body = m->body;
		env.body_len = strlen(m->body);
		pol_eval(c, POL_BODY, &env, now, &v);
		env.body = NULL;
		pol_eval(c, POL_EOM, &env, now, &v);
	}
	pol_msg_end(c, v.action == POL_CONTINUE, now);
	pol_conn_free(c);
	return v;
}

static const char body_policy[] =
    "rules = ( { name = \"same-body\"; duplicates = { of = \"body\"; per = [ \"client_addr\" ];\n"
    "  max = 2; window = \"10m\"; }; } );\n";

START_TEST(test_body_rule)
{
	struct policy *p = load_text(body_policy);
	struct store *st = store_memory_new(10000);
	struct msg m = { "192.0.2.1", "a@b.test", "x@example.com", NULL, NULL, "Hi\r\nthere\r\n" };
	struct msg other = m;
	struct pol_verdict v;

	ck_assert(pol_needs_stage(p, POL_BODY));
	ck_assert(!pol_answers_at(p, POL_BODY));	/* gathered, decided at eom */
	ck_assert_int_eq(send_msg(p, st, &m, 0).action, POL_CONTINUE);
	ck_assert_int_eq(send_msg(p, st, &m, 1000).action, POL_CONTINUE);
	v = send_msg(p, st, &m, 2000);
	ck_assert_int_eq(v.action, POL_REJECT);
	ck_assert_int_eq(v.reply->code, 557);
	ck_assert_str_eq(v.reply->xcode, "5.7.1");
	ck_assert_str_eq(v.rule, "same-body");
	ck_assert_uint_eq(v.vars.count, 2);
	ck_assert_uint_eq(v.vars.window_s, 600);
	/* the window began with the first copy, at 0: it ends in 598 s */
	ck_assert_uint_eq(v.vars.retry_after_s, 598);
	ck_assert_int_eq(v.over_first, 1);	/* the notice, once per counter */
	ck_assert_str_eq(v.key, "192.0.2.1");
	other.body = "Hi\r\nthere!\r\n";
	ck_assert_int_eq(send_msg(p, st, &other, 3000).action, POL_CONTINUE);
	other = m;
	other.client = "192.0.2.2";	/* per client: another client's count */
	ck_assert_int_eq(send_msg(p, st, &other, 3000).action, POL_CONTINUE);
	/* a retrying loop stays refused: refused copies count */
	v = send_msg(p, st, &m, 4000);
	ck_assert_int_eq(v.action, POL_REJECT);
	ck_assert_int_eq(v.over_first, 0);
	/* after the window, the count starts again */
	ck_assert_int_eq(send_msg(p, st, &m, 601000).action, POL_CONTINUE);
	store_free(st);
	pol_unref(p);
}
END_TEST

START_TEST(test_count_refused_false)
{
	struct policy *p = load_text("rules = ( { name = \"d\"; duplicates = { of = \"body\"; "
	    "max = 1; window = \"1m\"; count_refused = false; }; } );");
	struct store *st = store_memory_new(10000);
	struct msg m = { "192.0.2.1", "a@b.test", "x@example.com", NULL, NULL, "body\n" };
	struct pol_verdict v;

	ck_assert_int_eq(send_msg(p, st, &m, 0).action, POL_CONTINUE);
	v = send_msg(p, st, &m, 1);
	ck_assert_int_eq(v.action, POL_REJECT);
	ck_assert_uint_eq(v.vars.count, 1);
	v = send_msg(p, st, &m, 2);
	ck_assert_uint_eq(v.vars.count, 1);	/* refusals did not count */
	store_free(st);
	pol_unref(p);
}
END_TEST

START_TEST(test_message_id_rule)
{
	struct policy *p = load_text("rules = ( { name = \"mid\"; duplicates = { of = \"message_id\"; "
	    "max = 1; window = \"1h\"; }; } );");
	struct store *st = store_memory_new(10000);
	struct msg m = { "192.0.2.1", "a@b.test", "x@example.com", NULL, "<1@x.test>", "a\n" };
	struct msg none = { "192.0.2.1", "a@b.test", "x@example.com", NULL, NULL, "a\n" };
	struct pol_verdict v;

	ck_assert(!pol_needs_stage(p, POL_BODY));
	ck_assert(pol_needs_stage(p, POL_HEADER));
	ck_assert(!pol_answers_at(p, POL_HEADER));	/* gathered, decided at eoh */
	ck_assert(pol_answers_at(p, POL_EOH));
	ck_assert_int_eq(send_msg(p, st, &m, 0).action, POL_CONTINUE);
	m.client = "192.0.2.99";	/* no per: anywhere */
	m.msgid = " 1@x.test ";
	v = send_msg(p, st, &m, 1);
	ck_assert_int_eq(v.action, POL_REJECT);
	ck_assert_int_eq(v.stage, POL_EOH);
	/* without a Message-ID a message never matches */
	ck_assert_int_eq(send_msg(p, st, &none, 2).action, POL_CONTINUE);
	ck_assert_int_eq(send_msg(p, st, &none, 3).action, POL_CONTINUE);
	store_free(st);
	pol_unref(p);
}
END_TEST

/* per rcpt_domain: counted once per recipient domain of each message. */
START_TEST(test_per_rcpt_domain)
{
	struct policy *p = load_text("rules = ( { name = \"dom\"; duplicates = { of = \"body\"; "
	    "per = \"rcpt_domain\"; max = 1; window = \"1h\"; }; } );");
	struct store *st = store_memory_new(10000);
	struct msg a = { "192.0.2.1", "s@x.test", "u1@one.test", "u2@one.test", NULL, "same\n" };
	struct msg b = { "192.0.2.1", "s@x.test", "u3@two.test", NULL, NULL, "same\n" };

	ck_assert_int_eq(send_msg(p, st, &a, 0).action, POL_CONTINUE);
	ck_assert_int_eq(send_msg(p, st, &b, 0).action, POL_CONTINUE);
	ck_assert_int_eq(send_msg(p, st, &b, 0).action, POL_REJECT);
	a.rcpt2 = NULL;
	ck_assert_int_eq(send_msg(p, st, &a, 0).action, POL_REJECT);
	store_free(st);
	pol_unref(p);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_fingerprints,
		test_long_whitespace_any_chunking,
		test_header_fingerprints,
		test_body_rule,
		test_count_refused_false,
		test_message_id_rule,
		test_per_rcpt_domain,
	};

	return check_run("dupes", "dupes", tests, NELEM(tests));
}
