/*
 * store.h: the state behind rate limits and duplicate counts, behind one
 * small interface so the engine never knows which backend it talks to.
 * Backends: store_memory.c (embedded, default) and store_redis.c.
 *
 * A counter is named by its identity: bytes the engine builds from the
 * rule name, the count unit and the key values.  A backend may keep only a
 * keyed hash of it (the memory store keeps 128 bits of keyed SipHash, so a
 * 64 kB address costs what a short one does).
 *
 * Two kinds of counter:
 *   STORE_GCRA   a token bucket kept as one "theoretical arrival time"
 *                (TAT).  `rate` units come back per `window_ms`, so n units
 *                take T(n) = ceil(n * window_ms / rate) ms to come back
 *                (computed in 128 bits: bytes limits have n in the
 *                millions); the bucket holds `burst` units, a capacity of
 *                C = burst * window_ms / rate ms.  Taking n units is allowed
 *                when max(TAT, now) + T(n) - now <= C; then TAT becomes
 *                that.  Refused: retry_after_ms is how long until n units
 *                would be allowed.  The counter is gone (as if never used)
 *                once TAT <= now.  TAT is clamped to at most now + 2*C, so
 *                neither hammering (charge "attempts") nor a clock step can
 *                block a key for longer than that.  The arithmetic is
 *                exact: TAT keeps the remainder of T(n), so 100 units
 *                taken one by one cost what 100 taken at once do.
 *                The level, (TAT - now) / T(1), is a count of units in
 *                use: a counter written under one rate, window or burst
 *                and read under another keeps its level, and the limit
 *                in the request applies to it (a backend records the rate
 *                a TAT is in; mem_counter.h, store_redis.c).
 *   STORE_WINDOW a count in a fixed window that starts at the first event:
 *                `window_ms` is the window, `burst` the most events
 *                allowed; the event that would make count exceed burst is
 *                refused (allowed = 0).  count_refused says whether a
 *                refused event is still counted.  Gone when the window ends.
 *
 * Time is the caller's: milliseconds on a monotonic clock.  Only snapshots
 * convert to wall-clock time, with both clocks given at save and load.
 *
 * Thread safety: every function may be called from any thread at once on
 * the same store.  Result enums have an explicit error member: a backend
 * that cannot answer (Redis down) says STORE_ERROR, never "allowed".
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_result { STORE_OK, STORE_ERROR };

enum store_kind { STORE_GCRA, STORE_WINDOW };

enum store_charge {
	STORE_CHARGE_ALLOWED,	/* change the counter only when allowed */
	STORE_CHARGE_ALWAYS,	/* change it even when refused */
	STORE_CHARGE_NONE	/* look, never change */
};

struct store_req {
	const void *id;			/* the counter's identity */
	size_t idlen;
	enum store_kind kind;
	uint64_t window_ms;		/* GCRA: per rate units; WINDOW: window length */
	uint64_t rate;			/* GCRA: units that come back per window */
	uint64_t burst;			/* GCRA: bucket size B; WINDOW: max events */
	uint64_t units;			/* units to take (>= 1) */
	enum store_charge charge;
	int stop;			/* store_take_seq: a refusal ends the
					   sequence here */
};

struct store_res {
	int allowed;
	uint64_t retry_after_ms;	/* refused: time until it would be allowed */
	uint64_t count;			/* GCRA: units in use after, ceil((TAT-now)/T(1));
					   WINDOW: events in window */
	int first_over;			/* first refusal of this counter since it was new;
					   never set by a look (STORE_CHARGE_NONE) */
	int evicting;			/* the first time the store evicted to stay under max_keys */
};

struct store;

struct store_ops {
	enum store_result (*take)(struct store *, const struct store_req *,
	    uint64_t now_ms, struct store_res *);
	enum store_result (*give)(struct store *, const struct store_req *,
	    uint64_t now_ms);
	enum store_result (*reset)(struct store *, const void *id, size_t idlen);
	enum store_result (*save)(struct store *, const char *path,
	    uint64_t now_ms, int64_t wall_ms, char *err, size_t errsz);
	size_t (*count)(struct store *);
	void (*free)(struct store *);
	/* NULL in a store where n takes cost what one does (memory):
	 * store_take_seq takes them one by one. */
	size_t (*take_seq)(struct store *, const struct store_req *reqs,
	    size_t n, uint64_t now_ms, struct store_res *res,
	    enum store_result *rc);
};

/* Every backend's struct begins with this. */
struct store {
	const struct store_ops *ops;
};

/* Take req->units (or look, per req->charge); fills *res when STORE_OK. */
static inline enum store_result
store_take(struct store *s, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	return s->ops->take(s, req, now_ms, res);
}

/* The most requests one store_take_seq carries. */
#define STORE_SEQ_MAX	16

/* store_take_seq, one take at a time: any store can. */
static inline size_t
store_take_each(struct store *s, const struct store_req *reqs, size_t n,
    uint64_t now_ms, struct store_res *res, enum store_result *rc)
{
	size_t i;

	*rc = STORE_OK;
	for (i = 0; i < n; i++) {
		if ((*rc = store_take(s, &reqs[i], now_ms, &res[i])) != STORE_OK)
			return i;
		if (!res[i].allowed && reqs[i].stop)
			return i + 1;
	}
	return n;
}

/* The takes of reqs[0..n-1] (n <= STORE_SEQ_MAX), in order, as n calls of
 * store_take would make them, ending after the first refused request whose
 * stop is set: a stage's limit rules up to the one that refuses.  In one
 * round trip where the store has a server (Redis: one script, atomic).
 * Returns how many were answered, res[0..k-1]; when k < n, *rc says why:
 * STORE_OK, reqs[k-1] refused and stopped; STORE_ERROR, reqs[k] failed
 * (those after it were not tried). */
static inline size_t
store_take_seq(struct store *s, const struct store_req *reqs, size_t n,
    uint64_t now_ms, struct store_res *res, enum store_result *rc)
{
	if (s->ops->take_seq != NULL)
		return s->ops->take_seq(s, reqs, n, now_ms, res, rc);
	return store_take_each(s, reqs, n, now_ms, res, rc);
}

/* Whether a sequence costs s less than its takes one by one. */
static inline int
store_has_seq(const struct store *s)
{
	return s != NULL && s->ops->take_seq != NULL;
}

/* Give back req->units taken earlier (a refused or aborted message). */
static inline enum store_result
store_give(struct store *s, const struct store_req *req, uint64_t now_ms)
{
	return s->ops->give(s, req, now_ms);
}

/* Forget a counter (ctl reset). */
static inline enum store_result
store_reset(struct store *s, const void *id, size_t idlen)
{
	return s->ops->reset(s, id, idlen);
}

/* Write a snapshot atomically (write, fsync, rename); err says why not. */
static inline enum store_result
store_save(struct store *s, const char *path, uint64_t now_ms, int64_t wall_ms,
    char *err, size_t errsz)
{
	return s->ops->save(s, path, now_ms, wall_ms, err, errsz);
}

/* Number of live counters (for stats and tests). */
static inline size_t
store_count(struct store *s)
{
	return s->ops->count(s);
}

/* Free a store; NULL is fine. */
static inline void
store_free(struct store *s)
{
	if (s != NULL)
		s->ops->free(s);
}

/* ---- the memory backend (store_memory.c) ---- */

/* The failures, CORRUPT and UNSAFE, come last. */
enum store_load {
	STORE_LOAD_OK, STORE_LOAD_MISSING, STORE_LOAD_CORRUPT, STORE_LOAD_UNSAFE
};

/* A new memory store holding at most max_keys counters. */
struct store *store_memory_new(size_t max_keys);

/* Load a snapshot into an empty memory store.  MISSING: no file (fine on a
 * first start).  Counters are kept only as keyed hashes, so loading also
 * takes the secret SipHash key from the snapshot: load before the store is
 * shared.  Snapshots hold that key and are written mode 0600.  CORRUPT: truncated, bad version or checksum; the store is
 * left empty and err says what was wrong (the caller moves the file aside).
 * A symbolic link, a FIFO or anything but a regular file is CORRUPT too,
 * found without waiting.  UNSAFE: others may write the file's directory
 * (see mem_snapshot.h); err names it and says what to do; the store is
 * left empty and the caller should not start.  A save into such a
 * directory fails with the same err. */
enum store_load store_memory_load(struct store *s, const char *path,
    uint64_t now_ms, int64_t wall_ms, char *err, size_t errsz);

/* Bytes of memory the store uses for its counters (tables included). */
size_t store_memory_bytes(struct store *s);

/* ---- the Redis backend (store_redis.c) ---- */

struct store_redis_opts {
	char *host;			/* host:port form; NULL with unix_path */
	int port;
	char *unix_path;		/* "unix:PATH" form, or NULL */
	char *prefix;			/* before every key */
	int db;				/* SELECT db when not 0 */
	char *password;			/* AUTH when set */
	unsigned long timeout_ms;	/* connect and each command; 0: STORE_REDIS_TIMEOUT_MS */
	/* Told once per change between up (1) and down (0), with why. */
	void (*notify)(void *arg, int up, const char *why);
	void *notify_arg;
	/* Sentinel: the address for each new connection instead of host and
	 * port; fresh when the last call failed (ask again).  0 when found,
	 * else -1 and *why. */
	int (*locate)(void *arg, int fresh, char *host, size_t hostsz,
	    int *port, const char **why);
	void *locate_arg;
	unsigned long backoff_max_ms;	/* the longest pause after failures; 0: 5 s */
};

/* Long enough that a loaded but healthy machine never trips it (rspamd
 * waits 1 s; Postfix waits 30 s for a milter), short beside the MTAs'. */
#define STORE_REDIS_TIMEOUT_MS	1000

/* A key's longest form: prefix, rule, ":{", hex identity, "}", NUL. */
#define STORE_REDIS_KEY_MAX	(200 + 128 + 3 + 2 * 512 + 2)

/* A store on a Redis server; connects on first use.  The strings of o are
 * copied.  The server's clock decides (now_ms is ignored); save does
 * nothing and count is 0: the server keeps the data. */
struct store *store_redis_new(const struct store_redis_opts *o);

/* The Redis key of a counter (its hash tag: the hex identity in braces);
 * returns its length.  out holds STORE_REDIS_KEY_MAX. */
size_t store_redis_key(const char *prefix, const void *id, size_t idlen,
    char *out, size_t outsz);

/* For cluster routing: a take (give = 0) or give on this server, with
 * ASKING first when asking.  An answer that names another node or says
 * "later" (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) is STORE_ERROR with its text
 * in redirect (cleaned, at most redirectsz) and does not count as the
 * server failing; any other error leaves redirect "". */
enum store_result store_redis_routed(struct store *s,
    const struct store_req *req, int give, int asking, struct store_res *res,
    char *redirect, size_t redirectsz);

/* Drop the idle connections: the next calls connect again (Sentinel: to
 * the new master).  Connections in use are kept when they succeed. */
void store_redis_drop(struct store *s);

struct redisReply;

/* One plain command on this server (CLUSTER SLOTS, ROLE), within the
 * timeout; the reply (freeReplyObject) or NULL and *why.  Its answer is
 * read under a bound on its shape and size, as a script's is. */
struct redisReply *store_redis_command(struct store *s, int argc,
    const char **argv, const char **why);

struct redisContext;

/* What one connection's answers may still allocate (store_redis.c's). */
struct store_redis_budget {
	const void *shape;
	long left;
};

/* Read every answer on c (a connection of the caller's, such as to a
 * sentinel) under the same bound, counted in *b, which the caller keeps
 * while c lives (a sentinel's connection carries a question or two). */
void store_redis_reader_bound(struct redisContext *c,
    struct store_redis_budget *b);

/* ---- a fallback pair (store_fallback.c) ---- */

/* A store that answers from primary, or from local when primary cannot
 * (STORE_ERROR): on_error = "local".  Takes both; save is primary's. */
struct store *store_fallback_new(struct store *primary, struct store *local);

/* ---- a read-only view (store_readonly.c) ---- */

/* A view of inner that answers as inner does but never changes it: every
 * take is a look (STORE_CHARGE_NONE), give/reset/save do nothing.  inner is
 * borrowed and must outlive the view.  For `milter-policy try`. */
struct store *store_readonly_new(struct store *inner);

/* ---- a scratch copy (store_scratch.c) ---- */

/* A view of inner that charges a private copy: every take answers as
 * inner would after the charges this view has taken so far, and those
 * charges stay in the view (give and reset undo them there); inner is
 * only ever looked at.  save does nothing; count is inner's.  inner is
 * borrowed and must outlive the view.  For `milter-policy try`, so a
 * limit reached inside one simulated transaction refuses as it would. */
struct store *store_scratch_new(struct store *inner);

#endif
