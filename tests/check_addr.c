/* check_addr.c: addr.h, one table per function, plus hostile 64 kB input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "addr.h"

#define BIG	65536

static const char *
show(const char *s)
{
	return s != NULL ? s : "(null)";
}

/* A function that copies a form of `in` into out[outsz] and returns the
 * length the whole result needs (addr_unbracket, addr_normalise). */
typedef size_t text_fn(const char *in, char *out, size_t outsz);

struct text_case {
	const char	*name;
	const char	*in;
	size_t		 outsz;
	const char	*want;
	size_t		 wantlen;
};

/* One case of a text_fn: its result, its length, nothing past outsz. */
static void
text_check(text_fn *fn, const struct text_case *c)
{
	char out[64];
	size_t got;

	memset(out, 'X', sizeof out);
	got = fn(c->in, out, c->outsz);
	ck_assert_msg(got == c->wantlen, "%s: got %zu, want %zu", c->name,
	    got, c->wantlen);
	ck_assert_msg(strcmp(out, c->want) == 0, "%s: got \"%s\", want \"%s\"",
	    c->name, out, c->want);
	ck_assert_msg(c->outsz == sizeof out || out[c->outsz] == 'X',
	    "%s: wrote past outsz", c->name);
}

/* addr_unbracket */

static const struct text_case unbracket_cases[] = {
	{ "plain", "<a@b>", 64, "a@b", 3 },
	{ "null sender", "<>", 64, "", 0 },
	{ "spaces outside", "  <a@b>  ", 64, "a@b", 3 },
	{ "spaces inside", "< a@b >", 64, "a@b", 3 },
	{ "tab and crlf", "\t<a@b>\r\n", 64, "a@b", 3 },
	{ "no brackets", "a@b", 64, "a@b", 3 },
	{ "no brackets, spaces", " a@b ", 64, "a@b", 3 },
	{ "open only", "<a@b", 64, "<a@b", 4 },
	{ "close only", "a@b>", 64, "a@b>", 4 },
	{ "lone <", "<", 64, "<", 1 },
	{ "lone >", ">", 64, ">", 1 },
	{ "one level only", "<<a@b>>", 64, "<a@b>", 5 },
	{ "reversed", "><", 64, "><", 2 },
	{ "quoted", "<\"john doe\"@example.com>", 64, "\"john doe\"@example.com", 22 },
	{ "source route", "<@a,@b:u@d>", 64, "@a,@b:u@d", 9 },
	{ "truncated", "<abcdef>", 4, "abc", 6 },
	{ "outsz 1", "<abc>", 1, "", 3 },
	{ "outsz exact", "<abc>", 4, "abc", 3 },
	{ "outsz one short", "<abc>", 3, "ab", 3 },
	{ "empty", "", 64, "", 0 },
	{ "white space only", " \t ", 64, "", 0 },
	{ "NULL", NULL, 64, "", 0 },
};

START_TEST(test_unbracket)
{
	text_check(addr_unbracket, &unbracket_cases[_i]);
}
END_TEST

START_TEST(test_unbracket_size_query)
{
	ck_assert_msg(addr_unbracket("<a@b>", NULL, 0) == 3,
	    "size query: got %zu, want 3", addr_unbracket("<a@b>", NULL, 0));
}
END_TEST

/* addr_domain */

struct domain_case {
	const char	*name;
	const char	*in;
	const char	*want;		/* NULL: no domain */
};

static const struct domain_case domain_cases[] = {
	{ "plain", "user@example.com", "example.com" },
	{ "no @", "postmaster", NULL },
	{ "empty", "", NULL },
	{ "NULL", NULL, NULL },
	{ "trailing @", "user@", "" },
	{ "@ only", "@", "" },
	{ "domain only", "@example.com", "example.com" },
	{ "last @ wins", "a@b@c", "c" },
	{ "quoted @", "\"user@other.org\"@example.com", "example.com" },
	{ "quoted only", "\"user@other.org\"", NULL },
	{ "quoted space", "\"john doe\"@example.com", "example.com" },
	{ "escaped quote", "\"a\\\"@b\"@c", "c" },
	{ "escaped backslash", "\"a\\\\\"@c", "c" },
	{ "escaped @", "\"a\\@b\"@c", "c" },
	{ "unterminated quote", "\"a@b", NULL },
	/* bytes after the NUL that a read past it would take for a domain */
	{ "backslash at end", "\"a\\\0\"@evil", NULL },
	{ "backslash outside quotes", "a\\@b", "b" },
	{ "quote in domain", "u@x\"@y\"", "x\"@y\"" },
	{ "source route", "@a,@b:user@example.com", "example.com" },
	{ "percent hack", "user%other.org@example.com", "example.com" },
	{ "bang path", "other!user@example.com", "example.com" },
	{ "address literal", "u@[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]" },
	{ "high bytes", "\xff\xfe@\xc3\xa9.example", "\xc3\xa9.example" },
};

START_TEST(test_domain)
{
	const struct domain_case *c = &domain_cases[_i];
	const char *got = addr_domain(c->in);

	if (c->want == NULL) {
		ck_assert_msg(got == NULL, "%s: got \"%s\", want NULL",
		    c->name, show(got));
		return;
	}
	ck_assert_msg(got != NULL, "%s: got NULL, want \"%s\"", c->name,
	    c->want);
	ck_assert_msg(strcmp(got, c->want) == 0, "%s: got \"%s\", want \"%s\"",
	    c->name, got, c->want);
	ck_assert_msg(got > c->in && got <= c->in + strlen(c->in),
	    "%s: pointer not into the input", c->name);
}
END_TEST

/* addr_is_routed */

struct routed_case {
	const char	*name;
	const char	*in;
	int		 want;
};

static const struct routed_case routed_cases[] = {
	{ "plain", "user@example.com", 0 },
	{ "dots and plus", "first.last+tag@example.com", 0 },
	{ "quoted space", "\"john doe\"@example.com", 0 },
	{ "no domain", "postmaster", 0 },
	{ "trailing @", "user@", 0 },
	{ "empty", "", 0 },
	{ "NULL", NULL, 0 },
	{ "routing byte in domain only", "user@exa!mple%x.com", 0 },
	{ "quoted @", "\"user@other.org\"@example.com", 1 },
	{ "quoted %", "\"user%other.org\"@example.com", 1 },
	{ "quoted !", "\"other!user\"@example.com", 1 },
	{ "escaped @ in quotes", "\"a\\@b\"@example.com", 1 },
	{ "percent hack", "user%other.org@example.com", 1 },
	{ "bang path", "other!user@example.com", 1 },
	{ "bang, no domain", "other!user", 1 },
	{ "percent, no domain", "user%other.org", 1 },
	{ "source route", "@a,@b:user@example.com", 1 },
	{ "one hop route", "@a:user@example.com", 1 },
	{ "route, no domain", "@a:user", 1 },
	{ "empty local part", "@example.com", 1 },
	{ "two @", "user@other.org@example.com", 1 },
	{ "backslash @ outside quotes", "user\\@other.org@example.com", 1 },
	{ "unterminated quote", "\"user@other.org@example.com", 1 },
	{ "quote games", "user@other.org\"@example.com\"", 0 },
	{ "backslash at end", "\"a\\\0\"@evil", 0 },
};

START_TEST(test_routed)
{
	const struct routed_case *c = &routed_cases[_i];
	int got = addr_is_routed(c->in) != 0;

	ck_assert_msg(got == c->want, "%s: got %d, want %d", c->name, got,
	    c->want);
}
END_TEST

/* addr_ip_normalise */

struct ip_case {
	const char	*name;
	const char	*in;
	size_t		 outsz;
	int		 want;
	const char	*wantout;
};

static const struct ip_case ip_cases[] = {
	{ "v4", "192.0.2.7", 64, 0, "192.0.2.7" },
	{ "v4 zero", "0.0.0.0", 64, 0, "0.0.0.0" },
	{ "v4 broadcast", "255.255.255.255", 64, 0, "255.255.255.255" },
	{ "v6 upper, zeros", "2001:DB8:0:0:0:0:0:1", 64, 0, "2001:db8::1" },
	{ "v6 leading zeros", "2001:0db8::0001", 64, 0, "2001:db8::1" },
	{ "v6 first longest run", "2001:db8:0:0:1:0:0:1", 64, 0, "2001:db8::1:0:0:1" },
	{ "v6 single zero kept", "2001:db8:0:1:1:1:1:1", 64, 0, "2001:db8:0:1:1:1:1:1" },
	{ "v6 loopback", "::1", 64, 0, "::1" },
	{ "v6 unspecified", "::", 64, 0, "::" },
	{ "v6 full", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 64, 0,
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	{ "mapped", "::ffff:192.0.2.1", 64, 0, "192.0.2.1" },
	{ "mapped hex", "::FFFF:c000:0201", 64, 0, "192.0.2.1" },
	{ "brackets v4", "[192.0.2.7]", 64, 0, "192.0.2.7" },
	{ "brackets v6", "[2001:db8::1]", 64, 0, "2001:db8::1" },
	{ "IPv6 tag", "IPv6:2001:db8::1", 64, 0, "2001:db8::1" },
	{ "IPv6 tag, brackets", "[IPv6:2001:db8::1]", 64, 0, "2001:db8::1" },
	{ "IPv6 tag, lower case", "ipv6:::1", 64, 0, "::1" },
	{ "IPv6 tag, mapped", "[IPv6:::ffff:10.1.2.3]", 64, 0, "10.1.2.3" },
	{ "out exactly big enough", "192.0.2.7", 10, 0, "192.0.2.7" },
	{ "out one short", "192.0.2.7", 9, -1, "" },
	{ "out tiny", "2001:db8::1", 4, -1, "" },
	{ "v4 out of range", "256.0.0.1", 64, -1, "" },
	{ "v4 three parts", "192.0.2", 64, -1, "" },
	{ "v4 five parts", "192.0.2.7.1", 64, -1, "" },
	{ "v4 leading zero", "192.0.2.07", 64, -1, "" },
	{ "v4 trailing space", "192.0.2.7 ", 64, -1, "" },
	{ "v4 leading space", " 192.0.2.7", 64, -1, "" },
	{ "hostname", "mx.example.com", 64, -1, "" },
	{ "unknown", "unknown", 64, -1, "" },
	{ "v6 nine groups", "1:2:3:4:5:6:7:8:9", 64, -1, "" },
	{ "v6 two ::", "1::2::3", 64, -1, "" },
	{ "v6 zone id", "fe80::1%eth0", 64, -1, "" },
	{ "v6 bad hex", "2001:db8::g", 64, -1, "" },
	{ "unbalanced [", "[192.0.2.7", 64, -1, "" },
	{ "empty brackets", "[]", 64, -1, "" },
	{ "tag only", "IPv6:", 64, -1, "" },
	{ "CIDR is no address", "192.0.2.0/24", 64, -1, "" },
	{ "empty", "", 64, -1, "" },
	{ "NULL", NULL, 64, -1, "" },
};

START_TEST(test_ip_normalise)
{
	const struct ip_case *c = &ip_cases[_i];
	char out[64];
	int got;

	memset(out, 'X', sizeof out);
	got = addr_ip_normalise(c->in, out, c->outsz);
	ck_assert_msg(got == c->want, "%s: got %d, want %d", c->name, got,
	    c->want);
	ck_assert_msg(strcmp(out, c->wantout) == 0,
	    "%s: got \"%s\", want \"%s\"", c->name, out, c->wantout);
	ck_assert_msg(c->outsz == sizeof out || out[c->outsz] == 'X',
	    "%s: wrote past outsz", c->name);
}
END_TEST

/* addr_normalise */

static const struct text_case norm_cases[] = {
	{ "domain lowered", "User@Example.COM", 64, "User@example.com", 16 },
	{ "already lower", "user@example.com", 64, "user@example.com", 16 },
	{ "no domain", "PostMaster", 64, "PostMaster", 10 },
	{ "quoted @ kept", "\"A@B\"@EXAMPLE.com", 64, "\"A@B\"@example.com", 17 },
	{ "route local kept", "@A,@B:U@D.ORG", 64, "@A,@B:U@d.org", 13 },
	{ "ascii only", "U@\xc3\x89XAMPLE", 64, "U@\xc3\x89xample", 10 },
	{ "truncated in domain", "User@EXAMPLE.COM", 8, "User@ex", 16 },
	{ "truncated in local", "User@EXAMPLE.COM", 3, "Us", 16 },
	{ "outsz 1", "User@EXAMPLE.COM", 1, "", 16 },
	{ "trailing @", "User@", 64, "User@", 5 },
	{ "empty", "", 64, "", 0 },
	{ "NULL", NULL, 64, "", 0 },
};

START_TEST(test_normalise)
{
	text_check(addr_normalise, &norm_cases[_i]);
}
END_TEST

/* Every function against 64 kB of one byte, between a head and a tail. */

struct hostile_case {
	const char	*name;
	const char	*head;
	char		 fill;
	const char	*tail;
	long		 domlen;	/* strlen(addr_domain()), -1: NULL */
	int		 routed;
	long		 unbracketed;	/* addr_unbracket() length, -1: all */
};

static const struct hostile_case hostile_cases[] = {
	{ "letters", "", 'A', "", -1, 0, -1 },
	{ "all @", "", '@', "", 0, 1, -1 },
	{ "all quotes", "", '"', "", -1, 0, -1 },
	{ "all %", "", '%', "", -1, 1, -1 },
	{ "all !", "", '!', "", -1, 1, -1 },
	{ "all backslash", "", '\\', "", -1, 0, -1 },
	{ "all colons", "", ':', "", -1, 0, -1 },
	{ "all dots", "", '.', "", -1, 0, -1 },
	{ "all spaces", "", ' ', "", -1, 0, 0 },
	{ "all high bytes", "", '\xff', "", -1, 0, -1 },
	{ "long local", "", 'a', "@example.com", 11, 0, -1 },
	{ "long domain", "u@", 'X', "", BIG, 0, -1 },
	{ "long quoted local", "\"", '@', "\"@example.com", 11, 1, -1 },
	{ "unterminated quote", "\"", '@', "", -1, 1, -1 },
	{ "odd backslashes in quotes", "\"", '\\', "\\", -1, 0, -1 },
	{ "even backslashes in quotes", "\"", '\\', "\"@x", 1, 0, -1 },
	{ "bracketed spaces", "<", ' ', ">", -1, 0, 0 },
	{ "bracketed letters", "<", 'a', ">", -1, 0, BIG },
	{ "source route", "@", ',', ":u@example.com", 11, 1, -1 },
	{ "v6-looking", "[IPv6:", ':', "]", -1, 0, -1 },
};

static char *
hostile_value(const struct hostile_case *c)
{
	size_t hl = strlen(c->head), tl = strlen(c->tail);
	char *s = malloc(hl + BIG + tl + 1);

	ck_assert_ptr_nonnull(s);
	memcpy(s, c->head, hl);
	memset(s + hl, c->fill, BIG);
	memcpy(s + hl + BIG, c->tail, tl + 1);
	return s;
}

static void
hostile_domain(const struct hostile_case *c, const char *s)
{
	const char *dom = addr_domain(s);
	long got = dom != NULL ? (long)strlen(dom) : -1;

	ck_assert_msg(got == c->domlen, "%s: domain length: got %ld, want %ld",
	    c->name, got, c->domlen);
	ck_assert_msg(dom == NULL || (dom > s && dom <= s + strlen(s)),
	    "%s: domain pointer not into the input", c->name);
}

static void
hostile_buffers(const struct hostile_case *c, const char *s)
{
	char out[48];
	size_t len = strlen(s), got;
	long want = c->unbracketed < 0 ? (long)len : c->unbracketed;

	memset(out, 'X', sizeof out);
	got = addr_unbracket(s, out, 16);
	ck_assert_msg((long)got == want, "%s: unbracket: got %zu, want %ld",
	    c->name, got, want);
	ck_assert_msg(strlen(out) < 16 && out[16] == 'X',
	    "%s: unbracket wrote past outsz", c->name);
	got = addr_normalise(s, out, 16);
	ck_assert_msg(got == len, "%s: normalise: got %zu, want %zu", c->name,
	    got, len);
	ck_assert_msg(strlen(out) == 15 && out[16] == 'X',
	    "%s: normalise wrote past outsz", c->name);
	ck_assert_msg(addr_ip_normalise(s, out, sizeof out) == -1 &&
	    out[0] == '\0', "%s: ip_normalise: got %s, want -1", c->name, out);
}

START_TEST(test_hostile)
{
	const struct hostile_case *c = &hostile_cases[_i];
	char *s = hostile_value(c), *big;
	size_t len = strlen(s);
	int routed;

	hostile_domain(c, s);
	routed = addr_is_routed(s) != 0;
	ck_assert_msg(routed == c->routed, "%s: routed: got %d, want %d",
	    c->name, routed, c->routed);
	hostile_buffers(c, s);
	big = malloc(len + 1);
	ck_assert_ptr_nonnull(big);
	ck_assert_msg(addr_normalise(s, big, len + 1) == len &&
	    strncmp(big, s, len - (c->domlen > 0 ? (size_t)c->domlen : 0)) == 0,
	    "%s: normalise changed the local part", c->name);
	free(big);
	free(s);
}
END_TEST

/* A long domain is lowered to its last byte, and nothing past it. */
START_TEST(test_normalise_big)
{
	static char in[BIG + 3], out[BIG + 4];

	memcpy(in, "U@", 2);
	memset(in + 2, 'X', BIG);
	memset(out, '#', sizeof out);
	ck_assert_msg(addr_normalise(in, out, BIG + 3) == BIG + 2,
	    "normalise big: wrong length");
	ck_assert_msg(out[0] == 'U' && out[2] == 'x' && out[BIG + 1] == 'x' &&
	    out[BIG + 2] == '\0' && out[BIG + 3] == '#',
	    "normalise big: got \"%.8s...\", want \"U@xxxxxx...\"", out);
}
END_TEST

#define LOOP(tc, fn, table) \
	tcase_add_loop_test(tc, fn, 0, (int)NELEM(table))

static Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("tables");

	LOOP(tc, test_unbracket, unbracket_cases);
	tcase_add_test(tc, test_unbracket_size_query);
	LOOP(tc, test_domain, domain_cases);
	LOOP(tc, test_routed, routed_cases);
	LOOP(tc, test_ip_normalise, ip_cases);
	LOOP(tc, test_normalise, norm_cases);
	suite_add_tcase(s, tc);
	tc = tcase_create("hostile");
	LOOP(tc, test_hostile, hostile_cases);
	tcase_add_test(tc, test_normalise_big);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run_suite(addr_suite());
}
