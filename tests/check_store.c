/*
 * check_store: the memory store against store.h: GCRA and window
 * arithmetic as scripts of (time, request -> answer) with a driven clock,
 * expiry, eviction at max_keys, memory per key, threads, and snapshots
 * (round trip, clock shift, every truncation and bit flip of a small one)
 * and the state file's safety: a new temporary file, no FIFO or link
 * followed, no directory others may write.
 *
 * CHECK_STORE_SMALL=1 divides the big sizes by 10 (for valgrind).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check_util.h"
#include "store.h"

#define HOUR		3600000ULL
#define BIG		1000000

/* The snapshot layout, as store_memory.c writes it. */
#define SNAP_HDR	40
#define SNAP_REC	48
#define SNAP_REC_V1	32	/* version 1: still read */
#define SNAP_TRAILER	40

typedef unsigned long long ull;

static char tmpdir[64];

static size_t
scaled(size_t n)
{
	return getenv("CHECK_STORE_SMALL") != NULL ? n / 10 : n;
}

static struct store_req
gcra_req(const char *id, uint64_t window_ms, uint64_t rate, uint64_t burst,
    uint64_t units, enum store_charge charge)
{
	struct store_req r = { id, strlen(id), STORE_GCRA, window_ms, rate,
	    burst, units, charge, 0 };

	return r;
}

static struct store_req
window_req(const char *id, uint64_t window_ms, uint64_t max,
    enum store_charge charge)
{
	struct store_req r = { id, strlen(id), STORE_WINDOW, window_ms, 0,
	    max, 1, charge, 0 };

	return r;
}

static struct store_res
take(struct store *s, const struct store_req *req, uint64_t now)
{
	struct store_res res;

	ck_assert_msg(store_take(s, req, now, &res) == STORE_OK,
	    "take %.*s at %llu: got STORE_ERROR, want STORE_OK",
	    (int)req->idlen, (const char *)req->id, (ull)now);
	return res;
}

/* The counter's count as a look sees it (0: absent). */
static uint64_t
look_count(struct store *s, struct store_req req, uint64_t now)
{
	req.charge = STORE_CHARGE_NONE;
	req.units = 1;
	return take(s, &req, now).count;
}

static void
path_in_tmp(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

static void
write_file(const char *path, const unsigned char *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	ck_assert_msg(fwrite(p, 1, n, fp) == n && fclose(fp) == 0,
	    "%s: cannot write", path);
}

/* The whole file, malloc'd; *n its size. */
static unsigned char *
read_file(const char *path, size_t *n)
{
	struct stat st;
	unsigned char *p;
	FILE *fp = fopen(path, "rb");

	ck_assert_msg(fp != NULL && fstat(fileno(fp), &st) == 0, "%s: %s",
	    path, strerror(errno));
	*n = (size_t)st.st_size;
	p = malloc(*n + 1);
	ck_assert(p != NULL && fread(p, 1, *n, fp) == *n);
	fclose(fp);
	return p;
}

/* Temporary files a save left beside path (PATH.tmp*). */
static int
tmp_leftovers(const char *path)
{
	const char *base = strrchr(path, '/') + 1;
	char dir[512], prefix[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof dir, "%.*s", (int)(base - path), path);
	snprintf(prefix, sizeof prefix, "%s.tmp", base);
	ck_assert_msg((d = opendir(dir)) != NULL, "%s: %s", dir,
	    strerror(errno));
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static void
tmp_setup(void)
{
	strcpy(tmpdir, "/tmp/check_store.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

static void
tmp_teardown(void)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(tmpdir);

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		path_in_tmp(path, sizeof path, de->d_name);
		if (unlink(path) < 0)
			rmdir(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(tmpdir);
}

/* ---- scripts: a counter driven step by step ---- */

enum op { TAKE, GIVE, RESET };

struct step {
	const char *name;
	enum op op;
	uint64_t now, units;
	enum store_charge charge;
	int reps;		/* the same take this many times (0: once) */
	int allowed;		/* each rep */
	uint64_t retry, count;	/* last rep */
	int first_over;		/* each rep */
	long keys;		/* store_count after the step; -1: not checked */
};

struct script {
	const char *name;
	enum store_kind kind;
	uint64_t window_ms, rate, burst;
	const struct step *steps;
	size_t nsteps;
};

#define AL	STORE_CHARGE_ALLOWED
#define AW	STORE_CHARGE_ALWAYS
#define NO	STORE_CHARGE_NONE

/* 100/1h: one unit back every 36 s; the bucket holds 100. */
static const struct step rate_100h[] = {
	/* name                        op   now units chg reps ok retry count fo keys */
	{ "100 at once",               TAKE, 0,      1, AL, 100, 1, 0, 100, 0, 1 },
	{ "101st refused",             TAKE, 0,      1, AL, 0, 0, 36000, 100, 1, 1 },
	{ "102nd, not first over",     TAKE, 0,      1, AL, 0, 0, 36000, 100, 0, 1 },
	{ "1 ms early",                TAKE, 35999,  1, AL, 0, 0, 1, 100, 0, 1 },
	{ "36 s later, one more",      TAKE, 36000,  1, AL, 0, 1, 0, 100, 0, 1 },
	{ "then refused again",        TAKE, 36000,  1, AL, 0, 0, 36000, 100, 0, 1 },
	{ "look 36 s later",           TAKE, 72000,  1, NO, 0, 1, 0, 99, 0, 1 },
	{ "drained: as if never used", TAKE, 3636000, 1, NO, 0, 1, 0, 0, 0, -1 },
	{ "new again: 100 at once",    TAKE, 3636000, 1, AL, 100, 1, 0, 100, 0, 1 },
	{ "new again: first over",     TAKE, 3636000, 1, AL, 0, 0, 36000, 100, 1, 1 },
};

/* burst 10 with rate 100/1h. */
static const struct step burst_10[] = {
	{ "10 at once",                TAKE, 0,      1, AL, 10, 1, 0, 10, 0, 1 },
	{ "11th refused",              TAKE, 0,      1, AL, 0, 0, 36000, 10, 1, 1 },
	{ "36 s later, one more",      TAKE, 36000,  1, AL, 0, 1, 0, 10, 0, 1 },
	{ "then refused",              TAKE, 36000,  1, AL, 0, 0, 36000, 10, 0, 1 },
	{ "empty at 396 s: 10 again",  TAKE, 396000, 1, AL, 10, 1, 0, 10, 0, 1 },
	{ "then refused again",        TAKE, 396000, 1, AL, 0, 0, 36000, 10, 1, 1 },
};

/* bytes: 1000/1s, burst 5000. */
static const struct step units_n[] = {
	{ "3000 bytes",                TAKE, 0,    3000, AL, 0, 1, 0, 3000, 0, 1 },
	{ "3000 more refused",         TAKE, 0,    3000, AL, 0, 0, 1000, 3000, 1, 1 },
	{ "1 s later they fit",        TAKE, 1000, 3000, AL, 0, 1, 0, 5000, 0, 1 },
	{ "one byte more refused",     TAKE, 1000, 1,    AL, 0, 0, 1, 5000, 0, 1 },
	{ "more than the bucket",      TAKE, 1000, 6000, AL, 0, 0, 5000, 5000, 0, 1 },
	{ "give 3000 back",            GIVE, 1000, 3000, AL, 0, 0, 0, 0, 0, 1 },
	{ "look after the give",       TAKE, 1000, 1,    NO, 0, 1, 0, 2000, 0, 1 },
	{ "give more than taken",      GIVE, 1000, 5000, AL, 0, 0, 0, 0, 0, 0 },
	{ "gone after the give",       TAKE, 1000, 1,    NO, 0, 1, 0, 0, 0, 0 },
};

/* 7/1h: 3600000 / 7 ms is not whole; all 7 still fit at once. */
static const struct step rate_7h[] = {
	{ "7 at once",                 TAKE, 0,      1, AL, 7, 1, 0, 7, 0, 1 },
	{ "8th refused",               TAKE, 0,      1, AL, 0, 0, 514286, 7, 1, 1 },
	{ "1 ms early",                TAKE, 514285, 1, AL, 0, 0, 1, 7, 0, 1 },
	{ "on time",                   TAKE, 514286, 1, AL, 0, 1, 0, 7, 0, 1 },
	{ "then refused",              TAKE, 514286, 1, AL, 0, 0, 514286, 7, 0, 1 },
};

/* 3/1s. */
static const struct step rate_3s[] = {
	{ "3 at once",                 TAKE, 0,   1, AL, 3, 1, 0, 3, 0, 1 },
	{ "4th refused",               TAKE, 0,   1, AL, 0, 0, 334, 3, 1, 1 },
	{ "at 333 ms, 1 ms early",     TAKE, 333, 1, AL, 0, 0, 1, 3, 0, 1 },
	{ "at 334 ms",                 TAKE, 334, 1, AL, 0, 1, 0, 3, 0, 1 },
};

/* charge "attempts": 100/1h, burst 2; clamped at 2 buckets. */
static const struct step attempts[] = {
	{ "2 at once",                 TAKE, 0,      1, AW, 2, 1, 0, 2, 0, 1 },
	{ "refused, still charged",    TAKE, 0,      1, AW, 0, 0, 36000, 3, 1, 1 },
	{ "refused, charged again",    TAKE, 0,      1, AW, 0, 0, 72000, 4, 0, 1 },
	{ "clamped at 2 buckets",      TAKE, 0,      1, AW, 0, 0, 108000, 4, 0, 1 },
	{ "hammering stays blocked",   TAKE, 36000,  1, AW, 0, 0, 72000, 4, 0, 1 },
	{ "accepted-charge refused",   TAKE, 36000,  1, AL, 0, 0, 108000, 4, 0, 1 },
	{ "look once it drains",       TAKE, 144000, 1, NO, 0, 1, 0, 1, 0, 1 },
	{ "then allowed",              TAKE, 144000, 1, AL, 0, 1, 0, 2, 0, 1 },
};

/* charge "none": 100/1h, burst 1. */
static const struct step look[] = {
	{ "look creates nothing",      TAKE, 0, 1, NO, 0, 1, 0, 0, 0, 0 },
	{ "take",                      TAKE, 0, 1, AL, 0, 1, 0, 1, 0, 1 },
	{ "look refused, no first",    TAKE, 0, 1, NO, 0, 0, 36000, 1, 0, 1 },
	{ "look refused again",        TAKE, 0, 1, NO, 0, 0, 36000, 1, 0, 1 },
	{ "take refused: first over",  TAKE, 0, 1, AL, 0, 0, 36000, 1, 1, 1 },
	{ "look, more than bucket",    TAKE, 0, 2, NO, 0, 0, 36000, 1, 0, 1 },
	{ "look after it drains",      TAKE, 36000, 1, NO, 0, 1, 0, 0, 0, -1 },
};

/* give: 100/1h, burst 2. */
static const struct step give[] = {
	{ "give to nothing",           GIVE, 0, 1, AL, 0, 0, 0, 0, 0, 0 },
	{ "2 at once",                 TAKE, 0, 1, AL, 2, 1, 0, 2, 0, 1 },
	{ "3rd refused",               TAKE, 0, 1, AL, 0, 0, 36000, 2, 1, 1 },
	{ "give 1 back",               GIVE, 0, 1, AL, 0, 0, 0, 0, 0, 1 },
	{ "taken again",               TAKE, 0, 1, AL, 0, 1, 0, 2, 0, 1 },
	{ "refused, not first",        TAKE, 0, 1, AL, 0, 0, 36000, 2, 0, 1 },
	{ "give all back",             GIVE, 0, 5, AL, 0, 0, 0, 0, 0, 0 },
	{ "new: 2 at once",            TAKE, 0, 1, AL, 2, 1, 0, 2, 0, 1 },
	{ "new: first over again",     TAKE, 0, 1, AL, 0, 0, 36000, 2, 1, 1 },
};

/* first_over: 1/1s, burst 1. */
static const struct step first_over[] = {
	{ "take",                      TAKE, 0,    1, AL, 0, 1, 0, 1, 0, 1 },
	{ "refused: first",            TAKE, 0,    1, AL, 0, 0, 1000, 1, 1, 1 },
	{ "refused: not first",        TAKE, 500,  1, AL, 0, 0, 500, 1, 0, 1 },
	{ "reset",                     RESET, 500, 1, AL, 0, 0, 0, 0, 0, 0 },
	{ "after reset: allowed",      TAKE, 500,  1, AL, 0, 1, 0, 1, 0, 1 },
	{ "after reset: first again",  TAKE, 500,  1, AL, 0, 0, 1000, 1, 1, 1 },
	{ "expired: new",              TAKE, 1500, 1, AL, 0, 1, 0, 1, 0, 1 },
	{ "expired: first again",      TAKE, 1500, 1, AL, 0, 0, 1000, 1, 1, 1 },
};

/* window, 2 per 10 min, a refused event not counted. */
static const struct step window_accepted[] = {
	{ "look creates nothing",      TAKE, 0,      1, NO, 0, 1, 0, 0, 0, 0 },
	{ "first",                     TAKE, 0,      1, AL, 0, 1, 0, 1, 0, 1 },
	{ "second",                    TAKE, 1000,   1, AL, 0, 1, 0, 2, 0, 1 },
	{ "third refused",             TAKE, 2000,   1, AL, 0, 0, 598000, 2, 1, 1 },
	{ "fourth refused, not first", TAKE, 3000,   1, AL, 0, 0, 597000, 2, 0, 1 },
	{ "look",                      TAKE, 4000,   1, NO, 0, 0, 596000, 2, 0, 1 },
	{ "window over: fresh",        TAKE, 600000, 1, AL, 0, 1, 0, 1, 0, 1 },
	{ "fresh: second",             TAKE, 600001, 1, AL, 0, 1, 0, 2, 0, 1 },
	{ "fresh: third first over",   TAKE, 600002, 1, AL, 0, 0, 599998, 2, 1, 1 },
	{ "give 1 back",               GIVE, 600003, 1, AL, 0, 0, 0, 0, 0, 1 },
	{ "allowed after the give",    TAKE, 600004, 1, AL, 0, 1, 0, 2, 0, 1 },
	{ "give all back",             GIVE, 600005, 9, AL, 0, 0, 0, 0, 0, 0 },
};

/* window, 2 per 10 min, refused events counted too. */
static const struct step window_always[] = {
	{ "first",                     TAKE, 0,      1, AW, 0, 1, 0, 1, 0, 1 },
	{ "second",                    TAKE, 1,      1, AW, 0, 1, 0, 2, 0, 1 },
	{ "third refused, counted",    TAKE, 2,      1, AW, 0, 0, 599998, 3, 1, 1 },
	{ "fourth, counted",           TAKE, 3,      1, AW, 0, 0, 599997, 4, 0, 1 },
	{ "last ms still refused",     TAKE, 599999, 1, AW, 0, 0, 1, 5, 0, 1 },
	{ "window over: fresh",        TAKE, 600000, 1, AW, 0, 1, 0, 1, 0, 1 },
};

#define SCRIPT(name, kind, win, rate, burst, steps) \
	{ name, kind, win, rate, burst, steps, NELEM(steps) }

static const struct script scripts[] = {
	SCRIPT("rate 100/1h", STORE_GCRA, HOUR, 100, 100, rate_100h),
	SCRIPT("burst 10 at 100/1h", STORE_GCRA, HOUR, 100, 10, burst_10),
	SCRIPT("bytes 1000/1s burst 5000", STORE_GCRA, 1000, 1000, 5000, units_n),
	SCRIPT("rate 7/1h", STORE_GCRA, HOUR, 7, 7, rate_7h),
	SCRIPT("rate 3/1s", STORE_GCRA, 1000, 3, 3, rate_3s),
	SCRIPT("charge attempts", STORE_GCRA, HOUR, 100, 2, attempts),
	SCRIPT("charge none", STORE_GCRA, HOUR, 100, 1, look),
	SCRIPT("give", STORE_GCRA, HOUR, 100, 2, give),
	SCRIPT("first over", STORE_GCRA, 1000, 1, 1, first_over),
	SCRIPT("window accepted", STORE_WINDOW, 600000, 0, 2, window_accepted),
	SCRIPT("window attempts", STORE_WINDOW, 600000, 0, 2, window_always),
};

#define WANT(sc, st, what, got, want) \
	ck_assert_msg((ull)(got) == (ull)(want), \
	    "%s: %s: %s: got %llu, want %llu", (sc)->name, (st)->name, what, \
	    (ull)(got), (ull)(want))

static void
run_take(struct store *s, const struct script *sc, const struct step *st)
{
	struct store_req req = { sc->name, strlen(sc->name), sc->kind,
	    sc->window_ms, sc->rate, sc->burst, st->units, st->charge, 0 };
	struct store_res res;
	int i;

	for (i = 0; i < (st->reps ? st->reps : 1); i++) {
		res = take(s, &req, st->now);
		WANT(sc, st, "allowed", res.allowed, st->allowed);
		WANT(sc, st, "first_over", res.first_over, st->first_over);
		WANT(sc, st, "evicting", res.evicting, 0);
	}
	WANT(sc, st, "retry_after_ms", res.retry_after_ms, st->retry);
	WANT(sc, st, "count", res.count, st->count);
}

static void
run_script(const struct script *sc)
{
	struct store *s = store_memory_new(BIG);
	struct store_req req = { sc->name, strlen(sc->name), sc->kind,
	    sc->window_ms, sc->rate, sc->burst, 1, AL, 0 };
	size_t i;

	for (i = 0; i < sc->nsteps; i++) {
		const struct step *st = &sc->steps[i];

		req.units = st->units;
		if (st->op == TAKE)
			run_take(s, sc, st);
		else if (st->op == GIVE)
			WANT(sc, st, "give", store_give(s, &req, st->now), STORE_OK);
		else
			WANT(sc, st, "reset",
			    store_reset(s, sc->name, strlen(sc->name)), STORE_OK);
		if (st->keys >= 0)
			WANT(sc, st, "store_count", store_count(s), st->keys);
	}
	store_free(s);
}

START_TEST(test_scripts)
{
	run_script(&scripts[_i]);
}
END_TEST

/* ---- bad requests ---- */

struct bad_case {
	const char *name;
	enum store_kind kind;
	uint64_t window_ms, rate, units;
	int charge;
};

static const struct bad_case bad_cases[] = {
	{ "units 0", STORE_GCRA, 1000, 1, 0, AL },
	{ "window 0", STORE_GCRA, 0, 1, 1, AL },
	{ "rate 0", STORE_GCRA, 1000, 0, 1, AL },
	{ "window of 0 ms", STORE_WINDOW, 0, 0, 1, AL },
	{ "unknown kind", (enum store_kind)7, 1000, 1, 1, AL },
	{ "unknown charge", STORE_GCRA, 1000, 1, 1, 9 },
};

START_TEST(test_bad_requests)
{
	const struct bad_case *c = &bad_cases[_i];
	struct store *s = store_memory_new(BIG);
	struct store_req req = { "k", 1, c->kind, c->window_ms, c->rate, 5,
	    c->units, (enum store_charge)c->charge, 0 };
	struct store_res res;
	int rc;

	rc = store_take(s, &req, 0, &res);
	ck_assert_msg(rc == STORE_ERROR, "%s: take got %d, want STORE_ERROR",
	    c->name, rc);
	rc = store_give(s, &req, 0);
	ck_assert_msg(rc == STORE_ERROR, "%s: give got %d, want STORE_ERROR",
	    c->name, rc);
	ck_assert_msg(store_count(s) == 0, "%s: count got %zu, want 0",
	    c->name, store_count(s));
	store_free(s);
}
END_TEST

/* ---- kinds and identities ---- */

START_TEST(test_identities)
{
	struct store *s = store_memory_new(BIG);
	struct store_req a = gcra_req("a", HOUR, 1, 1, 1, AL);
	struct store_req b = gcra_req("b", HOUR, 1, 1, 1, AL);
	struct store_req empty = gcra_req("", HOUR, 1, 1, 1, AL);
	struct store_req bin = { "a\0b", 3, STORE_GCRA, HOUR, 1, 1, 1, AL, 0 };
	struct store_req w = window_req("a", HOUR, 1, AL);

	ck_assert_int_eq(take(s, &a, 0).allowed, 1);
	ck_assert_msg(take(s, &a, 0).allowed == 0, "a twice: got allowed, "
	    "want refused");
	ck_assert_msg(take(s, &b, 0).allowed == 1, "b: got refused, want "
	    "allowed (b is not a)");
	ck_assert_msg(take(s, &empty, 0).allowed == 1, "empty id: got refused");
	ck_assert_msg(take(s, &bin, 0).allowed == 1, "a\\0b: got refused "
	    "(must not be cut at the NUL)");
	/* Same identity, another kind: a new counter (identities include
	 * the rule, so this is only about never misreading a slot). */
	ck_assert_msg(take(s, &w, 0).allowed == 1, "window a: got refused");
	ck_assert_msg(store_count(s) == 4, "count: got %zu, want 4",
	    store_count(s));
	store_free(s);
}
END_TEST

/* ---- expiry and deletion ---- */

static void
key_name(char *buf, size_t size, const char *prefix, size_t i)
{
	snprintf(buf, size, "%s-%zu", prefix, i);
}

START_TEST(test_expiry_reclaim)
{
	struct store *s = store_memory_new(BIG);
	size_t i, nold = scaled(5000), nnew = scaled(20000), got;
	struct store_req r;
	char id[32];

	/* Even keys expire at 100, odd ones in a day. */
	for (i = 0; i < nold; i++) {
		key_name(id, sizeof id, "old", i);
		r = window_req(id, i % 2 ? 86400000 : 100, 5, AL);
		take(s, &r, 0);
	}
	for (i = 0; i < nold; i++) {
		key_name(id, sizeof id, "old", i);
		r = window_req(id, i % 2 ? 86400000 : 100, 5, AL);
		ck_assert_msg(look_count(s, r, 200) == i % 2, "%s at 200: got "
		    "count %llu, want %zu", id, (ull)look_count(s, r, 200), i % 2);
	}
	/* Growing tables sweep the expired ones out; no live one is lost. */
	for (i = 0; i < nnew; i++) {
		key_name(id, sizeof id, "new", i);
		r = gcra_req(id, HOUR, 10, 10, 1, AL);
		take(s, &r, 200);
	}
	got = store_count(s);
	ck_assert_msg(got == nnew + nold / 2, "count after sweeps: got %zu, "
	    "want %zu", got, nnew + nold / 2);
	for (i = 1; i < nold; i += 2) {
		key_name(id, sizeof id, "old", i);
		r = window_req(id, 86400000, 5, AL);
		ck_assert_msg(look_count(s, r, 200) == 1, "%s lost", id);
	}
	for (i = 0; i < nnew; i++) {
		key_name(id, sizeof id, "new", i);
		r = gcra_req(id, HOUR, 10, 10, 1, AL);
		ck_assert_msg(look_count(s, r, 200) == 1, "%s lost", id);
	}
	store_free(s);
}
END_TEST

/* Deleting from the middle of probe runs keeps every other key findable. */
START_TEST(test_deletion)
{
	struct store *s = store_memory_new(BIG);
	size_t i, n = scaled(20000), kept = 0;
	struct store_req r;
	char id[32];

	for (i = 0; i < n; i++) {
		key_name(id, sizeof id, "k", i);
		r = gcra_req(id, HOUR, 10, 10, 1, AL);
		take(s, &r, 0);
	}
	for (i = 0; i < n; i++) {
		key_name(id, sizeof id, "k", i);
		r = gcra_req(id, HOUR, 10, 10, 1, AL);
		if (i % 3 == 0)
			store_reset(s, id, strlen(id));
		else if (i % 3 == 1)
			store_give(s, &r, 0);
		else
			kept++;
	}
	ck_assert_msg(store_count(s) == kept, "count: got %zu, want %zu",
	    store_count(s), kept);
	for (i = 0; i < n; i++) {
		key_name(id, sizeof id, "k", i);
		r = gcra_req(id, HOUR, 10, 10, 1, AL);
		ck_assert_msg(look_count(s, r, 0) == (i % 3 == 2), "%s: got "
		    "count %llu, want %d", id, (ull)look_count(s, r, 0),
		    i % 3 == 2);
	}
	store_free(s);
}
END_TEST

/* ---- the max_keys bound ---- */

/* Every 50th key lives a long time; the others expire at 1000. */
static struct store_req
evict_req(const char *id, size_t i)
{
	return window_req(id, i % 50 == 0 ? 1000000000 : 1000, 5, AL);
}

START_TEST(test_eviction)
{
	struct store *s = store_memory_new(1000);
	struct store_res res;
	struct store_req r;
	size_t i, evicting = 0, n;
	char id[32];

	for (i = 0; i < 5000; i++) {
		key_name(id, sizeof id, "k", i);
		r = evict_req(id, i);
		res = take(s, &r, 0);
		evicting += res.evicting;
		ck_assert_msg(res.allowed == 1, "%s: got refused", id);
		ck_assert_msg((n = store_count(s)) <= 1000, "after %s: count "
		    "got %zu, want <= 1000", id, n);
	}
	ck_assert_msg(evicting == 1, "evicting: got %zu reports, want 1",
	    evicting);
	ck_assert_msg(store_count(s) == 1000, "count: got %zu, want 1000",
	    store_count(s));
	/* The soonest-expiring go first: every long-lived key survived. */
	for (i = 0; i < 5000; i += 50) {
		key_name(id, sizeof id, "k", i);
		ck_assert_msg(look_count(s, evict_req(id, i), 0) == 1,
		    "%s (long-lived): evicted", id);
	}
	/* Later, expired slots are reused before any live one is evicted. */
	for (i = 0; i < 100; i++) {
		key_name(id, sizeof id, "late", i);
		r = window_req(id, 1000000000, 5, AL);
		res = take(s, &r, 2000);
		ck_assert_msg(res.evicting == 0, "%s: evicting reported twice",
		    id);
	}
	for (i = 0; i < 5000; i += 50) {
		key_name(id, sizeof id, "k", i);
		ck_assert_msg(look_count(s, evict_req(id, i), 2000) == 1,
		    "%s (long-lived): evicted while expired slots were free", id);
	}
	for (i = 0; i < 100; i++) {
		key_name(id, sizeof id, "late", i);
		r = window_req(id, 1000000000, 5, AL);
		ck_assert_msg(look_count(s, r, 2000) == 1, "%s: lost", id);
	}
	ck_assert_msg(store_count(s) <= 1000, "count: got %zu, want <= 1000",
	    store_count(s));
	store_free(s);
}
END_TEST

/*
 * A full store where 1 counter in 10 has expired: new counters take their
 * slots, however few a random sample would catch, and no live one goes.
 * (Giving a unit back makes those 10% expire an hour before the others.)
 */
START_TEST(test_eviction_reuses_expired)
{
	size_t i, n, max = scaled(64000), lost = 0, missing = 0;
	struct store *s = store_memory_new(max);
	struct store_req r;
	char id[32];
	int *present = calloc(2 * max, sizeof *present);

	for (i = 0; i < 2 * max; i++) {
		key_name(id, sizeof id, "k", i);
		r = gcra_req(id, HOUR, 1, 2, 2, AL);
		take(s, &r, 0);
	}
	for (i = 0, n = 0; i < 2 * max; i++) {
		key_name(id, sizeof id, "k", i);
		r = gcra_req(id, HOUR, 1, 2, 1, AL);
		n += present[i] = look_count(s, r, 0) == 2;
		if (present[i] && i % 10 == 0)
			store_give(s, &r, 0);
	}
	ck_assert_msg(n == max, "full: got %zu counters, want %zu", n, max);
	for (i = 0; i < max / 100; i++) {
		key_name(id, sizeof id, "n", i);
		r = gcra_req(id, HOUR, 1, 2, 1, AL);
		take(s, &r, 5000000);
	}
	for (i = 0; i < 2 * max; i++) {
		key_name(id, sizeof id, "k", i);
		r = gcra_req(id, HOUR, 1, 2, 1, AL);
		lost += present[i] && i % 10 != 0 &&
		    look_count(s, r, 5000000) == 0;
	}
	for (i = 0; i < max / 100; i++) {
		key_name(id, sizeof id, "n", i);
		r = gcra_req(id, HOUR, 1, 2, 1, AL);
		missing += look_count(s, r, 5000000) == 0;
	}
	free(present);
	store_free(s);
	ck_assert_msg(lost == 0, "live counters evicted: got %zu, want 0", lost);
	ck_assert_msg(missing == 0, "new counters missing: got %zu, want 0",
	    missing);
}
END_TEST

/* ---- memory per key ---- */

static double
bytes_per_key(size_t max_keys, size_t n)
{
	struct store *s = store_memory_new(max_keys);
	struct store_req r;
	char id[64];
	double b;
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "rule-name/recipients/sender@example.com/"
		    "%zu", i);
		r = gcra_req(id, HOUR, 100, 100, 1, AL);
		take(s, &r, 0);
	}
	b = (double)store_memory_bytes(s) / (double)store_count(s);
	store_free(s);
	return b;
}

struct mem_case {
	const char *name;
	size_t max_keys, keys;
};

static const struct mem_case mem_cases[] = {
	{ "unbounded, tables just doubled", BIG, 100000 },
	{ "unbounded", BIG, 130000 },
	{ "at max_keys", 100000, 200000 },
};

START_TEST(test_bytes_per_key)
{
	const struct mem_case *c = &mem_cases[_i];
	size_t max = scaled(c->max_keys), n = scaled(c->keys);
	double b = bytes_per_key(max, n);

	fprintf(stderr, "check_store: %s, %zu keys, max_keys %zu: %.1f bytes "
	    "per key\n", c->name, n, max, b);
	ck_assert_msg(b <= 128, "%s: bytes per key got %.1f, want <= 128",
	    c->name, b);
}
END_TEST

/* ---- threads ---- */

struct worker {
	struct store *s;
	int id, n, same;
	long allowed, first_over;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct store_req r;
	struct store_res res;
	char id[32];
	int i;

	for (i = 0; i < w->n; i++) {
		if (w->same)
			snprintf(id, sizeof id, "shared");
		else
			snprintf(id, sizeof id, "t%d-%d", w->id, i);
		r = gcra_req(id, HOUR, 10000, 10000, 1, AL);
		if (store_take(w->s, &r, 0, &res) != STORE_OK)
			return "take failed";
		w->allowed += res.allowed;
		w->first_over += res.first_over;
	}
	return NULL;
}

struct saver {
	struct store *s;
	atomic_int stop;
	int saves;
	char path[512];
};

static void *
saver_main(void *arg)
{
	struct saver *sv = arg;
	char err[256];

	while (!atomic_load(&sv->stop)) {
		if (store_save(sv->s, sv->path, 0, 1000, err, sizeof err) !=
		    STORE_OK)
			return "save failed";
		(void)store_count(sv->s);
		(void)store_memory_bytes(sv->s);
		sv->saves++;
	}
	return NULL;
}

struct thread_case {
	const char *name;
	int same, n;
	long want_allowed, want_keys, want_first_over;
};

static const struct thread_case thread_cases[] = {
	{ "one key, 4 x 3000 takes", 1, 3000, 10000, 1, 1 },
	{ "distinct keys, 4 x 5000", 0, 5000, 20000, 20000, 0 },
};

START_TEST(test_threads)
{
	const struct thread_case *c = &thread_cases[_i];
	struct store *s = store_memory_new(BIG);
	struct worker w[4];
	struct saver sv = { .s = s };
	pthread_t t[4], ts;
	long allowed = 0, fo = 0;
	void *ret;
	int i;

	path_in_tmp(sv.path, sizeof sv.path, "threads.state");
	ck_assert(pthread_create(&ts, NULL, saver_main, &sv) == 0);
	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ s, i, c->n, c->same, 0, 0 };
		ck_assert(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], &ret);
		ck_assert_msg(ret == NULL, "%s: worker: %s", c->name, (char *)ret);
		allowed += w[i].allowed;
		fo += w[i].first_over;
	}
	atomic_store(&sv.stop, 1);
	pthread_join(ts, &ret);
	ck_assert_msg(ret == NULL, "%s: saver: %s", c->name, (char *)ret);
	ck_assert_msg(allowed == c->want_allowed, "%s: allowed got %ld, want "
	    "%ld", c->name, allowed, c->want_allowed);
	ck_assert_msg(fo == c->want_first_over, "%s: first_over got %ld, want "
	    "%ld", c->name, fo, c->want_first_over);
	ck_assert_msg((long)store_count(s) == c->want_keys, "%s: count got %zu, "
	    "want %ld", c->name, store_count(s), c->want_keys);
	store_free(s);
}
END_TEST

/* ---- snapshots ---- */

#define W0	1700000000000LL

/* A mix of counters: GCRA 7/1h with several sizes, windows of several
 * lengths, some over their limit (first_over spent). */
static struct store_req
mix_req(char *id, size_t size, size_t i)
{
	if (i % 2 == 0) {
		key_name(id, size, "g", i);
		return gcra_req(id, HOUR, 7, 7, 1 + i % 5, AL);
	}
	key_name(id, size, "w", i);
	return window_req(id, 1000 + i * 10, 3, AW);
}

static struct store *
mix_store(size_t n, uint64_t now)
{
	struct store *s = store_memory_new(BIG);
	struct store_req r;
	char id[32];
	size_t i, k;

	for (i = 0; i < n; i++) {
		r = mix_req(id, sizeof id, i);
		for (k = 0; k <= i % 5; k++)
			take(s, &r, now - (i * 37) % 4000);
	}
	return s;
}

static void
same_answer(const char *what, const char *id, struct store_res a,
    struct store_res b)
{
	ck_assert_msg(a.allowed == b.allowed && a.retry_after_ms ==
	    b.retry_after_ms && a.count == b.count && a.first_over ==
	    b.first_over, "%s: %s: got {%d %llu %llu %d}, want {%d %llu %llu %d}",
	    what, id, b.allowed, (ull)b.retry_after_ms, (ull)b.count,
	    b.first_over, a.allowed, (ull)a.retry_after_ms, (ull)a.count,
	    a.first_over);
}

START_TEST(test_snapshot_round_trip)
{
	static const uint64_t later[] = { 0, 1, 500, 3000, 20000 };
	size_t i, j, n = scaled(3000), live = 0;
	struct store *a = mix_store(n, 5000), *b = store_memory_new(BIG);
	char path[512], err[256] = "", id[32];
	struct store_req r;
	struct stat st;
	int rc;

	path_in_tmp(path, sizeof path, "state");
	rc = store_save(a, path, 5000, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_OK, "save: got %d (%s), want STORE_OK", rc, err);
	ck_assert_msg(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "mode: got %o, want 600", st.st_mode & 0777);
	ck_assert_msg(tmp_leftovers(path) == 0, "%s.tmp* left behind", path);
	/* Loaded 2 s of wall-clock time later, on another monotonic base. */
	rc = store_memory_load(b, path, 100, W0 + 2000, err, sizeof err);
	ck_assert_msg(rc == STORE_LOAD_OK, "load: got %d (%s), want OK", rc, err);
	for (i = 0; i < n; i++) {
		r = mix_req(id, sizeof id, i);
		live += look_count(a, r, 7000) > 0;
	}
	ck_assert_msg(store_count(b) == live, "count: got %zu, want %zu "
	    "(the counters still live 2 s later)", store_count(b), live);
	for (j = 0; j < NELEM(later); j++)
		for (i = 0; i < n; i++) {
			r = mix_req(id, sizeof id, i);
			r.charge = j % 2 ? STORE_CHARGE_NONE : STORE_CHARGE_ALWAYS;
			same_answer("after load", id, take(a, &r, 7000 + later[j]),
			    take(b, &r, 100 + later[j]));
		}
	store_free(a);
	store_free(b);
}
END_TEST

/* A clock stepped back between save and load blocks no key for longer
 * than 2 buckets; stepped forward, the counters are simply gone. */
START_TEST(test_snapshot_clock_step)
{
	struct store *a = store_memory_new(BIG), *b = store_memory_new(BIG);
	struct store_req r = gcra_req("k", HOUR, 7, 7, 1, AL);
	char path[512], err[256] = "";
	struct store_res res;
	int i;

	path_in_tmp(path, sizeof path, "step");
	for (i = 0; i < 7; i++)
		take(a, &r, 0);
	ck_assert(store_save(a, path, 0, W0, err, sizeof err) == STORE_OK);
	ck_assert(store_memory_load(b, path, 0, W0 - 86400000LL * 30, err,
	    sizeof err) == STORE_LOAD_OK);
	res = take(b, &r, 0);
	ck_assert_msg(res.allowed == 0 && res.retry_after_ms <= 2 * HOUR &&
	    res.count <= 14, "stepped back: got allowed %d retry %llu count "
	    "%llu, want refused, retry <= %llu, count <= 14", res.allowed,
	    (ull)res.retry_after_ms, (ull)res.count, 2 * HOUR);
	ck_assert(store_memory_load(b, path, 0, W0 + HOUR, err, sizeof err) ==
	    STORE_LOAD_OK);
	ck_assert_msg(store_count(b) == 0, "stepped forward an hour: count "
	    "got %zu, want 0", store_count(b));
	store_free(a);
	store_free(b);
}
END_TEST

START_TEST(test_snapshot_max_keys)
{
	struct store *a = mix_store(5000, 5000), *b = store_memory_new(1000);
	char path[512], err[256] = "";

	path_in_tmp(path, sizeof path, "big");
	ck_assert(store_save(a, path, 5000, W0, err, sizeof err) == STORE_OK);
	ck_assert(store_memory_load(b, path, 5000, W0, err, sizeof err) ==
	    STORE_LOAD_OK);
	ck_assert_msg(store_count(b) > 0 && store_count(b) <= 1000, "count: "
	    "got %zu, want 1..1000", store_count(b));
	store_free(a);
	store_free(b);
}
END_TEST

START_TEST(test_save_errors)
{
	struct store *s = mix_store(10, 5000), *b = store_memory_new(BIG);
	char path[512], err[256] = "";
	struct rlimit old, small;
	void (*oldsig)(int);
	size_t n;
	int rc, fd;

	rc = store_save(s, "/nonexistent-dir/state", 5000, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_ERROR && strstr(err, "No such file") != NULL,
	    "missing dir: got %d \"%s\", want STORE_ERROR, No such file", rc,
	    err);
	/* A failed save leaves the old snapshot as it was. */
	path_in_tmp(path, sizeof path, "keep");
	ck_assert(store_save(s, path, 5000, W0, err, sizeof err) == STORE_OK);
	n = store_count(s);
	/* No temporary file can be made: no descriptor is left. */
	ck_assert(getrlimit(RLIMIT_NOFILE, &old) == 0);
	ck_assert((fd = open("/dev/null", O_RDONLY)) >= 0);
	close(fd);
	small = old;
	small.rlim_cur = (rlim_t)fd;
	ck_assert(setrlimit(RLIMIT_NOFILE, &small) == 0);
	err[0] = '\0';
	rc = store_save(s, path, 5000, W0, err, sizeof err);
	ck_assert(setrlimit(RLIMIT_NOFILE, &old) == 0);
	ck_assert_msg(rc == STORE_ERROR && err[0] != '\0', "no tmp file: "
	    "got %d \"%s\", want STORE_ERROR and a reason", rc, err);
	rc = store_memory_load(b, path, 5000, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_LOAD_OK && store_count(b) == n, "old file: "
	    "got %d with %zu counters, want OK with %zu", rc, store_count(b), n);
	/* A write that fails half way (as on a full disk). */
	ck_assert(getrlimit(RLIMIT_FSIZE, &old) == 0);
	small = old;
	small.rlim_cur = 100;
	oldsig = signal(SIGXFSZ, SIG_IGN);
	ck_assert(setrlimit(RLIMIT_FSIZE, &small) == 0);
	rc = store_save(s, path, 5000, W0, err, sizeof err);
	ck_assert(setrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, oldsig);
	ck_assert_msg(rc == STORE_ERROR && strstr(err, "too large") != NULL,
	    "write fails: got %d \"%s\", want STORE_ERROR, File too large", rc,
	    err);
	ck_assert_msg(tmp_leftovers(path) == 0, "%s.tmp* left behind", path);
	rc = store_memory_load(b, path, 5000, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_LOAD_OK && store_count(b) == n, "old file "
	    "after a failed write: got %d with %zu counters, want OK with %zu",
	    rc, store_count(b), n);
	store_free(s);
	store_free(b);
}
END_TEST

/* A small valid snapshot in memory; *n its size. */
static unsigned char *
small_snapshot(size_t *n)
{
	struct store *s = mix_store(2, 5000);
	char path[512], err[256] = "";
	unsigned char *p;

	path_in_tmp(path, sizeof path, "small");
	ck_assert(store_save(s, path, 5000, W0, err, sizeof err) == STORE_OK);
	p = read_file(path, n);
	ck_assert_msg(*n == SNAP_HDR + 2 * SNAP_REC + SNAP_TRAILER, "size: got "
	    "%zu, want %d", *n, SNAP_HDR + 2 * SNAP_REC + SNAP_TRAILER);
	store_free(s);
	return p;
}

/* Load p[0..n) from a file into a store with a counter in it: the load
 * must say CORRUPT, give a reason and leave the store empty. */
static void
want_corrupt(const char *what, const unsigned char *p, size_t n,
    const char *want_err)
{
	struct store *s = mix_store(1, 0);
	char path[512], err[256] = "";
	int rc;

	path_in_tmp(path, sizeof path, "bad");
	write_file(path, p, n);
	rc = store_memory_load(s, path, 5000, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_LOAD_CORRUPT, "%s: got %d, want CORRUPT",
	    what, rc);
	ck_assert_msg(err[0] != '\0' && (want_err == NULL ||
	    strstr(err, want_err) != NULL), "%s: err got \"%s\", want \"%s\"",
	    what, err, want_err ? want_err : "(any)");
	ck_assert_msg(store_count(s) == 0, "%s: count got %zu, want 0", what,
	    store_count(s));
	store_free(s);
}

START_TEST(test_snapshot_truncated)
{
	unsigned char *p;
	size_t n, len;
	char what[64];

	p = small_snapshot(&n);
	for (len = 0; len < n; len++) {
		snprintf(what, sizeof what, "truncated to %zu", len);
		want_corrupt(what, p, len, len == 0 ? "empty file" :
		    len < 8 || len >= SNAP_HDR ? NULL : "truncated");
	}
	free(p);
}
END_TEST

START_TEST(test_snapshot_bit_flips)
{
	unsigned char *p;
	size_t n, i;
	char what[64];
	int bit;

	p = small_snapshot(&n);
	for (i = 0; i < n; i++)
		for (bit = 0; bit < 8; bit++) {
			p[i] ^= (unsigned char)(1 << bit);
			snprintf(what, sizeof what, "bit %d of byte %zu", bit, i);
			want_corrupt(what, p, n, NULL);
			p[i] ^= (unsigned char)(1 << bit);
		}
	free(p);
}
END_TEST

struct damage {
	const char *name;
	long off;		/* from the start; negative: from the end */
	unsigned char x;	/* xor with this */
	const char *want;
};

static const struct damage damages[] = {
	{ "bad magic", 0, 'M' ^ 'X', "bad magic" },
	{ "version 3", 8, 2 ^ 3, "version 3 not supported" },
	{ "record size", 12, 48 ^ 49, "record size 49 not supported" },
	{ "hash key", 16, 1, "checksum mismatch" },
	{ "save time", 32, 1, "checksum mismatch" },
	{ "a record", SNAP_HDR + 40, 4, "checksum mismatch" },
	{ "record count", -SNAP_TRAILER, 1, "truncated" },
	{ "checksum", -1, 0x80, "checksum mismatch" },
};

START_TEST(test_snapshot_damage)
{
	const struct damage *d = &damages[_i];
	unsigned char *p;
	size_t n, off;

	p = small_snapshot(&n);
	off = d->off < 0 ? n - (size_t)-d->off : (size_t)d->off;
	p[off] ^= d->x;
	want_corrupt(d->name, p, n, d->want);
	free(p);
}
END_TEST

/* Files no save writes (version 1, as the release before wrote): a
 * checksum that matches, contents that do not. */
static void
want_crafted(const char *what, const unsigned char *rec, size_t nrec,
    const char *want)
{
	unsigned char buf[SNAP_HDR + 4 * SNAP_REC_V1 + SNAP_TRAILER] = "MPSTORE\n";
	size_t n = SNAP_HDR + nrec * SNAP_REC_V1;

	buf[8] = 1;
	buf[12] = SNAP_REC_V1;
	memcpy(buf + SNAP_HDR, rec, nrec * SNAP_REC_V1);
	buf[n] = (unsigned char)nrec;
	crypto_generichash(buf + n + 8, 32, buf, n + 8, NULL, 0);
	want_corrupt(what, buf, n + SNAP_TRAILER, want);
}

START_TEST(test_snapshot_crafted)
{
	unsigned char rec[2 * SNAP_REC_V1] = { 0 };
	char path[512], err[256] = "";
	struct store *s = store_memory_new(BIG);
	unsigned char buf[SNAP_HDR + SNAP_TRAILER + SNAP_REC_V1];
	size_t n;
	int rc;

	ck_assert(sodium_init() >= 0);
	want_crafted("zero hash", rec, 1, "bad record 0");
	rec[0] = 1;
	rec[SNAP_REC_V1] = 2;
	rec[SNAP_REC_V1 + 28] = 0x10;
	want_crafted("unknown flags", rec, 2, "bad record 1");
	/* Extreme but well-formed values load without harm. */
	memset(rec + 16, 0x7f, 8);
	memset(rec + 24, 0xff, 4);
	memcpy(buf, "MPSTORE\n\1\0\0\0\40\0\0\0", 16);
	memset(buf + 16, 0, 24);
	memcpy(buf + SNAP_HDR, rec, SNAP_REC_V1);
	n = SNAP_HDR + SNAP_REC_V1;
	memset(buf + n, 0, 8);
	buf[n] = 1;
	crypto_generichash(buf + n + 8, 32, buf, n + 8, NULL, 0);
	path_in_tmp(path, sizeof path, "extreme");
	write_file(path, buf, sizeof buf);
	rc = store_memory_load(s, path, 5000, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_LOAD_OK && store_count(s) == 1, "extreme: got "
	    "%d (%s) with %zu counters, want OK with 1", rc, err, store_count(s));
	store_free(s);
}
END_TEST

START_TEST(test_snapshot_missing)
{
	struct store *s = mix_store(1, 0);
	char path[512], err[256] = "";
	int rc;

	path_in_tmp(path, sizeof path, "never-written");
	rc = store_memory_load(s, path, 0, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_LOAD_MISSING, "missing: got %d, want MISSING",
	    rc);
	ck_assert_msg(store_count(s) == 0, "missing: count got %zu, want 0",
	    store_count(s));
	want_corrupt("empty file", (const unsigned char *)"", 0, "empty file");
	path_in_tmp(path, sizeof path, "dir");
	ck_assert(mkdir(path, 0700) == 0);
	rc = store_memory_load(s, path, 0, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_LOAD_CORRUPT, "directory: got %d, want "
	    "CORRUPT", rc);
	store_free(s);
}
END_TEST

/* A file or a link planted where a save once put its temporary file
 * (PATH.tmp) never receives the counters and their key, nor stops a save. */
START_TEST(test_save_planted_tmp)
{
	struct store *s = mix_store(10, 5000), *b = store_memory_new(BIG);
	char path[512], tmp[520], target[512], err[256] = "";
	struct stat st, planted;
	int fd, rc;

	path_in_tmp(path, sizeof path, "planted");
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	ck_assert((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL, 0666)) >= 0);
	rc = store_save(s, path, 5000, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_OK, "save: got %d (%s), want OK", rc, err);
	ck_assert(fstat(fd, &planted) == 0 && stat(path, &st) == 0);
	ck_assert_msg(planted.st_size == 0 && planted.st_ino != st.st_ino,
	    "planted %s: got %lld bytes, %s inode as the state file, want it "
	    "empty and apart", tmp, (long long)planted.st_size,
	    planted.st_ino == st.st_ino ? "the same" : "another");
	close(fd);
	unlink(tmp);
	path_in_tmp(target, sizeof target, "planted-target");
	ck_assert(symlink(target, tmp) == 0);
	rc = store_save(s, path, 5000, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_OK && access(target, F_OK) < 0, "a link at "
	    "%s: got %d (%s), %s at its target, want OK and nothing there",
	    tmp, rc, err, access(target, F_OK) == 0 ? "a file" : "nothing");
	unlink(tmp);
	rc = store_memory_load(b, path, 5000, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_LOAD_OK && store_count(b) == store_count(s),
	    "load: got %d (%s) with %zu counters, want OK with %zu", rc, err,
	    store_count(b), store_count(s));
	store_free(s);
	store_free(b);
}
END_TEST

/* A FIFO or a symbolic link at the state path: refused at once, never
 * waited on or followed. */
START_TEST(test_load_not_a_file)
{
	struct store *s = mix_store(10, 5000), *b = mix_store(1, 0);
	char path[512], target[512], err[256] = "";
	int rc;

	path_in_tmp(path, sizeof path, "fifo");
	ck_assert(mkfifo(path, 0600) == 0);
	rc = store_memory_load(b, path, 5000, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_LOAD_CORRUPT && strstr(err, "not a regular "
	    "file") != NULL, "FIFO: got %d \"%s\", want CORRUPT, not a regular "
	    "file", rc, err);
	path_in_tmp(target, sizeof target, "link-target");
	ck_assert(store_save(s, target, 5000, W0, err, sizeof err) == STORE_OK);
	path_in_tmp(path, sizeof path, "link");
	ck_assert(symlink(target, path) == 0);
	store_free(b);
	b = mix_store(1, 0);
	rc = store_memory_load(b, path, 5000, W0, err, sizeof err);
	ck_assert_msg(rc == STORE_LOAD_CORRUPT && strstr(err, "symbolic link")
	    != NULL && store_count(b) == 0, "link: got %d \"%s\" with %zu "
	    "counters, want CORRUPT, a symbolic link, empty", rc, err,
	    store_count(b));
	store_free(s);
	store_free(b);
}
END_TEST

/* State directories by who may write them (uid/gid -1: as made). */
struct dir_case {
	const char *name;
	mode_t mode;
	int uid, gid;
	int unsafe;
};

static const struct dir_case dir_cases[] = {
	{ "private", 0700, -1, -1, 0 },
	{ "readable by all", 0755, -1, -1, 0 },
	{ "own group writes", 0770, -1, -1, 0 },
	{ "everyone writes", 0777, -1, -1, 1 },
	{ "everyone writes, sticky", 01777, -1, -1, 1 },
	{ "another group writes", 0775, -1, 4242, 1 },
	{ "another user's, only it writes", 0755, 4242, -1, 0 },
};

START_TEST(test_unsafe_dir)
{
	const struct dir_case *c = &dir_cases[_i];
	struct store *s = mix_store(10, 5000), *b = mix_store(1, 0);
	char dir[512], path[560], err[512] = "";
	int rc;

	snprintf(dir, sizeof dir, "%s/dir-%d", tmpdir, _i);
	snprintf(path, sizeof path, "%s/state", dir);
	ck_assert(mkdir(dir, 0700) == 0);
	ck_assert(store_save(s, path, 5000, W0, err, sizeof err) == STORE_OK);
	ck_assert(chmod(dir, c->mode) == 0);
	if ((c->uid >= 0 || c->gid >= 0) &&
	    chown(dir, (uid_t)c->uid, (gid_t)c->gid) < 0)
		goto out;	/* not root: this case cannot be made */
	rc = store_memory_load(b, path, 5000, W0, err, sizeof err);
	if (c->unsafe)
		ck_assert_msg(rc == STORE_LOAD_UNSAFE && strstr(err, dir) &&
		    strstr(err, "chmod go-w") && store_count(b) == 0, "%s: "
		    "load got %d \"%s\", want UNSAFE naming the directory and "
		    "chmod, empty", c->name, rc, err);
	else
		ck_assert_msg(rc == STORE_LOAD_OK, "%s: load got %d (%s), want "
		    "OK", c->name, rc, err);
	err[0] = '\0';
	rc = store_save(s, path, 5000, W0, err, sizeof err);
	ck_assert_msg(c->unsafe ? rc == STORE_ERROR && strstr(err, dir) :
	    rc == STORE_OK, "%s: save got %d \"%s\", want %s", c->name, rc,
	    err, c->unsafe ? "an error naming the directory" : "OK");
out:
	unlink(path);
	rmdir(dir);
	store_free(s);
	store_free(b);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("arithmetic");
	TCase *big = tcase_create("bounds");
	TCase *snap = tcase_create("snapshots");
	TCase *files = tcase_create("files");

	tcase_add_loop_test(tc, test_scripts, 0, NELEM(scripts));
	tcase_add_loop_test(tc, test_bad_requests, 0, NELEM(bad_cases));
	tcase_add_test(tc, test_identities);
	suite_add_tcase(s, tc);
	tcase_set_timeout(big, 120);
	tcase_add_unchecked_fixture(big, tmp_setup, tmp_teardown);
	tcase_add_test(big, test_expiry_reclaim);
	tcase_add_test(big, test_deletion);
	tcase_add_test(big, test_eviction);
	tcase_add_test(big, test_eviction_reuses_expired);
	tcase_add_loop_test(big, test_bytes_per_key, 0, NELEM(mem_cases));
	tcase_add_loop_test(big, test_threads, 0, NELEM(thread_cases));
	suite_add_tcase(s, big);
	tcase_set_timeout(snap, 120);
	tcase_add_unchecked_fixture(snap, tmp_setup, tmp_teardown);
	tcase_add_test(snap, test_snapshot_round_trip);
	tcase_add_test(snap, test_snapshot_clock_step);
	tcase_add_test(snap, test_snapshot_max_keys);
	tcase_add_test(snap, test_save_errors);
	tcase_add_test(snap, test_snapshot_truncated);
	tcase_add_test(snap, test_snapshot_bit_flips);
	tcase_add_loop_test(snap, test_snapshot_damage, 0, NELEM(damages));
	tcase_add_test(snap, test_snapshot_crafted);
	tcase_add_test(snap, test_snapshot_missing);
	suite_add_tcase(s, snap);
	tcase_set_timeout(files, 10);	/* a load that waits on a FIFO fails */
	tcase_add_unchecked_fixture(files, tmp_setup, tmp_teardown);
	tcase_add_test(files, test_save_planted_tmp);
	tcase_add_test(files, test_load_not_a_file);
	tcase_add_loop_test(files, test_unsafe_dir, 0, NELEM(dir_cases));
	suite_add_tcase(s, files);
	return s;
}

int
main(void)
{
	return check_run_suite(store_suite());
}
