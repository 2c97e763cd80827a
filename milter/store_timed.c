/* store_timed.c: store calls timed for the stats line; see store_timed.h. */
#include <stdlib.h>
#include <time.h>

#include "stats.h"
#include "store_timed.h"
#include "top.h"
#include "xmalloc.h"

struct timed {
	struct store base;
	struct store *inner;
};

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static struct store *
inner_of(struct store *s)
{
	return ((struct timed *)s)->inner;
}

static enum store_result
timed_take(struct store *s, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	uint64_t t0 = now_us();
	enum store_result r = store_take(inner_of(s), req, now_ms, res);

	stats_store(now_us() - t0, r == STORE_OK);
	if (r == STORE_OK)
		top_seen(req, res, now_ms);	/* for ctl top */
	return r;
}

/* One round trip: one store call for the stats line. */
static size_t
timed_take_seq(struct store *s, const struct store_req *reqs, size_t n,
    uint64_t now_ms, struct store_res *res, enum store_result *rc)
{
	uint64_t t0 = now_us();
	size_t k = store_take_seq(inner_of(s), reqs, n, now_ms, res, rc), i;

	stats_store(now_us() - t0, k > 0 || *rc == STORE_OK);
	for (i = 0; i < k; i++)
		top_seen(&reqs[i], &res[i], now_ms);	/* for ctl top */
	return k;
}

static enum store_result
timed_give(struct store *s, const struct store_req *req, uint64_t now_ms)
{
	uint64_t t0 = now_us();
	enum store_result r = store_give(inner_of(s), req, now_ms);

	stats_store(now_us() - t0, r == STORE_OK);
	return r;
}

static enum store_result
timed_reset(struct store *s, const void *id, size_t idlen)
{
	return store_reset(inner_of(s), id, idlen);
}

static enum store_result
timed_save(struct store *s, const char *path, uint64_t now_ms, int64_t wall_ms,
    char *err, size_t errsz)
{
	return store_save(inner_of(s), path, now_ms, wall_ms, err, errsz);
}

static size_t
timed_count(struct store *s)
{
	return store_count(inner_of(s));
}

static void
timed_free(struct store *s)
{
	store_free(inner_of(s));
	free(s);
}

static const struct store_ops timed_ops = {
	.take = timed_take, .give = timed_give, .reset = timed_reset,
	.save = timed_save, .count = timed_count, .free = timed_free,
};

/* The same, around a store that batches (store_has_seq). */
static const struct store_ops timed_seq_ops = {
	.take = timed_take, .give = timed_give, .reset = timed_reset,
	.save = timed_save, .count = timed_count, .free = timed_free,
	.take_seq = timed_take_seq,
};

struct store *
store_timed_new(struct store *inner)
{
	struct timed *t;

	if (inner == NULL)
		return NULL;
	t = xmalloc(sizeof *t);
	t->base.ops = store_has_seq(inner) ? &timed_seq_ops : &timed_ops;
	t->inner = inner;
	return &t->base;
}
