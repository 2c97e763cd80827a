/* store_readonly.c: a view of a store that never changes it; see store.h. */
#include <stdlib.h>

#include "store.h"
#include "xmalloc.h"

struct store_ro {
	struct store base;
	struct store *inner;
};

static enum store_result
ro_take(struct store *s, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	struct store_req look = *req;

	look.charge = STORE_CHARGE_NONE;
	return store_take(((struct store_ro *)s)->inner, &look, now_ms, res);
}

static enum store_result
ro_give(struct store *s, const struct store_req *req, uint64_t now_ms)
{
	(void)s;
	(void)req;
	(void)now_ms;
	return STORE_OK;
}

static enum store_result
ro_reset(struct store *s, const void *id, size_t idlen)
{
	(void)s;
	(void)id;
	(void)idlen;
	return STORE_OK;
}

static enum store_result
ro_save(struct store *s, const char *path, uint64_t now_ms, int64_t wall_ms,
    char *err, size_t errsz)
{
	(void)s;
	(void)path;
	(void)now_ms;
	(void)wall_ms;
	(void)err;
	(void)errsz;
	return STORE_OK;
}

static size_t
ro_count(struct store *s)
{
	return store_count(((struct store_ro *)s)->inner);
}

static void
ro_free(struct store *s)
{
	free(s);
}

static const struct store_ops ro_ops = {
	.take = ro_take, .give = ro_give, .reset = ro_reset, .save = ro_save,
	.count = ro_count, .free = ro_free,
};

struct store *
store_readonly_new(struct store *inner)
{
	struct store_ro *s = xcalloc(1, sizeof *s);

	s->base.ops = &ro_ops;
	s->inner = inner;
	return &s->base;
}
