/*
 * check_limits: a changed limit applies to the count (issue 13 §1) in the
 * memory store (injected clock), through its state file (version 2, and
 * version 1 as the release before wrote it) and on a real redis-server
 * (started here on a free loopback port, stopped by its PID); and counter
 * identities that no two key lists share (issue 20 item 8).
 */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <sodium.h>

#include "check_redis_server.h"
#include "check_util.h"
#include "keys.h"
#include "overrides.h"
#include "ratelimit.h"
#include "store.h"

typedef unsigned long long ull;

#define T0	1000000		/* the injected clock's start, ms */
#define W0	1700000000000LL	/* wall clock at T0 */
#define MIN	60000
#define HOUR	3600000

/* ---- a limit changed between two series of takes ---- */

struct change {
	const char *name;
	uint64_t rate1, window1, burst1;	/* the limit the count was made under */
	int used;				/* taken under it at T0 */
	uint64_t rate2, window2, burst2;	/* the limit in force after */
	int pass;			/* takes that then pass at T0 */
	uint64_t count;			/* the count a look sees after them */
	uint64_t wait_ms;		/* then, later by this (memory only) */
	int pass_later;			/* takes that pass then */
};

static const struct change changes[] = {
	/* the examples */
	{ "3/1m raised to 5/1m", 3, MIN, 3, 3, 5, MIN, 5, 2, 5, 0, 0 },
	{ "5/1m lowered to 3/1m", 5, MIN, 5, 5, 3, MIN, 3, 0, 5, 60000, 1 },
	{ "5/1m lowered to 3/1m, not yet", 5, MIN, 5, 5, 3, MIN, 3, 0, 5,
	  59999, 0 },
	{ "10/1m to 600/1h keeps the count", 10, MIN, 10, 10, 600, HOUR, 600,
	  590, 600, 0, 0 },
	{ "10/1h raised to 20/1h", 10, HOUR, 10, 10, 20, HOUR, 20, 10, 20, 0,
	  0 },
	/* the period alone, and the burst alone */
	{ "10/1m to 10/1h keeps 10", 10, MIN, 10, 10, 10, HOUR, 10, 0, 10,
	  HOUR / 10, 1 },
	{ "burst 3 raised to 6", 3, MIN, 3, 3, 3, MIN, 6, 3, 6, 0, 0 },
	{ "a part used, rate raised", 100, HOUR, 100, 40, 200, HOUR, 200, 160,
	  200, 0, 0 },
	{ "unchanged", 3, MIN, 3, 3, 3, MIN, 3, 0, 3, 20000, 1 },
};

static struct store_req
req_of(const char *id, uint64_t rate, uint64_t window, uint64_t burst,
    enum store_charge charge)
{
	struct store_req r = { id, strlen(id), STORE_GCRA, window, rate, burst,
	    1, charge, 0 };

	return r;
}

/* Take one at a time until refused (at most max); how many passed. */
static int
take_until_refused(struct store *s, const struct store_req *req,
    uint64_t now, int max)
{
	struct store_res res;
	int n;

	for (n = 0; n < max; n++) {
		ck_assert(store_take(s, req, now, &res) == STORE_OK);
		if (!res.allowed)
			break;
	}
	return n;
}

static uint64_t
look_count(struct store *s, struct store_req req, uint64_t now)
{
	struct store_res res;

	req.charge = STORE_CHARGE_NONE;
	ck_assert(store_take(s, &req, now, &res) == STORE_OK);
	return res.count;
}

/* The series under the first limit; the store is the caller's. */
static void
change_before(struct store *s, const struct change *c, uint64_t now)
{
	struct store_req r1 = req_of(c->name, c->rate1, c->window1, c->burst1,
	    STORE_CHARGE_ALLOWED);
	int n = take_until_refused(s, &r1, now, c->used);

	ck_assert_msg(n == c->used, "%s: before: %d passed, want %d", c->name,
	    n, c->used);
}

/* The series under the second limit, at now (and later when wait_ms). */
static void
change_after(struct store *s, const struct change *c, uint64_t now,
    int later)
{
	struct store_req r2 = req_of(c->name, c->rate2, c->window2, c->burst2,
	    STORE_CHARGE_ALLOWED);
	int n = take_until_refused(s, &r2, now, 10000);
	uint64_t cnt = look_count(s, r2, now);

	ck_assert_msg(n == c->pass, "%s: %d passed, want %d", c->name, n,
	    c->pass);
	ck_assert_msg(cnt == c->count, "%s: count %llu, want %llu", c->name,
	    (ull)cnt, (ull)c->count);
	if (!later || c->wait_ms == 0)
		return;
	n = take_until_refused(s, &r2, now + c->wait_ms, 10000);
	ck_assert_msg(n == c->pass_later, "%s: %llu ms later %d passed, want "
	    "%d", c->name, (ull)c->wait_ms, n, c->pass_later);
}

START_TEST(test_change_memory)
{
	const struct change *c = &changes[_i];
	struct store *s = store_memory_new(1000);

	change_before(s, c, T0);
	change_after(s, c, T0, 1);
	store_free(s);
}
END_TEST

static char tmpdir[64];

static void
tmp_setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/check_limits.XXXXXX");
	ck_assert(mkdtemp(tmpdir) != NULL);
}

static void
tmp_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

/* A reload across a restart: saved under the old limit, loaded, read
 * under the new one (a minute later by the monotonic clock). */
START_TEST(test_change_state_file)
{
	const struct change *c = &changes[_i];
	struct store *s = store_memory_new(1000), *b = store_memory_new(1000);
	char path[128], err[256] = "";

	snprintf(path, sizeof path, "%s/state", tmpdir);
	change_before(s, c, T0);
	ck_assert(store_save(s, path, T0, W0, err, sizeof err) == STORE_OK);
	ck_assert_msg(store_memory_load(b, path, 5 * T0, W0, err, sizeof err) ==
	    STORE_LOAD_OK, "%s: load: %s", c->name, err);
	change_after(b, c, 5 * T0, 1);
	store_free(s);
	store_free(b);
}
END_TEST

/* ---- the state file the release before wrote (version 1) ---- */

static unsigned char *
read_all(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	unsigned char *p;

	ck_assert(fp != NULL && fstat(fileno(fp), &st) == 0);
	*n = (size_t)st.st_size;
	p = malloc(*n);
	ck_assert(p != NULL && fread(p, 1, *n, fp) == *n);
	fclose(fp);
	return p;
}

/* Rewrite a version 2 file as version 1: 32-byte records without the
 * rate, a new checksum. */
static void
to_version1(const char *path)
{
	size_t n, nrec, i, m;
	unsigned char *p = read_all(path, &n), *q;
	FILE *fp;

	nrec = (n - 40 - 40) / 48;
	q = calloc(1, 40 + nrec * 32 + 40);
	memcpy(q, p, 40);
	q[8] = 1;
	q[12] = 32;
	for (i = 0; i < nrec; i++)
		memcpy(q + 40 + i * 32, p + 40 + i * 48, 32);
	m = 40 + nrec * 32;
	memcpy(q + m, p + n - 40, 8);
	crypto_generichash(q + m + 8, 32, q, m + 8, NULL, 0);
	fp = fopen(path, "wb");
	ck_assert(fp != NULL && fwrite(q, 1, m + 40, fp) == m + 40);
	fclose(fp);
	free(p);
	free(q);
}

/* An upgrade with the limit unchanged keeps every count exactly. */
START_TEST(test_version1_file)
{
	struct store *s = store_memory_new(1000), *b = store_memory_new(1000);
	struct store_req r = req_of("v1", 7, HOUR, 7, STORE_CHARGE_ALLOWED);
	char path[128], err[256] = "";
	int n;

	snprintf(path, sizeof path, "%s/state-v1", tmpdir);
	ck_assert(take_until_refused(s, &r, T0, 5) == 5);
	ck_assert(store_save(s, path, T0, W0, err, sizeof err) == STORE_OK);
	to_version1(path);
	ck_assert_msg(store_memory_load(b, path, T0, W0, err, sizeof err) ==
	    STORE_LOAD_OK, "load version 1: %s", err);
	ck_assert_msg(look_count(b, r, T0) == 5, "count after the upgrade: "
	    "got %llu, want 5", (ull)look_count(b, r, T0));
	n = take_until_refused(b, &r, T0, 100);
	ck_assert_msg(n == 2, "7/1h, 5 used before the upgrade: %d passed, "
	    "want 2", n);
	store_free(s);
	store_free(b);
}
END_TEST

/* ---- the same on Redis ---- */

static struct store *
redis_store(const char *prefix)
{
	struct store_redis_opts o = { .host = "127.0.0.1", .port = redis_port,
	    .prefix = (char *)prefix, .timeout_ms = 2000 };

	return store_redis_new(&o);
}

/* The server's clock runs: only the cases decided at once (a drain of a
 * few ms cannot change them). */
START_TEST(test_change_redis)
{
	const struct change *c = &changes[_i];
	char prefix[32];
	struct store *s;

	snprintf(prefix, sizeof prefix, "lim%d:", _i);
	s = redis_store(prefix);
	change_before(s, c, 0);
	change_after(s, c, 0, 0);
	store_free(s);
}
END_TEST

/* Two MTAs of a half-reloaded fleet take turns on one counter, each
 * under its own limit: the count stays whole, each applies its limit. */
START_TEST(test_half_reloaded_fleet)
{
	struct store *a = redis_store("fleet:"), *b = redis_store("fleet:");
	struct store_req old = req_of("f", 3, MIN, 3, STORE_CHARGE_ALLOWED);
	struct store_req new = req_of("f", 5, MIN, 5, STORE_CHARGE_ALLOWED);
	struct store_res res;
	int i, passed_new = 0;

	ck_assert(take_until_refused(a, &old, 0, 3) == 3);
	for (i = 0; i < 4; i++) {
		ck_assert(store_take(b, &new, 0, &res) == STORE_OK);
		passed_new += res.allowed;
		ck_assert(store_take(a, &old, 0, &res) == STORE_OK);
		ck_assert_msg(!res.allowed, "the old limit let one through");
	}
	ck_assert_msg(passed_new == 2, "the new limit: %d passed, want 2",
	    passed_new);
	ck_assert_msg(look_count(a, old, 0) == 5, "count under the old limit: "
	    "%llu, want 5", (ull)look_count(a, old, 0));
	store_free(a);
	store_free(b);
}
END_TEST


/* A quota's window on Redis: given back (a refused message), it keeps
 * its end. */
START_TEST(test_redis_window_give)
{
	struct store *s = redis_store("give:");
	struct store_req w = { "w", 1, STORE_WINDOW, 600000, 0, 2, 1,
	    STORE_CHARGE_ALLOWED, 0 };
	struct store_res res;

	ck_assert(take_until_refused(s, &w, 0, 5) == 2);
	ck_assert(store_give(s, &w, 0) == STORE_OK);
	w.charge = STORE_CHARGE_NONE;
	ck_assert(store_take(s, &w, 0, &res) == STORE_OK);
	ck_assert_msg(res.count == 1 && res.allowed, "after a give: count "
	    "%llu allowed %d, want 1 and 1", (ull)res.count, res.allowed);
	ck_assert_msg(res.retry_after_ms == 0, "a look that is allowed has "
	    "no retry");
	w.charge = STORE_CHARGE_ALLOWED;
	ck_assert(take_until_refused(s, &w, 0, 5) == 1);
	ck_assert(store_take(s, &w, 0, &res) == STORE_OK && !res.allowed &&
	    res.retry_after_ms > 590000 && res.retry_after_ms <= 600000);
	store_free(s);
}
END_TEST

/* ---- identities (issue 20 item 8) ---- */

struct id_case {
	const char *name;
	const char *sender1, *helo1, *sender2, *helo2;
	int same;
};

static const struct id_case id_cases[] = {
	{ "0x1f moved between values", "a\x1f" "b", "c", "a", "b\x1f" "c", 0 },
	{ "0x1e in a value", "a\x1e" "b", "c", "a", "b\x1e" "c", 0 },
	{ "the escape byte", "a\x1d" "_b", "c", "a\x1f" "b", "c", 0 },
	{ "case still folds", "A@B.example", "x", "a@b.example", "x", 1 },
	{ "a trailing dot still drops", "a@b.example.", "x", "a@b.example",
	  "x", 1 },
};

static size_t
id_of(const char *sender, const char *helo, unsigned char *id)
{
	struct keyspec k[2] = { { .kind = KEY_SENDER }, { .kind = KEY_HELO } };
	struct keyset ks = { 2, k };
	struct pol_env env = { 0 };
	struct count_ctx cx = { .env = &env };

	env.sender = sender;
	env.helo = helo;
	return keys_id("r", "messages", &ks, &cx, id);
}

START_TEST(test_identities)
{
	const struct id_case *c = &id_cases[_i];
	unsigned char a[KEYS_ID_MAX], b[KEYS_ID_MAX];
	size_t na = id_of(c->sender1, c->helo1, a);
	size_t nb = id_of(c->sender2, c->helo2, b);
	int same = na == nb && memcmp(a, b, na) == 0;

	ck_assert_msg(same == c->same, "%s: same %d, want %d", c->name, same,
	    c->same);
}
END_TEST

/* A raw value '#' + 16 bytes never reads as the hashed form of a long
 * one; and a plain value's identity is what it was before the escape. */
START_TEST(test_identity_forms)
{
	unsigned char a[KEYS_ID_MAX], h[KEYS_ID_MAX];
	char raw[18], long_v[200];
	struct keyspec k = { .kind = KEY_SENDER };
	struct keyset ks = { 1, &k };
	struct pol_env env = { 0 };
	struct count_ctx cx = { .env = &env };
	size_t na, nh;
	static const char plain[] = "r\0messages\0a@b.example\x1fhelo.example";

	memset(long_v, 'x', sizeof long_v - 1);
	long_v[sizeof long_v - 1] = '\0';
	env.sender = long_v;
	nh = keys_id("r", "messages", &ks, &cx, h);
	ck_assert(nh == 11 + 17 && h[11] == '#');
	memcpy(raw, h + 11, 17);
	raw[17] = '\0';
	if (memchr(raw, '\0', 17) == NULL) {	/* a value cannot hold a NUL */
		env.sender = raw;
		na = keys_id("r", "messages", &ks, &cx, a);
		ck_assert_msg(na != nh || memcmp(a, h, nh) != 0,
		    "a raw '#' value took the hashed form's identity");
	}
	na = id_of("a@b.example", "helo.example", a);
	ck_assert_msg(na == sizeof plain - 1 && memcmp(a, plain, na) == 0,
	    "a plain identity changed");
}
END_TEST


/* ---- overrides (issue 13 section 2) ---- */

struct parse_case {
	const char *name;
	const char *text;
	int errors;
	const char *want;	/* in the first error, with its line */
};

static const struct parse_case parse_cases[] = {
	{ "good lines", "# c\nalice@example.com 5000/1d\nexample.net 1000/1h # d\n"
	  "203.0.113.0/24 unlimited\nsuspended@example.com 0\n\n  \n"
	  "2001:db8::/48 10/1h\n192.0.2.7 5/1m\n", 0, NULL },
	{ "unknown unit", "a@b 5/1w\n", 1, "1: limit \"5/1w\": expected" },
	{ "no limit", "ok 1/1d\nalice\n", 1, "2: expected KEY LIMIT" },
	{ "three words", "a b c\n", 1, "1: expected KEY LIMIT" },
	{ "host bits", "203.0.113.5/24 0\n", 1, "write 203.0.113.0/24" },
	{ "v4 prefix out of range", "10.0.0.0/33 0\n", 1, "0 to 32 for IPv4" },
	{ "v6 prefix out of range", "::/129 0\n", 1, "0 to 128 for IPv6" },
	{ "twice", "a@b 1/1d\nA@B 2/1d\n", 1, "2: \"A@B\" is already" },
	{ "zero rate", "a@b 0/1d\n", 1, "N at least 1" },
	{ "an overflowing rate", "a@b 99999999999999999999/1d\n", 1,
	  "N at least 1" },
	{ "not a network", "example.com/24 0\n", 1, "ADDR/LEN" },
	{ "a NUL byte", "a@b 1/1d\n\0x 1/1d\n", 1, "2: a NUL byte" },
	{ "all reported", "a 1/1w\nb\nc 0\n10.0.0.1/8 0\n", 3, NULL },
};

struct err_log {
	int n;
	char first[512];
};

static void
log_error(void *arg, int line, const char *msg)
{
	struct err_log *e = arg;

	if (e->n++ == 0)
		snprintf(e->first, sizeof e->first, "%d: %s", line, msg);
}

START_TEST(test_overrides_parse)
{
	const struct parse_case *c = &parse_cases[_i];
	size_t len = strlen(c->text);
	struct err_log e = { 0, "" };
	struct ov_table *t;
	int n = 0;

	if (strcmp(c->name, "a NUL byte") == 0)
		len = 17;
	t = ov_parse(c->text, len, log_error, &e, &n);
	ck_assert_msg(n == c->errors && e.n == n, "%s: %d errors, want %d "
	    "(first: %s)", c->name, n, c->errors, e.first);
	ck_assert_msg(c->want == NULL || strstr(e.first, c->want) != NULL,
	    "%s: error \"%s\", want \"%s\"", c->name, e.first, c->want);
	ov_free(t);
}
END_TEST

static const char table[] =
    "alice@example.com 5000/1d\nexample.net 1000/1h\n"
    "suspended@example.com 0\n203.0.113.0/24 unlimited\n"
    "203.0.113.128/25 7/1h\n2001:db8::/48 10/1h\n2001:db8:0:1::/64 0\n"
    "192.0.2.7 3/1m\n";

struct lookup_case {
	const char *name;
	enum key_kind key;
	const char *value;	/* the sender, or the client address */
	int found;
	enum ov_kind kind;
	unsigned long rate;
};

static const struct lookup_case lookup_cases[] = {
	{ "an address exactly", KEY_SENDER, "Alice@Example.COM", 1, OV_RATE, 5000 },
	{ "then its domain", KEY_SENDER, "bob@example.net", 1, OV_RATE, 1000 },
	{ "a subdomain is not the domain", KEY_SENDER, "bob@x.example.net", 0, 0, 0 },
	{ "0", KEY_SENDER, "suspended@example.com", 1, OV_ZERO, 0 },
	{ "no entry", KEY_SENDER, "carol@example.com", 0, 0, 0 },
	{ "sender_domain", KEY_SENDER_DOMAIN, "x@example.net", 1, OV_RATE, 1000 },
	{ "a /24", KEY_CLIENT_ADDR, "203.0.113.5", 1, OV_UNLIMITED, 0 },
	{ "the longer /25 wins", KEY_CLIENT_ADDR, "203.0.113.200", 1, OV_RATE, 7 },
	{ "a host", KEY_CLIENT_ADDR, "192.0.2.7", 1, OV_RATE, 3 },
	{ "next to the host", KEY_CLIENT_ADDR, "192.0.2.8", 0, 0, 0 },
	{ "a /48", KEY_CLIENT_ADDR, "2001:db8:0:2::9", 1, OV_RATE, 10 },
	{ "the /64 in it", KEY_CLIENT_ADDR, "2001:DB8:0:1::9", 1, OV_ZERO, 0 },
	{ "mapped IPv4", KEY_CLIENT_ADDR, "::ffff:192.0.2.7", 1, OV_RATE, 3 },
	{ "client_net by the address", KEY_CLIENT_NET, "203.0.113.1", 1,
	  OV_UNLIMITED, 0 },
	{ "outside", KEY_CLIENT_ADDR, "198.51.100.1", 0, 0, 0 },
};

static struct limit *
limit_with(enum key_kind key, const char *text)
{
	struct limit *l = calloc(1, sizeof *l);
	int n = 0;

	l->unit = RL_MESSAGES;
	l->keys.n = 1;
	l->keys.k = calloc(1, sizeof *l->keys.k);
	l->keys.k[0].kind = key;
	l->rate = l->burst = 2;
	l->window_ms = HOUR;
	l->charge = STORE_CHARGE_ALLOWED;
	l->overrides = ov_parse(text, strlen(text), log_error,
	    &(struct err_log){ 0, "" }, &n);
	ck_assert(n == 0);
	return l;
}

static void
env_for(const struct lookup_case *c, struct pol_env *env)
{
	memset(env, 0, sizeof *env);
	if (c->key == KEY_CLIENT_ADDR || c->key == KEY_CLIENT_NET)
		env->client_addr = c->value;
	else
		env->sender = c->value;
}

START_TEST(test_overrides_lookup)
{
	const struct lookup_case *c = &lookup_cases[_i];
	struct limit *l = limit_with(c->key, table);
	struct pol_env env;
	struct count_ctx cx = { .env = &env };
	const struct ov_limit *o;

	env_for(c, &env);
	o = rl_override(l, &cx);
	ck_assert_msg((o != NULL) == c->found, "%s: found %d, want %d",
	    c->name, o != NULL, c->found);
	if (o != NULL)
		ck_assert_msg(o->kind == c->kind && o->rate == c->rate,
		    "%s: kind %d rate %lu, want %d %lu", c->name, o->kind,
		    o->rate, c->kind, c->rate);
	rl_limit_free(l);
}
END_TEST

/* Through the charge: 0 refuses (a look too), unlimited never refuses
 * nor counts, an entry's rate replaces the rule's (2/1h). */
START_TEST(test_overrides_charge)
{
	static const struct { const char *sender; int pass; size_t keys; } c[] = {
		{ "suspended@example.com", 0, 0 },
		{ "x@example.org", 2, 1 },
		{ "alice@example.com", 50, 1 },
	};
	struct limit *l = limit_with(KEY_SENDER, table);
	struct limit *u = limit_with(KEY_CLIENT_ADDR, table);
	struct store *st;
	struct rl_ledger led = { 0 };
	struct pol_env env = { .client_addr = "203.0.113.9" };
	struct count_ctx cx = { .env = &env, .now_ms = T0 };
	size_t i;
	int n;

	for (i = 0; i < NELEM(c); i++) {
		cx.st = st = store_memory_new(1000);
		env.sender = c[i].sender;
		for (n = 0; n < 50; n++) {
			led.n = 0;
			if (rl_check(l, "r", &led, &cx) != COUNT_OK)
				break;
		}
		ck_assert_msg(n == c[i].pass, "%s: %d passed, want %d",
		    c[i].sender, n, c[i].pass);
		ck_assert_msg(store_count(st) == c[i].keys, "%s: %zu counters, "
		    "want %zu", c[i].sender, store_count(st), c[i].keys);
		store_free(st);
	}
	/* a rule that only looks (charge none, the early check at connect)
	 * refuses a 0 entry as the rule that charges does */
	cx.st = st = store_memory_new(1000);
	env.sender = "suspended@example.com";
	l->charge = STORE_CHARGE_NONE;
	ck_assert_int_eq(rl_check(l, "r", &led, &cx), COUNT_OVER);
	store_free(st);
	cx.st = st = store_memory_new(1000);
	for (n = 0; n < 100; n++) {
		led.n = 0;
		ck_assert(rl_check(u, "u", &led, &cx) == COUNT_OK && cx.unlimited);
	}
	ck_assert_msg(store_count(st) == 0, "unlimited charged: %zu counters",
	    store_count(st));
	free(led.c);
	store_free(st);
	rl_limit_free(l);
	rl_limit_free(u);
}
END_TEST

/* 100,000 lines: every one loaded (the time is bench's business). */
START_TEST(test_overrides_big)
{
	size_t cap = 100000 * 40, len = 0, i;
	char *buf = malloc(cap);
	struct err_log e = { 0, "" };
	struct ov_table *t;
	int n = 0;

	for (i = 0; i < 100000; i++)
		len += (size_t)snprintf(buf + len, cap - len, "user%zu@example.com "
		    "%zu/1d\n", i, i + 1);
	t = ov_parse(buf, len, log_error, &e, &n);
	ck_assert_msg(n == 0 && ov_count(t) == 100000, "%d errors (%s), %zu "
	    "entries", n, e.first, ov_count(t));
	ck_assert(ov_find_name(t, "user99999@example.com")->rate == 100000);
	ov_free(t);
	free(buf);
}
END_TEST

/* ---- client_net prefixes (issue 13 section 3) ---- */

struct net_case {
	const char *spec;	/* after "client_net" */
	int ok;
	unsigned char net4, net6;
};

static const struct net_case net_cases[] = {
	{ "", 1, 0, 0 }, { "/22", 1, 22, 0 }, { "/22,/48", 1, 22, 48 },
	{ ",/48", 1, 0, 48 }, { "/1", 1, 1, 0 }, { "/32", 1, 32, 0 },
	{ "/24,/1", 1, 24, 1 }, { "/24,/128", 1, 24, 128 },
	{ "/0", 0, 0, 0 }, { "/33", 0, 0, 0 }, { "/24,/0", 0, 0, 0 },
	{ "/24,/129", 0, 0, 0 }, { "/", 0, 0, 0 }, { "/24,", 0, 0, 0 },
	{ "/24,48", 0, 0, 0 }, { "/2a", 0, 0, 0 }, { "/-1", 0, 0, 0 },
	{ "/0024", 1, 24, 0 }, { "/99999999999", 0, 0, 0 },
};

START_TEST(test_net_parse)
{
	const struct net_case *c = &net_cases[_i];
	unsigned char n4 = 99, n6 = 99;
	char err[256] = "";
	int rc = keys_parse_net(c->spec, &n4, &n6, err, sizeof err);

	ck_assert_msg((rc == 0) == c->ok, "\"client_net%s\": rc %d, want %s "
	    "(%s)", c->spec, rc, c->ok ? "ok" : "an error", err);
	if (c->ok)
		ck_assert_msg(n4 == c->net4 && n6 == c->net6, "\"client_net%s\": "
		    "/%d,/%d, want /%d,/%d", c->spec, n4, n6, c->net4, c->net6);
	else
		ck_assert_msg(strstr(err, "write e.g. \"client_net/22,/48\"") !=
		    NULL, "\"client_net%s\": err \"%s\"", c->spec, err);
}
END_TEST

struct mask_case {
	unsigned char net4, net6;
	const char *addr, *want;
};

static const struct mask_case mask_cases[] = {
	{ 0, 0, "192.0.2.77", "192.0.2.0/24" },
	{ 0, 0, "2001:db8:1:2:3::9", "2001:db8:1:2::/64" },
	{ 22, 0, "192.0.3.255", "192.0.0.0/22" },
	{ 22, 0, "192.0.4.0", "192.0.4.0/22" },
	{ 23, 0, "192.0.3.1", "192.0.2.0/23" },
	{ 25, 0, "192.0.2.200", "192.0.2.128/25" },
	{ 1, 0, "200.1.2.3", "128.0.0.0/1" },
	{ 32, 0, "192.0.2.77", "192.0.2.77/32" },
	{ 0, 48, "2001:db8:1:ffff::1", "2001:db8:1::/48" },
	{ 0, 48, "2001:db8:2::1", "2001:db8:2::/48" },
	{ 0, 56, "2001:db8:1:2ff::1", "2001:db8:1:200::/56" },
	{ 0, 84, "2001:db8:1:2:3fff:ffff::", "2001:db8:1:2:3fff:f000::/84" },
	{ 0, 1, "ffff::", "8000::/1" },
	{ 0, 128, "2001:db8::1", "2001:db8::1/128" },
	{ 22, 48, "::ffff:192.0.3.1", "192.0.0.0/22" },
};

START_TEST(test_net_mask)
{
	const struct mask_case *c = &mask_cases[_i];
	struct keyspec k = { KEY_CLIENT_NET, 0, c->net4, c->net6 };
	struct pol_env env = { .client_addr = c->addr };
	struct count_ctx cx = { .env = &env };
	char buf[INET6_ADDRSTRLEN + 8];
	const char *got = keys_value(&k, &cx, buf, sizeof buf);

	ck_assert_msg(got != NULL && strcmp(got, c->want) == 0, "%s at /%d,/%d: "
	    "got %s, want %s", c->addr, c->net4, c->net6, got ? got : "NULL",
	    c->want);
}
END_TEST

/* ---- calendar quotas (issue 13 section 4), on an injected clock ---- */

struct period_case {
	const char *name;
	enum quota_kind kind;
	const char *tz;		/* NULL: UTC through TZ=UTC for the test */
	const char *at;		/* UTC "YYYY-MM-DD HH:MM:SS" */
	const char *start, *end, *resets;
};

static const struct period_case period_cases[] = {
	{ "a day, a minute before midnight", QUOTA_DAY, "UTC",
	  "2026-12-01 23:59:00", "2026-12-01 00:00:00", "2026-12-02 00:00:00",
	  "00:00 UTC" },
	{ "a day, at midnight", QUOTA_DAY, "UTC", "2026-12-02 00:00:00",
	  "2026-12-02 00:00:00", "2026-12-03 00:00:00", "00:00 UTC" },
	{ "a day in Paris (CET)", QUOTA_DAY, "Europe/Paris",
	  "2026-12-01 22:30:00", "2026-11-30 23:00:00", "2026-12-01 23:00:00",
	  "00:00 CET" },
	{ "past midnight in Paris", QUOTA_DAY, "Europe/Paris",
	  "2026-12-01 23:00:00", "2026-12-01 23:00:00", "2026-12-02 23:00:00",
	  "00:00 CET" },
	{ "the spring DST day: 23 h", QUOTA_DAY, "Europe/Paris",
	  "2026-03-29 12:00:00", "2026-03-28 23:00:00", "2026-03-29 22:00:00",
	  "00:00 CEST" },
	{ "the autumn DST day: 25 h", QUOTA_DAY, "Europe/Paris",
	  "2026-10-25 12:00:00", "2026-10-24 22:00:00", "2026-10-25 23:00:00",
	  "00:00 CET" },
	{ "a week from Monday", QUOTA_WEEK, "UTC", "2026-12-06 23:00:00",
	  "2026-11-30 00:00:00", "2026-12-07 00:00:00", "Mon 7 Dec 00:00 UTC" },
	{ "a week on its Monday", QUOTA_WEEK, "UTC", "2026-12-07 00:00:00",
	  "2026-12-07 00:00:00", "2026-12-14 00:00:00", "Mon 14 Dec 00:00 UTC" },
	{ "a month's last day", QUOTA_MONTH, "UTC", "2026-01-31 23:59:59",
	  "2026-01-01 00:00:00", "2026-02-01 00:00:00", "Sun 1 Feb 00:00 UTC" },
	{ "February of a leap year", QUOTA_MONTH, "UTC", "2028-02-29 12:00:00",
	  "2028-02-01 00:00:00", "2028-03-01 00:00:00", "Wed 1 Mar 00:00 UTC" },
	{ "December into January", QUOTA_MONTH, "UTC", "2026-12-15 00:00:00",
	  "2026-12-01 00:00:00", "2027-01-01 00:00:00", "Fri 1 Jan 00:00 UTC" },
	{ "a month in New York", QUOTA_MONTH, "America/New_York",
	  "2026-03-01 03:00:00", "2026-02-01 05:00:00", "2026-03-01 05:00:00",
	  "Sun 1 Mar 00:00 EST" },
};

static int64_t
utc_ms(const char *s)
{
	struct tm tm = { 0 };

	ck_assert(strptime(s, "%Y-%m-%d %H:%M:%S", &tm) != NULL);
	return (int64_t)timegm(&tm) * 1000;
}

START_TEST(test_quota_period)
{
	const struct period_case *c = &period_cases[_i];
	struct quota *q = quota_new(c->kind, 10, c->tz);
	int64_t start, end;
	char resets[48];

	quota_period(q, utc_ms(c->at), &start, &end, resets, sizeof resets);
	ck_assert_msg(start == utc_ms(c->start) && end == utc_ms(c->end),
	    "%s: period %lld..%lld, want %lld..%lld", c->name, (long long)start,
	    (long long)end, (long long)utc_ms(c->start),
	    (long long)utc_ms(c->end));
	ck_assert_msg(strcmp(resets, c->resets) == 0, "%s: resets \"%s\", want "
	    "\"%s\"", c->name, resets, c->resets);
	quota_free(q);
}
END_TEST

struct qparse_case {
	const char *v;
	int ok;
	enum quota_kind kind;
	unsigned long n;
};

static const struct qparse_case qparse_cases[] = {
	{ "500/day", 1, QUOTA_DAY, 500 }, { "1/week", 1, QUOTA_WEEK, 1 },
	{ "20000/month", 1, QUOTA_MONTH, 20000 }, { "0/day", 0, 0, 0 },
	{ "500/1d", 0, 0, 0 }, { "500/fortnight", 0, 0, 0 }, { "day", 0, 0, 0 },
	{ "/day", 0, 0, 0 }, { "500/Day", 0, 0, 0 }, { "500/day ", 0, 0, 0 },
	/* a count is 32 bits: a bigger quota (bytes) would never be reached */
	{ "4294967295/month", 1, QUOTA_MONTH, 4294967295ul },
	{ "4294967296/month", 0, 0, 0 },
	{ "99999999999999999999999/day", 0, 0, 0 },
};

START_TEST(test_quota_parse)
{
	const struct qparse_case *c = &qparse_cases[_i];
	enum quota_kind kind = QUOTA_MONTH;
	unsigned long n = 0;
	char err[256] = "";
	int rc = quota_parse(c->v, &kind, &n, err, sizeof err);

	ck_assert_msg((rc == 0) == c->ok, "\"%s\": rc %d (%s)", c->v, rc, err);
	if (c->ok)
		ck_assert_msg(kind == c->kind && n == c->n, "\"%s\": %d %lu",
		    c->v, kind, n);
	else
		ck_assert_msg(strstr(err, "e.g. \"500/day\"") != NULL, "\"%s\": "
		    "err \"%s\"", c->v, err);
}
END_TEST

START_TEST(test_quota_tz)
{
	char err[256];

	ck_assert(quota_tz_check("Europe/Paris", err, sizeof err) == 0);
	ck_assert(quota_tz_check("UTC", err, sizeof err) == 0);
	ck_assert(quota_tz_check("Mars/Olympus", err, sizeof err) < 0 &&
	    strstr(err, "write a name such as") != NULL);
	ck_assert(quota_tz_check("../../etc/passwd", err, sizeof err) < 0);
	ck_assert(quota_tz_check("/etc/passwd", err, sizeof err) < 0);
	ck_assert(quota_tz_check("", err, sizeof err) < 0);
}
END_TEST

/* Through the charge: 2/day in UTC; two pass at 23:59, the third is told
 * when it resets; after midnight the count is new; raised to 3/day the
 * count stays. */
START_TEST(test_quota_charge)
{
	struct limit *l = limit_with(KEY_SENDER, "");
	struct store *st = store_memory_new(1000);
	struct rl_ledger led = { 0 };
	struct pol_env env = { .sender = "a@example.com" };
	struct count_ctx cx = { .st = st, .env = &env, .now_ms = T0 };
	int64_t w = utc_ms("2026-12-01 23:59:00");
	int i;

	l->quota = quota_new(QUOTA_DAY, 2, "UTC");
	env.wall_ms = w;
	for (i = 0; i < 2; i++) {
		led.n = 0;
		ck_assert_msg(rl_check(l, "q", &led, &cx) == COUNT_OK,
		    "message %d of 2/day refused", i + 1);
	}
	led.n = 0;
	ck_assert(rl_check(l, "q", &led, &cx) == COUNT_OVER);
	ck_assert_msg(cx.res.retry_after_ms == 60000 && strcmp(cx.resets,
	    "00:00 UTC") == 0 && strcmp(cx.period, "day") == 0, "retry %llu "
	    "resets \"%s\"", (ull)cx.res.retry_after_ms, cx.resets);
	l->quota->n = 3;	/* raised: the 2 used still count */
	led.n = 0;
	ck_assert(rl_check(l, "q", &led, &cx) == COUNT_OK);
	led.n = 0;
	ck_assert(rl_check(l, "q", &led, &cx) == COUNT_OVER);
	env.wall_ms = w + 60000;	/* midnight */
	cx.now_ms = T0 + 60000;
	for (i = 0; i < 3; i++) {
		led.n = 0;
		ck_assert_msg(rl_check(l, "q", &led, &cx) == COUNT_OK,
		    "after midnight: message %d of 3 refused", i + 1);
	}
	led.n = 0;
	ck_assert(rl_check(l, "q", &led, &cx) == COUNT_OVER &&
	    cx.res.retry_after_ms == 86400000);
	free(led.c);
	store_free(st);
	rl_limit_free(l);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *mem = tcase_create("memory"), *red = tcase_create("redis");
	TCase *ids = tcase_create("identities");
	TCase *ov = tcase_create("overrides"), *net = tcase_create("client_net");
	TCase *quo = tcase_create("quotas");

	tcase_add_loop_test(mem, test_change_memory, 0, NELEM(changes));
	tcase_add_unchecked_fixture(mem, tmp_setup, tmp_teardown);
	tcase_add_loop_test(mem, test_change_state_file, 0, NELEM(changes));
	tcase_add_test(mem, test_version1_file);
	suite_add_tcase(s, mem);
	tcase_add_unchecked_fixture(red, redis_start, redis_stop);
	tcase_set_timeout(red, 60);
	tcase_add_loop_test(red, test_change_redis, 0, NELEM(changes));
	tcase_add_test(red, test_half_reloaded_fleet);
	tcase_add_test(red, test_redis_window_give);
	suite_add_tcase(s, red);
	tcase_add_loop_test(ids, test_identities, 0, NELEM(id_cases));
	tcase_add_test(ids, test_identity_forms);
	suite_add_tcase(s, ids);
	tcase_add_loop_test(ov, test_overrides_parse, 0, NELEM(parse_cases));
	tcase_add_loop_test(ov, test_overrides_lookup, 0, NELEM(lookup_cases));
	tcase_add_test(ov, test_overrides_charge);
	tcase_add_test(ov, test_overrides_big);
	suite_add_tcase(s, ov);
	tcase_add_loop_test(net, test_net_parse, 0, NELEM(net_cases));
	tcase_add_loop_test(net, test_net_mask, 0, NELEM(mask_cases));
	suite_add_tcase(s, net);
	tcase_add_loop_test(quo, test_quota_period, 0, NELEM(period_cases));
	tcase_add_loop_test(quo, test_quota_parse, 0, NELEM(qparse_cases));
	tcase_add_test(quo, test_quota_tz);
	tcase_add_test(quo, test_quota_charge);
	suite_add_tcase(s, quo);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(limits_suite());
	int failed;

	if (sodium_init() < 0)
		return 1;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
