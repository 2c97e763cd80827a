/* batch.c: a stage's limit rules asked of the store at once; see batch.h. */
#include <string.h>

#include "batch.h"

void
batch_clear(struct batch *b)
{
	b->n = 0;
}

int
batch_add(struct batch *b, const void *owner, const struct store_req *req)
{
	struct batch_entry *e;

	if (b->n == STORE_SEQ_MAX || req->idlen > sizeof e->id)
		return 0;
	e = &b->e[b->n];
	e->owner = owner;
	e->state = BATCH_NOT_ASKED;
	memcpy(e->id, req->id, req->idlen);
	b->req[b->n] = *req;
	b->req[b->n].id = e->id;
	b->n++;
	return 1;
}

void
batch_ask(struct batch *b, struct store *st, uint64_t now_ms)
{
	struct store_res res[STORE_SEQ_MAX];
	enum store_result rc;
	size_t k, i;

	if (b->n == 0)
		return;
	k = store_take_seq(st, b->req, (size_t)b->n, now_ms, res, &rc);
	for (i = 0; i < k; i++) {
		b->e[i].state = BATCH_ANSWERED;
		b->e[i].res = res[i];
	}
	if (k < (size_t)b->n && rc == STORE_ERROR)
		b->e[k].state = BATCH_FAILED;
}

int
batch_answer(struct batch *b, const void *owner, const struct store_req *req,
    struct store_res *res, enum store_result *rc)
{
	struct batch_entry *e;
	int i;

	for (i = 0; i < b->n; i++) {
		e = &b->e[i];
		if (e->owner != owner || e->state == BATCH_NOT_ASKED ||
		    b->req[i].idlen != req->idlen ||
		    memcmp(e->id, req->id, req->idlen) != 0)
			continue;
		*rc = e->state == BATCH_ANSWERED ? STORE_OK : STORE_ERROR;
		if (*rc == STORE_OK)
			*res = e->res;
		e->state = BATCH_NOT_ASKED;	/* used up */
		return 1;
	}
	return 0;
}
