/*
 * check_redis_slot: the pure parts of Redis Cluster routing against known
 * vectors (slots from a real redis-server's CLUSTER KEYSLOT), the MOVED
 * and ASK redirects, and CLUSTER SLOTS replies fed as RESP through
 * hiredis's own reader, hostile ones included.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis_slot.h"
#include "store.h"

#define LOOP(tc, fn, tab) \
	tcase_add_loop_test(tc, fn, 0, (int)(sizeof tab / sizeof tab[0]))

/* redis_slot_of */

struct slot_case {
	const char *name;
	const char *key;
	unsigned want;
};

static const struct slot_case slot_cases[] = {
	{ "crc16 check value", "123456789", 0x31C3 },
	{ "foo", "foo", 12182 },
	{ "bar", "bar", 5061 },
	{ "hello", "hello", 866 },
	{ "somekey", "somekey", 11058 },
	{ "hash tag", "{user1000}.following", 3443 },
	{ "the tag alone", "user1000", 3443 },
	{ "empty first tag: the whole key", "foo{}{bar}", 8363 },
	{ "tag up to the first close", "foo{{bar}}zap", 4015 },
	{ "first tag only", "foo{bar}{zap}", 5061 },
	{ "our key form", "mp:rule:{00ff}", 1184 },
	{ "no close brace", "foo{bar", 0 },	/* want: slot of the whole key */
	{ "empty key", "", 0 },
};

START_TEST(test_slot)
{
	const struct slot_case *c = &slot_cases[_i];
	unsigned got = redis_slot_of(c->key, strlen(c->key));
	unsigned want = c->want;

	if (strcmp(c->name, "no close brace") == 0)
		want = redis_slot_crc16("foo{bar", 7) & 16383;
	ck_assert_msg(got == want, "%s: got %u, want %u", c->name, got, want);
}
END_TEST

/* Every key the Redis store builds keeps its identity in the hash tag, so
 * the rule name and prefix never move a counter to another slot. */
START_TEST(test_key_tag)
{
	char a[STORE_REDIS_KEY_MAX], b[STORE_REDIS_KEY_MAX];
	static const char id1[] = "rule-a\0messages\0" "192.0.2.7";
	static const char id2[] = "rule-a\0messages\0" "192.0.2.8";
	size_t la = store_redis_key("mp:", id1, sizeof id1, a, sizeof a);
	size_t lb = store_redis_key("other:", id1, sizeof id1, b, sizeof b);

	ck_assert_msg(strchr(a, '{') != NULL && a[la - 1] == '}',
	    "key %s: want a {hash tag} at its end", a);
	ck_assert_msg(strcmp(strchr(a, '{'), strchr(b, '{')) == 0,
	    "prefix changed the tag: %s vs %s", a, b);
	lb = store_redis_key("mp:", id2, sizeof id2, b, sizeof b);
	ck_assert_msg(strcmp(a, b) != 0, "two identities, one key: %s", a);
	(void)lb;
}
END_TEST

/* redis_slot_redirect */

struct redirect_case {
	const char *name;
	const char *err;
	enum redis_redirect want;
	unsigned slot;
	const char *host;
	int port;
};

static const struct redirect_case redirect_cases[] = {
	{ "moved", "MOVED 3999 127.0.0.1:6381", REDIRECT_MOVED, 3999, "127.0.0.1", 6381 },
	{ "ask", "ASK 12182 127.0.0.2:7002", REDIRECT_ASK, 12182, "127.0.0.2", 7002 },
	{ "empty host", "MOVED 0 :7000", REDIRECT_MOVED, 0, "", 7000 },
	{ "unknown endpoint", "MOVED 16383 ?:7000", REDIRECT_MOVED, 16383, "", 7000 },
	{ "ipv6", "MOVED 1 ::1:7000", REDIRECT_MOVED, 1, "::1", 7000 },
	{ "a name", "ASK 5 redis-3.example:6379", REDIRECT_ASK, 5, "redis-3.example", 6379 },
	{ "slot too big", "MOVED 16384 127.0.0.1:7000", REDIRECT_NONE, 0, NULL, 0 },
	{ "negative slot", "MOVED -1 127.0.0.1:7000", REDIRECT_NONE, 0, NULL, 0 },
	{ "no port", "MOVED 1 127.0.0.1", REDIRECT_NONE, 0, NULL, 0 },
	{ "port 0", "MOVED 1 127.0.0.1:0", REDIRECT_NONE, 0, NULL, 0 },
	{ "port too big", "MOVED 1 127.0.0.1:65536", REDIRECT_NONE, 0, NULL, 0 },
	{ "port junk", "MOVED 1 127.0.0.1:70x", REDIRECT_NONE, 0, NULL, 0 },
	{ "no address", "MOVED 1", REDIRECT_NONE, 0, NULL, 0 },
	{ "lower case", "moved 1 127.0.0.1:7000", REDIRECT_NONE, 0, NULL, 0 },
	{ "other error", "ERR unknown command", REDIRECT_NONE, 0, NULL, 0 },
	{ "tryagain", "TRYAGAIN Multiple keys request during rehashing of slot", REDIRECT_NONE, 0, NULL, 0 },
	{ "readonly", "READONLY You can't write against a read only replica.", REDIRECT_NONE, 0, NULL, 0 },
	{ "empty", "", REDIRECT_NONE, 0, NULL, 0 },
	{ "host too long", "MOVED 1 "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ":7000", REDIRECT_NONE, 0, NULL, 0 },
};

START_TEST(test_redirect)
{
	const struct redirect_case *c = &redirect_cases[_i];
	char host[REDIS_HOST_MAX] = "untouched";
	unsigned slot = 99999;
	int port = -1;
	enum redis_redirect got = redis_slot_redirect(c->err, &slot, host, &port);

	ck_assert_msg(got == c->want, "%s: got kind %d, want %d", c->name,
	    (int)got, (int)c->want);
	if (c->want == REDIRECT_NONE)
		return;
	ck_assert_msg(slot == c->slot && port == c->port &&
	    strcmp(host, c->host) == 0, "%s: got %u %s:%d, want %u %s:%d",
	    c->name, slot, host, port, c->slot, c->host, c->port);
}
END_TEST

/* redis_slot_map_parse, from RESP bytes */

struct map_case {
	const char *name;
	const char *resp;
	int want;		/* ranges, or -1 */
	unsigned first, last;	/* of the last range */
	const char *host;
	int port;
};


static const struct map_case map_cases[] = {
	{ "three masters with replicas",
	  "*3\r\n"
	  "*4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
	      "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nid\r\n"
	  "*3\r\n:5461\r\n:10922\r\n*3\r\n$9\r\n127.0.0.1\r\n:7001\r\n$2\r\nid\r\n"
	  "*3\r\n:10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:7002\r\n$2\r\nid\r\n*0\r\n",
	  3, 10923, 16383, "127.0.0.1", 7002 },
	{ "unknown endpoint as nil",
	  "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$-1\r\n:7000\r\n$2\r\nid\r\n",
	  1, 0, 16383, "", 7000 },
	{ "unknown endpoint as ?",
	  "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$1\r\n?\r\n:7000\r\n$2\r\nid\r\n",
	  1, 0, 16383, "", 7000 },
	{ "not in cluster mode",
	  "-ERR This instance has cluster support disabled\r\n", -1, 0, 0, NULL, 0 },
	{ "no slots assigned", "*0\r\n", -1, 0, 0, NULL, 0 },
	{ "a string", "$2\r\nok\r\n", -1, 0, 0, NULL, 0 },
	{ "range reversed",
	  "*1\r\n*3\r\n:10\r\n:5\r\n*2\r\n$1\r\nh\r\n:7000\r\n", -1, 0, 0, NULL, 0 },
	{ "slot past the end",
	  "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:7000\r\n", -1, 0, 0, NULL, 0 },
	{ "negative slot",
	  "*1\r\n*3\r\n:-1\r\n:5\r\n*2\r\n$1\r\nh\r\n:7000\r\n", -1, 0, 0, NULL, 0 },
	{ "port as a string",
	  "*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$1\r\nh\r\n$4\r\n7000\r\n", -1, 0, 0, NULL, 0 },
	{ "port 0",
	  "*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$1\r\nh\r\n:0\r\n", -1, 0, 0, NULL, 0 },
	{ "no master",
	  "*1\r\n*2\r\n:0\r\n:5\r\n", -1, 0, 0, NULL, 0 },
	{ "master not an array",
	  "*1\r\n*3\r\n:0\r\n:5\r\n$1\r\nh\r\n", -1, 0, 0, NULL, 0 },
	{ "host an integer",
	  "*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n:1\r\n:7000\r\n", -1, 0, 0, NULL, 0 },
};

static redisReply *
resp_parse(const char *resp)
{
	redisReader *r = redisReaderCreate();
	void *rep = NULL;

	ck_assert(redisReaderFeed(r, resp, strlen(resp)) == REDIS_OK);
	ck_assert_msg(redisReaderGetReply(r, &rep) == REDIS_OK && rep != NULL,
	    "fixture is not complete RESP: %s", resp);
	redisReaderFree(r);
	return rep;
}

START_TEST(test_map)
{
	const struct map_case *c = &map_cases[_i];
	redisReply *rep = resp_parse(c->resp);
	struct redis_slot_range *r = (void *)1;
	const char *why = NULL;
	int got = redis_slot_map_parse(rep, &r, &why);

	ck_assert_msg(got == c->want, "%s: got %d ranges, want %d", c->name,
	    got, c->want);
	if (got < 0) {
		ck_assert_msg(r == NULL && why != NULL, "%s: want no ranges "
		    "and a reason", c->name);
	} else {
		ck_assert_msg(r[got - 1].first == c->first &&
		    r[got - 1].last == c->last && r[got - 1].port == c->port &&
		    strcmp(r[got - 1].host, c->host) == 0,
		    "%s: got %u-%u %s:%d, want %u-%u %s:%d", c->name,
		    r[got - 1].first, r[got - 1].last, r[got - 1].host,
		    r[got - 1].port, c->first, c->last, c->host, c->port);
	}
	free(r == (void *)1 ? NULL : r);
	freeReplyObject(rep);
}
END_TEST

static Suite *
slot_suite(void)
{
	Suite *s = suite_create("redis_slot");
	TCase *tc = tcase_create("tables");

	LOOP(tc, test_slot, slot_cases);
	tcase_add_test(tc, test_key_tag);
	LOOP(tc, test_redirect, redirect_cases);
	LOOP(tc, test_map, map_cases);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(slot_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
