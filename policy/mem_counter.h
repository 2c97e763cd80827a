/*
 * mem_counter.h: the memory store's counters: what a slot of mem_shard.h
 * holds for a GCRA bucket or a fixed window, and taking and giving units
 * on it.  The arithmetic store.h promises is here; store_memory.c hashes
 * the identity, takes the shard's lock and calls these.
 *
 * GCRA is computed exactly in ticks of 1/rate ms: n units cost
 * n * window_ms ticks, the bucket holds burst * window_ms ticks.  A slot
 * keeps t = ceil(TAT) in ms and, in count, how many ticks t lies after
 * the TAT (0 when rate > 2^32: then the TAT is rounded up to the ms, a
 * conservative error).  This is store.h's arithmetic whenever window_ms /
 * rate is whole; rounding T(n) up on each take would drift instead (7/1h
 * would admit 6 at once).  A window's slot keeps t = the window's end and
 * count = its events.  So "live" is t > now for both kinds.
 *
 * A GCRA slot's TAT is in the ticks of the rate it was written under,
 * whose tag (mem_rate.h) sits in the flags' upper bits.  Read under
 * another rate or period (a reload changed the limit), the level it had
 * left, (TAT - now) / T(1) of the old rate, is carried into the rate in
 * force: the count stays, the new limit applies to it, and it drains at
 * the new rate from then on.  A slot not used since the change drains at
 * the old rate until it is, and expires when it would have under it.
 *
 * Where store.h leaves a choice: a look (STORE_CHARGE_NONE) never reports
 * first_over, since it cannot spend it; more units than the bucket holds
 * are refused with retry_after_ms the time until the bucket is empty; an
 * identity used with the other kind starts a new counter.
 *
 * Threads: the caller holds sh->lock.  Requests are valid (mc_req_ok).
 */
#ifndef MEM_COUNTER_H
#define MEM_COUNTER_H

#include "mem_shard.h"
#include "store.h"

#define MC_WINDOW	1u	/* slot flag: the kind, set for STORE_WINDOW */
#define MC_OVER		2u	/* slot flag: refused once since it was new */
#define MC_FLAGS	(MC_WINDOW | MC_OVER)	/* every flag a slot may have */
#define MC_TAG_SHIFT	2	/* flags' other 30 bits: a GCRA slot's rate tag */
#define MC_TAG(flags)	((flags) >> MC_TAG_SHIFT)

/* 1 if req is one the store can answer (units, window, kind, charge). */
int mc_req_ok(const struct store_req *req);

/* Take (or look) for h in sh; *evicted |= 1 if a live counter had to go. */
void mc_take(struct shard *sh, const struct hkey *h,
    const struct store_req *req, uint64_t now, struct store_res *res,
    int *evicted);

/* Give req->units back to h's live counter, if it has one. */
void mc_give(struct shard *sh, const struct hkey *h,
    const struct store_req *req, uint64_t now);

#endif
