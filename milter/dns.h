/*
 * dns.h: the resolver behind DNS list conditions (policy/dnsl.h), built
 * on c-ares, with a cache that honours TTLs and is bounded in size.
 *
 * One resolver thread owns the c-ares channel (c-ares 1.18 channels are
 * not thread safe) and its sockets; connection threads hand it names to
 * ask through a queue and wait for the answers on a condition variable,
 * so no lock is held across a lookup and the queries of every session
 * run concurrently.  Answers are cached by query name for their TTL
 * (raised to 10 s at least, so a session's stages share one answer;
 * NXDOMAIN for the zone's SOA minimum, or 60 s); when the cache is full
 * the oldest finished answer goes.  A lookup that fails or outlasts
 * dns.timeout is "unknown"; the first failure of a list is logged, and
 * so is its recovery: once per list per outage.
 *
 * The resolver starts on first use and lives until the process ends;
 * a reload that changes dns.servers or dns.timeout reconfigures it
 * (lookups under way are then unknown).
 */
#ifndef DNS_H
#define DNS_H

#include "dnsl.h"
#include "policy.h"

/* The resolver configured as settings say, started if need be; its
 * pointer stays valid for the life of the process.  NULL when the
 * resolver thread cannot start (logged). */
const struct dnsl_resolver *dns_resolver(const struct pol_settings *settings);

#endif
