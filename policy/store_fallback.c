/*
 * store_fallback.c: a store that asks a primary (Redis) and, when it
 * cannot answer, a local one (memory) instead: on_error = "local".  While
 * the primary is down each MTA enforces the limits on its own; when it is
 * back, the primary decides again (the local counts are not merged: for
 * the length of the outage a client may get each MTA's share).
 */
#include <stdlib.h>

#include "store.h"
#include "xmalloc.h"

struct store_fallback {
	struct store base;
	struct store *primary, *local;
};

static enum store_result
fb_take(struct store *s, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	struct store_fallback *f = (struct store_fallback *)s;

	if (store_take(f->primary, req, now_ms, res) == STORE_OK)
		return STORE_OK;
	return store_take(f->local, req, now_ms, res);
}

/* What the primary could not answer goes to the local store, one by one. */
static size_t
fb_take_seq(struct store *s, const struct store_req *reqs, size_t n,
    uint64_t now_ms, struct store_res *res, enum store_result *rc)
{
	struct store_fallback *f = (struct store_fallback *)s;
	size_t k = store_take_seq(f->primary, reqs, n, now_ms, res, rc);

	if (*rc == STORE_OK)
		return k;
	return k + store_take_each(f->local, reqs + k, n - k, now_ms, res + k,
	    rc);
}

static enum store_result
fb_give(struct store *s, const struct store_req *req, uint64_t now_ms)
{
	struct store_fallback *f = (struct store_fallback *)s;

	if (store_give(f->primary, req, now_ms) == STORE_OK)
		return STORE_OK;
	return store_give(f->local, req, now_ms);
}

static enum store_result
fb_reset(struct store *s, const void *id, size_t idlen)
{
	struct store_fallback *f = (struct store_fallback *)s;
	enum store_result r = store_reset(f->primary, id, idlen);

	store_reset(f->local, id, idlen);
	return r;
}

static enum store_result
fb_save(struct store *s, const char *path, uint64_t now_ms, int64_t wall_ms,
    char *err, size_t errsz)
{
	struct store_fallback *f = (struct store_fallback *)s;

	return store_save(f->primary, path, now_ms, wall_ms, err, errsz);
}

static size_t
fb_count(struct store *s)
{
	return store_count(((struct store_fallback *)s)->local);
}

static void
fb_free(struct store *s)
{
	struct store_fallback *f = (struct store_fallback *)s;

	store_free(f->primary);
	store_free(f->local);
	free(f);
}

static const struct store_ops fallback_ops = {
	.take = fb_take, .give = fb_give, .reset = fb_reset,
	.save = fb_save, .count = fb_count, .free = fb_free,
};

/* The same, with a primary that batches (store_has_seq). */
static const struct store_ops fallback_seq_ops = {
	.take = fb_take, .give = fb_give, .reset = fb_reset,
	.save = fb_save, .count = fb_count, .free = fb_free,
	.take_seq = fb_take_seq,
};

struct store *
store_fallback_new(struct store *primary, struct store *local)
{
	struct store_fallback *f = xcalloc(1, sizeof *f);

	f->base.ops = store_has_seq(primary) ? &fallback_seq_ops : &fallback_ops;
	f->primary = primary;
	f->local = local;
	return &f->base;
}
