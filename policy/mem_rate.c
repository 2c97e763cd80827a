/* mem_rate.c: tags of the rates counters were written under; see
 * mem_rate.h. */
#include <pthread.h>
#include <stdatomic.h>

#include "mem_rate.h"

struct mr_entry {
	_Atomic uint32_t tag;	/* 0: free; published last */
	uint64_t rate, window_ms;
};

static struct mr_entry mr_table[MR_TABLE_MAX];
static pthread_mutex_t mr_lock = PTHREAD_MUTEX_INITIALIZER;

/* A 30-bit, non-zero mix of the pair (splitmix64's finaliser). */
static uint32_t
mr_hash(uint64_t rate, uint64_t window_ms)
{
	uint64_t x = rate * 0x9e3779b97f4a7c15ull ^ window_ms;

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	x &= (1u << MR_TAG_BITS) - 1;
	return x == 0 ? 1 : (uint32_t)x;
}

/* The entry that holds tag, or the free one where it would go, or NULL
 * when the table is full of others. */
static struct mr_entry *
mr_slot(uint32_t tag)
{
	size_t i, n;

	for (i = tag % MR_TABLE_MAX, n = 0; n < MR_TABLE_MAX;
	    n++, i = (i + 1) % MR_TABLE_MAX) {
		uint32_t t = atomic_load_explicit(&mr_table[i].tag,
		    memory_order_acquire);

		if (t == tag || t == 0)
			return &mr_table[i];
	}
	return NULL;
}

uint32_t
mr_tag(uint64_t rate, uint64_t window_ms)
{
	uint32_t tag = mr_hash(rate, window_ms);
	struct mr_entry *e = mr_slot(tag);

	if (e != NULL && atomic_load_explicit(&e->tag, memory_order_acquire) ==
	    tag)
		return e->rate == rate && e->window_ms == window_ms ? tag : 0;
	pthread_mutex_lock(&mr_lock);
	e = mr_slot(tag);	/* again: another thread may have put it */
	if (e != NULL && atomic_load_explicit(&e->tag, memory_order_relaxed) ==
	    0) {
		e->rate = rate;
		e->window_ms = window_ms;
		atomic_store_explicit(&e->tag, tag, memory_order_release);
	}
	pthread_mutex_unlock(&mr_lock);
	if (e == NULL || e->rate != rate || e->window_ms != window_ms)
		return 0;
	return tag;
}

int
mr_find(uint32_t tag, uint64_t *rate, uint64_t *window_ms)
{
	struct mr_entry *e = tag != 0 ? mr_slot(tag) : NULL;

	if (e == NULL ||
	    atomic_load_explicit(&e->tag, memory_order_acquire) != tag)
		return -1;
	*rate = e->rate;
	*window_ms = e->window_ms;
	return 0;
}
