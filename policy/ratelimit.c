/* ratelimit.c: limit rules through the store; see ratelimit.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "batch.h"
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
	if (!lim->overrides_shared)
		ov_free(lim->overrides);
	quota_free(lim->quota);
	free(lim->time_zone);
	free(lim);
}

/* A quota's counters are named "messages/day": a rule moved from a rate
 * to a quota, or to another period, starts afresh (the counts mean
 * different things); a changed N keeps them. */
size_t
rl_id(const struct limit *lim, const char *name, struct count_ctx *cx,
    unsigned char *id)
{
	char what[32];

	if (lim->quota == NULL)
		return keys_id(lim->counter ? lim->counter : name,
		    rl_unit_names[lim->unit], &lim->keys, cx, id);
	snprintf(what, sizeof what, "%s/%s", rl_unit_names[lim->unit],
	    quota_kind_names[lim->quota->kind]);
	return keys_id(lim->counter ? lim->counter : name, what, &lim->keys,
	    cx, id);
}

int64_t
rl_wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
rl_quota_window(const struct limit *lim, int64_t wall_ms,
    struct store_req *req, struct count_ctx *cx)
{
	int64_t start, end;
	char resets[48];

	quota_period(lim->quota, wall_ms, &start, &end, resets, sizeof resets);
	req->window_ms = (uint64_t)(end - wall_ms);
	if (cx != NULL) {
		cx->period = quota_kind_names[lim->quota->kind];
		snprintf(cx->resets, sizeof cx->resets, "%s", resets);
		cx->window_ms = req->window_ms;
	}
}

/* The wall clock of cx's transaction: its own (replay), else now. */
static int64_t
wall_of(const struct count_ctx *cx)
{
	return cx->env->wall_ms ? cx->env->wall_ms : rl_wall_now();
}

void
rl_request(const struct limit *lim, const struct ov_limit *ov,
    const unsigned char *id, size_t idlen, uint64_t units,
    struct store_req *req)
{
	int own = ov != NULL && ov->kind == OV_RATE;

	memset(req, 0, sizeof *req);
	req->id = id;
	req->idlen = idlen;
	req->kind = STORE_GCRA;
	req->window_ms = own ? ov->window_ms : lim->window_ms;
	req->rate = own ? ov->rate : lim->rate;
	req->burst = own ? ov->rate : lim->burst;
	req->units = units;
	req->charge = lim->charge;
	if (lim->quota != NULL) {	/* rl_quota_window sets the window */
		req->kind = STORE_WINDOW;
		req->rate = 0;
		req->window_ms = 1;
		req->burst = own ? ov->rate : lim->quota->n;
	}
}

/* An address's entry, else its domain's. */
static const struct ov_limit *
override_address(const struct ov_table *t, const char *v)
{
	const struct ov_limit *o = ov_find_name(t, v);
	const char *d;

	if (o == NULL && (d = addr_domain(v)) != NULL)
		o = ov_find_name(t, d);
	return o;
}

const struct ov_limit *
rl_override(const struct limit *lim, const struct count_ctx *cx)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const struct keyspec *k = lim->keys.n > 0 ? &lim->keys.k[0] : NULL;
	const char *v;

	if (lim->overrides == NULL || k == NULL)
		return NULL;
	if (k->kind == KEY_CLIENT_ADDR || k->kind == KEY_CLIENT_NET)
		return ov_find_ip(lim->overrides, cx->env->client_addr);
	if ((v = keys_value(k, cx, buf, sizeof buf)) == NULL)
		return NULL;
	if (k->kind == KEY_SENDER || k->kind == KEY_RCPT ||
	    k->kind == KEY_AUTH_USER)
		return override_address(lim->overrides, v);
	return ov_find_name(lim->overrides, v);
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
    const struct ov_limit *ov, const unsigned char *id, size_t idlen,
    uint64_t units, enum pol_stage stage)
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
	c->ov = ov;
	c->units = units;
	c->stage = stage;
	c->idlen = idlen;
	memcpy(c->id, id, idlen);
}

/* An entry of 0 or unlimited decides without the store: 1, with *rc. */
static int
override_decides(const struct limit *lim, const struct ov_limit *ov,
    struct count_ctx *cx, enum count_result *rc)
{
	cx->limit = ov != NULL && ov->kind == OV_RATE ? ov->rate :
	    lim->quota ? lim->quota->n : lim->rate;
	cx->window_ms = ov != NULL && ov->kind == OV_RATE ? ov->window_ms :
	    lim->window_ms;
	cx->unlimited = ov != NULL && ov->kind == OV_UNLIMITED;
	if (ov == NULL || ov->kind == OV_RATE)
		return 0;
	if (ov->kind == OV_ZERO) {
		cx->limit = 0;
		cx->res.retry_after_ms = lim->window_ms;
		if (lim->quota != NULL) {	/* "until the quota resets" */
			struct store_req req = { .window_ms = 0 };

			rl_quota_window(lim, wall_of(cx), &req, cx);
			cx->res.retry_after_ms = req.window_ms;
		}
		*rc = COUNT_OVER;	/* a look (charge none) refuses it too */
	} else {
		cx->res.allowed = 1;	/* unlimited: never refused, never counted */
		*rc = COUNT_OK;
	}
	return 1;
}

int
rl_prepare(const struct limit *lim, const char *name, struct rl_ledger *l,
    struct count_ctx *cx, struct rl_ask *a, enum count_result *rc)
{
	size_t idlen;

	memset(&cx->res, 0, sizeof cx->res);
	cx->limit = lim->quota ? lim->quota->n : lim->rate;
	cx->window_ms = lim->window_ms;
	cx->unlimited = 0;
	cx->period = NULL;
	cx->resets[0] = '\0';
	a->units = lim->unit == RL_BYTES ? cx->env->size : 1;
	*rc = COUNT_SKIP;
	if (a->units == 0 || (idlen = rl_id(lim, name, cx, a->id)) == 0)
		return 0;
	a->ov = rl_override(lim, cx);
	if (override_decides(lim, a->ov, cx, rc))
		return 0;
	/* A message or a connection is charged once, at whichever stage. */
	*rc = COUNT_OK;
	if (lim->unit != RL_RECIPIENTS && lim->unit != RL_BYTES &&
	    ledger_find(l, lim, a->id, idlen) != NULL)
		return 0;
	rl_request(lim, a->ov, a->id, idlen, a->units, &a->req);
	if (lim->quota != NULL)
		rl_quota_window(lim, wall_of(cx), &a->req, cx);
	return 1;
}

/* The store's answer, from the stage's batch when it asked already. */
static enum store_result
rl_take(const struct limit *lim, const struct store_req *req,
    struct count_ctx *cx)
{
	enum store_result rc;

	if (cx->batch != NULL &&
	    batch_answer(cx->batch, lim, req, &cx->res, &rc))
		return rc;
	return store_take(cx->st, req, cx->now_ms, &cx->res);
}

enum count_result
rl_check(const struct limit *lim, const char *name, struct rl_ledger *l,
    struct count_ctx *cx)
{
	struct rl_ask a;
	enum count_result rc;

	if (!rl_prepare(lim, name, l, cx, &a, &rc))
		return rc;
	if (cx->st == NULL || rl_take(lim, &a.req, cx) != STORE_OK)
		return COUNT_ERROR;
	if (a.req.charge != STORE_CHARGE_NONE &&
	    (cx->res.allowed || a.req.charge == STORE_CHARGE_ALWAYS))
		ledger_add(l, lim, a.ov, a.id, a.req.idlen, a.units, cx->stage);
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
		rl_request(c->lim, c->ov, c->id, c->idlen, c->units, &req);
		store_give(st, &req, now_ms);
	}
	if (from < l->n)
		l->n = from;
}
