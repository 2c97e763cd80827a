/*
 * store_memory.c: the embedded store; the contract is in store.h.
 *
 * Three modules make it: mem_shard.c, the sharded, SipHash-keyed, bounded
 * hash table; mem_counter.c, the GCRA and window arithmetic on its slots;
 * mem_snapshot.c, the state file.  This file joins them behind
 * store_ops: it hashes the identity before taking the shard's lock, holds
 * that lock for the table work of one call only, and serialises saves with
 * a lock of its own.
 *
 * Where store.h leaves a choice (see also mem_counter.h): store_count
 * counts expired slots not yet reclaimed (it has no clock); a snapshot
 * that cannot be read at all (EACCES) is reported CORRUPT; the first
 * eviction of a live counter is reported once (evicting), for the log.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mem_counter.h"
#include "mem_shard.h"
#include "mem_snapshot.h"
#include "store.h"
#include "xmalloc.h"

struct mem {
	struct store base;
	struct shard_set set;
	atomic_int evicted;	/* a live counter was evicted once */
	pthread_mutex_t save_lock;
};

static const struct store_ops mem_ops;

static struct mem *
mem_of(struct store *s)
{
	assert(s != NULL && s->ops == &mem_ops);
	return (struct mem *)s;
}

static enum store_result
mem_take(struct store *s, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	struct mem *m = mem_of(s);
	struct shard *sh;
	struct hkey h;
	int evicted = 0;

	if (!mc_req_ok(req))
		return STORE_ERROR;
	shard_set_hash(&m->set, req->id, req->idlen, &h);
	sh = shard_set_of(&m->set, &h);
	pthread_mutex_lock(&sh->lock);
	mc_take(sh, &h, req, now_ms, res, &evicted);
	pthread_mutex_unlock(&sh->lock);
	if (evicted && atomic_exchange(&m->evicted, 1) == 0)
		res->evicting = 1;
	return STORE_OK;
}

static enum store_result
mem_give(struct store *s, const struct store_req *req, uint64_t now_ms)
{
	struct mem *m = mem_of(s);
	struct shard *sh;
	struct hkey h;

	if (!mc_req_ok(req))
		return STORE_ERROR;
	shard_set_hash(&m->set, req->id, req->idlen, &h);
	sh = shard_set_of(&m->set, &h);
	pthread_mutex_lock(&sh->lock);
	mc_give(sh, &h, req, now_ms);
	pthread_mutex_unlock(&sh->lock);
	return STORE_OK;
}

static enum store_result
mem_reset(struct store *s, const void *id, size_t idlen)
{
	struct mem *m = mem_of(s);
	struct shard *sh;
	struct hkey h;
	size_t i;

	if (id == NULL && idlen > 0)
		return STORE_ERROR;
	shard_set_hash(&m->set, id, idlen, &h);
	sh = shard_set_of(&m->set, &h);
	pthread_mutex_lock(&sh->lock);
	if ((i = shard_find(sh, &h)) != SHARD_NOTFOUND)
		shard_del(sh, i);
	pthread_mutex_unlock(&sh->lock);
	return STORE_OK;
}

static enum store_result
mem_save(struct store *s, const char *path, uint64_t now_ms, int64_t wall_ms,
    char *err, size_t errsz)
{
	struct mem *m = mem_of(s);
	enum store_result rc;

	pthread_mutex_lock(&m->save_lock);
	rc = snap_save(&m->set, path, now_ms, wall_ms, err, errsz);
	pthread_mutex_unlock(&m->save_lock);
	return rc;
}

/* Occupied slots: live counters plus expired ones not yet reclaimed. */
static size_t
mem_count(struct store *s)
{
	return shard_set_used(&mem_of(s)->set);
}

static void
mem_free(struct store *s)
{
	struct mem *m = mem_of(s);

	shard_set_destroy(&m->set);
	pthread_mutex_destroy(&m->save_lock);
	free(m);
}

static const struct store_ops mem_ops = {
	.take = mem_take, .give = mem_give, .reset = mem_reset,
	.save = mem_save, .count = mem_count, .free = mem_free,
};

struct store *
store_memory_new(size_t max_keys)
{
	struct mem *m;

	if (sodium_init() < 0) {
		fprintf(stderr, "milter-policy: libsodium failed to start\n");
		abort();
	}
	m = xcalloc(1, sizeof *m);
	m->base.ops = &mem_ops;
	shard_set_init(&m->set, max_keys);
	atomic_init(&m->evicted, 0);
	pthread_mutex_init(&m->save_lock, NULL);
	return &m->base;
}

enum store_load
store_memory_load(struct store *s, const char *path, uint64_t now_ms,
    int64_t wall_ms, char *err, size_t errsz)
{
	return snap_load(&mem_of(s)->set, path, now_ms, wall_ms, err, errsz);
}

size_t
store_memory_bytes(struct store *s)
{
	struct mem *m = mem_of(s);

	return sizeof *m + shard_set_bytes(&m->set);
}
