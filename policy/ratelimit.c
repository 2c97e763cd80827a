/* ratelimit.c: limit rules through the store; see ratelimit.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "ratelimit.h"
#include "rules.h"
#include "xmalloc.h"

static const char *const unit_names[] = {
	"connections", "messages", "recipients", "bytes"
};

size_t
rl_id(const struct rule *r, const struct pol_env *env, char *const *hdrs,
    unsigned char *id, char *human)
{
	const char *name = r->limit->counter ? r->limit->counter : r->name;

	return keys_id(name, unit_names[r->limit->unit], r->limit->keys,
	    r->limit->nkeys, env, hdrs, NULL, 0, id, human);
}

void
rl_request(const struct rule *r, const unsigned char *id, size_t idlen,
    uint64_t units, struct store_req *req)
{
	const struct limit *lim = r->limit;

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
ledger_find(struct rl_ledger *l, const struct rule *r, const unsigned char *id,
    size_t idlen)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (l->c[i].rule == r && l->c[i].idlen == idlen &&
		    memcmp(l->c[i].id, id, idlen) == 0)
			return &l->c[i];
	return NULL;
}

static void
ledger_add(struct rl_ledger *l, const struct rule *r, const unsigned char *id,
    size_t idlen, uint64_t units, enum pol_stage stage)
{
	struct rl_charge *c;

	if (l->n == RL_LEDGER_MAX)
		return;		/* XXX bounded: these units are not given back */
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->c = xrealloc(l->c, l->cap * sizeof *l->c);
	}
	c = &l->c[l->n++];
	c->rule = r;
	c->units = units;
	c->stage = stage;
	c->idlen = idlen;
	memcpy(c->id, id, idlen);
}

enum rl_result
rl_check(struct store *st, struct rl_ledger *l, const struct rule *r,
    enum pol_stage stage, const struct pol_env *env, char *const *hdrs,
    uint64_t now_ms, struct store_res *res, char *human)
{
	unsigned char id[RL_ID_MAX];
	struct store_req req;
	uint64_t units = r->limit->unit == RL_BYTES ? env->size : 1;
	size_t idlen;

	memset(res, 0, sizeof *res);
	if (units == 0 || (idlen = rl_id(r, env, hdrs, id, human)) == 0)
		return RL_SKIP;
	/* A message or a connection is charged once, at whichever stage. */
	if (r->limit->unit != RL_RECIPIENTS && r->limit->unit != RL_BYTES &&
	    ledger_find(l, r, id, idlen) != NULL)
		return RL_ALLOWED;
	rl_request(r, id, idlen, units, &req);
	if (st == NULL || store_take(st, &req, now_ms, res) != STORE_OK)
		return RL_ERROR;
	if (req.charge != STORE_CHARGE_NONE &&
	    (res->allowed || req.charge == STORE_CHARGE_ALWAYS))
		ledger_add(l, r, id, idlen, units, stage);
	return res->allowed ? RL_ALLOWED : RL_REFUSED;
}

void
rl_give_back(struct store *st, struct rl_ledger *l, int from, uint64_t now_ms)
{
	struct store_req req;
	int i;

	for (i = from; i < l->n; i++) {
		const struct rl_charge *c = &l->c[i];

		if (c->rule->limit->charge != STORE_CHARGE_ALLOWED || st == NULL)
			continue;
		rl_request(c->rule, c->id, c->idlen, c->units, &req);
		store_give(st, &req, now_ms);
	}
	if (from < l->n)
		l->n = from;
}
