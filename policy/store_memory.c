/*
 * store_memory.c: the embedded store; the contract is in store.h.
 *
 * Layout: up to 64 shards, each a mutex and an open-addressing table
 * (linear probing, backward-shift deletion, no tombstones) of 32-byte
 * slots.  A slot keeps the 128-bit keyed SipHash of the counter's
 * identity, never the identity, and t, the time it expires at: ceil(TAT)
 * for GCRA, the window end for WINDOW, so "live" is t > now for both.  An
 * all-zero hash marks an empty slot (a hash of zero is stored as 1).
 *
 * GCRA is computed exactly in ticks of 1/rate ms: n units cost
 * n * window_ms ticks, the bucket holds burst * window_ms ticks.  A slot
 * keeps t = ceil(TAT) in ms and, in count, how many ticks t lies after
 * the TAT (0 when rate > 2^32: then the TAT is rounded up to the ms, a
 * conservative error).  This is store.h's arithmetic whenever window_ms /
 * rate is whole; rounding T(n) up on each take would drift instead (7/1h
 * would admit 6 at once).
 *
 * Bounds: the shards' quotas add up to max_keys.  A shard at its quota
 * first sweeps out expired slots (when a second has passed or quota/4
 * inserts were made since the last sweep, so the cost stays amortised),
 * then evicts the slot that expires soonest among 16 sampled at random, as
 * Redis approximates LRU.  A table that reaches 3/4 load is swept, and
 * doubles unless that brought it under 1/2.  XXX tables never shrink: the
 * memory of a burst of keys stays until the store is freed.
 *
 * Threads: a shard's lock covers only the table work of one call; hashing
 * happens before it and snapshot I/O after it (save copies a shard's table
 * under the lock and encodes it outside).  XXX growth rehashes under the
 * lock, once per doubling.  Saves are serialised by their own lock.
 * store_memory_load changes the hash key, so it must run before the store
 * is shared.
 *
 * Where store.h leaves a choice: a look (STORE_CHARGE_NONE) never reports
 * first_over, since it cannot spend it; more units than the bucket holds
 * are refused with retry_after_ms the time until the bucket is empty;
 * store_count counts expired slots not yet reclaimed (it has no clock);
 * an identity used with the other kind starts a new counter; a snapshot
 * that cannot be read at all (EACCES) is reported CORRUPT.
 *
 * Snapshot format, little-endian:
 *	header	 "MPSTORE\n", u32 version (1), u32 record size (32),
 *		 16-byte SipHash key, i64 wall-clock ms at save	    (40 bytes)
 *	records	 u64 k0, u64 k1, i64 t as wall-clock ms, u32 count,
 *		 u32 flags					    (32 each)
 *	trailer	 u64 number of records, 32-byte BLAKE2b of all before it
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store.h"
#include "text.h"
#include "xmalloc.h"

#define SHARDS_MAX	64
#define SHARD_MIN_KEYS	16	/* fewer shards when max_keys is small */
#define TABLE_MIN	16
#define SAMPLE		16	/* slots looked at to choose a victim */
#define SWEEP_MS	1000	/* a full shard sweeps at least this often */
#define NOTFOUND	((size_t)-1)

#define FL_WINDOW	1u	/* the kind: set for STORE_WINDOW */
#define FL_OVER		2u	/* refused once since the counter was new */
#define FL_ALL		(FL_WINDOW | FL_OVER)

#define SNAP_MAGIC	"MPSTORE\n"
#define SNAP_VERSION	1
#define SNAP_HDR	40
#define SNAP_REC	32
#define SNAP_SUM	32
#define SNAP_TRAILER	(8 + SNAP_SUM)
#define SNAP_CHUNK	2048	/* records per read or write */

typedef unsigned __int128 u128;

struct slot {
	uint64_t k0, k1;	/* keyed hash of the identity; 0, 0: empty */
	uint64_t t;		/* expires at (ms): GCRA ceil(TAT), WINDOW end */
	uint32_t count;		/* GCRA: ticks from TAT up to t; WINDOW: events */
	uint32_t flags;		/* FL_* */
};

struct shard {
	pthread_mutex_t lock;
	struct slot *slots;
	size_t mask;		/* capacity - 1; capacity is a power of 2 */
	size_t used;
	size_t quota;		/* this shard's share of max_keys, >= 1 */
	size_t since_sweep;	/* inserts at quota since the last sweep */
	uint64_t last_sweep;	/* when it was (caller's ms) */
	uint64_t rng;		/* xorshift64 state for eviction samples */
} __attribute__((aligned(64)));

struct mem {
	struct store base;
	unsigned char key[crypto_shorthash_siphashx24_KEYBYTES];
	size_t nshards;		/* a power of 2 */
	struct shard *shards;	/* 64-byte aligned, inside raw */
	void *raw;
	atomic_int evicted;	/* a live counter was evicted once */
	pthread_mutex_t save_lock;
};

struct hkey {
	uint64_t k0, k1;
};

/* The numbers of one GCRA decision, in ticks of 1/rate ms. */
struct gcra {
	u128 now;
	u128 tat;		/* max(TAT, now), clamped to now + 2C */
	u128 cap;		/* C */
	u128 cost;		/* T(units) */
	u128 limit;		/* now + 2C */
	uint64_t rate;
};

/* A snapshot being written: buffered, hashed, first error kept. */
struct out {
	int fd;
	int err;
	size_t len;
	crypto_generichash_state hs;
	unsigned char buf[SNAP_CHUNK * SNAP_REC];
};

static const struct store_ops mem_ops;

/* ---- small helpers ---- */

static void
put32(unsigned char *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

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

static struct mem *
mem_of(struct store *s)
{
	assert(s != NULL && s->ops == &mem_ops);
	return (struct mem *)s;
}

static void
hkey_of(const struct mem *m, const void *id, size_t len, struct hkey *h)
{
	unsigned char out[crypto_shorthash_siphashx24_BYTES];

	crypto_shorthash_siphashx24(out, id, len, m->key);
	h->k0 = get64(out);
	h->k1 = get64(out + 8);
	if ((h->k0 | h->k1) == 0)
		h->k0 = 1;
}

static struct shard *
shard_of(const struct mem *m, const struct hkey *h)
{
	return &m->shards[h->k1 & (m->nshards - 1)];
}

/* ---- one shard's table ---- */

static int
slot_empty(const struct slot *sl)
{
	return (sl->k0 | sl->k1) == 0;
}

static int
slot_live(const struct slot *sl, uint64_t now, uint32_t kind)
{
	return sl->t > now && (sl->flags & FL_WINDOW) == kind;
}

static uint64_t
rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Index of h's slot, or NOTFOUND. */
static size_t
slot_find(const struct shard *sh, const struct hkey *h)
{
	size_t i;

	for (i = h->k0 & sh->mask;; i = (i + 1) & sh->mask) {
		const struct slot *sl = &sh->slots[i];

		if (sl->k0 == h->k0 && sl->k1 == h->k1)
			return i;
		if (slot_empty(sl))
			return NOTFOUND;
	}
}

/* Put a slot whose key is absent into a table with room; its index. */
static size_t
slot_place(struct shard *sh, const struct slot *src)
{
	size_t i = src->k0 & sh->mask;

	while (!slot_empty(&sh->slots[i]))
		i = (i + 1) & sh->mask;
	sh->slots[i] = *src;
	sh->used++;
	return i;
}

/* Empty slot `hole`, shifting back the slots after it that may move. */
static void
slot_del(struct shard *sh, size_t hole)
{
	size_t j = hole, home;

	for (;;) {
		j = (j + 1) & sh->mask;
		if (slot_empty(&sh->slots[j]))
			break;
		home = sh->slots[j].k0 & sh->mask;
		if (((j - home) & sh->mask) >= ((j - hole) & sh->mask)) {
			sh->slots[hole] = sh->slots[j];
			hole = j;
		}
	}
	memset(&sh->slots[hole], 0, sizeof sh->slots[hole]);
	sh->used--;
}

/*
 * Delete every expired slot.  The scan starts after an empty slot, which
 * stays empty, so no run of slots wraps past the start and a slot shifted
 * back is always looked at again.
 */
static void
shard_sweep(struct shard *sh, uint64_t now)
{
	size_t e = 0, k, i;

	sh->last_sweep = now;
	sh->since_sweep = 0;
	while (!slot_empty(&sh->slots[e]))
		e++;
	for (k = 1; k <= sh->mask; k++) {
		i = (e + k) & sh->mask;
		while (!slot_empty(&sh->slots[i]) && sh->slots[i].t <= now)
			slot_del(sh, i);
	}
}

static void
shard_resize(struct shard *sh, size_t cap)
{
	struct slot *old = sh->slots;
	size_t i, oldcap = sh->mask + 1;

	sh->slots = xcalloc(cap, sizeof *sh->slots);
	sh->mask = cap - 1;
	sh->used = 0;
	for (i = 0; i < oldcap; i++)
		if (!slot_empty(&old[i]))
			slot_place(sh, &old[i]);
	free(old);
}

/* Delete the slot expiring soonest among a sample; 1 if it was live. */
static int
shard_evict(struct shard *sh, uint64_t now)
{
	size_t best = NOTFOUND, i;
	int n, live;

	for (n = 0; n < SAMPLE; n++) {
		i = rng_next(&sh->rng) & sh->mask;
		while (slot_empty(&sh->slots[i]))
			i = (i + 1) & sh->mask;
		if (best == NOTFOUND || sh->slots[i].t < sh->slots[best].t)
			best = i;
	}
	live = sh->slots[best].t > now;
	slot_del(sh, best);
	return live;
}

/* Make room for one more slot; 1 if a live counter was evicted for it. */
static int
shard_room(struct shard *sh, uint64_t now)
{
	int evicted = 0;

	if (sh->used >= sh->quota) {
		if (sh->since_sweep >= sh->quota / 4 ||
		    now >= sh->last_sweep + SWEEP_MS)
			shard_sweep(sh, now);
		if (sh->used >= sh->quota)
			evicted = shard_evict(sh, now);
		sh->since_sweep++;
	}
	if ((sh->used + 1) * 4 > (sh->mask + 1) * 3) {
		shard_sweep(sh, now);
		if (sh->used * 2 >= sh->mask + 1)
			shard_resize(sh, (sh->mask + 1) * 2);
	}
	return evicted;
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
	size_t i = slot_find(sh, h);

	if (i != NOTFOUND) {
		if (!slot_live(&sh->slots[i], now, kind))
			sh->slots[i] = fresh;
		return i;
	}
	*evicted |= shard_room(sh, now);
	return slot_place(sh, &fresh);
}

/* The live slot of h of this kind, or NULL. */
static struct slot *
counter_find(struct shard *sh, const struct hkey *h, uint64_t now,
    uint32_t kind)
{
	size_t i = slot_find(sh, h);

	if (i == NOTFOUND || !slot_live(&sh->slots[i], now, kind))
		return NULL;
	return &sh->slots[i];
}

static void
shard_init(struct shard *sh, size_t quota)
{
	pthread_mutex_init(&sh->lock, NULL);
	sh->slots = xcalloc(TABLE_MIN, sizeof *sh->slots);
	sh->mask = TABLE_MIN - 1;
	sh->quota = quota;
	sh->since_sweep = quota;
	randombytes_buf(&sh->rng, sizeof sh->rng);
	sh->rng |= 1;
}

static void
shard_clear(struct shard *sh)
{
	pthread_mutex_lock(&sh->lock);
	memset(sh->slots, 0, (sh->mask + 1) * sizeof *sh->slots);
	sh->used = 0;
	sh->since_sweep = sh->quota;
	pthread_mutex_unlock(&sh->lock);
}

/* ---- GCRA ---- */

static u128
tat_decode(const struct slot *sl, uint64_t rate)
{
	uint64_t rem = rate <= UINT32_MAX && sl->count < rate ? sl->count : 0;

	return (u128)sl->t * rate - rem;
}

static void
tat_encode(struct slot *sl, u128 tat, uint64_t rate)
{
	sl->t = div_ceil(tat, rate);
	sl->count = 0;
	if (rate <= UINT32_MAX && (u128)sl->t * rate >= tat)
		sl->count = (uint32_t)((u128)sl->t * rate - tat);
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
	g->tat = sl != NULL ? tat_decode(sl, req->rate) : g->now;
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
	int over = sl != NULL && (sl->flags & FL_OVER);
	struct gcra g;
	u128 after;
	size_t i;

	gcra_init(&g, req, now, sl);
	after = gcra_decide(&g, req->charge, res);
	res->count = div_ceil(after - g.now, req->window_ms);
	res->first_over = !res->allowed && req->charge != STORE_CHARGE_NONE &&
	    !over;
	if (req->charge == STORE_CHARGE_NONE || after == g.now ||
	    (sl != NULL && after == g.tat && !res->first_over))
		return;
	i = counter_get(sh, h, now, 0, evicted);
	tat_encode(&sh->slots[i], after, req->rate);
	if (!res->allowed)
		sh->slots[i].flags |= FL_OVER;
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
		slot_del(sh, (size_t)(sl - sh->slots));
	else
		tat_encode(sl, g.tat - g.cost, req->rate);
}

/* ---- fixed windows ---- */

static void
window_take(struct shard *sh, const struct hkey *h,
    const struct store_req *req, uint64_t now, struct store_res *res,
    int *evicted)
{
	struct slot *sl = counter_find(sh, h, now, FL_WINDOW);
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
	    !(sl != NULL && (sl->flags & FL_OVER));
	if (req->charge == STORE_CHARGE_NONE || after == 0 ||
	    (after == cnt && !res->first_over))
		return;
	i = counter_get(sh, h, now, FL_WINDOW, evicted);
	sh->slots[i].t = end;
	sh->slots[i].count = (uint32_t)after;
	if (!res->allowed)
		sh->slots[i].flags |= FL_OVER;
}

static void
window_give(struct shard *sh, const struct hkey *h,
    const struct store_req *req, uint64_t now)
{
	struct slot *sl = counter_find(sh, h, now, FL_WINDOW);

	if (sl == NULL)
		return;
	if (sl->count <= req->units)
		slot_del(sh, (size_t)(sl - sh->slots));
	else
		sl->count -= (uint32_t)req->units;
}

/* ---- the store interface ---- */

static int
req_ok(const struct store_req *req)
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

static enum store_result
mem_take(struct store *s, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	struct mem *m = (struct mem *)s;
	struct shard *sh;
	struct hkey h;
	int evicted = 0;

	if (!req_ok(req))
		return STORE_ERROR;
	memset(res, 0, sizeof *res);
	hkey_of(m, req->id, req->idlen, &h);
	sh = shard_of(m, &h);
	pthread_mutex_lock(&sh->lock);
	if (req->kind == STORE_GCRA)
		gcra_take(sh, &h, req, now_ms, res, &evicted);
	else
		window_take(sh, &h, req, now_ms, res, &evicted);
	pthread_mutex_unlock(&sh->lock);
	if (evicted && atomic_exchange(&m->evicted, 1) == 0)
		res->evicting = 1;
	return STORE_OK;
}

static enum store_result
mem_give(struct store *s, const struct store_req *req, uint64_t now_ms)
{
	struct mem *m = (struct mem *)s;
	struct shard *sh;
	struct hkey h;

	if (!req_ok(req))
		return STORE_ERROR;
	hkey_of(m, req->id, req->idlen, &h);
	sh = shard_of(m, &h);
	pthread_mutex_lock(&sh->lock);
	if (req->kind == STORE_GCRA)
		gcra_give(sh, &h, req, now_ms);
	else
		window_give(sh, &h, req, now_ms);
	pthread_mutex_unlock(&sh->lock);
	return STORE_OK;
}

static enum store_result
mem_reset(struct store *s, const void *id, size_t idlen)
{
	struct mem *m = (struct mem *)s;
	struct shard *sh;
	struct hkey h;
	size_t i;

	if (id == NULL && idlen > 0)
		return STORE_ERROR;
	hkey_of(m, id, idlen, &h);
	sh = shard_of(m, &h);
	pthread_mutex_lock(&sh->lock);
	if ((i = slot_find(sh, &h)) != NOTFOUND)
		slot_del(sh, i);
	pthread_mutex_unlock(&sh->lock);
	return STORE_OK;
}

/* Occupied slots: live counters plus expired ones not yet reclaimed. */
static size_t
mem_count(struct store *s)
{
	struct mem *m = (struct mem *)s;
	size_t i, n = 0;

	for (i = 0; i < m->nshards; i++) {
		pthread_mutex_lock(&m->shards[i].lock);
		n += m->shards[i].used;
		pthread_mutex_unlock(&m->shards[i].lock);
	}
	return n;
}

static void
mem_free(struct store *s)
{
	struct mem *m = (struct mem *)s;
	size_t i;

	for (i = 0; i < m->nshards; i++) {
		pthread_mutex_destroy(&m->shards[i].lock);
		free(m->shards[i].slots);
	}
	pthread_mutex_destroy(&m->save_lock);
	free(m->raw);
	free(m);
}

/* ---- saving ---- */

static void
out_flush(struct out *o)
{
	size_t off = 0;
	ssize_t n;

	while (o->err == 0 && off < o->len) {
		n = write(o->fd, o->buf + off, o->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			o->err = n < 0 ? errno : ENOSPC;
		else
			off += (size_t)n;
	}
	o->len = 0;
}

/* Append p (hashed unless it is the checksum itself). */
static void
out_put(struct out *o, const unsigned char *p, size_t n, int hash)
{
	if (hash)
		crypto_generichash_update(&o->hs, p, n);
	if (o->len + n > sizeof o->buf)
		out_flush(o);
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static int64_t
wall_of(uint64_t t, uint64_t now, int64_t wall)
{
	__int128 w = (__int128)wall + (t - now);

	return w > INT64_MAX ? INT64_MAX : (int64_t)w;
}

static void
save_header(const struct mem *m, struct out *o, int64_t wall)
{
	unsigned char h[SNAP_HDR];

	memcpy(h, SNAP_MAGIC, 8);
	put32(h + 8, SNAP_VERSION);
	put32(h + 12, SNAP_REC);
	memcpy(h + 16, m->key, 16);
	put64(h + 32, (uint64_t)wall);
	out_put(o, h, sizeof h, 1);
}

/* Copy a shard's table under its lock into *buf; its capacity. */
static size_t
shard_copy(struct shard *sh, struct slot **buf, size_t *bufcap)
{
	size_t cap;

	pthread_mutex_lock(&sh->lock);
	while ((cap = sh->mask + 1) > *bufcap) {
		pthread_mutex_unlock(&sh->lock);
		*buf = xrealloc(*buf, cap * sizeof **buf);
		*bufcap = cap;
		pthread_mutex_lock(&sh->lock);
	}
	memcpy(*buf, sh->slots, cap * sizeof **buf);
	pthread_mutex_unlock(&sh->lock);
	return cap;
}

/* Write every live slot; how many. */
static uint64_t
save_records(struct mem *m, struct out *o, uint64_t now, int64_t wall)
{
	struct slot *buf = NULL;
	unsigned char rec[SNAP_REC];
	size_t bufcap = 0, cap, i, j;
	uint64_t n = 0;

	for (i = 0; i < m->nshards; i++) {
		cap = shard_copy(&m->shards[i], &buf, &bufcap);
		for (j = 0; j < cap; j++) {
			if (slot_empty(&buf[j]) || buf[j].t <= now)
				continue;
			put64(rec, buf[j].k0);
			put64(rec + 8, buf[j].k1);
			put64(rec + 16, (uint64_t)wall_of(buf[j].t, now, wall));
			put32(rec + 24, buf[j].count);
			put32(rec + 28, buf[j].flags);
			out_put(o, rec, sizeof rec, 1);
			n++;
		}
	}
	free(buf);
	return n;
}

static void
save_trailer(struct out *o, uint64_t n)
{
	unsigned char cnt[8], sum[SNAP_SUM];

	put64(cnt, n);
	out_put(o, cnt, sizeof cnt, 1);
	crypto_generichash_final(&o->hs, sum, sizeof sum);
	out_put(o, sum, sizeof sum, 0);
	out_flush(o);
}

/* Best effort: make the rename durable. */
static void
sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? xstrdup(".") :
	    xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Write the snapshot to fd; errno of the first failure, or 0. */
static int
save_fd(struct mem *m, int fd, uint64_t now, int64_t wall)
{
	struct out *o = xmalloc(sizeof *o);
	int err;

	o->fd = fd;
	o->err = fchmod(fd, 0600) < 0 ? errno : 0;
	o->len = 0;
	crypto_generichash_init(&o->hs, NULL, 0, SNAP_SUM);
	save_header(m, o, wall);
	save_trailer(o, save_records(m, o, now, wall));
	if (o->err == 0 && fsync(fd) < 0)
		o->err = errno;
	err = o->err;
	free(o);
	return err;
}

static enum store_result
mem_save(struct store *s, const char *path, uint64_t now_ms, int64_t wall_ms,
    char *err, size_t errsz)
{
	struct mem *m = (struct mem *)s;
	size_t len = strlen(path);
	char *tmp = xmalloc(len + 5);
	int fd, e;

	memcpy(tmp, path, len);
	memcpy(tmp + len, ".tmp", 5);
	pthread_mutex_lock(&m->save_lock);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	e = fd < 0 ? errno : save_fd(m, fd, now_ms, wall_ms);
	if (fd >= 0 && close(fd) < 0 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, path) < 0)
		e = errno;
	if (e != 0 && fd >= 0)
		unlink(tmp);
	pthread_mutex_unlock(&m->save_lock);
	if (e == 0)
		sync_dir(path);
	else if (fd < 0)	/* the caller names path: say which file failed */
		text_err(err, errsz, "cannot create %s: %s", tmp, strerror(e));
	else
		text_err(err, errsz, "%s", strerror(e));
	free(tmp);
	return e == 0 ? STORE_OK : STORE_ERROR;
}

/* ---- loading ---- */

/* Read exactly n bytes at off: 0, or -1 (errno set; 0 at end of file). */
static int
read_at(int fd, void *buf, size_t n, off_t off)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = 0;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

static int
read_fail(int e, char *err, size_t errsz)
{
	if (e != 0)
		return text_err(err, errsz, "read: %s", strerror(e));
	return text_err(err, errsz, "truncated");
}

/* Check the header and the size against the record count; 0 or -1. */
static int
load_header(int fd, uint64_t size, unsigned char *hdr, uint64_t *nrec,
    char *err, size_t errsz)
{
	unsigned char cnt[8];

	if (size == 0)
		return text_err(err, errsz, "empty file");
	if (size < 8)
		return text_err(err, errsz, "truncated");
	if (read_at(fd, hdr, size < SNAP_HDR ? 8 : SNAP_HDR, 0) < 0)
		return read_fail(errno, err, errsz);
	if (memcmp(hdr, SNAP_MAGIC, 8) != 0)
		return text_err(err, errsz, "bad magic");
	if (size < SNAP_HDR + SNAP_TRAILER)
		return text_err(err, errsz, "truncated");
	if (get32(hdr + 8) != SNAP_VERSION)
		return text_err(err, errsz, "version %u not supported",
		    get32(hdr + 8));
	if (get32(hdr + 12) != SNAP_REC)
		return text_err(err, errsz, "record size %u not supported",
		    get32(hdr + 12));
	*nrec = (size - SNAP_HDR - SNAP_TRAILER) / SNAP_REC;
	if ((size - SNAP_HDR - SNAP_TRAILER) % SNAP_REC != 0)
		return text_err(err, errsz, "truncated");
	if (read_at(fd, cnt, sizeof cnt, (off_t)(size - SNAP_TRAILER)) < 0)
		return read_fail(errno, err, errsz);
	if (get64(cnt) != *nrec)
		return text_err(err, errsz, "truncated");
	return 0;
}

/* Compare the BLAKE2b of everything before the sum with the sum. */
static int
load_checksum(int fd, uint64_t size, char *err, size_t errsz)
{
	crypto_generichash_state hs;
	unsigned char *buf = xmalloc(SNAP_CHUNK * SNAP_REC);
	unsigned char sum[SNAP_SUM], want[SNAP_SUM];
	uint64_t off = 0, end = size - SNAP_SUM, n;
	int rc = 0, e;

	crypto_generichash_init(&hs, NULL, 0, SNAP_SUM);
	for (; off < end && rc == 0; off += n) {
		n = end - off < SNAP_CHUNK * SNAP_REC ? end - off :
		    SNAP_CHUNK * SNAP_REC;
		if ((rc = read_at(fd, buf, n, (off_t)off)) == 0)
			crypto_generichash_update(&hs, buf, n);
	}
	if (rc == 0)
		rc = read_at(fd, want, sizeof want, (off_t)end);
	e = errno;
	free(buf);
	if (rc < 0)
		return read_fail(e, err, errsz);
	crypto_generichash_final(&hs, sum, sizeof sum);
	if (sodium_memcmp(sum, want, sizeof sum) != 0)
		return text_err(err, errsz, "checksum mismatch");
	return 0;
}

/* Insert one saved record unless expired; -1 if it is malformed. */
static int
load_record(struct mem *m, const unsigned char *p, uint64_t now, int64_t wall)
{
	struct slot sl = { get64(p), get64(p + 8), 0, get32(p + 24),
	    get32(p + 28) };
	__int128 d = (__int128)(int64_t)get64(p + 16) - wall;
	struct shard *sh;
	size_t i;

	if (slot_empty(&sl) || (sl.flags & ~FL_ALL) != 0)
		return -1;
	if (d <= 0)
		return 0;
	sl.t = (u128)now + (u128)d > UINT64_MAX ? UINT64_MAX :
	    now + (uint64_t)d;
	sh = shard_of(m, &(struct hkey){ sl.k0, sl.k1 });
	pthread_mutex_lock(&sh->lock);
	if ((i = slot_find(sh, &(struct hkey){ sl.k0, sl.k1 })) != NOTFOUND)
		sh->slots[i] = sl;
	else {
		shard_room(sh, now);
		slot_place(sh, &sl);
	}
	pthread_mutex_unlock(&sh->lock);
	return 0;
}

static int
load_records(struct mem *m, int fd, uint64_t nrec, uint64_t now,
    int64_t wall, char *err, size_t errsz)
{
	unsigned char *buf = xmalloc(SNAP_CHUNK * SNAP_REC);
	uint64_t done = 0, n, j;
	int rc = 0;

	for (; done < nrec && rc == 0; done += n) {
		n = nrec - done < SNAP_CHUNK ? nrec - done : SNAP_CHUNK;
		if (read_at(fd, buf, n * SNAP_REC,
		    (off_t)(SNAP_HDR + done * SNAP_REC)) < 0) {
			rc = read_fail(errno, err, errsz);
			break;
		}
		for (j = 0; j < n && rc == 0; j++)
			if (load_record(m, buf + j * SNAP_REC, now, wall) < 0)
				rc = text_err(err, errsz, "bad record %llu",
				    (unsigned long long)(done + j));
	}
	free(buf);
	return rc;
}

static enum store_load
load_fd(struct mem *m, int fd, uint64_t now, int64_t wall, char *err,
    size_t errsz)
{
	unsigned char hdr[SNAP_HDR];
	struct stat st;
	uint64_t nrec = 0;

	if (fstat(fd, &st) < 0) {
		text_err(err, errsz, "%s", strerror(errno));
		return STORE_LOAD_CORRUPT;
	}
	if (!S_ISREG(st.st_mode)) {
		text_err(err, errsz, "not a regular file");
		return STORE_LOAD_CORRUPT;
	}
	if (load_header(fd, (uint64_t)st.st_size, hdr, &nrec, err, errsz) < 0 ||
	    load_checksum(fd, (uint64_t)st.st_size, err, errsz) < 0)
		return STORE_LOAD_CORRUPT;
	memcpy(m->key, hdr + 16, sizeof m->key);
	if (load_records(m, fd, nrec, now, wall, err, errsz) < 0)
		return STORE_LOAD_CORRUPT;
	return STORE_LOAD_OK;
}

enum store_load
store_memory_load(struct store *s, const char *path, uint64_t now_ms,
    int64_t wall_ms, char *err, size_t errsz)
{
	struct mem *m = mem_of(s);
	enum store_load rc;
	size_t i;
	int fd;

	for (i = 0; i < m->nshards; i++)
		shard_clear(&m->shards[i]);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return STORE_LOAD_MISSING;
		text_err(err, errsz, "%s", strerror(errno));
		return STORE_LOAD_CORRUPT;
	}
	rc = load_fd(m, fd, now_ms, wall_ms, err, errsz);
	close(fd);
	for (i = 0; rc != STORE_LOAD_OK && i < m->nshards; i++)
		shard_clear(&m->shards[i]);
	return rc;
}

/* ---- creation ---- */

static const struct store_ops mem_ops = {
	mem_take, mem_give, mem_reset, mem_save, mem_count, mem_free
};

struct store *
store_memory_new(size_t max_keys)
{
	struct mem *m;
	size_t i, n = SHARDS_MAX;

	if (sodium_init() < 0) {
		fprintf(stderr, "milter-policy: libsodium failed to start\n");
		abort();
	}
	if (max_keys == 0)
		max_keys = 1;
	while (n > 1 && max_keys / n < SHARD_MIN_KEYS)
		n /= 2;
	m = xcalloc(1, sizeof *m);
	m->base.ops = &mem_ops;
	randombytes_buf(m->key, sizeof m->key);
	m->nshards = n;
	m->raw = xcalloc(1, n * sizeof *m->shards + 63);
	m->shards = (struct shard *)(((uintptr_t)m->raw + 63) & ~(uintptr_t)63);
	for (i = 0; i < n; i++)
		shard_init(&m->shards[i], max_keys / n + (i < max_keys % n));
	atomic_init(&m->evicted, 0);
	pthread_mutex_init(&m->save_lock, NULL);
	return &m->base;
}

size_t
store_memory_bytes(struct store *s)
{
	struct mem *m = mem_of(s);
	size_t i, n = sizeof *m + m->nshards * sizeof *m->shards + 63;

	for (i = 0; i < m->nshards; i++) {
		pthread_mutex_lock(&m->shards[i].lock);
		n += (m->shards[i].mask + 1) * sizeof(struct slot);
		pthread_mutex_unlock(&m->shards[i].lock);
	}
	return n;
}
