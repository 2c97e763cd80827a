/*
 * top.h: `ctl top`: the counters over or nearest to their limit, from a
 * bounded watch of the counters charged lately (top.c).
 *
 * The memory store keeps only a keyed hash of each counter's identity, so
 * it cannot list its counters readably; instead store_timed.c shows every
 * charge here (top_seen) and a fixed table of TOP_SLOTS slots keeps, per
 * slot (chosen by a keyed hash of the identity), the counter nearest its
 * limit: a new counter takes a slot whose counter has expired or stands
 * further from its limit.  Bounded memory (about 450 kB) and O(1) per
 * charge under one of TOP_STRIPES short locks; the same for the memory
 * store and Redis.  XXX it lists what this milter charged since it
 * started, not counters only other MTAs charge on a shared Redis: a real
 * scan needs the readable identity kept beside each counter.
 *
 * top_list copies the slots (one stripe lock at a time), looks at each
 * counter in the store (never charging it) and writes the nearest first.
 */
#ifndef TOP_H
#define TOP_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define TOP_SLOTS	2048
#define TOP_STRIPES	64
#define TOP_ID_MAX	160	/* longer identities are not watched */
#define TOP_MAX		100	/* ctl top -n at most */

/* A charge (not a look) of req answered res at now_ms. */
void top_seen(const struct store_req *req, const struct store_res *res,
    uint64_t now_ms);

/* The n counters of rule (NULL: all) nearest their limit, looked up in
 * st at now_ms, as lines "RULE KEY used=U/B ..." into out (outsz bytes,
 * NUL-terminated); returns how many were listed. */
int top_list(struct store *st, const char *rule, int n, uint64_t now_ms,
    char *out, size_t outsz);

/* Forget everything (tests). */
void top_clear(void);

#endif
