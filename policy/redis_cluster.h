/*
 * redis_cluster.h: the store on a Redis Cluster, routed here (hiredis 0.14
 * has no cluster client).
 *
 * The store reads the slot map (CLUSTER SLOTS) from the seed nodes or any
 * node it has met, and sends each counter's script to the master owning
 * the hash slot of its key (the key's {hash tag}: the counter's identity),
 * on that node's own store_redis (its own connection pool, script SHAs,
 * and NOSCRIPT reload).  MOVED updates the slot and refreshes the map;
 * ASK sends ASKING and the script to the importing node once, without
 * changing the map; TRYAGAIN waits a moment and tries again.  A node that
 * fails makes the store refresh the map (at most every REFRESH_MS), so a
 * replica promoted in a failover is found by itself.  Decisions in the
 * meantime are STORE_ERROR: on_error decides.
 *
 * Threads: any thread may call at once; the slot map is under a mutex,
 * never held during network I/O.  Nodes are kept until the store is freed
 * (at most CLUSTER_NODES_MAX, so a hostile redirect cannot grow memory).
 */
#ifndef REDIS_CLUSTER_H
#define REDIS_CLUSTER_H

#include <stddef.h>

#include "store.h"

#define CLUSTER_NODES_MAX	256

/* A store on the cluster reached through seeds ("HOST:PORT" each; copied).
 * ro gives the rest (prefix, password, timeout, notify: told once per
 * change between up and down, with the node and why).  NULL and *why
 * when a seed is malformed; an unreachable seed list is an error of the
 * first calls, told to notify. */
struct store *redis_cluster_new(const char *const *seeds, size_t nseeds,
    const struct store_redis_opts *ro, const char **why);

#endif
