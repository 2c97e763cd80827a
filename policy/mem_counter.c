/* mem_counter.c: GCRA and fixed-window counters on a shard's slots; see
 * mem_counter.h. */
#include <stdint.h>
#include <string.h>

#include "mem_counter.h"
#include "mem_rate.h"

typedef unsigned __int128 u128;

/* The numbers of one GCRA decision, in ticks of 1/rate ms. */
struct gcra {
	u128 now;
	u128 tat;		/* max(TAT, now), clamped to now + 2C */
	u128 cap;		/* C */
	u128 cost;		/* T(units) */
	u128 limit;		/* now + 2C */
	uint64_t rate;
};

static u128
sat_add(u128 a, u128 b)
{
	return a + b < a ? ~(u128)0 : a + b;
}

/* ceil(a / b), saturated to 64 bits. */
static uint64_t
div_ceil(u128 a, uint64_t b)
{
	u128 q = a / b + (a % b != 0);

	return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

static int
slot_live(const struct slot *sl, uint64_t now, uint32_t kind)
{
	return sl->t > now && (sl->flags & MC_WINDOW) == kind;
}

/*
 * The slot of h for writing a counter of this kind: the live one, else a
 * fresh one (t and count 0), inserted if need be.  Indexes taken before
 * this call are no longer valid.
 */
static size_t
counter_get(struct shard *sh, const struct hkey *h, uint64_t now,
    uint32_t kind, int *evicted)
{
	struct slot fresh = { h->k0, h->k1, 0, 0, kind };
	size_t i = shard_find(sh, h);

	if (i != SHARD_NOTFOUND) {
		if (!slot_live(&sh->slots[i], now, kind))
			sh->slots[i] = fresh;
		return i;
	}
	*evicted |= shard_room(sh, now);
	return shard_place(sh, &fresh);
}

/* The live slot of h of this kind, or NULL. */
static struct slot *
counter_find(struct shard *sh, const struct hkey *h, uint64_t now,
    uint32_t kind)
{
	size_t i = shard_find(sh, h);

	if (i == SHARD_NOTFOUND || !slot_live(&sh->slots[i], now, kind))
		return NULL;
	return &sh->slots[i];
}

/* ---- GCRA ---- */

static u128
tat_decode(const struct slot *sl, uint64_t rate)
{
	uint64_t rem = rate <= UINT32_MAX && sl->count < rate ? sl->count : 0;

	return (u128)sl->t * rate - rem;
}

/*
 * The TAT of a slot written under another rate, in the request's ticks:
 * the level it had left (its debt over the old unit cost) carries over,
 * and drains at the rate in force from now on.  Rounded up, so a level of
 * exactly 3 stays 3.  A tag the table does not know (0: a counter from a
 * state file without rates) is read as written under the rate in force.
 */
static u128
tat_convert(const struct slot *sl, const struct store_req *req, uint64_t now)
{
	uint64_t orate, owin;
	u128 tat, onow, debt, q;

	if (mr_find(MC_TAG(sl->flags), &orate, &owin) != 0 ||
	    (orate == req->rate && owin == req->window_ms))
		return tat_decode(sl, req->rate);
	tat = tat_decode(sl, orate);
	onow = (u128)now * orate;
	if (tat <= onow)
		return (u128)now * req->rate;
	debt = tat - onow;		/* level * owin */
	q = debt / owin * req->window_ms +
	    (debt % owin * req->window_ms + owin - 1) / owin;
	return sat_add((u128)now * req->rate, q);
}

static void
tat_encode(struct slot *sl, u128 tat, uint64_t rate)
{
	sl->t = div_ceil(tat, rate);
	sl->count = 0;
	if (rate <= UINT32_MAX && (u128)sl->t * rate >= tat)
		sl->count = (uint32_t)((u128)sl->t * rate - tat);
}

/* Write a TAT in ticks of 1/rate ms and the tag of the rate it is in. */
static void
gcra_put(struct slot *sl, u128 tat, uint64_t rate, uint32_t tag)
{
	tat_encode(sl, tat, rate);
	sl->flags = (sl->flags & MC_FLAGS) | tag << MC_TAG_SHIFT;
}

static void
gcra_init(struct gcra *g, const struct store_req *req, uint64_t now,
    const struct slot *sl)
{
	g->rate = req->rate;
	g->now = (u128)now * req->rate;
	g->cap = (u128)req->burst * req->window_ms;
	g->cost = (u128)req->units * req->window_ms;
	g->limit = sat_add(g->now, sat_add(g->cap, g->cap));
	g->tat = sl != NULL ? tat_convert(sl, req, now) : g->now;
	if (g->tat < g->now)
		g->tat = g->now;
	if (g->tat > g->limit)
		g->tat = g->limit;
}

/*
 * Decide; the TAT after the operation.  More units than the bucket holds
 * can never pass: retry_after_ms is then the time until it is empty.
 */
static u128
gcra_decide(const struct gcra *g, enum store_charge charge,
    struct store_res *res)
{
	u128 want = sat_add(g->tat, g->cost);

	res->allowed = want - g->now <= g->cap;
	if (!res->allowed && g->cost > g->cap)
		res->retry_after_ms = div_ceil(g->tat - g->now, g->rate);
	else if (!res->allowed)
		res->retry_after_ms = div_ceil(want - g->now - g->cap, g->rate);
	if (charge == STORE_CHARGE_NONE ||
	    (!res->allowed && charge == STORE_CHARGE_ALLOWED))
		return g->tat;
	return want < g->limit ? want : g->limit;
}

static void
gcra_take(struct shard *sh, const struct hkey *h, const struct store_req *req,
    uint64_t now, struct store_res *res, int *evicted)
{
	struct slot *sl = counter_find(sh, h, now, 0);
	int over = sl != NULL && (sl->flags & MC_OVER);
	uint32_t tag = mr_tag(req->rate, req->window_ms);
	struct gcra g;
	u128 after;
	size_t i;

	gcra_init(&g, req, now, sl);
	after = gcra_decide(&g, req->charge, res);
	res->count = div_ceil(after - g.now, req->window_ms);
	res->first_over = !res->allowed && req->charge != STORE_CHARGE_NONE &&
	    !over;
	if (req->charge == STORE_CHARGE_NONE || after == g.now ||
	    (sl != NULL && after == g.tat && !res->first_over &&
	    MC_TAG(sl->flags) == tag))
		return;
	i = counter_get(sh, h, now, 0, evicted);
	gcra_put(&sh->slots[i], after, req->rate, tag);
	if (!res->allowed)
		sh->slots[i].flags |= MC_OVER;
}

static void
gcra_give(struct shard *sh, const struct hkey *h, const struct store_req *req,
    uint64_t now)
{
	struct slot *sl = counter_find(sh, h, now, 0);
	struct gcra g;

	if (sl == NULL)
		return;
	gcra_init(&g, req, now, sl);
	if (g.tat - g.now <= g.cost)
		shard_del(sh, (size_t)(sl - sh->slots));
	else
		gcra_put(sl, g.tat - g.cost, req->rate,
		    mr_tag(req->rate, req->window_ms));
}

/* ---- fixed windows ---- */

static void
window_take(struct shard *sh, const struct hkey *h,
    const struct store_req *req, uint64_t now, struct store_res *res,
    int *evicted)
{
	struct slot *sl = counter_find(sh, h, now, MC_WINDOW);
	uint64_t cnt = sl != NULL ? sl->count : 0, after = cnt;
	uint64_t end = now + req->window_ms < now ? UINT64_MAX :
	    now + req->window_ms;
	size_t i;

	if (sl != NULL && sl->t < end)
		end = sl->t;
	res->allowed = req->units <= req->burst &&
	    cnt <= req->burst - req->units;
	if (!res->allowed)
		res->retry_after_ms = end - now;
	if (req->charge != STORE_CHARGE_NONE &&
	    (res->allowed || req->charge == STORE_CHARGE_ALWAYS))
		after = req->units > UINT32_MAX - cnt ? UINT32_MAX :
		    cnt + req->units;
	res->count = after;
	res->first_over = !res->allowed && req->charge != STORE_CHARGE_NONE &&
	    !(sl != NULL && (sl->flags & MC_OVER));
	if (req->charge == STORE_CHARGE_NONE || after == 0 ||
	    (after == cnt && !res->first_over))
		return;
	i = counter_get(sh, h, now, MC_WINDOW, evicted);
	sh->slots[i].t = end;
	sh->slots[i].count = (uint32_t)after;
	if (!res->allowed)
		sh->slots[i].flags |= MC_OVER;
}

static void
window_give(struct shard *sh, const struct hkey *h,
    const struct store_req *req, uint64_t now)
{
	struct slot *sl = counter_find(sh, h, now, MC_WINDOW);

	if (sl == NULL)
		return;
	if (sl->count <= req->units)
		shard_del(sh, (size_t)(sl - sh->slots));
	else
		sl->count -= (uint32_t)req->units;
}

/* ---- the module's interface ---- */

int
mc_req_ok(const struct store_req *req)
{
	if (req->units == 0 || req->window_ms == 0 ||
	    (req->id == NULL && req->idlen > 0))
		return 0;
	if (req->charge != STORE_CHARGE_ALLOWED &&
	    req->charge != STORE_CHARGE_ALWAYS &&
	    req->charge != STORE_CHARGE_NONE)
		return 0;
	if (req->kind == STORE_GCRA)
		return req->rate > 0;
	return req->kind == STORE_WINDOW;
}

void
mc_take(struct shard *sh, const struct hkey *h, const struct store_req *req,
    uint64_t now, struct store_res *res, int *evicted)
{
	memset(res, 0, sizeof *res);
	if (req->kind == STORE_GCRA)
		gcra_take(sh, h, req, now, res, evicted);
	else
		window_take(sh, h, req, now, res, evicted);
}

void
mc_give(struct shard *sh, const struct hkey *h, const struct store_req *req,
    uint64_t now)
{
	if (req->kind == STORE_GCRA)
		gcra_give(sh, h, req, now);
	else
		window_give(sh, h, req, now);
}
