/*
 * check_match.c: match.h.  Lookups, bad patterns, hostile values, 10,000-
 * entry lists, CIDRs against a plain reference, and lookups from threads.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "match.h"

#define BIG	65536
#define NBIG	10000

/* A finished list of NULL-terminated patterns; a bad one fails the test. */
static struct match_list *
build(const char *name, enum match_kind kind, const char *const *patterns)
{
	struct match_list *l = match_list_new(kind);
	char err[256];

	for (; *patterns != NULL; patterns++)
		ck_assert_msg(match_add(l, *patterns, err, sizeof err) == 0,
		    "%s: pattern \"%s\": %s", name, *patterns, err);
	match_list_finish(l);
	return l;
}

/* Lookups */

struct find_case {
	const char		*name;
	enum match_kind		 kind;
	const char		*patterns[8];
	const char		*value;
	enum match_result	 want;
};

#define Y MATCH_YES
#define N MATCH_NO

static const struct find_case find_cases[] = {
	/* IPv4 */
	{ "v4 exact", MATCH_CLIENT, { "192.0.2.7" }, "192.0.2.7", Y },
	{ "v4 exact, next", MATCH_CLIENT, { "192.0.2.7" }, "192.0.2.8", N },
	{ "v4 exact, previous", MATCH_CLIENT, { "192.0.2.7" }, "192.0.2.6", N },
	{ "v4 /24 first", MATCH_CLIENT, { "192.0.2.0/24" }, "192.0.2.0", Y },
	{ "v4 /24 last", MATCH_CLIENT, { "192.0.2.0/24" }, "192.0.2.255", Y },
	{ "v4 /24 just below", MATCH_CLIENT, { "192.0.2.0/24" }, "192.0.1.255", N },
	{ "v4 /24 just above", MATCH_CLIENT, { "192.0.2.0/24" }, "192.0.3.0", N },
	{ "v4 /32", MATCH_CLIENT, { "10.0.0.1/32" }, "10.0.0.1", Y },
	{ "v4 /32 below", MATCH_CLIENT, { "10.0.0.1/32" }, "10.0.0.0", N },
	{ "v4 /32 above", MATCH_CLIENT, { "10.0.0.1/32" }, "10.0.0.2", N },
	{ "v4 /31 inside", MATCH_CLIENT, { "10.0.0.0/31" }, "10.0.0.1", Y },
	{ "v4 /31 outside", MATCH_CLIENT, { "10.0.0.0/31" }, "10.0.0.2", N },
	{ "v4 /25 upper half", MATCH_CLIENT, { "192.0.2.128/25" }, "192.0.2.128", Y },
	{ "v4 /25 lower half", MATCH_CLIENT, { "192.0.2.128/25" }, "192.0.2.127", N },
	{ "v4 /1 inside", MATCH_CLIENT, { "128.0.0.0/1" }, "128.0.0.0", Y },
	{ "v4 /1 outside", MATCH_CLIENT, { "128.0.0.0/1" }, "127.255.255.255", N },
	{ "v4 /0 low", MATCH_CLIENT, { "0.0.0.0/0" }, "0.0.0.0", Y },
	{ "v4 /0 high", MATCH_CLIENT, { "0.0.0.0/0" }, "255.255.255.255", Y },
	{ "v4 /0 is not v6", MATCH_CLIENT, { "0.0.0.0/0" }, "2001:db8::1", N },
	{ "v4 /8 leading prefix zero", MATCH_CLIENT, { "10.0.0.0/08" }, "10.9.9.9", Y },
	{ "v4 bracketed value", MATCH_CLIENT, { "192.0.2.7" }, "[192.0.2.7]", Y },
	{ "v4 several prefixes", MATCH_CLIENT,
	    { "10.1.2.3", "10.1.0.0/16", "172.16.0.0/12", "10.0.0.0/8" },
	    "10.200.1.1", Y },
	{ "v4 several, outside", MATCH_CLIENT,
	    { "10.1.2.3", "10.1.0.0/16", "172.16.0.0/12" }, "172.32.0.0", N },
	/* IPv6 */
	{ "v6 exact", MATCH_CLIENT, { "2001:db8::1" }, "2001:DB8:0::1", Y },
	{ "v6 exact, next", MATCH_CLIENT, { "2001:db8::1" }, "2001:db8::2", N },
	{ "v6 /128", MATCH_CLIENT, { "2001:db8::1/128" }, "2001:db8::1", Y },
	{ "v6 /128 below", MATCH_CLIENT, { "2001:db8::1/128" }, "2001:db8::", N },
	{ "v6 /32 last", MATCH_CLIENT, { "2001:db8::/32" },
	    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Y },
	{ "v6 /32 just above", MATCH_CLIENT, { "2001:db8::/32" }, "2001:db9::", N },
	{ "v6 /32 just below", MATCH_CLIENT, { "2001:db8::/32" },
	    "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", N },
	{ "v6 /64 last", MATCH_CLIENT, { "2001:db8:1:2::/64" },
	    "2001:db8:1:2:ffff:ffff:ffff:ffff", Y },
	{ "v6 /64 next", MATCH_CLIENT, { "2001:db8:1:2::/64" }, "2001:db8:1:3::", N },
	{ "v6 /65 upper", MATCH_CLIENT, { "2001:db8:1:2:8000::/65" },
	    "2001:db8:1:2:8000::", Y },
	{ "v6 /65 lower", MATCH_CLIENT, { "2001:db8:1:2:8000::/65" },
	    "2001:db8:1:2:7fff:ffff:ffff:ffff", N },
	{ "v6 /127 inside", MATCH_CLIENT, { "2001:db8::2/127" }, "2001:db8::3", Y },
	{ "v6 /127 outside", MATCH_CLIENT, { "2001:db8::2/127" }, "2001:db8::4", N },
	{ "v6 /0 low", MATCH_CLIENT, { "::/0" }, "::", Y },
	{ "v6 /0 high", MATCH_CLIENT, { "::/0" },
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Y },
	{ "v6 /0 is not v4", MATCH_CLIENT, { "::/0" }, "192.0.2.1", N },
	{ "v6 /0 is not mapped v4", MATCH_CLIENT, { "::/0" }, "::ffff:192.0.2.1", N },
	{ "v6 bracketed, tagged value", MATCH_CLIENT, { "2001:db8::/32" },
	    "[IPv6:2001:db8::5]", Y },
	{ "v6 bracketed pattern", MATCH_CLIENT, { "[2001:db8::]/32" },
	    "2001:db8::5", Y },
	/* IPv4-mapped IPv6 */
	{ "mapped value, v4 net", MATCH_CLIENT, { "192.0.2.0/24" }, "::ffff:192.0.2.9", Y },
	{ "mapped hex value", MATCH_CLIENT, { "192.0.2.0/24" }, "::FFFF:c000:0209", Y },
	{ "mapped value, outside", MATCH_CLIENT, { "192.0.2.0/24" }, "::ffff:192.0.3.9", N },
	{ "mapped pattern, v4 value", MATCH_CLIENT, { "::ffff:192.0.2.1" }, "192.0.2.1", Y },
	{ "mapped /120", MATCH_CLIENT, { "::ffff:192.0.2.0/120" }, "192.0.2.200", Y },
	{ "mapped /120 outside", MATCH_CLIENT, { "::ffff:192.0.2.0/120" }, "192.0.3.1", N },
	{ "mapped /96 is all v4", MATCH_CLIENT, { "::ffff:0.0.0.0/96" }, "1.2.3.4", Y },
	{ "mapped /96 is not v6", MATCH_CLIENT, { "::ffff:0.0.0.0/96" }, "2001:db8::1", N },
	{ "compatible is not mapped", MATCH_CLIENT, { "192.0.2.1" }, "::192.0.2.1", N },
	/* values that are no address */
	{ "client hostname", MATCH_CLIENT, { "0.0.0.0/0", "::/0" }, "mx.example.com", N },
	{ "client unknown", MATCH_CLIENT, { "0.0.0.0/0", "::/0" }, "unknown", N },
	{ "client CIDR value", MATCH_CLIENT, { "0.0.0.0/0", "::/0" }, "10.0.0.0/8", N },
	{ "client trailing space", MATCH_CLIENT, { "0.0.0.0/0" }, "192.0.2.7 ", N },
	{ "client short", MATCH_CLIENT, { "0.0.0.0/0" }, "192.0.2", N },
	{ "client zone id", MATCH_CLIENT, { "::/0" }, "fe80::1%eth0", N },
	{ "client empty", MATCH_CLIENT, { "0.0.0.0/0", "::/0" }, "", N },
	{ "client NULL", MATCH_CLIENT, { "0.0.0.0/0", "::/0" }, NULL, N },
	{ "client empty list", MATCH_CLIENT, { NULL }, "192.0.2.7", N },
	/* host names */
	{ "host exact", MATCH_HOST, { "mx.example.com" }, "mx.example.com", Y },
	{ "host exact, case", MATCH_HOST, { "MX.Example.com" }, "mx.EXAMPLE.COM", Y },
	{ "host exact, parent", MATCH_HOST, { "mx.example.com" }, "example.com", N },
	{ "host exact, child", MATCH_HOST, { "mx.example.com" }, "a.mx.example.com", N },
	{ "host exact, prefix", MATCH_HOST, { "mx.example.com" }, "mx.example.co", N },
	{ "host exact, longer", MATCH_HOST, { "mx.example.com" }, "mx.example.comm", N },
	{ "host sub", MATCH_HOST, { ".example.com" }, "mx.example.com", Y },
	{ "host sub, deep", MATCH_HOST, { ".example.com" }, "a.b.c.example.com", Y },
	{ "host sub, case", MATCH_HOST, { ".EXAMPLE.com" }, "Mx.Example.COM", Y },
	{ "host sub, not itself", MATCH_HOST, { ".example.com" }, "example.com", N },
	{ "host sub, not itself, case", MATCH_HOST, { ".example.com" }, "EXAMPLE.COM", N },
	{ "host sub, not dotted value", MATCH_HOST, { ".example.com" }, ".example.com", N },
	{ "host sub, label suffix", MATCH_HOST, { ".example.com" }, "badexample.com", N },
	{ "host sub, as prefix", MATCH_HOST, { ".example.com" },
	    "mx.example.com.evil.org", N },
	{ "host exact and sub", MATCH_HOST, { "example.com", ".example.com" },
	    "example.com", Y },
	{ "host regex", MATCH_HOST, { "/^mx[0-9]+\\./" }, "MX12.example.com", Y },
	{ "host regex, no", MATCH_HOST, { "/^mx[0-9]+\\./" }, "www.example.com", N },
	{ "host regex, anchored", MATCH_HOST, { "/^localhost$/" }, "LOCALHOST", Y },
	{ "host regex, literal", MATCH_HOST, { "/^\\[?127\\./" }, "[127.0.0.1]", Y },
	{ "host empty value", MATCH_HOST, { "example.com", ".example.com" }, "", N },
	{ "host empty by regex", MATCH_HOST, { "/^$/" }, "", Y },
	{ "host NULL", MATCH_HOST, { "/^/", "example.com" }, NULL, N },
	/* domains */
	{ "domain exact", MATCH_DOMAIN, { "example.com" }, "Example.Com", Y },
	{ "domain exact, no", MATCH_DOMAIN, { "example.com" }, "xexample.com", N },
	{ "domain, trailing dot", MATCH_DOMAIN, { "example.com" }, "Example.Com.", Y },
	{ "domain sub, trailing dot", MATCH_DOMAIN, { ".example.com" }, "a.example.com.", Y },
	{ "domain, two trailing dots", MATCH_DOMAIN, { "example.com" }, "example.com..", N },
	{ "domain regex, trailing dot", MATCH_DOMAIN, { "/\\.test$/" }, "foo.test.", Y },
	{ "address, trailing dot", MATCH_ADDR, { "bob@example.com" }, "Bob@Example.Com.", Y },
	{ "address domain, trailing dot", MATCH_ADDR, { "@example.com" }, "x@example.com.", Y },
	{ "address, dot alone", MATCH_ADDR, { "bob@example.com" }, "bob@.", N },
	{ "domain sub", MATCH_DOMAIN, { ".example.com" }, "a.example.com", Y },
	{ "domain sub, not itself", MATCH_DOMAIN, { ".example.com" }, "example.com", N },
	{ "domain regex", MATCH_DOMAIN, { "/\\.test$/" }, "foo.TEST", Y },
	{ "domain high bytes", MATCH_DOMAIN, { "\xc3\x89xample.com" },
	    "\xc3\x89XAMPLE.com", Y },
	{ "domain high bytes, no fold", MATCH_DOMAIN, { "\xc3\xa9xample.com" },
	    "\xc3\x89xample.com", N },
	/* addresses */
	{ "addr exact", MATCH_ADDR, { "user@example.com" }, "user@example.com", Y },
	{ "addr exact, case", MATCH_ADDR, { "User@Example.com" }, "USER@EXAMPLE.COM", Y },
	{ "addr exact, other user", MATCH_ADDR, { "user@example.com" }, "other@example.com", N },
	{ "addr exact, other domain", MATCH_ADDR, { "user@example.com" }, "user@example.org", N },
	{ "addr exact, subdomain", MATCH_ADDR, { "user@example.com" }, "user@a.example.com", N },
	{ "addr exact, longer", MATCH_ADDR, { "user@example.com" }, "user@example.com.evil", N },
	{ "addr @dom", MATCH_ADDR, { "@example.com" }, "anyone@Example.COM", Y },
	{ "addr @dom, subdomain", MATCH_ADDR, { "@example.com" }, "a@sub.example.com", N },
	{ "addr @dom, bare domain value", MATCH_ADDR, { "@example.com" }, "example.com", N },
	{ "addr dom", MATCH_ADDR, { "example.com" }, "x@example.com", Y },
	{ "addr dom, other", MATCH_ADDR, { "example.com" }, "x@example.org", N },
	{ "addr .dom", MATCH_ADDR, { ".example.com" }, "x@a.example.com", Y },
	{ "addr .dom, not itself", MATCH_ADDR, { ".example.com" }, "x@example.com", N },
	{ "addr @.dom", MATCH_ADDR, { "@.example.com" }, "x@a.b.example.com", Y },
	{ "addr user@", MATCH_ADDR, { "user@" }, "USER@anywhere.org", Y },
	{ "addr user@, no domain", MATCH_ADDR, { "postmaster@" }, "postmaster", Y },
	{ "addr user@, longer user", MATCH_ADDR, { "user@" }, "user2@example.com", N },
	{ "addr user@, suffix user", MATCH_ADDR, { "user@" }, "xuser@example.com", N },
	{ "addr user@, domain named user", MATCH_ADDR, { "user@" }, "x@user", N },
	{ "addr <>", MATCH_ADDR, { "<>" }, "", Y },
	{ "addr <>, real sender", MATCH_ADDR, { "<>" }, "a@b", N },
	{ "addr empty, no <>", MATCH_ADDR, { "@example.com", "user@", "a@b" }, "", N },
	{ "addr regex", MATCH_ADDR, { "/^bounce-.*@/" }, "Bounce-123@x.org", Y },
	{ "addr regex, no", MATCH_ADDR, { "/^bounce-.*@/" }, "user@x.org", N },
	{ "addr quoted @ at local domain", MATCH_ADDR, { "@example.com" },
	    "\"user@other.org\"@example.com", Y },
	{ "addr quoted @, not other.org", MATCH_ADDR, { "@other.org" },
	    "\"user@other.org\"@example.com", N },
	{ "addr quoted local exact", MATCH_ADDR, { "\"john doe\"@example.com" },
	    "\"John Doe\"@example.com", Y },
	{ "addr mixed list", MATCH_ADDR,
	    { "a@x.org", "@y.org", ".z.org", "admin@", "<>", "/^r-/" },
	    "q@w.z.org", Y },
	{ "addr mixed list, no", MATCH_ADDR,
	    { "a@x.org", "@y.org", ".z.org", "admin@", "<>", "/^r-/" },
	    "q@z.org", N },
	{ "addr NULL", MATCH_ADDR, { "<>", "/^/" }, NULL, N },
	/* strings */
	{ "string exact", MATCH_STRING, { "Alice" }, "alice", Y },
	{ "string prefix", MATCH_STRING, { "alice" }, "alic", N },
	{ "string longer", MATCH_STRING, { "alice" }, "alice2", N },
	{ "string with @", MATCH_STRING, { "alice@example.com" }, "Alice@Example.com", Y },
	{ "string leading dot is literal", MATCH_STRING, { ".alice" }, "x.alice", N },
	{ "string regex", MATCH_STRING, { "/^a/" }, "Alice", Y },
	{ "string regex, no", MATCH_STRING, { "/^a/" }, "bob", N },
	{ "string empty value", MATCH_STRING, { "alice" }, "", N },
	{ "string empty list", MATCH_STRING, { NULL }, "alice", N },
};

START_TEST(test_find)
{
	const struct find_case *c = &find_cases[_i];
	struct match_list *l = build(c->name, c->kind, c->patterns);
	enum match_result got = match_find(l, c->value);

	ck_assert_msg(got == c->want, "%s: got %d, want %d", c->name, got,
	    c->want);
	match_list_free(l);
}
END_TEST

/* Bad patterns: refused with the message, and the list stays as it was. */

struct bad_case {
	const char	*name;
	enum match_kind	 kind;
	const char	*pattern;
	const char	*want;
};

static const struct bad_case bad_cases[] = {
	{ "v4 /33", MATCH_CLIENT, "10.0.0.0/33",
	    "bad CIDR \"10.0.0.0/33\": prefix length must be 0-32" },
	{ "v4 /-1", MATCH_CLIENT, "10.0.0.0/-1",
	    "bad CIDR \"10.0.0.0/-1\": prefix length must be 0-32" },
	{ "v4 empty prefix", MATCH_CLIENT, "10.0.0.0/",
	    "bad CIDR \"10.0.0.0/\": prefix length must be 0-32" },
	{ "v4 prefix junk", MATCH_CLIENT, "10.0.0.0/24x",
	    "bad CIDR \"10.0.0.0/24x\": prefix length must be 0-32" },
	{ "v4 prefix plus", MATCH_CLIENT, "10.0.0.0/+8",
	    "bad CIDR \"10.0.0.0/+8\": prefix length must be 0-32" },
	{ "v4 prefix space", MATCH_CLIENT, "10.0.0.0/ 8",
	    "bad CIDR \"10.0.0.0/ 8\": prefix length must be 0-32" },
	{ "v4 prefix 4 digits", MATCH_CLIENT, "10.0.0.0/0008",
	    "bad CIDR \"10.0.0.0/0008\": prefix length must be 0-32" },
	{ "v4 prefix huge", MATCH_CLIENT, "10.0.0.0/4294967304",
	    "bad CIDR \"10.0.0.0/4294967304\": prefix length must be 0-32" },
	{ "v6 /129", MATCH_CLIENT, "2001:db8::/129",
	    "bad CIDR \"2001:db8::/129\": prefix length must be 0-128" },
	{ "v4 host bits", MATCH_CLIENT, "10.0.0.1/8",
	    "bad CIDR \"10.0.0.1/8\": host bits set after the first 8; "
	    "did you mean \"10.0.0.0/8\"?" },
	{ "v4 host bits, /0", MATCH_CLIENT, "1.0.0.0/0",
	    "bad CIDR \"1.0.0.0/0\": host bits set after the first 0; "
	    "did you mean \"0.0.0.0/0\"?" },
	{ "v4 host bits, /31", MATCH_CLIENT, "10.0.0.1/31",
	    "bad CIDR \"10.0.0.1/31\": host bits set after the first 31; "
	    "did you mean \"10.0.0.0/31\"?" },
	{ "v6 host bits", MATCH_CLIENT, "2001:db8::1/64",
	    "bad CIDR \"2001:db8::1/64\": host bits set after the first 64; "
	    "did you mean \"2001:db8::/64\"?" },
	{ "v6 host bits, /127", MATCH_CLIENT, "2001:db8::1/127",
	    "bad CIDR \"2001:db8::1/127\": host bits set after the first 127; "
	    "did you mean \"2001:db8::/127\"?" },
	{ "mapped prefix too short", MATCH_CLIENT, "::ffff:10.0.0.0/95",
	    "bad CIDR \"::ffff:10.0.0.0/95\": prefix length of an IPv4-mapped "
	    "network must be 96-128" },
	{ "mapped prefix too long", MATCH_CLIENT, "::ffff:10.0.0.0/129",
	    "bad CIDR \"::ffff:10.0.0.0/129\": prefix length must be 0-128" },
	{ "mapped host bits", MATCH_CLIENT, "::ffff:10.0.0.1/104",
	    "bad CIDR \"::ffff:10.0.0.1/104\": host bits set after the first 8; "
	    "did you mean \"10.0.0.0/8\"?" },
	{ "v4 out of range", MATCH_CLIENT, "999.0.0.1",
	    "bad address \"999.0.0.1\": not an IPv4 or IPv6 address" },
	{ "v4 three parts", MATCH_CLIENT, "10.0.0/8",
	    "bad CIDR \"10.0.0/8\": \"10.0.0\" is not an IPv4 or IPv6 address" },
	{ "two slashes", MATCH_CLIENT, "10.0.0.0/8/8",
	    "bad CIDR \"10.0.0.0/8/8\": \"10.0.0.0/8\" is not an IPv4 or IPv6 "
	    "address" },
	{ "no address", MATCH_CLIENT, "/8",
	    "bad address \"/8\": client lists take addresses and CIDRs, not "
	    "regexes" },
	{ "client regex", MATCH_CLIENT, "/^10\\./",
	    "bad address \"/^10\\./\": client lists take addresses and CIDRs, "
	    "not regexes" },
	{ "client hostname", MATCH_CLIENT, "mx.example.com",
	    "bad address \"mx.example.com\": not an IPv4 or IPv6 address" },
	{ "client zone id", MATCH_CLIENT, "fe80::1%eth0",
	    "bad address \"fe80::1%eth0\": not an IPv4 or IPv6 address" },
	{ "client space", MATCH_CLIENT, " 10.0.0.1",
	    "bad address \" 10.0.0.1\": not an IPv4 or IPv6 address" },
	{ "client empty", MATCH_CLIENT, "", "empty pattern" },
	{ "client NULL", MATCH_CLIENT, NULL, "empty pattern" },
	{ "regex unclosed paren", MATCH_HOST, "/(/",
	    "bad regex \"/(/\": missing closing parenthesis at offset 1" },
	{ "regex bad quantifier", MATCH_ADDR, "/*a/",
	    "bad regex \"/*a/\": quantifier does not follow a repeatable item "
	    "at offset 0" },
	{ "regex bad class", MATCH_STRING, "/[a/",
	    "bad regex \"/[a/\": missing terminating ] for character class "
	    "at offset 2" },
	{ "regex no closing slash", MATCH_DOMAIN, "/abc",
	    "bad regex \"/abc\": no closing \"/\"" },
	{ "regex lone slash", MATCH_HOST, "/",
	    "bad regex \"/\": no closing \"/\"" },
	{ "regex flags", MATCH_HOST, "/abc/i",
	    "bad regex \"/abc/i\": no closing \"/\"" },
	{ "host lone dot", MATCH_HOST, ".",
	    "bad domain \".\": a subdomain pattern needs a name after the dot" },
	{ "domain lone dot", MATCH_DOMAIN, ".",
	    "bad domain \".\": a subdomain pattern needs a name after the dot" },
	{ "domain empty", MATCH_DOMAIN, "", "empty pattern" },
	{ "addr lone @", MATCH_ADDR, "@",
	    "bad address \"@\": no domain after the \"@\"" },
	{ "addr @ and dot", MATCH_ADDR, "@.",
	    "bad domain \".\": a subdomain pattern needs a name after the dot" },
	{ "addr lone dot", MATCH_ADDR, ".",
	    "bad domain \".\": a subdomain pattern needs a name after the dot" },
	{ "addr empty", MATCH_ADDR, "", "empty pattern" },
	{ "string NULL", MATCH_STRING, NULL, "empty pattern" },
};

START_TEST(test_bad)
{
	const struct bad_case *c = &bad_cases[_i];
	struct match_list *l = match_list_new(c->kind);
	char err[256] = "";
	int got = match_add(l, c->pattern, err, sizeof err);

	ck_assert_msg(got == -1, "%s: got %d, want %d", c->name, got, -1);
	ck_assert_msg(strcmp(err, c->want) == 0, "%s: got \"%s\", want \"%s\"",
	    c->name, err, c->want);
	ck_assert_msg(match_list_size(l) == 0, "%s: size: got %zu, want 0",
	    c->name, match_list_size(l));
	match_list_finish(l);
	ck_assert_msg(match_find(l, "10.0.0.1") == MATCH_NO,
	    "%s: a refused pattern matched", c->name);
	match_list_free(l);
}
END_TEST

/* err may be NULL or short; a good pattern after a bad one still works. */
START_TEST(test_bad_err_buffer)
{
	struct match_list *l = match_list_new(MATCH_CLIENT);
	char err[8];

	ck_assert_msg(match_add(l, "10.0.0.0/33", NULL, 0) == -1,
	    "NULL err: got 0, want -1");
	memset(err, 'X', sizeof err);
	ck_assert_msg(match_add(l, "10.0.0.0/33", err, sizeof err) == -1,
	    "short err: got 0, want -1");
	ck_assert_msg(strcmp(err, "bad CID") == 0,
	    "short err: got \"%.8s\", want \"bad CID\"", err);
	ck_assert_msg(match_add(l, "10.0.0.0/8", err, sizeof err) == 0,
	    "good after bad: got -1, want 0");
	match_list_finish(l);
	ck_assert_msg(match_list_size(l) == 1, "size: got %zu, want 1",
	    match_list_size(l));
	ck_assert_msg(match_find(l, "10.1.1.1") == MATCH_YES,
	    "good after bad: got no match");
	match_list_free(l);
	match_list_free(NULL);
}
END_TEST

/* A regex that backtracks past the match limit is an error, not a no. */

struct limit_case {
	const char		*name;
	enum match_kind		 kind;
	const char		*patterns[4];
	size_t			 as;	/* the value: this many 'a', then "!" */
	enum match_result	 want;
};

static const struct limit_case limit_cases[] = {
	{ "short, no match", MATCH_STRING, { "/^(a+)+$/" }, 0, N },
	{ "exponential", MATCH_STRING, { "/^(a+)+$/" }, 40, MATCH_ERROR },
	{ "exponential, 64 kB", MATCH_HOST, { "/^(a+)+$/" }, BIG, MATCH_ERROR },
	{ "exponential, address", MATCH_ADDR, { "/^(a|aa)+$/" }, 60, MATCH_ERROR },
	{ "error, then a match", MATCH_STRING, { "/^(a+)+$/", "/!$/" }, 40, Y },
	{ "match, then an error", MATCH_STRING, { "/!$/", "/^(a+)+$/" }, 40, Y },
	{ "local part wins before regex", MATCH_ADDR,
	    { "/^(a+)+$/", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!@" }, 40, Y },
	{ "error, then no match", MATCH_DOMAIN, { "/^(a+)+$/", "/^b/" }, 40,
	    MATCH_ERROR },
	{ "linear regex, 64 kB", MATCH_HOST, { "/^a+!$/" }, BIG, Y },
	{ "class repeat, 64 kB", MATCH_STRING, { "/^[ab]*!$/" }, BIG, Y },
	{ "group repeat, 8 kB", MATCH_STRING, { "/^(a|b)*!$/" }, 8192, Y },
	{ "group repeat, 64 kB: heap limit", MATCH_STRING, { "/^(a|b)*!$/" },
	    BIG, MATCH_ERROR },
};

START_TEST(test_limit)
{
	const struct limit_case *c = &limit_cases[_i];
	struct match_list *l = build(c->name, c->kind, c->patterns);
	char *v = malloc(c->as + 2);
	enum match_result got;

	ck_assert_ptr_nonnull(v);
	memset(v, 'a', c->as);
	memcpy(v + c->as, "!", 2);
	got = match_find(l, v);
	ck_assert_msg(got == c->want, "%s: got %d, want %d", c->name, got,
	    c->want);
	free(v);
	match_list_free(l);
}
END_TEST

/* One regex against one value costs a bounded amount of work whatever the
 * value's length: RE_STEPS steps shared by its start positions, and start
 * positions cut where the bytes after them add up to RE_SCAN (match.c). */

struct budget_case {
	const char		*name;
	const char		*pattern;
	const char		*head;
	char			 fill;
	size_t			 n;	/* this many fill bytes */
	const char		*tail;
	enum match_result	 want;
};

static const struct budget_case budget_cases[] = {
	{ "issue 20: 2 kB sender, steps shared by its 2,049 starts",
	    "/(a|a){1,17}b/", "", 'a', 2048, "Xb@example.com", MATCH_ERROR },
	{ "the same regex, short", "/(a|a){1,17}b/", "", 'a', 3, "b", Y },
	{ "the same regex, 17 a", "/(a|a){1,17}b/", "x", 'a', 17, "b", Y },
	{ "few steps at each of 2,049 starts", "/(a|a){1,6}b/", "", 'a', 2048,
	    "Xb", N },
	{ "a repeat that scans to the end from each start, 64 kB", "/\\w+@/",
	    "", 'a', BIG, "-@", MATCH_ERROR },
	{ "the same, 2 kB", "/\\w+@/", "", 'a', 2048, "-@", N },
	{ "the same, 64 kB, a match before the cut", "/\\w+@/", "x@", 'a',
	    BIG, "-", Y },
	{ "a literal at the end of 64 kB", "/viagra/", "", 'a', BIG,
	    " VIAGRA", Y },
	{ "a literal not in 64 kB", "/viagra/", "", 'a', BIG, " viagr", N },
	{ "anchored, 64 kB, the whole budget at one start",
	    "/^.*(foo|bar).*$/", "", 'a', BIG, "bar", Y },
	{ "line starts, 64 kB", "/(?m)^bar/", "", 'a', BIG, "\nbar", Y },
	{ "a class at the end of 64 kB", "/[0-9]{3}$/", "", 'a', BIG, "123", Y },
};

START_TEST(test_budget)
{
	const struct budget_case *c = &budget_cases[_i];
	const char *pats[] = { c->pattern, NULL };
	struct match_list *l = build(c->name, MATCH_STRING, pats);
	size_t hl = strlen(c->head), tl = strlen(c->tail);
	char *v = malloc(hl + c->n + tl + 1);
	enum match_result got;

	ck_assert_ptr_nonnull(v);
	memcpy(v, c->head, hl);
	memset(v + hl, c->fill, c->n);
	memcpy(v + hl + c->n, c->tail, tl + 1);
	got = match_find(l, v);
	ck_assert_msg(got == c->want, "%s: got %d, want %d", c->name, got,
	    c->want);
	free(v);
	match_list_free(l);
}
END_TEST

/* 64 kB values of one byte between a head and a tail, against every kind. */

static const char *const hostile_lists[][8] = {
	[MATCH_CLIENT] = { "10.0.0.0/8", "::/0", "0.0.0.0/0", "192.0.2.7" },
	[MATCH_HOST] = { "example.com", ".example.com", "/^zzz/", "/x$/" },
	[MATCH_ADDR] = { "user@example.com", "@example.com", ".example.org",
	    "user@", "<>", "/^bounce@/" },
	[MATCH_DOMAIN] = { "example.com", ".example.com", "/^zzz/" },
	[MATCH_STRING] = { "alice", "/^b+$/" },
};

struct hostile_case {
	const char		*name;
	enum match_kind		 kind;
	const char		*head;
	char			 fill;
	const char		*tail;
	enum match_result	 want;
};

static const struct hostile_case hostile_cases[] = {
	{ "client digits", MATCH_CLIENT, "", '1', "", N },
	{ "client dots", MATCH_CLIENT, "10", '.', "1", N },
	{ "client colons", MATCH_CLIENT, "", ':', "", N },
	{ "client brackets", MATCH_CLIENT, "[", '0', "]", N },
	{ "client long v4 tail", MATCH_CLIENT, "", ' ', "10.0.0.1", N },
	{ "host letters", MATCH_HOST, "", 'a', "", N },
	{ "host dots", MATCH_HOST, "", '.', "", N },
	{ "host dots, then the name", MATCH_HOST, "a", '.', "example.com", Y },
	{ "host labels, then the name", MATCH_HOST, "", 'a', ".example.com", Y },
	{ "host name, then junk", MATCH_HOST, "example.com", '.', "", N },
	{ "host regex at end", MATCH_HOST, "", 'Q', "X", Y },
	{ "addr letters", MATCH_ADDR, "", 'a', "", N },
	{ "addr all @", MATCH_ADDR, "", '@', "", N },
	{ "addr all quotes", MATCH_ADDR, "", '"', "", N },
	{ "addr long local", MATCH_ADDR, "", 'a', "@EXAMPLE.com", Y },
	{ "addr long quoted local", MATCH_ADDR, "\"", '@', "\"@example.com", Y },
	{ "addr unterminated quote", MATCH_ADDR, "\"", '@', "@example.com", N },
	{ "addr user, long domain", MATCH_ADDR, "user@", 'x', "", Y },
	{ "addr long subdomain", MATCH_ADDR, "u@", 'a', ".example.org", Y },
	{ "addr long domain, no", MATCH_ADDR, "u@", '.', "example.net", N },
	{ "addr bounce regex", MATCH_ADDR, "bounce@", '-', "", Y },
	{ "domain letters", MATCH_DOMAIN, "", 'E', "", N },
	{ "domain sub", MATCH_DOMAIN, "", 'E', ".EXAMPLE.COM", Y },
	{ "string b", MATCH_STRING, "", 'B', "", Y },
	{ "string a", MATCH_STRING, "", 'a', "", N },
	{ "string high bytes", MATCH_STRING, "", '\xff', "", N },
};

static char *
hostile_value(const char *head, char fill, const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = malloc(hl + BIG + tl + 1);

	ck_assert_ptr_nonnull(s);
	memcpy(s, head, hl);
	memset(s + hl, fill, BIG);
	memcpy(s + hl + BIG, tail, tl + 1);
	return s;
}

START_TEST(test_hostile)
{
	const struct hostile_case *c = &hostile_cases[_i];
	struct match_list *l = build(c->name, c->kind, hostile_lists[c->kind]);
	char *v = hostile_value(c->head, c->fill, c->tail);
	enum match_result got = match_find(l, v);

	ck_assert_msg(got == c->want, "%s: got %d, want %d", c->name, got,
	    c->want);
	free(v);
	match_list_free(l);
}
END_TEST

/* A 64 kB pattern is just a long pattern. */
START_TEST(test_hostile_pattern)
{
	struct match_list *l = match_list_new(MATCH_HOST);
	char *p = hostile_value(".", 'a', ".org"), err[64];

	ck_assert_msg(match_add(l, p, err, sizeof err) == 0, "big: %s", err);
	ck_assert_msg(match_add(l, p + 1, err, sizeof err) == 0, "big: %s",
	    err);
	match_list_finish(l);
	ck_assert_msg(match_find(l, p + 1) == MATCH_YES, "big exact: no match");
	p[0] = 'x';
	ck_assert_msg(match_find(l, p) == MATCH_NO, "big, one byte longer");
	ck_assert_msg(match_find(l, "a.org") == MATCH_NO,
	    "short value matched");
	free(p);
	match_list_free(l);
	l = match_list_new(MATCH_CLIENT);
	p = hostile_value("10.0.0.0/", '8', "");
	ck_assert_msg(match_add(l, p, err, sizeof err) == -1 &&
	    strncmp(err, "bad CIDR \"10.0.0.0/888", 22) == 0,
	    "big CIDR: got \"%s\"", err);
	free(p);
	match_list_finish(l);
	match_list_free(l);
}
END_TEST

/* 10,000 entries: the first, the last and one that is not there. */

typedef void gen_fn(char *, size_t, int);

static void
gen_v4(char *b, size_t n, int i)
{
	snprintf(b, n, "10.0.%d.%d", i / 256, i % 256);
}

static void
gen_v4net(char *b, size_t n, int i)
{
	snprintf(b, n, "10.%d.%d.0/24", i / 256, i % 256);
}

static void
gen_v6(char *b, size_t n, int i)
{
	snprintf(b, n, "2001:db8::%x", i);
}

static void
gen_v6net(char *b, size_t n, int i)
{
	snprintf(b, n, "2001:db8:%x::/48", i);
}

static void
gen_name(char *b, size_t n, int i)
{
	snprintf(b, n, "d%05d.example", i);
}

static void
gen_sub(char *b, size_t n, int i)
{
	snprintf(b, n, ".s%05d.org", i);
}

static void
gen_addr(char *b, size_t n, int i)
{
	snprintf(b, n, "u%05d@example.com", i);
}

static void
gen_local(char *b, size_t n, int i)
{
	snprintf(b, n, "u%05d@", i);
}

static void
gen_string(char *b, size_t n, int i)
{
	snprintf(b, n, "Name%05d", i);
}

struct big_case {
	const char	*name;
	enum match_kind	 kind;
	gen_fn		*gen;
	const char	*first, *last, *missing;
};

static const struct big_case big_cases[] = {
	{ "v4 hosts", MATCH_CLIENT, gen_v4, "10.0.0.0", "10.0.39.15", "10.0.39.16" },
	{ "v4 /24s", MATCH_CLIENT, gen_v4net, "10.0.0.77", "10.39.15.255",
	    "10.39.16.0" },
	{ "v6 hosts", MATCH_CLIENT, gen_v6, "2001:db8::", "2001:db8::270f",
	    "2001:db8::2710" },
	{ "v6 /48s", MATCH_CLIENT, gen_v6net, "2001:db8:0:ffff::1",
	    "2001:db8:270f:1::", "2001:db8:2710::" },
	{ "names", MATCH_DOMAIN, gen_name, "D00000.EXAMPLE", "d09999.example",
	    "d10000.example" },
	{ "subdomains", MATCH_HOST, gen_sub, "a.s00000.org", "x.y.S09999.ORG",
	    "s09999.org" },
	{ "addresses", MATCH_ADDR, gen_addr, "u00000@example.com",
	    "U09999@Example.Com", "u10000@example.com" },
	{ "local parts", MATCH_ADDR, gen_local, "u00000@x", "u09999",
	    "u09999x@x" },
	{ "strings", MATCH_STRING, gen_string, "name00000", "NAME09999",
	    "name1000" },
};

START_TEST(test_big)
{
	const struct big_case *c = &big_cases[_i];
	struct match_list *l = match_list_new(c->kind);
	char pat[64], err[256];
	int i;

	/* in reverse, so that finish has to sort */
	for (i = NBIG - 1; i >= 0; i--) {
		c->gen(pat, sizeof pat, i);
		ck_assert_msg(match_add(l, pat, err, sizeof err) == 0,
		    "%s: %s", c->name, err);
	}
	match_list_finish(l);
	ck_assert_msg(match_list_size(l) == NBIG, "%s: size: got %zu, want %d",
	    c->name, match_list_size(l), NBIG);
	ck_assert_msg(match_find(l, c->first) == MATCH_YES,
	    "%s: first: got %d, want %d", c->name, match_find(l, c->first),
	    MATCH_YES);
	ck_assert_msg(match_find(l, c->last) == MATCH_YES,
	    "%s: last: got %d, want %d", c->name, match_find(l, c->last),
	    MATCH_YES);
	ck_assert_msg(match_find(l, c->missing) == MATCH_NO,
	    "%s: missing: got %d, want %d", c->name, match_find(l, c->missing),
	    MATCH_NO);
	match_list_free(l);
}
END_TEST

/* Every entry of a 10,000-entry list of mixed kinds is found. */
START_TEST(test_big_every_entry)
{
	static gen_fn *const gens[] = { gen_name, gen_addr };
	struct match_list *l = match_list_new(MATCH_ADDR);
	char pat[64], val[80];
	int i;

	for (i = 0; i < NBIG; i++) {
		gens[i % 2](pat, sizeof pat, i);
		ck_assert_int_eq(match_add(l, pat, NULL, 0), 0);
	}
	match_list_finish(l);
	for (i = 0; i < NBIG; i++) {
		gens[i % 2](pat, sizeof pat, i);
		snprintf(val, sizeof val, i % 2 ? "%s" : "someone@%s", pat);
		ck_assert_msg(match_find(l, val) == MATCH_YES,
		    "entry %d \"%s\": got %d, want %d", i, val,
		    match_find(l, val), MATCH_YES);
	}
	match_list_free(l);
}
END_TEST

/* CIDRs of random lengths against a plain linear reference. */

struct ref_net {
	int		v6;
	int		prefix;
	unsigned char	k[16];
};

static uint32_t rng_state = 12345;

static uint32_t
rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static void
ref_mask(unsigned char *k, int bits)
{
	int i;

	for (i = 0; i < 16; i++) {
		if (bits >= 8)
			bits -= 8;
		else {
			k[i] &= (unsigned char)(0xff00 >> bits);
			bits = 0;
		}
	}
}

/* Random bytes, mostly near a few networks so that lookups often hit. */
static void
ref_key(unsigned char *k, int v6)
{
	int i;

	for (i = 0; i < 16; i++)
		k[i] = i >= (v6 ? 16 : 4) ? 0 : (unsigned char)rng();
	k[0] = (unsigned char)(v6 ? 0x20 : 10);
	if (rng() % 2)
		k[1] = (unsigned char)(rng() % 4);
}

/* A value inside a random network, or outside: one prefix bit flipped. */
static int
ref_value(const struct ref_net *nets, int n, unsigned char *k)
{
	const struct ref_net *net = &nets[rng() % (uint32_t)n];
	unsigned char r[16], m[16];
	int i, bit;

	ref_key(r, net->v6);
	memset(m, 0xff, sizeof m);
	ref_mask(m, net->prefix);
	for (i = 0; i < 16; i++)
		k[i] = (unsigned char)(net->k[i] | (r[i] & ~m[i]));
	if (net->prefix > 0 && rng() % 2) {
		bit = (int)(rng() % (uint32_t)net->prefix);
		k[bit / 8] ^= (unsigned char)(0x80 >> (bit % 8));
	}
	return net->v6;
}

static int
ref_find(const struct ref_net *nets, int n, const unsigned char *k, int v6)
{
	unsigned char m[16];
	int i;

	for (i = 0; i < n; i++) {
		if (nets[i].v6 != v6)
			continue;
		memcpy(m, k, 16);
		ref_mask(m, nets[i].prefix);
		if (memcmp(m, nets[i].k, 16) == 0)
			return 1;
	}
	return 0;
}

static void
ref_text(const unsigned char *k, int v6, char *b, size_t n)
{
	ck_assert_ptr_nonnull(inet_ntop(v6 ? AF_INET6 : AF_INET, k, b,
	    (socklen_t)n));
}

START_TEST(test_cidr_reference)
{
	enum { NNETS = 600, NVALUES = 6000 };
	static struct ref_net nets[NNETS];
	struct match_list *l = match_list_new(MATCH_CLIENT);
	unsigned char k[16];
	char text[80], pat[96], err[256];
	int i, v6, want, got, hits = 0;

	for (i = 0; i < NNETS; i++) {
		nets[i].v6 = i % 2;
		nets[i].prefix = (int)(rng() % (nets[i].v6 ? 129 : 33));
		if (nets[i].prefix < 8)		/* no /0: it would match all */
			nets[i].prefix += 8;
		ref_key(nets[i].k, nets[i].v6);
		ref_mask(nets[i].k, nets[i].prefix);
		ref_text(nets[i].k, nets[i].v6, text, sizeof text);
		snprintf(pat, sizeof pat, "%s/%d", text, nets[i].prefix);
		ck_assert_msg(match_add(l, pat, err, sizeof err) == 0, "%s",
		    err);
	}
	match_list_finish(l);
	for (i = 0; i < NVALUES; i++) {
		if (i % 3 == 0) {
			v6 = (int)(rng() % 2);
			ref_key(k, v6);
		} else
			v6 = ref_value(nets, NNETS, k);
		ref_text(k, v6, text, sizeof text);
		want = ref_find(nets, NNETS, k, v6) ? MATCH_YES : MATCH_NO;
		got = match_find(l, text);
		ck_assert_msg(got == want, "%s: got %d, want %d", text, got,
		    want);
		hits += got == MATCH_YES;
	}
	ck_assert_msg(hits > NVALUES / 20 && hits < NVALUES - NVALUES / 20,
	    "reference: %d hits of %d, too few of one kind to prove much",
	    hits, NVALUES);
	match_list_free(l);
}
END_TEST

/* Many threads on one finished list, regexes included. */

struct thread_case {
	const char		*value;
	enum match_result	 want;
};

static const struct thread_case thread_cases[] = {
	{ "a@example.com", Y }, { "b@x.example.com", Y }, { "c@other.org", N },
	{ "Bounce-1@other.org", Y }, { "", Y }, { "user@", N },
};

static void *
thread_main(void *arg)
{
	const struct match_list *l = arg;
	size_t i, n;

	for (n = 0; n < 2000; n++) {
		i = n % (NELEM(thread_cases));
		if (match_find(l, thread_cases[i].value) !=
		    thread_cases[i].want)
			return (void *)thread_cases[i].value;
	}
	return NULL;
}

START_TEST(test_threads)
{
	static const char *const patterns[] = { "@example.com", ".example.com",
	    "/^bounce-[0-9]+@/", "<>", NULL };
	struct match_list *l = build("threads", MATCH_ADDR, patterns);
	pthread_t t[8];
	void *bad;
	int i;

	for (i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thread_main, l),
		    0);
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(pthread_join(t[i], &bad), 0);
		ck_assert_msg(bad == NULL, "thread %d: \"%s\": wrong answer", i,
		    (const char *)bad);
	}
	match_list_free(l);
}
END_TEST

#define LOOP(tc, fn, table) \
	tcase_add_loop_test(tc, fn, 0, (int)NELEM(table))

static Suite *
match_suite(void)
{
	Suite *s = suite_create("match");
	TCase *tc = tcase_create("tables");

	LOOP(tc, test_find, find_cases);
	LOOP(tc, test_bad, bad_cases);
	tcase_add_test(tc, test_bad_err_buffer);
	suite_add_tcase(s, tc);
	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	LOOP(tc, test_limit, limit_cases);
	LOOP(tc, test_budget, budget_cases);
	LOOP(tc, test_hostile, hostile_cases);
	tcase_add_test(tc, test_hostile_pattern);
	suite_add_tcase(s, tc);
	tc = tcase_create("big");
	tcase_set_timeout(tc, 60);
	LOOP(tc, test_big, big_cases);
	tcase_add_test(tc, test_big_every_entry);
	tcase_add_test(tc, test_cidr_reference);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run_suite(match_suite());
}
