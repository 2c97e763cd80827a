/* mem_shard.c: the memory store's sharded hash table; see mem_shard.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem_shard.h"
#include "xmalloc.h"

#define SHARDS_MAX	64
#define SHARD_MIN_KEYS	16	/* fewer shards when max_keys is small */
#define TABLE_MIN	16
#define SAMPLE		16	/* slots looked at to choose a victim */
#define SWEEP_MS	1000	/* a full shard sweeps at least this often */

static uint64_t
rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Eight bytes, little-endian: the same hash on every host. */
static uint64_t
le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

size_t
shard_find(const struct shard *sh, const struct hkey *h)
{
	size_t i;

	for (i = h->k0 & sh->mask;; i = (i + 1) & sh->mask) {
		const struct slot *sl = &sh->slots[i];

		if (sl->k0 == h->k0 && sl->k1 == h->k1)
			return i;
		if (slot_empty(sl))
			return SHARD_NOTFOUND;
	}
}

size_t
shard_place(struct shard *sh, const struct slot *src)
{
	size_t i = src->k0 & sh->mask;

	while (!slot_empty(&sh->slots[i]))
		i = (i + 1) & sh->mask;
	sh->slots[i] = *src;
	sh->used++;
	return i;
}

/* Empty slot `hole`, shifting back the slots after it that may move. */
void
shard_del(struct shard *sh, size_t hole)
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
			shard_del(sh, i);
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
			shard_place(sh, &old[i]);
	free(old);
}

/* Delete the slot expiring soonest among a sample; 1 if it was live. */
static int
shard_evict(struct shard *sh, uint64_t now)
{
	size_t best = SHARD_NOTFOUND, i;
	int n, live;

	for (n = 0; n < SAMPLE; n++) {
		i = rng_next(&sh->rng) & sh->mask;
		while (slot_empty(&sh->slots[i]))
			i = (i + 1) & sh->mask;
		if (best == SHARD_NOTFOUND || sh->slots[i].t < sh->slots[best].t)
			best = i;
	}
	live = sh->slots[best].t > now;
	shard_del(sh, best);
	return live;
}

int
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

size_t
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

void
shard_set_init(struct shard_set *set, size_t max_keys)
{
	size_t i, n = SHARDS_MAX;

	if (max_keys == 0)
		max_keys = 1;
	while (n > 1 && max_keys / n < SHARD_MIN_KEYS)
		n /= 2;
	randombytes_buf(set->key, sizeof set->key);
	set->nshards = n;
	set->raw = xcalloc(1, n * sizeof *set->shards + 63);
	set->shards = (struct shard *)(((uintptr_t)set->raw + 63) &
	    ~(uintptr_t)63);
	for (i = 0; i < n; i++)
		shard_init(&set->shards[i], max_keys / n + (i < max_keys % n));
}

void
shard_set_destroy(struct shard_set *set)
{
	size_t i;

	for (i = 0; i < set->nshards; i++) {
		pthread_mutex_destroy(&set->shards[i].lock);
		free(set->shards[i].slots);
	}
	free(set->raw);
}

void
shard_set_hash(const struct shard_set *set, const void *id, size_t len,
    struct hkey *h)
{
	unsigned char out[crypto_shorthash_siphashx24_BYTES];

	crypto_shorthash_siphashx24(out, id, len, set->key);
	h->k0 = le64(out);
	h->k1 = le64(out + 8);
	if ((h->k0 | h->k1) == 0)
		h->k0 = 1;
}

struct shard *
shard_set_of(const struct shard_set *set, const struct hkey *h)
{
	return &set->shards[h->k1 & (set->nshards - 1)];
}

void
shard_set_clear(struct shard_set *set)
{
	size_t i;

	for (i = 0; i < set->nshards; i++)
		shard_clear(&set->shards[i]);
}

size_t
shard_set_used(struct shard_set *set)
{
	size_t i, n = 0;

	for (i = 0; i < set->nshards; i++) {
		pthread_mutex_lock(&set->shards[i].lock);
		n += set->shards[i].used;
		pthread_mutex_unlock(&set->shards[i].lock);
	}
	return n;
}

size_t
shard_set_bytes(struct shard_set *set)
{
	size_t i, n = set->nshards * sizeof *set->shards + 63;

	for (i = 0; i < set->nshards; i++) {
		pthread_mutex_lock(&set->shards[i].lock);
		n += (set->shards[i].mask + 1) * sizeof(struct slot);
		pthread_mutex_unlock(&set->shards[i].lock);
	}
	return n;
}
