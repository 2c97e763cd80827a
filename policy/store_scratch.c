/*
 * store_scratch.c: a store that reads through to another and keeps its
 * own charges in memory; see store.h.
 *
 * Each counter the view has charged is a row (identity, units taken).  A
 * take asks the inner store, without charging it, whether the units
 * already taken here plus the new ones would pass: GCRA and fixed windows
 * both treat n units taken at once as n taken one by one at the same
 * instant, so the answer is the one the real store would give after the
 * same charges.  The count reported adds the units taken here.  One
 * exception: more units than a GCRA bucket holds are answered with the
 * time until the real bucket is empty, so the wait for the units beyond it
 * is added here (to within a millisecond of rounding).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "xmalloc.h"

struct scratch_row {
	unsigned char *id;
	size_t idlen;
	enum store_kind kind;
	uint64_t units;
};

struct store_scratch {
	struct store base;
	struct store *inner;
	pthread_mutex_t lock;
	struct scratch_row *rows;
	size_t n, cap;
};

static struct scratch_row *
row_find(struct store_scratch *s, const void *id, size_t idlen,
    enum store_kind kind)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->rows[i].kind == kind && s->rows[i].idlen == idlen &&
		    memcmp(s->rows[i].id, id, idlen) == 0)
			return &s->rows[i];
	return NULL;
}

static struct scratch_row *
row_get(struct store_scratch *s, const struct store_req *req)
{
	struct scratch_row *r = row_find(s, req->id, req->idlen, req->kind);

	if (r != NULL)
		return r;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->rows = xrealloc(s->rows, s->cap * sizeof *s->rows);
	}
	r = &s->rows[s->n++];
	r->id = xmalloc(req->idlen ? req->idlen : 1);
	memcpy(r->id, req->id, req->idlen);
	r->idlen = req->idlen;
	r->kind = req->kind;
	r->units = 0;
	return r;
}

/* A refused GCRA look for more than the bucket holds: the wait the real
 * store would give for req->units after `before` units taken here. */
static uint64_t
gcra_retry(const struct store_req *req, uint64_t before, uint64_t empty_ms)
{
	unsigned __int128 over = req->units > req->burst ? before :
	    before + req->units - req->burst;
	unsigned __int128 ms = (over * req->window_ms + req->rate - 1) / req->rate;

	ms += empty_ms;
	return ms > UINT64_MAX ? UINT64_MAX : (uint64_t)ms;
}

static enum store_result
scratch_take(struct store *st, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	struct store_scratch *s = (struct store_scratch *)st;
	struct store_req look = *req;
	struct scratch_row *r;
	uint64_t before;
	enum store_result rc;

	pthread_mutex_lock(&s->lock);
	r = row_find(s, req->id, req->idlen, req->kind);
	before = r != NULL ? r->units : 0;
	look.charge = STORE_CHARGE_NONE;
	look.units = req->units + before < before ? UINT64_MAX :
	    req->units + before;
	if ((rc = store_take(s->inner, &look, now_ms, res)) == STORE_OK) {
		if (!res->allowed && req->kind == STORE_GCRA && req->rate > 0 &&
		    look.units > req->burst && before > 0)
			res->retry_after_ms = gcra_retry(req, before,
			    res->retry_after_ms);
		res->count += before;
		if (req->charge != STORE_CHARGE_NONE &&
		    (res->allowed || req->charge == STORE_CHARGE_ALWAYS)) {
			row_get(s, req)->units = look.units;
			res->count += req->units;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static enum store_result
scratch_give(struct store *st, const struct store_req *req, uint64_t now_ms)
{
	struct store_scratch *s = (struct store_scratch *)st;
	struct scratch_row *r;

	(void)now_ms;
	pthread_mutex_lock(&s->lock);
	if ((r = row_find(s, req->id, req->idlen, req->kind)) != NULL)
		r->units = r->units > req->units ? r->units - req->units : 0;
	pthread_mutex_unlock(&s->lock);
	return STORE_OK;
}

static enum store_result
scratch_reset(struct store *st, const void *id, size_t idlen)
{
	struct store_scratch *s = (struct store_scratch *)st;
	struct scratch_row *r;

	pthread_mutex_lock(&s->lock);
	if ((r = row_find(s, id, idlen, STORE_GCRA)) != NULL)
		r->units = 0;
	if ((r = row_find(s, id, idlen, STORE_WINDOW)) != NULL)
		r->units = 0;
	pthread_mutex_unlock(&s->lock);
	return STORE_OK;
}

static enum store_result
scratch_save(struct store *st, const char *path, uint64_t now_ms,
    int64_t wall_ms, char *err, size_t errsz)
{
	(void)st;
	(void)path;
	(void)now_ms;
	(void)wall_ms;
	(void)err;
	(void)errsz;
	return STORE_OK;
}

static size_t
scratch_count(struct store *st)
{
	return store_count(((struct store_scratch *)st)->inner);
}

static void
scratch_free(struct store *st)
{
	struct store_scratch *s = (struct store_scratch *)st;
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->rows[i].id);
	free(s->rows);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct store_ops scratch_ops = {
	.take = scratch_take, .give = scratch_give, .reset = scratch_reset,
	.save = scratch_save, .count = scratch_count, .free = scratch_free,
};

struct store *
store_scratch_new(struct store *inner)
{
	struct store_scratch *s = xcalloc(1, sizeof *s);

	s->base.ops = &scratch_ops;
	s->inner = inner;
	pthread_mutex_init(&s->lock, NULL);
	return &s->base;
}
