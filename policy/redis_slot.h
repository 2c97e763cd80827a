/*
 * redis_slot.h: the pure parts of Redis Cluster routing, apart from any
 * connection so they are tested with known vectors: the hash slot of a key
 * (CRC16-XMODEM of the key, or of its first non-empty {hash tag}, modulo
 * 16384), the MOVED / ASK redirects a node answers with, and the slot map
 * CLUSTER SLOTS returns.
 *
 * Nothing here allocates except redis_slot_map_parse, whose ranges the
 * caller frees with free().  No state, no locks: any thread may call.
 */
#ifndef REDIS_SLOT_H
#define REDIS_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define REDIS_SLOTS	16384
#define REDIS_HOST_MAX	256	/* a node's host, with its NUL */

/* CRC16-XMODEM (polynomial 0x1021, initial 0), as Redis Cluster uses. */
uint16_t redis_slot_crc16(const void *buf, size_t len);

/* The hash slot of a key: of what is between the first '{' and the next
 * '}' when that is not empty, else of the whole key. */
unsigned redis_slot_of(const void *key, size_t len);

enum redis_redirect { REDIRECT_NONE, REDIRECT_MOVED, REDIRECT_ASK };

/* An error reply "MOVED 3999 127.0.0.1:6381" or "ASK ...": the slot and
 * where it is now.  An empty host ("MOVED 3999 :6381") means the host of
 * the node that answered: host is "" then.  IPv6 hosts are as Redis
 * writes them ("::1:7000": the port after the last colon).  NONE when the
 * text is not a well-formed redirect. */
enum redis_redirect redis_slot_redirect(const char *err, unsigned *slot,
    char host[REDIS_HOST_MAX], int *port);

struct redis_slot_range {
	unsigned first, last;		/* slots, inclusive */
	char host[REDIS_HOST_MAX];	/* the master's; "" means the node asked */
	int port;
};

/* The master of each range in a CLUSTER SLOTS reply.  Returns how many
 * ranges (*out malloc'ed, the caller frees) or -1 when the reply is not
 * a slot map (an error reply: a node not in cluster mode); *why says what
 * was wrong then.  A reply with no range (a cluster with no slots
 * assigned) is -1 too. */
int redis_slot_map_parse(const redisReply *rep, struct redis_slot_range **out,
    const char **why);

#endif
