/*
 * redis_sentinel.h: where the master of a Redis Sentinel set is now.
 *
 * A locator keeps the sentinels' addresses, the master's name and the
 * master last found.  store_redis.c calls redis_sentinel_locate (its
 * `locate` option) before each new connection: with fresh = 0 it answers
 * the known address; with fresh = 1 (the last call failed: a connection
 * error, a timeout, or READONLY from a master demoted to a replica) it
 * asks the sentinels in turn (SENTINEL get-master-addr-by-name) and
 * confirms the answer with ROLE on that server, so a sentinel that has
 * not heard of a failover yet cannot send the MTAs to a replica.  A
 * watcher thread (started by the first call) asks again every second, so
 * a failover that leaves the old master answering (SENTINEL FAILOVER) is
 * followed too.  Each change of address is told once to the `moved`
 * callback, and the store drops its connections to the old master.
 *
 * Threads: any thread may call; one asks the sentinels at a time, the
 * others wait for its answer.  Strings given are copied; the locator is
 * freed with redis_sentinel_free after the store that uses it.
 */
#ifndef REDIS_SENTINEL_H
#define REDIS_SENTINEL_H

#include <stddef.h>

#include "store.h"

struct redis_sentinel;

struct redis_sentinel_opts {
	const char *const *sentinels;	/* "HOST:PORT" each */
	size_t nsentinels;
	const char *master;		/* the name the sentinels monitor */
	const char *password;		/* the master's AUTH, or NULL */
	unsigned long timeout_ms;	/* each question */
	/* Told once per new master address ("HOST:PORT"), old is "" at first. */
	void (*moved)(void *arg, const char *addr, const char *old);
	void *moved_arg;
};

/* A locator; NULL (and *why) when an address is malformed. */
struct redis_sentinel *redis_sentinel_new(const struct redis_sentinel_opts *o,
    const char **why);

/* store_redis_opts.locate: arg is the locator. */
int redis_sentinel_locate(void *arg, int fresh, char *host, size_t hostsz,
    int *port, const char **why);

void redis_sentinel_free(struct redis_sentinel *s);

/* A store on the master of o's set, with a locator it owns; NULL and *why
 * when o is malformed.  ro gives the rest (prefix, db, password, notify). */
struct store *redis_sentinel_store(const struct redis_sentinel_opts *o,
    const struct store_redis_opts *ro, const char **why);

#endif
