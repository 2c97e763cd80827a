/*
 * mem_shard.h: the memory store's hash table.  Used by store_memory.c
 * (the store), mem_counter.c (what a slot's numbers mean) and
 * mem_snapshot.c (the state file); nothing else.
 *
 * A shard set is up to 64 shards, each a mutex and an open-addressing
 * table (linear probing, backward-shift deletion, no tombstones) of
 * 32-byte slots.  A slot keeps the 128-bit keyed SipHash of a counter's
 * identity, never the identity, and t, the time it expires at, so "live"
 * is t > now.  An all-zero hash marks an empty slot (a hash of zero is
 * stored as 1).  What count and flags mean is mem_counter.h's business.
 *
 * Bounds: the shards' quotas add up to max_keys.  A shard at its quota
 * first sweeps out expired slots (when a second has passed or quota/4
 * inserts were made since the last sweep, so the cost stays amortised),
 * then evicts the slot that expires soonest among 16 sampled at random, as
 * Redis approximates LRU.  A table that reaches 3/4 load is swept, and
 * doubles unless that brought it under 1/2.  XXX tables never shrink: the
 * memory of a burst of keys stays until the set is destroyed.
 *
 * Threads: the shard_* and slot functions need the shard's lock held by
 * the caller (sh->lock); shard_copy and shard_set_clear/used/bytes take
 * the locks themselves.  XXX growth rehashes under the lock, once per
 * doubling.  shard_set_hash reads the key without a lock: whoever changes
 * the key (a snapshot load) must do it before the set is shared.
 *
 * Memory: shard_set_init allocates the tables, shard_set_destroy frees
 * them; out of memory aborts (xmalloc.h).
 */
#ifndef MEM_SHARD_H
#define MEM_SHARD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define SHARD_NOTFOUND	((size_t)-1)
#define SHARD_KEYBYTES	crypto_shorthash_siphashx24_KEYBYTES	/* 16 */

struct slot {
	uint64_t k0, k1;	/* keyed hash of the identity; 0, 0: empty */
	uint64_t t;		/* expires at (ms) */
	uint32_t count;		/* mem_counter.h */
	uint32_t flags;		/* mem_counter.h */
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

struct shard_set {
	unsigned char key[SHARD_KEYBYTES];	/* the SipHash key */
	size_t nshards;		/* a power of 2 */
	struct shard *shards;	/* 64-byte aligned, inside raw */
	void *raw;
};

/* A counter identity's keyed hash: which shard and slot it goes to. */
struct hkey {
	uint64_t k0, k1;
};

/* Make a set for max_keys counters (0 is taken as 1) with a random key. */
void shard_set_init(struct shard_set *set, size_t max_keys);

/* Free what shard_set_init allocated (not set itself). */
void shard_set_destroy(struct shard_set *set);

/* The keyed hash of the len bytes of id. */
void shard_set_hash(const struct shard_set *set, const void *id, size_t len,
    struct hkey *h);

/* The shard h belongs to. */
struct shard *shard_set_of(const struct shard_set *set, const struct hkey *h);

/* Empty every shard (the key stays). */
void shard_set_clear(struct shard_set *set);

/* Occupied slots: live counters plus expired ones not yet reclaimed. */
size_t shard_set_used(struct shard_set *set);

/* Bytes the set uses, tables included. */
size_t shard_set_bytes(struct shard_set *set);

static inline int
slot_empty(const struct slot *sl)
{
	return (sl->k0 | sl->k1) == 0;
}

/* Index of h's slot, or SHARD_NOTFOUND. */
size_t shard_find(const struct shard *sh, const struct hkey *h);

/* Put a slot whose key is absent into a table with room; its index. */
size_t shard_place(struct shard *sh, const struct slot *src);

/* Empty slot i (later indexes may move). */
void shard_del(struct shard *sh, size_t i);

/* Make room for one more slot; 1 if a live counter was evicted for it.
 * Indexes taken before this call are no longer valid. */
int shard_room(struct shard *sh, uint64_t now);

/* Copy a shard's table under its lock into *buf (grown as needed);
 * returns its capacity, the number of slots copied. */
size_t shard_copy(struct shard *sh, struct slot **buf, size_t *bufcap);

#endif
