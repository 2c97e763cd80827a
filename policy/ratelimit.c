/* ratelimit.c: limit rules through the store; see ratelimit.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "xmalloc.h"

const char *const rl_unit_names[RL_NUNITS] = {
	"connections", "messages", "recipients", "bytes"
};

const char *const rl_charge_names[STORE_CHARGE_NONE + 1] = {
	[STORE_CHARGE_ALLOWED] = "accepted", [STORE_CHARGE_ALWAYS] = "attempts",
	[STORE_CHARGE_NONE] = "none",
};

void
rl_limit_free(struct limit *lim)
{
	if (lim == NULL)
		return;
	keys_free(&lim->keys);
	free(lim->counter);
	free(lim);
}

size_t
rl_id(const struct limit *lim, const char *name, struct count_ctx *cx,
    unsigned char *id)
{
	return keys_id(lim->counter ? lim->counter : name,
	    rl_unit_names[lim->unit], &lim->keys, cx, id);
}

void
rl_request(const struct limit *lim, const unsigned char *id, size_t idlen,
    uint64_t units, struct store_req *req)
{
	memset(req, 0, sizeof *req);
	req->id = id;
	req->idlen = idlen;
	req->kind = STORE_GCRA;
	req->window_ms = lim->window_ms;
	req->rate = lim->rate;
	req->burst = lim->burst;
	req->units = units;
	req->charge = lim->charge;
}

static struct rl_charge *
ledger_find(struct rl_ledger *l, const struct limit *lim,
    const unsigned char *id, size_t idlen)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (l->c[i].lim == lim && l->c[i].idlen == idlen &&
		    memcmp(l->c[i].id, id, idlen) == 0)
			return &l->c[i];
	return NULL;
}

static void
ledger_add(struct rl_ledger *l, const struct limit *lim,
    const unsigned char *id, size_t idlen, uint64_t units,
    enum pol_stage stage)
{
	struct rl_charge *c;

	if (l->n == RL_LEDGER_MAX)
		return;		/* XXX bounded: these units are not given back */
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->c = xrealloc(l->c, l->cap * sizeof *l->c);
	}
	c = &l->c[l->n++];
	c->lim = lim;
	c->units = units;
	c->stage = stage;
	c->idlen = idlen;
	memcpy(c->id, id, idlen);
}

enum count_result
rl_check(const struct limit *lim, const char *name, struct rl_ledger *l,
    struct count_ctx *cx)
{
	unsigned char id[KEYS_ID_MAX];
	struct store_req req;
	uint64_t units = lim->unit == RL_BYTES ? cx->env->size : 1;
	size_t idlen;

	memset(&cx->res, 0, sizeof cx->res);
	if (units == 0 || (idlen = rl_id(lim, name, cx, id)) == 0)
		return COUNT_SKIP;
	/* A message or a connection is charged once, at whichever stage. */
	if (lim->unit != RL_RECIPIENTS && lim->unit != RL_BYTES &&
	    ledger_find(l, lim, id, idlen) != NULL)
		return COUNT_OK;
	rl_request(lim, id, idlen, units, &req);
	if (cx->st == NULL ||
	    store_take(cx->st, &req, cx->now_ms, &cx->res) != STORE_OK)
		return COUNT_ERROR;
	if (req.charge != STORE_CHARGE_NONE &&
	    (cx->res.allowed || req.charge == STORE_CHARGE_ALWAYS))
		ledger_add(l, lim, id, idlen, units, cx->stage);
	return cx->res.allowed ? COUNT_OK : COUNT_OVER;
}

void
rl_give_back(struct store *st, struct rl_ledger *l, int from, uint64_t now_ms)
{
	struct store_req req;
	int i;

	for (i = from; i < l->n; i++) {
		const struct rl_charge *c = &l->c[i];

		if (c->lim->charge != STORE_CHARGE_ALLOWED || st == NULL)
			continue;
		rl_request(c->lim, c->id, c->idlen, c->units, &req);
		store_give(st, &req, now_ms);
	}
	if (from < l->n)
		l->n = from;
}
