/*
 * check_dnsl.c: DNS list conditions: list entries and their filters,
 * query names (IPv4 octets, IPv6 nibbles, host names), and rules that use
 * them, with a resolver that answers from a table (the real one, c-ares
 * against a private DNS server, is tested in tests/e2e/test_dns.sh).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "dnsl.h"
#include "policy.h"
#include "replies.h"
#include "store.h"

START_TEST(test_parse)
{
	static const struct { const char *in; int ok; uint32_t pass, fail; } cases[] = {
		{ "zen.spamhaus.org", 1, 0x7f000002, 0 },
		{ "zen.spamhaus.org=127.0.0.[2..11]", 1, 0x7f00000b, 0x7f00000c },
		{ "zen.spamhaus.org=127.0.0.[2;4]", 1, 0x7f000004, 0x7f000003 },
		{ "zen.spamhaus.org=127.0.0.2", 1, 0x7f000002, 0x7f000003 },
		{ "list.example&0.0.0.4", 1, 0x7f000006, 0x7f000003 },
		{ "list.example=127.0.0.[2..x]", 0, 0, 0 },
		{ "list.example=127.0.0", 0, 0, 0 },
		{ "list.example=127.0.0.256", 0, 0, 0 },
		{ "list.example&0.0.0.0", 0, 0, 0 },
		{ "", 0, 0, 0 },
		{ "bad zone", 0, 0, 0 },
		{ ".list.example", 0, 0, 0 },
	};
	struct dnsl_answer a = { .status = DNSL_LISTED, .naddrs = 1 };
	char err[256];
	size_t i;

	for (i = 0; i < NELEM(cases); i++) {
		struct dnsl l;
		int rc = dnsl_parse(cases[i].in, &l, err, sizeof err);

		ck_assert_msg((rc == 0) == cases[i].ok, "%s: got %d", cases[i].in, rc);
		if (rc != 0)
			continue;
		a.addrs[0] = cases[i].pass;
		ck_assert_msg(dnsl_passes(&l, &a), "%s: %08x should pass",
		    cases[i].in, cases[i].pass);
		a.addrs[0] = cases[i].fail;
		ck_assert_msg(cases[i].fail == 0 || !dnsl_passes(&l, &a),
		    "%s: %08x should not pass", cases[i].in, cases[i].fail);
		free(l.zone);
	}
}
END_TEST

START_TEST(test_qname)
{
	static const struct { enum dnsl_subject s; const char *v, *want; } cases[] = {
		{ DNSL_CLIENT_ADDR, "192.0.2.7", "7.2.0.192.bl.test" },
		{ DNSL_CLIENT_ADDR, "2001:db8::1",
		  "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test" },
		{ DNSL_CLIENT_ADDR, "not-an-ip", NULL },
		{ DNSL_CLIENT_ADDR, NULL, NULL },
		{ DNSL_HELO, "Mail.Example.NET.", "mail.example.net.bl.test" },
		{ DNSL_HELO, "[192.0.2.7]", NULL },
		{ DNSL_HELO, "localhost", NULL },
		{ DNSL_SENDER_DOMAIN, "bad\r\nname.example", NULL },
	};
	struct dnsl l = { .zone = (char *)"bl.test" };
	char out[DNSL_NAME_MAX];
	size_t i;

	for (i = 0; i < NELEM(cases); i++) {
		int rc = dnsl_qname(&l, cases[i].s, cases[i].v, out);

		if (cases[i].want == NULL) {
			ck_assert_msg(rc < 0, "%s: got %s, want none",
			    cases[i].v ? cases[i].v : "NULL", out);
			continue;
		}
		ck_assert_msg(rc == 0 && strcmp(out, cases[i].want) == 0,
		    "%s: got %s, want %s", cases[i].v, rc == 0 ? out : "none",
		    cases[i].want);
	}
}
END_TEST

/* A resolver from a table: name -> address and TXT, "?" unknown. */
static const struct { const char *qname, *addr, *txt; } zone[] = {
	{ "7.2.0.192.bl.test", "127.0.0.2", "see bl.test\r\nfor more" },
	{ "8.2.0.192.bl.test", "127.0.0.12", "" },
	{ "9.2.0.192.wl.test", "127.0.0.2", "" },
	{ "10.2.0.192.bl.test", "?", "" },
	{ "spam.example.dbl.test", "127.0.1.2", "" },
};
static int finds;

static void
table_find(void *arg, const char *zn, const char *qname, int txt,
    struct dnsl_answer *out)
{
	size_t i;

	(void)arg;
	(void)zn;
	(void)txt;
	finds++;
	out->status = DNSL_NOT_LISTED;
	for (i = 0; i < NELEM(zone); i++) {
		if (strcmp(zone[i].qname, qname) != 0)
			continue;
		if (strcmp(zone[i].addr, "?") == 0) {
			out->status = DNSL_UNKNOWN;
			return;
		}
		out->status = DNSL_LISTED;
		out->naddrs = 1;
		out->addrs[0] = 0x7f000000 | (uint32_t)atoi(strrchr(zone[i].addr, '.') + 1) |
		    (uint32_t)atoi(zone[i].addr + 6) << 8;
		snprintf(out->text, sizeof out->text, "%s", zone[i].txt);
	}
}

static const struct dnsl_resolver table = { NULL, table_find, NULL };

#define POLICY(onerr) \
	"state = { file = \"\"; };\n" \
	"dns = { on_error = \"" onerr "\"; };\n" \
	"rules = (\n" \
	"  { name = \"bl\"; when = { dnsbl = \"bl.test=127.0.0.[2..11]\"; };\n" \
	"    unless = { dnswl = \"wl.test\"; }; reply = \"dnsbl_listed\"; },\n" \
	"  { name = \"wl\"; when = { dnswl = \"wl.test\"; }; action = \"accept\"; },\n" \
	"  { name = \"rhs\"; when = { rhsbl = \"dbl.test\"; };\n" \
	"    reply = \"554 5.7.1 %%{sender} is listed on %%{dnsbl}\"; }\n" \
	");\n"

START_TEST(test_rules)
{
	static const struct {
		const char *name, *client, *sender, *onerr;
		enum pol_stage stage;
		enum pol_action want;
		const char *rule, *dnsbl, *text;
	} cases[] = {
		{ "listed", "192.0.2.7", "a@b.example", "ignore", POL_CONNECT,
		  POL_REJECT, "bl", "bl.test", "see bl.test\r\nfor more" },
		{ "filtered out", "192.0.2.8", "a@b.example", "ignore", POL_CONNECT,
		  POL_CONTINUE, NULL, "", "" },
		{ "allow list", "192.0.2.9", "a@b.example", "ignore", POL_CONNECT,
		  POL_ACCEPT, "wl", "", "" },
		{ "unknown ignored", "192.0.2.10", "a@b.example", "ignore",
		  POL_CONNECT, POL_CONTINUE, NULL, "", "" },
		{ "unknown tempfails", "192.0.2.10", "a@b.example", "tempfail",
		  POL_CONNECT, POL_TEMPFAIL, "bl", "bl.test", "" },
		{ "rhsbl", "192.0.2.1", "a@spam.example", "ignore", POL_MAIL,
		  POL_REJECT, "rhs", "dbl.test", "" },
		{ "rhsbl clean", "192.0.2.1", "a@ham.example", "ignore", POL_MAIL,
		  POL_CONTINUE, NULL, "", "" },
	};
	size_t i;

	for (i = 0; i < NELEM(cases); i++) {
		char text[1024];
		struct policy *p;
		struct store *st = store_memory_new(1000);
		struct pol_conn *c;
		struct pol_verdict v;
		struct pol_env env = { .client_addr = cases[i].client,
		    .dns = &table };

		snprintf(text, sizeof text, POLICY("%s"), cases[i].onerr);
		p = load_text(text);
		c = pol_conn_new(p, st);
		pol_eval(c, POL_CONNECT, &env, 0, &v);
		if (cases[i].stage == POL_MAIL) {
			ck_assert_msg(v.action == POL_CONTINUE, "%s: connect %d",
			    cases[i].name, v.action);
			env.sender = cases[i].sender;
			pol_eval(c, POL_MAIL, &env, 0, &v);
		}
		ck_assert_msg(v.action == cases[i].want, "%s: got %s, want %s",
		    cases[i].name, pol_action_name(v.action),
		    pol_action_name(cases[i].want));
		ck_assert_msg(cases[i].rule == NULL || strcmp(v.rule, cases[i].rule) == 0,
		    "%s: rule %s", cases[i].name, v.rule);
		ck_assert_msg(strcmp(v.dnsbl, cases[i].dnsbl) == 0, "%s: dnsbl "
		    "got %s, want %s", cases[i].name, v.dnsbl, cases[i].dnsbl);
		ck_assert_msg(strcmp(v.dnsbl_text, cases[i].text) == 0, "%s: text "
		    "got %s", cases[i].name, v.dnsbl_text);
		pol_conn_free(c);
		pol_unref(p);
		store_free(st);
	}
}
END_TEST

/* Without a resolver every list is unknown: nothing matches by default. */
START_TEST(test_no_resolver)
{
	struct policy *p = load_text(POLICY("ignore"));
	struct pol_conn *c = pol_conn_new(p, NULL);
	struct pol_env env = { .client_addr = "192.0.2.7", .sender = "a@spam.example" };
	struct pol_verdict v;

	pol_eval(c, POL_CONNECT, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_CONTINUE);
	pol_eval(c, POL_MAIL, &env, 0, &v);
	ck_assert_int_eq(v.action, POL_CONTINUE);
	pol_conn_free(c);
	pol_unref(p);
}
END_TEST

/* The built-in reply quotes the list and its TXT, cleaned. */
START_TEST(test_reply)
{
	const struct reply *r = reply_builtin("dnsbl_listed");
	struct pol_vars vars = { 0 };
	struct reply_ctx rc = { .client_addr = "192.0.2.7", .dnsbl = "bl.test",
	    .dnsbl_text = "see\r\nbl.test 100%", .vars = &vars };
	struct reply_text out;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->code, 554);
	ck_assert_str_eq(r->xcode, "5.7.1");
	reply_render(r, &rc, &out);
	ck_assert_msg(strstr(out.line[0], "192.0.2.7 is listed on the DNS block "
	    "list bl.test (see??bl.test 100%)") != NULL, "got %s", out.line[0]);
	ck_assert_msg(strstr(out.line[1], "delist") != NULL, "got %s", out.line[1]);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_parse, test_qname, test_rules, test_no_resolver, test_reply,
	};

	return check_run("dnsl", "core", tests, NELEM(tests));
}
